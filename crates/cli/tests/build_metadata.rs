//! Metadata instructions through `skiff build`, checked in the exported image's config and
//! history against what BuildKit (dockerd 20.10.24, the reference builder on this machine)
//! wrote for the same Dockerfiles on the same busybox base. The expected texts below were
//! captured from BuildKit's config blobs (`docker save`), see docs/reference-builders.md.

use skiff_testkit::layout::{host_architecture, sha256_digest};
use skiff_testkit::project::{BuiltImage, Kind, Project};
use std::io::Write as _;
use std::process::{Command, Stdio};

/// The busybox fixture's own history entry, kept as the first one.
const BASE_ENTRY: (&str, bool) = ("skiff-testkit", false);
/// The diff ID of an empty tar: the layer BuildKit writes for a step that changed nothing.
const EMPTY_LAYER: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The config blob exactly as skiff stored it.
fn raw_config(image: &BuiltImage) -> String {
    let digest = image.manifest["config"]["digest"].as_str().unwrap();
    String::from_utf8(image.blobs[digest].clone()).unwrap()
}

/// The `"config":{…}` object of the raw blob, as bytes (top-level keys are sorted, so
/// `created` follows it).
fn raw_runtime_config(image: &BuiltImage) -> String {
    let raw = raw_config(image);
    let start = raw.find("\"config\":").expect("a config object") + "\"config\":".len();
    let end = raw.find(",\"created\"").expect("created after config");
    raw[start..end].to_string()
}

fn history(entries: &[(&str, bool)]) -> Vec<(String, bool)> {
    entries.iter().map(|(t, e)| (t.to_string(), *e)).collect()
}

fn created_times(image: &BuiltImage) -> Vec<String> {
    image.config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created"].as_str().unwrap_or("<none>").to_string())
        .collect()
}

const ALL_METADATA: &str = r#"ARG GLOBAL=g1
ARG BASE=busybox
FROM ${BASE} AS base
ONBUILD RUN echo triggered > /onbuild
ONBUILD ENV FROM_ONBUILD=yes
LABEL stage=base

