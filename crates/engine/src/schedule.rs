//! The stage scheduler: every stage the target needs runs on its own thread as soon as its
//! base is built, so independent stages run at the same time. A stage that only copies or
//! mounts from another one starts right away too and waits for it at the step that needs it
//! ([`Board::result`]), so its earlier steps overlap with that stage. The first failure
//! cancels the rest: waiting stages stop, running ones stop at their next step, and the
//! caller's `on_cancel` hook stops what is running right now (RUN containers).
//!
//! The [`Board`] alone decides whether the build is failing and which failure is the
//! build's: a failing step claims it ([`Board::claim_failure`]) before it is reported.

use crate::error::{is_cancelled, Cancelled};
use crate::interrupt::{interrupted, Interrupted};
use crate::state::ImageState;
use anyhow::{anyhow, Result};
use skiff_frontend::graph::{DependencyKind, PlannedStage};
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The stages' results and the build's failure state, shared by the stage threads.
pub struct Board {
    planned: HashSet<usize>,
    inner: Mutex<BoardState>,
    changed: Condvar,
}

#[derive(Default)]
struct BoardState {
    results: HashMap<usize, ImageState>,
    finished: usize,
    /// The build's failure: the first error that is not a [`Cancelled`].
    failure: Option<anyhow::Error>,
    /// A stage that ended [`Cancelled`] before any failure was recorded here (its step lost the
    /// race to report the first failure, whose stage has not finished yet).
    cancelled: Option<anyhow::Error>,
    /// The stage whose step failed first ([`Board::claim_failure`]): its error, when the stage
    /// ends, is the build's failure; errors other stages end with after it are not.
    failed_stage: Option<usize>,
}

impl BoardState {
    /// Whether the build is failing: the other stages are to stop.
    fn failing(&self) -> bool {
        self.failure.is_some()
            || self.cancelled.is_some()
            || self.failed_stage.is_some()
            || interrupted()
    }
}

