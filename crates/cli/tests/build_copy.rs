//! COPY through `skiff build`, checked inside the built image: sources from the context, a
//! stage, an image or a heredoc; wildcards, directory contents, destination rules; `--chown`,
//! `--chmod`, `--link`, `--parents`, `--exclude`; symlinks; `.dockerignore`; the security
//! rules (nothing read outside the context or a stage, nothing written outside the rootfs);
//! and the stat cache behind the context checksum.
//!
//! BuildKit's rules these tests pin (tonistiigi/fsutil `copy`, dockerfile2llb):
//! * a directory source copies its contents; a missing destination directory is created
//!   0755 (owned by `--chown`), an existing one keeps its metadata;
//! * a wildcard that matches nothing copies nothing (no error), but a plain path must exist;
//! * a source named in the Dockerfile is followed when it is a symlink (inside its tree);
//!   symlinks inside a copied directory stay symlinks;
//! * `--chown=name` takes the user's primary group, `--chown=N` means `N:N`.

mod copy_helpers;

use copy_helpers::{dir, file, write_users};
use skiff_testkit::project::{BuiltImage, Project};
use skiff_testkit::reference_builder::ReferenceBuilder;
use skiff_testkit::require_tool;
use std::os::unix::fs::symlink;

#[test]
fn files_directories_and_wildcards() {
    let p = Project::new();
    p.write("a.go", "package a\n")
        .write("b.go", "package b\n")
        .write("c.txt", "c\n")
        .write_mode("dir/x.sh", "#!/bin/sh\n", 0o755)
        .write("dir/sub/y", "y\n")
        .write("q1.txt", "1")
        .write("q2.txt", "2")
        .write("q10.txt", "10")
        .write("ab.md", "a")
        .write("bb.md", "b")
        .write("db.md", "d");
    p.chmod("dir", 0o700);
    p.dockerfile(
        "FROM busybox\n\
         COPY *.go /wild/\n\
         COPY dir /contents\n\
         COPY dir/* /star/\n\
         COPY q?.txt /q/\n\
         COPY [a-c]b.md /class/\n\
         COPY c.txt /renamed.txt\n\
         COPY c.txt /new/parents/\n\
         COPY nomatch*.txt /empty/\n",
    );
    let (run, image) = p.build_image(&[]);
    assert!(
        run.stderr()
            .contains("nomatch*.txt: the wildcard matches nothing"),
        "{}",
        run.report()
    );
    assert_eq!(image.fs.children("/wild"), ["a.go", "b.go"]);
    assert_eq!(
        file(&image, "/wild/a.go"),
        ("package a\n".into(), 0o644, 0, 0)
    );
    // Directory contents, not the directory itself; the new destination is 0755.
    assert_eq!(image.fs.children("/contents"), ["sub", "x.sh"]);
    assert_eq!(dir(&image, "/contents"), (0o755, 0, 0));
    assert_eq!(file(&image, "/contents/x.sh").1, 0o755);
    assert_eq!(file(&image, "/contents/sub/y").0, "y\n");
    // `dir/*` matches the directory `sub`, whose contents land in /star.
    assert_eq!(image.fs.children("/star"), ["x.sh", "y"]);
    assert_eq!(image.fs.children("/q"), ["q1.txt", "q2.txt"]);
    assert_eq!(image.fs.children("/class"), ["ab.md", "bb.md"]);
    assert_eq!(file(&image, "/renamed.txt").0, "c\n");
    assert_eq!(dir(&image, "/new"), (0o755, 0, 0));
    assert_eq!(file(&image, "/new/parents/c.txt").0, "c\n");
    // An empty wildcard copies nothing, not even the destination directory (as BuildKit).
    assert!(!image.fs.exists("/empty"));
}