FROM base AS child
ARG GLOBAL
ARG VERSION=1.0
ARG UNSET
ARG FROMENV
ARG TARGETPLATFORM
ARG TARGETARCH
ARG BUILDPLATFORM
ENV A=1 B="two words"
ENV C $A-$VERSION
ENV D=${GLOBAL} T=$TARGETARCH E=$FROMENV
LABEL l1=$VERSION "l 2"="v 2"
LABEL a=first z=last
EXPOSE 80 53/udp 8000-8002
MAINTAINER Jane Doe <jane@example.com>
USER nobody
WORKDIR rel
WORKDIR /abs
USER 1000:1000
WORKDIR sub
WORKDIR $A/x
RUN echo $VERSION $TARGETPLATFORM > /tmp/v
SHELL ["/bin/sh", "-ec"]
RUN echo shell
RUN ["echo", "exec", "form"]
CMD echo hi
ENTRYPOINT ["/bin/echo"]
VOLUME /data /other
VOLUME ["/v2"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=4 CMD ["wget", "-q", "localhost"]
ONBUILD LABEL again=1
"#;

#[test]
fn every_metadata_instruction_writes_what_buildkit_writes() {
    let Some(p) = Project::needing_runc(ALL_METADATA) else {
        return;
    };
    let (_, image) = p.build_image_env(
        &[
            "--build-arg",
            "GLOBAL=cli",
            "--build-arg",
            "FROMENV",
            "--label",
            "a=cli",
        ],
        &[("FROMENV", "fromenv")],
    );
    let arch = host_architecture();
    let run_args = format!(
        "|7 GLOBAL=cli VERSION=1.0 UNSET= FROMENV=fromenv TARGETPLATFORM=linux/{arch} \
         TARGETARCH={arch} BUILDPLATFORM=linux/{arch}"
    );
    let expected = history(&[
        BASE_ENTRY,
        ("LABEL stage=base", true),
        ("RUN /bin/sh -c echo triggered > /onbuild # buildkit", false),
        ("ENV FROM_ONBUILD=yes", true),
        // As current BuildKit's dispatchArg: the value taken (--build-arg, default, global).
        ("ARG GLOBAL=cli", true),
        ("ARG VERSION=1.0", true),
        ("ARG UNSET", true),
        ("ARG FROMENV=fromenv", true),
        (&format!("ARG TARGETPLATFORM=linux/{arch}"), true),
        (&format!("ARG TARGETARCH={arch}"), true),
        (&format!("ARG BUILDPLATFORM=linux/{arch}"), true),
        ("ENV A=1 B=two words", true),
        ("ENV C=1-1.0", true),
        (&format!("ENV D=cli T={arch} E=fromenv"), true),
        ("LABEL l1=1.0 l 2=v 2", true),
        ("LABEL a=first z=last", true),
        ("EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp 8002/tcp]", true),
        ("MAINTAINER Jane Doe <jane@example.com>", true),
        ("USER nobody", true),
        ("WORKDIR /rel", false),
        ("WORKDIR /abs", false),
        ("USER 1000:1000", true),
        ("WORKDIR /abs/sub", false),
        ("WORKDIR /abs/sub/1/x", false),
        (
            &format!("RUN {run_args} /bin/sh -c echo $VERSION $TARGETPLATFORM > /tmp/v # buildkit"),
            false,
        ),
        ("SHELL [/bin/sh -ec]", true),
        (
            &format!("RUN {run_args} /bin/sh -ec echo shell # buildkit"),
            false,
        ),
        (&format!("RUN {run_args} echo exec form # buildkit"), false),
        (r#"CMD ["/bin/sh" "-ec" "echo hi"]"#, true),
        (r#"ENTRYPOINT ["/bin/echo"]"#, true),
        ("VOLUME [/data /other]", true),
        ("VOLUME [/v2]", true),
        ("STOPSIGNAL SIGTERM", true),
        (
            r#"HEALTHCHECK &{["CMD" "wget" "-q" "localhost"] "5s" "3s" "10s" "0s" '\x04'}"#,
            true,
        ),
    ]);
    assert_eq!(image.history(), expected);
    let config = format!(
        r#"{{"User":"1000:1000","ExposedPorts":{{"53/udp":{{}},"80/tcp":{{}},"8000/tcp":{{}},"8001/tcp":{{}},"8002/tcp":{{}}}},"Env":["{DEFAULT_PATH}","FROM_ONBUILD=yes","A=1","B=two words","C=1-1.0","D=cli","T={arch}","E=fromenv"],"Entrypoint":["/bin/echo"],"Cmd":["/bin/sh","-ec","echo hi"],"Volumes":{{"/data":{{}},"/other":{{}},"/v2":{{}}}},"WorkingDir":"/abs/sub/1/x","Labels":{{"a":"cli","l 2":"v 2","l1":"1.0","stage":"base","z":"last"}},"StopSignal":"SIGTERM","Healthcheck":{{"Test":["CMD","wget","-q","localhost"],"Interval":5000000000,"Timeout":3000000000,"StartPeriod":10000000000,"Retries":4}},"ArgsEscaped":true,"OnBuild":["LABEL again=1"],"Shell":["/bin/sh","-ec"]}}"#
    );
    assert_eq!(raw_runtime_config(&image), config);
    // MAINTAINER is the top-level author, with Go's escaping of < and >.
    assert!(raw_config(&image).starts_with(&format!(
        r#"{{"architecture":"{arch}","author":"Jane Doe \u003cjane@example.com\u003e","config":"#
    )));
    // The trigger ran in the child; the ARG values reached RUN; WORKDIRs were created by
    // the user in effect.
    assert_eq!(image.fs.read_string("/onbuild"), "triggered\n");
    assert_eq!(
        image.fs.read_string("/tmp/v"),
        format!("1.0 linux/{arch}\n")
    );
    let rel = image.fs.entry("/rel");
    assert_eq!((rel.uid, rel.gid), (65534, 65534));
    let sub = image.fs.entry("/abs/sub/1/x");
    assert_eq!(
        (sub.kind.clone(), sub.uid, sub.gid),
        (Kind::Dir, 1000, 1000)
    );
}

#[test]
fn build_arg_from_the_environment_and_global_args() {
    let p = Project::new();
    p.dockerfile(
        "ARG GLOBAL=g1\nARG NODEF\nFROM busybox\nARG GLOBAL\nARG NODEF\nARG SKIFF_META_ENV_ARG\n\
         ARG CLI=default\nENV G=$GLOBAL N=${NODEF:-unset} F=$SKIFF_META_ENV_ARG C=$CLI\n\
         ARG TARGETOS TARGETVARIANT BUILDOS BUILDARCH\n\
         ENV TOS=$TARGETOS TV=${TARGETVARIANT:-none} BOS=$BUILDOS BA=$BUILDARCH\n",
    );
    let (_, image) = p.build_image_env(
        &[
            "--build-arg",
            "SKIFF_META_ENV_ARG",
            "--build-arg",
            "CLI=given",
        ],
        &[("SKIFF_META_ENV_ARG", "from-env")],
    );
    let env = image.runtime_config()["Env"].to_string();
    let arch = host_architecture();
    assert_eq!(
        env,
        format!(
            r#"["{DEFAULT_PATH}","G=g1","N=unset","F=from-env","C=given","TOS=linux","TV=none","BOS=linux","BA={arch}"]"#
        )
    );
    // ARGs never reach the config's Env by themselves; the history shows the value taken.
    let texts: Vec<String> = image.history().into_iter().map(|(t, _)| t).collect();
    assert!(texts.contains(&"ARG CLI=given".to_string()), "{texts:?}");
    assert!(texts.contains(&"ARG NODEF".to_string()), "{texts:?}");
}

#[test]
fn arg_and_env_precedence_quoting_and_go_escaping() {
    let Some(p) = Project::needing_runc(
        r#"ARG GLOBAL=g1
ARG NODEF
FROM busybox
ARG GLOBAL
ARG NODEF
ENV A=envA
ARG A=argA
ARG X=$A-x Y
ENV K some value
ENV Q="a \"b\" ü"
LABEL "quote"="a \"b\"" multi="x y"
ARG PORT=8080
EXPOSE $PORT
USER nobody
WORKDIR /made/by/nobody
USER root
RUN env | sort > /env
ENTRYPOINT echo "hi & bye"
HEALTHCHECK NONE
STOPSIGNAL 9
CMD ["echo", "a\"b", "ü", "<tag>"]
"#,
    ) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    let expected = history(&[
        BASE_ENTRY,
        ("ARG GLOBAL=g1", true),
        ("ARG NODEF", true),
        ("ENV A=envA", true),
        ("ARG A=argA", true),
        ("ARG X=argA-x Y", true),
        ("ENV K=some value", true),
        (r#"ENV Q=a "b" ü"#, true),
        (r#"LABEL quote=a "b" multi=x y"#, true),
        ("ARG PORT=8080", true),
        ("EXPOSE [8080/tcp]", true),
        ("USER nobody", true),
        ("WORKDIR /made/by/nobody", false),
        ("USER root", true),
        (
            "RUN |6 GLOBAL=g1 NODEF= A=argA X=argA-x Y= PORT=8080 /bin/sh -c env | sort > /env # buildkit",
            false,
        ),
        (r#"ENTRYPOINT ["/bin/sh" "-c" "echo \"hi & bye\""]"#, true),
        (r#"HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" '\x00'}"#, true),
        ("STOPSIGNAL 9", true),
        (r#"CMD ["echo" "a\"b" "ü" "<tag>"]"#, true),
    ]);
    assert_eq!(image.history(), expected);
    assert_eq!(
        raw_runtime_config(&image),
        format!(
            r#"{{"User":"root","ExposedPorts":{{"8080/tcp":{{}}}},"Env":["{DEFAULT_PATH}","A=envA","K=some value","Q=a \"b\" ü"],"Entrypoint":["/bin/sh","-c","echo \"hi \u0026 bye\""],"Cmd":["echo","a\"b","ü","\u003ctag\u003e"],"WorkingDir":"/made/by/nobody","Labels":{{"multi":"x y","quote":"a \"b\""}},"StopSignal":"9","Healthcheck":{{"Test":["NONE"]}},"ArgsEscaped":true,"OnBuild":null}}"#
        )
    );
    // An ARG declared after an ENV of the same name wins in RUN; unset ARGs are not exported.
    let env = image.fs.read_string("/env");
    for line in [
        "A=argA",
        "GLOBAL=g1",
        "PORT=8080",
        "X=argA-x",
        "K=some value",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing from\n{env}");
    }
    for name in ["NODEF=", "Y="] {
        assert!(
            !env.lines().any(|l| l.starts_with(name)),
            "{name} in\n{env}"
        );
    }
    for dir in ["/made", "/made/by", "/made/by/nobody"] {
        let e = image.fs.entry(dir);
        assert_eq!((e.uid, e.gid), (65534, 65534), "{dir}");
    }
}

#[test]
fn entrypoint_clears_the_inherited_cmd_and_the_config_is_byte_for_byte_buildkits() {
    let p = Project::new();
    p.dockerfile(
        "FROM scratch AS meta\nENV ONLY=meta\n\
         FROM busybox AS ep\nENTRYPOINT [\"/bin/echo\"]\n\
         HEALTHCHECK --interval=90s --retries=7 CMD true\n",
    );
    let (_, image) = p.build_image(&[]);
    let arch = host_architecture();
    let base = image.config["rootfs"]["diff_ids"][0].as_str().unwrap();
    // BuildKit's blob for the same Dockerfile; no step made a layer, so every new entry
    // carries the base image's time.
    let buildkit = format!(
        r#"{{"architecture":"{arch}","config":{{"Env":["{DEFAULT_PATH}"],"Entrypoint":["/bin/echo"],"Healthcheck":{{"Test":["CMD-SHELL","true"],"Interval":90000000000,"Retries":7}},"OnBuild":null}},"created":"2024-01-01T00:00:00Z","history":[{{"created":"2024-01-01T00:00:00Z","created_by":"skiff-testkit"}},{{"created":"2024-01-01T00:00:00Z","created_by":"ENTRYPOINT [\"/bin/echo\"]","comment":"buildkit.dockerfile.v0","empty_layer":true}},{{"created":"2024-01-01T00:00:00Z","created_by":"HEALTHCHECK \u0026{{[\"CMD-SHELL\" \"true\"] \"1m30s\" \"0s\" \"0s\" \"0s\" '\\a'}}","comment":"buildkit.dockerfile.v0","empty_layer":true}}],"os":"linux","rootfs":{{"type":"layers","diff_ids":["{base}"]}}}}"#
    );
    assert_eq!(raw_config(&image), buildkit);
}

#[test]
fn cmd_before_entrypoint_in_the_same_stage_is_kept() {
    let p = Project::new();
    p.dockerfile(
        "FROM busybox\nCMD [\"-n\", \"hi\"]\nENTRYPOINT echo\n\
         HEALTHCHECK --start-interval=2s --retries=65 CMD [\"x\"]\n",
    );
    let (_, image) = p.build_image(&[]);
    let config = image.runtime_config();
    assert_eq!(config["Cmd"].to_string(), r#"["-n","hi"]"#);
    assert_eq!(
        config["Entrypoint"].to_string(),
        r#"["/bin/sh","-c","echo"]"#
    );
    assert_eq!(config["ArgsEscaped"], true);
    assert_eq!(
        config["Healthcheck"].to_string(),
        r#"{"Retries":65,"StartInterval":2000000000,"Test":["CMD","x"]}"#
    );
    assert_eq!(
        image.history().last().unwrap().0,
        r#"HEALTHCHECK &{["CMD" "x"] "0s" "0s" "0s" "2s" 'A'}"#
    );
}

#[test]
fn workdir_makes_a_layer_but_for_the_root_and_is_recorded_resolved() {
    let p = Project::new();
    p.dockerfile(
        "FROM busybox\nARG HTTP_PROXY\nARG V=1\nARG V=2\nonbuild run echo x\n\
         WORKDIR /\nWORKDIR /tmp\nWORKDIR ./a/../b/\n",
    );
    let (_, image) = p.build_image(&["--build-arg", "HTTP_PROXY=http://proxy:3128"]);
    assert_eq!(
        image.history(),
        history(&[
            BASE_ENTRY,
            ("ARG HTTP_PROXY", true),
            ("ARG V=1", true),
            ("ARG V=2", true),
            // The root always exists: current BuildKit adds no layer for it.
            ("WORKDIR /", true),
            ("WORKDIR /tmp", false),
            ("WORKDIR /tmp/b", false),
        ])
    );
    let diff_ids = image.config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.len(), 3);
    // /tmp existed: BuildKit still writes a layer, the empty tar.
    assert_eq!(diff_ids[1], EMPTY_LAYER);
    assert!(image.layers[1].tree.entries.is_empty());
    assert_eq!(image.fs.entry("/tmp/b").kind, Kind::Dir);
    assert_eq!(
        raw_runtime_config(&image),
        format!(
            r#"{{"Env":["{DEFAULT_PATH}"],"Cmd":["sh"],"WorkingDir":"/tmp/b","OnBuild":["run echo x"]}}"#
        )
    );
}

#[test]
fn scratch_gets_the_default_path_and_root_as_workdir() {
    let p = Project::new();
    p.write("hello.txt", "hi\n");
    p.dockerfile("FROM scratch\nCOPY hello.txt /\nWORKDIR app\n");
    let (_, image) = p.build_image(&[]);
    assert_eq!(
        raw_runtime_config(&image),
        format!(r#"{{"Env":["{DEFAULT_PATH}"],"WorkingDir":"/app","OnBuild":null}}"#)
    );
    assert_eq!(
        image.history(),
        history(&[
            ("COPY hello.txt / # buildkit", false),
            ("WORKDIR /app", false)
        ])
    );
    assert_eq!(image.config["architecture"], host_architecture());
    assert_eq!(image.config["os"], "linux");
    assert_eq!(image.fs.read_string("/hello.txt"), "hi\n");
}

#[test]
fn onbuild_triggers_run_once_from_a_stage_and_from_an_image() {
    let Some(base) = Project::needing_runc(
        "FROM busybox AS parent\nONBUILD RUN echo \"$(cat /count 2>/dev/null)x\" > /count\n\
         FROM parent AS child\nRUN cp /count /child-count\n\
         FROM child AS grandchild\nRUN cp /count /grandchild-count\n",
    ) else {
        return;
    };
    let (_, image) = base.build_image(&[]);
    // The trigger ran when `child` was built on `parent`, not again for `grandchild`.
    assert_eq!(image.fs.read_string("/child-count"), "x\n");
    assert_eq!(image.fs.read_string("/grandchild-count"), "x\n");
    assert!(image.runtime_config()["OnBuild"].is_null());
    let triggered = image
        .history()
        .iter()
        .filter(|(t, _)| t.contains("/count # buildkit"))
        .count();
    assert_eq!(triggered, 1, "{:?}", image.history());
    assert!(!image
        .history()
        .iter()
        .any(|(t, _)| t.starts_with("ONBUILD")));

    // The same with an image from the store as the base.
    let parent = Project::with_store(base.store());
    parent.dockerfile(
        "FROM busybox\nONBUILD RUN echo from-image > /trigger\nONBUILD ENV TRIGGERED=1\n",
    );
    parent.build_ok(&["-t", "skiff-meta-onbuild-parent"]);
    let user = Project::with_store(base.store());
    user.dockerfile("FROM skiff-meta-onbuild-parent\nRUN cat /trigger > /seen\n");
    let (_, image) = user.build_image(&[]);
    assert_eq!(image.fs.read_string("/seen"), "from-image\n");
    assert_eq!(image.env("TRIGGERED").as_deref(), Some("1"));
    assert!(image.runtime_config()["OnBuild"].is_null());
    assert_eq!(
        image.history()[1..],
        history(&[
            (
                "RUN /bin/sh -c echo from-image > /trigger # buildkit",
                false
            ),
            ("ENV TRIGGERED=1", true),
            ("RUN /bin/sh -c cat /trigger > /seen # buildkit", false),
        ])
    );
}

#[test]
fn source_date_epoch_stamps_every_new_entry_and_the_image() {
    let p = Project::new();
    p.write("a.txt", "a\n");
    p.dockerfile("FROM busybox\nENV A=1\nCOPY a.txt /\nLABEL z=1 a=2\nENV B=2 C=3\n");
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let (_, first) = p.build_image_env(&[], &env);
    let stamp = "2023-11-14T22:13:20Z";
    assert_eq!(first.config["created"], stamp);
    let times = created_times(&first);
    assert_eq!(times[0], "2024-01-01T00:00:00Z", "the base entry is kept");
    assert!(times[1..].iter().all(|t| t == stamp), "{times:?}");
    // Same inputs, same config bytes: label and env order are deterministic.
    let (_, second) = p.build_image_env(&["--no-cache"], &env);
    assert_eq!(raw_config(&first), raw_config(&second));
    assert_eq!(
        first.runtime_config()["Labels"].to_string(),
        r#"{"a":"2","z":"1"}"#
    );
}

#[test]
fn history_times_follow_buildkits_rules_without_an_epoch() {
    let Some(p) =
        Project::needing_runc("FROM busybox\nENV A=1\nRUN sleep 1\nLABEL x=1\nRUN sleep 1\n")
    else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    let times = created_times(&image);
    // A metadata entry takes the time of the layer step before it; leading ones, the first
    // layer step's. The image's time is the last entry's.
    assert_eq!(times[1], times[2], "{times:?}");
    assert_eq!(times[3], times[2], "{times:?}");
    assert_ne!(times[4], times[2], "{times:?}");
    // Nanoseconds, as BuildKit writes them (`2026-11-26T18:11:43.397925593Z`).
    assert!(times[2].len() > "2026-11-26T18:11:43Z".len(), "{times:?}");
    assert_eq!(image.config["created"], times[4].as_str());
}

#[test]
fn diff_ids_are_the_uncompressed_layers() {
    let Some(gzip) = skiff_testkit::tools::find_tool("gzip") else {
        assert!(!skiff_testkit::tools::in_ci(), "gzip is needed in CI");
        eprintln!("skipping: gzip is not installed");
        return;
    };
    let p = Project::new();
    p.write("a.txt", "a\n");
    p.dockerfile("FROM busybox\nCOPY a.txt /\nWORKDIR /tmp\n");
    let (_, image) = p.build_image(&[]);
    let layers = image.manifest["layers"].as_array().unwrap();
    let diff_ids: Vec<String> = image.config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert_eq!(layers.len(), diff_ids.len());
    for (layer, diff_id) in layers.iter().zip(&diff_ids) {
        let blob = &image.blobs[layer["digest"].as_str().unwrap()];
        assert!(layer["mediaType"].as_str().unwrap().ends_with("gzip"));
        let mut child = Command::new(&gzip)
            .arg("-dc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = blob.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(&sha256_digest(&out.stdout), diff_id);
    }
    assert_eq!(diff_ids.last().unwrap(), EMPTY_LAYER);
}

#[test]
fn a_stage_from_a_stage_inherits_its_args_and_targetstage_names_the_target() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox AS base\n",
        "ARG V=1\n",
        "ARG W\n",
        "ARG TARGETSTAGE\n",
        "ENV FIRST=$TARGETSTAGE\n",
        "FROM base AS child\n",
        "ARG W\n",
        "ARG V\n",
        "ENV SEEN=\"v=$V w=$W ts=$TARGETSTAGE\"\n",
        "RUN true\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&["--build-arg", "W=given"]);
    let env = image.runtime_config()["Env"].to_string();
    // Without --target the stage is `default`; a bare `ARG V` keeps the inherited value.
    assert!(env.contains(r#""FIRST=default""#), "{env}");
    assert!(env.contains(r#""SEEN=v=1 w=given ts=default""#), "{env}");
    // Each ARG once in RUN's history, as current BuildKit's runCommandString.
    let run = (image.history().into_iter())
        .map(|(t, _)| t)
        .find(|t| t.starts_with("RUN "))
        .expect("a RUN entry");
    assert_eq!(
        run,
        "RUN |3 V=1 W=given TARGETSTAGE=default /bin/sh -c true # buildkit"
    );
    let (_, image) = p.build_image(&["--build-arg", "W=given", "--target", "child"]);
    let env = image.runtime_config()["Env"].to_string();
    assert!(env.contains(r#""SEEN=v=1 w=given ts=child""#), "{env}");
}

#[test]
fn a_syntax_directive_naming_another_frontend_is_refused_and_dockerfile_1_is_accepted() {
    let p = Project::new();
    p.dockerfile("# syntax=example.com/my/frontend:1\nFROM scratch\nLABEL a=b\n");
    let run = p.build(&[]);
    run.assert_failed_with("does not run custom frontends");
    assert!(run.stderr().contains("Dockerfile:1"), "{}", run.report());
    assert!(
        run.stderr().contains("docker/dockerfile:1"),
        "{}",
        run.report()
    );
    p.dockerfile("# syntax=docker/dockerfile:1.7\nFROM scratch\nLABEL a=b\n");
    p.build_ok(&[]);
}

#[test]
fn a_from_platform_that_expands_to_nothing_or_no_platform_is_an_error() {
    let p = Project::new();
    p.dockerfile("ARG P=\nFROM --platform=$P scratch\nLABEL a=b\n");
    let run = p.build(&[]);
    run.assert_failed_with("empty platform value from expression $P");
    assert!(run.stderr().contains("Dockerfile:2"), "{}", run.report());
    p.dockerfile("FROM --platform=linux/amd64/v2/x scratch\nLABEL a=b\n");
    p.build(&[]).assert_failed_with("failed to parse platform");
    p.dockerfile("FROM --platform=nonsense scratch\nLABEL a=b\n");
    p.build(&[])
        .assert_failed_with("failed to parse platform \"nonsense\"");
    // Valid, and $BUILDPLATFORM expands: no RUN needs the platform, so any is accepted.
    p.dockerfile("FROM --platform=$BUILDPLATFORM scratch\nLABEL a=b\nFROM --platform=linux/arm64 scratch\nLABEL c=d\n");
    p.build_ok(&[]);
}
