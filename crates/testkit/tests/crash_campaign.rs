//! A short crash campaign (5 points, fixed seed): the full one is `scripts/crash-campaign`
//! (100 points, about 9 minutes). Ignored by default (about a minute); needs the skiff
//! binary built with the same profile (`cargo build -p skiff`), root, runc, skopeo and
//! docker-registry:
//! `cargo test -p skiff-testkit --test crash_campaign -- --ignored --nocapture`.

use skiff_testkit::crash_campaign::{run, Options};
use skiff_testkit::registry::REGISTRY_BIN;
use skiff_testkit::require_tool;

#[test]
#[ignore = "about a minute: run with --ignored (scripts/crash-campaign runs the full campaign)"]
fn a_short_crash_campaign_breaks_nothing() {
    if !require_tool("runc") || !require_tool("skopeo") || !require_tool(REGISTRY_BIN) {
        return;
    }
    let summary = run(&Options {
        points: 5,
        seed: 17,
    })
    .expect("the campaign's setup");
    println!("{summary}");
    assert!(summary.all_good(), "{summary}");
}
