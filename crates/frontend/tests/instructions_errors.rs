//! Every instruction error through the public API (`parse` then `parse_instructions`):
//! BuildKit's message, the exact span and the did-you-mean hint.

use skiff_frontend::instructions::parse_instructions;
use skiff_frontend::Diagnostic;

/// The first error of `source`, from the parser or the instruction checks.
fn error(source: &str) -> Diagnostic {
    let dockerfile = match skiff_frontend::parse(source) {
        Ok(d) => d,
        Err(e) => return e,
    };
    parse_instructions(&dockerfile).expect_err("the instructions are refused")
}

/// Message, text under the span, and `line:column` of an error.
fn check(source: &str, message: &str, spanned: &str, line_col: (usize, usize)) -> Diagnostic {
    let e = error(source);
    assert_eq!(e.message, message, "message for {source:?}");
    let span = e.span.expect("the error has a span");
    assert_eq!(
        &source[span.start..span.end],
        spanned,
        "span for {source:?}"
    );
    assert_eq!(
        (span.line, span.column),
        line_col,
        "position for {source:?}"
    );
    e
}

#[test]
fn unknown_instruction_suggests_the_closest() {
    let e = check(
        "FROM alpine\nFORM alpine\n",
        "unknown instruction: FORM",
        "FORM",
        (2, 1),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean FROM?"));
    let e = error("FROM alpine\nFLUMBLE x\n");
    assert!(e
        .hint
        .unwrap()
        .starts_with("instructions are ADD, ARG, CMD"));
}

#[test]
fn unknown_flag_suggests_the_closest() {
    let e = check(
        "FROM alpine\nCOPY --chwon=1:1 a /b\n",
        "unknown flag: chwon",
        "chwon",
        (2, 8),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean --chown?"));
    let e = check(
        "FROM alpine\nRUN --networ=none true\n",
        "unknown flag: networ",
        "networ",
        (2, 7),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean --network?"));
    let e = error("FROM alpine\nUSER --x=1 bob\n");
    assert_eq!(e.message, "unknown flag: x");
    assert_eq!(e.hint.as_deref(), Some("USER takes no flags"));
    let e = error("FROM alpine\nADD --from=x a /b\n");
    assert_eq!(e.message, "unknown flag: from");
    assert!(e.hint.unwrap().starts_with("ADD takes --chown, --chmod"));
}

#[test]
fn flag_values_are_checked() {
    check(
        "FROM alpine\nCOPY --chmod=64a a /b\n",
        "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777",
        "64a",
        (2, 14),
    );
    check(
        "FROM alpine\nADD --chmod=10000 a /b\n",
        "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777",
        "10000",
        (2, 13),
    );
    check(
        "FROM alpine\nCOPY --link=yes a /b\n",
        "expecting boolean value for flag link, not: yes",
        "yes",
        (2, 13),
    );
    check(
        "FROM alpine\nCOPY --from a /b\n",
        "missing a value on flag: from",
        "--from",
        (2, 6),
    );
    let e = check(
        "FROM alpine\nCOPY --from=a --from=b a /b\n",
        "duplicate flag specified: from",
        "--from=b",
        (2, 15),
    );
    assert_eq!(e.hint.as_deref(), Some("give --from only once"));
    check(
        "FROM alpine\nCOPY --from=$STAGE a /b\n",
        "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
        "$STAGE",
        (2, 13),
    );
    check(
        "FROM alpine\nADD --checksum=sha256:0 a b /c\n",
        "checksum can't be specified for multiple sources",
        "sha256:0",
        (2, 16),
    );
}

#[test]
fn run_network_and_security_values() {
    let e = check(
        "FROM alpine\nRUN --network=hots true\n",
        "invalid network mode \"hots\"",
        "hots",
        (2, 15),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean \"host\"?"));
    let e = check(
        "FROM alpine\nRUN --security=unsafe true\n",
        "security \"unsafe\" is not valid",
        "unsafe",
        (2, 16),
    );
    assert_eq!(e.hint.as_deref(), Some("use one of: sandbox, insecure"));
}

#[test]
fn mount_keys_and_types() {
    let e = check(
        "FROM alpine\nRUN --mount=type=cache,targt=/root/.cache true\n",
        "unexpected key 'targt' in 'targt=/root/.cache'",
        "targt",
        (2, 24),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean \"target\"?"));
    let e = check(
        "FROM alpine\nRUN --mount=type=cahce,target=/c true\n",
        "unsupported mount type \"cahce\"",
        "cahce",
        (2, 18),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean \"cache\"?"));
    let e = check(
        "FROM alpine\nRUN --mount=type=cache,target=/c,sharing=lockd true\n",
        "unsupported sharing value \"lockd\"",
        "lockd",
        (2, 42),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean \"locked\"?"));
    check(
        "FROM alpine\nRUN --mount=type=cache,target=/c,required true\n",
        "unexpected key 'required' for mount type 'cache'",
        "required",
        (2, 34),
    );
    check(
        "FROM alpine\nRUN --mount=type=cache,target=/c,size=1m true\n",
        "unexpected key 'size' for mount type 'cache'",
        "size=1m",
        (2, 34),
    );
    check(
        "FROM alpine\nRUN --mount=target true\n",
        "invalid field 'target' must be a key=value pair",
        "target",
        (2, 13),
    );
    check(
        "FROM alpine\nRUN --mount=type=cache,target=/c,mode=abc true\n",
        "invalid value abc for mode",
        "abc",
        (2, 39),
    );
    check(
        "FROM alpine\nRUN --mount=type=cache,target=/c,uid=me true\n",
        "invalid value me for uid",
        "me",
        (2, 38),
    );
    check(
        "FROM alpine\nRUN --mount=type=tmpfs,target=/t,size=big true\n",
        "invalid value for size: big",
        "big",
        (2, 39),
    );
    check(
        "FROM alpine\nRUN --mount=target=/x,ro=maybe true\n",
        "invalid value for ro: maybe",
        "maybe",
        (2, 26),
    );
    check(
        "FROM alpine\nRUN --mount=from=$X,target=/x true\n",
        "'from' doesn't support variable expansion, define alias stage instead",
        "$X",
        (2, 18),
    );
    check(
        "FROM alpine\nRUN --mount=type=bind,target=/x,uid=1 true\n",
        "uid not allowed for \"bind\" type mounts",
        "--mount=type=bind,target=/x,uid=1",
        (2, 5),
    );
    check(
        "FROM alpine\nRUN --mount=type=secret,id=a,from=b true\n",
        "secret mount should not have a from",
        "--mount=type=secret,id=a,from=b",
        (2, 5),
    );
    check(
        "FROM alpine\nRUN --mount=type=secret true\n",
        "invalid secret mount. one of source, target required",
        "--mount=type=secret",
        (2, 5),
    );
    check(
        "FROM alpine\nRUN --mount=type=secret,id=a,src=b true\n",
        "both source and id can't be set",
        "--mount=type=secret,id=a,src=b",
        (2, 5),
    );
    check(
        "FROM alpine\nRUN --mount=type=bind,target=/x,sharing=locked true\n",
        "invalid cache sharing set for bind mount",
        "--mount=type=bind,target=/x,sharing=locked",
        (2, 5),
    );
}

