//! The smallest end-to-end build: busybox base, one RUN, one COPY, read back from the export.

use skiff_testkit::project::{Kind, Project};

#[test]
fn run_and_copy_land_in_the_image() {
    if !skiff_testkit::require_tool("runc") {
        return;
    }
    let p = Project::new();
    p.write_mode("app/hello.sh", "#!/bin/sh\necho hello\n", 0o755);
    p.dockerfile("FROM busybox\nWORKDIR /work\nCOPY app/ ./app/\nRUN ./app/hello.sh > out.txt\nCMD [\"cat\", \"out.txt\"]\n");
    let (run, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/work/out.txt"), "hello\n");
    let script = image.fs.entry("/work/app/hello.sh");
    assert_eq!((script.kind.clone(), script.mode), (Kind::File, 0o755));
    assert!(run.cached_steps().is_empty(), "{}", run.report());
    let again = p.build_ok(&[]);
    assert_eq!(
        again.executed_steps(),
        Vec::<String>::new(),
        "{}",
        again.report()
    );
}
