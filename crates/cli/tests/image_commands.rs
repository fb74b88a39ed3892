//! `skiff inspect`, `images`, `rmi` and lookup by ID through the binary: `skiff inspect`
//! against `docker image inspect` (and `skiff images` against `docker images`) of the same
//! image in a private dockerd 20.10, both ways; `--format` templates; IDs and ID prefixes
//! for every image command; `rmi` untagging and deleting as Docker does.

use serde_json::Value;
use skiff_testkit::command::run_ok;
use skiff_testkit::dockerd::Dockerd;
use skiff_testkit::project::Project;
use std::process::Command;

fn failing(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    assert!(!output.status.success(), "{cmd:?} succeeded unexpectedly");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An image with most of what `Config` can hold, a symbolic link and a hard link.
fn rich_image(p: &Project, name: &str) {
    p.write("app/file", "x".repeat(3000));
    std::os::unix::fs::symlink("file", p.path("app/link")).unwrap();
    std::fs::hard_link(p.path("app/file"), p.path("app/hard")).unwrap();
    p.dockerfile(
        "FROM busybox\n\
         COPY app /app\n\
         ENV A=1 B=\"two words\"\n\
         LABEL org.example.k=v other=\"<x & y>\"\n\
         EXPOSE 8080 53/udp\n\
         VOLUME /data\n\
         WORKDIR /app\n\
         USER nobody\n\
         STOPSIGNAL SIGTERM\n\
         HEALTHCHECK --interval=5s --retries=2 CMD true\n\
         ONBUILD RUN echo child\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\"]\n\
         CMD [\"echo hi\"]\n",
    );
    p.build_ok(&["-t", name]);
}

fn inspected(cmd: &mut Command) -> Value {
    let out = run_ok(cmd);
    let value: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(value.as_array().map(Vec::len), Some(1), "{out}");
    value[0].clone()
}

/// Every key docker shows is in skiff's view with the same value, and skiff shows no other,
/// except what describes dockerd itself (`GraphDriver`) or its bookkeeping (`Metadata`'s tag
/// time, `Parent`: the local image a classic build started from, which `docker save` does
/// not carry).
fn assert_same_as_docker(skiff: &Value, docker: &Value) {
    let (skiff, docker) = (skiff.as_object().unwrap(), docker.as_object().unwrap());
    for (key, value) in docker {
        if ["GraphDriver", "Metadata", "Parent"].contains(&key.as_str()) {
            continue;
        }
        assert_eq!(
            skiff.get(key),
            Some(value),
            "{key}\nskiff: {skiff:#?}\ndocker: {docker:#?}"
        );
    }
    for key in skiff.keys() {
        assert!(docker.contains_key(key), "{key} is not docker's");
    }
    assert!(skiff["Metadata"]["LastTagTime"].is_string());
}

const ROW: &str = "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}} {{.CreatedAt}}";

#[test]
fn inspect_and_images_show_what_docker_shows_both_ways() {
    let Some(dockerd) = Dockerd::start_or_skip() else {
        return;
    };
    let p = Project::new();
    rich_image(&p, "skiff-test/inspected:1");
    let archive = p.scratch_path("inspected.tar");
    run_ok(
        p.skiff()
            .args(["save", "-o"])
            .arg(&archive)
            .arg("skiff-test/inspected:1"),
    );
    dockerd
        .run(&["load", "-i", archive.to_str().unwrap()])
        .unwrap();
    let docker = inspected(
        dockerd
            .docker()
            .args(["image", "inspect", "skiff-test/inspected:1"]),
    );
    let skiff = inspected(p.skiff().args(["inspect", "skiff-test/inspected:1"]));
    assert_same_as_docker(&skiff, &docker);
    assert_eq!(skiff["Config"]["Labels"]["other"], "<x & y>");
    let rows = |cmd: &mut Command| {
        run_ok(
            cmd.env("TZ", "UTC")
                .args(["images", "--format", ROW, "skiff-test/inspected"]),
        )
    };
    assert_eq!(rows(&mut p.skiff()), rows(&mut dockerd.docker()));

    // The other way: an image docker's classic builder made (container_config,
    // docker_version, Container), saved by docker and loaded into skiff.
    let ctx = p.scratch_path("classic");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM skiff-test/inspected:1\nLABEL by=classic\nENV C=3\n",
    )
    .unwrap();
    let built = dockerd
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--network", "host", "-t", "skiff-test/classic:2"])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let saved = p.scratch_path("classic.tar");
    dockerd
        .run(&[
            "save",
            "-o",
            saved.to_str().unwrap(),
            "skiff-test/classic:2",
        ])
        .unwrap();
    let q = Project::new();
    run_ok(q.skiff().args(["load", "-i"]).arg(&saved));
    let docker = inspected(
        dockerd
            .docker()
            .args(["image", "inspect", "skiff-test/classic:2"]),
    );
    let skiff = inspected(q.skiff().args(["inspect", "skiff-test/classic:2"]));
    assert!(
        !docker["DockerVersion"].as_str().unwrap().is_empty(),
        "{docker:#}"
    );
    assert_same_as_docker(&skiff, &docker);
    let rows = |cmd: &mut Command| {
        run_ok(
            cmd.env("TZ", "UTC")
                .args(["images", "--format", ROW, "skiff-test/classic:2"]),
        )
    };
    assert_eq!(rows(&mut q.skiff()), rows(&mut dockerd.docker()));
}

