//! Inputs that crashed the parser (found while fuzzing, see `docs/fuzzing.md`), one file each
//! under `tests/fuzz_regressions/`. Each is parsed (and dumped when accepted) on a thread
//! with a 2 MiB stack — Rust's default for spawned threads and tokio's for its workers, where
//! the parser will run — and must come back with `Ok` or `Err`: no panic, and no stack
//! overflow (which aborts this whole test binary rather than failing one assertion).

use std::path::Path;

#[test]
fn every_regression_input_parses_without_crashing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    let mut crashed = Vec::new();
    for path in inputs {
        let text =
            String::from_utf8_lossy(&std::fs::read(&path).expect("readable input")).into_owned();
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                if let Ok(dockerfile) = skiff_frontend::parse(&text) {
                    skiff_frontend::dump::dump(&dockerfile);
                }
            })
            .expect("spawn parser thread")
            .join();
        if outcome.is_err() {
            crashed.push(path.display().to_string());
        }
    }
    assert!(crashed.is_empty(), "the parser panicked on: {crashed:?}");
}
