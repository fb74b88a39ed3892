//! The build engine: plan → schedule → execute steps with a content-based cache.
