//! Differential test: skiff against BuildKit (Debian's `docker.io` 20.10, `DOCKER_BUILDKIT=1`).
//!
//! Each case is a multi-stage Dockerfile built twice from the same context directory, once by
//! `skiff build` and once by a private dockerd ([`ReferenceBuilder`]), both from the busybox fixture
//! pushed to a local registry (`FROM ${BASE}`, `--build-arg BASE=127.0.0.1:PORT/…`). The two
//! results are compared:
//!
//! - the final root filesystem: every path, its type, mode, owner, content, symlink target and
//!   hard-link group (mtimes are not compared: both builders stamp the build time);
//! - the image config (`config.*`: Env, Cmd, Entrypoint, User, WorkingDir, Labels,
//!   ExposedPorts, Volumes, and every other key either side writes; `os`, `architecture`);
//! - the history (`created_by`, `empty_layer`, `comment`, in order) and the number of layers.
//!
//! Not compared, because they differ by nature: mtimes and `created` times (both builders stamp
//! the build time), and therefore layer digests, diff_ids and the manifest digest; the order
//! of entries inside a layer tar and the compression (docker's layers are read back
//! uncompressed from `docker save`); which layer a file lives in (only the final tree counts).
//!
//! Every difference must be in [`ALLOWED`] with the reason it is deliberate or inherent;
//! anything else fails the test, which lists all differences of all cases at once. A real skiff
//! bug is fixed, never allowed.
//!
//! The dockerd starts once (slow) and serves every case, so everything is one `#[test]`.

mod differential_cases;

use differential_cases::CASES;
use skiff_testkit::project::{BuiltImage, FileTree, Kind, Project};
use skiff_testkit::reference_builder::ReferenceBuilder;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

/// Differences that are expected, and why. `case` is a case name or `*` (every case); `items`
/// are compared items as reported (`fs /etc`, `config.Env`, `history[3]`, …).
struct Allowed {
    case: &'static str,
    items: &'static [&'static str],
    reason: &'static str,
}

/// Only deliberate or inherent differences: a skiff bug is fixed, never listed here.
const ALLOWED: &[Allowed] = &[
    Allowed {
        case: "run-mounts",
        items: &[
            "fs /ctx",
            "fs /mnt",
            "fs /mnt/payload",
            "fs /scratch",
            "fs /var/cache",
            "fs /var/cache/tool",
        ],
        reason: "mount points RUN --mount had to create. The 20.10 daemon's BuildKit (0.8) leaves \
             them in the layer as empty directories; BuildKit 0.11 and later remove empty \
             directory stubs and the parents created for them (moby/buildkit#3307, #3314), and \
             skiff follows current BuildKit (sandbox stubs.rs)",
    },
    Allowed {
        case: "user",
        items: &["fs /home/app/work/id.txt", "fs /tmp/id2.txt"],
        reason: ID_GROUPS,
    },
    Allowed {
        case: "expansion-and-inheritance",
        items: &["fs /copied-unknown-ids", "fs /tmp/id"],
        reason: ID_GROUPS,
    },
    Allowed {
        case: "metadata",
        items: &["history[3]"],
        reason: EXPOSE_TEXT,
    },
    Allowed {
        case: "expansion-and-inheritance",
        items: &["history[13]"],
        reason: EXPOSE_TEXT,
    },
    Allowed {
        case: "volume-shell-healthcheck-edges",
        items: &["fs /chmod-dir"],
        reason: CHMOD_CREATED_DIRS,
    },
];

/// Why a directory that `COPY --chmod=700 dir /new/` creates is 0700, not 0755.
const CHMOD_CREATED_DIRS: &str = "directories a COPY creates: current BuildKit (v0.26, fsutil \
     copy MkdirAll with the --chmod mode) gives an octal --chmod to the destination directory \
     of a directory source and to missing parents too (checked against the reference BuildKit \
     v0.26.3 here: `COPY --chmod=700 d /chm/new/` gives /chm and /chm/new mode 0700); the 20.10 \
     daemon's BuildKit left them 0755; skiff follows current BuildKit";

