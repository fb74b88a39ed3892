//! The stage graph through the public API: parse a Dockerfile, plan it, check stages,
//! groups, skipped stages and every reference error with its message and span.

use skiff_frontend::graph::{self, Base, DependencyKind, Plan, PlanOptions, Source};
use skiff_frontend::shell::Env;
use skiff_frontend::{Diagnostic, Severity};

fn plan_with(source: &str, options: &PlanOptions) -> Result<Plan, Diagnostic> {
    let dockerfile = skiff_frontend::parse(source).expect("the test Dockerfile parses");
    graph::plan(&dockerfile, options)
}

fn plan(source: &str) -> Plan {
    plan_with(source, &PlanOptions::default()).expect("plans")
}

fn target(source: &str, target: &str) -> Result<Plan, Diagnostic> {
    plan_with(
        source,
        &PlanOptions {
            target: Some(target.into()),
            ..PlanOptions::default()
        },
    )
}

fn error(source: &str) -> Diagnostic {
    plan_with(source, &PlanOptions::default()).expect_err("planning fails")
}

/// The text under a diagnostic's span.
fn spanned<'a>(source: &'a str, d: &Diagnostic) -> &'a str {
    let s = d.span.expect("the error has a span");
    &source[s.start..s.end]
}

const SEED_MINIMAL: &str = "\
# Stage 1: compile the binary with the full Go toolchain
FROM golang:1.22-alpine AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/server .
# Stage 2: ship only the binary
FROM scratch
COPY --from=builder /out/server /server
CMD [\"/server\"]
";

#[test]
fn seed_plans_builder_then_final() {
    let p = plan(SEED_MINIMAL);
    let order: Vec<_> = p.stages.iter().map(|s| s.label()).collect();
    assert_eq!(order, ["builder", "#1"]);
    assert_eq!(p.target, 1);
    assert_eq!(p.groups, vec![vec![0], vec![1]]);
    assert!(p.skipped.is_empty());
    assert_eq!(p.stages[0].base, Base::Image("golang:1.22-alpine".into()));
    assert_eq!(p.stages[1].base, Base::Scratch);
    let dep = &p.stages[1].deps[0];
    assert_eq!(
        (dep.stage, dep.kind, dep.span.line),
        (0, DependencyKind::CopyFrom, 10)
    );
    assert_eq!(p.stages[0].instructions.len(), 5);
    assert_eq!(p.source("BUILDER", false), Source::Stage(0));
    assert_eq!(p.source("0", false), Source::Stage(0));
    assert_eq!(p.source("0", true), Source::Image("0".into()));
    assert_eq!(p.source("alpine", false), Source::Image("alpine".into()));
}

#[test]
fn unknown_target_suggests_the_closest_stage() {
    let e = target(SEED_MINIMAL, "bulid").expect_err("no such target");
    assert_eq!(e.message, "target stage \"bulid\" could not be found");
    assert_eq!(e.hint.as_deref(), Some("did you mean \"builder\"?"));
    assert_eq!(e.span, None);
    let e = target(SEED_MINIMAL, "zzz").expect_err("no such target");
    assert_eq!(e.hint.as_deref(), Some("the stages are named: builder"));
}

#[test]
fn target_keeps_only_needed_stages_and_says_why_others_are_skipped() {
    let src = "\
FROM alpine AS base
FROM base AS deps
FROM alpine AS tools
FROM golang AS build
COPY --from=deps /a /a
FROM build AS test
FROM scratch AS final
COPY --from=build /out /out
";
    let p = target(src, "Final").expect("plans");
    let order: Vec<_> = p.stages.iter().map(|s| s.index).collect();
    assert_eq!(order, [0, 1, 3, 5]);
    assert_eq!(p.target, 5);
    assert_eq!(p.groups, vec![vec![0], vec![1], vec![3], vec![5]]);
    let skipped: Vec<_> = p
        .skipped
        .iter()
        .map(|s| (s.index, s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (2, "the target stage \"final\" does not depend on it"),
            (4, "the target stage \"final\" does not depend on it"),
        ]
    );
}

#[test]
fn independent_stages_form_parallel_groups() {
    let src = "\
FROM golang AS backend
FROM node AS frontend
FROM alpine AS docs
FROM backend AS tested
FROM scratch
COPY --from=tested /bin/app /app
COPY --from=frontend /dist /www
RUN --mount=from=docs,target=/d true
";
    let p = plan(src);
    assert_eq!(p.groups, vec![vec![0, 1, 2], vec![3], vec![4]]);
    let kinds: Vec<_> = p.stages[4].deps.iter().map(|d| (d.stage, d.kind)).collect();
    assert_eq!(
        kinds,
        [
            (3, DependencyKind::CopyFrom),
            (1, DependencyKind::CopyFrom),
            (2, DependencyKind::MountFrom)
        ]
    );
    assert_eq!(p.stages[3].deps[0].kind, DependencyKind::Base);
    assert_eq!(p.stages[3].base, Base::Stage(0));
}

#[test]
fn copy_from_a_later_stage_is_an_error() {
    let src = "FROM alpine AS app\nCOPY --from=assets /a /a\nFROM alpine AS assets\n";
    let e = error(src);
    assert_eq!(
        e.message,
        "cannot copy from stage \"assets\", it needs to be defined before current stage \"app\""
    );
    assert_eq!(spanned(src, &e), "assets");
    assert_eq!((e.span.unwrap().line, e.span.unwrap().column), (2, 13));
    assert_eq!(
        e.hint.as_deref(),
        Some("move stage \"assets\" above stage \"app\"")
    );
}

#[test]
fn a_stage_copying_from_itself_is_a_circular_dependency() {
    let src = "FROM alpine AS a\nCOPY --from=A /x /x\n";
    let e = error(src);
    assert_eq!(e.message, "circular dependency detected on stage: a");
    assert_eq!(spanned(src, &e), "A");
    assert_eq!(
        e.label.as_deref(),
        Some("stage \"a\" cannot copy from itself")
    );

    let src = "FROM alpine\nRUN --mount=from=0,target=/x true\nCOPY --from=0 /x /x\n";
    let e = error(src);
    assert_eq!(e.message, "circular dependency detected on stage: #0");
    assert_eq!(spanned(src, &e), "0");
    assert_eq!(e.span.unwrap().line, 3);
}

#[test]
fn a_cycle_is_reported_at_its_forward_edge() {
    let src = "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\n";
    let e = error(src);
    assert_eq!(
        e.message,
        "cannot copy from stage \"b\", it needs to be defined before current stage \"a\""
    );
    assert_eq!(
        e.label.as_deref(),
        Some("stage \"b\" is defined later and builds on \"a\": a circular dependency")
    );
    let src = "FROM alpine AS a\nRUN --mount=from=c,target=/c true\nFROM a AS c\n";
    let e = error(src);
    assert_eq!(
        e.message,
        "cannot mount from stage \"c\", it needs to be defined before current stage \"a\""
    );
    assert_eq!(spanned(src, &e), "c");
}

#[test]
fn stage_indexes_must_exist() {
    let src = "FROM alpine\nFROM alpine\nCOPY --from=7 /x /x\n";
    let e = error(src);
    assert_eq!(e.message, "invalid stage index 7");
    assert_eq!(spanned(src, &e), "7");
    let e = error("FROM alpine\nCOPY --from=-1 /x /x\n");
    assert_eq!(e.message, "invalid stage index -1");
}

#[test]
fn a_near_miss_of_a_stage_name_is_not_pulled_as_an_image() {
    let src = "FROM golang AS builder\nFROM scratch\nCOPY --from=bulid /out/server /server\n";
    let e = error(src);
    assert_eq!(e.message, "stage \"bulid\" not found");
    assert_eq!(spanned(src, &e), "bulid");
    assert_eq!((e.span.unwrap().line, e.span.unwrap().column), (3, 13));
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean \"builder\"? (to use an image of that name, write its full reference, e.g. docker.io/library/bulid)")
    );
    let src = "FROM golang AS builder\nRUN --mount=from=buidler,target=/b true\n";
    assert_eq!(error(src).message, "stage \"buidler\" not found");
}

