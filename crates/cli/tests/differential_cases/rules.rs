//! One case per rule of issue #12 item 1 about files: COPY/ADD destinations, the directories
//! a build creates, archives, `.dockerignore`, xattrs, the context's special files, cache
//! mounts. Each is current BuildKit's (v0.26) rule; where dockerd 20.10's BuildKit differs,
//! the test's `ALLOWED` list says so ("20.10 only").

use super::Case;
use skiff_testkit::project::Project;

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "several-sources-one-destination",
        dockerfile: r#"ARG BASE
FROM ${BASE}
COPY a.txt b.txt /file-dest
RUN mkdir /dir-dest
COPY a.txt nomatch* b.txt /dir-dest
COPY one two /merged
ADD one a.txt /added
"#,
        files: &[
            ("a.txt", "a\n", 0o644),
            ("b.txt", "b\n", 0o600),
            ("one/x", "x\n", 0o644),
            ("two/y", "y\n", 0o644),
            ("two/sub/z", "z\n", 0o644),
        ],
        built: &[
            "/file-dest",
            "/dir-dest/b.txt",
            "/merged/sub/z",
            "/added/a.txt",
        ],
        dockerd_cannot: Some(
            "20.10's frontend refuses several sources without a trailing / on the destination",
        ),
        ..Case::DEFAULT
    },
    Case {
        name: "destinations-cleaned-lexically",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN mkdir -p /real/deep && ln -s /real/deep /link
COPY a.txt /link/../cleaned/
COPY a.txt /tmp/./sub//a2
WORKDIR /w
COPY a.txt sub/../rel
COPY a.txt ./x/.././y/
"#,
        files: &[("a.txt", "a\n", 0o644)],
        built: &["/cleaned/a.txt", "/tmp/sub/a2", "/w/rel", "/w/y/a.txt"],
        ..Case::DEFAULT
    },
    Case {
        name: "created-dirs-setgid-chmod-chown",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN mkdir -m 2775 /sg && chown 0:123 /sg && mkdir -m 750 /chm
COPY a.txt /sg/new/deeper/
WORKDIR /sg/wd/x
COPY --chmod=700 dir /chm/new/
COPY --chmod=640 a.txt /chm2/made/
ADD --chown=11:12 archive.tar.gz /un/
ADD --chown=13 archive.tar.gz /un13/
"#,
        files: &[
            ("a.txt", "a\n", 0o644),
            ("dir/f", "f\n", 0o644),
            ("dir/sub/g", "g\n", 0o600),
            ("tree/top.txt", "top\n", 0o644),
            ("tree/bin/tool", "#!/bin/sh\n", 0o750),
        ],
        built: &[
            "/sg/new/deeper/a.txt",
            "/sg/wd/x",
            "/chm/new/sub/g",
            "/un/bin/tool",
        ],
        ..Case::DEFAULT
    },
    Case {
        name: "workdir-as-written-and-owner",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN mkdir /base
WORKDIR base/rel/./x/..
USER nosuchuser
WORKDIR /unresolved/a
USER root
RUN rm /etc/passwd
WORKDIR /no-passwd/dir
USER 1234
WORKDIR /numeric/parent/child/
"#,
        built: &[
            "/base/rel",
            "/unresolved/a",
            "/no-passwd/dir",
            "/numeric/parent/child",
        ],
        ..Case::DEFAULT
    },
    Case {
        name: "add-archive-members",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN mkdir -m 711 /un && mkdir /elsewhere /un/elsewhere && ln -s /elsewhere /un/imglink
ADD members.tar /un/
"#,
        setup: Some(members_tar),
        built: &[
            "/un/target-abs/through-abs",
            "/un/escaped",
            "/un/elsewhere/through-image",
        ],
        skiff_gap: Some(
            "ADD of a local archive refuses members that go through a symlink; BuildKit \
             resolves them with the extraction directory as root (clamped)",
        ),
        ..Case::DEFAULT
    },
    Case {
        name: "dockerignore-reincludes",
        dockerfile: r#"ARG BASE
FROM ${BASE}
COPY . /all/
COPY docs /docs-dir/
COPY doc* /docs-glob/
COPY build/keep/ /kept/
"#,
        files: &[
            ("docs/README.md", "readme\n", 0o644),
            ("docs/other.txt", "other\n", 0o644),
            ("docs/deep/a.md", "a\n", 0o644),
            ("build/keep/x", "x\n", 0o644),
            ("build/drop/y", "y\n", 0o644),
            ("top.txt", "top\n", 0o644),
            (
                ".dockerignore",
                "docs\n!docs/README.md\n!docs/deep/*.md\nbuild\n!build/keep\n",
                0o644,
            ),
        ],
        built: &["/all/docs/README.md", "/docs-dir/README.md", "/kept/x"],
        skiff_gap: Some(
            ".dockerignore: a directory excluded with entries re-included below it is dropped \
             from the context; BuildKit keeps it holding the re-included entries \
             (patternmatcher's MatchesOrParentMatches)",
        ),
        ..Case::DEFAULT
    },
    Case {
        name: "xattrs-only-capability",
        // From the context even the capability is lost in BuildKit: fsutil sets a file's
        // xattrs before its owner, and the chown clears security.capability.
        dockerfile: r#"ARG BASE
FROM ${BASE} AS stage
COPY x/ /x/
ADD xattrs.tar /arch/

FROM ${BASE}
COPY x/ /from-context/
COPY --from=stage /x/ /from-stage/
ADD xattrs.tar /from-archive/
COPY --from=stage /arch/ /archive-via-stage/
"#,
        files: &[("x/user", "u\n", 0o644), ("x/cap", "c\n", 0o755)],
        setup: Some(set_xattrs),
        built: &[
            "/from-context/cap",
            "/from-stage/user",
            "/from-archive/cap",
            "/archive-via-stage/cap",
        ],
        ..Case::DEFAULT
    },
    Case {
        name: "context-fifo-and-socket",
        dockerfile: r#"ARG BASE
FROM ${BASE}
COPY special/ /special/
"#,
        files: &[("special/plain", "p\n", 0o644)],
        setup: Some(fifo_and_socket),
        built: &["/special/plain", "/special/sock"],
        ..Case::DEFAULT
    },
    Case {
        name: "cache-mount-identity",
        // {UNIQUE}: a token new to each run, so that caches of an earlier run (the shared
        // buildkitd keeps them) play no part.
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN --mount=type=cache,id=c-{UNIQUE},target=/c echo plain > /c/f && ls /c > /first
RUN --mount=type=cache,id=c-{UNIQUE},target=/c,uid=7,gid=8,mode=0710 \
    (ls /c; stat -c '%u:%g %a' /c) > /with-options && echo opt > /c/g
RUN --mount=type=cache,id=c-{UNIQUE},target=/c ls /c > /plain-again
RUN --mount=type=cache,id=c-{UNIQUE},target=/c,uid=7,gid=8,mode=0710 ls /c > /options-again
"#,
        built: &["/with-options", "/plain-again", "/options-again"],
        ..Case::DEFAULT
    },
];

