//! Differential test: skiff against BuildKit.
//!
//! Each case is a multi-stage Dockerfile built twice from the same context directory, once by
//! `skiff build` and once by the reference builder ([`ReferenceBuilder`]), both from the
//! busybox fixture pushed to a local registry (`FROM ${BASE}`,
//! `--build-arg BASE=127.0.0.1:PORT/…`). The reference is, by `SKIFF_REFERENCE`:
//!
//! - `dockerd` (default; CI): a private dockerd 20.10 with its BuildKit 0.8 (`DOCKER_BUILDKIT=1`);
//! - `buildkit` (by hand, docs/reference-builders.md): the current BuildKit v0.26 of
//!   `../shared/reference-buildkit/`, through `buildctl build -o type=oci`. Then the allowances
//!   marked "20.10 only" do not apply, and every case must agree for real; cases 20.10 cannot
//!   build at all (`dockerd_cannot`) run only here.
//!
//! The two results are compared:
//!
//! - the final root filesystem: every path, its type, mode, owner, content, symlink target and
//!   hard-link group (mtimes are not compared: both builders stamp the build time);
//! - the image config (`config.*`: Env, Cmd, Entrypoint, User, WorkingDir, Labels,
//!   ExposedPorts, Volumes, and every other key either side writes; `os`, `architecture`);
//! - the history (`created_by`, `empty_layer`, `comment`, in order) and the number of layers.
//!
//! Not compared, because they differ by nature: mtimes and `created` times (both builders stamp
//! the build time; with a `SOURCE_DATE_EPOCH` build arg the `created` times are compared), and therefore layer digests, diff_ids and the manifest digest; the order
//! of entries inside a layer tar and the compression (docker's layers are read back
//! uncompressed from `docker save`); which layer a file lives in (only the final tree counts).
//!
//! Every difference must be in [`ALLOWED`] with the reason it is deliberate or inherent;
//! anything else fails the test, which lists all differences of all cases at once. A real skiff
//! bug is fixed, never allowed.
//!
//! The dockerd starts once (slow) and serves every case, so everything is one `#[test]`:
//! `cargo test -p skiff --test differential_buildkit`, with `SKIFF_REFERENCE=buildkit` for the
//! current BuildKit.

mod differential_cases;