#[test]
fn format_templates_for_inspect_and_images() {
    let p = Project::new();
    rich_image(&p, "skiff-test/formatted:1");
    run_ok(
        p.skiff()
            .args(["tag", "skiff-test/formatted:1", "skiff-test/formatted:2"]),
    );
    let format = |template: &str| {
        run_ok(
            p.skiff()
                .args(["inspect", "-f", template, "skiff-test/formatted:1"]),
        )
    };
    let id = format("{{.Id}}");
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    let env = format("{{json .Config.Env}}");
    assert!(
        env.starts_with("[\"PATH=") && env.ends_with(",\"A=1\",\"B=two words\"]\n"),
        "{env}"
    );
    assert_eq!(format("{{index .Config.Labels \"org.example.k\"}}"), "v\n");
    assert_eq!(
        format("{{range .RepoTags}}{{.}} {{end}}"),
        "skiff-test/formatted:1 skiff-test/formatted:2 \n"
    );
    assert_eq!(
        format("{{.Config.User}}{{\"\\n\"}}{{.Os}}"),
        "nobody\nlinux\n"
    );
    assert_eq!(
        format("{{.Config.Cmd}} {{.Config.Shell}}"),
        "[echo hi] []\n"
    );
    let err = failing(p.skiff().args([
        "inspect",
        "-f",
        "{{with .Config}}x{{end}}",
        "skiff-test/formatted:1",
    ]));
    assert!(
        err.contains("unsupported template construct: with"),
        "{err}"
    );

    let out = run_ok(p.skiff().args([
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.CreatedSince}}",
        "skiff-test/formatted",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines.iter().all(|l| l.ends_with(" ago")), "{out}");
    let table =
        run_ok(
            p.skiff()
                .args(["images", "--format", "table {{.Repository}}\t{{.Digest}}"]),
        );
    assert!(
        table.starts_with("REPOSITORY             DIGEST\n"),
        "{table}"
    );
}

fn id_of(p: &Project, name: &str) -> String {
    run_ok(p.skiff().args(["inspect", "-f", "{{.Id}}", name]))
        .trim()
        .to_string()
}

