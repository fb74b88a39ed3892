//! The golden test of the key format: the steps of a few Dockerfiles, as the engine specs
//! them, and their keys (checked once against an independent implementation: Python's
//! `json.dumps(doc, sort_keys=True, separators=(',', ':'), ensure_ascii=False)` hashed with
//! SHA-256). A change of any key here is a change of the format: bump
//! [`super::KEY_FORMAT_VERSION`], update `docs/cache-keys.md`, then the values below.

use super::{key_document, step_key};
use crate::spec::*;

const BUMP: &str = "the cache key format changed: bump KEY_FORMAT_VERSION in cachekey.rs, \
                    update docs/cache-keys.md, then update the golden values";

const BASE: &str = "sha256:0d7e8f4ab6b0d0d0a6f1e2c3b4a5968778695a4b3c2d1e0f1a2b3c4d5e6f7a8b";

fn gzip() -> LayerFormat {
    LayerFormat {
        compression: Compression::Gzip,
        source_date_epoch: None,
    }
}

/// `FROM golang` + `ENV CGO_ENABLED=0` + `WORKDIR /src` +
/// `RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=bind,target=. \
///      --mount=type=secret,id=netrc,target=/root/.netrc --mount=type=tmpfs,target=/tmp,size=1048576 \
///      --mount=type=ssh --network=none go build -o /out/app .`
fn run_with_mounts() -> StepSpec {
    StepSpec::Run(RunSpec {
        argv: vec![
            "/bin/sh".into(),
            "-c".into(),
            "go build -o /out/app .".into(),
        ],
        env: vec![
            EnvVar {
                name: "PATH".into(),
                value: "/usr/local/go/bin:/usr/bin:/bin".into(),
            },
            EnvVar {
                name: "CGO_ENABLED".into(),
                value: "0".into(),
            },
        ],
        user: String::new(),
        workdir: "/src".into(),
        network: NetworkMode::None,
        security: SecurityMode::Sandbox,
        mounts: vec![
            MountSpec::Cache {
                target: "/root/.cache/go-build".into(),
                id: "/root/.cache/go-build".into(),
                sharing: CacheSharing::Locked,
                readonly: false,
                uid: None,
                gid: Some(0),
                mode: Some(0o755),
                seed: None,
            },
            MountSpec::Bind {
                target: "/src".into(),
                source: "/".into(),
                origin: Origin::Context,
                content: "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                    .into(),
                rw: false,
            },
            MountSpec::Secret {
                id: "netrc".into(),
                target: Some("/root/.netrc".into()),
                env: None,
                required: false,
                uid: None,
                gid: None,
                mode: None,
            },
            MountSpec::Tmpfs {
                target: "/tmp".into(),
                size: Some(1_048_576),
            },
            MountSpec::Ssh {
                id: "default".into(),
                target: "/run/buildkit/ssh_agent.0".into(),
                required: false,
                uid: 0,
                gid: 0,
                mode: 0o600,
            },
        ],
        hostname: None,
        shm_size: None,
        ulimits: Vec::new(),
        extra_hosts: Vec::new(),
    })
}

/// `COPY --chown=10:20 --exclude=*.md go.mod go.sum ./` (WORKDIR /src).
fn copy() -> CopySpec {
    CopySpec {
        sources: vec![
            SourceSpec::Path {
                pattern: "go.mod".into(),
                checksum: "sha256:2222222222222222222222222222222222222222222222222222222222222222"
                    .into(),
            },
            SourceSpec::Path {
                pattern: "go.sum".into(),
                checksum: "sha256:3333333333333333333333333333333333333333333333333333333333333333"
                    .into(),
            },
        ],
        dest: "/src/".into(),
        origin: Origin::Context,
        chown: Some("10:20".into()),
        chmod: None,
        link: false,
        excludes: vec!["*.md".into()],
        parents: false,
    }
}

/// `ADD --checksum=sha256:44… https://example.com/a.tgz /opt/` and
/// `ADD --keep-git-dir https://example.com/r.git#v1:sub /r`.
fn add() -> StepSpec {
    StepSpec::Add(AddSpec {
        copy: CopySpec {
            sources: vec![
                SourceSpec::Url {
                    url: "https://example.com/a.tgz".into(),
                    name: "a.tgz".into(),
                    digest:
                        "sha256:4444444444444444444444444444444444444444444444444444444444444444"
                            .into(),
                    last_modified: 1_700_000_000,
                },
                SourceSpec::Git {
                    remote: "https://example.com/r.git".into(),
                    commit: "5555555555555555555555555555555555555555".into(),
                    subdir: Some("sub".into()),
                    keep_git_dir: true,
                },
            ],
            dest: "/opt/".into(),
            origin: Origin::Context,
            chown: None,
            chmod: Some("0755".into()),
            link: false,
            excludes: Vec::new(),
            parents: false,
        },
        unpack: Unpack::Auto,
        checksum: Some(
            "sha256:4444444444444444444444444444444444444444444444444444444444444444".into(),
        ),
        keep_git_dir: true,
    })
}

/// `COPY --link --from=builder /out/app /app` and `COPY <<EOF /etc/motd`.
fn link_copy() -> StepSpec {
    StepSpec::Copy(CopySpec {
        sources: vec![
            SourceSpec::Path {
                pattern: "/out/app".into(),
                checksum: "sha256:6666666666666666666666666666666666666666666666666666666666666666"
                    .into(),
            },
            SourceSpec::Inline {
                name: "motd".into(),
                content: "hello \"world\"\n".into(),
            },
        ],
        dest: "/app".into(),
        origin: Origin::Layers,
        chown: Some("0:0".into()),
        chmod: None,
        link: true,
        excludes: Vec::new(),
        parents: false,
    })
}

