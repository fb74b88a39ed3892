//! The image side: content-addressed store, layers, registry pull and push, exporters.

pub mod store;

pub use store::Store;
