//! The one on-disk cache of the slow fixtures (the busybox layout, the Debian root
//! filesystems), so that only a machine's first test run pays for them.

use std::path::PathBuf;

/// `$SKIFF_TESTKIT_CACHE` when set and not empty, else `/var/tmp/skiff-testkit`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("SKIFF_TESTKIT_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/skiff-testkit"))
}