#[test]
fn destination_rules() {
    let p = Project::new();
    p.write("c.txt", "c\n").write("d/one", "1").write("e", "e");
    p.dockerfile(
        "FROM busybox\n\
         WORKDIR /app\n\
         COPY c.txt rel/\n\
         COPY c.txt .\n\
         COPY c.txt named\n\
         COPY c.txt /tmp\n\
         COPY d /app/\n\
         COPY d e sub/\n",
    );
    let (_, image) = p.build_image(&[]);
    assert_eq!(file(&image, "/app/rel/c.txt").0, "c\n");
    assert_eq!(file(&image, "/app/c.txt").0, "c\n");
    assert_eq!(file(&image, "/app/named").0, "c\n");
    // An existing directory takes the file inside, slash or not, and keeps its mode.
    assert_eq!(file(&image, "/tmp/c.txt").0, "c\n");
    assert_eq!(dir(&image, "/tmp"), (0o1777, 0, 0));
    assert_eq!(file(&image, "/app/one").0, "1");
    assert_eq!(image.fs.children("/app/sub"), ["e", "one"]);

    // Several sources need no trailing `/` (current BuildKit copies each source in turn, as
    // if alone): a later file overwrites a file destination, later sources go inside a
    // directory that is there, and a wildcard that matches nothing is skipped.
    p.dockerfile(
        "FROM busybox\n\
         COPY c.txt e /dest\n\
         RUN mkdir /dd\n\
         COPY c.txt nomatch* d /dd\n\
         COPY d e /fresh\n",
    );
    let (_, image) = p.build_image(&[]);
    assert_eq!(file(&image, "/dest").0, "e");
    assert_eq!(image.fs.children("/dd"), ["c.txt", "one"]);
    assert_eq!(file(&image, "/dd/one").0, "1");
    assert_eq!(image.fs.children("/fresh"), ["e", "one"]);
}

#[test]
fn missing_and_ignored_sources_are_clear_errors() {
    let p = Project::new();
    p.write("here.txt", "h")
        .write("secret.txt", "s")
        .write("private/key", "k")
        .write(".dockerignore", "secret.txt\nprivate\n");
    for (line, what, needle) in [
        (
            "COPY nothere.txt /x",
            "nothere.txt",
            "not found in the build context",
        ),
        (
            "COPY secret.txt /x",
            "secret.txt",
            "excluded by .dockerignore",
        ),
        (
            "COPY private/key /x",
            "private/key",
            "excluded by .dockerignore",
        ),
        ("COPY private/* /x/", "private", "excluded by .dockerignore"),
        (
            "COPY nodir/*.txt /x/",
            "nodir",
            "not found in the build context",
        ),
    ] {
        p.dockerfile(&format!("FROM busybox\nCOPY here.txt /h\n{line}\n"));
        let run = p.build(&[]);
        assert!(!run.success(), "{line}: {}", run.report());
        let err = run.stderr();
        assert!(
            err.contains(&format!("\"{what}")) && err.contains(needle),
            "{line}: {err}"
        );
        assert!(
            err.contains("Dockerfile:3"),
            "{line}: no file:line in {err}"
        );
    }
}

#[test]
fn copy_from_a_stage_an_image_and_an_index() {
    let p = Project::new();
    p.write("c.txt", "from context\n");
    p.dockerfile(
        "FROM busybox AS build\n\
         COPY --chown=65534:65534 c.txt /out/c.txt\n\
         COPY c.txt /out/plain.txt\n\
         FROM busybox\n\
         COPY --from=build /out/c.txt /s.txt\n\
         COPY --from=0 /out /idx/\n\
         COPY --from=busybox /etc/group /img-group\n",
    );
    let (_, image) = p.build_image(&[]);
    // Owners come along from a stage.
    assert_eq!(
        file(&image, "/s.txt"),
        ("from context\n".into(), 0o644, 65534, 65534)
    );
    assert_eq!(image.fs.children("/idx"), ["c.txt", "plain.txt"]);
    assert_eq!(file(&image, "/idx/plain.txt").2, 0);
    assert!(file(&image, "/img-group").0.starts_with("root:x:0:"));
}

