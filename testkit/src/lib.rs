//! Test-only support shared by driftgauge's test crates: a real HTTP receiver on
//! `127.0.0.1` for the tests that deliver webhooks and Alertmanager pushes.
//!
//! The alerting crate's integration tests (`alerting/tests/integration`) and the
//! workspace's (`tests/`) both check what arrives on the wire, so both need the same
//! listener: [`TestServer`] binds a free loopback port (style guide §8: a real listener
//! on `127.0.0.1:0`, never a fixed address), records every request as [`Recorded`] and
//! answers the n-th with a scripted [`Reply`]. [`refused_addr`] gives an address with
//! nothing listening, for a receiver that is down and comes back later.
//!
//! # What belongs here
//!
//! Only what more than one test crate uses, and nothing that knows driftgauge's own
//! types: this crate depends on no driftgauge crate, so any of them can use it as a
//! dev-dependency without a cycle. Fixtures for one area (policy decisions, reference
//! profiles, recording observers) stay with that area's tests. It is never a normal
//! dependency and is not published.
//!
//! # Limits
//!
//! The receiver speaks just enough HTTP/1.1 for a client under test: one request per
//! connection (every response says `connection: close`), a body read by
//! `content-length` only (no chunked requests), and no TLS.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request method, for example `POST`.
    pub method: String,
    /// The request target as sent, for example `/hooks/retrain`.
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body, exactly `content-length` bytes.
    pub body: Vec<u8>,
    /// When the request had been read in full.
    pub at: Instant,
}

impl Recorded {
    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Extra response headers (`content-length` and `connection` are always sent).
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// An empty answer with `status`, at once.
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the response body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// Answers only after `delay` (to make the client time out).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

/// A listener on 127.0.0.1 that records requests and answers the n-th (0-based) with
/// `script(n)`. Every response closes its connection. Dropping the server stops it.
///
/// Must be started inside a tokio runtime.
#[derive(Debug)]
pub struct TestServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts on a free loopback port.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    pub async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        Self::serve(listener, Arc::new(script))
    }

    /// Starts on `addr`: brings a receiver that was down (see [`refused_addr`]) back up
    /// on its port.
    ///
    /// # Panics
    ///
    /// If `addr` cannot be bound (another process took the port meanwhile).
    pub async fn start_at(
        addr: SocketAddr,
        script: impl Fn(usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind(addr).await.expect("rebind the reserved port");
        Self::serve(listener, Arc::new(script))
    }

    fn serve(listener: TcpListener, script: Script) -> Self {
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let recorded = Arc::clone(&recorded);
                let script = Arc::clone(&script);
                tokio::spawn(async move {
                    let Some((request, mut stream)) = read_request(stream).await else { return };
                    let n = {
                        let mut all = lock(&recorded);
                        all.push(request);
                        all.len() - 1
                    };
                    let reply = script(n);
                    tokio::time::sleep(reply.delay).await;
                    let mut response = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (name, value) in &reply.headers {
                        response.push_str(&format!("{name}: {value}\r\n"));
                    }
                    response.push_str("\r\n");
                    response.push_str(&reply.body);
                    // The client may have given up (a timeout test): nothing to do about it.
                    drop(stream.write_all(response.as_bytes()).await);
                    drop(stream.shutdown().await);
                });
            }
        });
        Self { addr, requests, task }
    }

    /// `http://` + the address + `path` (which starts with `/`, or is empty).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.requests).clone()
    }

    /// Waits until at least `n` requests arrived, and returns them all.
    ///
    /// # Panics
    ///
    /// If fewer than `n` arrive within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        eventually(timeout, || {
            let requests = self.requests();
            (requests.len() >= n).then_some(requests)
        })
        .await
    }
}

fn lock(requests: &Mutex<Vec<Recorded>>) -> MutexGuard<'_, Vec<Recorded>> {
    // A push is a single call: a panicking test thread cannot leave the list half-written.
    requests.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads one request: the head up to the blank line, then `content-length` body bytes.
/// `None` if the client closes the connection first.
async fn read_request(mut stream: TcpStream) -> Option<(Recorded, TcpStream)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((Recorded { method, path, headers, body, at: Instant::now() }, stream))
}

/// A free loopback address with nothing listening on it: connections to it are
/// refused until a [`TestServer::start_at`] binds it.
///
/// # Panics
///
/// If no loopback port can be bound.
pub async fn refused_addr() -> SocketAddr {
    // The listener is dropped on return, which frees the port again.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    listener.local_addr().expect("local addr")
}

/// Polls `f` every 10 ms until it returns `Some`, and returns that value.
///
/// # Panics
///
/// If `f` has not returned `Some` within `timeout`.
pub async fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_a_body_sent_in_parts_and_answers_as_scripted() {
        let server =
            TestServer::start(|_| Reply::status(503).header("Retry-After", "1").body("busy")).await;
        let mut client = TcpStream::connect(server.addr).await.expect("connect");
        let head = "POST /hooks/retrain HTTP/1.1\r\nContent-Length: 13\r\nWebhook-Id: e1\r\n\r\n";
        client.write_all(format!("{head}{{\"a\":").as_bytes()).await.expect("write the head");
        // Let the server read what came so far, so that it has to wait for the rest.
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.write_all(b" [1, 2]}").await.expect("write the rest of the body");
        let mut response = String::new();
        client.read_to_string(&mut response).await.expect("read the response");
        assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
        assert!(response.contains("\r\nRetry-After: 1\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nbusy"), "{response}");

        let request = server.wait_for(1, Duration::from_secs(5)).await.remove(0);
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/hooks/retrain"));
        assert_eq!(request.header("webhook-id"), Some("e1"), "names are lower-cased");
        assert_eq!(request.json(), serde_json::json!({"a": [1, 2]}));
    }

    #[tokio::test]
    async fn a_refused_addr_refuses_until_a_server_starts_on_it() {
        let addr = refused_addr().await;
        assert!(TcpStream::connect(addr).await.is_err());
        let server = TestServer::start_at(addr, |_| Reply::status(200)).await;
        assert_eq!(server.url("/x"), format!("http://{addr}/x"));
        assert!(TcpStream::connect(addr).await.is_ok());
    }
}
