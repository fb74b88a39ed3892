//! A Dockerfile that is not what a build can read: a line too long (the error shows an
//! excerpt, bounded, never the whole line), UTF-16 text (named as such), other non-UTF-8
//! bytes (named by their place). Each is an error with a fix, and nothing is built.

use skiff_testkit::project::Project;

#[test]
fn an_over_long_line_is_reported_with_a_bounded_excerpt() {
    let p = Project::new();
    let long = "a".repeat(5_000_000);
    p.dockerfile(&format!("FROM busybox\nRUN echo {long}\n"));
    let run = p.build(&[]);
    run.assert_failed_with("dockerfile line greater than max allowed size of 65535");
    assert!(
        run.stderr().contains("Dockerfile:2:1"),
        "{}",
        &run.stderr()[..2000.min(run.stderr().len())]
    );
    // About 10 MB of stderr before (the line and as many carets); an excerpt now.
    assert!(
        run.stderr().len() < 4_000,
        "{} bytes of stderr",
        run.stderr().len()
    );
}

#[test]
fn a_utf16_dockerfile_is_named_as_such() {
    let p = Project::new();
    let mut bytes = vec![0xff, 0xfe];
    for unit in "FROM busybox\nRUN true\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(p.dir().join("Dockerfile"), bytes).unwrap();
    let run = p.build(&[]);
    run.assert_failed_with("is UTF-16 text, not UTF-8");
    assert!(run.stderr().contains("iconv"), "{}", run.report());
    assert!(!run.stderr().contains("-f FILE"), "{}", run.report());
}

#[test]
fn other_bytes_that_are_not_utf8_are_named_by_their_place() {
    let p = Project::new();
    std::fs::write(
        p.dir().join("Dockerfile"),
        b"FROM busybox\nRUN echo caf\xe9\n",
    )
    .unwrap();
    let run = p.build(&[]);
    run.assert_failed_with("Dockerfile:2:13 is not UTF-8 text (byte 0xe9)");
}