#[test]
fn chown_names_numbers_and_created_parents() {
    let p = Project::new();
    write_users(&p).write("f", "f").write("d/g", "g");
    p.dockerfile(
        "FROM busybox\n\
         COPY passwd group /etc/\n\
         COPY --chown=app f /a\n\
         COPY --chown=app:staff f /b\n\
         COPY --chown=7:8 f /c\n\
         COPY --chown=7 f /d\n\
         COPY --chown=1000:staff d /e/deep/\n",
    );
    let (_, image) = p.build_image(&[]);
    assert_eq!(file(&image, "/a").2..file(&image, "/a").3, 1000..1001);
    assert_eq!((file(&image, "/b").2, file(&image, "/b").3), (1000, 50));
    assert_eq!((file(&image, "/c").2, file(&image, "/c").3), (7, 8));
    assert_eq!((file(&image, "/d").2, file(&image, "/d").3), (7, 7));
    assert_eq!(dir(&image, "/e"), (0o755, 1000, 50));
    assert_eq!(dir(&image, "/e/deep"), (0o755, 1000, 50));
    assert_eq!(
        (file(&image, "/e/deep/g").2, file(&image, "/e/deep/g").3),
        (1000, 50)
    );

    p.dockerfile("FROM busybox\nCOPY --chown=nosuchuser f /a\n");
    let run = p.build(&[]);
    run.assert_failed_with("nosuchuser");
}

#[test]
fn chmod_octal_and_symbolic() {
    let p = Project::new();
    p.write("f", "f")
        .write("d/g", "g")
        .write_mode("d/x", "x", 0o700);
    p.dockerfile(
        "# syntax=docker/dockerfile:1\n\
         FROM busybox\n\
         COPY --chmod=0640 f /octal\n\
         COPY --chmod=u+x,g-r f /symbolic\n\
         COPY --chmod=a+X d /dirs/\n\
         COPY --chmod=755 <<EOF /script.sh\n\
         echo hi\n\
         EOF\n",
    );
    let (_, image) = p.build_image(&[]);
    assert_eq!(file(&image, "/octal").1, 0o640);
    assert_eq!(file(&image, "/symbolic").1, 0o704);
    assert_eq!(
        file(&image, "/dirs/g").1,
        0o644,
        "X adds x only where some x is set"
    );
    assert_eq!(file(&image, "/dirs/x").1, 0o711);
    assert_eq!(
        file(&image, "/script.sh"),
        ("echo hi\n".into(), 0o755, 0, 0)
    );
}

#[test]
fn link_parents_and_exclude() {
    let p = Project::new();
    p.write("a/b/c.txt", "c")
        .write("x/y/z.txt", "z")
        .write("x/y/w.md", "w")
        .write("src/keep.rs", "k")
        .write("src/drop.txt", "d")
        .write("src/sub/more.txt", "m")
        .write("src/sub/code.rs", "r")
        .write("home.txt", "h")
        .write("homer.md", "h")
        .write("hommage.rs", "h");
    p.chmod("x/y", 0o750);
    p.dockerfile(
        "# syntax=docker/dockerfile:1.7-labs\n\
         FROM busybox\n\
         COPY --link a/b/c.txt /linked/\n\
         COPY --parents a/b/c.txt x/./y/z.txt /p/\n\
         COPY --parents x/y /pd/\n\
         COPY --exclude=**/*.txt src/ /ex/\n\
         COPY --exclude=sub src /ex2/\n\
         COPY --exclude=*.txt src /ex4/\n\
         COPY --exclude=*.md --exclude=*.rs hom* /ex3/\n",
    );
    let (_, image) = p.build_image(&[]);
    assert_eq!(file(&image, "/linked/c.txt").0, "c");
    assert_eq!(file(&image, "/p/a/b/c.txt").0, "c");
    assert_eq!(file(&image, "/p/y/z.txt").0, "z");
    assert!(
        !image.fs.exists("/p/x"),
        "the /./ pivot drops what is before it"
    );
    // Parent directories are copies of the source's (mode 0750 here).
    assert_eq!(dir(&image, "/p/y").0, 0o750);
    assert_eq!(image.fs.children("/pd/x/y"), ["w.md", "z.txt"]);
    assert_eq!(dir(&image, "/pd/x/y").0, 0o750);
    assert_eq!(image.fs.children("/ex"), ["keep.rs", "sub"]);
    assert_eq!(image.fs.children("/ex/sub"), ["code.rs"]);
    assert_eq!(image.fs.children("/ex2"), ["drop.txt", "keep.rs"]);
    assert_eq!(image.fs.children("/ex3"), ["home.txt"]);
    // Patterns are anchored at the source: `*.txt` does not reach into sub/.
    assert_eq!(image.fs.children("/ex4/sub"), ["code.rs", "more.txt"]);
    assert!(!image.fs.exists("/ex4/drop.txt"));

    // --exclude is part of the key: an excluded file's edit does not rerun the COPY.
    p.dockerfile("FROM busybox\nCOPY --exclude=*.txt src/ /ex/\n");
    p.build_ok(&[]);
    p.write("src/drop.txt", "changed");
    let again = p.build_ok(&[]);
    assert!(again.executed_steps().is_empty(), "{}", again.report());
}

