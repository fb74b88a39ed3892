//! The build checks never panic: every Dockerfile of BuildKit's parser corpus (the shared
//! conformance folder, read at test time) and every fuzz regression input is checked, for the
//! default target and for all stages, with a `.dockerignore` that excludes everything, and must
//! come back with a report.

use skiff_frontend::lint::{self, IgnoreRules, LintOptions};
use std::path::{Path, PathBuf};

fn corpus_files() -> Vec<PathBuf> {
    let base = match std::env::var_os("SKIFF_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/conformance"
        )),
    };
    let mut files = Vec::new();
    for dir in [
        "buildkit-parser/testfiles",
        "buildkit-parser/testfiles-negative",
    ] {
        let dir = base.join(dir);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "BuildKit parser corpus not found at {} ({e}) — set SKIFF_CONFORMANCE_DIR",
                dir.display()
            )
        });
        files.extend(entries.map(|e| e.expect("corpus entry").path().join("Dockerfile")));
    }
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    files.extend(
        std::fs::read_dir(&fuzz)
            .expect("fuzz regressions")
            .map(|e| e.expect("fuzz entry").path()),
    );
    files.sort();
    files
}

#[test]
fn checks_never_panic_on_the_corpus() {
    let files = corpus_files();
    assert!(files.len() > 30, "only {} inputs", files.len());
    let mut crashed = Vec::new();
    let mut findings = 0;
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let everything = |_: &str| true;
                let mut n = 0;
                for all_stages in [false, true] {
                    let options = LintOptions {
                        all_stages,
                        ignore: Some(IgnoreRules::new("*\n", &everything)),
                        ..LintOptions::default()
                    };
                    n += lint::check(&text, &options).findings.len();
                }
                n
            })
            .expect("spawn a checking thread")
            .join();
        match outcome {
            Ok(n) => findings += n,
            Err(_) => crashed.push(path.display().to_string()),
        }
    }
    assert!(crashed.is_empty(), "the checks panicked on: {crashed:?}");
    assert!(findings > 0, "the corpus gave no finding at all");
}
