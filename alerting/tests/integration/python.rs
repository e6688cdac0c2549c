//! Cross-check with independent implementations: the reference `standardwebhooks`
//! package verifies our signature, the `cloudevents` SDK parses our body, and the
//! reference package's signature of a sample equals ours.
//!
//! Needs a Python with `tests/python/requirements.txt` installed, so it is ignored by
//! default; `.ci/run` creates the venv and runs it with `--ignored`. The interpreter is
//! `$DRIFTGAUGE_ALERTING_PYTHON`, else `~/.cache/driftgauge/venv-alerting/bin/python`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use driftgauge_alerting::cloudevent::CloudEvent;
use driftgauge_alerting::outbox::MemoryOutbox;
use driftgauge_alerting::signing::SigningKey;
use driftgauge_alerting::webhook::{WebhookConfig, WebhookDelivery, WebhookTarget};
use driftgauge_testkit::{Reply, TestServer};

use crate::support::{SECRET, fire_and_resolve, shutdown_pair};

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("DRIFTGAUGE_ALERTING_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/driftgauge/venv-alerting/bin/python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Python venv of tests/python/requirements.txt; run by .ci/run with --ignored"]
async fn reference_libraries_accept_our_webhook() {
    let python = python();
    assert!(
        python.exists(),
        "{} not found: create it with `python3 -m venv ~/.cache/driftgauge/venv-alerting && \
         ~/.cache/driftgauge/venv-alerting/bin/pip install -r alerting/tests/python/requirements.txt` \
         or set DRIFTGAUGE_ALERTING_PYTHON",
        python.display()
    );

    let server = TestServer::start(|_| Reply::status(200)).await;
    let config = WebhookConfig {
        targets: vec![WebhookTarget { url: server.url("/"), ..Default::default() }],
        ..WebhookConfig::default()
    };
    let (delivery, handle) = WebhookDelivery::builder(config, Arc::new(MemoryOutbox::new()))
        .env(|name| (name == "DRIFTGAUGE_WEBHOOK_SECRET").then(|| SECRET.to_owned()))
        .build()
        .expect("valid");
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(delivery.run(shutdown));
    let (fire, _) = fire_and_resolve();
    handle.submit(&fire).await.expect("stored");
    let req = server.wait_for(1, Duration::from_secs(10)).await.remove(0);
    let _already_stopped = stop.send(());
    task.await.expect("loop stops");

    // A body with non-ASCII text: both sides must sign the UTF-8 bytes.
    let sample = r#"{"note": "Verteilung größer als erwartet"}"#;
    let (sample_id, sample_ts) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330_i64);
    let input = serde_json::json!({
        "secret": SECRET,
        "headers": req.headers,
        "body": String::from_utf8(req.body.clone()).expect("UTF-8 body"),
        "sign": {"id": sample_id, "timestamp": sample_ts, "body": sample},
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/verify_webhook.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python verifier failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let fields: Vec<&str> = stdout.split_whitespace().collect();
    let id = CloudEvent::from_decision(&fire, "driftgauge").id;
    assert_eq!(fields.first(), Some(&"ok"));
    assert_eq!(fields.get(1), Some(&id.as_str()));
    let ours = SigningKey::from_whsec(SECRET).expect("secret").sign(
        sample_id,
        sample_ts,
        sample.as_bytes(),
    );
    assert_eq!(fields.get(2), Some(&ours.as_str()), "reference signature equals ours");
}
