//! A small fault-injecting proxy to put in front of a [`crate::Registry`].
//!
//! [`FaultProxy::start`] is a TCP proxy: it can refuse the first connections with
//! `503 Service Unavailable` (to exercise retries), refuse connections outright for a while,
//! and throttle what the registry sends (so that a test can kill a pull in the middle).
//!
//! [`FaultProxy::start_http`] reads the HTTP/1.1 requests and responses it forwards, so that
//! faults can target requests by method and path ([`FaultProxy::on`]): an error status with
//! or without `Retry-After`, a connection reset or a truncated body half way through a blob,
//! a stall, a byte flipped, a slow drip, an answer of its own (a manifest of another media
//! type), a redirect to another host; and it can put a bearer-token realm in front of the
//! registry whose token endpoint works, fails, redirects to itself or hands out tokens that are
//! never accepted ([`FaultProxy::require_bearer_token`]). Every request it saw is logged
//! ([`FaultProxy::requests`]).
//!
//! Images pulled through it are addressed as `PROXY_ADDR/repo:tag`.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes copied per read; also the granularity of throttling.
const CHUNK: usize = 16 * 1024;

/// How long a stalled response keeps its connection open when the client does not give up.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// The token [`TokenEndpoint::Grants`] hands out and the proxy accepts.
const GOOD_TOKEN: &str = "testkit-good-token";

/// What the proxy does to a request a rule ([`FaultProxy::on`]) matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answers with this status itself (the registry never sees the request), with a
    /// `Retry-After` header when given; a 429 carries the distribution spec's
    /// `TOOMANYREQUESTS` error envelope, other codes a short text body.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// Answers with this status, content type and body itself.
    Respond {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// Answers `307 Temporary Redirect` to the same path and query on `host:port`.
    RedirectTo(String),
    /// Forwards the request, sends the response head and half of its body, then resets the
    /// connection (TCP RST).
    ResetMidBody,
    /// Forwards the request, sends the response head (whose `Content-Length` announces the
    /// whole body) and half of the body, then closes the connection.
    TruncateMidBody,
    /// Forwards the request, sends the head and half of the body, then nothing more until the
    /// client gives up (or two minutes pass).
    StallMidBody,
    /// Forwards the request and flips one byte in the middle of the response body: the same
    /// length, another digest.
    CorruptBody,
    /// Forwards the request and sends the response body at this many bytes per second.
    Drip { bytes_per_second: u64 },
    /// Reads half of the request body (at most 64 KiB of a chunked one), then resets the
    /// connection: an upload cut off in the middle.
    ResetMidUpload,
    /// Reads the request and never answers (until the client gives up, or two minutes pass):
    /// a registry that hangs.
    Hang,
}

/// How the token endpoint of [`FaultProxy::require_bearer_token`] behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenEndpoint {
    /// Hands out a token the proxy accepts: a working bearer-token registry.
    Grants,
    /// Answers every token request with this status.
    Fails(u16),
    /// Redirects every token request to itself.
    RedirectsToItself,
    /// Hands out tokens that the registry then refuses with another 401 challenge, for ever.
    GrantsUnusableToken,
}

/// One request the proxy saw (HTTP mode).
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    /// The request target: path and query.
    pub path: String,
    /// Whether it carried an `Authorization` header.
    pub authorization: bool,
    /// What happened: the status answered, or the fault applied (`"reset"`, `"truncated"`, …).
    pub outcome: String,
}

#[derive(Clone, Debug)]
struct Rule {
    method: Option<String>,
    path_contains: String,
    remaining: usize,
    action: Action,
}

#[derive(Default)]
struct Faults {
    /// How many more connections get a 503 and are closed.
    fail_connections: AtomicUsize,
    /// Registry → client bytes per second; 0 = unlimited.
    bytes_per_second: AtomicU64,
    /// Connections accepted so far.
    connections: AtomicUsize,
    stopped: AtomicBool,
    /// Until when nothing listens on the proxy's port (connections are refused).
    refuse_until: Mutex<Option<Instant>>,
    /// HTTP mode: request rules, first match wins.
    rules: Mutex<Vec<Rule>>,
    /// HTTP mode: the bearer-token realm in front of the registry, if any.
    token: Mutex<Option<TokenEndpoint>>,
    /// HTTP mode: every request seen.
    log: Mutex<Vec<LoggedRequest>>,
}

