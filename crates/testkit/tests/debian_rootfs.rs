//! The Debian root filesystem tarballs: what they hold, what was cleaned out, and the cache.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use skiff_testkit::debian::{self, DebianBase};

/// One tarball entry: its name and its `tar --numeric-owner -tv` line (mode, owners, …).
struct Entry {
    name: String,
    verbose: String,
}

/// Runs `tar ARGS -f TAR` and returns its output lines.
fn tar_lines(args: &[&str], tar: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .args(args)
        .arg("-f")
        .arg(tar)
        .output()
        .expect("running tar");
    assert!(
        out.status.success(),
        "tar {args:?} {}: {}",
        tar.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 listing")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every entry of `tar`, in archive order.
fn listing(tar: &Path) -> Vec<Entry> {
    let names = tar_lines(&["-t"], tar);
    let verbose = tar_lines(&["--numeric-owner", "-tv"], tar);
    assert_eq!(names.len(), verbose.len(), "tar -t and tar -tv disagree");
    names
        .into_iter()
        .zip(verbose)
        .map(|(name, verbose)| Entry { name, verbose })
        .collect()
}

fn names(listing: &[Entry]) -> Vec<&str> {
    listing.iter().map(|e| e.name.as_str()).collect()
}

fn entry<'a>(listing: &'a [Entry], name: &str) -> &'a Entry {
    listing
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// Whether `name` is something the cleaning should have removed (the directories stay).
fn is_bootstrap_leftover(name: &str) -> bool {
    let inside = |dir: &str| name.starts_with(dir) && name != dir;
    (inside("var/lib/apt/lists/") && name != "var/lib/apt/lists/partial/")
        || inside("var/lib/apt/lists/partial/")
        || name.ends_with(".deb")
        || (name.starts_with("var/cache/apt/") && name.ends_with(".bin"))
        || inside("dev/")
        || inside("tmp/")
        || name == "etc/resolv.conf"
        || name == "etc/hostname"
        || name == "var/log/bootstrap.log"
        || name == "var/cache/ldconfig/aux-cache"
}

/// Checks what both images share: CA certificates, numeric root owners, no bootstrap leftovers.
fn assert_clean_debian(listing: &[Entry]) {
    let names = names(listing);
    for wanted in [
        "etc/ssl/certs/ca-certificates.crt",
        "usr/bin/bash",
        "usr/sbin/useradd",
        "etc/os-release",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from the rootfs");
    }
    for name in &names {
        assert!(
            !name.starts_with('/') && !name.starts_with("./"),
            "entry {name} is not relative"
        );
        let leftover = is_bootstrap_leftover(name);
        assert!(
            !leftover,
            "{name} should have been cleaned out of the rootfs"
        );
    }
    let bash = &entry(listing, "usr/bin/bash").verbose;
    assert!(
        bash.contains(" 0/0 "),
        "owners are not numeric root: {bash}"
    );
}

#[test]
fn golang_rootfs_has_go_git_certificates_and_gopath() {
    if !debian::can_build_or_skip("golang_rootfs_has_go_git_certificates_and_gopath") {
        return;
    }
    let listing = listing(&debian::golang_rootfs_tar());
    assert_clean_debian(&listing);
    let names = names(&listing);
    for wanted in [
        "usr/lib/go-1.19/bin/go",
        "usr/bin/go",
        "usr/bin/git",
        "go/bin/",
        "go/src/",
    ] {
        assert!(
            names.contains(&wanted),
            "{wanted} missing from the golang rootfs"
        );
    }
    let gopath = &entry(&listing, "go/").verbose;
    assert!(
        gopath.starts_with("drwxrwxrwt"),
        "GOPATH should be mode 1777 like the official image: {gopath}"
    );
}

#[test]
fn slim_rootfs_has_certificates_but_no_go() {
    if !debian::can_build_or_skip("slim_rootfs_has_certificates_but_no_go") {
        return;
    }
    let listing = listing(&debian::bookworm_slim_rootfs_tar());
    assert_clean_debian(&listing);
    let names = names(&listing);
    assert!(
        !names.iter().any(|n| n.starts_with("usr/lib/go")),
        "the slim rootfs holds Go"
    );
    assert!(!names.contains(&"usr/bin/git"), "the slim rootfs holds git");
}

#[test]
fn second_call_is_served_from_the_cache() {
    if !debian::can_build_or_skip("second_call_is_served_from_the_cache") {
        return;
    }
    let first = debian::bookworm_slim_rootfs_tar();
    let modified = std::fs::metadata(&first)
        .and_then(|m| m.modified())
        .expect("tarball mtime");
    let start = Instant::now();
    let second = debian::bookworm_slim_rootfs_tar();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "cached call took {:?}",
        start.elapsed()
    );
    assert_eq!(first, second);
    assert_eq!(
        std::fs::metadata(&second)
            .and_then(|m| m.modified())
            .expect("tarball mtime"),
        modified
    );
    assert!(
        first.starts_with(skiff_testkit::cache::cache_dir()),
        "{} is outside the cache dir",
        first.display()
    );
}

#[test]
fn golang_config_puts_the_tarballs_go_on_path() {
    if !debian::can_build_or_skip("golang_config_puts_the_tarballs_go_on_path") {
        return;
    }
    let listing = listing(&debian::golang_rootfs_tar());
    let names = names(&listing);
    let config = debian::image_config_for(DebianBase::Golang);
    let path = config
        .env
        .iter()
        .find(|(k, _)| *k == "PATH")
        .expect("PATH in env")
        .1;
    let go_dir = path
        .split(':')
        .find(|dir| names.contains(&format!("{}/go", dir.trim_start_matches('/')).as_str()))
        .expect("a PATH directory holding go");
    assert_eq!(
        go_dir, "/usr/lib/go-1.19/bin",
        "Go's own bin dir should come before /usr/bin"
    );
    assert!(config.env.contains(&("GOPATH", "/go")));
    assert_eq!(config.working_dir, Some("/go"));
}

#[test]
fn image_configs_render_as_dockerfiles() {
    let golang = debian::image_config_for(DebianBase::Golang).dockerfile("rootfs.tar");
    assert_eq!(
        golang,
        "FROM scratch\nADD rootfs.tar /\n\
         ENV PATH=/go/bin:/usr/lib/go-1.19/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         ENV GOPATH=/go\nWORKDIR /go\nCMD [\"bash\"]\n"
    );
    let slim = debian::image_config_for(DebianBase::BookwormSlim).instructions();
    assert_eq!(
        slim,
        [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "CMD [\"bash\"]"
        ]
    );
    assert_eq!(DebianBase::Golang.reference(), "golang:1.19-bookworm");
    assert_eq!(DebianBase::BookwormSlim.reference(), "debian:bookworm-slim");
}
