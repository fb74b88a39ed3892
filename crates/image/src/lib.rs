//! The image side: content-addressed store, layers, registry pull and push, exporters.
