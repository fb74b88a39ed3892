//! Multi-platform images (issue #15), black-box through the binary: bases chosen by
//! platform from an index (and the error listing the platforms a base has), `RUN` of a
//! foreign architecture through QEMU's binfmt_misc handler (and the message without one),
//! `--platform linux/amd64,linux/arm64` giving one image index (oci archive, one directory
//! per platform with `type=local`, pushed as an index), the builder stage of
//! `FROM --platform=$BUILDPLATFORM` run once, and `type=docker` refused.
//!
//! The base is the testkit's two-platform busybox index (amd64 + arm64, the arm64 one from
//! Debian's `busybox-static:arm64`) in a local registry.

use skiff_testkit::command::{output_ok, run_ok};
use skiff_testkit::project::Project;
use skiff_testkit::serde_json::{self, Value};
use skiff_testkit::{busybox_multi_image, require_tool, Registry};
use std::path::Path;
use std::process::Command;

/// ELF `e_machine` of x86-64 and of AArch64.
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// The registry with the two-platform busybox, or `None` (skipped) without the tools.
fn multi_base() -> Option<(Registry, String)> {
    multi_image().map(|(r, m)| (r, m.index.reference))
}

/// [`multi_base`] with the index's digests.
fn multi_image() -> Option<(Registry, skiff_testkit::MultiImage)> {
    let registry = Registry::start_or_skip()?;
    if !require_tool("skopeo") || !require_tool("dpkg-deb") || !require_tool("runc") {
        return None;
    }
    let multi = busybox_multi_image(&registry).unwrap();
    Some((registry, multi))
}

/// Whether the kernel runs arm64 binaries through qemu-user-static (with the F flag); a
/// machine without it skips, CI (which runs scripts/install-deps) must have it.
fn arm64_emulated() -> bool {
    let text = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64").unwrap_or_default();
    if text.starts_with("enabled")
        && text
            .lines()
            .any(|l| l.starts_with("flags:") && l.contains('F'))
    {
        return true;
    }
    let reason = "no qemu-aarch64 binfmt_misc handler with F (scripts/install-deps registers it)";
    assert!(
        !skiff_testkit::tools::in_ci(),
        "CI must not skip tests: {reason}"
    );
    eprintln!("SKIPPED: {reason}");
    false
}

fn e_machine(elf: &[u8]) -> u16 {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    u16::from_le_bytes([elf[18], elf[19]])
}

/// Extracts an OCI archive into a directory with tar (independent of skiff).
fn unpack(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    output_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(into),
    );
}