use differential_cases::allowed::{Allowed, Only, ALLOWED};
use differential_cases::{all_cases, Case};
use skiff_testkit::project::{BuiltImage, FileTree, Kind, Project};
use skiff_testkit::reference_builder::{ReferenceBuilder, ReferenceKind};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

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
    let kind = reference.kind();
    let started = Instant::now();
    let mut differences = Vec::new();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let mut gaps = Vec::new();
    let cases: Vec<&Case> = all_cases().collect();
    for case in &cases {
        if let (ReferenceKind::Dockerd2010, Some(why)) = (kind, case.dockerd_cannot) {
            skipped.push(format!("[{}] not built by dockerd 20.10: {why}", case.name));
            continue;
        }
        let case_start = Instant::now();
        let (case_differences, case_failures) = run_case(&reference, case);
        if let Some(why) = case.skiff_gap {
            // A known gap of skiff: reported, not counted; once it agrees, the mark goes.
            if case_failures.is_empty()
                && case_differences
                    .iter()
                    .all(|d| allowance(d, kind).is_some())
            {
                gaps.push(format!("[{}] agrees now: remove its skiff_gap", case.name));
            } else {
                let first = case_failures
                    .first()
                    .map(|f| {
                        f.lines()
                            .find(|l| l.starts_with("error"))
                            .unwrap_or(f)
                            .to_string()
                    })
                    .or_else(|| case_differences.first().map(describe))
                    .unwrap_or_default();
                gaps.push(format!("[{}] {why}\n    {first}", case.name));
            }
            continue;
        }
        differences.extend(case_differences);
        failures.extend(case_failures);
        eprintln!("case {}: {:?}", case.name, case_start.elapsed());
    }
    let (allowed, unexplained): (Vec<_>, Vec<_>) = differences
        .iter()
        .partition(|d| allowance(d, kind).is_some());
    let mut report = String::new();
    for d in &allowed {
        let reason = allowance(d, kind).map(|a| a.reason).unwrap_or_default();
        writeln!(report, "allowed {}\n    because {reason}", describe(d)).unwrap();
    }
    for a in ALLOWED.iter().filter(|a| applies(a, kind)) {
        for item in a.items {
            let used = differences
                .iter()
                .any(|d| &d.item == item && allowance(d, kind).is_some_and(|m| std::ptr::eq(m, a)));
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
    for s in &skipped {
        writeln!(report, "skipped {s}").unwrap();
    }
    for g in &gaps {
        writeln!(report, "KNOWN GAP {g}").unwrap();
    }
    for d in &unexplained {
        writeln!(report, "DIFFERENT {}", describe(d)).unwrap();
    }
    for f in &failures {
        writeln!(report, "FAILED {f}").unwrap();
    }
    let name = reference.name();
    eprintln!(
        "{} cases against {name} in {:?}\n{report}",
        cases.len(),
        started.elapsed()
    );
    assert!(
        unexplained.is_empty() && failures.is_empty(),
        "skiff and {name} disagree ({} unexplained differences, {} failed builds):\n{report}",
        unexplained.len(),
        failures.len()
    );
}

/// One case's differences and failed builds.
fn run_case(reference: &ReferenceBuilder, case: &Case) -> (Vec<Difference>, Vec<String>) {
    let mut differences = Vec::new();
    let mut failures = Vec::new();
    match build_case(reference, case) {
        Ok((buildkit, skiff)) => {
            for path in case.built {
                if !buildkit.fs.exists(path) {
                    failures.push(format!("[{}] BuildKit's image lacks {path}", case.name));
                }
            }
            differences.extend(compare(case.name, &buildkit, &skiff));
            if case
                .args
                .iter()
                .any(|a| a.starts_with("SOURCE_DATE_EPOCH="))
            {
                differences.extend(compare_times(case.name, &buildkit, &skiff));
            }
        }
        Err(errors) => failures.extend(errors),
    }
    (differences, failures)
}

/// Builds one case with both builders at once (each mostly waits on its own runc and disk);
/// the errors name the builder that failed.
fn build_case(
    reference: &ReferenceBuilder,
    case: &Case,
) -> Result<(BuiltImage, BuiltImage), Vec<String>> {
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
    if let Some(setup) = case.setup {
        setup(&project);
    }
    // {UNIQUE}: new to each run (cache mount ids: the shared buildkitd keeps its caches).
    let unique = project
        .dir()
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let unique = unique.rsplit('-').next().unwrap_or_default().to_lowercase();
    project.dockerfile(&case.dockerfile.replace("{UNIQUE}", &unique));
    let mut args = reference.base_args();
    args.extend(
        case.args
            .iter()
            .map(|a| a.replace("{CONTEXT}", &project.dir().to_string_lossy())),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tag = format!("skiff-differential/{}", case.name);
    let (buildkit, skiff) = std::thread::scope(|scope| {
        let reference_build = scope.spawn(|| reference.build(project.dir(), &args, &tag));
        let skiff = skiff_build(&project, &args);
        (
            reference_build.join().expect("the reference build thread"),
            skiff,
        )
    });
    match (buildkit, skiff) {
        (Ok(buildkit), Ok(skiff)) => Ok((buildkit, skiff)),
        (buildkit, skiff) => {
            let mut errors = Vec::new();
            if let Err(e) = buildkit {
                errors.push(format!(
                    "[{}] {} build failed: {e:#}",
                    case.name,
                    reference.name()
                ));
            }
            if let Err(e) = skiff {
                errors.push(format!("[{}] skiff build failed: {e}", case.name));
            }
            Err(errors)
        }
    }
}

/// Whether an allowance applies against this reference: "20.10 only" ones do not against
/// the current BuildKit.
fn applies(a: &Allowed, kind: ReferenceKind) -> bool {
    a.only == Only::AnyBuildKit || kind == ReferenceKind::Dockerd2010
}

fn allowance(d: &Difference, kind: ReferenceKind) -> Option<&'static Allowed> {
    ALLOWED.iter().find(|a| {
        applies(a, kind)
            && (a.case == d.case || (a.case == "*" && history_text_only(d)))
            && a.items.contains(&d.item.as_str())
    })
}

/// Whether a difference is only in the text of one ARG, COPY/ADD or HEALTHCHECK entry (same
/// instruction on both sides): what the `*` allowance (`HISTORY_TEXTS`) covers.
fn history_text_only(d: &Difference) -> bool {
    let instruction = |text: &str| {
        let word = text
            .trim_start_matches('"')
            .split(' ')
            .next()
            .unwrap_or("")
            .to_string();
        ["ARG", "COPY", "ADD", "HEALTHCHECK"]
            .contains(&word.as_str())
            .then_some(word)
    };
    d.item.starts_with("history[")
        && instruction(&d.buildkit).is_some()
        && instruction(&d.buildkit) == instruction(&d.skiff)
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

/// The image's and each history entry's `created` time: compared only when the case sets
/// `SOURCE_DATE_EPOCH`, which makes them the same in both builders.
fn compare_times(case: &'static str, buildkit: &BuiltImage, skiff: &BuiltImage) -> Vec<Difference> {
    let times = |image: &BuiltImage| {
        let mut out = vec![("created".to_string(), image.config["created"].to_string())];
        for (i, entry) in image.config["history"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            out.push((
                format!("history[{i}].created"),
                entry["created"].to_string(),
            ));
        }
        out
    };
    let skiff_times: BTreeMap<String, String> = times(skiff).into_iter().collect();
    times(buildkit)
        .into_iter()
        .filter_map(|(item, b)| {
            let s = skiff_times.get(&item).cloned().unwrap_or("(absent)".into());
            (b != s).then_some(Difference {
                case,
                item,
                buildkit: b,
                skiff: s,
            })
        })
        .collect()
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
