//! The terminal the TTY view draws on: its size, and the finished-step lines as BuildKit
//! writes them there — the duration right-aligned at the terminal's width, the line cut to
//! fit, coloured by outcome (blue done or cached, red error, yellow canceled) unless
//! `NO_COLOR` is set or stderr is not a terminal.

use console::{style, Term};

/// What became of a step, for its line's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Done,
    Cached,
    Error,
    Canceled,
}

/// The terminal's size in rows and columns, or `None` when nothing is drawn (not a terminal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Screen {
    pub(super) rows: usize,
    pub(super) columns: usize,
}

impl Screen {
    /// The size of the terminal on stderr, when it is one.
    pub(super) fn of_stderr() -> Option<Screen> {
        let (rows, columns) = Term::stderr().size_checked()?;
        Some(Screen {
            rows: usize::from(rows).max(2),
            columns: usize::from(columns).max(20),
        })
    }

    /// How many output lines each of `steps` running steps may show under its own line, so
    /// that the header, every step, `other` lines (pull bars) and the tails fit the screen.
    pub(super) fn tail_lines(&self, steps: usize, other: usize, most: usize) -> usize {
        // The header and one spare row (the cursor's) are not the steps'.
        let free = self.rows.saturating_sub(2 + steps + other);
        free.checked_div(steps).unwrap_or(0).min(most)
    }
}

/// `=> [2/4] RUN make        4.2s`: `text` cut to fit and `time` at the right edge of
/// `screen` (one space between them without a screen), coloured by `outcome`.
pub(super) fn step_line(
    screen: Option<Screen>,
    outcome: Outcome,
    text: &str,
    time: Option<&str>,
) -> String {
    let line = match (screen, time) {
        (Some(screen), Some(time)) => {
            let room = screen.columns.saturating_sub(time.chars().count() + 1);
            let text = cut(text, room);
            let pad = room - text.chars().count() + 1;
            format!("{text}{:pad$}{time}", "")
        }
        (Some(screen), None) => cut(text, screen.columns.saturating_sub(1)),
        (None, Some(time)) => format!("{text} {time}"),
        (None, None) => text.to_string(),
    };
    let styled = style(line).for_stderr();
    match outcome {
        Outcome::Done | Outcome::Cached => styled.blue(),
        Outcome::Error => styled.red(),
        Outcome::Canceled => styled.yellow(),
    }
    .to_string()
}

/// `text` cut to `width` characters, the last one an ellipsis when anything was cut.
pub(super) fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(width.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use super::{cut, step_line, Outcome, Screen};

    #[test]
    fn durations_align_at_the_right_edge_and_long_lines_are_cut() {
        console::set_colors_enabled_stderr(false);
        let screen = Some(Screen {
            rows: 20,
            columns: 30,
        });
        let short = step_line(screen, Outcome::Done, "=> [1/2] RUN a", Some("0.1s"));
        let long = step_line(
            screen,
            Outcome::Done,
            "=> [2/2] RUN a very long command line indeed",
            Some("12.3s"),
        );
        assert_eq!(short.chars().count(), 30, "{short:?}");
        assert!(short.ends_with(" 0.1s") && short.starts_with("=> [1/2] RUN a "));
        assert_eq!(long.chars().count(), 30, "{long:?}");
        assert!(long.ends_with("… 12.3s"), "{long:?}");
        let piped = step_line(None, Outcome::Cached, "=> CACHED [1/2] RUN a", None);
        assert_eq!(piped, "=> CACHED [1/2] RUN a");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }

    #[test]
    fn eight_steps_fit_a_twenty_row_terminal() {
        let screen = Screen {
            rows: 20,
            columns: 80,
        };
        let tails = screen.tail_lines(8, 0, 6);
        assert!(1 + 8 + 8 * tails < 20, "{tails}");
        assert_eq!(screen.tail_lines(1, 0, 6), 6);
        assert_eq!(screen.tail_lines(30, 0, 6), 0);
    }
}