impl Board {
    /// A board for the stages with these indices.
    pub fn new(planned: impl IntoIterator<Item = usize>) -> Board {
        Board {
            planned: planned.into_iter().collect(),
            inner: Mutex::new(BoardState::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BoardState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The result of stage `index`, waiting until it is built; [`Cancelled`] if the build
    /// failed meanwhile.
    pub fn result(&self, index: usize) -> Result<ImageState> {
        if !self.planned.contains(&index) {
            return Err(anyhow!(
                "stage {index} is not part of this build (internal scheduling error)"
            ));
        }
        let mut state = self.lock();
        loop {
            if let Some(result) = state.results.get(&index) {
                return Ok(result.clone());
            }
            if state.failing() {
                return Err(Cancelled.into());
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// `Err(Cancelled)` once any stage has failed: stages call this before each step.
    pub fn check(&self) -> Result<()> {
        if self.lock().failing() {
            return Err(Cancelled.into());
        }
        Ok(())
    }

    /// Records that a step of stage `stage` failed, if the build is not failing already: the
    /// one authority on which failure is the build's. Returns whether it was the first (the
    /// step's error is then the build's failure; otherwise the step was cancelled by it).
    /// From now on the other stages stop, and what they end with does not count.
    pub fn claim_failure(&self, stage: usize) -> bool {
        let mut state = self.lock();
        if state.failing() {
            return false;
        }
        state.failed_stage = Some(stage);
        self.changed.notify_all();
        true
    }

    fn finish(&self, index: usize, result: Result<ImageState>) {
        let mut state = self.lock();
        state.finished += 1;
        let claimed_by_other = state.failed_stage.is_some_and(|s| s != index);
        match result {
            Ok(image) => {
                state.results.insert(index, image);
            }
            // The first failure is the build's; what it cancelled only follows from it.
            Err(err) if state.failure.is_none() && !claimed_by_other && !is_cancelled(&err) => {
                state.failure = Some(err);
            }
            Err(_) if state.failing() => {}
            Err(cancelled) => state.cancelled = Some(cancelled),
        }
        self.changed.notify_all();
    }
}

/// Runs `build` for every stage of `stages` (each on its own thread, once its base stage is
/// built) and waits for all of them. While a failure (or a Ctrl-C) is being cancelled,
/// `on_cancel` is called every 100 ms until every stage has stopped. Returns the first
/// failure, or [`Interrupted`].
pub fn run<'a>(
    stages: &'a [PlannedStage],
    board: &Board,
    on_cancel: impl Fn(),
    build: impl Fn(&'a PlannedStage) -> Result<ImageState> + Sync,
) -> Result<()> {
    let build = &build;
    std::thread::scope(|scope| {
        for stage in stages {
            scope.spawn(move || {
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    for dep in &stage.deps {
                        if dep.kind == DependencyKind::Base {
                            board.result(dep.stage)?;
                        }
                    }
                    build(stage)
                }))
                .unwrap_or_else(|_| {
                    Err(anyhow!(
                        "building stage {} panicked (a bug in skiff: please report it)",
                        stage.label()
                    ))
                });
                board.finish(stage.index, result);
            });
        }
        let mut state = board.lock();
        while state.finished < stages.len() {
            if state.failing() {
                drop(state);
                on_cancel();
                // Stages waiting for a result see the build failing (a Ctrl-C notifies nobody).
                board.changed.notify_all();
                state = board.lock();
            }
            // Timed, so that a Ctrl-C is noticed while every stage is busy.
            state = board
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    });
    if interrupted() {
        return Err(Interrupted.into());
    }
    let mut state = board.lock();
    match state.failure.take().or_else(|| state.cancelled.take()) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::Board;
    use crate::error::Cancelled;
    use crate::state::ImageState;
    use anyhow::anyhow;
    use skiff_image::registry::Platform;

    fn image(key: &str) -> ImageState {
        let mut state = ImageState::scratch(&Platform::host());
        state.key = key.into();
        state
    }

    #[test]
    fn a_result_is_waited_for() {
        let board = Board::new([0, 1]);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| board.result(1).map(|r| r.key));
            std::thread::sleep(std::time::Duration::from_millis(50));
            board.finish(1, Ok(image("one")));
            assert_eq!(waiter.join().unwrap().unwrap(), "one");
        });
        assert!(board.result(7).is_err(), "an unplanned stage is an error");
    }

    #[test]
    fn the_first_failure_cancels_the_rest_and_is_kept() {
        let board = Board::new([0, 1, 2]);
        board.check().unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| board.result(2));
            board.finish(0, Err(anyhow!("first")));
            let err = waiter.join().unwrap().unwrap_err();
            assert!(err.is::<Cancelled>(), "{err:#}");
        });
        assert!(board.check().unwrap_err().is::<Cancelled>());
        board.finish(1, Err(anyhow!("second")));
        board.finish(
            2,
            Err(anyhow::Error::from(Cancelled).context("copying from stage 1")),
        );
        let state = board.lock();
        assert_eq!(state.finished, 3);
        assert_eq!(format!("{}", state.failure.as_ref().unwrap()), "first");
    }

    #[test]
    fn a_stage_cancelled_before_the_failure_is_recorded_does_not_become_the_failure() {
        // A step that lost the race to report the first failure ends its stage with
        // `Cancelled` (wrapped in context) while the board has no failure yet.
        let board = Board::new([0, 1]);
        board.finish(
            1,
            Err(anyhow::Error::from(Cancelled).context("RUN sleep 9")),
        );
        assert!(board.check().unwrap_err().is::<Cancelled>());
        board.finish(0, Err(anyhow!("first")));
        let state = board.lock();
        assert_eq!(format!("{}", state.failure.as_ref().unwrap()), "first");
    }

    #[test]
    fn the_first_claimed_step_failure_is_the_builds_and_stops_the_rest() {
        let board = Board::new([0, 1]);
        assert!(
            board.claim_failure(1),
            "the first failing step is the build's failure"
        );
        assert!(board.check().unwrap_err().is::<Cancelled>());
        assert!(!board.claim_failure(0), "a later failure is a cancellation");
        // Stage 0 ends with an error of its own before stage 1 has finished: it does not
        // replace the failure stage 1 claimed.
        board.finish(0, Err(anyhow!("later")));
        board.finish(1, Err(anyhow!("first")));
        let state = board.lock();
        assert_eq!(format!("{}", state.failure.as_ref().unwrap()), "first");
    }
}
