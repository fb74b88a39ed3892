//! The syntax tree the parser produces: BuildKit's `parser.Node`, with source spans.
//!
//! This is the contract between the parser and everything after it. It mirrors
//! BuildKit's node tree (keyword, flags, the `Next` chain of argument values, the
//! `json` attribute, heredocs, start/end lines) so the AST dump can be compared
//! byte for byte with BuildKit's corpus, and adds byte spans so every later error
//! can point at the exact place in the Dockerfile.

/// A region of the Dockerfile source: a byte range plus the 1-based line and column of its start.
///
/// `start..end` index into [`Dockerfile::source`]; `line`/`column` are where `start` is
/// (column counts characters, not bytes, starting at 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column (in characters) of `start`.
    pub column: usize,
}

/// A string taken from the source, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The value as BuildKit stores it in the node (quotes kept or removed as BuildKit does
    /// for that instruction).
    pub value: String,
    /// Where the value was written. For values assembled across continuation lines this
    /// covers the whole written range. A JSON element spans its literal with the quotes;
    /// a flag spans it as written (quotes included); values BuildKit invents have an empty
    /// span where they would be (the `""` separator of legacy `ENV k v` at the end of the
    /// value, and an unknown instruction's `""` spans all its arguments).
    pub span: Span,
}

/// One here-document attached to a RUN/COPY/ADD (`<<EOF … EOF`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, with quotes removed (`EOF` for `<<"EOF"`).
    pub name: String,
    /// The body, every line ending in `\n`, leading tabs kept even for `<<-`
    /// (chomping happens when the content is used, as in BuildKit).
    pub content: String,
    /// False when any part of the delimiter was quoted: the body is then not expanded.
    pub expand: bool,
    /// True for `<<-`: leading tabs are removed from each body line when used.
    pub chomp: bool,
    /// The file descriptor prefix (`3<<EOF` → `Some(3)`), `None` when absent
    /// (numbers beyond `u32` saturate at `u32::MAX`).
    pub file_descriptor: Option<u32>,
    /// The span of the `<<EOF` word on the instruction line.
    pub span: Span,
}

/// One instruction (BuildKit: a child of the root node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword as written, lowercased (`FROM`, `From` → `from`).
    pub keyword: String,
    /// Where the keyword was written.
    pub keyword_span: Span,
    /// Leading `--flags`, raw (`--mount=type=cache,target=/x`), quotes removed, in order.
    pub flags: Vec<Word>,
    /// BuildKit's `Next` chain: the argument values in the shape the instruction's
    /// line parser gives them (ENV/LABEL: `key, value, sep` triples; JSON forms: one per element).
    pub args: Vec<Word>,
    /// For `ONBUILD`: the nested instruction.
    pub onbuild: Option<Box<Instruction>>,
    /// True when the arguments were given in JSON (exec) form.
    pub json: bool,
    /// The instruction's text after joining continuation lines (BuildKit's `Original`).
    pub original: String,
    /// Here-documents, in the order their `<<` words appear. For `ONBUILD RUN <<EOF` they
    /// are on the ONBUILD instruction (where BuildKit puts them) and on the nested one.
    pub heredocs: Vec<Heredoc>,
    /// The whole instruction: from its keyword to the end of its last continuation line
    /// (heredoc bodies included).
    pub span: Span,
    /// 1-based first physical line (a nested ONBUILD instruction has its parent's lines).
    pub start_line: usize,
    /// 1-based last physical line (continuations and heredoc bodies included).
    pub end_line: usize,
}

/// A parser directive at the top of the file (`# syntax=…`, `# escape=…`, `# check=…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// The key, lowercased.
    pub name: String,
    /// The value, trimmed.
    pub value: String,
    /// The directive's line.
    pub span: Span,
}

/// A non-fatal finding of the parser (e.g. an empty continuation line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseWarning {
    /// BuildKit's message text, e.g. `Empty continuation line found in: RUN …`.
    pub message: String,
    /// Where it was found.
    pub span: Span,
}

/// A whole parsed Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dockerfile {
    /// The source text (BOM removed), which every [`Span`] indexes into.
    pub source: String,
    /// The escape character in force (`\` or `` ` ``).
    pub escape: char,
    /// Parser directives, in order.
    pub directives: Vec<Directive>,
    /// The instructions, in order.
    pub instructions: Vec<Instruction>,
    /// Parser warnings.
    pub warnings: Vec<ParseWarning>,
}
