//! `skiff-crash-campaign`: a realistic build SIGKILLed at N random moments, each followed by a
//! store consistency check, a rebuild and a check of the images built before (see
//! `skiff_testkit::crash_campaign`). Run it through `scripts/crash-campaign`, which builds
//! skiff in release mode first.
//!
//! Usage: `skiff-crash-campaign [--points N] [--seed S]` (as root: builds run `RUN` with runc).
//! Exits 1 when anything broke.

use anyhow::{bail, Context, Result};
use skiff_testkit::crash_campaign::{run, seed_from_clock, Options};
use std::process::ExitCode;

const USAGE: &str = "usage: skiff-crash-campaign [--points N] [--seed S]";

fn parse_options() -> Result<Options> {
    let mut options = Options {
        points: 100,
        seed: seed_from_clock(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--points" => options.points = value()?.parse().context("--points N")?,
            "--seed" => options.seed = value()?.parse().context("--seed S")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let result = parse_options().and_then(|options| run(&options));
    match result {
        Ok(summary) => {
            println!("{summary}");
            if summary.all_good() {
                ExitCode::SUCCESS
            } else {
                println!("SOMETHING BROKE: see the lines above");
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
