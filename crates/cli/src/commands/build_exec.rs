//! `skiff build` for real: turns the flags into engine options, runs the build, writes the
//! outputs and ends with a summary. Everything the person sees goes through one
//! [`Progress`] in the chosen mode, errors included: a failure is reported once, as the last
//! event (with the Dockerfile excerpt when it has a place in it), and exits non-zero.

use super::build::BuildArgs;
use super::build_flags as flags;
use super::build_outputs::deliver;
use super::Context;
use anyhow::{anyhow, bail, Result};
use skiff_engine::progress::{Event, Mode, Progress, Summary};
use skiff_engine::rootfs::LayerOptions;
use skiff_engine::stage::DockerfileError;
use skiff_engine::{BuildOptions, Platform};
use skiff_frontend::diagnostics::{render_with, Style};
use skiff_image::Store;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Runs a build (not `--dry-run`).
pub fn execute(ctx: &Context, args: BuildArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let mode = if args.quiet {
        Mode::Quiet
    } else {
        Mode::parse(&args.progress).map_err(|e| anyhow!(e))?
    };
    let progress = Progress::new(mode);
    let fail = |err: anyhow::Error, dockerfile: Option<&(PathBuf, String)>| {
        let message = render_error(&err, dockerfile, mode);
        progress.emit(Event::Error { message });
        Ok(ExitCode::FAILURE)
    };
    let dockerfile = match flags::context_dir(&args).and_then(|_| flags::read_dockerfile(&args)) {
        Ok(dockerfile) => dockerfile,
        Err(err) => return fail(err, None),
    };
    let (path, text) = &dockerfile;
    match build_and_deliver(ctx, &args, path, text, &progress, started) {
        Ok(built) => {
            // An archive streamed to stdout must stay the only thing there.
            if !built.to_stdout {
                println!("{}", built.digest);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => fail(err, Some(&dockerfile)),
    }
}

/// What a successful build left for `execute` to print.
struct Built {
    /// The manifest digest.
    digest: String,
    /// Whether an output went to standard output.
    to_stdout: bool,
}

/// Builds, writes the outputs and reports the summary.
fn build_and_deliver(
    ctx: &Context,
    args: &BuildArgs,
    dockerfile_path: &Path,
    dockerfile: &str,
    progress: &Progress,
    started: Instant,
) -> Result<Built> {
    let outputs = flags::outputs(args)?;
    let options = BuildOptions {
        context: flags::context_dir(args)?,
        dockerfile_path: dockerfile_path.to_path_buf(),
        dockerfile: dockerfile.to_string(),
        target: args.target.clone(),
        build_args: flags::build_args(&args.build_args),
        platform: args
            .platform
            .as_deref()
            .map(str::parse::<Platform>)
            .transpose()?,
        no_cache: args.no_cache,
        no_cache_filter: args.no_cache_filter.clone(),
        labels: flags::labels(&args.labels)?,
        secrets: args
            .secrets
            .iter()
            .map(|s| flags::parse_secret(s))
            .collect::<Result<_>>()?,
        ssh: args
            .ssh
            .iter()
            .map(|s| skiff_engine::SshAgent::parse(s))
            .collect::<Result<_>>()?,
        named_contexts: args
            .build_contexts
            .iter()
            .map(|c| flags::parse_named_context(c))
            .collect::<Result<_>>()?,
        insecure_registries: args.insecure_registries.clone(),
        runtime: args.runtime.clone(),
        layer: LayerOptions {
            zstd: match args.compression.as_str() {
                "gzip" => false,
                "zstd" => true,
                other => bail!("invalid --compression {other:?}: use gzip or zstd"),
            },
            source_date_epoch: flags::source_date_epoch()?,
        },
        allow: args.entitlements(),
    };
    let store = Store::open(super::store_root(ctx))?;
    let outcome = skiff_engine::build(&store, options, progress.clone())?;
    let delivered = deliver(
        &store,
        &outcome.manifest,
        &outputs,
        &args.insecure_registries,
        progress,
    )?;
    let digest = outcome.manifest.digest().to_string();
    let (steps, cached) = progress.step_counts();
    progress.emit(Event::Summary(Summary {
        digest: digest.clone(),
        names: delivered.names,
        layers: outcome.state.layers.len(),
        size: outcome.state.layers.iter().map(|l| l.size()).sum(),
        seconds: started.elapsed().as_secs_f64(),
        steps,
        cached,
        outputs: delivered.outputs,
    }));
    Ok(Built {
        digest,
        to_stdout: outputs.iter().any(flags::writes_to_stdout),
    })
}

/// The error as the person reads it: a Dockerfile error with its file, line, column and the
/// source line (coloured on a terminal in tty mode), anything else as `error: …` with causes.
fn render_error(err: &anyhow::Error, dockerfile: Option<&(PathBuf, String)>, mode: Mode) -> String {
    if let (Some(DockerfileError(d)), Some((path, text))) =
        (err.downcast_ref::<DockerfileError>(), dockerfile)
    {
        let style = if mode == Mode::Tty
            && std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
        {
            Style::Color
        } else {
            Style::Plain
        };
        // Spans index into the text without its byte-order mark, as the parser keeps it.
        let source = text.strip_prefix('\u{feff}').unwrap_or(text);
        return render_with(d, &path.to_string_lossy(), source, style);
    }
    format!("error: {err:#}")
}