fn blob(layout: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

const CROSS: &str = "\
FROM --platform=$BUILDPLATFORM BASE AS builder
RUN cat /proc/sys/kernel/random/uuid > /stamp && uname -m > /builder-arch
ARG TARGETOS TARGETARCH
RUN echo built for $TARGETOS/$TARGETARCH > /target
FROM BASE
ARG TARGETPLATFORM TARGETARCH BUILDPLATFORM
COPY --from=builder /stamp /builder-arch /
COPY --from=builder /target /
RUN uname -m > /arch && echo $TARGETPLATFORM $TARGETARCH $BUILDPLATFORM > /args
";

#[test]
fn a_platform_list_builds_one_index_with_an_image_per_platform() {
    let Some((_registry, base)) = multi_base() else {
        return;
    };
    if !arm64_emulated() {
        return;
    }
    let p = Project::new();
    p.dockerfile(&CROSS.replace("BASE", &base));
    let out = p.scratch_path("multi.tar");
    let run = p.build_ok(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        &format!("type=oci,dest={}", out.display()),
    ]);
    // The builder's first RUN ran once (the second target found it in the cache); the one
    // after `ARG TARGETARCH` ran for each target.
    let runs = |needle: &str| {
        (run.executed_steps().iter())
            .filter(|s| s.contains(needle))
            .count()
    };
    assert_eq!(runs("random/uuid"), 1, "{}", run.report());
    assert_eq!(runs("built for"), 2, "{}", run.report());

    let layout = p.scratch_path("layout");
    unpack(&out, &layout);
    let top: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entry = &top["manifests"][0];
    assert_eq!(
        entry["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{top}"
    );
    assert_eq!(run.stdout().trim(), entry["digest"].as_str().unwrap());
    let index = blob(&layout, entry["digest"].as_str().unwrap());
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{index}");
    let mut layers_of = Vec::new();
    for (m, arch) in manifests.iter().zip(["amd64", "arm64"]) {
        assert_eq!(m["platform"]["os"], "linux");
        assert_eq!(m["platform"]["architecture"], arch, "{index}");
        let manifest = blob(&layout, m["digest"].as_str().unwrap());
        let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
        assert_eq!(config["architecture"], arch, "{config}");
        assert_eq!(config["os"], "linux");
        layers_of.push(manifest["layers"].clone());
    }
    // The COPY of the builder's stamp makes the same layer in both images (layer 1; 0 is
    // busybox): the builder's step ran once.
    assert_eq!(layers_of[0][1]["digest"], layers_of[1][1]["digest"]);
    assert_ne!(layers_of[0][0]["digest"], layers_of[1][0]["digest"]);

    // type=local: one directory per platform, as buildx writes it.
    let dir = p.scratch_path("local");
    p.build_ok(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        &format!("type=local,dest={}", dir.display()),
    ]);
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap();
    assert_eq!(read("linux_amd64/arch"), "x86_64\n");
    assert_eq!(read("linux_arm64/arch"), "aarch64\n");
    assert_eq!(read("linux_amd64/args"), "linux/amd64 amd64 linux/amd64\n");
    assert_eq!(read("linux_arm64/args"), "linux/arm64 arm64 linux/amd64\n");
    assert_eq!(read("linux_arm64/target"), "built for linux/arm64\n");
    assert_eq!(read("linux_amd64/builder-arch"), "x86_64\n");
    assert_eq!(read("linux_arm64/builder-arch"), "x86_64\n");
    assert_eq!(read("linux_arm64/stamp"), read("linux_amd64/stamp"));
    let busybox =
        |platform: &str| e_machine(&std::fs::read(dir.join(platform).join("bin/busybox")).unwrap());
    assert_eq!(busybox("linux_amd64"), EM_X86_64);
    assert_eq!(busybox("linux_arm64"), EM_AARCH64);
}

#[test]
fn run_in_an_arm64_stage_runs_under_emulation() {
    let Some((_registry, base)) = multi_base() else {
        return;
    };
    if !arm64_emulated() {
        return;
    }
    let p = Project::new();
    p.dockerfile(&format!(
        "FROM --platform=linux/arm64 {base}\nRUN uname -m\n"
    ));
    let run = p.build_ok(&[]);
    assert!(
        run.stderr()
            .lines()
            .any(|l| l.trim_end().ends_with("aarch64")),
        "{}",
        run.report()
    );
    // The same build for --platform linux/arm64 (no FROM --platform) gives an arm64 config.
    let p = Project::new();
    p.dockerfile(&format!("FROM {base}\nRUN uname -m > /arch\n"));
    let (_, image) = p.build_image(&["--platform", "linux/arm64"]);
    assert_eq!(image.fs.read_string("/arch"), "aarch64\n");
    assert_eq!(image.config["architecture"], "arm64");
}

#[test]
fn without_an_emulator_the_error_names_the_package() {
    let Some((_registry, base)) = multi_base() else {
        return;
    };
    let p = Project::new();
    p.dockerfile(&format!("FROM {base}\nRUN uname -m\n"));
    // A binfmt_misc with no handlers registered.
    let empty = p.scratch_path("binfmt_misc");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("status"), "enabled\n").unwrap();
    let run = p.build_env(
        &["--platform", "linux/arm64"],
        &[("SKIFF_BINFMT_MISC_DIR", empty.to_str().unwrap())],
    );
    run.assert_failed_with("qemu-user-static");
    run.assert_failed_with("linux/arm64");
}

