//! Rules skiff takes from current BuildKit (v0.26) where dockerd 20.10's BuildKit differs,
//! through `skiff build` (issue #12 item 1); each was checked against the reference BuildKit
//! (`SKIFF_REFERENCE=buildkit`, the differential test's case named in each test).

use skiff_testkit::project::{Kind, Project};

/// The history's `created_by` texts, base entry left out.
fn texts(image: &skiff_testkit::project::BuiltImage) -> Vec<String> {
    image
        .history()
        .into_iter()
        .skip(1)
        .map(|(t, _)| t)
        .collect()
}

/// Case `destinations-cleaned-lexically`.
#[test]
fn destinations_are_cleaned_lexically_before_they_are_resolved() {
    let p = Project::new();
    p.write("keep", "k\n").write("a.txt", "a\n");
    std::fs::create_dir(p.path("d")).unwrap();
    std::os::unix::fs::symlink("/real/deep", p.path("d/link")).unwrap();
    p.dockerfile(concat!(
        "FROM busybox\n",
        "COPY keep /real/deep/keep\n",
        "COPY d/ /\n",
        "COPY a.txt /link/../cleaned/\n",
    ));
    let (run, image) = p.build_image(&[]);
    assert_eq!(
        image.fs.entry("/link").kind,
        Kind::Symlink("/real/deep".into())
    );
    // `/link/..` is `/`, whatever `/link` points at.
    assert_eq!(image.fs.read_string("/cleaned/a.txt"), "a\n");
    assert!(!image.fs.exists("/real/cleaned"), "{}", run.report());
}

/// Case `workdir-as-written-and-owner`.
#[test]
fn workdir_is_kept_as_written_and_owned_as_a_file_operation() {
    let p = Project::new();
    p.dockerfile(concat!(
        "FROM busybox\n",
        "USER nosuchuser\n",
        "WORKDIR /unresolved/a\n",
        "USER 1234\n",
        "WORKDIR /numeric/parent/child/\n",
    ));
    let (run, image) = p.build_image(&[]);
    assert_eq!(
        image.runtime_config()["WorkingDir"],
        "/numeric/parent/child/",
        "{}",
        run.report()
    );
    let texts = texts(&image);
    assert!(
        texts.contains(&"WORKDIR /numeric/parent/child/".to_string()),
        "{texts:?}"
    );
    // A name the image's passwd lacks: 0:0, not an error (BuildKit's file operations).
    let unresolved = image.fs.entry("/unresolved/a");
    assert_eq!((unresolved.uid, unresolved.gid), (0, 0));
    // A numeric user without a group: gid = uid, the missing parents too.
    for dir in ["/numeric", "/numeric/parent", "/numeric/parent/child"] {
        let e = image.fs.entry(dir);
        assert_eq!((e.uid, e.gid), (1234, 1234), "{dir}");
    }
}

/// Cases `arg-default-not-evaluated-when-overridden` and `history-texts`.
#[test]
fn arg_history_shows_the_value_taken_and_an_overridden_default_is_not_evaluated() {
    let p = Project::new();
    p.dockerfile(concat!(
        "ARG G=${UNSET:?global-default-not-evaluated}\n",
        "FROM busybox\n",
        "ARG G\n",
        "ARG B=${A:?default-not-evaluated}\n",
        "ARG C=c-default\n",
        "ARG D\n",
        "LABEL b=$B g=$G\n",
    ));
    let (run, image) = p.build_image(&["--build-arg", "B=given", "--build-arg", "G=global"]);
    assert_eq!(
        texts(&image)[..4],
        ["ARG G=global", "ARG B=given", "ARG C=c-default", "ARG D"],
        "{}",
        run.report()
    );
    assert_eq!(image.runtime_config()["Labels"]["b"], "given");
    // Without the override, the default is evaluated and fails.
    let failed = p.build(&["--build-arg", "G=global"]);
    failed.assert_failed_with("default-not-evaluated");
}

/// Case `created-dirs-setgid-chmod-chown` and the general cases' COPY texts.
#[test]
fn copy_history_shows_chown_chmod_and_parents_flags() {
    let p = Project::new();
    p.write("a.txt", "a\n");
    p.dockerfile(concat!(
        "FROM busybox\n",
        "COPY --chown=1:2 --chmod=640 a.txt /a\n",
        "ADD --chown=3 a.txt /b\n",
        "COPY --link a.txt /c\n",
        "COPY --parents a.txt /p/\n",
    ));
    let (run, image) = p.build_image(&[]);
    assert_eq!(
        texts(&image),
        [
            "COPY --chown=1:2 --chmod=640 a.txt /a # buildkit",
            "ADD --chown=3 a.txt /b # buildkit",
            "COPY a.txt /c # buildkit",
            "COPY --parents a.txt /p/ # buildkit",
        ],
        "{}",
        run.report()
    );
}
