//! What a build tells the person (or tool) watching it: one [`Event`] per thing that
//! happens, rendered as plain lines (CI logs, `docker build --progress=plain`), JSON lines
//! (tools), a live TTY view (terminals) or nothing but errors (quiet).
//!
//! The engine emits step events; the CLI adds the exports, the summary and the final error
//! through the same [`Progress`], so every mode ends with the same facts.
//!
//! The progress only renders: which step failed the build, and which ones end CANCELED, is
//! decided by the scheduler and reported as such (see `crate::steps`).

mod event;
mod json;
mod names;
mod plain;
mod render;
mod screen;
mod text;
mod tty;

pub use event::{Event, SizeReport, Summary, Warning};
pub use names::{stage_label, step_name};
pub use text::human_size;

use render::Renderer;

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

/// Errors only: what `--progress=quiet` shows.
struct Quiet(Box<dyn Write + Send>);

impl Renderer for Quiet {
    fn render(&mut self, _at: Duration, event: &Event) {
        if let Event::Error { message, .. } = event {
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

#[cfg(test)]
mod tests;