#[test]
fn device_options() {
    let e = check(
        "FROM alpine\nRUN --device=gpu,requird=true x\n",
        "unexpected key 'requird' in 'requird=true'",
        "requird=true",
        (2, 18),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean \"required\"?"));
    check(
        "FROM alpine\nRUN --device=a,name=b x\n",
        "device name already set to a",
        "name=b",
        (2, 16),
    );
    check(
        "FROM alpine\nRUN --device=required x\n",
        "device name is required",
        "required",
        (2, 14),
    );
}

#[test]
fn missing_arguments() {
    check(
        "FROM alpine\nCOPY onlyone\n",
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        "COPY",
        (2, 1),
    );
    check(
        "FROM alpine\nADD x\n",
        "ADD requires at least two arguments, but only one was provided. Destination could not be determined",
        "ADD",
        (2, 1),
    );
    check(
        "FROM alpine\nEXPOSE\n",
        "EXPOSE requires at least one argument",
        "EXPOSE",
        (2, 1),
    );
    check(
        "FROM alpine\nVOLUME\n",
        "VOLUME requires at least one argument",
        "VOLUME",
        (2, 1),
    );
    check(
        "FROM alpine\nARG\n",
        "ARG requires at least one argument",
        "ARG",
        (2, 1),
    );
    check(
        "FROM alpine\nENV\n",
        "ENV requires at least one argument",
        "ENV",
        (2, 1),
    );
    check(
        "FROM alpine\nLABEL\n",
        "LABEL requires at least one argument",
        "LABEL",
        (2, 1),
    );
    check(
        "FROM alpine\nONBUILD\n",
        "ONBUILD requires at least one argument",
        "ONBUILD",
        (2, 1),
    );
    check(
        "FROM alpine\nHEALTHCHECK\n",
        "HEALTHCHECK requires at least one argument",
        "HEALTHCHECK",
        (2, 1),
    );
    check(
        "FROM alpine\nWORKDIR\n",
        "WORKDIR requires exactly one argument",
        "WORKDIR",
        (2, 1),
    );
    check(
        "FROM alpine\nSTOPSIGNAL\n",
        "STOPSIGNAL requires exactly one argument",
        "STOPSIGNAL",
        (2, 1),
    );
    check(
        "FROM alpine\nMAINTAINER\n",
        "MAINTAINER requires exactly one argument",
        "MAINTAINER",
        (2, 1),
    );
    check(
        "FROM alpine\nSHELL\n",
        "SHELL requires at least one argument",
        "SHELL",
        (2, 1),
    );
    check(
        "FROM alpine\nARG =x\n",
        "ARG names can not be blank",
        "=x",
        (2, 5),
    );
    check(
        "FROM alpine\nCOPY a <<EOF\nx\nEOF\n",
        "COPY cannot accept a heredoc as a destination",
        "<<EOF",
        (2, 8),
    );
}