/// `members.tar`: a root entry (`./`, which must not change the destination), members through
/// an absolute symlink of the archive, through a relative one climbing out (clamped), and
/// through a symlink the image holds.
fn members_tar(project: &Project) {
    let mut tar = tar::Builder::new(Vec::new());
    let dir = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(1_600_000_000);
        tar.append_data(&mut h, path, &[][..]).unwrap();
    };
    dir(&mut tar, "./", 0o700);
    dir(&mut tar, "target-abs/", 0o755);
    let link = |tar: &mut tar::Builder<Vec<u8>>, path: &str, to: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(1_600_000_000);
        tar.append_link(&mut h, path, to).unwrap();
    };
    link(&mut tar, "abs", "/target-abs");
    link(&mut tar, "up", "../../..");
    let file = |tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        // Written raw: the tar crate refuses `..` and would not write through names as given.
        h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        tar.append(&h, data.as_bytes()).unwrap();
    };
    file(&mut tar, "abs/through-abs", "abs\n");
    file(&mut tar, "up/escaped", "clamped\n");
    file(&mut tar, "imglink/through-image", "image link\n");
    std::fs::write(project.path("members.tar"), tar.into_inner().unwrap()).unwrap();
}

/// One PAX record: key, value.
type PaxRecord = (&'static str, &'static [u8]);

/// A v2 `vfs_cap_data` giving cap_net_raw+ep.
const CAP_NET_RAW: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// In the context, `x/user` gets `user.skiff`, `x/cap` gets `security.capability` and
/// `user.other`; `xattrs.tar` holds `user` and `cap` with the same xattrs as PAX records.
/// Only the capability may reach a layer.
fn set_xattrs(project: &Project) {
    let script = "import os,sys\n\
        os.setxattr(sys.argv[1], 'user.skiff', b'dropped')\n\
        os.setxattr(sys.argv[2], 'user.other', b'dropped')\n\
        os.setxattr(sys.argv[2], 'security.capability', bytes.fromhex(sys.argv[3]))\n";
    let hex: String = CAP_NET_RAW.iter().map(|b| format!("{b:02x}")).collect();
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(project.path("x/user"))
        .arg(project.path("x/cap"))
        .arg(hex)
        .status()
        .expect("running python3");
    assert!(status.success(), "setting xattrs in the context");
    let mut tar = tar::Builder::new(Vec::new());
    let members: [(&str, Vec<PaxRecord>); 2] = [
        ("user", vec![("SCHILY.xattr.user.skiff", b"dropped")]),
        (
            "cap",
            vec![
                ("SCHILY.xattr.security.capability", &CAP_NET_RAW[..]),
                ("SCHILY.xattr.user.other", b"dropped"),
            ],
        ),
    ];
    for (name, records) in members {
        tar.append_pax_extensions(records).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o755);
        h.set_size(2);
        h.set_mtime(1_600_000_000);
        tar.append_data(&mut h, name, &b"c\n"[..]).unwrap();
    }
    std::fs::write(project.path("xattrs.tar"), tar.into_inner().unwrap()).unwrap();
}

/// `special/fifo` (mkfifo) and `special/sock` (a bound unix socket, left behind).
fn fifo_and_socket(project: &Project) {
    let fifo = project.path("special/fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("running mkfifo");
    assert!(status.success(), "mkfifo {}", fifo.display());
    std::os::unix::net::UnixListener::bind(project.path("special/sock"))
        .expect("binding a unix socket in the context");
}