/// A running proxy. Stops accepting on drop (open connections finish on their own).
pub struct FaultProxy {
    addr: String,
    faults: Arc<Faults>,
}

impl FaultProxy {
    /// Starts a TCP proxy on `127.0.0.1:<free port>` forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Result<FaultProxy> {
        Self::start_mode(upstream, false)
    }

    /// Starts a proxy that reads the HTTP/1.1 it forwards to `upstream`, so that
    /// [`FaultProxy::on`] and [`FaultProxy::require_bearer_token`] can act on single requests.
    /// Each request goes to the registry on a connection of its own.
    pub fn start_http(upstream: &str) -> Result<FaultProxy> {
        Self::start_mode(upstream, true)
    }

    fn start_mode(upstream: &str, http: bool) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the proxy")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?.to_string();
        let faults = Arc::new(Faults::default());
        let upstream = upstream.to_string();
        let shared = faults.clone();
        let own_addr = addr.clone();
        thread::spawn(move || accept_loop(listener, &own_addr, &upstream, http, shared));
        Ok(FaultProxy { addr, faults })
    }

    /// `127.0.0.1:PORT`: the registry part of references that go through the proxy.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `PROXY_ADDR/repo:tag`.
    pub fn reference(&self, repository_and_tag: &str) -> String {
        format!("{}/{repository_and_tag}", self.addr)
    }

    /// Answers the next `n` connections with `503 Service Unavailable` and closes them.
    pub fn fail_next_connections(&self, n: usize) {
        self.faults.fail_connections.store(n, Ordering::SeqCst);
    }

    /// Stops listening for `duration`: connections to the proxy's port are refused
    /// (`ECONNREFUSED`) meanwhile, then it listens on the same port again.
    pub fn refuse_connections_for(&self, duration: Duration) {
        *lock(&self.faults.refuse_until) = Some(Instant::now() + duration);
    }

    /// Limits what the registry sends to `bytes_per_second` (0 lifts the limit, also for
    /// transfers already under way).
    pub fn throttle(&self, bytes_per_second: u64) {
        self.faults
            .bytes_per_second
            .store(bytes_per_second, Ordering::SeqCst);
    }

    /// How many connections the proxy has accepted.
    pub fn connections(&self) -> usize {
        self.faults.connections.load(Ordering::SeqCst)
    }

    /// HTTP mode: applies `action` to the next `times` requests whose method is `method`
    /// (`"*"`: any) and whose path and query contain `path_contains` (`usize::MAX`: to all of
    /// them). Rules are tried in the order they were added; the first that matches is used.
    pub fn on(&self, method: &str, path_contains: &str, times: usize, action: Action) {
        lock(&self.faults.rules).push(Rule {
            method: (method != "*").then(|| method.to_string()),
            path_contains: path_contains.to_string(),
            remaining: times,
            action,
        });
    }

    /// HTTP mode: forgets every rule.
    pub fn clear_rules(&self) {
        lock(&self.faults.rules).clear();
    }

    /// HTTP mode: puts a bearer-token realm in front of the registry, as Docker Hub has: every
    /// `/v2/` request without the proxy's token gets `401` and a `WWW-Authenticate: Bearer
    /// realm="http://PROXY/token",service="testkit",scope=…` challenge; the token endpoint
    /// (served by the proxy) behaves as `token` says. Requests with the token are forwarded
    /// without it.
    pub fn require_bearer_token(&self, token: TokenEndpoint) {
        *lock(&self.faults.token) = Some(token);
    }

    /// HTTP mode: the requests seen so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.faults.log).clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.faults.stopped.store(true, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Accepts connections until the proxy is dropped, polling a non-blocking listener so that a