#[test]
fn from_a_misspelled_stage_warns_and_pulls() {
    let src = "FROM golang AS builder\nFROM bulid\n";
    let p = plan(src);
    assert_eq!(p.stages[0].base, Base::Image("bulid".into()));
    let w = &p.warnings[0];
    assert_eq!(
        w.message,
        "FROM bulid: no earlier stage has this name, so it is pulled as an image"
    );
    assert_eq!(w.hint.as_deref(), Some("did you mean stage \"builder\"?"));
    assert_eq!(spanned(src, w), "bulid");
}

#[test]
fn prefixes_of_stage_names_are_deliberate_images() {
    let src = "FROM golang AS golang-builder\nFROM node AS nodes\nFROM scratch\nCOPY --from=golang /usr/local/go /go\nCOPY --from=node /n /n\n";
    let p = plan(src);
    assert_eq!(p.stages[0].images, ["golang", "node"]);
    assert!(p.warnings.is_empty());
}

#[test]
fn other_from_values_are_images() {
    let src = "FROM alpine AS alpha\nFROM scratch\nCOPY --from=alpine /x /x\nCOPY --from=docker.io/library/bulid /y /y\nRUN --mount=from=nginx:1,target=/n true\n";
    let p = plan(src);
    assert_eq!(p.stages.len(), 1);
    assert_eq!(
        p.stages[0].images,
        ["alpine", "docker.io/library/bulid", "nginx:1"]
    );
    assert_eq!(p.skipped.len(), 1);
}

