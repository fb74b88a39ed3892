//! Manifest media types a pull asks for: both families skiff reads, OCI and Docker
//! schema 2 (the types themselves and how a manifest is classified are the image model's).

use crate::model::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};

/// Every manifest type a pull accepts (the `Accept` header).
pub const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];
