//! Any bytes as a pulled manifest, index, image config or cache document, through the functions
//! skiff reads them with (`Document::from_bytes` and its media-type dispatch,
//! `Manifest`/`Index`/`ImageConfig::from_bytes`, the cache import's `CacheConfig::parse` and
//! `Artifact::config_of`, platform selection): no panic, and what parses writes back to bytes
//! that parse to the same value (for a config, to the same bytes once written).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_image::cache_manifest::{Artifact, CacheConfig};
use skiff_image::model::{is_index, Document, ImageConfig, Index, Manifest};
use skiff_image::registry::Platform;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = Document::from_bytes(data) {
        let _ = is_index(&doc.media_type());
        let _ = doc.children();
        let again = match &doc {
            Document::Manifest(m) => m.to_bytes().expect("a parsed manifest serialises"),
            Document::Index(i) => {
                let _ = Platform::host().select(&i.manifests);
                let _ = Platform::new("linux", "arm", Some("v7")).select(&i.manifests);
                let _ = i.to_pretty_bytes().expect("a parsed index serialises");
                i.to_bytes().expect("a parsed index serialises")
            }
        };
        let reread = Document::from_bytes(&again).expect("skiff's own bytes parse");
        assert_eq!(reread, doc, "{:?}", String::from_utf8_lossy(&again));
    }
    if let Ok(m) = Manifest::from_bytes(data) {
        let _ = m.size();
        let bytes = m.to_bytes().expect("a parsed manifest serialises");
        assert_eq!(Manifest::from_bytes(&bytes).ok(), Some(m));
    }
    if let Ok(i) = Index::from_bytes(data) {
        let bytes = i.to_bytes().expect("a parsed index serialises");
        assert_eq!(Index::from_bytes(&bytes).ok(), Some(i));
    }
    if let Ok(config) = ImageConfig::from_bytes(data) {
        let bytes = config.to_bytes().expect("a parsed config serialises");
        let reread = ImageConfig::from_bytes(&bytes).expect("skiff's own config bytes parse");
        assert_eq!(reread, config, "{:?}", String::from_utf8_lossy(&bytes));
        assert_eq!(
            reread.to_bytes().ok(),
            Some(bytes),
            "config bytes not stable"
        );
    }
    if let Ok(cache) = CacheConfig::parse(data) {
        let _ = cache.layers();
        let bytes = serde_json::to_vec(&cache).expect("a parsed cache config serialises");
        assert_eq!(CacheConfig::parse(&bytes).ok(), Some(cache));
    }
    let _ = Artifact::config_of(data);
});
