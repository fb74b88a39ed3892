//! A tiny fault-injecting TCP proxy to put in front of a [`crate::Registry`]: it can refuse the
//! first connections with `503 Service Unavailable` (to exercise retries) and throttle what
//! the registry sends (so that a test can kill a pull in the middle).
//!
//! Images pulled through it are addressed as `PROXY_ADDR/repo:tag`.

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Bytes copied per read; also the granularity of throttling.
const CHUNK: usize = 16 * 1024;

#[derive(Default)]
struct Faults {
    /// How many more connections get a 503 and are closed.
    fail_connections: AtomicUsize,
    /// Registry → client bytes per second; 0 = unlimited.
    bytes_per_second: AtomicU64,
    /// Connections accepted so far.
    connections: AtomicUsize,
    stopped: AtomicBool,
}

/// A running proxy. Stops accepting on drop (open connections finish on their own).
pub struct FaultProxy {
    addr: String,
    faults: Arc<Faults>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:<free port>` forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the proxy")?;
        let addr = listener.local_addr()?.to_string();
        let faults = Arc::new(Faults::default());
        let upstream = upstream.to_string();
        let shared = faults.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let faults = shared.clone();
                let upstream = upstream.clone();
                thread::spawn(move || serve(client, &upstream, &faults));
            }
        });
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
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.faults.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(mut client: TcpStream, upstream: &str, faults: &Faults) {
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
        return;
    }
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