#[test]
fn heredoc_copy() {
    let p = Project::new();
    p.dockerfile(
        "FROM busybox\n\
         ARG NAME=world\n\
         COPY <<EOF /hello\n\
         hello $NAME\n\
         EOF\n\
         COPY <<EOF /quotes\n\
         a \"$NAME\" '$NAME' \\$NAME\n\
         EOF\n\
         COPY <<A <<'B' /multi/\n\
         a\n\
         A\n\
         b $NAME\n\
         B\n",
    );
    let (_, image) = p.build_image(&[]);
    assert_eq!(
        file(&image, "/hello"),
        ("hello world\n".into(), 0o644, 0, 0)
    );
    // Only variables and escapes are processed: quotes are text and do not stop expansion.
    assert_eq!(file(&image, "/quotes").0, "a \"world\" 'world' $NAME\n");
    assert_eq!(file(&image, "/multi/A").0, "a\n");
    assert_eq!(file(&image, "/multi/B").0, "b $NAME\n");
}

#[test]
fn dockerignore_semantics() {
    let p = Project::new();
    for f in [
        "a.log",
        "keep.log",
        "sub/x.tmp",
        "sub/deeper/y.tmp",
        "rootonly.txt",
        "sub/rootonly.txt",
        "docs/guide.md",
        "docs/README.md",
        "kept.txt",
    ] {
        p.write(f, f);
    }
    p.write(
        ".dockerignore",
        "# comment\n*.log\n!keep.log\n**/*.tmp\n/rootonly.txt\ndocs\n!docs/README.md\nDockerfile\n",
    );
    p.dockerfile("FROM busybox\nCOPY . /ctx/\n");
    let (_, image) = p.build_image(&[]);
    let mut files = image
        .fs
        .non_dirs()
        .into_iter()
        .filter_map(|f| f.strip_prefix("/ctx/").map(str::to_string))
        .collect::<Vec<_>>();
    files.sort();
    assert_eq!(
        files,
        [
            ".dockerignore",
            "docs/README.md",
            "keep.log",
            "kept.txt",
            "sub/rootonly.txt"
        ]
    );
}

#[test]
fn dockerfile_specific_dockerignore_wins() {
    let p = Project::new();
    p.write("a.txt", "a")
        .write("b.txt", "b")
        .write(".dockerignore", "a.txt\n")
        .write("build/app.Dockerfile", "FROM busybox\nCOPY . /ctx/\n")
        .write("build/app.Dockerfile.dockerignore", "b.txt\nbuild\n");
    let file_arg = p.path("build/app.Dockerfile");
    let (_, image) = p.build_image(&["-f", file_arg.to_str().unwrap()]);
    let files = image.fs.children("/ctx");
    assert_eq!(files, [".dockerignore", "a.txt"], "{files:?}");
}

#[test]
fn stat_cache_still_sees_edits_that_keep_size_and_mtime() {
    let p = Project::new();
    p.write("f.txt", "version-1").write("g.txt", "g");
    p.dockerfile("FROM busybox\nCOPY f.txt /f\nCOPY g.txt /g\n");
    // Let the files settle so the stat cache remembers them.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    p.build_ok(&[]);
    let caches: Vec<_> = std::fs::read_dir(p.store().join("statcache"))
        .expect("the stat cache is kept in the store")
        .collect();
    assert_eq!(caches.len(), 1);

    // Unchanged and touched: both hits.
    let again = p.build_ok(&[]);
    assert!(again.executed_steps().is_empty(), "{}", again.report());
    let f = p.path("f.txt");
    let before = std::fs::metadata(&f).unwrap();
    let touch = std::process::Command::new("touch")
        .arg(&f)
        .status()
        .unwrap();
    assert!(touch.success());
    let touched = p.build_ok(&[]);
    assert!(touched.executed_steps().is_empty(), "{}", touched.report());

    // Same size, mtime put back: still a change.
    std::fs::write(&f, "version-2").unwrap();
    let mtime = before.modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let after = std::fs::metadata(&f).unwrap();
    assert_eq!(
        (after.len(), after.modified().unwrap()),
        (before.len(), mtime)
    );
    let (run, image) = p.build_image(&[]);
    assert_eq!(
        run.executed_steps(),
        ["[2/3] COPY f.txt /f", "[3/3] COPY g.txt /g"],
        "{}",
        run.report()
    );
    assert_eq!(file(&image, "/f").0, "version-2");
}

