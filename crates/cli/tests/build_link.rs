//! `COPY --link` and content-keyed `COPY --from`, black-box through `skiff build`, with
//! BuildKit's (`docker/dockerfile:1`) semantics: a `--link` copy is a layer of its own that
//! is reused (same blob) when what is below it changes, and does not read the parent (a
//! destination symlink is not followed); a `COPY --from` is keyed by the content it selects,
//! so a source stage that ran again but produced the same files does not invalidate it.

use skiff_testkit::project::{BuiltImage, Kind, Project};

fn runc_available() -> bool {
    skiff_testkit::require_tool("runc")
}

/// Everything about the entries under `dir` but their times: kind, mode, owner, content.
fn tree_under(image: &BuiltImage, dir: &str) -> Vec<(String, Kind, u32, u64, u64, Vec<u8>)> {
    image
        .fs
        .entries
        .iter()
        .filter(|(path, _)| path.as_str() == dir || path.starts_with(&format!("{dir}/")))
        .map(|(path, e)| {
            (
                path.clone(),
                e.kind.clone(),
                e.mode,
                e.uid,
                e.gid,
                e.data.clone(),
            )
        })
        .collect()
}

/// The digest of the image's layer `index` (counted from the top: 0 is the last layer).
fn layer_from_top(image: &BuiltImage, index: usize) -> String {
    let layers = &image.layers;
    layers[layers.len() - 1 - index].descriptor["digest"]
        .as_str()
        .expect("a layer digest")
        .to_string()
}

/// Each COPY lands in a directory of its own, so that every destination parent is created by
/// the copy (a parent that exists already is where `--link` differs: see
/// `a_link_copy_does_not_read_the_parent`).
const COPIES: &[(&str, &str)] = &[
    ("COPY{link} app/ /c1/deep/app/", "/c1"),
    ("COPY{link} --chown=1000:1001 app/ /c2/owned/", "/c2"),
    ("COPY{link} --chown=root app/run.sh /c3.sh", "/c3.sh"),
    ("COPY{link} --chmod=0640 app/run.sh /c4/modes/run.sh", "/c4"),
    ("COPY{link} --from=builder /made/ /c5/from/", "/c5"),
    (
        "COPY{link} --from=builder --chown=7 /made/owned.txt /c6/from-owned.txt",
        "/c6",
    ),
    ("COPY{link} <<EOF /c7/heredoc/note.txt\nnote\nEOF", "/c7"),
    ("COPY{link} app/data.txt rel/", "/work"),
];

fn copies_dockerfile(link: &str) -> String {
    let mut text = String::from(
        "FROM busybox AS builder\n\
         RUN mkdir -p /made/sub && echo made > /made/sub/m.txt && chmod 0600 /made/sub/m.txt \
         && echo owned > /made/owned.txt && chown 5:6 /made/owned.txt /made/sub\n\
         FROM busybox\n\
         WORKDIR /work\n",
    );
    for (copy, _) in COPIES {
        text.push_str(&copy.replace("{link}", link));
        text.push('\n');
    }
    text
}