/// Why EXPOSE's history text differs from the 20.10 daemon's BuildKit.
const EXPOSE_TEXT: &str = "EXPOSE's history text: current BuildKit (convert_expose.go, v0.26) \
     prints the ports as written, as a Go slice (`EXPOSE [80/tcp 53/udp]`); the 20.10 daemon's \
     BuildKit printed a sorted Go map; skiff follows current BuildKit (the config's \
     ExposedPorts are the same)";

/// Why `id` inside RUN lists one more group than the 20.10 daemon's BuildKit shows.
const ID_GROUPS: &str = "`id` output: current BuildKit (executor/oci/user.go \
     ensureAdditionalGids, in v0.26) adds the primary group to the supplementary groups of \
     every RUN, so `id` prints `groups=<gid>(…)` too; the 20.10 daemon's BuildKit did not, and \
     skiff follows current BuildKit (sandbox user.rs)";

/// One compared item that differs between the two images.
struct Difference {
    case: &'static str,
    item: String,
    buildkit: String,
    skiff: String,
}

#[test]
fn skiff_builds_the_same_images_as_buildkit() {
    let Some(reference) = ReferenceBuilder::start_or_skip() else {
        return;
    };
    let started = Instant::now();
    let mut differences = Vec::new();
    let mut failures = Vec::new();
    for case in CASES {
        let case_start = Instant::now();
        let project = Project::new();
        for (path, content, mode) in case.files {
            project.write_mode(path, content, *mode);
        }
        if case
            .files
            .iter()
            .any(|(path, _, _)| path.starts_with("tree/"))
        {
            pack_tree(&project);
        }
        project.dockerfile(case.dockerfile);
        let mut args = reference.base_args();
        args.extend(case.args.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let tag = format!("skiff-differential/{}", case.name);
        // Both builders at once: each mostly waits on its own runc and disk.
        let (buildkit, skiff) = std::thread::scope(|scope| {
            let docker = scope.spawn(|| reference.build(project.dir(), &args, &tag));
            let skiff = skiff_build(&project, &args);
            (docker.join().expect("the docker build thread"), skiff)
        });
        match (buildkit, skiff) {
            (Ok(buildkit), Ok(skiff)) => {
                for path in case.built {
                    if !buildkit.fs.exists(path) {
                        failures.push(format!("[{}] BuildKit's image lacks {path}", case.name));
                    }
                }
                differences.extend(compare(case.name, &buildkit, &skiff));
            }
            (buildkit, skiff) => {
                if let Err(e) = buildkit {
                    failures.push(format!("[{}] docker build failed: {e:#}", case.name));
                }
                if let Err(e) = skiff {
                    failures.push(format!("[{}] skiff build failed: {e}", case.name));
                }
            }
        }
        eprintln!("case {}: {:?}", case.name, case_start.elapsed());
    }
    let (allowed, unexplained): (Vec<_>, Vec<_>) =
        differences.iter().partition(|d| allowance(d).is_some());
    let mut report = String::new();
    for d in &allowed {
        let reason = allowance(d).map(|a| a.reason).unwrap_or_default();
        writeln!(report, "allowed {}\n    because {reason}", describe(d)).unwrap();
    }
    for a in ALLOWED {
        for item in a.items {
            let used = differences
                .iter()
                .any(|d| &d.item == item && allowance(d).is_some_and(|m| std::ptr::eq(m, a)));
            if !used {
                writeln!(
                    report,
                    "note: allowance [{}] {item} matched nothing (gone? then remove it)",
                    a.case
                )
                .unwrap();
            }
        }
    }
    for d in &unexplained {
        writeln!(report, "DIFFERENT {}", describe(d)).unwrap();
    }
    for f in &failures {
        writeln!(report, "FAILED {f}").unwrap();
    }
    eprintln!("{} cases in {:?}\n{report}", CASES.len(), started.elapsed());
    assert!(
        unexplained.is_empty() && failures.is_empty(),
        "skiff and BuildKit disagree ({} unexplained differences, {} failed builds):\n{report}",
        unexplained.len(),
        failures.len()
    );
}

fn allowance(d: &Difference) -> Option<&'static Allowed> {
    ALLOWED
        .iter()
        .find(|a| (a.case == "*" || a.case == d.case) && a.items.contains(&d.item.as_str()))
}

