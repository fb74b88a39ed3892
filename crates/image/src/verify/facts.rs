//! What verification reads (the config's facts) and what it reports (problems).

/// What verification needs from the image's config, and where the image's files came from.
pub struct ImageFacts<'a> {
    /// `Entrypoint`.
    pub entrypoint: &'a [String],
    /// `Cmd`.
    pub cmd: &'a [String],
    /// `Env` (`KEY=VALUE`), for `PATH` and `SSL_CERT_FILE`/`SSL_CERT_DIR`.
    pub env: &'a [String],
    /// `User`, when set.
    pub user: Option<&'a str>,
    /// `WorkingDir`, for a relative program path (`./app`).
    pub working_dir: Option<&'a str>,
    /// The image's architecture (`amd64`), for the ELF machine.
    pub architecture: &'a str,
    /// The build stage a path of the image was copied from, as messages name it
    /// (`` `builder` (golang:1.22-alpine) ``), when known: messages say where a broken program
    /// was built.
    pub origin: &'a dyn Fn(&str) -> Option<String>,
}

/// One thing that would stop or break the image at run time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// A short name for the kind of problem (`MissingInterpreter`), for tools and tests.
    pub rule: String,
    /// What is wrong, naming the file and what it needs.
    pub message: String,
    /// What to change.
    pub hint: String,
}
