//! `--progress=tty`: a live view of the running steps (spinner, name, elapsed time, the last
//! lines of a RUN's output) and of base-image downloads (one bar per blob), drawn with
//! indicatif. Finished steps collapse into one `=>` line each above the live area, so what
//! stays on the terminal is a compact log like BuildKit's: `=> CACHED [2/4] COPY . .`,
//! `=> [3/4] RUN make 4.2s`, `=> CANCELED [a 2/2] RUN sleep 9 1.0s`, then the outputs and the
//! summary. Notices (a registry retry) are printed above the live view the same way.
//!
//! When stderr is not a terminal indicatif draws nothing; the collapsed log is then written
//! straight to the output, so a piped `--progress=tty` still ends with the summary.

use super::event::{summary_line, Event};
use super::render::Renderer;
use super::text::{clean_line, human_size};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::time::Duration;

/// How many output lines of a running step stay visible.
const TAIL_LINES: usize = 6;

/// How often spinners and elapsed times redraw.
const TICK: Duration = Duration::from_millis(120);

pub(super) struct Tty {
    multi: MultiProgress,
    out: Box<dyn Write + Send>,
    /// Running steps by number.
    running: HashMap<usize, Running>,
    /// Names of every step seen (a cached or failed step needs its name after it stopped).
    names: HashMap<usize, String>,
    /// One spinner per image being pulled.
    pulls: HashMap<String, ProgressBar>,
    /// One bar per blob being downloaded, with the image it belongs to.
    blobs: HashMap<String, (String, ProgressBar)>,
}

struct Running {
    bar: ProgressBar,
    lines: VecDeque<String>,
    tail: Vec<ProgressBar>,
}

fn step_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.cyan} {wide_msg} {secs:>7}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "secs",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}s", state.elapsed().as_secs_f64());
            },
        )
}

