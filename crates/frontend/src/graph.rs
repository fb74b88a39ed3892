//! The stage graph: stages by name and index, `--from` references, the target and what it needs.