/// refusal window ([`FaultProxy::refuse_connections_for`]) can close and reopen the port.
fn accept_loop(listener: TcpListener, addr: &str, upstream: &str, http: bool, faults: Arc<Faults>) {
    let mut listener = Some(listener);
    while !faults.stopped.load(Ordering::SeqCst) {
        let refusing = lock(&faults.refuse_until).is_some_and(|until| Instant::now() < until);
        if refusing {
            listener = None;
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        let Some(open) = &listener else {
            // Listen again on the same port (SO_REUSEADDR is set by std on Unix).
            match TcpListener::bind(addr).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
                Ok(l) => listener = Some(l),
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
            continue;
        };
        match open.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                faults.connections.fetch_add(1, Ordering::SeqCst);
                let faults = faults.clone();
                let upstream = upstream.to_string();
                let addr = addr.to_string();
                thread::spawn(move || {
                    if refuse_with_503(&client, &faults) {
                        return;
                    }
                    if http {
                        let _ = serve_http(client, &addr, &upstream, &faults);
                    } else {
                        serve_tcp(client, &upstream, &faults);
                    }
                });
            }
            Err(_) => thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Answers `503` and closes when [`FaultProxy::fail_next_connections`] asks for it.
fn refuse_with_503(mut client: &TcpStream, faults: &Faults) -> bool {
    let refuse = faults
        .fail_connections
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refuse {
        // Read the request head first so that the client sees an answer, not a reset.
        let mut buf = [0u8; CHUNK];
        let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = client.read(&mut buf);
        let _ = client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        let _ = client.shutdown(Shutdown::Both);
    }
    refuse
}

fn serve_tcp(client: TcpStream, upstream: &str, faults: &Faults) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(client_in), Ok(server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upload = thread::spawn(move || copy(client_in, server_out, None));
    copy(server, client, Some(faults));
    let _ = upload.join();
}

/// Copies until EOF, throttled by `faults` when given; then half-closes the destination.
fn copy(mut from: TcpStream, mut to: TcpStream, faults: Option<&Faults>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        let rate = faults.map_or(0, |f| f.bytes_per_second.load(Ordering::SeqCst));
        if rate > 0 {
            thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

// ---- HTTP mode ----

/// A request or response head.
struct Head {
    /// The request line or status line.
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    /// The head without hop-by-hop and framing headers (`Connection`, `Keep-Alive`,
    /// `Transfer-Encoding`, `Content-Length`), as text without the final blank line.
    fn without_framing(&self) -> String {
        let mut out = format!("{}\r\n", self.first);
        for (name, value) in &self.headers {
            let hop = [
                "connection",
                "keep-alive",
                "proxy-connection",
                "transfer-encoding",
            ]
            .iter()
            .chain(["content-length"].iter())
            .any(|h| name.eq_ignore_ascii_case(h));
            if !hop {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out
    }
}

/// Reads a head; `None` at a clean end of stream before any byte.
fn read_head(reader: &mut impl BufRead) -> Result<Option<Head>> {
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let first = first.trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("the stream ended inside a head");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        if headers.len() > 200 {
            bail!("too many headers");
        }
    }
    Ok(Some(Head { first, headers }))
}

/// Reads a chunked body, returning its raw bytes (framing included) and its decoded data.
fn read_chunked(reader: &mut impl BufRead) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut data = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("the stream ended inside a chunked body");
        }
        raw.extend_from_slice(line.as_bytes());
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16).context("a chunk size")?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 {
                    bail!("the stream ended inside a chunked body's trailer");
                }
                raw.extend_from_slice(trailer.as_bytes());
                if trailer.trim().is_empty() {
                    return Ok((raw, data));
                }
            }
        }
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk)?;
        raw.extend_from_slice(&chunk);
        data.extend_from_slice(&chunk[..size]);
    }
}

