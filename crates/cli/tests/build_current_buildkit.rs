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

/// Case `add-archive-members`.
#[test]
fn archive_members_go_through_symlinks_clamped_to_the_extraction_directory() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("d/elsewhere")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", p.path("d/imglink")).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, link: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(if kind.is_dir() { 0o700 } else { 0o644 });
        h.set_size(data.len() as u64);
        if kind.is_symlink() {
            tar.append_link(&mut h, path, link).unwrap();
        } else {
            tar.append_data(&mut h, path, data).unwrap();
        }
    };
    add("./", tar::EntryType::Directory, "", b"");
    add("target-abs/", tar::EntryType::Directory, "", b"");
    add("abs", tar::EntryType::Symlink, "/target-abs", b"");
    add("up", tar::EntryType::Symlink, "../../..", b"");
    add("abs/through-abs", tar::EntryType::Regular, "", b"abs\n");
    add("up/escaped", tar::EntryType::Regular, "", b"clamped\n");
    add(
        "imglink/through-image",
        tar::EntryType::Regular,
        "",
        b"image\n",
    );
    std::fs::write(p.path("members.tar"), tar.into_inner().unwrap()).unwrap();
    p.dockerfile("FROM busybox\nCOPY d/ /un/\nADD members.tar /un/\n");
    let (run, image) = p.build_image(&[]);
    // Absolute links resolve with /un as the root, `..` stops at it.
    assert_eq!(
        image.fs.read_string("/un/target-abs/through-abs"),
        "abs\n",
        "{}",
        run.report()
    );
    assert_eq!(image.fs.read_string("/un/escaped"), "clamped\n");
    assert_eq!(
        image.fs.read_string("/un/elsewhere/through-image"),
        "image\n"
    );
    assert!(!image.fs.exists("/escaped") && !image.fs.exists("/target-abs"));
    // The archive's root entry (`./`, mode 0700) leaves the destination as it was.
    assert_eq!(image.fs.entry("/un").mode, 0o755);
}

/// Case `dockerignore-reincludes`.
#[test]
fn an_excluded_directory_with_reincluded_entries_can_be_named() {
    let p = Project::new();
    p.write("docs/README.md", "readme\n")
        .write("docs/other.txt", "other\n")
        .write("docs/deep/a.md", "a\n")
        .write(".dockerignore", "docs\n!docs/README.md\n!docs/deep/*.md\n");
    p.dockerfile("FROM busybox\nCOPY docs /docs-dir/\nCOPY doc* /docs-glob/\n");
    let (run, image) = p.build_image(&[]);
    for dir in ["/docs-dir", "/docs-glob"] {
        assert_eq!(
            image.fs.read_string(&format!("{dir}/README.md")),
            "readme\n",
            "{}",
            run.report()
        );
        assert_eq!(image.fs.read_string(&format!("{dir}/deep/a.md")), "a\n");
        assert!(!image.fs.exists(&format!("{dir}/other.txt")));
    }
    // An excluded directory with nothing re-included is still out of the context.
    p.write(".dockerignore", "docs\n");
    p.build(&[]).assert_failed_with("excluded by .dockerignore");
}