#[test]
fn env_and_label_syntax() {
    check(
        "FROM alpine\nENV PATH\n",
        "ENV must have two arguments",
        "PATH",
        (2, 5),
    );
    check(
        "FROM alpine\nLABEL a=1 b\n",
        "Syntax error - can't find = in \"b\". Must be of the form: name=value",
        "b",
        (2, 11),
    );
    check(
        "FROM alpine\nENV =x\n",
        "ENV names can not be blank",
        "",
        (2, 5),
    );
}

#[test]
fn from_arguments_and_stage_names() {
    let e = check(
        "FROM alpine AZ builder\n",
        "FROM requires either one or three arguments",
        "AZ",
        (1, 13),
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean AS? write FROM alpine AS builder")
    );
    let e = check(
        "FROM alpine AS\n",
        "FROM requires either one or three arguments",
        "AS",
        (1, 13),
    );
    assert_eq!(e.label.as_deref(), Some("stage name missing after AS"));
    check(
        "FROM alpine AS b extra\n",
        "FROM requires either one or three arguments",
        "extra",
        (1, 18),
    );
    check(
        "FROM\n",
        "FROM requires either one or three arguments",
        "FROM",
        (1, 1),
    );
    check(
        "FROM alpine AS 1st\n",
        "invalid name for build stage: \"1st\", name can't start with a number or contain symbols",
        "1st",
        (1, 16),
    );
    check(
        "FROM alpine AS my/stage\n",
        "invalid name for build stage: \"my/stage\", name can't start with a number or contain symbols",
        "my/stage",
        (1, 16),
    );
    check(
        "FROM --platfrom=linux/amd64 alpine\n",
        "unknown flag: platfrom",
        "platfrom",
        (1, 8),
    );
}

#[test]
fn healthcheck_errors() {
    check(
        "FROM alpine\nHEALTHCHECK NONE x\n",
        "HEALTHCHECK NONE takes no arguments",
        "x",
        (2, 18),
    );
    let e = check(
        "FROM alpine\nHEALTHCHECK CDM true\n",
        "Unknown type \"CDM\" in HEALTHCHECK (try CMD)",
        "CDM",
        (2, 13),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean CMD?"));
    check(
        "FROM alpine\nHEALTHCHECK --interval=5x CMD true\n",
        "time: invalid duration \"5x\"",
        "5x",
        (2, 24),
    );
    check(
        "FROM alpine\nHEALTHCHECK --timeout=10us CMD true\n",
        "Interval \"timeout\" cannot be less than 1ms",
        "10us",
        (2, 23),
    );
    check(
        "FROM alpine\nHEALTHCHECK --retries=-1 CMD true\n",
        "--retries cannot be negative (-1)",
        "-1",
        (2, 23),
    );
    check(
        "FROM alpine\nHEALTHCHECK --retries=x CMD true\n",
        "strconv.ParseInt: parsing \"x\": invalid syntax",
        "x",
        (2, 23),
    );
    check(
        "FROM alpine\nHEALTHCHECK --start-perod=1s CMD true\n",
        "unknown flag: start-perod",
        "start-perod",
        (2, 15),
    );
}

#[test]
fn onbuild_triggers() {
    check(
        "FROM alpine\nONBUILD ONBUILD RUN x\n",
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        "ONBUILD",
        (2, 9),
    );
    check(
        "FROM alpine\nONBUILD FROM alpine\n",
        "FROM isn't allowed as an ONBUILD trigger",
        "FROM",
        (2, 9),
    );
    check(
        "FROM alpine\nONBUILD maintainer me\n",
        "MAINTAINER isn't allowed as an ONBUILD trigger",
        "maintainer",
        (2, 9),
    );
    check(
        "FROM alpine\nONBUILD COPY --chwon=1 a b\n",
        "unknown flag: chwon",
        "chwon",
        (2, 16),
    );
}

#[test]
fn other_values() {
    let e = check(
        "FROM alpine\nSTOPSIGNAL SIGTREM\n",
        "Invalid signal: SIGTREM",
        "SIGTREM",
        (2, 12),
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean SIGTERM?"));
    check(
        "FROM alpine\nSTOPSIGNAL 0\n",
        "Invalid signal: 0",
        "0",
        (2, 12),
    );
    let e = check(
        "FROM alpine\nSHELL /bin/bash -c\n",
        "SHELL requires the arguments to be in JSON form",
        "SHELL",
        (2, 1),
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("write SHELL [\"/bin/bash\", \"-c\"]")
    );
    check(
        "FROM alpine\nEXPOSE 80/tpc\n",
        "invalid proto: tpc",
        "80/tpc",
        (2, 8),
    );
    check(
        "FROM alpine\nEXPOSE http\n",
        "invalid containerPort: http",
        "http",
        (2, 8),
    );
    check(
        "FROM alpine\nVOLUME [\"\"]\n",
        "VOLUME specified can not be an empty string",
        "\"\"",
        (2, 9),
    );
}