#[test]
fn a_base_without_the_platform_lists_the_ones_it_has() {
    let Some((_registry, multi)) = multi_image() else {
        return;
    };
    let base = multi.index.reference.clone();
    let p = Project::new();
    p.dockerfile(&format!("FROM {base}\nENV A=1\n"));
    let run = p.build(&["--platform", "linux/s390x"]);
    run.assert_failed_with("linux/amd64, linux/arm64");
    run.assert_failed_with("linux/s390x");

    // `skiff pull --platform` picks the manifest, or lists the platforms.
    let arm = run_ok(
        p.skiff()
            .args(["pull", "--platform", "linux/arm64/v8", &base]),
    );
    assert!(arm.contains(&multi.manifests[1].1), "{arm}");
    let fail = p
        .skiff()
        .args(["pull", "--platform", "linux/arm/v7", &base])
        .output()
        .unwrap();
    assert!(!fail.status.success());
    let stderr = String::from_utf8_lossy(&fail.stderr);
    assert!(stderr.contains("linux/amd64, linux/arm64"), "{stderr}");
}

#[test]
fn a_pushed_multi_platform_build_is_an_index_in_the_registry() {
    let Some((registry, base)) = multi_base() else {
        return;
    };
    let p = Project::new();
    p.dockerfile(&format!("FROM {base}\nENV A=1\n"));
    let reference = registry.reference("multi/app:1");
    let run = p.build_ok(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        &reference,
        "--push",
    ]);
    let digest = run.stdout().trim().to_string();
    let raw = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{reference}")),
    );
    let index: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    let arches: Vec<&str> = (index["manifests"].as_array().unwrap().iter())
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"]);
    // skopeo pulls each platform's image.
    let arm = run_ok(
        Command::new("skopeo")
            .args(["--override-arch", "arm64", "inspect", "--tls-verify=false"])
            .arg(format!("docker://{reference}")),
    );
    let arm: Value = serde_json::from_str(&arm).unwrap();
    assert_eq!(arm["Architecture"], "arm64");
    // skopeo names the index's digest: the one the build printed.
    assert_eq!(arm["Digest"], digest.as_str());
    assert!(run.stderr().contains(&digest), "{}", run.report());
    // podman pulls each platform from the index (into a store of its own).
    if skiff_testkit::require_tool("podman") {
        let root = skiff_testkit::tempfile::tempdir().unwrap();
        let runroot = skiff_testkit::tempfile::tempdir().unwrap();
        for arch in ["amd64", "arm64"] {
            let pulled = run_ok(
                Command::new("podman")
                    .arg("--root")
                    .arg(root.path())
                    .arg("--runroot")
                    .arg(runroot.path())
                    .args([
                        "pull",
                        "-q",
                        "--tls-verify=false",
                        "--arch",
                        arch,
                        &reference,
                    ]),
            );
            let id = pulled.trim().to_string();
            let inspected = run_ok(
                Command::new("podman")
                    .arg("--root")
                    .arg(root.path())
                    .arg("--runroot")
                    .arg(runroot.path())
                    .args(["image", "inspect", "--format", "{{.Architecture}}", &id]),
            );
            assert_eq!(inspected.trim(), arch);
        }
    }
}

#[test]
fn docker_archives_and_load_refuse_several_platforms() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nENV A=1\n");
    let out = p.scratch_path("d.tar");
    let run = p.build(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        &format!("type=docker,dest={}", out.display()),
    ]);
    run.assert_failed_with("type=docker cannot hold several platforms");
    assert!(!out.exists());
    let run = p.build(&["--platform", "linux/amd64,linux/arm64", "--load"]);
    run.assert_failed_with("--load cannot load several platforms");
    // Never a broken config: a malformed list is an error, not an architecture "amd64,linux".
    let run = p.build(&["--platform", "linux/amd64,"]);
    run.assert_failed_with("--platform");
}
