//! What a build tells the person (or tool) watching it: one [`Event`] per thing that
//! happens, rendered as plain lines (CI logs, `docker build --progress=plain`), JSON lines
//! (tools), a live TTY view (terminals) or nothing but errors (quiet).
//!
//! The engine emits step events; the CLI adds the exports, the summary and the final error
//! through the same [`Progress`], so every mode ends with the same facts.
//!
//! The progress only renders: which step failed the build, and which ones end CANCELED, is
//! decided by the scheduler and reported as such (see `crate::steps`).

mod json;
mod names;
mod plain;
mod tty;

pub use names::{stage_label, step_name};

use serde::Serialize;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How progress is shown (`--progress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One line per event, for CI logs.
    Plain,
    /// One JSON object per line, for tools.
    Json,
    /// A compact live view for terminals, leaving a collapsed log behind.
    Tty,
    /// Nothing but errors.
    Quiet,
}

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
        size.push_str(&format!(
            "final {} ({} unpacked)",
            human_size(self.compressed),
            human_size(self.unpacked)
        ));
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
    /// (with the Dockerfile excerpt when the error has a place in it).
    Error {
        /// The error.
        message: String,
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

/// Turns events into output; one per [`Mode`].
trait Renderer: Send {
    /// Shows one event that happened `at` after the build started.
    fn render(&mut self, at: Duration, event: &Event);
    /// Ends any live display (idempotent).
    fn finish(&mut self) {}
}

/// Errors only: what `--progress=quiet` shows.
struct Quiet(Box<dyn Write + Send>);

impl Renderer for Quiet {
    fn render(&mut self, _at: Duration, event: &Event) {
        if let Event::Error { message } = event {
            let _ = writeln!(self.0, "{}", message.trim_end());
        }
    }
}

struct Inner {
    start: Instant,
    /// The renderer, under one lock: events are shown in the order they were emitted.
    renderer: Mutex<Box<dyn Renderer>>,
    steps: AtomicUsize,
    cached: AtomicUsize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.renderer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .finish();
    }
}

/// Where a build's events go; cheap to clone and shared by all stages (thread-safe), so the
/// CLI keeps a handle to report exports and the summary after the engine is done.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

impl Progress {
    /// Progress written to stderr (the TTY view draws on the terminal).
    pub fn new(mode: Mode) -> Progress {
        let out: Box<dyn Write + Send> = Box::new(std::io::stderr());
        let renderer: Box<dyn Renderer> = match mode {
            Mode::Tty => Box::new(tty::Tty::on_stderr(out)),
            other => return Progress::to_writer(other, out),
        };
        Progress::with_renderer(renderer)
    }

    /// Progress written to any writer (for tests). [`Mode::Tty`] draws no live view then and
    /// writes only its collapsed log.
    pub fn to_writer(mode: Mode, out: Box<dyn Write + Send>) -> Progress {
        let renderer: Box<dyn Renderer> = match mode {
            Mode::Plain => Box::new(plain::Plain::new(out)),
            Mode::Json => Box::new(json::Json(out)),
            Mode::Tty => Box::new(tty::Tty::hidden(out)),
            Mode::Quiet => Box::new(Quiet(out)),
        };
        Progress::with_renderer(renderer)
    }

    fn with_renderer(renderer: Box<dyn Renderer>) -> Progress {
        Progress {
            inner: Arc::new(Inner {
                start: Instant::now(),
                renderer: Mutex::new(renderer),
                steps: AtomicUsize::new(0),
                cached: AtomicUsize::new(0),
            }),
        }
    }

    /// Time since the build started.
    pub fn elapsed(&self) -> Duration {
        self.inner.start.elapsed()
    }

    /// How many steps started so far and how many of them came from the cache.
    pub fn step_counts(&self) -> (usize, usize) {
        (
            self.inner.steps.load(Ordering::SeqCst),
            self.inner.cached.load(Ordering::SeqCst),
        )
    }

    /// Reports one event.
    pub fn emit(&self, event: Event) {
        let mut renderer = self
            .inner
            .renderer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match &event {
            Event::StepStart { .. } => {
                self.inner.steps.fetch_add(1, Ordering::SeqCst);
            }
            Event::StepCached { .. } => {
                self.inner.cached.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
        // Taken under the lock, so that times never go back from one event to the next.
        let at = self.inner.start.elapsed();
        renderer.render(at, &event);
        if matches!(event, Event::Summary(_) | Event::Error { .. }) {
            renderer.finish();
        }
    }

    /// A notice sink for the registry client: its notices (retries, unusable credentials)
    /// become [`Event::Notice`]s instead of lines written over this progress's output.
    pub fn registry_notices(&self) -> skiff_image::registry::NoticeSink {
        let progress = self.clone();
        skiff_image::registry::NoticeSink(Arc::new(move |message: &str| {
            progress.emit(Event::Notice {
                message: message.to_string(),
            })
        }))
    }

    /// Reports a free-form message.
    pub fn info(&self, message: impl Into<String>) {
        self.emit(Event::Info {
            message: message.into(),
        });
    }
}

/// `4.1 MB`: sizes as Docker prints them (decimal units).
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// The summary as one line: `built NAME… sha256:… (3 layers, 1.1 MB) in 2.0s, 6 steps (2 cached)`.
fn summary_line(s: &Summary) -> String {
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

/// A line of step output made safe to print: carriage-return progress keeps its last frame,
/// other control characters are dropped.
fn clean_line(line: &str) -> String {
    let last = line
        .trim_end_matches('\r')
        .rsplit('\r')
        .next()
        .unwrap_or("");
    last.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

/// The first line of a message (the rest is shown by the final error).
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests;
