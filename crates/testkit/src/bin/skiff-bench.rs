//! `skiff-bench`: skiff and BuildKit build the same workloads in one run; prints each
//! builder's median and the ratio BuildKit/skiff (above 1: skiff is faster). Run it through
//! `scripts/bench`, which installs what is missing and builds skiff in release mode first.
//!
//! Usage: `skiff-bench [--runs N] [--json FILE] [--files N] [--skiff PATH] [--example DIR]`
//! (as root: it starts a private dockerd and runs containers). See docs/benchmarks.md.

use anyhow::{bail, Context, Result};
use skiff_testkit::bench::builder::{BaseImages, Builder, Buildkit, Skiff};
use skiff_testkit::bench::report::Results;
use skiff_testkit::bench::setup::push_bases;
use skiff_testkit::bench::workload::{run_once, RunSpec};
use skiff_testkit::serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// The command line.
struct Options {
    runs: usize,
    json: Option<PathBuf>,
    files: usize,
    skiff: PathBuf,
    example: PathBuf,
}

const USAGE: &str =
    "usage: skiff-bench [--runs N] [--json FILE] [--files N] [--skiff PATH] [--example DIR]";

fn parse_options() -> Result<Options> {
    let mut options = Options {
        runs: 3,
        json: None,
        files: 5000,
        skiff: PathBuf::new(),
        example: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/go-server"),
    };
    let mut skiff = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--runs" => options.runs = value.parse().context("--runs wants a number")?,
            "--files" => options.files = value.parse().context("--files wants a number")?,
            "--json" => options.json = Some(value.into()),
            "--skiff" => skiff = Some(PathBuf::from(value)),
            "--example" => options.example = value.into(),
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if options.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if options.files == 0 {
        bail!("--files must be at least 1");
    }
    options.skiff = match skiff {
        Some(path) => skiff_testkit::skiff_bin_at(path),
        None => skiff_testkit::skiff_bin(),
    };
    if !options.example.join("Dockerfile.cache").is_file() {
        bail!(
            "{} is not examples/go-server (no Dockerfile.cache): pass --example DIR",
            options.example.display()
        );
    }
    Ok(options)
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn bench(options: &Options) -> Result<()> {
    let started = Instant::now();
    let load_before = load_average();
    let work = tempfile::Builder::new()
        .prefix("skiff-bench-")
        .tempdir_in("/var/tmp")
        .context("creating the benchmark's directory under /var/tmp")?;
    eprintln!(
        "== base images: made by skiff from the cached Debian rootfs, pushed to a local registry"
    );
    let bases = push_bases(&options.skiff, work.path())?;
    let images = BaseImages {
        registry: bases.registry_addr().to_string(),
        references: bases.references.clone(),
    };
    eprintln!("== starting a private dockerd (BuildKit) and pulling the bases into it");
    let buildkit = Buildkit::start(work.path(), images.clone())?;
    let skiff = Skiff::new(&options.skiff, work.path(), images)?;
    let mut builders: Vec<Box<dyn Builder>> = vec![Box::new(skiff), Box::new(buildkit)];
    let mut results = Results::default();
    for run in 1..=options.runs {
        eprintln!(
            "== run {run} of {} (load average {})",
            options.runs,
            load_average()
        );
        let dir = work.path().join(format!("run-{run}"));
        let spec = RunSpec {
            example: &options.example,
            work: &dir,
            run,
            files: options.files,
            registry: bases.registry_addr(),
        };
        run_once(&mut builders, &spec, &mut results)?;
        std::fs::remove_dir_all(&dir).ok();
    }
    let load_after = load_average();
    let versions: Vec<String> = builders.iter().map(|b| b.version()).collect();
    println!(
        "\nmedian of {} run(s), seconds; BuildKit/skiff above 1 = skiff faster",
        options.runs
    );
    print!("{}", results.table("skiff", "buildkit"));
    println!(
        "{} CPU(s), load average {load_before} before, {load_after} after; {}; {:.0} s in all",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        versions.join(", "),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &options.json {
        let context = json!({
            "runs": options.runs,
            "files": options.files,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
            "versions": versions,
            "total_s": started.elapsed().as_secs_f64(),
        });
        let report = results.to_json("skiff", "buildkit", context);
        std::fs::write(
            path,
            skiff_testkit::serde_json::to_string_pretty(&report)? + "\n",
        )
        .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("JSON written to {}", path.display());
    }
    drop(builders);
    drop(bases);
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_options().and_then(|options| bench(&options));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
