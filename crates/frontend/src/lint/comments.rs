//! The comments right above each instruction (BuildKit's `Node.PrevComment`), which carry
//! per-instruction `# check=…` options and the descriptions `InvalidDefinitionDescription`
//! looks at.

use crate::ast::Dockerfile;

/// For each instruction of `dockerfile`, in order, the comments written since the previous
/// instruction, as BuildKit's parser collects them: the text after `#` trimmed; a bare `#`
/// forgets the comments before it; blank lines do not; parser directives are not comments.
pub(crate) fn previous_comments(dockerfile: &Dockerfile) -> Vec<Vec<String>> {
    let directive_lines: Vec<usize> = dockerfile.directives.iter().map(|d| d.span.line).collect();
    let mut out = Vec::with_capacity(dockerfile.instructions.len());
    let mut comments: Vec<String> = Vec::new();
    let mut next = dockerfile.instructions.iter().peekable();
    let mut skip_until = 0;
    for (i, raw) in dockerfile.source.split('\n').enumerate() {
        let line = i + 1;
        if line <= skip_until {
            continue;
        }
        if let Some(inst) = next.peek() {
            if inst.start_line == line {
                out.push(std::mem::take(&mut comments));
                skip_until = inst.end_line;
                next.next();
                continue;
            }
        }
        if directive_lines.contains(&line) || !raw.trim_start().starts_with('#') {
            continue;
        }
        // BuildKit trims `line[1:]`: for an indented comment the `#` stays in the text.
        let text = raw.get(1..).unwrap_or_default().trim();
        if text.is_empty() {
            comments.clear();
        } else {
            comments.push(text.to_string());
        }
    }
    out.resize(dockerfile.instructions.len(), Vec::new());
    out
}
