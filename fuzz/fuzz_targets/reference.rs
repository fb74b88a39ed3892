//! Any text through the image reference parser: no panic, and an accepted reference prints to a
//! form that parses back to itself, as does its short (familiar) form — except where Docker's
//! short form is ambiguous too: a Docker Hub path whose first component looks like a domain
//! (`docker.io/a.io/b` is shown as `a.io/b`, which names the registry `a.io`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_image::reference::Reference;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(reference) = Reference::parse(&text) else {
        return;
    };
    let full = reference.to_string();
    assert_eq!(
        Reference::parse(&full).ok().as_ref(),
        Some(&reference),
        "{text:?} → {full:?}"
    );
    let short = reference.familiar();
    if Reference::parse(&short).ok().as_ref() != Some(&reference) {
        // distribution/reference's splitDockerDomain: what it takes for a domain.
        let first = short.split_once('/').map(|(first, _)| first);
        let domain_like = first
            .is_some_and(|f| f.contains(['.', ':']) || f == "localhost" || f.to_lowercase() != f);
        assert!(domain_like, "{text:?} → {short:?} does not parse back");
    }
    let _ = reference.is_loopback_registry();
    let _ = reference.with_tag("t");
});
