//! The seed example on a CI fleet: machine A (the story's store) builds `Dockerfile.cache`
//! and exports its cache with the cache mounts' contents to the registry; machine B, a fresh
//! store with only `--cache-from`, rebuilds it with every step CACHED into the same image
//! without downloading the golang base image, and after an edit of `main.go` runs only the
//! steps after `COPY . .`, with `go build` finding Go's build cache that came from A.

use super::{append_to_main_go, Story, TEST};
use skiff_testkit::project::{BuildRun, BuiltImage, Project};
use skiff_testkit::store_check::blob_names;
use std::collections::BTreeSet;
use std::time::Instant;

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

const STEPS: [&str; 6] = [
    "WORKDIR /src",
    "COPY go.mod go.sum ./",
    "RUN --mount=type=cache,target=/go/pkg/mod go mod download",
    "COPY . .",
    "RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod CGO_ENABLED=0 go build -o /out/server .",
    "COPY --from=builder /out/server /server",
];

/// `steps` are `expected`, the progress having cut long ones (`go build -o /…`).
fn assert_steps(run: &BuildRun, steps: Vec<String>, expected: &[&str]) {
    let same = steps.len() == expected.len()
        && (steps.iter().zip(expected)).all(|(s, e)| e.starts_with(s.trim_end_matches('…')));
    assert!(same, "{steps:?} are not {expected:?}\n{}", run.report());
}

impl Story {
    /// The fleet story; `cold_go_build` is the seconds of a `go build` step without Go's build
    /// cache (the plain `Dockerfile` after an edit).
    pub(super) fn a_fresh_runner_rebuilds_from_the_registry_cache(
        &self,
        app: &Project,
        cold_go_build: f64,
    ) {
        let cache = self.registry.reference("go-server:buildcache");
        let to = format!("type=registry,ref={cache},mode=max,cache-mounts=true");
        let from = format!("type=registry,ref={cache}");
        let (exported, image_a) = self.build_cache_example(app, &["--cache-to", &to]);
        assert!(
            exported.stderr().contains("exported cache to"),
            "{}",
            exported.report()
        );

        // Machine B: the same sources, an empty store, the cache in the registry.
        let b = Project::new();
        for entry in std::fs::read_dir(app.dir()).expect("A's context").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            b.write(
                &name,
                std::fs::read(entry.path()).expect("a file of A's context"),
            );
        }
        let (run, image_b) = self.build_cache_example(&b, &["--cache-from", &from]);
        run.assert_executed(&[]);
        assert_steps(&run, run.cached_instructions(), &STEPS);
        assert_eq!(image_b.digest, image_a.digest, "the same image on A and B");
        let base_layers = self.golang_layers(app);
        let blobs_b = blob_names(b.store());
        let fetched: BTreeSet<&String> = base_layers.intersection(&blobs_b).collect();
        assert!(
            fetched.is_empty(),
            "B downloaded the golang base image's layers {fetched:?}"
        );

        append_to_main_go(&b, "edited on runner B");
        let started = Instant::now();
        let (run, _) = self.build_cache_example(&b, &["--cache-from", &from]);
        let fleet_edit = started.elapsed();
        assert_steps(&run, run.executed_instructions(), &STEPS[3..]);
        let go_build = run
            .step_seconds("go build")
            .expect("the go build step's time");
        eprintln!(
            "[{TEST}] fresh runner B after editing main.go: {fleet_edit:.1?} (golang base fetched); \
             its go build step {go_build:.1}s, a go build without Go's build cache {cold_go_build:.1}s"
        );
        // Go's build cache from A: the step recompiles one package, not the standard library.
        assert!(
            go_build * 2.0 < cold_go_build,
            "go build on B must find the build cache exported by A\n{}",
            run.report()
        );
    }

    /// `Dockerfile.cache` of `p` built with `SOURCE_DATE_EPOCH` and `extra` flags.
    fn build_cache_example(&self, p: &Project, extra: &[&str]) -> (BuildRun, BuiltImage) {
        let mut args: Vec<String> = self.cache_dockerfile_args(p).to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p.build_image_env(&args, &[EPOCH])
    }

    /// The golang base image's layer digests (hex), as A's store has them.
    fn golang_layers(&self, app: &Project) -> BTreeSet<String> {
        let reference = self.registry.reference("golang:1.19-bookworm");
        let out = app
            .skiff()
            .args(["inspect", "--raw", &reference])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let inspected: skiff_testkit::serde_json::Value =
            skiff_testkit::serde_json::from_slice(&out.stdout).unwrap();
        let layers = inspected["Manifest"]["layers"].as_array().unwrap();
        assert!(!layers.is_empty());
        layers
            .iter()
            .map(|l| l["digest"].as_str().unwrap()[7..].to_string())
            .collect()
    }
}
