//! Test support: a scripted HTTP/1.1 server on 127.0.0.1, a recording observer and
//! helpers to produce decisions through the public policy API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use driftgauge_alerting::observe::DeliveryObserver;
use driftgauge_alerting::outbox::OutboxMessage;
use driftgauge_alerting::policy::{
    Condition, DatasetDriftShareCondition, Decision, FeatureScore, PolicyConfig, PolicyEngine,
    RuleConfig, Severity, WindowOutcome,
};
use driftgauge_alerting::webhook::AttemptFailure;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The whsec_ secret of the Standard Webhooks test vector (see src/signing.rs).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

/// A listener on 127.0.0.1 that records requests and answers the n-th (0-based) with
/// `script(n)`. Every response closes its connection.
pub struct TestServer {
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
    /// Starts on a free port.
    pub async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        Self::serve(listener, Arc::new(script))
    }

    /// Starts on a given address (to bring a "down" receiver back up on its port).
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
                    if let Some(request) = read_request(stream).await {
                        let (req, mut stream) = request;
                        let n = {
                            let mut all = recorded.lock().expect("lock");
                            all.push(req);
                            all.len() - 1
                        };
                        let reply = script(n);
                        tokio::time::sleep(reply.delay).await;
                        let mut head = format!(
                            "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                            reply.status,
                            reply.body.len()
                        );
                        for (k, v) in &reply.headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        head.push_str(&reply.body);
                        // The client may have given up (timeout test): ignore write errors.
                        drop(stream.write_all(head.as_bytes()).await);
                        drop(stream.shutdown().await);
                    }
                });
            }
        });
        Self { addr, requests, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        eventually(timeout, || {
            let r = self.requests();
            (r.len() >= n).then_some(r)
        })
        .await
    }
}

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
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((Recorded { method, path, headers, body, at: Instant::now() }, stream))
}

/// A free loopback address with nothing listening on it (connection refused).
pub async fn reserved_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    listener.local_addr().expect("local addr")
}

/// Polls `f` every 10 ms until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the observer saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Enqueued(String),
    Delivered { id: String, attempts: u32 },
    Retrying { id: String, attempts: u32, failure: AttemptFailure, delay: Duration },
    Dead { id: String, attempts: u32, failure: AttemptFailure },
    Pushed { url: String, alerts: usize, ok: bool },
}

#[derive(Debug, Default)]
pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn push(&self, s: Seen) {
        self.seen.lock().expect("lock").push(s);
    }
}

impl DeliveryObserver for Recorder {
    fn enqueued(&self, m: &OutboxMessage) {
        self.push(Seen::Enqueued(m.event_id.clone()));
    }

    fn delivered(&self, m: &OutboxMessage, attempts: u32, _: Duration) {
        self.push(Seen::Delivered { id: m.event_id.clone(), attempts });
    }

    fn retrying(
        &self,
        m: &OutboxMessage,
        attempts: u32,
        failure: &AttemptFailure,
        delay: Duration,
    ) {
        self.push(Seen::Retrying {
            id: m.event_id.clone(),
            attempts,
            failure: failure.clone(),
            delay,
        });
    }

    fn dead(&self, m: &OutboxMessage, attempts: u32, failure: &AttemptFailure) {
        self.push(Seen::Dead { id: m.event_id.clone(), attempts, failure: failure.clone() });
    }

    fn alertmanager_pushed(&self, url: &str, alerts: usize, ok: bool) {
        self.push(Seen::Pushed { url: url.to_owned(), alerts, ok });
    }
}

/// A fire and then a resolve for model `fraud`, produced by a real [`PolicyEngine`].
pub fn fire_and_resolve() -> (Decision, Decision) {
    let config = PolicyConfig {
        defaults: vec![RuleConfig {
            name: "dataset-drift".into(),
            severity: Severity::Critical,
            cooldown_secs: 3600,
            when: Condition::DatasetDriftShare(DatasetDriftShareCondition {
                at_least: 0.5,
                resolve: Some(0.2),
            }),
        }],
        models: BTreeMap::new(),
    };
    let mut engine = PolicyEngine::new(&config).expect("valid policy");
    let start = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single().expect("date");
    let window = |i: i64, share: f64| WindowOutcome {
        model: "fraud".into(),
        version: "v3".into(),
        window_start: start + TimeDelta::hours(i),
        window_end: start + TimeDelta::hours(i + 1),
        features: vec![FeatureScore {
            feature: "amount".into(),
            statistic: "psi".into(),
            score: 0.4,
            threshold: 0.2,
            drifted: share > 0.5,
        }],
        dataset_drift_share: share,
        dataset_drift: None,
        quality: BTreeMap::new(),
        fairness: BTreeMap::new(),
        data_quality: BTreeMap::new(),
        baseline_version: "2024-04".into(),
        dashboard_url: Some("https://grafana.example/d/drift?var-model=fraud".into()),
    };
    let fire = engine.evaluate(&window(0, 0.75)).pop().expect("fires");
    let resolve = engine.evaluate(&window(1, 0.1)).pop().expect("resolves");
    (fire, resolve)
}

/// A shutdown signal for `run` loops.
pub fn shutdown_pair()
-> (tokio::sync::oneshot::Sender<()>, impl std::future::Future<Output = ()> + Send + 'static) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        // Sent or sender dropped: either way, stop.
        match rx.await {
            Ok(()) | Err(_) => {}
        }
    })
}
