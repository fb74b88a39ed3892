//! The context stat cache (file digests remembered by device, inode, size, mtime and
//! ctime) is kept by the store, which owns its files; the engine uses it from here.

pub use skiff_image::store::{file_digests, StatCache};
