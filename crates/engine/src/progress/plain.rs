//! `--progress=plain`: one line per event, numbered like `docker build --progress=plain`
//! (`#3 [builder 2/4] RUN make`, `#3 0.412 output`, `#3 DONE 1.2s`, `#3 CACHED`,
//! `#3 CANCELED`), so CI logs read the same and tools that parse BuildKit's plain output keep
//! working.

use super::event::{summary_line, Event};
use super::render::Renderer;
use super::text::{clean_line, first_line, human_size};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

pub(super) struct Plain {
    out: Box<dyn Write + Send>,
    /// Step number → (name, when it started).
    steps: HashMap<usize, (String, Duration)>,
    /// The step whose lines were printed last: another step's line re-prints its header.
    current: Option<usize>,
    /// Whether anything was printed yet (blank lines separate blocks).
    started: bool,
}

impl Plain {
    pub(super) fn new(out: Box<dyn Write + Send>) -> Plain {
        Plain {
            out,
            steps: HashMap::new(),
            current: None,
            started: false,
        }
    }

    /// Prints the step's header unless its lines are already the last ones shown.
    fn header(&mut self, step: usize) -> std::io::Result<()> {
        if self.current == Some(step) {
            return Ok(());
        }
        if self.started {
            writeln!(self.out)?;
        }
        self.started = true;
        self.current = Some(step);
        let name = self.steps.get(&step).map_or("", |(n, _)| n.as_str());
        writeln!(self.out, "#{step} {name}")
    }

    fn line(&mut self, text: &str) -> std::io::Result<()> {
        self.started = true;
        writeln!(self.out, "{text}")
    }

    fn write(&mut self, at: Duration, event: &Event) -> std::io::Result<()> {
        match event {
            Event::StepStart { step, name } => {
                self.steps.insert(*step, (name.clone(), at));
                self.header(*step)
            }
            Event::StepCached { step } => {
                self.header(*step)?;
                writeln!(self.out, "#{step} CACHED")
            }
            Event::StepOutput { step, line } => {
                self.header(*step)?;
                let since = self
                    .steps
                    .get(step)
                    .map_or(at, |(_, s)| at.saturating_sub(*s));
                let line = clean_line(line);
                writeln!(self.out, "#{step} {:.3} {line}", since.as_secs_f64())
            }
            Event::StepDone { step, seconds } => {
                self.header(*step)?;
                writeln!(self.out, "#{step} DONE {seconds:.1}s")
            }
            Event::StepError { step, message } => {
                self.header(*step)?;
                writeln!(self.out, "#{step} ERROR: {}", first_line(message))
            }
            Event::StepCanceled { step } => {
                self.header(*step)?;
                writeln!(self.out, "#{step} CANCELED")
            }
            Event::PullStart { reference } => self.line(&format!("=> pulling {reference}")),
            Event::PullProgress {
                reference,
                blob,
                current,
                total,
            } if current >= total => {
                let short = blob.trim_start_matches("sha256:");
                let short = &short[..short.len().min(12)];
                self.line(&format!(
                    "=> {reference}: {short} {} done",
                    human_size(*total)
                ))
            }
            Event::PullProgress { .. } => Ok(()),
            Event::PullDone { reference, seconds } => {
                self.line(&format!("=> pulled {reference} in {seconds:.1}s"))
            }
            Event::Exported { description, .. } => {
                self.current = None;
                self.line(&format!("=> {description}"))
            }
            Event::Summary(summary) => {
                self.current = None;
                self.line(&format!("=> {}", summary_line(summary)))
            }
            Event::Error { message, .. } => {
                self.current = None;
                writeln!(self.out)?;
                self.line(message.trim_end())
            }
            Event::Info { message } => self.line(message.trim_end()),
            Event::Size(report) => {
                self.current = None;
                self.line(&report.lines().join("\n"))
            }
            Event::Warning(warning) => {
                self.current = None;
                self.line(warning.rendered.trim_end())
            }
            Event::Notice { message } => {
                // Not part of the step shown last: its next line gets its header again.
                self.current = None;
                self.line(message.trim_end())
            }
        }
    }
}

impl Renderer for Plain {
    fn render(&mut self, at: Duration, event: &Event) {
        let _ = self.write(at, event);
        let _ = self.out.flush();
    }
}
