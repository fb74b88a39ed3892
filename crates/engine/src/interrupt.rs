//! Ctrl-C. The CLI's signal handler sets one process-wide flag ([`interrupt_flag`]); the
//! scheduler sees it within 100 ms, kills the running RUN containers and lets every stage
//! stop as it does for a failure, so temporary step directories are removed on the way out
//! and the build ends with [`Interrupted`] instead of the error of a killed step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The flag a SIGINT handler sets (an `Arc` because that is what `signal-hook` stores; the
/// handler only stores `true`, which is async-signal-safe).
pub fn interrupt_flag() -> Arc<AtomicBool> {
    FLAG.get_or_init(Default::default).clone()
}

/// Whether the person asked the build to stop.
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// What a build stopped by Ctrl-C fails with.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted (Ctrl-C)")
    }
}

impl std::error::Error for Interrupted {}
