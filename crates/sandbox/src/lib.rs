//! Running one build step in Linux namespaces through an OCI runtime (runc or crun).