#[test]
fn global_args_and_build_args_expand_from() {
    let src = "ARG GO=1.22\nARG BASE=golang:${GO}-alpine\nARG UNSET\nFROM --platform=$BUILDPLATFORM $BASE AS b\nARG GO\nFROM ${UNSET:-scratch}\nCOPY --from=b / /\n";
    let p = plan_with(
        src,
        &PlanOptions {
            build_args: [("GO", "1.23")].into_iter().collect(),
            automatic_args: graph::automatic_args(parts("amd64", None), parts("arm64", Some("v8"))),
            ..PlanOptions::default()
        },
    )
    .expect("plans");
    assert_eq!(p.stages[0].base_name, "golang:1.23-alpine");
    assert_eq!(p.stages[0].platform.as_deref(), Some("linux/amd64"));
    assert_eq!(p.stages[1].base, Base::Scratch);
    let globals: Vec<_> = p
        .global_args
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_deref()))
        .collect();
    assert_eq!(
        globals,
        [
            ("GO", Some("1.23")),
            ("BASE", Some("golang:1.23-alpine")),
            ("UNSET", None)
        ]
    );
    assert_eq!(p.global_env.get("TARGETVARIANT"), Some("v8"));
    assert_eq!(p.global_env.get("BUILDARCH"), Some("amd64"));
    assert_eq!(p.global_env.get("UNSET"), None);
}

#[test]
fn from_that_expands_to_nothing_is_an_error() {
    let src = "ARG IMAGE\nFROM $IMAGE\n";
    let e = error(src);
    assert_eq!(e.message, "base name ($IMAGE) should not be blank");
    assert_eq!(spanned(src, &e), "$IMAGE");
}

#[test]
fn only_arg_may_precede_the_first_from() {
    let src = "ARG A=1\nRUN true\nFROM alpine\n";
    let e = error(src);
    assert_eq!(e.message, "no build stage in current context");
    assert_eq!(spanned(src, &e), "RUN");
    assert_eq!(
        error("ARG A=1\n").message,
        "dockerfile contains no stages to build"
    );
}

#[test]
fn warnings_for_duplicate_names_and_from_a_later_stage() {
    let src = "FROM tools AS base\nFROM alpine AS tools\nFROM alpine AS Base\n";
    let p = plan(src);
    let messages: Vec<_> = p.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        ["FROM tools pulls the image \"tools\", not stage \"tools\" defined later"]
    );
    assert_eq!(p.stages.len(), 1);
    assert_eq!(p.target, 2);
    assert_eq!(p.source("base", false), Source::Stage(2));
}

#[test]
fn from_an_earlier_stage_binds_the_latest_definition_before_it() {
    let p = plan("FROM alpine AS x\nFROM busybox AS x\nFROM x\n");
    assert_eq!(p.stages.last().unwrap().base, Base::Stage(1));
    let self_named = plan("FROM alpine AS alpine\n");
    assert_eq!(self_named.stages[0].base, Base::Image("alpine".into()));
}

