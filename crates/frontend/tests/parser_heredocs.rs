//! Here-documents on RUN/COPY/ADD through the public parser: bodies, expansion, chomping,
//! file descriptors, several per line, JSON form, ONBUILD and the unterminated error.
//! The main scenario follows BuildKit's `TestParseExtractsHeredoc`.

use skiff_frontend::ast::Heredoc;
use skiff_frontend::dump::dump;
use skiff_frontend::parse;

/// `(name, content, expand, chomp, fd)` of every heredoc of every instruction.
type Summary = Vec<(String, String, bool, bool, Option<u32>)>;

fn summary(heredocs: &[Heredoc]) -> Summary {
    heredocs
        .iter()
        .map(|h| {
            (
                h.name.clone(),
                h.content.clone(),
                h.expand,
                h.chomp,
                h.file_descriptor,
            )
        })
        .collect()
}

fn doc(
    name: &str,
    content: &str,
    expand: bool,
    chomp: bool,
    fd: Option<u32>,
) -> (String, String, bool, bool, Option<u32>) {
    (name.into(), content.into(), expand, chomp, fd)
}

const BUILDKIT_SCENARIO: &str = "
FROM alpine:3.6

ENV NAME=me

RUN ls

USER <<INVALID
INVALID

RUN <<EMPTY
EMPTY

RUN 3<<EMPTY2
EMPTY2

RUN \"<<NOHEREDOC\"

RUN <<INDENT
\tfoo
\tbar
INDENT

RUN <<-UNINDENT
\tbaz
\tquux
UNINDENT

RUN <<-UNINDENT2
\tbaz
\tquux
\tUNINDENT2

RUN <<-EXPAND
\texpand $NAME
EXPAND

RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND

RUN <<COPY
echo hello world
echo foo bar
COPY

RUN <<COMMENT
# internal comment
echo hello world
echo foo bar # trailing comment
COMMENT

RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT

COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2

COPY <<X <<Y /dest
Y
X
X
Y
\t";

#[test]
fn buildkit_heredoc_scenario() {
    let dockerfile = parse(BUILDKIT_SCENARIO).unwrap();
    let got: Vec<Summary> = dockerfile.instructions[1..]
        .iter()
        .map(|i| summary(&i.heredocs))
        .collect();
    let want: Vec<Summary> = vec![
        vec![], // ENV NAME=me
        vec![], // RUN ls
        vec![], // USER <<INVALID (not a heredoc instruction)
        vec![], // INVALID (an unknown instruction)
        vec![doc("EMPTY", "", true, false, None)],
        vec![doc("EMPTY2", "", true, false, Some(3))],
        vec![], // RUN "<<NOHEREDOC"
        vec![doc("INDENT", "\tfoo\n\tbar\n", true, false, None)],
        vec![doc("UNINDENT", "\tbaz\n\tquux\n", true, true, None)],
        vec![doc("UNINDENT2", "\tbaz\n\tquux\n", true, true, None)],
        vec![doc("EXPAND", "\texpand $NAME\n", true, true, None)],
        vec![doc("NOEXPAND", "\tdon't expand $NAME\n", false, true, None)],
        vec![doc(
            "COPY",
            "echo hello world\necho foo bar\n",
            true,
            false,
            None,
        )],
        vec![doc(
            "COMMENT",
            "# internal comment\necho hello world\necho foo bar # trailing comment\n",
            true,
            false,
            None,
        )],
        vec![doc("MOUNT", "echo hello\n", true, false, None)],
        vec![
            doc("FILE1", "content 1\n", true, false, None),
            doc("FILE2", "content 2\n", true, false, None),
        ],
        vec![
            doc("X", "Y\n", true, false, None),
            doc("Y", "X\n", true, false, None),
        ],
    ];
    assert_eq!(got, want);
}

