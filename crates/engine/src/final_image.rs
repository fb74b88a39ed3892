//! What the build learns from its final image before it is exported: the verification of its
//! root filesystem (`skiff_image::verify`: would it start?) and the facts of the size report
//! (its unpacked size and largest files, its largest layers, the largest stage it was built
//! from). The final layers are mounted read-only once for both; no container is started.

use crate::schedule::Board;
use crate::scratch::WorkDir;
use crate::state::ImageState;
use crate::view::View;
use anyhow::{bail, Result};
use skiff_frontend::graph::Plan;
use skiff_frontend::instructions::Command;
use skiff_frontend::lint::CheckConfig;
use skiff_frontend::Dockerfile;
use skiff_image::verify::{verify, ImageFacts, Problem};
use skiff_image::Store;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `--verify`: what a problem found in the final image does to the build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifyMode {
    /// Reported as warnings after the build (the default).
    #[default]
    Warn,
    /// The build fails, before the image is named or exported.
    Error,
    /// Not verified.
    Off,
}

/// How many layers and files the size report lists.
const TOP: usize = 3;

/// What the build found out about its final image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalReport {
    /// What would stop or break the image at run time (empty with `--verify=off`).
    pub problems: Vec<Problem>,
    /// The compressed size of its layers, in bytes.
    pub compressed: u64,
    /// The size of its files, unpacked.
    pub unpacked: u64,
    /// The largest stage built for it other than the final one (`builder`, compressed bytes).
    pub largest_stage: Option<(String, u64)>,
    /// The largest layers: the instruction that made each and its compressed size.
    pub largest_layers: Vec<(String, u64)>,
    /// The largest files of the final image: path and size.
    pub largest_files: Vec<(String, u64)>,
}

/// Reads the target's final state (before it is committed under its name). The rules named
/// in the Dockerfile's `# check=skip=…` (or the `BUILDKIT_DOCKERFILE_CHECK` build arg) are
/// not reported.
pub(crate) fn inspect(
    store: &Store,
    state: &ImageState,
    (plan, board): (&Plan, &Board),
    dockerfile: &Dockerfile,
    build_args: &[(String, String)],
    mode: VerifyMode,
) -> Result<FinalReport> {
    let mut report = FinalReport {
        compressed: state.layers.iter().map(|l| l.size()).sum(),
        largest_layers: largest_layers(state),
        largest_stage: largest_stage(plan, board),
        ..FinalReport::default()
    };
    // `--verify=off` reads nothing of the final image: the report keeps what the manifest
    // and the stages tell (no unpacked size, no largest files).
    if mode == VerifyMode::Off {
        return Ok(report);
    }
    let key = record_key(state, plan, dockerfile);
    let recorded = store.verified_get(&key);
    let found = match recorded.and_then(|v| serde_json::from_value::<Found>(v).ok()) {
        Some(found) => found,
        None => match read_final(store, state, plan, mode)? {
            Ok(found) => {
                let layers: Vec<_> = state.layers.iter().map(|l| l.digest().clone()).collect();
                // A record that cannot be written only costs the next build a second look.
                let _ = store.verified_put(&key, &layers, serde_json::to_value(&found)?);
                found
            }
            Err(not_verified) => {
                report.problems.push(not_verified);
                return Ok(report);
            }
        },
    };
    report.unpacked = found.unpacked;
    report.largest_files = found.largest_files;
    report.problems = found.problems;
    let skipped = skipped_rules(dockerfile, build_args);
    report.problems.retain(|p| !skipped.contains(&p.rule));
    if mode == VerifyMode::Error && !report.problems.is_empty() {
        let list: Vec<String> = (report.problems.iter())
            .map(|p| format!("{}: {}", p.rule, p.message))
            .collect();
        bail!(
            "the final image would not run (--verify=error):\n  {}",
            list.join("\n  ")
        );
    }
    Ok(report)
}

/// What reading the final image found, kept in the store's `verified/` records: a fully
/// cached rebuild makes the same final image and finds it there instead of mounting it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Found {
    unpacked: u64,
    largest_files: Vec<(String, u64)>,
    /// Every problem, before `# check=skip=` is applied (that is the build's to choose).
    problems: Vec<Problem>,
}

/// Bump when what verification finds or how it words it changes: records made by an older
/// skiff are then not read.
const RECORD_VERSION: u32 = 1;

/// The record's key: everything [`Found`] depends on. The layers and the config are the image;
/// the stages' bases and the Dockerfile make the messages' "built in stage …".
fn record_key(state: &ImageState, plan: &Plan, dockerfile: &Dockerfile) -> String {
    use sha2::{Digest as _, Sha256};
    let layers: Vec<String> = state
        .layers
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    let bases: Vec<&str> = plan.stages.iter().map(|s| s.base_name.as_str()).collect();
    let document = serde_json::json!({
        "version": RECORD_VERSION,
        "skiff": env!("CARGO_PKG_VERSION"),
        "layers": layers,
        "config": &state.config,
        "bases": bases,
        "target": plan.target,
        "dockerfile": &dockerfile.source,
    });
    hex::encode(Sha256::digest(document.to_string()))
}

