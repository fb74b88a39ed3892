//! Typing, planning, expanding and rendering never panic: over BuildKit's parser corpus and
//! over many pseudo-random Dockerfiles built from the flags, mount options and stage
//! references the instruction and graph code reads. Every error's span stays inside the source.

use skiff_frontend::diagnostics::render;
use skiff_frontend::graph::{self, PlanOptions};
use skiff_frontend::shell::{Env, Lexer};
use skiff_frontend::{Diagnostic, Dockerfile};
use std::path::PathBuf;

/// Instruction starts; each random line begins with one.
const KEYWORDS: &[&str] = &[
    "FROM ",
    "FROM a AS b",
    "FROM scratch AS x",
    "RUN ",
    "COPY ",
    "ADD ",
    "ARG ",
    "ENV ",
    "LABEL ",
    "EXPOSE ",
    "USER ",
    "WORKDIR ",
    "VOLUME ",
    "SHELL ",
    "STOPSIGNAL ",
    "HEALTHCHECK ",
    "ONBUILD ",
    "MAINTAINER ",
    "CMD ",
    "ENTRYPOINT ",
    "FORM ",
];

/// What follows the keyword: flags, mount options, stage references, odd values.
const PIECES: &[&str] = &[
    " AS ",
    " as ",
    "scratch",
    "--mount=",
    "--from=",
    "--chown=",
    "--chmod=",
    "--link",
    "--network=",
    "--security=",
    "--device=",
    "--interval=",
    "--retries=",
    "--platform=",
    "--exclude=",
    "--checksum=",
    "type=",
    "cache",
    "secret",
    "tmpfs",
    "bind",
    "ssh",
    "target=",
    "from=",
    "src=",
    "id=",
    "sharing=",
    "mode=",
    "uid=",
    "size=",
    "required",
    "ro",
    "rw=",
    "env=",
    ",",
    "=",
    "\"",
    "'",
    "$",
    "${A}",
    "${A:?x}",
    "0",
    "1",
    "-1",
    "99",
    "7777",
    "64a",
    "u+x",
    "1s",
    "NONE",
    "CMD",
    "80/tcp",
    "a-b",
    "<<EOF\nx\nEOF",
    "[\"x\"]",
    "[]",
    " ",
    " ",
    " ",
    "\t",
    "\\\n",
    "é",
    "a",
    "b",
    "x",
    "SIGTERM",
    "/x",
];

/// A small deterministic generator (64-bit LCG), so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

/// Plans `dockerfile` (a few targets), expands every instruction of every planned stage and
/// renders every diagnostic met on the way. Returns how many plans succeeded.
fn exercise(dockerfile: &Dockerfile) -> usize {
    let mut planned = 0;
    let check = |d: &Diagnostic| {
        if let Some(s) = d.span {
            assert!(
                s.start <= s.end && s.end <= dockerfile.source.len(),
                "span {s:?} outside the source: {d:?}\n{:?}",
                dockerfile.source
            );
        }
        render(d, "Dockerfile", &dockerfile.source);
    };
    let env: Env = [("A", "1 2"), ("B", "")].into_iter().collect();
    let lexer = Lexer::new(dockerfile.escape);
    for target in [None, Some("a"), Some("b"), Some("x")] {
        let options = PlanOptions {
            target: target.map(str::to_string),
            build_args: env.clone(),
            automatic_args: graph::automatic_args(parts("amd64", None), parts("arm64", None)),
            ..PlanOptions::default()
        };
        match graph::plan(dockerfile, &options) {
            Ok(plan) => {
                planned += 1;
                plan.warnings.iter().for_each(check);
                for stage in &plan.stages {
                    for t in &stage.instructions {
                        if let Err(e) = t.command.expand(&lexer, &env) {
                            check(&e);
                        }
                    }
                }
            }
            Err(e) => check(&e),
        }
    }
    planned
}

#[test]
fn random_dockerfiles_never_panic() {
    let mut rng = Lcg(0x5eed_9a9f);
    let mut planned = 0;
    for _ in 0..4000 {
        let mut text = String::from("FROM alpine AS a\n");
        for _ in 0..1 + rng.next() % 6 {
            text.push_str(KEYWORDS[rng.next() % KEYWORDS.len()]);
            for _ in 0..rng.next() % 7 {
                text.push_str(PIECES[rng.next() % PIECES.len()]);
            }
            text.push('\n');
        }
        if let Ok(dockerfile) = skiff_frontend::parse(&text) {
            planned += exercise(&dockerfile);
        }
    }
    eprintln!("{planned} random plans succeeded");
    assert!(planned >= 100, "only {planned} random Dockerfiles planned");
}

#[test]
fn buildkit_corpus_never_panics() {
    let base = match std::env::var_os("SKIFF_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/conformance"
        )),
    };
    let dir = base.join("buildkit-parser/testfiles");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "BuildKit parser corpus not found at {} ({e}) — set SKIFF_CONFORMANCE_DIR",
            dir.display()
        )
    });
    let mut planned = 0;
    for entry in entries {
        let path = entry.expect("readable corpus").path().join("Dockerfile");
        let bytes = std::fs::read(&path).expect("a Dockerfile per case");
        if let Ok(dockerfile) = skiff_frontend::parse(&String::from_utf8_lossy(&bytes)) {
            planned += usize::from(exercise(&dockerfile) > 0);
        }
    }
    assert!(planned >= 20, "only {planned} corpus files planned");
}

/// A linux platform's parts for the automatic args.
fn parts<'a>(arch: &'a str, variant: Option<&'a str>) -> graph::PlatformParts<'a> {
    graph::PlatformParts {
        os: "linux",
        arch,
        variant,
    }
}
