//! Final-image verification: reads the root filesystem an image will start from (no
//! container is run) and finds what would stop it or break it at run time: an entrypoint that
//! is not there or not executable, a shell-form command without a shell, an ELF program whose
//! loader or libraries are missing or built for another machine, a `USER` the image does not
//! know, a TLS client without CA certificates; and a compiler left in the image.
//!
//! It is about the image, below the engine: the caller gives a directory holding the final
//! root filesystem and the config's facts ([`ImageFacts`]), and gets [`Problem`]s back.

mod elf;
mod facts;
mod fs;
mod libs;
mod toolchain;
mod users;

pub use facts::{ImageFacts, Problem};

use crate::image_path::{absolute, clean_path};
use std::path::Path;

/// The PATH runc gives a process whose image sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where Go (and OpenSSL, on the usual distributions) look for the CA bundle.
const CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Verifies the image whose root filesystem is the directory `root`.
pub fn verify(root: &Path, facts: &ImageFacts) -> Vec<Problem> {
    let mut problems: Vec<Problem> = toolchain::check(root).into_iter().collect();
    if let Some(user) = facts.user.filter(|u| !u.is_empty()) {
        problems.extend(users::check(root, user));
    }
    let argv: Vec<&String> = facts.entrypoint.iter().chain(facts.cmd).collect();
    let Some(program) = argv.first() else {
        return problems;
    };
    let shell_form = argv.len() >= 3 && argv[1] == "-c" && program.ends_with("sh");
    let Some(path) = find_program(root, program, facts) else {
        let (message, hint) = if shell_form {
            (
                format!("the shell-form command needs the shell `{program}`, which the image does not have"),
                "use the exec form (`CMD [\"/server\"]`) or a base image with a shell".to_string(),
            )
        } else {
            (
                format!(
                    "the image's command `{program}` is not in the image{}",
                    where_looked(program, facts)
                ),
                "copy the program into the final image, or fix ENTRYPOINT/CMD".to_string(),
            )
        };
        problems.push(Problem {
            rule: "MissingEntrypoint".into(),
            message,
            hint,
        });
        return problems;
    };
    let Some(host) = fs::resolve(root, &path) else {
        return problems;
    };
    if !is_executable(&host) {
        problems.push(Problem {
            rule: "NotExecutable".into(),
            message: format!("the image's command `{path}` is not executable"),
            hint: "`chmod +x` it in the stage that makes it, or `COPY --chmod=755`".to_string(),
        });
    }
    if let Some(info) = std::fs::read(&host).ok().and_then(|data| elf::read(&data)) {
        libs::check_program(root, &path, &info, facts, &mut problems);
        if needs_ca(&info) && !has_ca_bundle(root, facts) {
            problems.push(Problem {
                rule: "MissingCACertificates".into(),
                message: format!(
                    "`{path}` makes TLS connections but the image has no CA certificates: HTTPS calls will fail with `x509: certificate signed by unknown authority`"
                ),
                hint: "copy `/etc/ssl/certs/ca-certificates.crt` from the builder (`COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/`) or install ca-certificates".to_string(),
            });
        }
    }
    problems
}

/// A Go program with the TLS client, or a program linking libssl.
fn needs_ca(info: &elf::ElfInfo) -> bool {
    info.go_tls || info.needed.iter().any(|n| n.starts_with("libssl.so"))
}

/// Whether a CA bundle is at one of the usual places (or where `SSL_CERT_FILE`/`SSL_CERT_DIR`
/// point), or `/etc/ssl/certs` holds certificates.
fn has_ca_bundle(root: &Path, facts: &ImageFacts) -> bool {
    let file = env(facts, "SSL_CERT_FILE");
    let files = CA_FILES.iter().copied().chain(file);
    if files.into_iter().any(|f| fs::is_file(root, f)) {
        return true;
    }
    let dirs = ["/etc/ssl/certs", "/etc/pki/tls/certs"];
    let extra = env(facts, "SSL_CERT_DIR").map(|d| d.split(':').collect::<Vec<_>>());
    dirs.iter()
        .copied()
        .chain(extra.unwrap_or_default())
        .filter_map(|d| fs::resolve(root, d))
        .filter_map(|d| std::fs::read_dir(d).ok())
        .any(|mut entries| entries.any(|e| e.is_ok_and(|e| e.path().is_file())))
}

/// A variable of the config's `Env`.
fn env<'a>(facts: &ImageFacts<'a>, key: &str) -> Option<&'a str> {
    facts
        .env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// The image path the command's program is, as runc finds it: a name with a slash as is
/// (relative to the working directory, cleaned: `./app` in `/home/app` is `/home/app/app`), a bare name through the image's `PATH`.
fn find_program(root: &Path, program: &str, facts: &ImageFacts) -> Option<String> {
    if program.contains('/') {
        let path = clean_path(&absolute(facts.working_dir.unwrap_or("/"), program));
        return fs::is_file(root, &path).then_some(path);
    }
    let path_var = env(facts, "PATH").unwrap_or(DEFAULT_PATH);
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
        .find(|p| fs::is_file(root, p))
}

/// ` (looked in PATH=…)` for a bare name.
fn where_looked(program: &str, facts: &ImageFacts) -> String {
    if program.contains('/') {
        String::new()
    } else {
        format!(
            " (looked in PATH={})",
            env(facts, "PATH").unwrap_or(DEFAULT_PATH)
        )
    }
}

fn is_executable(host: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(host).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}