/// Mounts the final layers read-only and reads them; `Ok(Err(NotVerified))` when they cannot
/// be mounted and the build goes on (`--verify=warn`).
fn read_final(
    store: &Store,
    state: &ImageState,
    plan: &Plan,
    mode: VerifyMode,
) -> Result<std::result::Result<Found, Problem>> {
    // An image without layers is an empty directory.
    let empty;
    let view;
    let root: &Path = if state.layers.is_empty() {
        empty = WorkDir::new(store, "verify-")?;
        empty.path()
    } else {
        match View::mount(store, &state.layers) {
            Ok(mounted) => {
                view = mounted;
                view.root()
            }
            // A build that worked does not fail because its result cannot be looked at.
            Err(err) if mode != VerifyMode::Error => {
                return Ok(Err(Problem {
                    rule: "NotVerified".into(),
                    message: format!("the final image could not be read to verify it: {err:#}"),
                    hint: "run the build as root, or pass --verify=off".to_string(),
                }));
            }
            Err(err) => return Err(err),
        }
    };
    let mut files = Vec::new();
    walk(
        root,
        root,
        &mut std::collections::HashSet::new(),
        &mut files,
    );
    let unpacked = files.iter().map(|(_, size)| size).sum();
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    files.truncate(TOP);
    Ok(Ok(Found {
        unpacked,
        largest_files: files,
        problems: verify_root(root, state, plan),
    }))
}

/// The rules `skip=` names (not `skip=all`, which is about the Dockerfile's checks).
fn skipped_rules(dockerfile: &Dockerfile, build_args: &[(String, String)]) -> Vec<String> {
    let from_arg = (build_args.iter().rev())
        .find(|(k, _)| k == "BUILDKIT_DOCKERFILE_CHECK")
        .map(|(_, v)| v.as_str());
    let from_file = || {
        (dockerfile.directives.iter())
            .find(|d| d.name == "check")
            .map(|d| d.value.as_str())
    };
    (from_arg.or_else(from_file))
        .and_then(|text| CheckConfig::parse(text).ok())
        .map(|config| config.skip)
        .unwrap_or_default()
}

fn verify_root(root: &Path, state: &ImageState, plan: &Plan) -> Vec<Problem> {
    let config = &state.config.config;
    let origin = |path: &str| origin(plan, path);
    let facts = ImageFacts {
        entrypoint: config.entrypoint.as_deref().unwrap_or_default(),
        cmd: config.cmd.as_deref().unwrap_or_default(),
        env: &config.env,
        user: Some(config.user.as_str()),
        working_dir: Some(config.working_dir.as_str()).filter(|w| !w.is_empty()),
        architecture: &state.config.architecture,
        origin: &origin,
    };
    verify(root, &facts)
}

/// The stage (with its base) a path of the final image was copied from by a `COPY --from`
/// of the target stage: the destination is the path, or the directory it is in.
fn origin(plan: &Plan, path: &str) -> Option<String> {
    let target = plan.stages.iter().find(|s| s.index == plan.target)?;
    let (dir, _) = path.rsplit_once('/')?;
    let from = target
        .instructions
        .iter()
        .rev()
        .find_map(|i| match &i.command {
            Command::Copy(c) => {
                let dest = c.paths.dest.value.trim_start_matches('.');
                let hit = if dest.ends_with('/') {
                    dir.ends_with(dest.trim_end_matches('/'))
                } else {
                    path.ends_with(dest) && !dest.is_empty()
                };
                hit.then(|| c.from.as_ref().map(|w| w.value.clone()))?
            }
            _ => None,
        })?;
    let stage = plan.stages.iter().find(|s| {
        s.name.as_deref() == Some(from.to_lowercase().as_str()) || s.index.to_string() == from
    });
    Some(match stage {
        Some(s) => format!("`{}` ({})", s.label(), s.base_name),
        None => format!("`{from}`"),
    })
}

/// The layers by size, largest first, with the instruction that made each.
fn largest_layers(state: &ImageState) -> Vec<(String, u64)> {
    let made_by = state
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .map(|h| h.created_by.clone().unwrap_or_default());
    let mut layers: Vec<(String, u64)> = made_by
        .zip(state.layers.iter().map(|l| l.size()))
        .map(|(by, size)| (short_instruction(&by), size))
        .collect();
    layers.sort_by_key(|l| std::cmp::Reverse(l.1));
    layers.truncate(TOP);
    layers
}

/// `RUN /bin/sh -c go build … # buildkit` as `RUN go build …`, cut to a line's width.
fn short_instruction(created_by: &str) -> String {
    let text = created_by.trim_end_matches(" # buildkit");
    let text = text.replace("/bin/sh -c ", "");
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

/// The largest stage built other than the target, by the compressed size of its layers.
fn largest_stage(plan: &Plan, board: &Board) -> Option<(String, u64)> {
    (plan.stages.iter())
        .filter(|s| s.index != plan.target)
        .filter_map(|s| {
            let state = board.result(s.index).ok()?;
            Some((s.label(), state.layers.iter().map(|l| l.size()).sum()))
        })
        .max_by_key(|(_, size)| *size)
}

/// Every regular file under `dir` with its size (paths as the image sees them); a file with
/// several hard links counts once.
fn walk(root: &Path, dir: &Path, seen: &mut HashSet<(u64, u64)>, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let path = entry.path();
        if meta.is_dir() {
            walk(root, &path, seen, out);
        } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push((format!("/{}", rel.display()), meta.len()));
        }
    }
}
