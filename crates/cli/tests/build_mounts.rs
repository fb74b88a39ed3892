//! `RUN --mount` through `skiff build`: cache, bind, tmpfs and secret mounts, checked inside
//! the built image, in its layers, and (for secrets) in every byte skiff wrote.

use skiff_testkit::project::{BuiltImage, Project};
use skiff_testkit::store_check::files_under;
use std::path::Path;

/// Asserts that no layer of `image` (whiteouts included) holds a mount point or anything
/// under it.
fn assert_no_layer_holds(image: &BuiltImage, mounts: &[&str]) {
    for path in image.layers.iter().flat_map(|l| &l.order) {
        for &mount in mounts {
            assert!(
                path != mount && !path.starts_with(&format!("{mount}/")),
                "{path} is in a layer"
            );
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn cache_mount_persists_across_builds_and_stays_out_of_layers() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=type=cache,target=/cache \\\n",
        "    n=$(cat /cache/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /cache/n; echo $n > /count\n",
        "RUN --mount=type=cache,id=shared,target=/c1 echo from-c1 > /c1/file\n",
        "RUN --mount=type=cache,id=shared,target=/c2,sharing=locked cat /c2/file > /via-id\n",
        "RUN --mount=type=cache,id=owned,target=/o,uid=123,gid=456,mode=0700,sharing=private \\\n",
        "    stat -c '%u:%g:%a' /o > /o-stat && touch /o/mark\n",
        // The same id with other ownership options is another cache (as BuildKit).
        "RUN --mount=type=cache,id=owned,target=/o,uid=124,gid=456,mode=0700 \\\n",
        "    stat -c '%u:%g:%a' /o > /o2-stat && ls /o > /o2-list\n",
    )) else {
        return;
    };
    let (_, first) = p.build_image(&["--no-cache"]);
    assert_eq!(first.fs.read_string("/count"), "1\n");
    assert_eq!(first.fs.read_string("/via-id"), "from-c1\n");
    assert_eq!(first.fs.read_string("/o-stat"), "123:456:700\n");
    assert_eq!(first.fs.read_string("/o2-stat"), "124:456:700\n");
    assert_eq!(first.fs.read_string("/o2-list"), "");
    let (_, second) = p.build_image(&["--no-cache"]);
    assert_eq!(second.fs.read_string("/count"), "2\n");
    for image in [&first, &second] {
        assert_no_layer_holds(image, &["/cache", "/c1", "/c2", "/o"]);
    }
}

/// Two stages that run at the same time (their RUNs differ, so that they are not one step),
/// each reading, waiting and writing a counter in one cache mount, then a stage that reads it.
fn counter_dockerfile(sharing: &str) -> String {
    let bump = |stage: &str| {
        format!(
            "FROM busybox AS {stage}\n\
             RUN --mount=type=cache,id=counter,target=/c,sharing={sharing} \\\n    \
             n=$(cat /c/n 2>/dev/null || echo 0); sleep 1; echo $((n+1)) > /c/n; echo {stage} > /done\n"
        )
    };
    format!(
        "{}{}FROM busybox\n\
         COPY --from=a /done /done-a\nCOPY --from=b /done /done-b\n\
         RUN --mount=type=cache,id=counter,target=/c cat /c/n > /count\n",
        bump("a"),
        bump("b")
    )
}

#[test]
fn locked_cache_mounts_are_used_by_one_step_at_a_time() {
    let Some(p) = Project::needing_runc(&counter_dockerfile("locked")) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/count"), "2\n");
}

#[test]
fn cache_mount_contents_are_not_in_the_cache_key() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=type=cache,target=/cache date +%s%N > /cache/stamp && echo done > /done\n",
    )) else {
        return;
    };
    p.build_ok(&[]);
    let again = p.build_ok(&[]);
    assert!(again.executed_steps().is_empty(), "{}", again.report());
}

#[test]
fn cache_mount_from_a_stage_starts_with_its_files() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox AS seed\n",
        "RUN mkdir /seeddir && echo seeded > /seeddir/file\n",
        "FROM busybox\n",
        "RUN --mount=type=cache,target=/x,from=seed,source=/seeddir cat /x/file > /seen\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/seen"), "seeded\n");
    assert!(!image.fs.exists("/x"));
}

#[test]
fn bind_mounts_from_context_stage_and_image_are_read_only_unless_rw() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox AS builder\n",
        "RUN mkdir /out && echo built > /out/artifact\n",
        "FROM busybox\n",
        "RUN --mount=target=/ctx cat /ctx/file.txt > /got-context\n",
        "RUN --mount=type=bind,source=sub,target=/s cat /s/inner > /got-source\n",
        "RUN --mount=target=/ctx (touch /ctx/new 2>/dev/null && echo writable || echo readonly) > /ro\n",
        "RUN --mount=target=/ctx,rw touch /ctx/new && echo ok > /rw\n",
        "RUN --mount=type=bind,from=builder,source=/out,target=/b cat /b/artifact > /got-stage\n",
        "RUN --mount=type=bind,from=busybox,source=/etc/passwd,target=/p head -1 /p > /got-image\n",
    )) else {
        return;
    };
    p.write("file.txt", "context file\n");
    p.write("sub/inner", "inner file\n");
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/got-context"), "context file\n");
    assert_eq!(image.fs.read_string("/got-source"), "inner file\n");
    assert_eq!(image.fs.read_string("/ro"), "readonly\n");
    assert_eq!(image.fs.read_string("/rw"), "ok\n");
    assert!(
        !p.path("new").exists(),
        "an rw bind mount wrote to the context"
    );
    assert_eq!(image.fs.read_string("/got-stage"), "built\n");
    assert!(image.fs.read_string("/got-image").starts_with("root:"));
    assert_no_layer_holds(&image, &["/ctx", "/s", "/b", "/p"]);

    // The mounted context is part of the key: a changed file reruns the step.
    p.write("file.txt", "changed\n");
    let (_, changed) = p.build_image(&[]);
    assert_eq!(changed.fs.read_string("/got-context"), "changed\n");
}