fn tail_style() -> ProgressStyle {
    ProgressStyle::with_template("    {wide_msg:.dim}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn blob_style() -> ProgressStyle {
    ProgressStyle::with_template("    {prefix} [{bar:30.cyan/blue}] {bytes}/{total_bytes}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn short_digest(blob: &str) -> &str {
    let hex = blob.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

impl Tty {
    /// Draws on stderr (nothing is drawn when stderr is not a terminal).
    pub(super) fn on_stderr(out: Box<dyn Write + Send>) -> Tty {
        Tty::with_target(ProgressDrawTarget::stderr(), out)
    }

    /// Draws nothing; the collapsed log goes to `out`.
    pub(super) fn hidden(out: Box<dyn Write + Send>) -> Tty {
        Tty::with_target(ProgressDrawTarget::hidden(), out)
    }

    fn with_target(target: ProgressDrawTarget, out: Box<dyn Write + Send>) -> Tty {
        Tty {
            multi: MultiProgress::with_draw_target(target),
            out,
            running: HashMap::new(),
            names: HashMap::new(),
            pulls: HashMap::new(),
            blobs: HashMap::new(),
        }
    }

    /// A line of the collapsed log, above the live area.
    fn log(&mut self, line: &str) {
        if self.multi.is_hidden() {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        } else {
            let _ = self.multi.println(line);
        }
    }

    fn drop_bar(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        self.multi.remove(bar);
    }

    /// Stops a running step's live lines; returns how long it ran.
    fn stop(&mut self, step: usize) -> Option<Duration> {
        let running = self.running.remove(&step)?;
        for bar in running.tail.iter().chain(std::iter::once(&running.bar)) {
            self.drop_bar(bar);
        }
        Some(running.bar.elapsed())
    }

    fn name(&self, step: usize) -> String {
        self.names.get(&step).cloned().unwrap_or_default()
    }

    fn output(&mut self, step: usize, line: &str) {
        let Some(running) = self.running.get_mut(&step) else {
            return;
        };
        running.lines.push_back(clean_line(line));
        if running.lines.len() > TAIL_LINES {
            running.lines.pop_front();
        }
        while running.tail.len() < running.lines.len() {
            let after = running.tail.last().unwrap_or(&running.bar).clone();
            let bar = self
                .multi
                .insert_after(&after, ProgressBar::new_spinner().with_style(tail_style()));
            running.tail.push(bar);
        }
        for (bar, text) in running.tail.iter().zip(&running.lines) {
            bar.set_message(text.clone());
        }
    }

    fn blob_progress(&mut self, reference: &str, blob: &str, current: u64, total: u64) {
        if !self.blobs.contains_key(blob) {
            let bar = ProgressBar::new(total)
                .with_style(blob_style())
                .with_prefix(short_digest(blob).to_string());
            let bar = match self.pulls.get(reference) {
                Some(spinner) => self.multi.insert_after(spinner, bar),
                None => self.multi.add(bar),
            };
            self.blobs
                .insert(blob.to_string(), (reference.to_string(), bar));
        }
        if let Some((_, bar)) = self.blobs.get(blob) {
            bar.set_position(current);
        }
        if current >= total {
            if let Some((_, bar)) = self.blobs.remove(blob) {
                self.drop_bar(&bar);
                self.log(&format!(
                    "=> => {} {} done",
                    short_digest(blob),
                    human_size(total)
                ));
            }
        }
    }

    fn pull_done(&mut self, reference: &str, seconds: f64) {
        if let Some(spinner) = self.pulls.remove(reference) {
            self.drop_bar(&spinner);
        }
        let blobs: Vec<String> = self
            .blobs
            .iter()
            .filter(|(_, (r, _))| r == reference)
            .map(|(b, _)| b.clone())
            .collect();
        for blob in blobs {
            if let Some((_, bar)) = self.blobs.remove(&blob) {
                self.drop_bar(&bar);
            }
        }
        self.log(&format!("=> pulled {reference} {seconds:.1}s"));
    }
}

impl Renderer for Tty {
    fn render(&mut self, _at: Duration, event: &Event) {
        match event {
            Event::StepStart { step, name } => {
                self.names.insert(*step, name.clone());
                let bar = self.multi.add(
                    ProgressBar::new_spinner()
                        .with_style(step_style())
                        .with_message(name.clone()),
                );
                bar.enable_steady_tick(TICK);
                self.running.insert(
                    *step,
                    Running {
                        bar,
                        lines: VecDeque::new(),
                        tail: Vec::new(),
                    },
                );
            }
            Event::StepCached { step } => {
                self.stop(*step);
                let line = format!("=> CACHED {}", self.name(*step));
                self.log(&line);
            }
            Event::StepOutput { step, line } => self.output(*step, line),
            Event::StepDone { step, seconds } => {
                self.stop(*step);
                let line = format!("=> {} {seconds:.1}s", self.name(*step));
                self.log(&line);
            }
            Event::StepError { step, .. } => {
                let ran = self.stop(*step).unwrap_or_default();
                let line = format!("=> ERROR {} {:.1}s", self.name(*step), ran.as_secs_f64());
                self.log(&line);
            }
            Event::StepCanceled { step } => {
                let ran = self.stop(*step).unwrap_or_default();
                let line = format!("=> CANCELED {} {:.1}s", self.name(*step), ran.as_secs_f64());
                self.log(&line);
            }
            Event::PullStart { reference } => {
                let bar = self.multi.add(
                    ProgressBar::new_spinner()
                        .with_style(step_style())
                        .with_message(format!("pulling {reference}")),
                );
                bar.enable_steady_tick(TICK);
                self.pulls.insert(reference.clone(), bar);
            }
            Event::PullProgress {
                reference,
                blob,
                current,
                total,
            } => self.blob_progress(reference, blob, *current, *total),
            Event::PullDone { reference, seconds } => self.pull_done(reference, *seconds),
            Event::Exported { description, .. } => self.log(&format!("=> {description}")),
            Event::Summary(summary) => {
                self.finish();
                self.log(&format!("=> {}", summary_line(summary)));
            }
            Event::Error { message } => {
                self.finish();
                self.log(message.trim_end());
            }
            Event::Info { message } | Event::Notice { message } => self.log(message.trim_end()),
            Event::Warning(warning) => self.log(warning.rendered.trim_end()),
            Event::Size(report) => self.log(&report.lines().join("\n")),
        }
    }

    fn finish(&mut self) {
        let steps: Vec<usize> = self.running.keys().copied().collect();
        for step in steps {
            self.stop(step);
        }
        for (_, bar) in std::mem::take(&mut self.pulls) {
            self.drop_bar(&bar);
        }
        for (_, (_, bar)) in std::mem::take(&mut self.blobs) {
            self.drop_bar(&bar);
        }
        let _ = self.multi.clear();
    }
}
