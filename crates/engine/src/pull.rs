//! Pulling a base image into the store through the image crate's registry client, with the
//! download reported as progress events (one per blob, at most every 100 ms, and when done).

use crate::progress::{Event, Progress};
use anyhow::Result;
use oci_spec::image::Descriptor;
use skiff_image::reference::Reference;
use skiff_image::registry::{BlobProgress, Client, ClientOptions, Platform};
use skiff_image::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often one blob's download is reported.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// Pulls `reference` for `platform`; returns the manifest descriptor now in the store.
pub fn pull(
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    insecure: &[String],
    progress: &Progress,
) -> Result<Descriptor> {
    let name = reference.to_string();
    progress.emit(Event::PullStart {
        reference: name.clone(),
    });
    let started = Instant::now();
    let client = Client::new(ClientOptions {
        insecure_registries: insecure.to_vec(),
        on_blob_progress: Some(reporter(progress.clone(), name.clone())),
        on_notice: Some(progress.registry_notices()),
        ..ClientOptions::default()
    });
    let pulled = client.pull_blocking(store, reference, Some(platform))?;
    progress.emit(Event::PullDone {
        reference: name,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(pulled.manifest)
}

/// The callback that turns received bytes into throttled [`Event::PullProgress`] events.
fn reporter(progress: Progress, reference: String) -> BlobProgress {
    let last: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
    BlobProgress(Arc::new(move |blob: &str, current: u64, total: u64| {
        let now = Instant::now();
        {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            let due = last
                .get(blob)
                .is_none_or(|t| now.duration_since(*t) >= REPORT_EVERY);
            if !due && current < total {
                return;
            }
            last.insert(blob.to_string(), now);
        }
        progress.emit(Event::PullProgress {
            reference: reference.clone(),
            blob: blob.to_string(),
            current,
            total,
        });
    }))
}
