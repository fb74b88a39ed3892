//! A real terminal for tests of the TTY view: a command run in a detached tmux session of a
//! given size (tmux is the terminal emulator, so what a test reads is what a person would
//! see, scrollback included), with keys sent to it (Ctrl-C). Each terminal has its own tmux
//! server socket, so tests running at once never see each other's sessions.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A command running in a tmux pane of `rows` × `columns`; the session ends when dropped.
pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts `command` (argv, shell-quoted here) in a `rows` × `columns` terminal with
    /// `TERM=xterm-256color` and the variables of `env`. When the command ends, the pane
    /// shows `[exit N]` and stays open for reading.
    pub fn start(command: &[String], rows: u16, columns: u16, env: &[(&str, &str)]) -> Terminal {
        let socket = format!(
            "skiff-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let mut script: String = env
            .iter()
            .map(|(k, v)| format!("export {k}={}; ", quote(v)))
            .collect();
        script.push_str(
            &command
                .iter()
                .map(|w| quote(w))
                .collect::<Vec<_>>()
                .join(" "),
        );
        script.push_str("; echo \"[exit $?]\"; sleep 3600");
        let terminal = Terminal { socket };
        let (rows, columns) = (rows.to_string(), columns.to_string());
        let out = terminal.tmux(&[
            "new-session",
            "-d",
            "-x",
            &columns,
            "-y",
            &rows,
            // bash, not sh: it goes on after a child that handled Ctrl-C and exited.
            "bash",
            "-c",
            &script,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        terminal
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .expect("running tmux")
    }

    /// The visible screen, one string per row (trailing spaces trimmed).
    pub fn screen(&self) -> Vec<String> {
        self.capture(&["-p"])
    }

    /// The scrollback and the screen, as text.
    pub fn history(&self) -> Vec<String> {
        self.capture(&["-p", "-S", "-"])
    }

    /// The scrollback and the screen with the colour escape sequences kept.
    pub fn history_with_escapes(&self) -> Vec<String> {
        self.capture(&["-p", "-e", "-S", "-"])
    }

    fn capture(&self, flags: &[&str]) -> Vec<String> {
        let mut args = vec!["capture-pane"];
        args.extend_from_slice(flags);
        let out = self.tmux(&args);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// Presses Ctrl-C.
    pub fn ctrl_c(&self) {
        self.tmux(&["send-keys", "C-c"]);
    }

    /// Waits until some screen row satisfies `found` (polling every 100 ms); the screen at
    /// that moment, or `None` after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        found: impl Fn(&[String]) -> bool,
    ) -> Option<Vec<String>> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let screen = self.screen();
            if found(&screen) {
                return Some(screen);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Waits for the command to end; its exit code (`None` after `timeout`).
    pub fn exit_code(&self, timeout: Duration) -> Option<i32> {
        let screen = self.wait_for(timeout, |rows| rows.iter().any(|r| exit_of(r).is_some()))?;
        screen.iter().find_map(|r| exit_of(r))
    }
}

fn exit_of(row: &str) -> Option<i32> {
    row.strip_prefix("[exit ")?.strip_suffix(']')?.parse().ok()
}

fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
