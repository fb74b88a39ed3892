//! Many builds at once on one store, black-box through the binary (issue 17, item 4): four
//! different builds and four identical ones start together while `skiff prune` runs in a loop.
//! Every build succeeds with the right content, the identical ones give one digest
//! (`SOURCE_DATE_EPOCH`), prune removes nothing they use, and the store stays consistent.

use skiff_testkit::command::run_ok;
use skiff_testkit::project::{BuiltImage, Project};
use skiff_testkit::store_check::problems;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

/// The Dockerfile of the four identical builds.
const SAME: &str =
    "FROM busybox\nCOPY same.txt /s\nRUN sha256sum /s > /sum && mkdir /d && cp /s /d/\n";

/// A different build: its own file, and a RUN that takes a moment so that the builds overlap.
fn different(store: &Project, i: usize) -> Project {
    let p = Project::with_store(store.store());
    p.write("f.txt", format!("different {i}\n"));
    p.dockerfile(&format!(
        "FROM busybox\nCOPY f.txt /f\nRUN sleep 1 && cat /f > /g && echo k{i} >> /g\n"
    ));
    p
}

fn identical(store: &Project) -> Project {
    let p = Project::with_store(store.store());
    p.write("same.txt", "the same input\n");
    p.dockerfile(SAME);
    p
}

/// `skiff save --format oci` of a stored image, read back with every blob verified.
fn saved(p: &Project, name: &str) -> BuiltImage {
    let file = p.scratch_path("saved.tar");
    run_ok(
        p.skiff()
            .args(["save", "--format", "oci", "-o"])
            .arg(&file)
            .arg(name),
    );
    BuiltImage::open(&file).unwrap_or_else(|e| panic!("{name} is not whole: {e:#}"))
}

#[test]
fn eight_builds_at_once_with_prune_running_all_succeed_and_identical_ones_agree() {
    if !skiff_testkit::require_tool("runc") {
        return;
    }
    let owner = Project::new();
    let projects: Vec<(String, Project)> = (0..4)
        .map(|i| (format!("different/{i}:1"), different(&owner, i)))
        .chain((0..4).map(|i| (format!("identical/{i}:1"), identical(&owner))))
        .collect();
    let building = AtomicBool::new(true);
    let prunes = AtomicUsize::new(0);
    let started = Instant::now();
    let images: Vec<BuiltImage> = std::thread::scope(|s| {
        let pruner = s.spawn(|| {
            while building.load(Ordering::SeqCst) {
                run_ok(owner.skiff().arg("prune"));
                prunes.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let builds: Vec<_> = projects
            .iter()
            .map(|(name, p)| {
                let args = ["-o", "type=image", "-t", name.as_str()];
                s.spawn(move || p.build_image_env(&args, &[EPOCH]).1)
            })
            .collect();
        let images = builds.into_iter().map(|b| b.join().unwrap()).collect();
        building.store(false, Ordering::SeqCst);
        pruner.join().unwrap();
        images
    });
    eprintln!(
        "8 builds at once with {} prunes in {:?}",
        prunes.load(Ordering::SeqCst),
        started.elapsed()
    );
    assert!(prunes.load(Ordering::SeqCst) >= 1, "prune never ran");
    for (i, image) in images[..4].iter().enumerate() {
        assert_eq!(image.fs.read_string("/g"), format!("different {i}\nk{i}\n"));
    }
    let digests: Vec<&str> = images[4..].iter().map(|i| i.digest.as_str()).collect();
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "identical builds gave different images: {digests:?}"
    );
    let sum = images[4].fs.read_string("/sum");
    assert!(sum.ends_with("  /s\n"), "{sum}");
    assert_eq!(images[4].fs.read_string("/d/s"), "the same input\n");

    // Nothing the builds made was collected: a last prune, then every image is whole and the
    // store consistent.
    run_ok(owner.skiff().arg("prune"));
    assert_eq!(problems(owner.store()), Vec::<String>::new());
    for (k, (name, _)) in projects.iter().enumerate() {
        assert_eq!(saved(&owner, name).digest, images[k].digest, "{name}");
    }
}
