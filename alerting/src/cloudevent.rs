//! The retraining event: a CloudEvents 1.0 event in structured JSON mode.
//!
//! One JSON object carries the context attributes (`specversion`, `id`, `source`,
//! `type`, `subject`, `time`, `datacontenttype`) and the evidence in `data`. It is sent
//! with `Content-Type: application/cloudevents+json`, which is how the CloudEvents HTTP
//! binding marks structured mode, so any CloudEvents SDK can parse it.
//!
//! Everything in the event is derived from the [`Decision`]: `id` is a hash of the
//! event type and the idempotency key, and `time` is the end of the deciding window.
//! Building the event twice (a retry, a restart, a replayed window) gives the same bytes.

use chrono::{DateTime, Utc};
use driftgauge_detectors::json::NonFinite;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::policy::{
    ConditionKind, Decision, DecisionKind, IdempotencyKey, Severity, Signal, Window,
};

/// `type` of the event sent when a rule fires.
pub const RETRAIN_REQUESTED: &str = "dev.driftgauge.retrain.requested";
/// `type` of the event sent when a firing rule resolves.
pub const RETRAIN_RESOLVED: &str = "dev.driftgauge.retrain.resolved";
/// The CloudEvents specification version.
pub const SPEC_VERSION: &str = "1.0";
/// HTTP `Content-Type` of a structured-mode JSON event.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// A CloudEvents 1.0 event whose `data` is a [`RetrainData`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `"1.0"`.
    pub specversion: String,
    /// Stable id: see [`event_id`]. Receivers deduplicate on it.
    pub id: String,
    /// Who produced the event, a URI-reference from configuration (default `driftgauge`).
    pub source: String,
    /// [`RETRAIN_REQUESTED`] or [`RETRAIN_RESOLVED`].
    #[serde(rename = "type")]
    pub event_type: String,
    /// `model/version`.
    pub subject: String,
    /// End of the window that caused the decision (RFC 3339, UTC).
    pub time: DateTime<Utc>,
    /// Always `"application/json"`.
    pub datacontenttype: String,
    /// The evidence.
    pub data: RetrainData,
}

/// The evidence carried in an event's `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainData {
    /// `model/version/rule/window_start`, for logs; receivers should key on the event `id`.
    pub idempotency_key: String,
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: String,
    /// Rule name.
    pub rule: String,
    /// Rule severity.
    pub severity: Severity,
    /// `fire` or `resolve`.
    pub decision: DecisionKind,
    /// Which kind of condition the rule has.
    pub condition: ConditionKind,
    /// One sentence for humans.
    pub summary: String,
    /// The window that caused the decision.
    pub window: Window,
    /// For a resolve: the window in which the rule fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_window: Option<Window>,
    /// Features that breach the rule, if it is about features.
    pub features: Vec<String>,
    /// Scores and the thresholds they were compared with.
    pub signals: Vec<Signal>,
    /// Baseline version the window was compared against.
    pub baseline_version: String,
    /// Dashboard link, when the engine knows one.
    pub dashboard_url: Option<String>,
}

impl CloudEvent {
    /// Builds the event for `decision`, with `source` as the event source.
    pub fn from_decision(decision: &Decision, source: &str) -> Self {
        let event_type = match decision.kind {
            DecisionKind::Fire => RETRAIN_REQUESTED,
            DecisionKind::Resolve => RETRAIN_RESOLVED,
        };
        let key = &decision.key;
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: event_id(event_type, key),
            source: source.to_owned(),
            event_type: event_type.to_owned(),
            subject: format!("{}/{}", key.model, key.version),
            time: decision.window.end,
            datacontenttype: "application/json".to_owned(),
            data: RetrainData {
                idempotency_key: key.to_string(),
                model: key.model.clone(),
                version: key.version.clone(),
                rule: key.rule.clone(),
                severity: decision.severity,
                decision: decision.kind,
                condition: decision.evidence.condition,
                summary: decision.evidence.summary.clone(),
                window: decision.window,
                fired_window: decision.fired_window,
                features: decision.evidence.features.clone(),
                signals: decision.evidence.signals.clone(),
                baseline_version: decision.baseline_version.clone(),
                dashboard_url: decision.dashboard_url.clone(),
            },
        }
    }

    /// Compact JSON: the exact bytes that are stored, signed and sent.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if serialisation fails (it cannot for events built by
    /// [`from_decision`](Self::from_decision)). Non-finite scores and thresholds
    /// are written as `"Infinity"`, `"-Infinity"` or `"NaN"`, never as `null`
    /// ([`driftgauge_detectors::json`]).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(&NonFinite(self))
            .map_err(|source| Error::Json { what: "CloudEvent", source })
    }
}