fn describe(d: &Difference) -> String {
    format!(
        "[{}] {}\n    buildkit: {}\n    skiff:    {}",
        d.case, d.item, d.buildkit, d.skiff
    )
}

/// `archive.tar.gz` in the context: the context's `tree/`, every entry owned by 7:7 in the
/// archive (so the comparison shows which owner ADD's extraction keeps).
fn pack_tree(project: &Project) {
    let status = std::process::Command::new("tar")
        .current_dir(project.path("tree"))
        .args(["--owner=7", "--group=7", "-czf", "../archive.tar.gz", "."])
        .status()
        .expect("running tar");
    assert!(status.success(), "tar failed packing the context's tree/");
}

/// `skiff build --output type=oci,dest=… ARGS`, read back; the error is skiff's whole output.
fn skiff_build(project: &Project, args: &[&str]) -> Result<BuiltImage, String> {
    let out = skiff_testkit::tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = out.path().join("image.tar");
    let output = format!("type=oci,dest={}", dest.display());
    let mut all = vec!["--output", output.as_str()];
    all.extend_from_slice(args);
    let run = project.build(&all);
    if !run.success() {
        return Err(run.report());
    }
    BuiltImage::open(&dest).map_err(|e| format!("reading skiff's export: {e:#}\n{}", run.report()))
}

/// Every difference between the two images of one case.
fn compare(case: &'static str, buildkit: &BuiltImage, skiff: &BuiltImage) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut differ = |item: String, b: String, s: String| {
        if b != s {
            out.push(Difference {
                case,
                item,
                buildkit: b,
                skiff: s,
            });
        }
    };
    let (bfs, sfs) = (describe_tree(&buildkit.fs), describe_tree(&skiff.fs));
    for path in bfs.keys().chain(sfs.keys()).collect::<BTreeSet<_>>() {
        let show = |m: &BTreeMap<String, String>| m.get(path).cloned().unwrap_or("(absent)".into());
        differ(format!("fs {path}"), show(&bfs), show(&sfs));
    }
    for key in ["os", "architecture"] {
        differ(
            key.to_string(),
            buildkit.config[key].to_string(),
            skiff.config[key].to_string(),
        );
    }
    let (bcfg, scfg) = (buildkit.runtime_config(), skiff.runtime_config());
    let keys: BTreeSet<&String> = [bcfg, scfg]
        .iter()
        .filter_map(|c| c.as_object())
        .flat_map(|o| o.keys())
        .collect();
    for key in keys {
        differ(
            format!("config.{key}"),
            bcfg[key].to_string(),
            scfg[key].to_string(),
        );
    }
    let (bh, sh) = (history(buildkit), history(skiff));
    if bh.len() == sh.len() {
        for (i, (b, s)) in bh.iter().zip(&sh).enumerate() {
            differ(format!("history[{i}]"), b.clone(), s.clone());
        }
    } else {
        let list = |h: &[String]| h.join("\n              ");
        differ("history".into(), list(&bh), list(&sh));
    }
    differ(
        "layer count".into(),
        buildkit.layers.len().to_string(),
        skiff.layers.len().to_string(),
    );
    out
}

/// `created_by`, `empty_layer` and `comment` of each history entry.
fn history(image: &BuiltImage) -> Vec<String> {
    image
        .history()
        .into_iter()
        .map(|(by, empty)| format!("{by:?}{}", if empty { " (empty_layer)" } else { "" }))
        .zip(comments(image))
        .map(|(entry, comment)| format!("{entry} comment {comment}"))
        .collect()
}

/// Each history entry's `comment` (JSON text; `null` when absent).
fn comments(image: &BuiltImage) -> Vec<String> {
    image.config["history"]
        .as_array()
        .map(|h| h.iter().map(|e| e["comment"].to_string()).collect())
        .unwrap_or_default()
}

