//! What `skiff_engine::build` fails with, through the public API: typed errors, not strings.

use skiff_engine::{build, BuildError, BuildOptions, Mode, NamedContext, Progress, RunFailed};
use skiff_image::Store;
use skiff_testkit::busybox::{busybox_layout, LAYOUT_TAG};
use skiff_testkit::tools::{in_ci, require_tool};

/// Builds `dockerfile` (with `busybox` naming the testkit's busybox image) in a fresh store.
fn build_dockerfile(dockerfile: &str) -> Result<(), BuildError> {
    let context = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let layout = busybox_layout().expect("the busybox image layout");
    let options = BuildOptions {
        context: context.path().to_path_buf(),
        dockerfile_path: context.path().join("Dockerfile"),
        dockerfile: dockerfile.to_string(),
        named_contexts: vec![(
            "busybox".into(),
            NamedContext::OciLayout(layout, Some(LAYOUT_TAG.into())),
        )],
        ..Default::default()
    };
    let progress = Progress::to_writer(Mode::Quiet, Box::new(std::io::sink()));
    build(&store, options, progress).map(|_| ())
}

fn can_run_steps() -> bool {
    if !rustix::process::geteuid().is_root() {
        assert!(!in_ci(), "CI must not skip tests: they need root");
        eprintln!("SKIPPED: RUN steps need root");
        return false;
    }
    require_tool("runc")
}

#[test]
fn a_failing_run_is_a_step_error_with_its_place_and_typed_exit_code() {
    if !can_run_steps() {
        return;
    }
    let err = build_dockerfile("FROM busybox\nRUN echo hi\nRUN exit 3\n").unwrap_err();
    let BuildError::Step { step, span, source } = &err else {
        panic!("not a step error: {err:?}");
    };
    assert_eq!(span.line, 3, "{err}");
    assert_eq!(
        *step,
        Some(3),
        "FROM and the first RUN are steps 1 and 2: {err}"
    );
    let failed = source
        .downcast_ref::<RunFailed>()
        .unwrap_or_else(|| panic!("the cause is not a RunFailed: {source:?}"));
    assert_eq!(failed.exit_code, 3);
    let diagnostic = err.diagnostic().expect("a step error has a place");
    assert!(
        diagnostic.message.contains("exit code: 3"),
        "{}",
        diagnostic.message
    );
}

#[test]
fn a_dockerfile_error_is_a_dockerfile_diagnostic() {
    let err = build_dockerfile("FROM busybox\nFROBNICATE x\n").unwrap_err();
    let BuildError::Dockerfile(d) = &err else {
        panic!("not a Dockerfile error: {err:?}");
    };
    assert_eq!(d.span.map(|s| s.line), Some(2), "{err}");
}
