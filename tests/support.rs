//! Helpers shared by the integration tests: a reference profile for the
//! streaming tests, and a webhook receiver on loopback for the alerting ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use arrow::array::{Float64Array, StringArray};
use driftgauge_detectors::baseline::{
    ColumnProfileBuilder, FORMAT_VERSION, Profile, ProfileOptions,
};
use driftgauge_detectors::column::ColumnKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A baseline of `rows` reference rows: `x` numeric (0..100), `c` categorical
/// (`u`, `v`, `w` in equal shares) and, with `with_score`, `score` (0..1).
pub fn reference_profile(rows: u32, with_score: bool) -> Profile {
    let options = ProfileOptions::default();
    let x = Float64Array::from_iter_values((0..rows).map(|i| f64::from(i % 100)));
    let c = StringArray::from_iter_values((0..rows).map(|i| ["u", "v", "w"][i as usize % 3]));
    let score = Float64Array::from_iter_values((0..rows).map(|i| f64::from(i % 100) / 100.0));
    let fit = |name: &str, kind, array: &dyn arrow::array::Array| {
        let mut builder = ColumnProfileBuilder::new(kind, false);
        builder.update(name, array).unwrap();
        builder.finish(name, &options)
    };
    let mut columns =
        vec![fit("x", ColumnKind::Numeric, &x), fit("c", ColumnKind::Categorical, &c)];
    if with_score {
        columns.push(fit("score", ColumnKind::Numeric, &score));
    }
    Profile {
        format_version: FORMAT_VERSION,
        rows: u64::from(rows),
        options,
        columns,
        roles: Default::default(),
    }
}

/// One request as the receiver saw it: header names lower-cased.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn id(&self) -> String {
        self.headers.get("webhook-id").expect("webhook-id header").clone()
    }
}

/// A receiver on a loopback address that answers every request with `status`.
pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(addr: SocketAddr, status: u16) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().expect("local addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let Some((request, mut stream)) = read_request(stream).await else { return };
                    log.lock().unwrap().push(request);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    // The client may already have gone; nothing to do about it here.
                    drop(stream.write_all(reply.as_bytes()).await);
                    drop(stream.shutdown().await);
                });
            }
        });
        Self { addr, received, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/retrain", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn read_request(mut stream: TcpStream) -> Option<(Received, TcpStream)> {
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
    let headers: BTreeMap<String, String> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
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
    Some((Received { headers, body }, stream))
}

/// A loopback address with nothing listening: connections are refused.
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    listener.local_addr().expect("local addr")
}