#[test]
fn images_are_found_by_id_and_id_prefix() {
    let p = Project::new();
    // Metadata-only images until two IDs share their first hex digit (17 are sure to).
    let mut seen: Vec<(String, String)> = Vec::new();
    let shared = loop {
        let n = seen.len();
        p.dockerfile(&format!("FROM busybox\nLABEL n={n}\n"));
        let name = format!("skiff-test/id:{n}");
        p.build_ok(&["-t", &name]);
        let id = id_of(&p, &name);
        if let Some((other, _)) = seen.iter().find(|(_, i)| i[7..8] == id[7..8]) {
            break (other.clone(), name, id[7..8].to_string());
        }
        seen.push((name, id));
        assert!(seen.len() <= 17);
    };
    let (first, second, digit) = shared;
    let id = id_of(&p, &second);
    let short = &id[7..19];
    assert_eq!(id_of(&p, short), id);
    assert_eq!(id_of(&p, &id), id);
    assert_eq!(id_of(&p, &id[..12]), id);
    run_ok(p.skiff().args(["history", short]));
    run_ok(p.skiff().args(["tag", short, "skiff-test/by-id:1"]));
    assert_eq!(id_of(&p, "skiff-test/by-id:1"), id);
    let saved = p.scratch_path("by-id.tar");
    run_ok(p.skiff().args(["save", "-o"]).arg(&saved).arg(short));
    let quiet = run_ok(p.skiff().args(["images", "-q", "skiff-test/by-id"]));
    assert_eq!(quiet, format!("{short}\n"));
    let whole = run_ok(
        p.skiff()
            .args(["images", "-q", "--no-trunc", "skiff-test/by-id"]),
    );
    assert_eq!(whole, format!("{id}\n"));

    let err = failing(p.skiff().args(["inspect", &digit]));
    assert!(err.contains("ambiguous"), "{err}");
    assert!(
        err.contains(&id_of(&p, &first)) && err.contains(&id),
        "{err}"
    );
    let err = failing(p.skiff().args(["rmi", &format!("sha256:{digit}")]));
    assert!(err.contains("ambiguous"), "{err}");
    let err = failing(p.skiff().args(["inspect", "0123456789ab0123"]));
    assert!(err.contains("no image named"), "{err}");

    // The manifest's digest (what build and pull print) finds the image too.
    let digest = run_ok(
        p.skiff()
            .args(["images", "--format", "{{.Digest}}", "skiff-test/by-id"]),
    );
    assert_eq!(id_of(&p, digest.trim()), id);
    // Of several images, a missing one is reported and the others are still shown.
    let out = p
        .skiff()
        .args(["inspect", short, "skiff-test/absent:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown.as_array().map(Vec::len), Some(1), "{shown}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("skiff-test/absent:1"));
}

#[test]
fn rmi_untags_and_deletes_as_docker_does() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nLABEL rmi=1\n");
    p.build_ok(&["-t", "skiff-test/rmi:1", "-t", "other/rmi:2"]);
    let id = id_of(&p, "skiff-test/rmi:1");
    let short = id[7..19].to_string();

    let err = failing(p.skiff().args(["rmi", &short]));
    assert!(
        err.contains(&format!("unable to delete {short} (must be forced)"))
            && err.contains("image is referenced in multiple repositories"),
        "{err}"
    );
    let out = run_ok(p.skiff().args(["rmi", "other/rmi:2"]));
    assert_eq!(out, "Untagged: other/rmi:2\n");
    let out = run_ok(p.skiff().args(["rmi", "skiff-test/rmi:1"]));
    assert_eq!(out, format!("Untagged: skiff-test/rmi:1\nDeleted: {id}\n"));
    assert_eq!(run_ok(p.skiff().args(["images", "-q"])), "");

    p.build_ok(&["-t", "skiff-test/rmi:1", "-t", "other/rmi:2"]);
    let out = run_ok(p.skiff().args(["rmi", "-f", &short]));
    assert_eq!(
        out,
        format!("Untagged: other/rmi:2\nUntagged: skiff-test/rmi:1\nDeleted: {id}\n")
    );
    p.build_ok(&["-t", "skiff-test/rmi:1"]);
    let out = run_ok(p.skiff().args(["rmi", &id]));
    assert_eq!(out, format!("Untagged: skiff-test/rmi:1\nDeleted: {id}\n"));
    let err = failing(p.skiff().args(["rmi", "skiff-test/rmi:1"]));
    assert!(err.contains("no image named"), "{err}");
}

#[test]
fn images_lists_names_newest_first_with_docker_columns() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nLABEL a=1\n");
    p.build_ok(&["-t", "skiff-test/list:a", "-t", "skiff-test/list:b"]);
    let out = run_ok(p.skiff().arg("images"));
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("REPOSITORY        TAG       IMAGE ID       CREATED")
            && header.ends_with("SIZE"),
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0][..2], ["skiff-test/list", "a"], "{out}");
    assert_eq!(rows[1][..2], ["skiff-test/list", "b"], "{out}");
    assert_eq!(rows[0][2].len(), 12, "{out}");
    assert!(rows[0][3].ends_with(" ago") || rows[0][3] == "N/A", "{out}");
    let only_b = run_ok(p.skiff().args(["images", "-q", "skiff-test/list:b"]));
    assert_eq!(only_b.trim(), rows[1][2]);
    assert_eq!(
        run_ok(p.skiff().args(["images", "-q", "skiff-test/none"])),
        ""
    );
}
