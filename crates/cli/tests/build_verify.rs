//! Final-image verification and the size report through the binary, on programs compiled at
//! test time (gcc, musl-gcc): images that cannot start are named with the cause, a static
//! binary on scratch gets no warning, `--verify=error` fails and `--verify=off` is quiet.

use serde_json::Value;
use skiff_testkit::project::{BuildRun, Project};
use skiff_testkit::tools::require_tool;
use std::process::Command;

const PROGRAM: &str = "int main(void) { return 0; }\n";

const TLS_PROGRAM: &str =
    "#include <openssl/ssl.h>\nint main(void) { return SSL_library_init() == 0; }\n";

/// Compiles `source` with `compiler` and `flags` into the project's context as `name`;
/// `None` (test skipped) when the compiler is missing.
fn compile(p: &Project, compiler: &str, source: &str, flags: &[&str], name: &str) -> Option<()> {
    if !require_tool(compiler) {
        return None;
    }
    let src = p.scratch_path(&format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let status = Command::new(compiler)
        .arg("-o")
        .arg(p.path(name))
        .arg(&src)
        .args(flags)
        .status()
        .expect("runs the compiler");
    assert!(status.success(), "{compiler} failed");
    Some(())
}

/// The `warning` events of a JSON build from the verification.
fn problems(run: &BuildRun) -> Vec<Value> {
    run.json_events()
        .into_iter()
        .filter(|e| e["event"] == "warning" && e["source"] == "verify")
        .collect()
}

fn rules(run: &BuildRun) -> Vec<String> {
    problems(run)
        .iter()
        .map(|p| p["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `FROM busybox AS builder` holding the program, copied into a `FROM scratch` final stage.
fn on_scratch(program: &str) -> String {
    format!(
        "FROM busybox AS builder\nCOPY {program} /out/server\n\
         FROM scratch\nCOPY --from=builder /out/server /server\nCMD [\"/server\"]\n"
    )
}

#[test]
fn a_dynamic_musl_binary_on_scratch_is_named_with_its_libc_and_stage() {
    let p = Project::new();
    let Some(()) = compile(&p, "musl-gcc", PROGRAM, &[], "app") else {
        return;
    };
    p.dockerfile(&on_scratch("app"));
    let run = p.build_ok(&["--progress=json"]);
    let found = problems(&run);
    assert_eq!(rules(&run), ["MissingInterpreter"], "{}", run.report());
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "`/server` needs `/lib/ld-musl-x86_64.so.1` (musl libc) but the image has none"
        ) || !cfg!(target_arch = "x86_64"),
        "{message}"
    );
    assert!(message.contains("stage `builder` (busybox)"), "{message}");
    assert!(found[0]["hint"].as_str().unwrap().contains("CGO_ENABLED=0"));
}

#[test]
fn a_glibc_binary_on_scratch_is_named_with_glibc() {
    let p = Project::new();
    let Some(()) = compile(&p, "gcc", PROGRAM, &[], "app") else {
        return;
    };
    p.dockerfile(&on_scratch("app"));
    let run = p.build_ok(&[]);
    let err = run.stderr();
    assert!(
        err.contains("warning: MissingInterpreter"),
        "{}",
        run.report()
    );
    assert!(
        err.contains("(glibc) but the image has none"),
        "{}",
        run.report()
    );
}

#[test]
fn a_static_binary_on_scratch_gets_no_warning_and_a_size_report() {
    let p = Project::new();
    let Some(()) = compile(&p, "gcc", PROGRAM, &["-static"], "app") else {
        return;
    };
    p.dockerfile(&on_scratch("app"));
    let run = p.build_ok(&["--progress=json"]);
    let events = run.json_events();
    let warnings: Vec<&Value> = events.iter().filter(|e| e["event"] == "warning").collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    let size = events
        .iter()
        .find(|e| e["event"] == "size")
        .unwrap_or_else(|| panic!("no size event\n{}", run.report()));
    let file_size = std::fs::metadata(p.path("app")).unwrap().len();
    assert_eq!(size["unpacked"], file_size, "{size}");
    assert_eq!(size["largest_files"][0][0], "/server", "{size}");
    assert_eq!(size["largest_stage"][0], "builder", "{size}");
    assert!(size["compressed"].as_u64().unwrap() > 0, "{size}");
    // Plain progress says it in a line.
    let plain = p.build_ok(&[]);
    assert!(
        plain.stderr().contains("size: builder "),
        "{}",
        plain.report()
    );
}

#[test]
fn a_user_that_does_not_exist_and_a_missing_entrypoint_are_reported() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nUSER nosuchuser\nENTRYPOINT [\"/app/server\"]\n");
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(
        rules(&run),
        ["UnknownUser", "MissingEntrypoint"],
        "{}",
        run.report()
    );
    let found = problems(&run);
    assert!(found[0]["message"]
        .as_str()
        .unwrap()
        .contains("`nosuchuser`"));
    assert!(found[1]["message"]
        .as_str()
        .unwrap()
        .contains("`/app/server`"));
    // A user and a command the image has: nothing.
    p.dockerfile("FROM busybox\nUSER nobody\nCMD [\"sh\"]\n");
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(rules(&run), Vec::<String>::new(), "{}", run.report());
}

#[test]
fn a_shell_form_command_needs_a_shell() {
    let p = Project::new();
    let Some(()) = compile(&p, "gcc", PROGRAM, &["-static"], "app") else {
        return;
    };
    p.dockerfile("FROM scratch\nCOPY app /app\nCMD /app --serve\n");
    let run = p.build_ok(&["--progress=json"]);
    let found = problems(&run);
    assert_eq!(rules(&run), ["MissingEntrypoint"], "{}", run.report());
    assert!(found[0]["message"]
        .as_str()
        .unwrap()
        .contains("the shell-form command needs the shell `/bin/sh`"));
}

#[test]
fn a_tls_program_without_ca_certificates_is_reported_and_with_them_it_is_not() {
    let p = Project::new();
    let Some(()) = compile(&p, "gcc", TLS_PROGRAM, &["-lssl"], "app") else {
        return;
    };
    p.write("ca.crt", "-----BEGIN CERTIFICATE-----\n");
    p.dockerfile("FROM busybox\nCOPY app /app\nCMD [\"/app\"]\n");
    let run = p.build_ok(&["--progress=json"]);
    assert!(
        rules(&run).contains(&"MissingCACertificates".to_string()),
        "{}",
        run.report()
    );
    let found = problems(&run);
    let tls = found
        .iter()
        .find(|f| f["rule"] == "MissingCACertificates")
        .unwrap();
    assert!(tls["message"]
        .as_str()
        .unwrap()
        .contains("x509: certificate signed by unknown authority"));
    p.dockerfile(
        "FROM busybox\nCOPY ca.crt /etc/ssl/certs/ca-certificates.crt\nCOPY app /app\nCMD [\"/app\"]\n",
    );
    let run = p.build_ok(&["--progress=json"]);
    assert!(
        !rules(&run).contains(&"MissingCACertificates".to_string()),
        "{}",
        run.report()
    );
}

#[test]
fn verify_error_fails_the_build_and_verify_off_is_quiet() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nENTRYPOINT [\"/nowhere\"]\n");
    let run = p.build(&["--verify=error"]);
    run.assert_failed_with("the final image would not run (--verify=error)");
    assert!(
        run.stderr().contains("MissingEntrypoint"),
        "{}",
        run.report()
    );
    let run = p.build_ok(&["--verify=off", "--progress=json"]);
    assert_eq!(rules(&run), Vec::<String>::new(), "{}", run.report());
}

