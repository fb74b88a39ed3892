//! The differences the differential test expects, and why: each marked "20.10 only" (dockerd
//! 20.10's BuildKit is older and skiff follows the current one) or "any BuildKit" (deliberate).

/// Differences that are expected, and why. `case` is a case name or `*` (every case); `items`
/// are compared items as reported (`fs /etc`, `config.Env`, `history[3]`, …).
pub struct Allowed {
    /// A case name, or `*`.
    pub case: &'static str,
    /// Compared items as reported.
    pub items: &'static [&'static str],
    /// Against which reference the difference is expected.
    pub only: Only,
    /// Why the difference is deliberate or inherent.
    pub reason: &'static str,
}

/// Which references an allowance applies to.
#[derive(PartialEq)]
pub enum Only {
    /// "20.10 only": dockerd 20.10's BuildKit is older, and skiff follows current BuildKit; a
    /// run against the current BuildKit (`SKIFF_REFERENCE=buildkit`) must agree without it.
    Dockerd2010,
    /// "any BuildKit": a deliberate difference from every BuildKit.
    #[allow(dead_code)]
    AnyBuildKit,
}

/// Only deliberate or inherent differences: a skiff bug is fixed, never listed here.
pub const ALLOWED: &[Allowed] = &[
    Allowed {
        case: "run-mounts",
        items: &[
            "fs /ctx",
            "fs /mnt",
            "fs /mnt/payload",
            "fs /scratch",
            "fs /var/cache",
            "fs /var/cache/tool",
        ],
        only: Only::Dockerd2010,
        reason: MOUNT_STUBS,
    },
    Allowed {
        case: "user",
        items: &["fs /home/app/work/id.txt", "fs /tmp/id2.txt"],
        only: Only::Dockerd2010,
        reason: ID_GROUPS,
    },
    Allowed {
        case: "expansion-and-inheritance",
        items: &["fs /copied-unknown-ids", "fs /tmp/id"],
        only: Only::Dockerd2010,
        reason: ID_GROUPS,
    },
    Allowed {
        case: "metadata",
        items: &["history[3]"],
        only: Only::Dockerd2010,
        reason: EXPOSE_TEXT,
    },
    Allowed {
        case: "expansion-and-inheritance",
        items: &["history[13]"],
        only: Only::Dockerd2010,
        reason: EXPOSE_TEXT,
    },
    Allowed {
        case: "volume-shell-healthcheck-edges",
        items: &["fs /chmod-dir"],
        only: Only::Dockerd2010,
        reason: CHMOD_CREATED_DIRS,
    },
    // The rules of issue #12 item 1 (differential_cases/rules*.rs), where 20.10 is older.
    Allowed {
        case: "cache-mount-identity",
        items: &["fs /c"],
        only: Only::Dockerd2010,
        reason: MOUNT_STUBS,
    },
    Allowed {
        case: "created-dirs-setgid-chmod-chown",
        items: &["fs /chm/new", "fs /chm2", "fs /chm2/made"],
        only: Only::Dockerd2010,
        reason: CHMOD_CREATED_DIRS,
    },
    Allowed {
        case: "created-dirs-setgid-chmod-chown",
        items: &[
            "fs /un/bin",
            "fs /un/bin/tool",
            "fs /un/top.txt",
            "fs /un13/bin",
            "fs /un13/bin/tool",
            "fs /un13/top.txt",
        ],
        only: Only::Dockerd2010,
        reason: "ADD --chown of a local archive: current BuildKit (v0.26) owns the files it \
             unpacks with --chown; the 20.10 daemon's BuildKit kept the archive's owners",
    },
    Allowed {
        case: "context-fifo-and-socket",
        items: &["fs /special/fifo"],
        only: Only::Dockerd2010,
        reason: "a fifo in the context: current fsutil sends it and BuildKit copies it as a \
             fifo; the 20.10 daemon's fsutil dropped it",
    },
    Allowed {
        case: "proxy-args-without-arg",
        items: &["fs /proxies"],
        only: Only::Dockerd2010,
        reason: "ALL_PROXY: current BuildKit passes it to RUN (as ALL_PROXY and all_proxy) like \
             the other proxy build args; the 20.10 daemon's BuildKit did not know it",
    },
    Allowed {
        case: "targetstage",
        items: &["fs /first", "fs /target", "history[2]", "history[4]"],
        only: Only::Dockerd2010,
        reason: "TARGETSTAGE: predefined in current BuildKit (the --target stage's name); \
             unknown to the 20.10 daemon's BuildKit (empty)",
    },
    Allowed {
        case: "source-date-epoch-build-arg",
        items: &[
            "created",
            "history[1].created",
            "history[2].created",
            "history[3].created",
        ],
        only: Only::Dockerd2010,
        reason: "SOURCE_DATE_EPOCH as a build arg: BuildKit >= 0.11 stamps the image and its new \
             history entries with it; the 20.10 daemon's BuildKit does not know it",
    },
    Allowed {
        case: "history-texts",
        items: &["history[4]"],
        only: Only::Dockerd2010,
        reason: EXPOSE_TEXT,
    },
    Allowed {
        case: "history-texts",
        items: &["history[6]"],
        only: Only::Dockerd2010,
        reason: RUN_ARGS_ONCE,
    },
    Allowed {
        case: "arg-inheritance-from-stage",
        items: &["history[5]"],
        only: Only::Dockerd2010,
        reason: RUN_ARGS_ONCE,
    },
    // History texts current BuildKit writes differently from 20.10, in many cases.
    Allowed {
        case: "*",
        items: &[
            "history[1]",
            "history[2]",
            "history[3]",
            "history[4]",
            "history[5]",
            "history[6]",
            "history[7]",
            "history[8]",
            "history[9]",
            "history[10]",
            "history[11]",
            "history[12]",
        ],
        only: Only::Dockerd2010,
        reason: HISTORY_TEXTS,
    },
];

