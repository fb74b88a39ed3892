//! The image side: content-addressed store, layers, registry pull and push, exporters.

pub mod cache_manifest;
pub mod export;
pub mod image_path;
pub mod import;
pub mod layer;
pub mod load;
pub mod model;
pub mod reference;
pub mod registry;
pub mod store;
pub mod verify;

pub use store::Store;
