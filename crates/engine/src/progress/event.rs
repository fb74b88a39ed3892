//! What happens during a build, as the progress hears it: one [`Event`] per thing, and the
//! facts it carries (the summary, a warning, the size report).

use super::text::human_size;
use serde::Serialize;

/// What a build produced, reported once at the end of a successful build.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    /// The image manifest's digest (`sha256:…`).
    pub digest: String,
    /// The names the image was given in the store or pushed under.
    pub names: Vec<String>,
    /// How many layers the image has.
    pub layers: usize,
    /// The compressed size of those layers, in bytes.
    pub size: u64,
    /// Wall-clock seconds for the whole command.
    pub seconds: f64,
    /// How many steps were reported.
    pub steps: usize,
    /// How many of them came from the cache.
    pub cached: usize,
    /// Every output written, as `=>` lines say it (`naming to …`, `exported to type=…`).
    pub outputs: Vec<String>,
}

/// One finding reported after a build (BuildKit's build-check warnings, skiff's own rules,
/// the final image's verification), with its place in the Dockerfile when it has one.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Warning {
    /// Where it comes from: `lint` (the Dockerfile's checks) or `verify` (the final image).
    pub source: String,
    /// The rule's name (`UndefinedVar`, `LatestTag`, `MissingInterpreter`).
    pub rule: String,
    /// What was found.
    pub message: String,
    /// How to fix it, or where the rule is documented.
    pub hint: Option<String>,
    /// The Dockerfile as messages name it, when the finding has a place in it.
    pub file: Option<String>,
    /// 1-based line in the Dockerfile.
    pub line: Option<usize>,
    /// 1-based column in the Dockerfile.
    pub column: Option<usize>,
    /// The whole finding as people read it (rustc-style, with the source line).
    pub rendered: String,
}

/// The final image's sizes, at the end of every build: what it weighs next to the largest
/// stage it was built from, and what takes the room.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SizeReport {
    /// The final image's layers, compressed, in bytes.
    pub compressed: u64,
    /// Its files, unpacked, in bytes.
    pub unpacked: u64,
    /// The largest other stage built (its name) and its compressed size.
    pub largest_stage: Option<(String, u64)>,
    /// The largest layers: the instruction that made each and its compressed size.
    pub largest_layers: Vec<(String, u64)>,
    /// The largest files: path and size.
    pub largest_files: Vec<(String, u64)>,
}

impl SizeReport {
    /// The report as a few lines for people:
    /// `size: builder 708 MB → final 7.3 MB (15.2 MB unpacked)`, the layers, the files.
    pub fn lines(&self) -> Vec<String> {
        let mut size = String::from("size: ");
        if let Some((stage, bytes)) = &self.largest_stage {
            size.push_str(&format!("{stage} {} → ", human_size(*bytes)));
        }
        size.push_str(&format!("final {}", human_size(self.compressed)));
        // Not measured with `--verify=off` (the final image is not read).
        if self.unpacked > 0 || !self.largest_files.is_empty() {
            size.push_str(&format!(" ({} unpacked)", human_size(self.unpacked)));
        }
        let list = |items: &[(String, u64)]| {
            (items.iter())
                .map(|(what, bytes)| format!("{} {what}", human_size(*bytes)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines = vec![size];
        if !self.largest_layers.is_empty() {
            lines.push(format!("  largest layers: {}", list(&self.largest_layers)));
        }
        if !self.largest_files.is_empty() {
            lines.push(format!("  largest files: {}", list(&self.largest_files)));
        }
        lines
    }
}

/// Something that happened during a build.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step is about to be looked up in the cache or run.
    StepStart {
        /// Step number across the build (1-based).
        step: usize,
        /// `[builder 3/6] RUN go mod download`.
        name: String,
    },
    /// The step's result came from the cache.
    StepCached {
        /// Step number.
        step: usize,
    },
    /// Output of a running step.
    StepOutput {
        /// Step number.
        step: usize,
        /// One line of output.
        line: String,
    },
    /// The step finished.
    StepDone {
        /// Step number.
        step: usize,
        /// Seconds it took.
        seconds: f64,
    },
    /// The step failed.
    StepError {
        /// Step number.
        step: usize,
        /// Why.
        message: String,
    },
    /// The step was stopped, or its result thrown away, because the build failed elsewhere
    /// (BuildKit's `#N CANCELED`).
    StepCanceled {
        /// Step number.
        step: usize,
    },
    /// A base image is being pulled from its registry.
    PullStart {
        /// The normalised reference.
        reference: String,
    },
    /// Bytes of one blob of a pull arrived.
    PullProgress {
        /// The normalised reference.
        reference: String,
        /// The blob's digest.
        blob: String,
        /// Bytes received so far.
        current: u64,
        /// The blob's size.
        total: u64,
    },
    /// A pull finished.
    PullDone {
        /// The normalised reference.
        reference: String,
        /// Seconds it took.
        seconds: f64,
    },
    /// An output was written (`naming to …`, `exported to type=oci,dest=…`, `pushed …`).
    Exported {
        /// The output type: image, registry, oci, docker, local or tar.
        kind: String,
        /// What was done, for people.
        description: String,
    },
    /// The build succeeded; the last event.
    Summary(Summary),
    /// The build failed; the last event. `message` is the whole error as a person reads it
    /// (with the Dockerfile excerpt when the error has a place in it); tools get that place
    /// as fields too.
    Error {
        /// The error.
        message: String,
        /// The Dockerfile as messages name it, when the error has a place in it.
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        /// 1-based line of that place.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
        /// 1-based column of that place.
        #[serde(skip_serializing_if = "Option::is_none")]
        column: Option<usize>,
        /// Whether the build was interrupted (Ctrl-C) rather than failed.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        interrupted: bool,
    },
    /// A finding about the build or its image, shown after the build: a build check on the
    /// Dockerfile or a problem found in the final image.
    Warning(Warning),
    /// The final image's size report, just before the summary.
    Size(SizeReport),
    /// A free-form message (warnings).
    Info {
        /// The text.
        message: String,
    },
    /// Something the registry client wants a person to know that is not an error: a request
    /// being retried, a credential it cannot use.
    Notice {
        /// The text (one line).
        message: String,
    },
}

impl Event {
    /// A failure with no place in a Dockerfile.
    pub fn error(message: impl Into<String>) -> Event {
        Event::Error {
            message: message.into(),
            file: None,
            line: None,
            column: None,
            interrupted: false,
        }
    }
}

/// The summary as one line: `built NAME… sha256:… (3 layers, 1.1 MB) in 2.0s, 6 steps (2 cached)`.
pub(super) fn summary_line(s: &Summary) -> String {
    let mut line = String::from("built ");
    for name in &s.names {
        line.push_str(name);
        line.push(' ');
    }
    line.push_str(&format!(
        "{} ({} layers, {}) in {:.1}s, {} steps ({} cached)",
        s.digest,
        s.layers,
        human_size(s.size),
        s.seconds,
        s.steps,
        s.cached
    ));
    line
}
