//! Numbering and reporting the build's steps. Whether the build is failing, and which
//! failure is the build's, is the scheduler's [`Board`]'s to decide; this turns each step's
//! outcome into the event that shows it: a step that ends after the build failed is reported
//! CANCELED (BuildKit's `#N CANCELED`), one that would start then is not shown at all, and only
//! the first failure is an `ERROR`.

use crate::error::Cancelled;
use crate::progress::{Event, Progress};
use crate::schedule::Board;
use anyhow::Result;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// The step counter and reporter of one build, shared by its stages.
pub struct Steps<'a> {
    progress: Progress,
    board: &'a Board,
    counter: AtomicUsize,
    /// Held while the board is asked and the answer shown, so that what is shown and the
    /// board's state always agree (no DONE after the ERROR that cancelled it).
    gate: Mutex<()>,
}

impl<'a> Steps<'a> {
    /// Steps reported to `progress`, failing as `board` decides, numbered on after `numbered`
    /// steps (0 for a build's first run; a build that runs again after a shared cache's layer
    /// was discarded keeps its step numbers distinct).
    pub fn continuing(progress: Progress, board: &'a Board, numbered: usize) -> Steps<'a> {
        Steps {
            progress,
            board,
            counter: AtomicUsize::new(numbered),
            gate: Mutex::new(()),
        }
    }

    /// Where events go (pull progress, warnings, step output).
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// How many steps were numbered.
    pub fn count(&self) -> usize {
        self.counter.load(Ordering::SeqCst)
    }

    fn gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers and shows a step that starts; [`Cancelled`] (and nothing shown) when the build
    /// is failing.
    pub fn start(&self, name: String) -> Result<usize> {
        let _gate = self.gate();
        self.board.check()?;
        let step = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        self.progress.emit(Event::StepStart { step, name });
        Ok(step)
    }

    /// Reports a step whose result came from the cache (CANCELED when the build failed
    /// meanwhile: the stage stops at its next step).
    pub fn cached(&self, step: usize) {
        let _gate = self.gate();
        self.progress.emit(if self.board.check().is_err() {
            Event::StepCanceled { step }
        } else {
            Event::StepCached { step }
        });
    }

    /// Reports a step that finished: DONE, or CANCELED (and [`Cancelled`]) when the build
    /// failed meanwhile, as its result is then thrown away.
    pub fn done(&self, step: usize, started: Instant) -> Result<()> {
        let _gate = self.gate();
        if self.board.check().is_err() {
            self.progress.emit(Event::StepCanceled { step });
            return Err(Cancelled.into());
        }
        self.progress.emit(Event::StepDone {
            step,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    /// Reports a step of stage `stage` that failed and returns what the stage fails with: the
    /// step's own error when the board takes it as the build's failure; [`Cancelled`] when the
    /// build had failed already (the step was killed, or failed on its own too late), and the
    /// step is reported CANCELED.
    pub fn failed(&self, step: usize, stage: usize, err: anyhow::Error) -> anyhow::Error {
        let _gate = self.gate();
        if self.board.claim_failure(stage) {
            let message = format!("{err:#}");
            self.progress.emit(Event::StepError { step, message });
            err
        } else {
            self.progress.emit(Event::StepCanceled { step });
            Cancelled.into()
        }
    }
}
