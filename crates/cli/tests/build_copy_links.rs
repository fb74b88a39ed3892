//! COPY and symlinks, hard links and extended attributes, through `skiff build`: a source named
//! in the Dockerfile is followed when it is a symlink (inside its tree), symlinks inside a copied
//! directory stay symlinks, hard links are kept (and, of the xattrs, file capabilities), and
//! nothing is ever read outside the context or a stage nor written outside the rootfs,
//! whatever the links say.

mod copy_helpers;

use copy_helpers::file;
use skiff_testkit::project::{Kind, Project};
use skiff_testkit::require_tool;
use std::os::unix::fs::symlink;

#[test]
fn symlinks_in_the_context() {
    let p = Project::new();
    p.write("target.txt", "target\n").write("d/real", "r");
    symlink("../target.txt", p.path("d/rel")).unwrap();
    symlink("/etc/passwd", p.path("d/abs")).unwrap();
    symlink("target.txt", p.path("link")).unwrap();
    p.dockerfile(
        "FROM busybox\n\
         COPY d/ /d/\n\
         COPY link /followed\n\
         COPY link /named/\n",
    );
    let (_, image) = p.build_image(&[]);
    // Inside a copied directory: links stay links, targets untouched.
    assert_eq!(
        image.fs.entry("/d/rel").kind,
        Kind::Symlink("../target.txt".into())
    );
    assert_eq!(
        image.fs.entry("/d/abs").kind,
        Kind::Symlink("/etc/passwd".into())
    );
    // A source named directly is followed; in a directory it keeps its own name.
    assert_eq!(file(&image, "/followed").0, "target\n");
    assert_eq!(file(&image, "/named/link").0, "target\n");
}

#[test]
fn hard_links_are_kept_and_of_the_xattrs_only_file_capabilities() {
    let p = Project::new();
    p.write("h/one", "same inode");
    std::fs::hard_link(p.path("h/one"), p.path("h/two")).unwrap();
    if !require_tool("python3") {
        return;
    }
    // cap_net_raw+ep, a v2 vfs_cap_data.
    let cap: [u8; 20] = [
        1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let hex: String = cap.iter().map(|b| format!("{b:02x}")).collect();
    let xattr = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import os,sys; os.setxattr(sys.argv[1], 'user.skiff', b'dropped'); \
             os.setxattr(sys.argv[1], 'security.capability', bytes.fromhex(sys.argv[2]))",
        )
        .arg(p.path("h/one"))
        .arg(&hex)
        .status()
        .unwrap();
    assert!(xattr.success(), "setting xattrs in the context");
    // The same xattrs as PAX records of an archive.
    let mut tar = tar::Builder::new(Vec::new());
    let records: [(&str, &[u8]); 2] = [
        ("SCHILY.xattr.security.capability", &cap),
        ("SCHILY.xattr.user.skiff", b"dropped"),
    ];
    tar.append_pax_extensions(records).unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_mode(0o755);
    header.set_size(1);
    tar.append_data(&mut header, "capped", &b"c"[..]).unwrap();
    std::fs::write(p.path("x.tar"), tar.into_inner().unwrap()).unwrap();
    p.dockerfile("FROM busybox\nCOPY h/ /h/\nADD x.tar /arch/\n");
    let (_, image) = p.build_image(&[]);
    assert_eq!(file(&image, "/h/one").0, "same inode");
    assert_eq!(
        image.fs.entry("/h/two").kind,
        Kind::Hardlink("/h/one".into())
    );
    // As BuildKit: a layer records security.capability only (containerd's tar writer), and
    // none comes from the context (fsutil sets xattrs, then the owner, which clears it).
    let names =
        |path: &str| -> Vec<String> { image.fs.entry(path).xattrs.keys().cloned().collect() };
    assert!(names("/h/one").is_empty(), "{:?}", names("/h/one"));
    assert_eq!(names("/arch/capped"), ["security.capability"]);
}

#[test]
fn sources_never_resolve_outside_the_context() {
    let p = Project::new();
    // A file beside the context, which `../` would reach on the host.
    let outside_name = format!(
        "{}-outside.txt",
        p.dir().file_name().unwrap().to_string_lossy()
    );
    let outside = p.dir().parent().unwrap().join(&outside_name);
    std::fs::write(&outside, "host secret").unwrap();
    symlink("/etc/shadow", p.path("shadow-link")).unwrap();
    p.write("ok", "ok");
    for line in [
        format!("COPY ../{outside_name} /x"),
        "COPY shadow-link /x".to_string(),
    ] {
        p.dockerfile(&format!("FROM busybox\n{line}\n"));
        let run = p.build(&[]);
        assert!(!run.success(), "{line}: {}", run.report());
        assert!(
            run.stderr().contains("not found"),
            "{line}: {}",
            run.report()
        );
    }
    std::fs::remove_file(&outside).unwrap();
}

#[test]
fn stage_symlinks_never_escape_the_stage() {
    let p = Project::new();
    p.write("ok", "ok");
    std::fs::create_dir(p.path("links")).unwrap();
    symlink(
        "../../../../../../../../../etc/shadow",
        p.path("links/to-shadow"),
    )
    .unwrap();
    symlink("/etc/passwd", p.path("links/to-passwd")).unwrap();
    p.dockerfile(
        "FROM busybox AS s\n\
         COPY links/ /\n\
         FROM busybox\n\
         COPY --from=s /to-passwd /got-passwd\n",
    );
    let (_, image) = p.build_image(&[]);
    // The stage's own /etc/passwd (busybox: /bin/sh), never the host's.
    assert_eq!(
        file(&image, "/got-passwd").0,
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    );
    p.dockerfile(
        "FROM busybox AS s\n\
         COPY links/ /\n\
         FROM busybox\n\
         COPY --from=s /to-shadow /got-shadow\n",
    );
    let run = p.build(&[]);
    run.assert_failed_with("not found");
}

#[test]
fn destination_symlinks_are_clamped_to_the_rootfs() {
    let p = Project::new();
    let unique = format!(
        "skiff-escape-{}",
        p.dir().file_name().unwrap().to_string_lossy()
    );
    p.write(&unique, "inside");
    std::fs::create_dir(p.path("links")).unwrap();
    symlink("/../../../../../../tmp", p.path("links/out")).unwrap();
    p.dockerfile(&format!(
        "FROM busybox\n\
         COPY links/ /\n\
         COPY {unique} /out/\n"
    ));
    let (_, image) = p.build_image(&[]);
    assert_eq!(
        image.fs.entry("/out").kind,
        Kind::Symlink("/../../../../../../tmp".into())
    );
    assert_eq!(file(&image, &format!("/tmp/{unique}")).0, "inside");
    assert!(
        !std::path::Path::new("/tmp").join(&unique).exists(),
        "the COPY wrote to the host's /tmp"
    );
}
