//! No file of the workspace reaches itself through imports: within each crate, a file's
//! `crate::`/`super::` paths and its uses of its own child modules are its arrows, and no
//! chain of arrows leads back to where it started (a parent declaring its child modules
//! with `mod` is not an import; tests are left out). Read from the source, so a new circle
//! fails here. Crates cannot form circles with each other: cargo refuses them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["stage", "run"]`) → file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut segments: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if segments.last().is_some_and(|s| s == "mod" || s == "lib") {
                segments.pop();
            }
            found.insert(segments, path);
        }
    }
    found
}

/// The source without comments (doc links are not imports) and without `#[cfg(test)]` items.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut pending_test = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("");
        if line.trim() == "#[cfg(test)]" {
            pending_test = true;
            continue;
        }
        if pending_test && skip_depth.is_none() {
            pending_test = false;
            if line.trim_end().ends_with(';') {
                continue;
            }
            skip_depth = Some(depth);
        }
        let opens = line.matches('{').count();
        let closes = line.matches('}').count();
        depth = (depth + opens).saturating_sub(closes);
        match skip_depth {
            Some(d) if depth <= d && (opens > 0 || closes > 0) => skip_depth = None,
            Some(_) => {}
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Every path that starts with `crate::`, `super::` or one of `children` (the file's own
/// `mod` declarations, as `self::`), with use groups expanded one level deep per brace, as
/// segments (a child path starts with `self`).
fn paths(code: &str, children: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut starts = vec![
        "crate::".to_string(),
        "super::".to_string(),
        "self::".to_string(),
    ];
    starts.extend(children.iter().map(|c| format!("{c}::")));
    for start in &starts {
        let start = start.as_str();
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            rest = &rest[i..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                rest = &rest[start.len()..];
                continue;
            }
            let (mut prefix, after) = segments(rest);
            if !matches!(start, "crate::" | "super::" | "self::") {
                prefix.insert(0, "self".to_string());
            }
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let (more, _) = segments(item.trim());
                    let mut full = prefix.clone();
                    full.extend(more);
                    found.push(full);
                }
            } else {
                found.push(prefix);
            }
            rest = &rest[start.len()..];
        }
    }
    found
}

/// `a::b::c` at the start of `text`: its segments, and what follows.
fn segments(text: &str) -> (Vec<String>, &str) {
    let mut segs = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            return (segs, rest);
        }
        segs.push(rest[..end].to_string());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return (segs, rest),
        }
    }
}

/// The file a path lands in, as seen from module `here`: the longest module prefix.
fn target(path: &[String], here: &[String], mods: &BTreeMap<Vec<String>, PathBuf>) -> Vec<String> {
    let mut base: Vec<String> = Vec::new();
    let mut segs = path;
    if segs.first().is_some_and(|s| s == "crate") {
        segs = &segs[1..];
    } else if segs.first().is_some_and(|s| s == "self") {
        base = here.to_vec();
        segs = &segs[1..];
    } else {
        base = here.to_vec();
        while segs.first().is_some_and(|s| s == "super") {
            base.pop();
            segs = &segs[1..];
        }
    }
    let mut best = base.clone();
    for n in 1..=segs.len() {
        let mut candidate = base.clone();
        candidate.extend(segs[..n].iter().cloned());
        if mods.contains_key(&candidate) {
            best = candidate;
        }
    }
    best
}

/// The child modules a file declares (`mod name;`, `pub mod name;`, `pub(crate) mod name;`).
fn children(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub ")
                .or_else(|| line.strip_prefix("pub(crate) "));
            let rest = rest.unwrap_or(line).strip_prefix("mod ")?;
            rest.strip_suffix(';').map(|n| n.trim().to_string())
        })
        .collect()
}

/// The first import circle among `src`'s files, as a trail of module paths.
fn circle(src: &Path) -> Option<String> {
    let mods = modules(src);
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &mods {
        let code = code(&std::fs::read_to_string(file).unwrap());
        let deps = paths(&code, &children(&code))
            .iter()
            .map(|p| target(p, module, &mods))
            .filter(|t| t != module)
            .collect();
        graph.insert(module.clone(), deps);
    }
    let name = |m: &Vec<String>| {
        if m.is_empty() {
            "lib".to_string()
        } else {
            m.join("/")
        }
    };
    // Depth-first search for a path back to where it started.
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![name(start)])];
        let mut seen = BTreeSet::new();
        while let Some((node, trail)) = stack.pop() {
            for next in &graph[&node] {
                let mut trail = trail.clone();
                trail.push(name(next));
                if next == start {
                    return Some(trail.join(" → "));
                }
                if seen.insert(next.clone()) {
                    stack.push((next.clone(), trail));
                }
            }
        }
    }
    None
}

/// The workspace's crates: each member's `src`.
fn crate_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
}

#[test]
fn no_file_of_the_workspace_reaches_itself_through_imports() {
    let crates = crate_sources();
    assert!(
        crates.len() >= 6,
        "found the workspace's crates: {crates:?}"
    );
    let circles: Vec<String> = crates
        .iter()
        .filter_map(|src| circle(src).map(|c| format!("{}: {c}", src.display())))
        .collect();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("skiff-module-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(dir.join("b.rs"), "use super::a::A;\npub struct B;\n").unwrap();
    let found = circle(&dir);
    std::fs::write(dir.join("b.rs"), "pub struct B;\n").unwrap();
    let gone = circle(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(found.is_some_and(|c| c.contains('a') && c.contains('b')));
    assert_eq!(gone, None);
}
