//! The benchmark behind `scripts/bench` (the `skiff-bench` binary): skiff and BuildKit build
//! the same workloads in one run, and the report gives each builder's median and the ratio.
//!
//! skiff's charter says it is faster than BuildKit and that this is shown by benchmarks that
//! run both builders on the same workload in one run, never by timed unit tests. This module
//! is that benchmark:
//!
//! - [`setup`]: a local registry holding the seed's base images, made and pushed by skiff;
//! - [`builder`]: the builders behind one interface ([`builder::Builder`]): emptying the
//!   build cache with the bases kept, one timed build, reading the image back;
//! - [`workload`]: the seed's Go example (cold, no-change, edited source, cache mounts) and a
//!   context of thousands of small files; every build's image is checked, so that a build
//!   that failed or did nothing cannot look fast;
//! - [`report`]: medians, ratios, the table and the JSON.

pub mod builder;
pub mod report;
pub mod setup;
pub mod workload;
