//! Rootless skiff's Done-when: `examples/go-server`, both Dockerfiles (the article's minimal
//! two-stage build and its production build on Debian with a non-root user), built by an
//! ordinary user with subordinate ids, give the same image digest for digest as root's builds
//! (`SOURCE_DATE_EPOCH` set). The bases come from the Debian root filesystems
//! (`skiff_testkit::debian`, cached in `/var/tmp/skiff-testkit`) pushed to a local registry.

use skiff_testkit::debian::{self, DebianBase};
use skiff_testkit::go_example::{push_base, write_example};
use skiff_testkit::project::Project;
use skiff_testkit::rootless::RootlessUser;
use skiff_testkit::Registry;

const TEST: &str = "the_go_example_builds_rootless_digest_for_digest_as_root";

#[test]
fn the_go_example_builds_rootless_digest_for_digest_as_root() {
    if !debian::can_build_or_skip(TEST) {
        return;
    }
    let Some(user) = RootlessUser::get_or_skip() else {
        return;
    };
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    for base in [DebianBase::Golang, DebianBase::BookwormSlim] {
        push_base(base, &Project::new(), &registry);
    }
    let registry_arg = format!("REGISTRY={}", registry.addr());
    let (root, rootless) = (Project::new(), Project::new().run_as(user));
    write_example(&root);
    write_example(&rootless);
    for dockerfile in ["Dockerfile", "Dockerfile.production"] {
        let digest = |p: &Project| {
            let file = p.path(dockerfile).display().to_string();
            let args = ["-f", file.as_str(), "--build-arg", registry_arg.as_str()];
            let (run, image) = p.build_image_env(&args, &[("SOURCE_DATE_EPOCH", "1700000000")]);
            eprintln!("[{TEST}] {dockerfile}: {}", image.digest);
            assert!(run.success());
            image.digest
        };
        assert_eq!(
            digest(&rootless),
            digest(&root),
            "{dockerfile}: rootless and root differ"
        );
    }
}
