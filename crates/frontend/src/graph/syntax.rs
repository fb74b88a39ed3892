//! The `# syntax=` directive. BuildKit pulls the image it names and runs it as the frontend;
//! skiff is one frontend, BuildKit's `docker/dockerfile:1`, so it accepts that image (any
//! tag or digest, upstream and labs channels included) and refuses any other one instead of
//! building with rules the Dockerfile did not ask for.

use crate::ast::Dockerfile;
use crate::diagnostics::Diagnostic;

/// The frontend images whose syntax skiff implements, without registry, tag or digest.
const DOCKERFILE_FRONTENDS: [&str; 2] = ["docker/dockerfile", "docker/dockerfile-upstream"];

/// Fails when the Dockerfile's `# syntax=` names a frontend other than BuildKit's own.
pub(super) fn check(dockerfile: &Dockerfile) -> Result<(), Diagnostic> {
    let Some(syntax) = (dockerfile.directives.iter()).find(|d| d.name == "syntax") else {
        return Ok(());
    };
    if is_dockerfile_frontend(&syntax.value) {
        return Ok(());
    }
    Err(Diagnostic::error(
        format!(
            "the syntax directive asks for the frontend {:?}: skiff builds only the standard \
             Dockerfile syntax (docker/dockerfile:1) and does not run custom frontends",
            syntax.value
        ),
        Some(syntax.span),
    )
    .with_hint(
        "remove the `# syntax=` line or set it to docker/dockerfile:1, or build this \
         Dockerfile with BuildKit",
    ))
}

/// Whether `image` (`[docker.io/]docker/dockerfile[:tag][@digest]`) is BuildKit's frontend.
fn is_dockerfile_frontend(image: &str) -> bool {
    let name = image.split('@').next().unwrap_or_default();
    // A tag follows the last `:` after the last `/` (a registry may have a port).
    let name = match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => &name[..colon],
        _ => name,
    };
    let name = (name.strip_prefix("docker.io/"))
        .or_else(|| name.strip_prefix("index.docker.io/"))
        .unwrap_or(name);
    DOCKERFILE_FRONTENDS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::is_dockerfile_frontend;

    #[test]
    fn buildkits_frontend_in_any_spelling_is_accepted_and_others_are_not() {
        for ok in [
            "docker/dockerfile:1",
            "docker/dockerfile:1.7-labs",
            "docker.io/docker/dockerfile:1",
            "docker/dockerfile-upstream:master",
            "docker/dockerfile@sha256:ac85f380a63b13dfcefa89046420e1781752bab202122f8f50032edf31be0021",
            "docker/dockerfile",
        ] {
            assert!(is_dockerfile_frontend(ok), "{ok}");
        }
        for other in [
            "example.com/my/frontend:1",
            "tonistiigi/dockerfile:runmount",
            "docker/buildkit-gateway",
            "localhost:5000/docker/dockerfile:1",
        ] {
            assert!(!is_dockerfile_frontend(other), "{other}");
        }
    }
}
