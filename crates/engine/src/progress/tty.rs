//! `--progress=tty`: a live view of the running steps (spinner, name, elapsed time, the last
//! lines of a RUN's output) and of base-image downloads (one bar per blob), drawn with
//! indicatif. Finished steps collapse into one `=>` line each above the live area, so what
//! stays on the terminal is a compact log like BuildKit's: `=> CACHED [2/4] COPY . .`,
//! `=> [3/4] RUN make 4.2s`, `=> CANCELED [a 2/2] RUN sleep 9 1.0s`, then the outputs and the
//! summary. Notices (a registry retry) are printed above the live view the same way.
//!
//! On a terminal, as BuildKit's: a `[+] Building 5.5s (7/9)` header tops the live area (and
//! ends the log as `[+] Building 5.5s (9/9) FINISHED`), durations are aligned at the right
//! edge, lines are cut to the width, colours follow the outcome (none with `NO_COLOR`), and
//! the live area never grows taller than the screen: running steps share the rows left for
//! their output lines (eight parallel steps in a 20-row terminal show one line each).
//!
//! When stderr is not a terminal indicatif draws nothing; the collapsed log is then written
//! straight to the output, so a piped `--progress=tty` still ends with the summary.

use super::event::{summary_line, Event};
use super::render::Renderer;
use super::screen::{step_line, Outcome, Screen};
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
    /// The terminal drawn on (`None` when nothing is drawn).
    screen: Option<Screen>,
    /// The `[+] Building` line on top of the live area.
    header: Option<ProgressBar>,
    /// Steps seen, and how many of them have ended.
    seen: usize,
    ended: usize,
    /// When the last event happened, after the build started.
    now: Duration,
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

fn header_style() -> ProgressStyle {
    ProgressStyle::with_template("[+] Building {secs} {msg}")
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
        let mut tty = Tty::with_target(ProgressDrawTarget::stderr(), out);
        if !tty.multi.is_hidden() {
            tty.screen = Screen::of_stderr();
            let header = tty
                .multi
                .add(ProgressBar::new_spinner().with_style(header_style()));
            header.enable_steady_tick(TICK);
            tty.header = Some(header);
        }
        tty
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
            screen: None,
            header: None,
            seen: 0,
            ended: 0,
            now: Duration::ZERO,
        }
    }

    /// `(7/9)` on the header.
    fn count_header(&self) {
        if let Some(header) = &self.header {
            header.set_message(format!("({}/{})", self.ended, self.seen));
        }
    }

    /// The header as the log's last line before the outputs: `[+] Building 5.5s (9/9)
    /// FINISHED` (or `ERROR`).
    fn close_header(&mut self, how: &str) {
        let Some(header) = self.header.take() else {
            return;
        };
        self.drop_bar(&header);
        let line = format!(
            "[+] Building {:.1}s ({}/{}) {how}",
            self.now.as_secs_f64(),
            self.ended,
            self.seen
        );
        self.log(&line);
    }

    fn start(&mut self, step: usize, name: &str) {
        self.names.insert(step, name.to_string());
        self.seen += 1;
        self.count_header();
        let bar = self.multi.add(
            ProgressBar::new_spinner()
                .with_style(step_style())
                .with_message(name.to_string()),
        );
        bar.enable_steady_tick(TICK);
        let lines = VecDeque::new();
        let tail = Vec::new();
        self.running.insert(step, Running { bar, lines, tail });
        self.layout();
    }

    /// A step that failed or was canceled: `=> ERROR [2/3] RUN make 1.2s`.
    fn stopped(&mut self, step: usize, outcome: Outcome, word: &str) {
        let ran = self.stop(step).unwrap_or_default();
        let text = format!("=> {word} {}", self.name(step));
        let time = format!("{:.1}s", ran.as_secs_f64());
        self.log_step(outcome, &text, Some(&time));
    }

    /// A finished step's line in the log.
    fn log_step(&mut self, outcome: Outcome, text: &str, time: Option<&str>) {
        self.ended += 1;
        self.count_header();
        let line = step_line(self.screen, outcome, text, time);
        self.log(&line);
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
        self.layout();
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
        self.layout();
    }

    /// Gives each running step as many output lines as fit the screen (all of them when
    /// nothing is drawn), adding or removing its tail bars to match.
    fn layout(&mut self) {
        let pulls = self.pulls.len() + self.blobs.len();
        let most = match self.screen {
            Some(screen) => screen.tail_lines(self.running.len(), pulls, TAIL_LINES),
            None => TAIL_LINES,
        };
        for running in self.running.values_mut() {
            let shown = running.lines.len().min(most);
            while running.tail.len() > shown {
                if let Some(bar) = running.tail.pop() {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
            }
            while running.tail.len() < shown {
                let after = running.tail.last().unwrap_or(&running.bar).clone();
                let bar = self
                    .multi
                    .insert_after(&after, ProgressBar::new_spinner().with_style(tail_style()));
                running.tail.push(bar);
            }
            let skip = running.lines.len() - shown;
            for (bar, text) in running.tail.iter().zip(running.lines.iter().skip(skip)) {
                bar.set_message(text.clone());
            }
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
    fn render(&mut self, at: Duration, event: &Event) {
        self.now = at;
        match event {
            Event::StepStart { step, name } => self.start(*step, name),
            Event::StepCached { step } => {
                self.stop(*step);
                let text = format!("=> CACHED {}", self.name(*step));
                self.log_step(Outcome::Cached, &text, None);
            }
            Event::StepOutput { step, line } => self.output(*step, line),
            Event::StepDone { step, seconds } => {
                self.stop(*step);
                let text = format!("=> {}", self.name(*step));
                self.log_step(Outcome::Done, &text, Some(&format!("{seconds:.1}s")));
            }
            Event::StepError { step, .. } => self.stopped(*step, Outcome::Error, "ERROR"),
            Event::StepCanceled { step } => self.stopped(*step, Outcome::Canceled, "CANCELED"),
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
            Event::Exported { description, .. } => {
                self.close_header("FINISHED");
                self.log(&format!("=> {description}"));
            }
            Event::Summary(summary) => {
                self.finish();
                self.log(&format!("=> {}", summary_line(summary)));
            }
            Event::Error { message, .. } => {
                self.close_header("ERROR");
                self.finish();
                self.log(message.trim_end());
            }
            Event::Info { message } | Event::Notice { message } => self.log(message.trim_end()),
            Event::Warning(warning) => {
                self.close_header("FINISHED");
                self.log(warning.rendered.trim_end());
            }
            Event::Size(report) => {
                self.close_header("FINISHED");
                self.log(&report.lines().join("\n"));
            }
        }
    }

    fn finish(&mut self) {
        self.close_header("FINISHED");
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