/// path → a one-line description of everything compared about it (not the mtime).
fn describe_tree(tree: &FileTree) -> BTreeMap<String, String> {
    // Hard-link groups: each link's target, and every path linking to it.
    let mut groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (path, entry) in &tree.entries {
        if let Kind::Hardlink(target) = &entry.kind {
            let group = groups.entry(target.as_str()).or_default();
            group.insert(target.as_str());
            group.insert(path.as_str());
        }
    }
    let mut out = BTreeMap::new();
    for (path, entry) in &tree.entries {
        // A hard link is described by its inode (the target's entry), so that it does not
        // matter which path of a group each builder wrote first.
        let (inode, target) = match &entry.kind {
            Kind::Hardlink(target) => (tree.get(target).unwrap_or(entry), Some(target.as_str())),
            _ => (entry, None),
        };
        let kind = match &inode.kind {
            Kind::File => format!("file {}", content(&inode.data)),
            Kind::Dir => "dir".to_string(),
            Kind::Symlink(to) => format!("symlink -> {to}"),
            Kind::Hardlink(to) => format!("hardlink to a hardlink -> {to}"),
            Kind::Fifo => "fifo".to_string(),
            Kind::Other => "special".to_string(),
        };
        let mut line = format!(
            "{kind} mode {:04o} owner {}:{}",
            inode.mode, inode.uid, inode.gid
        );
        let group = groups.get(target.unwrap_or(path.as_str()));
        if let Some(group) = group {
            let others: Vec<&str> = group.iter().copied().filter(|p| p != path).collect();
            write!(line, " hardlinked with {}", others.join(",")).unwrap();
        }
        if !inode.xattrs.is_empty() {
            write!(
                line,
                " xattrs {:?}",
                inode.xattrs.keys().collect::<Vec<_>>()
            )
            .unwrap();
        }
        out.insert(path.clone(), line);
    }
    out
}

/// Short text shown as is; anything else by size and digest.
fn content(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) if data.len() <= 200 => format!("{text:?}"),
        _ => {
            let digest = skiff_testkit::layout::sha256_digest(data);
            format!("{} bytes {}", data.len(), &digest[..19])
        }
    }
}

/// The comparison itself, on hand-made images: what it must report and what it must not.
#[test]
fn the_comparison_reports_each_difference_and_ignores_mtimes() {
    use skiff_testkit::project::Entry;
    use skiff_testkit::serde_json::json;
    fn image(entries: Vec<(&str, Kind, u32, &str, u64)>, cmd: &str, empty: bool) -> BuiltImage {
        let mut fs = FileTree::default();
        for (path, kind, mode, data, mtime) in entries {
            let entry = Entry {
                kind,
                mode,
                uid: 0,
                gid: 0,
                mtime,
                data: data.as_bytes().to_vec(),
                xattrs: BTreeMap::new(),
            };
            fs.entries.insert(path.to_string(), entry);
        }
        BuiltImage {
            digest: String::new(),
            manifest: json!({}),
            config: json!({
                "os": "linux",
                "config": {"Cmd": [cmd]},
                "history": [{"created_by": "RUN x", "empty_layer": empty}],
            }),
            layers: Vec::new(),
            fs,
            blobs: BTreeMap::new(),
        }
    }
    let tree = |mode: u32, link: &str, hard: bool, extra: bool, mtime: u64| {
        let mut entries = vec![
            ("/a", Kind::File, mode, "x", mtime),
            ("/d", Kind::Dir, 0o755, "", mtime),
            ("/l", Kind::Symlink(link.into()), 0o777, "", mtime),
        ];
        if hard {
            entries.push(("/h", Kind::Hardlink("/a".into()), 0, "", mtime));
        } else {
            entries.push(("/h", Kind::File, mode, "x", mtime));
        }
        if extra {
            entries.push(("/new", Kind::File, 0o644, "", mtime));
        }
        entries
    };
    let reference = image(tree(0o644, "a", true, false, 1), "sh", false);
    let touched = image(tree(0o644, "a", true, false, 2), "sh", false);
    assert!(compare("t", &reference, &touched).is_empty());
    let changed = image(tree(0o600, "b", false, true, 1), "bash", true);
    let items: Vec<String> = compare("t", &reference, &changed)
        .into_iter()
        .map(|d| d.item)
        .collect();
    assert_eq!(
        items,
        [
            "fs /a",
            "fs /h",
            "fs /l",
            "fs /new",
            "config.Cmd",
            "history[0]"
        ]
    );
}
