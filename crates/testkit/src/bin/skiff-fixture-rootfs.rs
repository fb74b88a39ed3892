//! Prepares a Debian base image's build context for `scripts/demo`: the cached rootfs
//! tarball and a `FROM scratch` + `ADD` Dockerfile, so skiff itself makes the base image.
//!
//! Usage: `skiff-fixture-rootfs golang|slim DIR` (DIR gets `rootfs.tar` and `Dockerfile`).

use skiff_testkit::debian::{image_config_for, rootfs_tar, DebianBase};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: skiff-fixture-rootfs golang|slim DIR");
        return ExitCode::FAILURE;
    };
    let base = match kind.as_str() {
        "golang" => DebianBase::Golang,
        "slim" => DebianBase::BookwormSlim,
        other => {
            eprintln!("unknown base {other:?}: use golang or slim");
            return ExitCode::FAILURE;
        }
    };
    let result = (|| -> anyhow::Result<()> {
        let tar = rootfs_tar(base)?;
        std::fs::create_dir_all(dir)?;
        let dest = std::path::Path::new(dir).join("rootfs.tar");
        if std::fs::hard_link(&tar, &dest).is_err() {
            std::fs::copy(&tar, &dest)?;
        }
        std::fs::write(
            std::path::Path::new(dir).join("Dockerfile"),
            image_config_for(base).dockerfile("rootfs.tar"),
        )?;
        println!("{}", base.reference());
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
