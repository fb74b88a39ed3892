//! `skiff build --dry-run`: parse and plan only, then print the stage graph — which stages
//! build, in which parallel groups, on which bases, and which are skipped and why.

use super::config::BuildConfig;
use super::findings::lint_build;
use super::report::{render_error, stderr_has_color, Source};
use skiff_engine::BuildError;
use skiff_frontend::graph::{Base, DependencyKind, Plan};
use std::fmt::Write as _;
use std::process::ExitCode;

/// Plans the build `config` describes, with the very call a build makes, and prints the
/// plan. Its warnings and the build checks' findings, and the error when there is one, go to stderr with their source lines
/// (coloured on a terminal unless `NO_COLOR` is set); an error exits 1.
pub fn run(config: &BuildConfig) -> ExitCode {
    let color = stderr_has_color();
    let source = Source {
        path: &config.options.dockerfile_path,
        text: &config.options.dockerfile,
    };
    let mut checks = Vec::new();
    let planned = lint_build(config, &mut checks, source, color)
        .map_err(BuildError::Other)
        .and_then(|()| skiff_engine::plan(&config.options));
    match planned {
        Ok(planned) => {
            for warning in &planned.plan.warnings {
                eprint!("{}", source.render(warning, color));
            }
            for check in &checks {
                eprint!("{}", check.rendered);
            }
            let file = config.options.dockerfile_path.display().to_string();
            print!("{}", describe(&planned.plan, &file));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "{}",
                render_error(&anyhow::Error::from(err), Some(source), color).trim_end()
            );
            ExitCode::FAILURE
        }
    }
}

/// The human-readable plan.
fn describe(plan: &Plan, file: &str) -> String {
    let label = |i: usize| {
        plan.stage(i)
            .map(|s| s.label())
            .unwrap_or_else(|| format!("#{i}"))
    };
    let mut out = String::new();
    let target = &label(plan.target);
    let _ = writeln!(out, "{file}: target stage \"{target}\"");
    if !plan.global_args.is_empty() {
        let args: Vec<String> = plan
            .global_args
            .iter()
            .map(|a| match &a.value {
                Some(v) => format!("{}={v}", a.name),
                None => format!("{} (unset)", a.name),
            })
            .collect();
        let _ = writeln!(out, "global ARGs: {}", args.join(", "));
    }
    let _ = writeln!(out, "stages to build, in order:");
    for s in &plan.stages {
        let base = match &s.base {
            Base::Scratch => "scratch".to_string(),
            Base::Stage(i) => format!("stage \"{}\"", label(*i)),
            Base::Image(image) => format!("image {image}"),
        };
        let platform = s
            .platform
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        let triggers = match s.triggers.len() {
            0 => String::new(),
            n => format!(" (+{n} ONBUILD trigger(s) of its base)"),
        };
        let _ = writeln!(
            out,
            "  [{}] {}  from {base}{platform}, {} instruction(s){triggers}",
            s.index,
            s.label(),
            s.instructions.len()
        );
        for d in &s.deps {
            let how = match d.kind {
                DependencyKind::Base => "FROM",
                DependencyKind::CopyFrom => "COPY --from",
                DependencyKind::MountFrom => "RUN --mount from",
            };
            let _ = writeln!(
                out,
                "      needs stage \"{}\" ({how}, line {})",
                label(d.stage),
                d.span.line
            );
        }
        for image in &s.images {
            let _ = writeln!(out, "      uses image {image}");
        }
    }
    let _ = writeln!(out, "parallel groups:");
    for (n, group) in plan.groups.iter().enumerate() {
        let names: Vec<String> = group.iter().map(|i| label(*i)).collect();
        let _ = writeln!(out, "  {}: {}", n + 1, names.join(", "));
    }
    if plan.skipped.is_empty() {
        let _ = writeln!(out, "skipped: none");
    } else {
        let _ = writeln!(out, "skipped:");
        for s in &plan.skipped {
            let name = s.name.clone().unwrap_or_else(|| format!("#{}", s.index));
            let _ = writeln!(out, "  [{}] {name}: {}", s.index, s.reason);
        }
    }
    out
}
