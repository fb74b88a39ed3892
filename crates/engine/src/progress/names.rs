//! Step names as BuildKit prints them (dockerfile2llb's `prefixCommand`), so logs read the
//! same as `docker build`'s: `[builder 3/6] RUN go mod download`, `[stage-1 2/4] COPY …`,
//! and plain `[1/3] FROM …` when the Dockerfile has a single stage.

/// The stage part of a step name: the `AS` name; `stage-N` for an unnamed stage when the
/// Dockerfile has several stages; nothing when it has one.
pub fn stage_label(name: Option<&str>, index: usize, stage_count: usize) -> Option<String> {
    if stage_count <= 1 {
        return None;
    }
    Some(name.map_or_else(|| format!("stage-{index}"), str::to_string))
}

/// `[stage i/n] text`, with `i` padded to the width of `n` as BuildKit does (`[ 3/12]`).
pub fn step_name(stage: Option<&str>, position: usize, total: usize, text: &str) -> String {
    let width = total.max(1).to_string().len();
    let stage = stage.map(|s| format!("{s} ")).unwrap_or_default();
    format!("[{stage}{position:>width$}/{total}] {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_stage_has_no_stage_label() {
        assert_eq!(stage_label(None, 0, 1), None);
        assert_eq!(stage_label(Some("builder"), 0, 1), None);
        assert_eq!(
            step_name(None, 1, 3, "FROM docker.io/library/busybox:latest"),
            "[1/3] FROM docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn several_stages_use_names_or_stage_n() {
        assert_eq!(
            stage_label(Some("builder"), 0, 2).as_deref(),
            Some("builder")
        );
        assert_eq!(stage_label(None, 1, 2).as_deref(), Some("stage-1"));
        assert_eq!(
            step_name(Some("builder"), 3, 6, "RUN go mod download"),
            "[builder 3/6] RUN go mod download"
        );
    }

    #[test]
    fn position_is_padded_to_the_width_of_the_total() {
        assert_eq!(step_name(None, 3, 12, "RUN x"), "[ 3/12] RUN x");
        assert_eq!(step_name(Some("a"), 10, 12, "RUN x"), "[a 10/12] RUN x");
    }
}
