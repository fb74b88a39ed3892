//! `skiff build` for real: runs the build a [`BuildConfig`] describes, writes the outputs and
//! ends with a summary. Everything the person sees goes through one [`Progress`] in the
//! chosen mode, errors included: a failure is reported once, as the last event (with the
//! Dockerfile excerpt when it has a place in it), and exits non-zero.

use super::config::BuildConfig;
use super::deliver::deliver;
use super::findings::{lint_build, size_report, verify_warnings};
use super::report::{render_error, stderr_has_color, Source};
use super::results::Built;
use anyhow::Result;
use skiff_engine::{BuildError, Event, Mode, Progress, Summary, Warning};
use skiff_image::Store;
use std::process::ExitCode;
use std::time::Instant;

/// Reports an error that came before the build could start (a malformed flag, an unreadable
/// Dockerfile) in the progress mode of the build, and fails.
pub fn fail_early(mode: Mode, err: &anyhow::Error) -> ExitCode {
    let progress = Progress::new(mode);
    progress.emit(Event::error(render_error(err, None, false)));
    ExitCode::FAILURE
}

/// The exit code of a build stopped by Ctrl-C, as a shell reports a SIGINT (128 + 2).
const INTERRUPTED_EXIT: u8 = 130;

/// Lets Ctrl-C stop the build cleanly: the first SIGINT sets the engine's flag (the running
/// steps are killed and the build unwinds, removing its step directories); a second one, when
/// the first is not acted on (a long download), exits at once with 130.
fn catch_ctrl_c() {
    let flag = skiff_engine::interrupt_flag();
    let _ = signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        i32::from(INTERRUPTED_EXIT),
        flag.clone(),
    );
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, flag);
}

/// The error event for a failed build: the rendered message, and its place in the Dockerfile
/// as fields for tools.
fn error_event(err: &anyhow::Error, source: Source, color: bool) -> Event {
    let interrupted =
        skiff_engine::interrupted() || matches!(err.downcast_ref(), Some(BuildError::Interrupted));
    if interrupted {
        return Event::Error {
            message: "error: build interrupted (Ctrl-C)".into(),
            file: None,
            line: None,
            column: None,
            interrupted: true,
        };
    }
    let place = err
        .downcast_ref::<BuildError>()
        .and_then(BuildError::diagnostic)
        .and_then(|d| d.span);
    Event::Error {
        message: render_error(err, Some(source), color),
        file: place.map(|_| source.path.to_string_lossy().into_owned()),
        line: place.map(|span| span.line),
        column: place.map(|span| span.column),
        interrupted: false,
    }
}

/// Runs a build (not `--dry-run`) and prints the manifest digest on success (with `-q`, the
/// image ID, as `docker build -q` does); writes `--iidfile` and `--metadata-file`.
pub fn execute(mode: Mode, config: &BuildConfig, started: Instant) -> ExitCode {
    catch_ctrl_c();
    let progress = Progress::new(mode);
    let color = mode == Mode::Tty && stderr_has_color();
    let source = Source {
        path: &config.options.dockerfile_path,
        text: &config.options.dockerfile,
    };
    // The build checks run first (with `error=true` a finding stops the build before it
    // starts); their findings are shown after the build, whether it succeeds or not.
    let mut warnings = Vec::new();
    let outcome = lint_build(config, &mut warnings, source, color)
        .and_then(|()| build_and_deliver(config, &progress, &mut warnings, color, started))
        .and_then(|built| config.results.write(&built).map(|()| built));
    for warning in warnings {
        progress.emit(Event::Warning(warning));
    }
    match outcome {
        Ok(built) => {
            // An archive streamed to stdout must stay the only thing there.
            if !config.writes_to_stdout() {
                if mode == Mode::Quiet {
                    println!("{}", built.image_id);
                } else {
                    println!("{}", built.manifest.digest());
                }
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            let event = error_event(&err, source, color);
            let interrupted = matches!(
                event,
                Event::Error {
                    interrupted: true,
                    ..
                }
            );
            progress.emit(event);
            if interrupted {
                ExitCode::from(INTERRUPTED_EXIT)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Builds, writes the outputs and reports the summary; returns what was built.
fn build_and_deliver(
    config: &BuildConfig,
    progress: &Progress,
    warnings: &mut Vec<Warning>,
    color: bool,
    started: Instant,
) -> Result<Built> {
    let store = Store::open(&config.store_root)?;
    if config.platforms.len() > 1 {
        return build_index_and_deliver(&store, config, progress, warnings, color, started);
    }
    let outcome = skiff_engine::build(&store, config.options.clone(), progress.clone())?;
    if skiff_engine::interrupted() {
        return Err(skiff_engine::Interrupted.into());
    }
    warnings.extend(verify_warnings(&outcome.report, color));
    let mut delivered = deliver(
        &store,
        &outcome.manifest,
        &config.outputs,
        &config.options.insecure_registries,
        progress,
    )?;
    if config.load {
        let names = config.image_names();
        let description = super::load::load(&store, &outcome.manifest, &names)?;
        progress.emit(Event::Exported {
            kind: "docker".into(),
            description: description.clone(),
        });
        delivered.outputs.push(description);
    }
    let digest = outcome.manifest.digest().to_string();
    let image_id = store
        .read_manifest(&outcome.manifest)?
        .config
        .digest()
        .to_string();
    for warning in warnings.drain(..) {
        progress.emit(Event::Warning(warning));
    }
    progress.emit(Event::Size(size_report(&outcome.report)));
    let (steps, cached) = progress.step_counts();
    progress.emit(Event::Summary(Summary {
        digest,
        names: delivered.names,
        layers: outcome.state.layers.len(),
        size: outcome.state.layers.iter().map(|l| l.size()).sum(),
        seconds: started.elapsed().as_secs_f64(),
        steps,
        cached,
        outputs: delivered.outputs,
    }));
    Ok(Built {
        manifest: outcome.manifest,
        image_id,
        names: config.image_names(),
    })
}

/// A multi-platform build: one image per platform, delivered as their index (the image ID
/// of an index is its digest, as buildx reports it).
fn build_index_and_deliver(
    store: &Store,
    config: &BuildConfig,
    progress: &Progress,
    warnings: &mut Vec<Warning>,
    color: bool,
    started: Instant,
) -> Result<Built> {
    let outcome = skiff_engine::build_index(store, &config.options, &config.platforms, progress)?;
    // A finding every platform's image has is reported once.
    for (_, image) in &outcome.images {
        for warning in verify_warnings(&image.report, color) {
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    let delivered = deliver(
        store,
        &outcome.index,
        &config.outputs,
        &config.options.insecure_registries,
        progress,
    )?;
    for warning in warnings.drain(..) {
        progress.emit(Event::Warning(warning));
    }
    let layers = outcome.images.iter().flat_map(|(_, i)| &i.state.layers);
    let (steps, cached) = progress.step_counts();
    progress.emit(Event::Summary(Summary {
        digest: outcome.index.digest().to_string(),
        names: delivered.names,
        layers: layers.clone().count(),
        size: layers.map(|l| l.size()).sum(),
        seconds: started.elapsed().as_secs_f64(),
        steps,
        cached,
        outputs: delivered.outputs,
    }));
    Ok(Built {
        manifest: outcome.index.clone(),
        image_id: outcome.index.digest().to_string(),
        names: config.image_names(),
    })
}