#[test]
fn a_compiler_left_in_the_final_image_is_reported() {
    let p = Project::new();
    p.write_mode("gcc", "#!/bin/sh\n", 0o755);
    p.dockerfile("FROM busybox\nCOPY gcc /usr/bin/gcc\nCMD [\"sh\"]\n");
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(rules(&run), ["CompilerInImage"], "{}", run.report());
    assert!(problems(&run)[0]["message"]
        .as_str()
        .unwrap()
        .contains("(gcc: /usr/bin/gcc)"));
}

/// The host's glibc loader and libc, for an image that has what a glibc program needs.
#[cfg(target_arch = "x86_64")]
const GLIBC: [(&str, &str); 2] = [
    ("/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"),
    (
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ),
];

#[cfg(target_arch = "x86_64")]
#[test]
fn needed_libraries_are_looked_up_where_the_loader_looks() {
    let p = Project::new();
    let Some(()) = compile(&p, "gcc", PROGRAM, &[], "app") else {
        return;
    };
    for (i, (host, _)) in GLIBC.iter().enumerate() {
        std::fs::copy(host, p.path(&format!("lib{i}"))).expect("the host's glibc");
    }
    // Loader and libc in a multiarch directory: nothing to report.
    p.dockerfile(&format!(
        "FROM scratch\nCOPY lib0 {}\nCOPY lib1 {}\nCOPY app /app\nCMD [\"/app\"]\n",
        GLIBC[0].1, GLIBC[1].1
    ));
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(rules(&run), Vec::<String>::new(), "{}", run.report());
    // libc where no loader looks: reported by name.
    p.dockerfile(&format!(
        "FROM scratch\nCOPY lib0 {}\nCOPY lib1 /opt/libc.so.6\nCOPY app /app\nCMD [\"/app\"]\n",
        GLIBC[0].1
    ));
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(rules(&run), ["MissingLibrary"], "{}", run.report());
    assert!(problems(&run)[0]["message"]
        .as_str()
        .unwrap()
        .contains("`/app` needs `libc.so.6`"));
    // … unless ld.so.conf names its directory.
    p.write("ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
        .write("opt.conf", "/opt\n");
    p.dockerfile(&format!(
        "FROM scratch\nCOPY lib0 {}\nCOPY lib1 /opt/libc.so.6\nCOPY ld.so.conf /etc/ld.so.conf\n\
         COPY opt.conf /etc/ld.so.conf.d/opt.conf\nCOPY app /app\nCMD [\"/app\"]\n",
        GLIBC[0].1
    ));
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(rules(&run), Vec::<String>::new(), "{}", run.report());
}

#[test]
fn check_skip_names_turn_verification_rules_off() {
    let p = Project::new();
    p.dockerfile(
        "# check=skip=UnknownUser\nFROM busybox\nUSER nosuchuser\nENTRYPOINT [\"/app/server\"]\n",
    );
    let run = p.build_ok(&["--progress=json"]);
    assert_eq!(rules(&run), ["MissingEntrypoint"], "{}", run.report());
    let run = p.build_ok(&[
        "--progress=json",
        "--verify=error",
        "--build-arg",
        "BUILDKIT_DOCKERFILE_CHECK=skip=UnknownUser,MissingEntrypoint",
    ]);
    assert_eq!(rules(&run), Vec::<String>::new(), "{}", run.report());
}

/// A rebuild that makes the same final image reads what the first build found from the
/// store's `verified/` record instead of the image (shown by a record altered in between),
/// with `--verify=error` still failing on it; a changed image is read again; `prune` drops
/// the record once the image's layers are gone.
#[test]
fn a_rebuild_of_the_same_image_uses_the_record_and_prune_drops_it() {
    let p = Project::new();
    p.write("note", "one\n");
    p.dockerfile("FROM busybox\nCOPY note /note\nENTRYPOINT [\"/nowhere\"]\n");
    let first = p.build_ok(&["--progress=json", "-t", "recorded:1"]);
    assert_eq!(rules(&first), ["MissingEntrypoint"], "{}", first.report());
    let records: Vec<_> = std::fs::read_dir(p.store().join("verified"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let text = std::fs::read_to_string(&records[0]).unwrap();
    std::fs::write(
        &records[0],
        text.replace("`/nowhere`", "`/from-the-record`"),
    )
    .unwrap();

    let again = p.build_ok(&["--progress=json", "-t", "recorded:1"]);
    assert_eq!(again.executed_steps(), Vec::<String>::new());
    let message = problems(&again)[0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("`/from-the-record`"), "{message}");
    p.build(&["--verify=error"])
        .assert_failed_with("`/from-the-record`");

    p.write("note", "two\n");
    let changed = p.build_ok(&["--progress=json", "-t", "recorded:1"]);
    let message = problems(&changed)[0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("`/nowhere`"), "{message}");

    // The layers stay while the build cache refers to them, and the records with them; a
    // record whose layer is gone from the store goes at the next prune.
    let verified = p.store().join("verified");
    let gone = "sha256:".to_string() + &"0".repeat(64);
    let orphan = text.replace(&text[text.find("sha256:").unwrap()..][..71], &gone);
    assert!(orphan.contains(&gone));
    std::fs::write(verified.join(format!("{}.json", "a".repeat(64))), orphan).unwrap();
    let prune = p.skiff().arg("prune").output().unwrap();
    assert!(prune.status.success());
    let mut left: Vec<String> = std::fs::read_dir(&verified)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "the two live records stay: {left:?}");
    assert!(
        !left.contains(&format!("{}.json", "a".repeat(64))),
        "{left:?}"
    );
}
