//! `--progress=json`: one JSON object per line, `{"event": "step_start", …, "time": 0.123}`,
//! for tools. Every line parses, failures included (the error is an `error` event); a step
//! stopped by a failure elsewhere is a `step_canceled` event, a registry retry a `notice`.

use super::event::Event;
use super::render::Renderer;
use std::io::Write;
use std::time::Duration;

pub(super) struct Json(pub(super) Box<dyn Write + Send>);

/// Milliseconds are enough for people and tools; more digits are noise.
fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

impl Renderer for Json {
    fn render(&mut self, at: Duration, event: &Event) {
        let mut event = event.clone();
        match &mut event {
            Event::StepDone { seconds, .. } | Event::PullDone { seconds, .. } => {
                *seconds = round_ms(*seconds)
            }
            Event::Summary(s) => s.seconds = round_ms(s.seconds),
            _ => {}
        }
        let mut value = serde_json::to_value(&event).unwrap_or_default();
        value["time"] = serde_json::json!(round_ms(at.as_secs_f64()));
        let _ = writeln!(self.0, "{value}");
        let _ = self.0.flush();
    }
}
