//! Credentials come from the Docker config: `auths` entries and credential helpers
//! (`credHelpers`), against a registry that wants HTTP basic auth.
//!
//! One test function only: it points `DOCKER_CONFIG` and `PATH` at its own files, which
//! must not race with other tests of the same binary.

use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions};
use skiff_image::Store;
use skiff_testkit::registry::{BASIC_AUTH_PASSWORD, BASIC_AUTH_USER};
use skiff_testkit::{busybox_image, require_tool, Registry};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn pull(reference: &Reference) -> anyhow::Result<()> {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    Client::new(ClientOptions::default()).pull_blocking(&store, reference, None)?;
    Ok(())
}

fn write_config(dir: &Path, config: serde_json::Value) {
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
}

#[test]
fn credentials_come_from_auths_and_credential_helpers() {
    if !require_tool("skopeo") || !require_tool(skiff_testkit::registry::REGISTRY_BIN) {
        return;
    }
    let registry = Registry::start_with_basic_auth().unwrap();
    let busybox = busybox_image(&registry).unwrap();
    let reference = Reference::parse(&busybox.reference).unwrap();
    let docker_config = tempfile::tempdir().unwrap();
    std::env::set_var("DOCKER_CONFIG", docker_config.path());

    // No credentials: refused, and the error says how to log in.
    write_config(docker_config.path(), serde_json::json!({}));
    let err = format!("{:#}", pull(&reference).unwrap_err());
    assert!(
        err.contains(&format!("docker login {}", registry.addr())),
        "{err}"
    );

    // `auths` with the user and password.
    write_config(
        docker_config.path(),
        serde_json::json!({"auths": {registry.addr(): {
            "username": BASIC_AUTH_USER, "password": BASIC_AUTH_PASSWORD,
        }}}),
    );
    pull(&reference).unwrap();

    // A credential helper named in `credHelpers`, found on PATH.
    let helpers = tempfile::tempdir().unwrap();
    let helper = helpers.path().join("docker-credential-testkit");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{BASIC_AUTH_USER}\",\"Secret\":\"{BASIC_AUTH_PASSWORD}\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", helpers.path().display()));
    write_config(
        docker_config.path(),
        serde_json::json!({"credHelpers": {registry.addr(): "testkit"}}),
    );
    pull(&reference).unwrap();

    // A wrong password is refused.
    write_config(
        docker_config.path(),
        serde_json::json!({"auths": {registry.addr(): {
            "username": BASIC_AUTH_USER, "password": "wrong",
        }}}),
    );
    assert!(pull(&reference).is_err());
}
