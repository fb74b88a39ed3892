//! The engine's errors: what a build fails with, typed, so that the CLI can render each kind
//! (a Dockerfile error or a failed step with its place in the Dockerfile) and callers can
//! look at the cause (a [`crate::RunFailed`] with its exit code) instead of a string.

use crate::interrupt::Interrupted;
use skiff_frontend::ast::Span;
use skiff_frontend::Diagnostic;

/// Why a build failed.
#[derive(Debug)]
pub enum BuildError {
    /// The Dockerfile is wrong (syntax, the stage graph, an expansion): the diagnostic says
    /// where.
    Dockerfile(Diagnostic),
    /// An instruction failed: where it is written, its step number when it is a numbered step,
    /// and the cause (a [`crate::RunFailed`] for a `RUN` that exited non-zero).
    Step {
        /// The step number shown in the progress (`#N`), for numbered steps.
        step: Option<usize>,
        /// The instruction's keyword in the Dockerfile (the `FROM` of the stage for an
        /// `ONBUILD` trigger of its base image).
        span: Span,
        /// What went wrong.
        source: anyhow::Error,
    },
    /// The build stopped without a failure of its own to report (another stage failed first).
    Cancelled,
    /// The person stopped the build (Ctrl-C).
    Interrupted,
    /// Anything without a place in the Dockerfile (the store, the context, the runtime).
    Other(anyhow::Error),
}

impl BuildError {
    /// The error as a diagnostic at its place in the Dockerfile, for the kinds that have one:
    /// the message is the whole cause chain, as the CLI shows it under the source line.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        match self {
            BuildError::Dockerfile(d) => Some(d.clone()),
            BuildError::Step { span, source, .. } => {
                Some(Diagnostic::error(format!("{source:#}"), Some(*span)))
            }
            BuildError::Cancelled | BuildError::Interrupted | BuildError::Other(_) => None,
        }
    }

    /// A build's error, typed: a [`BuildError`] stays one, an [`Interrupted`] or [`Cancelled`]
    /// one becomes [`BuildError::Interrupted`] or [`BuildError::Cancelled`], anything else is
    /// [`BuildError::Other`].
    pub(crate) fn classify(err: anyhow::Error) -> BuildError {
        if err.chain().any(|cause| cause.is::<Interrupted>()) {
            return BuildError::Interrupted;
        }
        if is_cancelled(&err) && !err.is::<BuildError>() {
            return BuildError::Cancelled;
        }
        match err.downcast::<BuildError>() {
            Ok(e) => e,
            Err(other) => BuildError::Other(other),
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Dockerfile(d) => write!(f, "{}", d.message),
            BuildError::Step { source, .. } => write!(f, "{source:#}"),
            BuildError::Cancelled => write!(f, "{Cancelled}"),
            BuildError::Interrupted => write!(f, "{Interrupted}"),
            BuildError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

/// The cause is part of the message already (the whole chain, as people read it); it stays
/// reachable, typed, in the variant.
impl std::error::Error for BuildError {}

/// Why a stage stopped without failing itself: another stage failed first. Internal: it
/// reaches callers as [`BuildError::Cancelled`].
#[derive(Debug)]
pub(crate) struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cancelled because another stage of the build failed")
    }
}

impl std::error::Error for Cancelled {}

/// Whether `err` is a [`Cancelled`], however much context was added to it.
pub(crate) fn is_cancelled(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<Cancelled>())
}

/// Places a failure at `span` in the Dockerfile. A [`BuildError`] keeps its own place, and a
/// cancelled stage stays cancelled: the scheduler keeps the failure that caused it.
pub(crate) fn at(span: Span, err: anyhow::Error) -> anyhow::Error {
    if err.is::<BuildError>() || is_cancelled(&err) {
        return err;
    }
    BuildError::Step {
        step: None,
        span,
        source: err,
    }
    .into()
}

/// A Dockerfile diagnostic as an error.
pub(crate) fn diag(d: Diagnostic) -> anyhow::Error {
    BuildError::Dockerfile(d).into()
}

#[cfg(test)]
mod tests {
    use super::{at, diag, BuildError, Cancelled};
    use crate::interrupt::Interrupted;
    use crate::run::RunFailed;
    use skiff_frontend::ast::Span;
    use skiff_frontend::Diagnostic;

    fn span(line: usize) -> Span {
        Span {
            line,
            ..Default::default()
        }
    }

    #[test]
    fn a_step_failure_keeps_its_typed_cause() {
        let failed = RunFailed {
            command: "/bin/sh -c exit 3".into(),
            exit_code: 3,
            tail: Vec::new(),
        };
        let err = BuildError::classify(at(span(4), anyhow::Error::from(failed)));
        let BuildError::Step { span, source, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(span.line, 4);
        assert_eq!(source.downcast_ref::<RunFailed>().unwrap().exit_code, 3);
        let d = err.diagnostic().unwrap();
        assert!(d.message.ends_with("exit code: 3"), "{}", d.message);
    }

    #[test]
    fn an_interruption_stays_one_whatever_context_it_gets() {
        let err = anyhow::Error::from(Interrupted).context("RUN sleep 9");
        assert!(matches!(BuildError::classify(err), BuildError::Interrupted));
    }

    #[test]
    fn an_error_keeps_its_first_place_and_cancelled_stays_cancelled() {
        let inner = diag(Diagnostic::error("bad", Some(span(2))));
        match BuildError::classify(at(span(9), at(span(5), inner))) {
            BuildError::Dockerfile(d) => assert_eq!(d.span.unwrap().line, 2),
            other => panic!("{other:?}"),
        }
        let cancelled = anyhow::Error::from(Cancelled).context("COPY --from=a");
        assert!(matches!(
            BuildError::classify(at(span(3), cancelled)),
            BuildError::Cancelled
        ));
        let other = BuildError::classify(anyhow::anyhow!("the store is locked"));
        assert!(matches!(other, BuildError::Other(_)));
        assert_eq!(other.to_string(), "the store is locked");
    }
}
