//! The store and the options steps are made with, one value shared by every stage of a
//! build: how layers are written, what `RUN` is given (secrets, ssh agents, proxy build
//! args) and the OCI runtime, found the first time a `RUN` needs it.

use crate::layer_options::LayerOptions;
use crate::options::Secret;
use crate::ssh::SshAgent;
use anyhow::{anyhow, Result};
use oci_spec::image::Descriptor;
use skiff_image::Store;
use skiff_sandbox::Runtime;

use std::sync::OnceLock;

/// The store and the step options of one build.
pub struct Workspace {
    /// The store every step reads and writes.
    pub store: Store,
    /// Layer compression and timestamps.
    pub layer: LayerOptions,
    /// `--secret`s, for `RUN --mount=type=secret`.
    pub secrets: Vec<Secret>,
    /// `--ssh` agents, for `RUN --mount=type=ssh`.
    pub ssh: Vec<SshAgent>,
    /// `--build-arg` values as given (a RUN sees the proxy ones without an `ARG` line).
    pub build_args: Vec<(String, String)>,
    /// `--allow`: what RUN may have beyond the sandbox.
    pub allow: crate::run::Entitlements,
    /// `--network` and `--add-host`: RUN's network.
    pub network: crate::run::RunNetwork,
    /// `--shm-size` and `--ulimit`: every RUN's limits.
    pub limits: skiff_sandbox::RunLimits,
    /// `--runtime`.
    runtime_name: Option<String>,
    runtime: OnceLock<std::result::Result<Runtime, String>>,
}

impl Workspace {
    /// A workspace over `store`; `runtime` is `--runtime` (default: detected when needed).
    pub fn new(store: Store, layer: LayerOptions, runtime: Option<String>) -> Workspace {
        Workspace {
            store,
            layer,
            secrets: Vec::new(),
            ssh: Vec::new(),
            build_args: Vec::new(),
            allow: crate::run::Entitlements::default(),
            network: crate::run::RunNetwork::default(),
            limits: skiff_sandbox::RunLimits::default(),
            runtime_name: runtime,
            runtime: OnceLock::new(),
        }
    }

    /// The OCI runtime, found the first time a RUN needs it (a cached build never looks).
    pub fn runtime(&self) -> Result<&Runtime> {
        self.runtime
            .get_or_init(|| {
                Runtime::detect(self.runtime_name.as_deref()).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    /// The OCI runtime for a RUN on top of `layers`. The first time, the runtime is probed
    /// while those layers are extracted, so the two overlap instead of adding up.
    pub fn runtime_for(&self, layers: &[Descriptor]) -> Result<&Runtime> {
        if self.runtime.get().is_some() {
            return self.runtime();
        }
        std::thread::scope(|scope| {
            let extraction = scope.spawn(|| {
                crate::remote_cache::ensure_layers(&self.store, layers)?;
                self.store.snapshots(layers)
            });
            let runtime = self.runtime();
            // An extraction error shows again, with its context, when the step mounts them.
            let _ = extraction.join();
            runtime
        })
    }

    /// Kills the RUN containers of this process (while a failure cancels the build): the
    /// stages running them see the step fail and stop.
    pub fn stop_running_steps(&self) {
        skiff_sandbox::kill_running_steps();
    }
}
