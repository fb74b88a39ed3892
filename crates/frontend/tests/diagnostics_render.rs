//! Rendering of diagnostics, rustc style: header, location, source line, carets, label, help.

use skiff_frontend::diagnostics::{render, render_with, Style};
use skiff_frontend::graph::{self, PlanOptions};
use skiff_frontend::{Diagnostic, Span};

/// The first frontend error for `source`, as `skiff build --dry-run` would meet it.
fn first_error(source: &str, target: Option<&str>) -> Diagnostic {
    let dockerfile = skiff_frontend::parse(source).expect("parses");
    let options = PlanOptions {
        target: target.map(str::to_string),
        ..PlanOptions::default()
    };
    graph::plan(&dockerfile, &options).expect_err("fails")
}

#[test]
fn unknown_instruction_renders_with_caret_and_help() {
    let src = "FROM alpine\nFORM alpine\n";
    let text = render(&first_error(src, None), "Dockerfile", src);
    assert_eq!(
        text,
        "\
error: unknown instruction: FORM
 --> Dockerfile:2:1
  |
2 | FORM alpine
  | ^^^^ not a Dockerfile instruction
  |
  = help: did you mean FROM?
"
    );
}

#[test]
fn misspelled_copy_from_points_at_the_stage_name() {
    let mut src = String::from("FROM golang:1.22-alpine AS builder\n");
    for _ in 0..8 {
        src.push_str("RUN true\n");
    }
    src.push_str("FROM scratch\nCOPY --from=bulid /out/server /server\n");
    let text = render(&first_error(&src, None), "Dockerfile", &src);
    assert_eq!(
        text,
        "\
error: stage \"bulid\" not found
  --> Dockerfile:11:13
   |
11 | COPY --from=bulid /out/server /server
   |             ^^^^^ no stage has this name; it would be pulled as an image
   |
   = help: did you mean \"builder\"? (to use an image of that name, write its full reference, e.g. docker.io/library/bulid)
"
    );
}

#[test]
fn errors_without_a_span_show_message_and_help() {
    let src = "FROM alpine AS builder\nFROM scratch\n";
    let text = render(&first_error(src, Some("bulid")), "Dockerfile", src);
    assert_eq!(
        text,
        "error: target stage \"bulid\" could not be found\n  = help: did you mean \"builder\"?\n"
    );
}

#[test]
fn warnings_and_labels_without_span() {
    let d = Diagnostic::warning("something odd", None).with_label("look here");
    assert_eq!(
        render(&d, "Dockerfile", ""),
        "warning: something odd\n  = look here\n"
    );
}

#[test]
fn tabs_are_kept_so_carets_line_up() {
    let src = "FROM alpine\n\tRUN --networ=none x\n";
    let d = Diagnostic::error(
        "unknown flag: networ",
        Some(Span {
            start: 19,
            end: 25,
            line: 2,
            column: 8,
        }),
    );
    let text = render(&d, "Dockerfile", src);
    assert!(
        text.contains("2 | \tRUN --networ=none x\n  | \t      ^^^^^^\n"),
        "{text}"
    );
}

#[test]
fn spans_over_several_lines_are_underlined_to_the_end_of_the_first() {
    let src = "RUN a \\\n  b\n";
    let d = Diagnostic::error(
        "bad",
        Some(Span {
            start: 4,
            end: 11,
            line: 1,
            column: 5,
        }),
    );
    assert!(render(&d, "Dockerfile", src).contains("1 | RUN a \\\n  |     ^^^\n"));
}

#[test]
fn empty_spans_get_one_caret_and_colour_is_optional() {
    let src = "ENV =x\n";
    let d = Diagnostic::error(
        "ENV names can not be blank",
        Some(Span {
            start: 4,
            end: 4,
            line: 1,
            column: 5,
        }),
    );
    assert!(render(&d, "f", src).contains("  |     ^\n"));
    let coloured = render_with(&d, "f", src, Style::Color);
    assert!(coloured.starts_with("\u{1b}[1;31merror\u{1b}[0m"));
    assert!(!render(&d, "f", src).contains('\u{1b}'));
}

#[test]
fn a_span_at_the_end_of_a_crlf_line_still_renders() {
    let src = "FROM alpine\r\nRUN x\r\n";
    let d = Diagnostic::error(
        "at the end",
        Some(Span {
            start: 12,
            end: 13,
            line: 1,
            column: 13,
        }),
    );
    assert!(render(&d, "Dockerfile", src).contains("1 | FROM alpine\n  |             ^\n"));
}
