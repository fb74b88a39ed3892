//! Any text as the value of `--output`, `--cache-to` and `--cache-from`, through the parsers the
//! CLI calls (`skiff_image::export::Output::parse` and `with_tags`, `CacheTo`/`CacheFrom`'s
//! `FromStr`): no panic, and a name or cache registry ref that was accepted prints to a
//! reference that parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_engine::{CacheFrom, CacheLocation, CacheTo};
use skiff_image::export::Output;
use skiff_image::reference::Reference;

fn check_location(location: &CacheLocation) {
    if let CacheLocation::Registry(r) = location {
        assert_eq!(Reference::parse(&r.to_string()).ok().as_ref(), Some(r));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(output) = Output::parse(&text) {
        let _ = output.clone().with_tags(&[]);
        if let Ok(
            Output::Image { names, .. } | Output::Oci { names, .. } | Output::Docker { names, .. },
        ) = output.with_tags(&["docker.io/library/app:latest".to_string()])
        {
            for name in names {
                let r = Reference::parse(&name).expect("a normalised name parses");
                assert_eq!(r.to_string(), name, "a normalised name is its full form");
            }
        }
    }
    if let Ok(to) = text.parse::<CacheTo>() {
        check_location(&to.location);
    }
    if let Ok(from) = text.parse::<CacheFrom>() {
        check_location(&from.location);
    }
});
