//! Running a program a test needs to succeed (`skiff images`, skopeo, git, …), where a
//! failure is a broken test or setup: one call that says which command failed and what it
//! printed, instead of an `assert!` on the exit status after every call.

use std::process::{Command, Output};

/// Runs `cmd`, which must exit 0, and returns its output; panics with the command, its exit
/// status, stdout and stderr otherwise.
pub fn output_ok(cmd: &mut Command) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} could not be started: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// [`output_ok`] for a command whose stdout is text: returns it (panics when it is not UTF-8).
pub fn run_ok(cmd: &mut Command) -> String {
    let stdout = output_ok(cmd).stdout;
    String::from_utf8(stdout)
        .unwrap_or_else(|e| panic!("{cmd:?} printed something that is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ok_returns_stdout() {
        assert_eq!(run_ok(Command::new("echo").arg("hi")), "hi\n");
    }

    #[test]
    #[should_panic(expected = "--- stderr\nwhy it failed")]
    fn a_failing_command_panics_with_what_it_printed() {
        output_ok(Command::new("sh").args(["-c", "echo why it failed >&2; exit 3"]));
    }
}
