//! The inputs a build is given besides the Dockerfile and its context that are not plain
//! values: secrets and named contexts.

use std::path::PathBuf;

/// A `--secret` given to the build.
#[derive(Clone, Debug)]
pub struct Secret {
    /// The id `RUN --mount=type=secret,id=…` names.
    pub id: String,
    /// The secret's bytes.
    pub value: Vec<u8>,
}

/// Where a build's input files come from besides the main context.
#[derive(Clone, Debug)]
pub enum NamedContext {
    /// A local directory.
    Dir(PathBuf),
    /// An image reference (`docker-image://REF`).
    Image(String),
    /// An OCI layout directory (`oci-layout:///path[:tag]`).
    OciLayout(PathBuf, Option<String>),
}
