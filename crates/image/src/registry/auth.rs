//! Registry credentials from the user's Docker configuration (`~/.docker/config.json` or
//! `$DOCKER_CONFIG/config.json`: `auths`, `credsStore`, `credHelpers`), so that `docker login`
//! is all a user needs to do for skiff too.

use crate::reference::DEFAULT_DOMAIN;
use anyhow::{bail, Result};
use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

/// The key Docker files Docker Hub's credentials under.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The credentials for a registry domain: basic auth from the config or a credential helper,
/// anonymous when none are configured. (oci-client turns them into a bearer token when the
/// registry asks for one.) A credential skiff cannot use is told to `notice`, and skipped.
pub fn credentials_for(domain: &str, notice: &dyn Fn(&str)) -> Result<RegistryAuth> {
    let server = if domain == DEFAULT_DOMAIN {
        DOCKER_HUB_AUTH_KEY
    } else {
        domain
    };
    match docker_credential::get_credential(server) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(RegistryAuth::Basic(user, password))
        }
        Ok(DockerCredential::IdentityToken(_)) => {
            notice(&format!(
                "warning: the Docker config holds an OAuth identity token for {domain}, which skiff \
                 cannot use yet; continuing anonymously (log in with a username and password or \
                 access token instead)"
            ));
            Ok(RegistryAuth::Anonymous)
        }
        Err(
            CredentialRetrievalError::NoCredentialConfigured
            | CredentialRetrievalError::ConfigNotFound
            | CredentialRetrievalError::ConfigReadError,
        ) => Ok(RegistryAuth::Anonymous),
        Err(err) => bail!(
            "reading the credentials for {domain} from the Docker config (~/.docker/config.json \
             or $DOCKER_CONFIG): {err}; fix the config or the credential helper, or run \
             `docker login {domain}` again"
        ),
    }
}