#[test]
fn a_link_copy_gives_the_same_files_modes_and_owners_as_a_plain_copy() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.write_mode("app/run.sh", "#!/bin/sh\necho run\n", 0o755);
    p.write_mode("app/data.txt", "data\n", 0o600);
    p.write("app/nested/n.txt", "n\n");
    p.dockerfile(&copies_dockerfile(""));
    let (_, plain) = p.build_image(&[]);
    p.dockerfile(&copies_dockerfile(" --link"));
    let (_, linked) = p.build_image(&[]);
    for (copy, dir) in COPIES {
        assert_eq!(tree_under(&linked, dir), tree_under(&plain, dir), "{copy}");
    }
    // Spot checks that the comparison compares something.
    let owned = linked.fs.entry("/c2/owned/nested/n.txt");
    assert_eq!((owned.uid, owned.gid), (1000, 1001));
    let parent = linked.fs.entry("/c2");
    assert_eq!((parent.mode, parent.uid, parent.gid), (0o755, 1000, 1001));
    assert_eq!(linked.fs.entry("/c5/from/sub/m.txt").mode, 0o600);
    let from = linked.fs.entry("/c5/from/sub");
    assert_eq!((from.uid, from.gid), (5, 6));
    assert_eq!(linked.fs.entry("/c6/from-owned.txt").uid, 7);
    assert_eq!(linked.fs.entry("/c4/modes/run.sh").mode, 0o640);
    assert_eq!(linked.fs.read_string("/c7/heredoc/note.txt"), "note\n");
    assert_eq!(linked.fs.read_string("/work/rel/data.txt"), "data\n");
    // History and config as a plain COPY writes them.
    assert_eq!(linked.history(), plain.history());
    assert_eq!(linked.runtime_config(), plain.runtime_config());
    // A rebuild hits every step.
    p.build_ok(&[]).assert_executed(&[]);
}

#[test]
fn a_link_copy_is_reused_on_a_changed_parent_and_what_follows_reruns() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.write("app/a.txt", "a\n");
    p.dockerfile(
        "FROM busybox\n\
         ARG V=1\n\
         RUN echo \"$V\" > /v\n\
         COPY --link app/ /app/\n\
         RUN cat /v /app/a.txt > /out\n",
    );
    let (_, first) = p.build_image(&["--build-arg", "V=1"]);
    let (run, second) = p.build_image(&["--build-arg", "V=2"]);
    run.assert_executed(&["RUN echo \"$V\" > /v", "RUN cat /v /app/a.txt > /out"]);
    run.assert_cached(&["COPY --link app/ /app/"]);
    assert_eq!(layer_from_top(&second, 1), layer_from_top(&first, 1));
    assert_ne!(layer_from_top(&second, 2), layer_from_top(&first, 2));
    assert_eq!(second.fs.read_string("/out"), "2\na\n");
    // The link layer holds the copy and its parent directory, nothing of the parent.
    let link_layer = &second.layers[second.layers.len() - 2];
    assert_eq!(link_layer.order, ["/app", "/app/a.txt"]);

    // A changed source makes the layer again, and so the step after it.
    p.write("app/a.txt", "a2\n");
    let (run, third) = p.build_image(&["--build-arg", "V=2"]);
    run.assert_executed(&["COPY --link app/ /app/", "RUN cat /v /app/a.txt > /out"]);
    assert_eq!(third.fs.read_string("/out"), "2\na2\n");
}

/// BuildKit's documented difference: a `--link` copy cannot read the parent, so a symlink on
/// the destination path is not followed (the layer's directories replace it), and the
/// destination's parents are the layer's own plain directories.
#[test]
fn a_link_copy_does_not_read_the_parent() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.write("f.txt", "f\n");
    let dockerfile = |link: &str| {
        format!(
            "FROM busybox\n\
             RUN mkdir /real && ln -s /real /app && mkdir -m 0700 /private\n\
             COPY{link} f.txt /app/f.txt\n\
             COPY{link} f.txt /private/sub/f.txt\n"
        )
    };
    p.dockerfile(&dockerfile(""));
    let (_, plain) = p.build_image(&[]);
    assert_eq!(plain.fs.entry("/app").kind, Kind::Symlink("/real".into()));
    assert_eq!(plain.fs.read_string("/real/f.txt"), "f\n");
    assert_eq!(plain.fs.entry("/private").mode, 0o700);

    p.dockerfile(&dockerfile(" --link"));
    let (_, linked) = p.build_image(&[]);
    assert_eq!(linked.fs.entry("/app").kind, Kind::Dir);
    assert_eq!(linked.fs.read_string("/app/f.txt"), "f\n");
    assert!(linked.fs.exists("/real") && !linked.fs.exists("/real/f.txt"));
    assert_eq!(linked.fs.entry("/private").mode, 0o755);
    assert_eq!(linked.fs.read_string("/private/sub/f.txt"), "f\n");
}