/// The same COPYs built by BuildKit (Debian's docker.io) and by skiff: every path listed
/// has the same type, mode, owner and content in both images (mtimes are not compared:
/// skiff clamps them to its logical layer clock).
#[test]
fn copy_and_add_agree_with_buildkit() {
    if !require_tool("tar") {
        return;
    }
    let Some(reference) = ReferenceBuilder::start_or_skip() else {
        return;
    };
    let p = Project::new();
    write_users(&p)
        .write("f", "f")
        .write("c.txt", "c")
        .write_mode("dir/x", "x", 0o755)
        .write("d/g", "g")
        .write("target.txt", "t")
        .write("sub/a.txt", "a")
        .write("sub/b.txt", "b")
        .write("docs/README.md", "r")
        .write("docs/other", "o")
        .write(".dockerignore", "docs\n!docs/README.md\n");
    p.chmod("dir", 0o700);
    symlink("target.txt", p.path("link")).unwrap();
    symlink("/etc/passwd", p.path("d/abs")).unwrap();
    let tar = std::process::Command::new("tar")
        .args(["-C", "sub", "-czf", "s.tgz", "."])
        .current_dir(p.dir())
        .status()
        .unwrap();
    assert!(tar.success());
    p.dockerfile(
        "ARG BASE\nFROM ${BASE}\n\
         COPY passwd group /etc/\n\
         COPY dir /contents\n\
         COPY dir/ /tmp/\n\
         COPY --chown=app f /a\n\
         COPY --chown=7 f /d7\n\
         COPY nomatch*.txt /empty/\n\
         COPY link /named/\n\
         COPY d/ /dd/\n\
         COPY c.txt /tmp\n\
         COPY --chown=1000:staff d /e/deep/\n\
         COPY sub/*.txt /multi\n\
         RUN mkdir -m 700 /ex && touch /ex/old\n\
         COPY dir /ex/\n\
         COPY --chmod=600 dir /chm/\n\
         ADD --chown=7:7 s.tgz /un/\n\
         COPY . /ctx/\n",
    );
    let args = reference.base_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let buildkit = reference
        .build(p.dir(), &args, "skiff-copy/differential")
        .expect("docker build");
    let (_, skiff) = p.build_image(&args);
    let paths = [
        "/contents",
        "/contents/x",
        "/tmp",
        "/tmp/x",
        "/a",
        "/d7",
        "/empty",
        "/named/link",
        "/dd/abs",
        "/tmp/c.txt",
        "/e",
        "/e/deep",
        "/e/deep/g",
        "/e/deep/abs",
        "/multi",
        "/ex",
        "/ex/x",
        "/ex/old",
        "/chm",
        "/chm/x",
        "/un",
        "/un/a.txt",
        "/ctx/docs",
        "/ctx/docs/README.md",
        "/ctx/docs/other",
        "/ctx/link",
        "/ctx/.dockerignore",
    ];
    let show = |image: &BuiltImage, path: &str| {
        image
            .fs
            .get(path)
            .map(|e| {
                format!(
                    "{:?} {:o} {}:{} {:?}",
                    e.kind,
                    e.mode,
                    e.uid,
                    e.gid,
                    String::from_utf8_lossy(&e.data)
                )
            })
            .unwrap_or_else(|| "missing".into())
    };
    // Where the 20.10 daemon's BuildKit differs from current BuildKit, skiff follows current
    // BuildKit: fsutil's MkdirAll gives the directory a copy creates the octal --chmod, and
    // ADD --chown owns what it unpacks (solver/llbsolver/file/unpack.go's ChownOpts).
    let newer = [
        ("/chm", "Dir 600 0:0 \"\""),
        ("/un/a.txt", "File 644 7:7 \"a\""),
    ];
    for (path, expected) in newer {
        assert_eq!(show(&skiff, path), expected, "{path}");
    }
    let differences: Vec<String> = paths
        .iter()
        .filter(|path| !newer.iter().any(|(p, _)| p == *path))
        .filter(|path| show(&buildkit, path) != show(&skiff, path))
        .map(|path| {
            format!(
                "{path}\n  buildkit: {}\n  skiff:    {}",
                show(&buildkit, path),
                show(&skiff, path)
            )
        })
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn created_directories_follow_setgid_and_chmod_and_add_chown_owns_archive_entries() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN mkdir -p /sg && chgrp 50 /sg && chmod 2775 /sg\n",
        "WORKDIR /sg/w\n",
        "COPY y /sg/a/b/y\n",
        "COPY --chmod=700 d /chm/new/\n",
        "RUN mkdir /exist && chmod 755 /exist\n",
        "COPY --chmod=700 y /exist/y\n",
        "ADD --chown=12:34 arch.tar /ar/\n",
    )) else {
        return;
    };
    p.write("y", "y\n").write("d/sub/f", "x\n");
    let tar = std::process::Command::new("tar")
        .args(["cf", "arch.tar", "y", "d"])
        .current_dir(p.dir())
        .status()
        .unwrap();
    assert!(tar.success());
    let (_, image) = p.build_image(&[]);
    // mkdir(2) in a setgid directory: the setgid bit and the group are inherited, all the way.
    for d in ["/sg/w", "/sg/a", "/sg/a/b"] {
        assert_eq!(dir(&image, d), (0o2755, 0, 50), "{d}");
    }
    // --chmod applies to the directories the copy made, not to those already there.
    assert_eq!(dir(&image, "/chm").0, 0o700);
    assert_eq!(dir(&image, "/chm/new").0, 0o700);
    assert_eq!(file(&image, "/chm/new/sub/f").1, 0o700);
    assert_eq!(dir(&image, "/exist").0, 0o755);
    // ADD --chown owns what it extracts from a local archive.
    for path in ["/ar/y", "/ar/d", "/ar/d/sub/f"] {
        let e = image.fs.entry(path);
        assert_eq!((e.uid, e.gid), (12, 34), "{path}");
    }
}