#[test]
fn bodies_do_not_appear_in_the_dump_and_lines_cover_them() {
    let dockerfile =
        parse("FROM a\nRUN <<EOF python3\nprint(1)\nEOF\nRUN <<\"X\" <<'Y'\nx\nX\ny\nY\n").unwrap();
    assert_eq!(
        dump(&dockerfile),
        "(from \"a\")\n(run \"<<EOF python3\")\n(run \"<<\\\"X\\\" <<'Y'\")\n"
    );
    let run = &dockerfile.instructions[1];
    assert_eq!((run.start_line, run.end_line), (2, 4));
    assert_eq!(
        &dockerfile.source[run.span.start..run.span.end],
        "RUN <<EOF python3\nprint(1)\nEOF"
    );
    let quoted = &dockerfile.instructions[2];
    assert_eq!((quoted.start_line, quoted.end_line), (5, 9));
    assert!(quoted.heredocs.iter().all(|h| !h.expand));
}

#[test]
fn heredoc_spans_point_at_the_delimiter_word() {
    let dockerfile = parse("FROM a\nRUN cat 3<<-EOF >out\n\tx\n\tEOF\n").unwrap();
    let heredoc = &dockerfile.instructions[1].heredocs[0];
    assert_eq!(
        &dockerfile.source[heredoc.span.start..heredoc.span.end],
        "3<<-EOF"
    );
    assert_eq!((heredoc.span.line, heredoc.span.column), (2, 9));
    assert_eq!((heredoc.file_descriptor, heredoc.chomp), (Some(3), true));
}

#[test]
fn partly_quoted_delimiters_disable_expansion() {
    let dockerfile = parse("FROM a\nRUN <<E\"O\"F\n$x\nEOF\nRUN <<\\EOF\n$x\nEOF\n").unwrap();
    let first = &dockerfile.instructions[1].heredocs[0];
    assert_eq!((first.name.as_str(), first.expand), ("EOF", false));
    // An escaped (unquoted) delimiter keeps its backslash and still expands, as in BuildKit.
    let second = &dockerfile.instructions[2].heredocs[0];
    assert_eq!((second.name.as_str(), second.expand), ("EOF", true));
}

#[test]
fn json_form_has_no_heredocs() {
    let dockerfile = parse("FROM a\nRUN [\"<<EOF\"]\nRUN [\"<<'EOF'\"]\n").unwrap();
    assert!(dockerfile
        .instructions
        .iter()
        .all(|i| i.heredocs.is_empty()));
    assert_eq!(dockerfile.instructions.len(), 3);
}

#[test]
fn onbuild_run_can_carry_a_heredoc() {
    let dockerfile = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n").unwrap();
    let onbuild = &dockerfile.instructions[1];
    assert_eq!(
        summary(&onbuild.heredocs),
        vec![doc("EOF", "echo hi\n", true, false, None)]
    );
    let nested = onbuild.onbuild.as_deref().expect("nested RUN");
    assert_eq!(nested.heredocs, onbuild.heredocs);
    assert_eq!(
        dump(&dockerfile),
        "(from \"a\")\n(onbuild (run \"<<EOF\"))\n"
    );
}

#[test]
fn crlf_bodies_keep_their_line_endings() {
    let dockerfile = parse("FROM a\r\nRUN <<EOF\r\nline\r\nEOF\r\nRUN true\r\n").unwrap();
    assert_eq!(dockerfile.instructions[1].heredocs[0].content, "line\r\n");
    assert_eq!(dockerfile.instructions.len(), 3);
}

#[test]
fn unterminated_heredoc_is_an_error_at_its_delimiter() {
    let err = parse("FROM a\nRUN <<EOF\necho hi\n").unwrap_err();
    assert_eq!(err.message, "unterminated heredoc");
    let span = err.span.expect("span");
    assert_eq!((span.line, span.column, span.end - span.start), (2, 5, 5));
    assert!(err.hint.unwrap_or_default().contains("`EOF`"));

    // The second of two heredocs is missing its terminator.
    let err = parse("FROM a\nCOPY <<A <<B /d\na\nA\nb\n").unwrap_err();
    assert_eq!(err.message, "unterminated heredoc");
    assert_eq!(err.span.map(|s| s.column), Some(10));
}

#[test]
fn a_line_that_does_not_lex_has_no_heredocs() {
    let dockerfile = parse("FROM a\nRUN <<EOF echo \"unterminated\nRUN true\n").unwrap();
    assert!(dockerfile.instructions[1].heredocs.is_empty());
    assert_eq!(dockerfile.instructions.len(), 3);
}
