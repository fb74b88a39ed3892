//! What a build tells the person (or tool) watching it: one [`Event`] per thing that
//! happens, printed as plain lines (CI logs), JSON lines (tools) or a live TTY view.

use serde::Serialize;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How progress is shown (`--progress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One line per event, for CI logs.
    Plain,
    /// One JSON object per line, for tools.
    Json,
    /// A compact live view for terminals.
    Tty,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// Parses `--progress` (`auto` picks tty on a terminal, plain otherwise).
    pub fn parse(s: &str) -> Result<Mode, String> {
        use std::io::IsTerminal;
        match s {
            "auto" => Ok(if std::io::stderr().is_terminal() {
                Mode::Tty
            } else {
                Mode::Plain
            }),
            "plain" => Ok(Mode::Plain),
            "json" | "rawjson" => Ok(Mode::Json),
            "tty" => Ok(Mode::Tty),
            "quiet" | "none" => Ok(Mode::Quiet),
            other => Err(format!(
                "unknown progress mode \"{other}\": use auto, tty, plain, json or quiet"
            )),
        }
    }
}

/// Something that happened during a build.
#[derive(Clone, Debug, Serialize)]
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
    /// A free-form message (pulls, exports, warnings).
    Info {
        /// The text.
        message: String,
    },
}

/// Prints events in the chosen [`Mode`]; shared by all stages of a build (thread-safe).
pub struct Progress {
    mode: Mode,
    start: Instant,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Progress {
    /// Progress written to stderr.
    pub fn new(mode: Mode) -> Progress {
        Progress {
            mode,
            start: Instant::now(),
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    /// Progress written to any writer (for tests).
    pub fn to_writer(mode: Mode, out: Box<dyn Write + Send>) -> Progress {
        Progress {
            mode,
            start: Instant::now(),
            out: Mutex::new(out),
        }
    }

    /// Time since the build started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Reports one event.
    pub fn emit(&self, event: Event) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let t = self.start.elapsed().as_secs_f64();
        let _ = match self.mode {
            Mode::Quiet => Ok(()),
            Mode::Json => {
                let mut v = serde_json::to_value(&event).unwrap_or_default();
                v["time"] = serde_json::json!((t * 1000.0).round() / 1000.0);
                writeln!(out, "{v}")
            }
            Mode::Plain | Mode::Tty => match &event {
                Event::StepStart { step, name } => writeln!(out, "#{step} {name}"),
                Event::StepCached { step } => writeln!(out, "#{step} CACHED"),
                Event::StepOutput { step, line } => writeln!(out, "#{step} {t:.3} {line}"),
                Event::StepDone { step, seconds } => writeln!(out, "#{step} DONE {seconds:.1}s"),
                Event::StepError { step, message } => writeln!(out, "#{step} ERROR: {message}"),
                Event::Info { message } => writeln!(out, "{message}"),
            },
        };
    }

    /// Reports a free-form message.
    pub fn info(&self, message: impl Into<String>) {
        self.emit(Event::Info {
            message: message.into(),
        });
    }
}