#[test]
fn a_link_copy_with_a_chown_by_name_fails_as_in_buildkit() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.write("f.txt", "f\n");
    p.dockerfile("FROM busybox\nCOPY --link --chown=nobody f.txt /f.txt\n");
    let run = p.build(&[]);
    assert!(!run.success(), "{}", run.report());
    assert!(
        run.stderr()
            .contains("--chown=nobody cannot be used with --link")
            && run.stderr().contains("numeric ids"),
        "{}",
        run.report()
    );
    // Without --link the name is looked up in the stage's /etc/passwd.
    p.dockerfile("FROM busybox\nCOPY --chown=nobody f.txt /f.txt\n");
    let (_, image) = p.build_image(&[]);
    assert_ne!(image.fs.entry("/f.txt").uid, 0);
}

const FROM_STAGE: &str = "FROM busybox AS builder\n\
ARG STAMP=1\n\
ARG CONTENT=same\n\
RUN echo \"$STAMP\" > /stamp && echo \"$CONTENT\" > /out.txt\n\
FROM busybox\n\
COPY --from=builder /out.txt /out.txt\n\
RUN cat /out.txt > /copy\n";

#[test]
fn a_copy_from_a_stage_that_reran_with_the_same_files_is_a_hit() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.dockerfile(FROM_STAGE);
    p.build_ok(&["--build-arg", "STAMP=1"]);
    let run = p.build_ok(&["--build-arg", "STAMP=2"]);
    run.assert_executed(&["RUN echo \"$STAMP\" > /stamp && echo \"$CONTENT\" > /out.txt"]);
    run.assert_cached(&[
        "COPY --from=builder /out.txt /out.txt",
        "RUN cat /out.txt > /copy",
    ]);
    let (run, image) = p.build_image(&["--build-arg", "STAMP=2", "--build-arg", "CONTENT=new"]);
    run.assert_executed(&[
        "RUN echo \"$STAMP\" > /stamp && echo \"$CONTENT\" > /out.txt",
        "COPY --from=builder /out.txt /out.txt",
        "RUN cat /out.txt > /copy",
    ]);
    assert_eq!(image.fs.read_string("/copy"), "new\n");
}

#[test]
fn a_fully_cached_multi_stage_build_runs_nothing_and_reads_no_layers() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.write("src.txt", "src\n");
    p.dockerfile(
        "FROM busybox AS builder\n\
         COPY src.txt /src.txt\n\
         RUN mkdir -p /go/pkg && cp /src.txt /go/pkg/a && ln -s a /go/pkg/b\n\
         FROM busybox\n\
         COPY --from=builder /go /go\n\
         COPY --link --from=builder /go/pkg/a /linked\n\
         RUN cat /go/pkg/b /linked > /out\n",
    );
    let (_, first) = p.build_image(&[]);
    assert_eq!(first.fs.read_string("/out"), "src\nsrc\n");
    // The checksums of what the COPYs select are remembered: a fully cached build neither
    // mounts nor extracts the source layers (the store re-extracts a snapshot on demand).
    // The final-image verification reads the final image's own layers (build_verify), so it
    // is off here: what is checked is that the COPY --from sources are not read.
    let snapshots = p.store().join("snapshots/sha256");
    for entry in std::fs::read_dir(&snapshots).expect("the store's snapshots") {
        std::fs::remove_dir_all(entry.expect("a snapshot").path()).expect("removing a snapshot");
    }
    let (run, again) = p.build_image(&["--verify=off"]);
    run.assert_executed(&[]);
    assert_eq!(again.digest, first.digest);
    let left: Vec<_> = std::fs::read_dir(&snapshots).unwrap().collect();
    assert!(
        left.is_empty(),
        "snapshots extracted: {left:?}\n{}",
        run.report()
    );
}
