//! Build outputs (`--output`, docker buildx syntax): the image into the store,
//! an OCI or docker archive, or the final root filesystem as a directory or tar.

mod archive;
mod destination;
mod dir_tar;
mod docker_archive;
mod image;
mod oci_archive;
mod output;
mod rootfs;

pub use crate::model::is_index as is_index_media_type;
pub use docker_archive::{write_docker_archive, write_docker_archive_of};
pub use image::SavedImage;
pub use oci_archive::{
    write_oci_archive, write_oci_archive_of, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME,
};
pub use output::{Destination, Output};
pub use rootfs::{write_local, write_rootfs_tar};

use crate::reference::Reference;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::Descriptor;

/// Delivers the built image `manifest` to `output`. For [`Output::Image`] this
/// tags the image in the store under each name, normalised as Docker does;
/// pushing (`push: true`) is left to the caller, which owns the registry client.
pub fn write(store: &Store, manifest: &Descriptor, output: &Output) -> Result<()> {
    if crate::model::is_index(manifest.media_type()) {
        refuse_index(output)?;
    }
    match output {
        Output::Image { names, .. } => {
            for name in names {
                store.tag(&Reference::parse(name)?.to_string(), manifest)?;
            }
            Ok(())
        }
        Output::Oci { dest, names } => write_oci_archive(store, manifest, names, dest),
        Output::Docker { dest, names } => write_docker_archive(store, manifest, names, dest),
        Output::Local { dest } => write_local(store, manifest, dest),
        Output::Tar { dest } => write_rootfs_tar(store, manifest, dest),
    }
}

/// Outputs that cannot hold a multi-platform image (an index) say so, as buildx does: a
/// docker archive has no index, and `docker load` one image per name.
pub fn refuse_index(output: &Output) -> Result<()> {
    if let Output::Docker { .. } = output {
        anyhow::bail!(
            "--output type=docker cannot hold several platforms (a docker archive has no image \
             index; buildx refuses it too): use type=oci or type=registry, or build one --platform"
        );
    }
    Ok(())
}
