//! Pulling a base image into the store through the image crate's registry client.

use crate::Platform;
use anyhow::Result;
use oci_spec::image::Descriptor;
use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions};
use skiff_image::Store;

/// Pulls `reference` for `platform`; returns the manifest descriptor now in the store.
pub fn pull(
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    insecure: &[String],
) -> Result<Descriptor> {
    let client = Client::new(ClientOptions {
        insecure_registries: insecure.to_vec(),
        ..ClientOptions::default()
    });
    let platform = skiff_image::registry::Platform::new(
        &platform.os,
        &platform.architecture,
        platform.variant.as_deref(),
    );
    let pulled = client.pull_blocking(store, reference, Some(&platform))?;
    Ok(pulled.manifest)
}
