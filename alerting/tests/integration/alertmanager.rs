//! Alertmanager pushes against recording listeners on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use driftgauge_alerting::alertmanager::{AlertmanagerConfig, AlertmanagerPusher, PostableAlert};
use driftgauge_testkit::{Recorded, Reply, TestServer, eventually};

use crate::support::{Recorder, Seen, fire_and_resolve, shutdown_pair};

const WAIT: Duration = Duration::from_secs(10);

fn config(urls: Vec<String>) -> AlertmanagerConfig {
    AlertmanagerConfig {
        urls,
        resend_interval_ms: 150,
        resolved_retention_ms: 400,
        timeout_ms: 2_000,
        labels: [("cluster".to_owned(), "test".to_owned())].into(),
        generator_url: None,
    }
}

fn alerts(req: &Recorded) -> Vec<PostableAlert> {
    serde_json::from_slice(&req.body).expect("a JSON array of postable alerts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_is_pushed_resent_while_firing_then_resolved() {
    let server = TestServer::start(|_| Reply::status(200)).await;
    let (pusher, handle) =
        AlertmanagerPusher::builder(config(vec![server.url("")])).build().expect("valid");
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(pusher.run(shutdown));
    let (fire, resolve) = fire_and_resolve();

    let before = Utc::now();
    handle.send(&fire).await.expect("sent");
    // The immediate push and at least two resends.
    let reqs = server.wait_for(3, WAIT).await;
    for req in &reqs {
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/api/v2/alerts"));
        assert_eq!(req.header("content-type"), Some("application/json"));
    }
    let first = alerts(&reqs[0]);
    assert_eq!(first.len(), 1);
    let a = &first[0];
    let label = |k: &str| a.labels.get(k).map(String::as_str);
    assert_eq!(label("alertname"), Some("dataset-drift"));
    assert_eq!(label("model"), Some("fraud"));
    assert_eq!(label("version"), Some("v3"));
    assert_eq!(label("severity"), Some("critical"));
    assert_eq!(label("cluster"), Some("test"));
    assert_eq!(label("feature"), None, "a dataset-level rule has no feature label");
    assert!(a.annotations["scores"].starts_with("dataset_drift_share=0.75"), "{:?}", a.annotations);
    assert!(a.annotations["thresholds"].starts_with("dataset_drift_share: fire 0.5, resolve 0.2"));
    assert_eq!(a.annotations["dashboard"], "https://grafana.example/d/drift?var-model=fraud");
    assert_eq!(a.generator_url.as_deref(), Some("https://grafana.example/d/drift?var-model=fraud"));
    assert!(a.starts_at >= before - chrono::TimeDelta::seconds(1));
    // Firing: endsAt is four resend intervals ahead, and moves forward on each resend.
    let ahead = a.ends_at - a.starts_at;
    assert!(
        ahead >= chrono::TimeDelta::milliseconds(590) && ahead <= chrono::TimeDelta::seconds(2),
        "{ahead}"
    );
    let later = alerts(&reqs[2]);
    assert!(later[0].ends_at > a.ends_at, "resends extend endsAt");
    assert_eq!(later[0].labels, a.labels, "same identity on every resend");

    let before_resolve = server.requests().len();
    handle.send(&resolve).await.expect("sent");
    let resolved: PostableAlert = eventually(WAIT, || {
        let reqs = server.requests();
        let after = reqs.get(before_resolve..)?;
        after.iter().flat_map(alerts).find(|x| x.annotations["summary"] == resolve.evidence.summary)
    })
    .await;
    assert_eq!(resolved.labels, a.labels, "the resolve ends the same alert");
    assert_eq!(resolved.starts_at, a.starts_at);
    assert!(resolved.ends_at >= a.starts_at && resolved.ends_at <= Utc::now());
    let resolved_at: DateTime<Utc> = resolved.ends_at;

    // Re-sent while within the retention, then dropped.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let count = server.requests().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.requests().len(), count, "nothing left to push after the retention");
    let last = alerts(server.requests().last().expect("requests"));
    assert_eq!(last[0].ends_at, resolved_at, "resolved alerts keep their endsAt");

    let _already_stopped = stop.send(());
    task.await.expect("pusher stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alertmanager_gets_every_push_and_failures_are_reported() {
    let ok = TestServer::start(|_| Reply::status(200)).await;
    let broken = TestServer::start(|_| Reply::status(500)).await;
    let observer = Arc::new(Recorder::default());
    let mut cfg = config(vec![ok.url("/"), broken.url("/prefix")]);
    cfg.resend_interval_ms = 60_000;
    let (pusher, handle) = AlertmanagerPusher::builder(cfg)
        .observer(Arc::clone(&observer) as _)
        .build()
        .expect("valid");
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(pusher.run(shutdown));
    let (fire, _) = fire_and_resolve();
    handle.send(&fire).await.expect("sent");

    ok.wait_for(1, WAIT).await;
    let req = broken.wait_for(1, WAIT).await.remove(0);
    assert_eq!(req.path, "/prefix/api/v2/alerts");
    let seen = eventually(WAIT, || {
        let s = observer.seen();
        (s.len() == 2).then_some(s)
    })
    .await;
    assert_eq!(
        seen,
        vec![
            Seen::Pushed { url: ok.url("/api/v2/alerts"), alerts: 1, ok: true },
            Seen::Pushed { url: broken.url("/prefix/api/v2/alerts"), alerts: 1, ok: false },
        ]
    );
    let _already_stopped = stop.send(());
    task.await.expect("pusher stops");
}
