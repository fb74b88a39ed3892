//! `skiff history`: an image's steps newest first, each with its instruction and the unpacked
//! size of the layer it made, as `docker history` prints them.

use skiff_testkit::project::Project;
use skiff_testkit::serde_json::Value;

fn history(p: &Project, args: &[&str]) -> String {
    let out = p.skiff().arg("history").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn each_step_is_listed_newest_first_with_its_layer_size() {
    if !skiff_testkit::require_tool("runc") {
        return;
    }
    let p = Project::new();
    p.write("blob.bin", vec![7u8; 300_000]);
    p.dockerfile(
        "FROM busybox\nENV GREETING=hi\nCOPY blob.bin /blob.bin\n\
         RUN echo 12345 > /five && echo a-rather-long-command-line-that-docker-would-cut\n\
         USER 1000\n",
    );
    p.build_ok(&["-t", "history-test:1"]);

    let table = history(&p, &["history-test:1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CREATED "), "{table}");
    assert!(lines[0].contains(" CREATED BY ") && lines[0].contains(" SIZE "));
    let mine = &lines[1..5];
    let expected = [
        ("USER 1000", "0B"),
        ("RUN /bin/sh -c echo 12345 > /five && echo a-…", "6B"),
        ("COPY blob.bin /blob.bin # buildkit", "300kB"),
        ("ENV GREETING=hi", "0B"),
    ];
    for (line, (by, size)) in mine.iter().zip(expected) {
        assert!(line.contains(by), "{by:?} in {line:?}\n{table}");
        assert!(
            line.contains(&format!(" {size} ")),
            "{size} in {line:?}\n{table}"
        );
        assert!(line.contains("ago"), "{line:?}");
        assert!(line.ends_with("buildkit.dockerfile.v0"), "{line:?}");
    }
    // The base image's own steps follow: busybox's layer holds the binary (about 1-2 MB).
    assert!(lines.len() > 5, "{table}");

    let whole = history(&p, &["--no-trunc", "-H=false", "history-test:1"]);
    assert!(
        whole.contains("a-rather-long-command-line-that-docker-would-cut"),
        "{whole}"
    );
    assert!(whole.contains(" 300000 "), "{whole}");

    let json = history(&p, &["--format", "json", "history-test:1"]);
    let rows: Vec<Value> = json
        .lines()
        .map(|l| skiff_testkit::serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[2]["CreatedBy"], "COPY blob.bin /blob.bin # buildkit");
    assert_eq!(rows[2]["Size"], "300kB");
    assert!(rows[2]["CreatedAt"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn an_unknown_image_is_named_with_a_hint() {
    let p = Project::new();
    let out = p.skiff().args(["history", "nope:1"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no image named"), "{stderr}");
    assert!(
        stderr.contains("nope:1 in the store (see `skiff images`)"),
        "{stderr}"
    );
}
