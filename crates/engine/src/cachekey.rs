//! Cache keys: a step's key is the SHA-256 of its parent's key and everything that decides
//! its result. Parts are length-prefixed so no two different inputs can hash alike.

use sha2::{Digest as _, Sha256};

/// Builds one step's cache key.
pub struct KeyBuilder {
    hasher: Sha256,
}

impl KeyBuilder {
    /// Starts a key from the parent's key and the kind of step (`run`, `copy`, …).
    pub fn new(parent: &str, kind: &str) -> KeyBuilder {
        let mut k = KeyBuilder {
            hasher: Sha256::new(),
        };
        // Bumped when what a key stands for changes (v2: layer mtimes clamped to a logical
        // clock, stage results keyed by content), so older entries are not reused.
        k.part("v2");
        k.part(parent);
        k.part(kind);
        k
    }

    /// Adds one input.
    pub fn part(&mut self, value: &str) -> &mut Self {
        self.hasher.update((value.len() as u64).to_le_bytes());
        self.hasher.update(value.as_bytes());
        self
    }

    /// Adds a list of inputs (its length first).
    pub fn list<S: AsRef<str>>(&mut self, values: &[S]) -> &mut Self {
        self.part(&values.len().to_string());
        for v in values {
            self.part(v.as_ref());
        }
        self
    }

    /// The finished key (`sha256:…`).
    pub fn finish(self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.finalize()))
    }
}

/// ARGs Docker passes to RUN but keeps out of the cache key (and the image history).
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[cfg(test)]
mod tests {
    use super::KeyBuilder;

    #[test]
    fn parts_are_delimited() {
        let mut a = KeyBuilder::new("p", "run");
        a.part("ab").part("c");
        let mut b = KeyBuilder::new("p", "run");
        b.part("a").part("bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn same_inputs_same_key() {
        let mk = || {
            let mut k = KeyBuilder::new("parent", "copy");
            k.list(&["x", "y"]);
            k.finish()
        };
        assert_eq!(mk(), mk());
        assert!(mk().starts_with("sha256:"));
    }
}
