//! Delivering a finished build: tagging it in the store, writing archives and directories,
//! pushing; each output reported as it is written (`=> naming to …`, `=> exported to
//! type=oci,dest=…`, `=> pushed …`) so the summary can list them.

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_engine::{Event, Progress};
use skiff_image::export::{self, Destination, Output};
use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions};
use skiff_image::Store;

/// What the outputs did, for the summary.
#[derive(Default)]
pub struct Delivered {
    /// The names the image now has (in the store or in a registry).
    pub names: Vec<String>,
    /// One description per output written.
    pub outputs: Vec<String>,
}

/// Writes every output of the image `manifest`, in order; the first failure stops.
pub fn deliver(
    store: &Store,
    manifest: &Descriptor,
    outputs: &[Output],
    insecure_registries: &[String],
    progress: &Progress,
) -> Result<Delivered> {
    let mut delivered = Delivered::default();
    let mut report = |kind: &str, description: String| {
        progress.emit(Event::Exported {
            kind: kind.to_string(),
            description: description.clone(),
        });
        delivered.outputs.push(description);
    };
    for output in outputs {
        export::write(store, manifest, output)?;
        match output {
            Output::Image { names, push } => {
                for name in names {
                    report("image", format!("naming to {name}"));
                    if *push {
                        let reference = Reference::parse(name)?;
                        let client = Client::new(ClientOptions {
                            insecure_registries: insecure_registries.to_vec(),
                            on_notice: Some(progress.registry_notices()),
                            ..ClientOptions::default()
                        });
                        let pushed = client
                            .push_blocking(store, &reference, &reference)
                            .with_context(|| format!("pushing {reference}"))?;
                        report(
                            "registry",
                            format!(
                                "pushed {}@{} ({} blobs uploaded, {} already there)",
                                pushed.reference,
                                pushed.digest,
                                pushed.uploaded,
                                pushed.skipped + pushed.mounted
                            ),
                        );
                    }
                }
            }
            Output::Oci { dest, .. } => report("oci", exported("oci", dest)),
            Output::Docker { dest, .. } => report("docker", exported("docker", dest)),
            Output::Tar { dest } => report("tar", exported("tar", dest)),
            Output::Local { dest } => report(
                "local",
                format!("exported to type=local,dest={}", dest.display()),
            ),
        }
        if let Output::Image { names, .. } = output {
            delivered.names.extend(names.iter().cloned());
        }
    }
    Ok(delivered)
}

fn exported(kind: &str, dest: &Destination) -> String {
    let dest = match dest {
        Destination::Stdout => "-".to_string(),
        Destination::File(path) => path.display().to_string(),
    };
    format!("exported to type={kind},dest={dest}")
}
