//! Global ARGs: the ARG instructions before the first FROM, resolved once for the whole build.

use super::model::{GlobalArg, PlanOptions};
use crate::diagnostics::Diagnostic;
use crate::instructions::{Command, TypedInstruction};
use crate::shell::{Env, Lexer};

/// Resolves the global ARGs in order: a `--build-arg` value wins, else the default expanded
/// with the automatic args and the global ARGs before it. Returns them and the environment FROM
/// lines are expanded with (automatic args and `TARGETSTAGE`, overridden by build args, plus
/// the global ARGs).
pub(super) fn resolve_globals(
    before_first_from: &[TypedInstruction],
    lexer: &Lexer,
    options: &PlanOptions,
) -> Result<(Vec<GlobalArg>, Env), Diagnostic> {
    let mut env = Env::new();
    for (name, value) in options.automatic_args.iter() {
        env.set(name, options.build_args.get(name).unwrap_or(value));
    }
    // BuildKit's `TARGETSTAGE`: the stage asked for with `--target`, else `default`; visible,
    // as the platform args, to a stage that declares `ARG TARGETSTAGE`.
    let target = options.target.as_deref().unwrap_or("default");
    env.set(
        "TARGETSTAGE",
        options.build_args.get("TARGETSTAGE").unwrap_or(target),
    );
    let mut globals = Vec::new();
    for t in before_first_from {
        let Command::Arg(arg) = &t.command else {
            continue;
        };
        for (name, value) in arg.resolve(lexer, &env, &options.build_args, &Env::new())? {
            if let Some(v) = &value {
                env.set(name.clone(), v.clone());
            }
            globals.push(GlobalArg { name, value });
        }
    }
    Ok((globals, env))
}