#[test]
fn a_fifo_in_the_context_stays_a_fifo_and_a_socket_arrives_as_an_empty_file() {
    let p = Project::new();
    p.write("a", "a\n");
    p.dockerfile("FROM busybox\nCOPY . /c/\n");
    let status = std::process::Command::new("mkfifo")
        .args(["-m", "640", "pipe"])
        .current_dir(p.dir())
        .status()
        .unwrap();
    assert!(status.success());
    let _listener = std::os::unix::net::UnixListener::bind(p.dir().join("sock")).unwrap();
    // As BuildKit's context transfer (fsutil): fifos are recreated, a socket loses its type bit.
    let (run, image) = p.build_image(&[]);
    let pipe = image.fs.entry("/c/pipe");
    assert_eq!(
        format!("{:?} {:o}", pipe.kind, pipe.mode),
        "Fifo 640",
        "{}",
        run.report()
    );
    let sock = image.fs.entry("/c/sock");
    assert_eq!(format!("{:?}", sock.kind), "File", "{}", run.report());
    assert!(sock.data.is_empty());
}

#[test]
fn a_directory_copied_through_a_symlink_is_copied_and_warns_that_buildkit_refuses() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN mkdir -p /usr/lib2 && ln -s usr/lib2 /lib2\n",
        "COPY dir /lib2/\n",
        "COPY dir /plain/\n",
    )) else {
        return;
    };
    p.write("dir/f", "f\n");
    let (run, image) = p.build_image(&[]);
    assert_eq!(file(&image, "/usr/lib2/f").0, "f\n");
    let stderr = run.stderr();
    let warnings: Vec<&str> = (stderr.lines())
        .filter(|l| l.contains("is a symlink in the image"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.report());
    assert!(
        warnings[0].contains("COPY dir /lib2/: /lib2"),
        "{}",
        run.report()
    );
    assert!(warnings[0].contains("BuildKit fails"), "{}", run.report());
}