/// Why the history texts of ARG, COPY/ADD and HEALTHCHECK differ from 20.10's. Only a
/// difference of these instructions' texts is allowed (the test's `history_text_only`: the `*`
/// allowance applies only there).
pub const HISTORY_TEXTS: &str = "history texts as current BuildKit (v0.26) writes them: `ARG K=V` \
     with the value taken (--build-arg, default or global; dispatchArg), COPY/ADD with their \
     --chown/--chmod/--parents flags (dispatchCopy), HEALTHCHECK with four durations (the \
     start interval); the 20.10 daemon's BuildKit wrote ARG's default as written, left the \
     flags out and printed three durations";

/// Why RUN's `|N K=V` prefix differs from 20.10's.
const RUN_ARGS_ONCE: &str = "RUN's |N prefix: current BuildKit lists each build arg once, \
     those a stage inherits from its base stage included; the 20.10 daemon's BuildKit \
     listed repeats and no inherited ones";

/// Why mount points are missing from skiff's image.
const MOUNT_STUBS: &str = "mount points RUN --mount had to create. The 20.10 daemon's BuildKit \
     (0.8) leaves them in the layer as empty directories; BuildKit 0.11 and later remove empty \
     directory stubs and the parents created for them (moby/buildkit#3307, #3314), and skiff \
     follows current BuildKit (sandbox stubs.rs)";

/// Why a directory that `COPY --chmod=700 dir /new/` creates is 0700, not 0755.
const CHMOD_CREATED_DIRS: &str = "directories a COPY creates: current BuildKit (v0.26, fsutil \
     copy MkdirAll with the --chmod mode) gives an octal --chmod to the destination directory \
     of a directory source and to missing parents too (checked against the reference BuildKit \
     v0.26.3 here: `COPY --chmod=700 d /chm/new/` gives /chm and /chm/new mode 0700); the 20.10 \
     daemon's BuildKit left them 0755; skiff follows current BuildKit";

/// Why EXPOSE's history text differs from the 20.10 daemon's BuildKit.
const EXPOSE_TEXT: &str = "EXPOSE's history text: current BuildKit (parseExpose and \
     convert_expose.go, v0.26) sorts the words as written and prints the ports as a Go slice \
     (`EXPOSE 80 53/udp` → `EXPOSE [53/udp 80/tcp]`); the 20.10 daemon's BuildKit printed a \
     sorted Go map; skiff follows current BuildKit (the config's ExposedPorts are the same)";

/// Why `id` inside RUN lists one more group than the 20.10 daemon's BuildKit shows.
const ID_GROUPS: &str = "`id` output: current BuildKit (executor/oci/user.go \
     ensureAdditionalGids, in v0.26) adds the primary group to the supplementary groups of \
     every RUN, so `id` prints `groups=<gid>(…)` too; the 20.10 daemon's BuildKit did not, and \
     skiff follows current BuildKit (sandbox user.rs)";
