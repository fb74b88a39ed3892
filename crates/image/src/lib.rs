//! The image side: content-addressed store, layers, registry pull and push, exporters.

pub mod export;
pub mod import;
pub mod layer;
pub mod reference;
pub mod registry;
pub mod store;
pub mod verify;

pub use store::Store;
