//! Test fixtures shared by every integration test: a local registry, base images, the skiff binary.
