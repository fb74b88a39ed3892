//! Layers: applying layer tarballs to a directory (safely, whatever the tar
//! says) and making deterministic layer tarballs from a directory.
//!
//! Two apply modes exist because skiff uses layers two ways: as overlayfs lower
//! dirs, where whiteouts must stay markers ([`ApplyMode::Overlay`]), and as one
//! flattened tree ([`apply_flat`]) for `type=local` export.
//!
//! A step's layer is made from its overlay upper dir with [`create_from_upper`], which
//! leaves out what overlayfs only copied up; [`create`] takes a whole directory as is.
//! [`create_from_upper_as_snapshot`] also keeps the upper dir as the layer's snapshot.

mod adopt;
mod apply;
mod beneath;
mod compression;
mod create;
mod entry_meta;
mod entry_path;
mod extract;
mod pgzip;
mod snapshot;
mod tar_header;
mod unchanged;
mod whiteout;
mod xattrs;

pub use adopt::{create_as_snapshot, create_from_upper_as_snapshot};
pub use apply::{apply, apply_flat, extract, ApplyMode};
pub use compression::{decompressed, sniff, unpacked_size, Compressed, Compression, SNIFF_LEN};
pub use create::{create, create_from_upper, write_tar, CreateOptions, NewLayer};
pub use pgzip::ParallelGzip;
