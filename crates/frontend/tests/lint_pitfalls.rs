//! skiff's own build checks through the public `lint::check`: each rule fires on the pitfall
//! the seed article describes and stays quiet on the article's own Dockerfiles and on the
//! examples; `# check=skip=…` turns them off as it does BuildKit's rules.

use skiff_frontend::lint::{self, LintOptions};

/// The article's minimal two-stage build.
const MINIMAL: &str = "\
FROM golang:1.22-alpine AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/server .
FROM scratch
COPY --from=builder /out/server /server
CMD [\"/server\"]
";

/// The article's production build.
const PRODUCTION: &str = "\
FROM golang:1.22-alpine AS builder
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -ldflags=\"-s -w\" -o /out/app .
FROM alpine:3.19
RUN apk --no-cache add ca-certificates
RUN addgroup -S appgroup && adduser -S appuser -G appgroup
WORKDIR /home/appuser
COPY --from=builder /out/app ./app
RUN chown appuser:appgroup ./app
USER appuser
CMD [\"./app\"]
";

fn findings(dockerfile: &str) -> Vec<String> {
    let options = LintOptions {
        skiff_rules: true,
        ..LintOptions::default()
    };
    let report = lint::check(dockerfile, &options);
    assert!(report.error.is_none(), "{:?}", report.error);
    report
        .findings
        .iter()
        .map(|f| format!("{}@{}", f.rule.name, f.line))
        .collect()
}

#[test]
fn the_articles_dockerfiles_and_the_examples_give_no_warning() {
    assert_eq!(findings(MINIMAL), Vec::<String>::new());
    assert_eq!(findings(PRODUCTION), Vec::<String>::new());
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/go-server");
    for name in ["Dockerfile", "Dockerfile.cache", "Dockerfile.production"] {
        let text = std::fs::read_to_string(format!("{examples}/{name}")).expect(name);
        assert_eq!(findings(&text), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn copying_the_context_before_a_dependency_download_fires_at_the_copy() {
    let late = MINIMAL.replace(
        "COPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n",
        "COPY . .\nRUN go mod download\n",
    );
    assert_eq!(findings(&late), ["CopyAllBeforeDependencies@3"]);
    for run in [
        "npm ci",
        "npm install --omit=dev",
        "pip install -r requirements.txt",
        "cargo fetch",
        "bundle install",
        "composer install --no-dev",
        "mvn -B dependency:go-offline",
        "apk add git && go mod download",
    ] {
        let text = format!("FROM alpine:3.19\nWORKDIR /a\nCOPY ./ .\nRUN {run}\nUSER 1000\n");
        assert_eq!(findings(&text), ["CopyAllBeforeDependencies@3"], "{run}");
    }
}

#[test]
fn a_download_before_the_copy_or_a_package_install_does_not_fire() {
    for text in [
        "FROM node:20-slim\nCOPY package.json ./\nRUN npm ci\nCOPY . .\nUSER node\n",
        "FROM node:20-slim\nCOPY . .\nRUN npm install -g typescript\nUSER node\n",
        "FROM alpine:3.19\nCOPY . .\nRUN apk add git\nUSER 1000\n",
        "FROM alpine:3.19 AS a\nCOPY . .\nFROM alpine:3.19\nRUN go mod download\nUSER 1000\n",
        "FROM alpine:3.19\nCOPY --from=other . .\nRUN go mod download\nUSER 1000\n",
    ] {
        assert_eq!(findings(text), Vec::<String>::new(), "{text}");
    }
}

#[test]
fn an_unpinned_base_fires_but_scratch_stages_digests_and_tags_do_not() {
    let user = "USER 1000\n";
    assert_eq!(
        findings(&format!("FROM alpine\n{user}")),
        ["UnpinnedBaseImage@1"]
    );
    assert_eq!(
        findings(&format!("FROM registry:5000/team/alpine:latest\n{user}")),
        ["UnpinnedBaseImage@1"]
    );
    for text in [
        format!("FROM registry:5000/alpine:3.19\n{user}"),
        format!("FROM alpine@sha256:{}\n{user}", "a".repeat(64)),
        "FROM alpine:3.19 AS base\nFROM base\nUSER 1000\n".to_string(),
        "FROM scratch\nCOPY x /x\n".to_string(),
    ] {
        assert_eq!(findings(&text), Vec::<String>::new(), "{text}");
    }
    let named = LintOptions {
        skiff_rules: true,
        named_contexts: vec!["busybox".into()],
        ..LintOptions::default()
    };
    let report = lint::check("FROM busybox\nUSER 1000\n", &named);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn a_root_final_stage_fires_and_a_user_or_an_earlier_stages_user_does_not() {
    assert_eq!(
        findings("FROM alpine:3.19\nCMD [\"sh\"]\n"),
        ["FinalStageRunsAsRoot@1"]
    );
    assert_eq!(
        findings("FROM alpine:3.19\nUSER app\nUSER 0:0\n"),
        ["FinalStageRunsAsRoot@3"]
    );
    assert_eq!(
        findings("FROM alpine:3.19\nUSER root\n"),
        ["FinalStageRunsAsRoot@2"]
    );
    for text in [
        "FROM alpine:3.19\nUSER app\n",
        "FROM alpine:3.19 AS base\nUSER app\nFROM base\nCMD [\"x\"]\n",
        "FROM alpine:3.19 AS build\nFROM scratch\nCOPY --from=build /x /x\n",
    ] {
        assert_eq!(findings(text), Vec::<String>::new(), "{text}");
    }
}

#[test]
fn a_toolchain_as_the_final_image_fires_and_runtimes_do_not() {
    for base in [
        "golang:1.22-alpine",
        "rust:1.80",
        "gcc:14",
        "maven:3-eclipse-temurin-21",
        "node:20",
    ] {
        let text = format!("FROM {base}\nUSER 1000\n");
        assert_eq!(findings(&text), ["FinalStageToolchain@1"], "{base}");
    }
    for base in [
        "node:20-slim",
        "node:20-alpine",
        "alpine:3.19",
        "debian:bookworm-slim",
    ] {
        let text = format!("FROM {base}\nUSER 1000\n");
        assert_eq!(findings(&text), Vec::<String>::new(), "{base}");
    }
    // Only the final stage counts.
    assert_eq!(findings(MINIMAL), Vec::<String>::new());
}

#[test]
fn skip_and_error_apply_to_skiffs_rules_and_they_are_off_by_default() {
    let text = "# check=skip=UnpinnedBaseImage,FinalStageRunsAsRoot\nFROM alpine\n";
    assert_eq!(findings(text), Vec::<String>::new());
    let text = "# check=error=true\nFROM alpine:3.19\n";
    let report = lint::check(
        text,
        &LintOptions {
            skiff_rules: true,
            ..LintOptions::default()
        },
    );
    assert_eq!(
        report.violation.as_deref(),
        Some("lint violation found for rules: FinalStageRunsAsRoot")
    );
    let plain = lint::check("FROM alpine\n", &LintOptions::default());
    assert!(plain.findings.is_empty());
}