#[test]
fn the_document_of_a_metadata_step_is_pinned() {
    let spec = StepSpec::Meta(MetaSpec {
        instruction: "CMD".into(),
        change: "CMD [\"/app\"]".into(),
    });
    assert_eq!(
        key_document(Some(BASE), &spec, None),
        concat!(
            r#"{"format":"skiff.cache-key","layer":null,"#,
            r#""parent":"sha256:0d7e8f4ab6b0d0d0a6f1e2c3b4a5968778695a4b3c2d1e0f1a2b3c4d5e6f7a8b","#,
            r#""step":{"change":"CMD [\"/app\"]","instruction":"CMD","kind":"meta"},"version":3}"#
        ),
        "{BUMP}"
    );
}

#[test]
fn the_keys_of_the_golden_steps_are_pinned() {
    let env = StepSpec::Meta(MetaSpec {
        instruction: "ENV".into(),
        change: "ENV CGO_ENABLED=0".into(),
    });
    let k_env = step_key(Some(BASE), &env, None);
    let workdir = StepSpec::Workdir(WorkdirSpec {
        path: "/src".into(),
        user: String::new(),
    });
    let k_workdir = step_key(Some(&k_env), &workdir, Some(&gzip()));
    let k_copy = step_key(Some(&k_workdir), &StepSpec::Copy(copy()), Some(&gzip()));
    let k_run = step_key(Some(&k_copy), &run_with_mounts(), Some(&gzip()));
    let zstd_epoch = LayerFormat {
        compression: Compression::Zstd,
        source_date_epoch: Some(0),
    };
    let k_run_zstd = step_key(Some(&k_copy), &run_with_mounts(), Some(&zstd_epoch));
    let k_add = step_key(Some("scratch"), &add(), Some(&gzip()));
    let k_link = step_key(Some(&k_add), &link_copy(), Some(&gzip()));
    let link_layer = StepSpec::LinkLayer(LinkLayerSpec {
        copy: Box::new(link_copy()),
        mtime_clamp: 946_684_801,
    });
    let k_link_layer = step_key(None, &link_layer, Some(&gzip()));
    let k_stage = step_key(
        Some(&k_link),
        &StepSpec::StageResult(StageResultSpec { target: true }),
        None,
    );
    let checksum = StepSpec::SourceChecksum(SourceChecksumSpec {
        layers: vec![BASE.into()],
        pattern: "/out/app".into(),
        excludes: vec!["*.o".into()],
    });
    let k_checksum = step_key(None, &checksum, None);
    let got = [
        ("ENV", k_env),
        ("WORKDIR", k_workdir),
        ("COPY", k_copy),
        ("RUN with mounts", k_run),
        ("RUN zstd epoch 0", k_run_zstd),
        ("ADD url git", k_add),
        ("COPY --link heredoc", k_link),
        ("--link layer", k_link_layer),
        ("stage result", k_stage),
        ("source checksum", k_checksum),
    ];
    // Printed for updating GOLDEN after a deliberate format change (shown when it fails).
    for (name, key) in &got {
        println!("    (\"{name}\", \"{key}\"),");
    }
    assert_eq!(got.len(), GOLDEN.len());
    for ((name, key), (golden_name, golden_key)) in got.iter().zip(GOLDEN) {
        assert_eq!(*name, golden_name);
        assert_eq!(key, golden_key, "{name}: {BUMP}");
    }
}

const GOLDEN: [(&str, &str); 10] = [
    (
        "ENV",
        "sha256:63e977214c5c8dcd16919611cbf9314f7cde5ffffe98e0a7c9cbd97bab7261cb",
    ),
    (
        "WORKDIR",
        "sha256:ac2371a69289ed3befe6ab41b41fd3270246857f4ca3e0e5cf40258074a1b84e",
    ),
    (
        "COPY",
        "sha256:be5ac8a7fff895498b5d21da8ec818907d33747083335b66661de0900c11be3b",
    ),
    (
        "RUN with mounts",
        "sha256:abb666b9363e7422f5cc38c97943f4f86f0f17f5b7ecca498173fa07ffceab30",
    ),
    (
        "RUN zstd epoch 0",
        "sha256:0b70fca4bb2dcc54108219c2d4385d06ea3feb278c8b5a9e88b7a2a521b838eb",
    ),
    (
        "ADD url git",
        "sha256:167340992f49b55159fecc874b95fa18d025473c06fb942fa67978fa188d7577",
    ),
    (
        "COPY --link heredoc",
        "sha256:f7efa6d476beb3f0694c9ce5282aad48772b3d9c4f2bed059e263f59db627ca7",
    ),
    (
        "--link layer",
        "sha256:0d853a51334f231cf308a4426867b796055ed8c306c311b510ccf267a4152231",
    ),
    (
        "stage result",
        "sha256:1ecf82513a3cb128314eb61a46eafcc57ea5c3c0477b5921bf728cce3f47e672",
    ),
    (
        "source checksum",
        "sha256:437ce9f8d33133de015b7d8cf3e78c6ff7f572c5698362a2a493a232226e5e58",
    ),
];
