//! Layers: applying layer tarballs to a directory (safely, whatever the tar
//! says) and making deterministic layer tarballs from a directory.
//!
//! Two apply modes exist because skiff uses layers two ways: as overlayfs lower
//! dirs, where whiteouts must stay markers ([`ApplyMode::Overlay`]), and as one
//! flattened tree ([`apply_flat`]) for `type=local` export and for the copy-based
//! fallback where overlayfs is unavailable.

mod apply;
mod beneath;
mod compression;
mod create;
mod entry_path;
mod pgzip;
mod tar_header;
mod whiteout;

pub use apply::{apply, apply_flat, ApplyMode};
pub use compression::{decompressed, Compression};
pub use create::{create, write_tar, CreateOptions, NewLayer};
pub use pgzip::ParallelGzip;
