//! `skiff build`: the `docker build` interface. Data flows one way: clap's [`BuildArgs`]
//! (`args`, with the typed pairs of `pairs`) → one conversion into a typed `BuildConfig`
//! (`config`, reading `inputs` and naming `outputs`) → either the build (`exec`, then
//! `deliver`) or `--dry-run`'s plan (`dry_run`); `report` renders what failed.

mod args;
mod check;
mod config;
mod context_source;
mod deliver;
mod dry_run;
mod exec;
mod findings;
mod inputs;
mod limits;
mod load;
mod outputs;
mod pairs;
mod report;
mod results;

pub use args::BuildArgs;

use super::{store_root, Context};
use config::BuildConfig;
use std::process::ExitCode;
use std::time::Instant;

/// Runs `skiff build` (or `--dry-run`): both convert the flags the same way and plan with the
/// same call.
pub fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mode = args.progress_mode();
    if args.check {
        return check::run(&check::request(&args)?);
    }
    if args.dry_run {
        let config = BuildConfig::from_args(args, store_root(ctx))?;
        return Ok(dry_run::run(&config));
    }
    // Files a previous build left go first, so that a build failing anywhere leaves none.
    if let Err(err) = results::ResultFiles::of(&args).clear() {
        return Ok(exec::fail_early(mode, &err));
    }
    let config = BuildConfig::from_args(args, store_root(ctx));
    Ok(match config {
        Ok(config) => exec::execute(mode, &config, started),
        Err(err) => exec::fail_early(mode, &err),
    })
}