/// The event id for an event type and idempotency key: a UUID (version 8, the RFC 9562
/// layout for application-defined ids) made of the first 128 bits of SHA-256 over the
/// type and the key's fields.
///
/// The same decision always has the same id, a fire and its resolve have different
/// ids, and the id contains no `.` (the Standard Webhooks spec forbids one in
/// `webhook-id`, which carries this value).
pub fn event_id(event_type: &str, key: &IdempotencyKey) -> String {
    // A JSON array is an unambiguous encoding: no choice of names can make two different
    // keys hash the same input (plain "a/b" joining could).
    let canonical = serde_json::json!([
        "driftgauge-event-id/1",
        event_type,
        key.model,
        key.version,
        key.rule,
        key.window_start.timestamp(),
        key.window_start.timestamp_subsec_nanos(),
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A complete event (every optional field present) for checking template placeholders.
pub(crate) fn sample_event_json() -> serde_json::Value {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let window = Window { start: at, end: at };
    let decision = Decision {
        kind: DecisionKind::Resolve,
        key: IdempotencyKey {
            model: "m".into(),
            version: "v".into(),
            rule: "r".into(),
            window_start: at,
        },
        severity: Severity::Warning,
        window,
        fired_window: Some(window),
        evidence: crate::policy::Evidence {
            condition: ConditionKind::FeatureDrift,
            summary: String::new(),
            features: vec!["f".into()],
            signals: vec![Signal {
                name: "f".into(),
                statistic: Some("psi".into()),
                value: 0.0,
                threshold: 0.0,
                resolve: Some(0.0),
                breached: true,
                hits: Some(1),
                of: Some(1),
            }],
        },
        baseline_version: String::new(),
        dashboard_url: Some(String::new()),
    };
    serde_json::to_value(NonFinite(&CloudEvent::from_decision(&decision, "s"))).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::policy::Evidence;
    use chrono::TimeZone;

    pub(crate) fn decision(kind: DecisionKind) -> Decision {
        let start = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single().expect("date");
        let end = Utc.with_ymd_and_hms(2024, 5, 1, 11, 0, 0).single().expect("date");
        Decision {
            kind,
            key: IdempotencyKey {
                model: "fraud".into(),
                version: "v3".into(),
                rule: "feature-drift".into(),
                window_start: start,
            },
            severity: Severity::Critical,
            window: Window { start, end },
            fired_window: None,
            evidence: Evidence {
                condition: ConditionKind::FeatureDrift,
                summary:
                    "Feature amount drifted (psi) in at least 2 of the last 3 windows: amount."
                        .into(),
                features: vec!["amount".into()],
                signals: vec![Signal {
                    name: "amount".into(),
                    statistic: Some("psi".into()),
                    value: 0.31,
                    threshold: 0.2,
                    resolve: Some(0.1),
                    breached: true,
                    hits: Some(2),
                    of: Some(3),
                }],
            },
            baseline_version: "2024-04-01".into(),
            dashboard_url: Some("https://grafana.example/d/drift?var-model=fraud".into()),
        }
    }

    #[test]
    fn structured_json_has_the_required_attributes() {
        let e = CloudEvent::from_decision(&decision(DecisionKind::Fire), "/driftgauge/prod");
        let v: serde_json::Value =
            serde_json::from_str(&e.to_json().expect("json")).expect("parses");
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], RETRAIN_REQUESTED);
        assert_eq!(v["source"], "/driftgauge/prod");
        assert_eq!(v["subject"], "fraud/v3");
        assert_eq!(v["time"], "2024-05-01T11:00:00Z");
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(v["data"]["rule"], "feature-drift");
        assert_eq!(v["data"]["severity"], "critical");
        assert_eq!(v["data"]["decision"], "fire");
        assert_eq!(v["data"]["condition"], "feature_drift");
        assert_eq!(v["data"]["window"]["start"], "2024-05-01T10:00:00Z");
        assert_eq!(v["data"]["signals"][0]["value"], 0.31);
        assert_eq!(v["data"]["signals"][0]["threshold"], 0.2);
        assert_eq!(v["data"]["baseline_version"], "2024-04-01");
        assert_eq!(v["data"]["dashboard_url"], "https://grafana.example/d/drift?var-model=fraud");
        assert_eq!(v["data"]["idempotency_key"], "fraud/v3/feature-drift/2024-05-01T10:00:00Z");
        assert!(v["data"].get("fired_window").is_none());
        let back: CloudEvent = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, e);
    }

    #[test]
    fn non_finite_values_are_strings_that_read_back_not_null() {
        let mut d = decision(DecisionKind::Fire);
        d.evidence.signals[0].value = f64::INFINITY;
        d.evidence.signals[0].threshold = f64::NEG_INFINITY;
        d.evidence.signals[0].resolve = Some(f64::NAN);
        let json = CloudEvent::from_decision(&d, "s").to_json().expect("json");
        let v: serde_json::Value = serde_json::from_str(&json).expect("parses");
        let signal = &v["data"]["signals"][0];
        assert_eq!(
            (&signal["value"], &signal["threshold"], &signal["resolve"]),
            (&"Infinity".into(), &"-Infinity".into(), &"NaN".into())
        );
        let back: CloudEvent = serde_json::from_str(&json).expect("round trip");
        let signal = &back.data.signals[0];
        assert_eq!((signal.value, signal.threshold), (f64::INFINITY, f64::NEG_INFINITY));
        assert!(signal.resolve.is_some_and(f64::is_nan));
    }

    #[test]
    fn ids_are_stable_uuids_and_distinguish_type_and_key() {
        let fire = decision(DecisionKind::Fire);
        let a = CloudEvent::from_decision(&fire, "driftgauge").id;
        assert_eq!(
            a,
            CloudEvent::from_decision(&fire, "elsewhere").id,
            "source is not part of the id"
        );
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'8', "version 8: {a}");
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "variant: {a}");
        assert!(!a.contains('.'));

        let resolve = decision(DecisionKind::Resolve);
        assert_ne!(a, CloudEvent::from_decision(&resolve, "driftgauge").id);
        let mut later = fire.clone();
        later.key.window_start += chrono::TimeDelta::hours(1);
        assert_ne!(a, CloudEvent::from_decision(&later, "driftgauge").id);
        // Names that would collide under naive joining do not collide.
        let mut x = fire.clone();
        x.key.model = "a/b".into();
        x.key.version = "c".into();
        let mut y = fire;
        y.key.model = "a".into();
        y.key.version = "b/c".into();
        assert_ne!(event_id(RETRAIN_REQUESTED, &x.key), event_id(RETRAIN_REQUESTED, &y.key));
    }

    #[test]
    fn same_decision_gives_identical_bytes() {
        let d = decision(DecisionKind::Resolve);
        let a = CloudEvent::from_decision(&d, "driftgauge").to_json().expect("json");
        let b = CloudEvent::from_decision(&d, "driftgauge").to_json().expect("json");
        assert_eq!(a, b);
        assert!(a.contains(RETRAIN_RESOLVED));
    }
}
