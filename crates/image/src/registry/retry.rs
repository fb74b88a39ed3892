//! Retrying registry requests that failed for a passing reason (a dropped connection, a
//! timeout, a 5xx or a 429), with exponential backoff; everything else fails at once.

use oci_client::errors::{OciDistributionError, OciErrorCode};
use std::future::Future;
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// Runs `op` until it succeeds, fails for a reason retrying cannot fix, or runs out of
    /// attempts. Each retry is announced through `notice` (`retrying WHAT in 250ms (attempt 1
    /// failed: …)`), so a slow pull is explained. The last error says how many attempts were
    /// made; callers add what failed.
    pub async fn run<T, F, Fut>(
        &self,
        what: &str,
        notice: &(dyn Fn(&str) + Sync),
        mut op: F,
    ) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let mut backoff = self.initial_backoff;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(err) if attempt < self.attempts && is_transient(&err) => {
                    notice(&format!(
                        "retrying {what} in {backoff:?} (attempt {attempt} failed: {err:#})"
                    ));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                    attempt += 1;
                }
                Err(err) if attempt > 1 => {
                    return Err(err.context(format!("gave up after {attempt} attempts")))
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// Whether an error is worth retrying: transport failures, 5xx and 429 answers.
pub fn is_transient(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<OciDistributionError>() {
            return oci_error_is_transient(e);
        }
        if let Some(e) = cause.downcast_ref::<reqwest::Error>() {
            return reqwest_error_is_transient(e);
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return io_error_is_transient(e);
        }
        false
    })
}

fn oci_error_is_transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(e) => reqwest_error_is_transient(e),
        OciDistributionError::IoError(e) => io_error_is_transient(e),
        OciDistributionError::ServerError { code, .. } => status_is_transient(*code),
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests),
        _ => false,
    }
}

fn reqwest_error_is_transient(e: &reqwest::Error) -> bool {
    match e.status() {
        Some(status) => status_is_transient(status.as_u16()),
        None => e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode(),
    }
}

fn io_error_is_transient(e: &std::io::Error) -> bool {
    if let Some(inner) = e.get_ref() {
        if let Some(e) = inner.downcast_ref::<reqwest::Error>() {
            return reqwest_error_is_transient(e);
        }
        if inner
            .downcast_ref::<oci_client::errors::DigestError>()
            .is_some()
        {
            return false;
        }
    }
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset
            | ConnectionAborted
            | ConnectionRefused
            | BrokenPipe
            | UnexpectedEof
            | TimedOut
            | Interrupted
    )
}

fn status_is_transient(code: u16) -> bool {
    code == 429 || (500..600).contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    fn server_error(code: u16) -> anyhow::Error {
        OciDistributionError::ServerError {
            code,
            url: "http://r/v2/x".into(),
            message: String::new(),
        }
        .into()
    }

    /// A notice sink that keeps what it was told.
    #[derive(Default)]
    struct Notices(std::sync::Mutex<Vec<String>>);

    impl Notices {
        fn tell(&self, message: &str) {
            self.0.lock().unwrap().push(message.to_string());
        }
        fn told(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let notices = Notices::default();
        let value = fast()
            .run("fetching x", &|m| notices.tell(m), || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(server_error(503)),
                    1 => Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into()),
                    _ => Ok(7),
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let told = notices.told();
        assert_eq!(told.len(), 2, "one notice per retry: {told:?}");
        assert!(
            told[0].starts_with("retrying fetching x in 1ms (attempt 1 failed: ")
                && told[0].contains("503"),
            "{told:?}"
        );
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let notices = Notices::default();
        let err = fast()
            .run("fetching x", &|m| notices.tell(m), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(server_error(404))
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(err.to_string().contains("404"), "{err}");
        assert_eq!(notices.told(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn giving_up_says_how_often_it_tried() {
        let err = fast()
            .run("fetching x", &|_| {}, || async {
                Err::<(), _>(server_error(429))
            })
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("gave up after 3 attempts"),
            "{err:#}"
        );
    }
}