fn reset(stream: &TcpStream) {
    // SO_LINGER 0: closing sends a RST instead of a FIN.
    let _ = rustix::net::sockopt::set_socket_linger(stream, Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Read);
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes a whole answer of the proxy's own.
fn answer(
    client: &mut TcpStream,
    code: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    client.write_all(head.as_bytes())?;
    client.write_all(body)?;
    client.flush()
}

/// The request body, read from the client so that it can be forwarded.
enum RequestBody {
    None,
    Sized(u64),
    /// Raw chunked framing, read ahead.
    Chunked(Vec<u8>),
}

/// One request read from the client (its head; the body is still to be read).
struct Request {
    head: Head,
    method: String,
    path: String,
    body: RequestBody,
}

/// An answer of the proxy's own: status, headers, body.
type OwnAnswer = (u16, Vec<(&'static str, String)>, Vec<u8>);

/// Whether the connection to the client stays open for another request.
enum Next {
    Continue,
    Close,
}

fn serve_http(client: TcpStream, own_addr: &str, upstream: &str, faults: &Faults) -> Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    loop {
        let Some(head) = read_head(&mut reader)? else {
            return Ok(());
        };
        let mut parts = head.first.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let body = if head.chunked() {
            RequestBody::Chunked(Vec::new())
        } else {
            match head.content_length() {
                Some(n) if n > 0 => RequestBody::Sized(n),
                _ => RequestBody::None,
            }
        };
        let request = Request {
            head,
            method,
            path,
            body,
        };
        let rule = take_rule(faults, &request);
        let next = handle(
            &mut client,
            &mut reader,
            request,
            rule,
            own_addr,
            upstream,
            faults,
        )?;
        if let Next::Close = next {
            return Ok(());
        }
    }
}

/// The action of the first rule that matches `request`, counted as used.
fn take_rule(faults: &Faults, request: &Request) -> Option<Action> {
    let mut rules = lock(&faults.rules);
    let found = rules.iter_mut().find(|r| {
        r.remaining > 0
            && r.method.as_deref().is_none_or(|m| m == request.method)
            && request.path.contains(&r.path_contains)
    });
    found.map(|r| {
        r.remaining = r.remaining.saturating_sub(1);
        r.action.clone()
    })
}

/// Answers one request: a fault of its own, an answer of the proxy's, or the registry's
/// answer (changed as `rule` says).
fn handle(
    client: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    request: Request,
    rule: Option<Action>,
    own_addr: &str,
    upstream: &str,
    faults: &Faults,
) -> Result<Next> {
    let log = |outcome: String| {
        lock(&faults.log).push(LoggedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            authorization: request.head.header("authorization").is_some(),
            outcome,
        })
    };
    match rule {
        // An upload cut off: half of it read, then a reset.
        Some(Action::ResetMidUpload) => {
            let half = match request.body {
                RequestBody::Sized(n) => n / 2,
                _ => 64 << 10,
            };
            let _ = std::io::copy(&mut reader.take(half), &mut std::io::sink());
            log("reset mid-upload".into());
            reset(client);
            return Ok(Next::Close);
        }
        // A registry that hangs: the request is read, nothing is answered.
        Some(Action::Hang) => {
            discard_body(reader, request.body)?;
            log("hung".into());
            wait_for_client_to_give_up(client);
            return Ok(Next::Close);
        }
        _ => {}
    }
    let token = *lock(&faults.token);
    if let Some((code, headers, body)) = own_answer(&request, rule.as_ref(), token, own_addr) {
        discard_body(reader, request.body)?;
        log(code.to_string());
        answer(client, code, &headers, &body)?;
        return Ok(Next::Continue);
    }
    // Forwarded on a connection of its own, without the proxy's bearer token.
    let mut from_registry = forward(reader, &request, token.is_some(), upstream)?;
    let (status, length, body) = relay_head(client, &mut from_registry, &request.method)?;
    let mut source: Box<dyn Read> = match body {
        Some(data) => Box::new(std::io::Cursor::new(data)),
        None => Box::new(from_registry.take(length)),
    };
    let sent = relay_body(client, &mut source, length, rule.as_ref(), faults)?;
    let cut = |what: &str| format!("{status}, {what} after {sent} of {length} bytes");
    match rule {
        Some(Action::ResetMidBody) => {
            log(cut("reset"));
            reset(client);
            Ok(Next::Close)
        }
        Some(Action::TruncateMidBody) => {
            log(cut("truncated"));
            let _ = client.shutdown(Shutdown::Both);
            Ok(Next::Close)
        }
        Some(Action::StallMidBody) => {
            log(cut("stalled"));
            wait_for_client_to_give_up(client);
            Ok(Next::Close)
        }
        Some(Action::CorruptBody) => {
            log(format!("{status}, one byte flipped"));
            Ok(Next::Continue)
        }
        Some(Action::Drip { bytes_per_second }) => {
            log(format!("{status}, dripped at {bytes_per_second} B/s"));
            Ok(Next::Continue)
        }
        _ => {
            log(status.to_string());
            Ok(Next::Continue)
        }
    }
}

/// The proxy's own answer to `request`, if it gives one: the token endpoint, a status or
/// answer a rule asks for, a redirect, or the bearer-token challenge.
fn own_answer(
    request: &Request,
    rule: Option<&Action>,
    token: Option<TokenEndpoint>,
    own_addr: &str,
) -> Option<OwnAnswer> {
    let path = &request.path;
    if let Some(token) = token.filter(|_| path.starts_with("/token")) {
        return Some(token_answer(token, own_addr));
    }
    match rule {
        Some(Action::Status { code, retry_after }) => {
            let mut headers = Vec::new();
            if let Some(after) = retry_after {
                headers.push(("Retry-After", after.clone()));
            }
            let body = if *code == 429 {
                headers.push(("Content-Type", "application/json".to_string()));
                br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests (testkit proxy)"}]}"#.to_vec()
            } else {
                format!("{} (testkit proxy)\n", reason(*code)).into_bytes()
            };
            return Some((*code, headers, body));
        }
        Some(Action::Respond {
            status,
            content_type,
            body,
        }) => {
            return Some((
                *status,
                vec![("Content-Type", content_type.clone())],
                body.clone(),
            ))
        }
        Some(Action::RedirectTo(host)) => {
            return Some((
                307,
                vec![("Location", format!("http://{host}{path}"))],
                Vec::new(),
            ))
        }
        _ => {}
    }
    let token = token.filter(|_| path.starts_with("/v2"))?;
    let good =
        (request.head.header("authorization")).is_some_and(|a| a == format!("Bearer {GOOD_TOKEN}"));
    if good && token == TokenEndpoint::Grants {
        return None;
    }
    let scope = scope_of(path, &request.method);
    let challenge =
        format!("Bearer realm=\"http://{own_addr}/token\",service=\"testkit\",scope=\"{scope}\"");
    Some((
        401,
        vec![
            ("WWW-Authenticate", challenge),
            ("Content-Type", "application/json".to_string()),
        ],
        br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
    ))
}

/// Sends `request` (and its body, read from the client) to the registry on a new connection
/// (`Connection: close`), without its `Authorization` when `strip_authorization`; returns the
/// registry's side to read the response from.
fn forward(
    reader: &mut BufReader<TcpStream>,
    request: &Request,
    strip_authorization: bool,
    upstream: &str,
) -> Result<BufReader<TcpStream>> {
    let body = match &request.body {
        RequestBody::Chunked(_) => RequestBody::Chunked(read_chunked(reader)?.0),
        RequestBody::Sized(n) => RequestBody::Sized(*n),
        RequestBody::None => RequestBody::None,
    };
    let mut server = TcpStream::connect(upstream).context("connecting to the registry")?;
    let mut head = Head {
        first: request.head.first.clone(),
        headers: (request.head.headers.iter())
            .filter(|(n, _)| !(strip_authorization && n.eq_ignore_ascii_case("authorization")))
            .cloned()
            .collect(),
    }
    .without_framing();
    match &body {
        RequestBody::None if request.head.content_length().is_some() => {
            head.push_str("Content-Length: 0\r\n")
        }
        RequestBody::None => {}
        RequestBody::Sized(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
        RequestBody::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("Connection: close\r\n\r\n");
    server.write_all(head.as_bytes())?;
    match &body {
        RequestBody::None => {}
        RequestBody::Sized(n) => {
            let copied = std::io::copy(&mut reader.take(*n), &mut server)?;
            if copied < *n {
                bail!("the client sent {copied} of {n} body bytes");
            }
        }
        RequestBody::Chunked(raw) => server.write_all(raw)?,
    }
    server.flush()?;
    Ok(BufReader::new(server))
}

/// Reads the registry's response head and writes it to the client with a `Content-Length`
/// framing (a chunked or unframed body is read whole first). Returns the status, the body's
/// length and the body when it was read whole (else it is still to be streamed).
fn relay_head(
    client: &mut TcpStream,
    from_registry: &mut BufReader<TcpStream>,
    method: &str,
) -> Result<(u16, u64, Option<Vec<u8>>)> {
    let response = read_head(from_registry)?.context("the registry closed at once")?;
    let status: u16 = (response.first.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let bodiless = method == "HEAD" || status == 204 || status == 304 || status < 200;
    let mut out_head = response.without_framing();
    let (length, whole) = if bodiless {
        // A HEAD answer announces the length of a body it does not send.
        if let Some(n) = response.content_length() {
            out_head.push_str(&format!("Content-Length: {n}\r\n"));
        }
        (0, None)
    } else {
        let (length, whole) = if response.chunked() {
            let data = read_chunked(from_registry)?.1;
            (data.len() as u64, Some(data))
        } else if let Some(n) = response.content_length() {
            (n, None)
        } else {
            let mut data = Vec::new();
            from_registry.read_to_end(&mut data)?;
            (data.len() as u64, Some(data))
        };
        out_head.push_str(&format!("Content-Length: {length}\r\n"));
        (length, whole)
    };
    out_head.push_str("\r\n");
    client.write_all(out_head.as_bytes())?;
    Ok((status, length, whole))
}

/// Streams `length` body bytes from `source` to the client, as `rule` says: only half of
/// them (reset, truncation, stall), one byte flipped, or dripped; else at the proxy's
/// throttle. Returns how many were sent.
fn relay_body(
    client: &mut TcpStream,
    source: &mut dyn Read,
    length: u64,
    rule: Option<&Action>,
    faults: &Faults,
) -> Result<u64> {
    let half = length / 2;
    let cut_at = match rule {
        Some(Action::ResetMidBody | Action::TruncateMidBody | Action::StallMidBody) => half,
        _ => length,
    };
    let drip = match rule {
        Some(Action::Drip { bytes_per_second }) => *bytes_per_second,
        _ => 0,
    };
    let corrupt = rule == Some(&Action::CorruptBody);
    let mut sent = 0u64;
    let mut buf = vec![0u8; CHUNK];
    while sent < cut_at {
        let want = (cut_at - sent).min(CHUNK as u64) as usize;
        let want = if drip > 0 { want.min(4096) } else { want };
        let n = source.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        if corrupt && (sent..sent + n as u64).contains(&half) {
            buf[(half - sent) as usize] ^= 0x5a;
        }
        client.write_all(&buf[..n])?;
        sent += n as u64;
        let rate = match drip {
            0 => faults.bytes_per_second.load(Ordering::SeqCst),
            rate => rate,
        };
        if rate > 0 {
            thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
        }
    }
    client.flush()?;
    Ok(sent)
}

/// Reads and drops a request body.
fn discard_body(reader: &mut BufReader<TcpStream>, body: RequestBody) -> Result<()> {
    match body {
        RequestBody::Sized(n) => {
            std::io::copy(&mut reader.take(n), &mut std::io::sink())?;
        }
        RequestBody::Chunked(_) => {
            read_chunked(reader)?;
        }
        RequestBody::None => {}
    }
    Ok(())
}

/// Holds the connection until the client closes it (its next read here returns 0 or fails)
/// or [`STALL_LIMIT`] passes, then closes it.
fn wait_for_client_to_give_up(client: &TcpStream) {
    let _ = client.set_read_timeout(Some(STALL_LIMIT));
    let mut byte = [0u8; 1];
    let _ = (&*client).read(&mut byte);
    let _ = client.shutdown(Shutdown::Both);
}

/// `repository:NAME:pull` (`pull,push` for writes) for a `/v2/NAME/…` path.
fn scope_of(path: &str, method: &str) -> String {
    let rest = path.trim_start_matches("/v2/");
    let name = ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .find_map(|marker| rest.find(marker).map(|i| &rest[..i]));
    match name {
        Some(name) if method == "GET" || method == "HEAD" => format!("repository:{name}:pull"),
        Some(name) => format!("repository:{name}:pull,push"),
        None => "registry:catalog:*".to_string(),
    }
}

/// The token endpoint's answer.
fn token_answer(
    token: TokenEndpoint,
    own_addr: &str,
) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    let json = ("Content-Type", "application/json".to_string());
    match token {
        TokenEndpoint::Grants => (
            200,
            vec![json],
            format!(r#"{{"token":"{GOOD_TOKEN}","access_token":"{GOOD_TOKEN}","expires_in":300}}"#)
                .into_bytes(),
        ),
        TokenEndpoint::GrantsUnusableToken => (
            200,
            vec![json],
            br#"{"token":"testkit-unusable-token","expires_in":300}"#.to_vec(),
        ),
        TokenEndpoint::Fails(code) => (
            code,
            vec![],
            format!("token service: {} (testkit proxy)\n", reason(code)).into_bytes(),
        ),
        TokenEndpoint::RedirectsToItself => (
            302,
            vec![("Location", format!("http://{own_addr}/token?again=1"))],
            Vec::new(),
        ),
    }
}
