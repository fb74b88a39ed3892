//! The one thing every view does: turn events into output.

use super::event::Event;
use std::time::Duration;

/// Turns events into output; one per [`Mode`].
pub(super) trait Renderer: Send {
    /// Shows one event that happened `at` after the build started.
    fn render(&mut self, at: Duration, event: &Event);
    /// Ends any live display (idempotent).
    fn finish(&mut self) {}
}
