//! Any `.dockerignore` text and paths through the matcher: no panic, and its two answers agree
//! (a directory the walker may skip holds only excluded paths).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_engine::Matcher;

fuzz_target!(|data: &[u8]| {
    // The patterns, then NUL, then paths separated by newlines.
    let text = String::from_utf8_lossy(data);
    let (patterns, paths) = text
        .split_once('\0')
        .unwrap_or((&text, "a/b/c\nx\n.git/config"));
    let Ok(matcher) = Matcher::parse(patterns) else {
        return;
    };
    let list: Vec<&str> = patterns.lines().collect();
    let _ = Matcher::from_patterns(&list);
    for path in paths.lines() {
        let excluded = matcher.is_excluded(path, false);
        let mut dir = path;
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if !parent.is_empty() && !matcher.may_include_under(parent) {
                assert!(
                    excluded,
                    "{path:?} is kept but the walker would skip {parent:?}; patterns {patterns:?}"
                );
            }
            dir = parent;
        }
    }
});