#[test]
fn tmpfs_mount_is_a_sized_tmpfs_and_leaves_nothing() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=type=tmpfs,target=/t,size=1m \\\n",
        "    grep ' /t ' /proc/mounts > /t-mount && echo x > /t/file\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    let mount = image.fs.read_string("/t-mount");
    assert!(mount.starts_with("tmpfs /t tmpfs"), "{mount}");
    assert!(mount.contains("size=1024k"), "{mount}");
    assert!(!image.fs.exists("/t"));
}

#[test]
fn secrets_reach_the_step_but_never_the_image_store_or_history() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d' ' -f1 > /file-hash\n",
        "RUN --mount=type=secret,id=tok,target=/custom/place,mode=0440,uid=123,gid=456 \\\n",
        "    stat -c '%a %u %g' /custom/place > /file-stat\n",
        "RUN --mount=type=secret,id=tok,env=TOKEN \\\n",
        "    printf %s \"$TOKEN\" | sha256sum | cut -d' ' -f1 > /env-hash \\\n",
        " && (test -e /run/secrets/tok && echo file || echo no-file) > /env-only\n",
        "RUN --mount=type=secret,id=fromenv,required sha256sum /run/secrets/fromenv | cut -d' ' -f1 > /env-src-hash\n",
        "RUN --mount=type=secret,id=absent (test -e /run/secrets/absent && echo yes || echo no) > /absent\n",
    )) else {
        return;
    };
    let secret = "s3cr3t-VALUE-4711";
    let env_secret = "another-SECRET-0815";
    let secret_file = p.store().join("secret.txt");
    std::fs::write(&secret_file, secret).unwrap();
    let file_arg = format!("id=tok,src={}", secret_file.display());
    let (run, image) = p.build_image_env(
        &[
            "--secret",
            &file_arg,
            "--secret",
            "id=fromenv,env=SKIFF_TEST_SECRET",
        ],
        &[("SKIFF_TEST_SECRET", env_secret)],
    );
    std::fs::remove_file(&secret_file).unwrap();
    let sha = |s: &str| {
        skiff_testkit::layout::sha256_digest(s.as_bytes())["sha256:".len()..].to_string() + "\n"
    };
    assert_eq!(image.fs.read_string("/file-hash"), sha(secret));
    assert_eq!(image.fs.read_string("/file-stat"), "440 123 456\n");
    assert_eq!(image.fs.read_string("/env-hash"), sha(secret));
    assert_eq!(image.fs.read_string("/env-only"), "no-file\n");
    assert_eq!(image.fs.read_string("/env-src-hash"), sha(env_secret));
    assert_eq!(image.fs.read_string("/absent"), "no\n");
    assert!(!image.fs.exists("/run"), "the secret mount point leaked");
    assert!(!image.fs.exists("/custom"), "the secret mount point leaked");

    for value in [secret, env_secret] {
        assert!(
            !image.any_blob_contains(value.as_bytes()),
            "{value} in a blob"
        );
        for (created_by, _) in image.history() {
            assert!(!created_by.contains(value), "{created_by}");
        }
        for file in files_under(p.store()) {
            let data = std::fs::read(&file).unwrap_or_default();
            assert!(
                !contains(&data, value.as_bytes()),
                "{value} in {}",
                file.display()
            );
        }
        assert!(!run.stderr().contains(value), "{value} in the output");
        for file in files_under(Path::new("/dev/shm")) {
            let data = std::fs::read(&file).unwrap_or_default();
            assert!(
                !contains(&data, value.as_bytes()),
                "{value} left in {}",
                file.display()
            );
        }
    }
}

#[test]
fn a_required_secret_that_is_missing_fails_the_build() {
    let Some(p) =
        Project::needing_runc("FROM busybox\nRUN --mount=type=secret,id=needed,required true\n")
    else {
        return;
    };
    let run = p.build(&[]);
    run.assert_failed_with("needed");
    assert!(run.stderr().contains("--secret"), "{}", run.report());
}

/// `--root` given as a relative path: the cache mount's directory reaches the runtime as an
/// absolute path (it was resolved inside the container's bundle, and the step failed).
#[test]
fn a_relative_store_root_still_mounts_caches() {
    let dockerfile = "FROM busybox\nRUN --mount=type=cache,target=/c echo hi > /c/x\n";
    let Some(p) = Project::needing_runc(dockerfile) else {
        return;
    };
    let cwd = p.scratch_path("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = std::process::Command::new(skiff_testkit::skiff_bin())
        .current_dir(&cwd)
        .args(["--root", "relative-store", "build", "--progress=plain"])
        .arg("--build-context")
        .arg(skiff_testkit::project::busybox_build_context())
        .arg(p.dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mounts = std::fs::read_dir(cwd.join("relative-store/cache-mounts")).unwrap();
    assert!(mounts.count() > 0, "{stderr}");
}
