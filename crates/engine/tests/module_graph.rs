//! The engine's files import each other one way: no file reaches itself through the
//! `crate::`/`super::` paths of other files (a parent declaring its child modules with `mod`
//! is not an import). Read from the source, so a new circle fails here.

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

/// Every path that starts with `crate::` or `super::` (use groups expanded one level deep
/// per brace), as segments.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            rest = &rest[i..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                rest = &rest[start.len()..];
                continue;
            }
            let (prefix, after) = segments(rest);
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

#[test]
fn no_engine_file_reaches_itself_through_imports() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    assert!(mods.len() > 20, "found the engine's files: {mods:?}");
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &mods {
        let code = code(&std::fs::read_to_string(file).unwrap());
        let deps = paths(&code)
            .iter()
            .map(|p| target(p, module, &mods))
            .filter(|t| t != module && !module.is_empty() && !t.is_empty())
            .collect();
        graph.insert(module.clone(), deps);
    }
    // Depth-first search for a path back to where it started.
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.join("/")])];
        let mut seen = BTreeSet::new();
        while let Some((node, trail)) = stack.pop() {
            for next in &graph[&node] {
                let mut trail = trail.clone();
                trail.push(next.join("/"));
                assert!(next != start, "import circle: {}", trail.join(" → "));
                if seen.insert(next.clone()) {
                    stack.push((next.clone(), trail));
                }
            }
        }
    }
}
