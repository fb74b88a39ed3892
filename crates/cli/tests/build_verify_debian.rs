//! Final-image verification on the Debian fixtures: a dynamically linked musl program on the
//! `debian:bookworm-slim` root filesystem (glibc, no musl loader), and the Go detector on real
//! stripped Go programs of the golang fixture: `go` (which has the TLS client) and `gofmt`
//! (static, no TLS) copied into `FROM scratch`.

use serde_json::Value;
use skiff_testkit::debian::{self, DebianBase};
use skiff_testkit::project::{BuildRun, Project};
use skiff_testkit::tools::require_tool;
use std::process::Command;

fn verify_rules(run: &BuildRun) -> Vec<(String, String)> {
    run.json_events()
        .into_iter()
        .filter(|e| e["event"] == "warning" && e["source"] == "verify")
        .map(|e: Value| {
            (
                e["rule"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_musl_program_on_debian_slim_is_named_with_musl() {
    if !require_tool("musl-gcc") || !debian::can_build_or_skip("musl_on_debian_slim") {
        return;
    }
    let tar = debian::rootfs_tar(DebianBase::BookwormSlim).unwrap_or_else(|e| panic!("{e:#}"));
    let p = Project::new();
    let src = p.scratch_path("app.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let status = Command::new("musl-gcc")
        .arg("-o")
        .arg(p.path("app"))
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    if std::fs::hard_link(&tar, p.path("rootfs.tar")).is_err() {
        std::fs::copy(&tar, p.path("rootfs.tar")).unwrap();
    }
    p.dockerfile("FROM scratch\nADD rootfs.tar /\nCOPY app /usr/local/bin/app\nCMD [\"app\"]\n");
    let run = p.build_ok(&["--progress=json"]);
    let found = verify_rules(&run);
    assert_eq!(found.len(), 1, "{}", run.report());
    assert_eq!(found[0].0, "MissingInterpreter");
    assert!(
        found[0]
            .1
            .contains("`/usr/local/bin/app` needs `/lib/ld-musl-")
            && found[0].1.contains("(musl libc) but the image has none"),
        "{}",
        found[0].1
    );
}

#[test]
fn a_stripped_go_tls_client_on_scratch_needs_certificates_and_gofmt_does_not() {
    if !debian::can_build_or_skip("go_tls_on_scratch") {
        return;
    }
    let tar = debian::golang_rootfs_tar();
    let p = Project::new();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(p.dir())
        .args(["usr/lib/go-1.19/bin/go", "usr/lib/go-1.19/bin/gofmt"])
        .status()
        .unwrap();
    assert!(status.success());
    p.dockerfile("FROM scratch\nCOPY usr/lib/go-1.19/bin/gofmt /gofmt\nCMD [\"/gofmt\"]\n");
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(verify_rules(&run), Vec::new(), "{}", run.report());
    p.dockerfile("FROM scratch\nCOPY usr/lib/go-1.19/bin/go /go\nCMD [\"/go\"]\n");
    let run = p.build_ok(&["--progress=json"]);
    // Debian's `go` is linked against glibc, so its loader is missing too.
    let found = verify_rules(&run);
    let rules: Vec<&str> = found.iter().map(|(rule, _)| rule.as_str()).collect();
    assert_eq!(
        rules,
        ["MissingInterpreter", "MissingCACertificates"],
        "{}",
        run.report()
    );
    assert!(
        found[1].1.contains("`/go` makes TLS connections"),
        "{}",
        found[1].1
    );
}