#[test]
fn stage_args_resolve_against_build_args_defaults_and_globals() {
    use skiff_frontend::instructions::Command;
    use skiff_frontend::shell::Lexer;
    let src = "ARG V=global\nARG W\nFROM alpine\nARG V W X=${V:-none}-x Y=${MISSING:?unset}\n";
    let p = plan_with(
        src,
        &PlanOptions {
            build_args: [("Y", "given")].into_iter().collect(),
            ..PlanOptions::default()
        },
    )
    .expect("plans");
    let Command::Arg(arg) = &p.stages[0].instructions[0].command else {
        panic!("an ARG");
    };
    let build_args: Env = [("Y", "given")].into_iter().collect();
    let values = arg
        .resolve(&Lexer::new('\\'), &Env::new(), &build_args, &p.global_env)
        .expect("resolves");
    let values: Vec<_> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(
        values,
        [
            ("V", Some("global")),
            ("W", None),
            ("X", Some("global-x")),
            ("Y", Some("given"))
        ]
    );
    let e = arg
        .resolve(&Lexer::new('\\'), &Env::new(), &Env::new(), &p.global_env)
        .expect_err("Y has no value");
    assert_eq!(
        e.message,
        "failed to process \"${MISSING:?unset}\": MISSING: unset"
    );
    assert_eq!(spanned(src, &e), "${MISSING:?unset}");
}

#[test]
fn onbuild_triggers_of_a_parent_stage_run_in_the_child() {
    use skiff_frontend::instructions::Command;
    let src = "FROM alpine AS assets\nFROM alpine AS base\nONBUILD COPY --from=assets /a /a\nFROM base AS app\nRUN true\nFROM alpine\nCOPY --from=app /a /a\n";
    let p = plan(src);
    let app = p.stage(2).expect("app is built");
    assert_eq!(app.triggers.len(), 1);
    assert!(matches!(app.triggers[0].command, Command::Copy(_)));
    let deps: Vec<_> = app.deps.iter().map(|d| (d.stage, d.kind)).collect();
    assert_eq!(
        deps,
        [(1, DependencyKind::Base), (0, DependencyKind::CopyFrom)]
    );
    assert!(p.stage(1).unwrap().deps.is_empty());
    assert_eq!(p.groups, vec![vec![0, 1], vec![2], vec![3]]);
}

#[test]
fn value_errors_in_stages_not_built_are_warnings_as_buildkit_never_checks_them() {
    let src = "FROM alpine AS broken\nCOPY --chmod=64a a /b\nRUN --mount=type=cahce,target=/c true\nFROM alpine AS ok\nEXPOSE 80\n";
    let p = plan(src);
    assert_eq!(p.target, 1);
    let warnings: Vec<_> = p
        .warnings
        .iter()
        .map(|w| (w.severity, w.message.as_str(), spanned(src, w)))
        .collect();
    assert_eq!(
        warnings,
        [
            (
                Severity::Warning,
                "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777",
                "64a"
            ),
            (
                Severity::Warning,
                "unsupported mount type \"cahce\"",
                "cahce"
            ),
        ]
    );
    assert_eq!(
        p.warnings[0].hint.as_deref(),
        Some("stage \"broken\" is not built for this target, so the build goes on; it fails when that stage is built")
    );
    let e = target(src, "broken").expect_err("the stage is built now");
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(spanned(src, &e), "64a");
}

#[test]
fn a_mount_with_a_bad_option_still_counts_its_from() {
    let src = "FROM alpine AS a\nRUN --mount=from=b,targt=/d true\nFROM alpine AS b\n";
    let e = target(src, "b").expect_err("a forward reference, even in a skipped stage");
    assert_eq!(
        e.message,
        "cannot mount from stage \"b\", it needs to be defined before current stage \"a\""
    );
    let src = "FROM alpine AS data\nFROM alpine AS user\nRUN --mount=from=data,targt=/d true\n";
    let e = error(src);
    assert_eq!(e.message, "unexpected key 'targt' in 'targt=/d'");
}

/// A linux platform's parts for the automatic args.
fn parts<'a>(arch: &'a str, variant: Option<&'a str>) -> graph::PlatformParts<'a> {
    graph::PlatformParts {
        os: "linux",
        arch,
        variant,
    }
}
