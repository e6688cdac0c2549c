//! Retraining webhooks: signed, retried, at-least-once delivery from the outbox.
//!
//! [`WebhookDelivery::builder`] validates a [`WebhookConfig`] (reporting every problem
//! at once), reads the signing secrets from the environment and returns two halves:
//!
//! * [`WebhookHandle`], cheap to clone: [`submit`](WebhookHandle::submit) turns a
//!   [`Decision`] into one outbox message per target and wakes the loop;
//! * [`WebhookDelivery`], whose [`run`](WebhookDelivery::run) loop drains the outbox
//!   until shutdown.
//!
//! # Retries
//!
//! | outcome of an attempt | action |
//! | --- | --- |
//! | 2xx, or a status listed in the target's `accept_status` | delivered |
//! | connection error, timeout, other transport error | retry |
//! | 5xx, 429, 408 | retry, no sooner than `Retry-After` (seconds or HTTP-date) |
//! | 3xx | dead: redirects are not followed (update the URL) |
//! | any other 4xx | dead: logged at ERROR and reported to the observer |
//!
//! The n-th retry waits a uniformly random time in
//! `[0, min(max_backoff_ms, initial_backoff_ms * 2^(n-1))]` ("full jitter"), or the
//! `Retry-After` delay if that is longer (capped at 24 h). After `max_attempts`
//! attempts the message is dead. 408 is retried although it is a 4xx because it says
//! the receiver timed out waiting for our request: the request itself was fine.
//!
//! Every attempt carries the same `webhook-id` (the event id) and a fresh
//! `webhook-timestamp` and signature, as the Standard Webhooks spec asks.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

pub use crate::attempt::AttemptFailure;
use crate::cloudevent::{self, CloudEvent, STRUCTURED_CONTENT_TYPE};
use crate::error::{Error, Problems, Result};
use crate::observe::{DeliveryObserver, NoopObserver};
use crate::outbox::{OutboxMessage, OutboxStore};
use crate::policy::{Decision, DecisionKind};
use crate::signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SigningKey};
use crate::template::BodyTemplate;

/// Messages fetched from the store per query.
const DUE_BATCH: usize = 64;
/// Longest `Retry-After` honoured; a larger value is treated as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Bytes of an error response body kept for logs and `last_error`.
const ERROR_BODY_BYTES: usize = 256;

/// Webhook delivery settings (`[alerting.webhook]` in the engine's TOML).
///
/// ```toml
/// [alerting.webhook]
/// source = "/driftgauge/prod"
/// secret_env = "DRIFTGAUGE_WEBHOOK_SECRET"
///
/// [[alerting.webhook.targets]]
/// url = "https://retrain.internal.example/hooks/driftgauge"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receivers; each gets every event. Default: none (no webhooks are sent).
    #[serde(default)]
    pub targets: Vec<WebhookTarget>,
    /// CloudEvents `source` attribute, a URI-reference. Default: `"driftgauge"`.
    /// Example: `"/driftgauge/prod-eu"`.
    #[serde(default = "default_source")]
    pub source: String,
    /// Environment variable holding the signing secret (`whsec_<base64>`). Default:
    /// `"DRIFTGAUGE_WEBHOOK_SECRET"`. A target may name its own.
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// Per-request timeout, connect to last response byte. Default: `10000`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts before a message is given up. Default: `24` (with the default backoff,
    /// the 23 waits add up to at most about 12 hours, typically half that).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Backoff cap of the first retry. Default: `1000`.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Largest backoff cap. Default: `3600000` (1 h).
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Also send `dev.driftgauge.retrain.resolved` events. Default: `false`, because a
    /// templated receiver (an Airflow DAG run) cannot tell them from a request.
    #[serde(default)]
    pub send_resolved: bool,
    /// Requests in flight at once, across targets. Default: `4`.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Longest sleep between outbox checks when nothing wakes the loop. Default: `5000`.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            source: default_source(),
            secret_env: default_secret_env(),
            timeout_ms: default_timeout_ms(),
            max_attempts: default_max_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            send_resolved: false,
            max_in_flight: default_max_in_flight(),
            poll_interval_ms: default_poll_interval_ms(),
        }
    }
}

fn default_source() -> String {
    "driftgauge".to_owned()
}

fn default_secret_env() -> String {
    "DRIFTGAUGE_WEBHOOK_SECRET".to_owned()
}

const fn default_timeout_ms() -> u64 {
    10_000
}

const fn default_max_attempts() -> u32 {
    24
}

const fn default_initial_backoff_ms() -> u64 {
    1_000
}

const fn default_max_backoff_ms() -> u64 {
    3_600_000
}

const fn default_max_in_flight() -> usize {
    4
}

const fn default_poll_interval_ms() -> u64 {
    5_000
}

/// One receiver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    /// `http` or `https` URL. Required; unique among targets.
    pub url: String,
    /// Body template (see [`crate::template`]); without one the CloudEvent itself is
    /// sent. Default: none. Example: `'{"conf": "{{data}}"}'`.
    #[serde(default)]
    pub template: Option<String>,
    /// Extra request headers, for example `{ Accept = "application/vnd.github+json" }`.
    /// `Content-Type` may be overridden; `webhook-*` may not. Default: none.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Environment variable whose whole value is sent as the `Authorization` header,
    /// for example `Bearer ghp_...` or `Basic dXNlcjpwYXNz`. Kept out of the config file
    /// on purpose. Default: none.
    #[serde(default)]
    pub authorization_env: Option<String>,
    /// Environment variable with this target's signing secret, when it should differ
    /// from `secret_env` (the spec recommends a secret per endpoint). Default: none.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Non-2xx statuses that also count as delivered. Example: `[409]` for Airflow,
    /// which answers a redelivered `dag_run_id` with 409 Conflict. Default: none.
    #[serde(default)]
    pub accept_status: Vec<u16>,
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (IMF-fixdate, RFC 850
/// or asctime form), relative to `now`. A date in the past is a zero delay.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at =
        DateTime::parse_from_rfc2822(value).map(|d| d.with_timezone(&Utc)).ok().or_else(|| {
            // RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
            // (`Sun Nov  6 08:49:37 1994`), which RFC 9110 still requires recipients to accept.
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|fmt| NaiveDateTime::parse_from_str(value, fmt).ok())
                .map(|n| n.and_utc())
        })?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
    max_attempts: u32,
    initial: Duration,
    max: Duration,
}

impl RetryPolicy {
    /// Delay after the `failures`-th failed attempt (1-based).
    fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let exp = failures.saturating_sub(1).min(32);
        let cap = self.initial.saturating_mul(1u32 << exp.min(31)).min(self.max);
        let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(rand::random_range(0..=cap_ms));
        jittered.max(retry_after.unwrap_or(Duration::ZERO))
    }
}

/// A validated target, ready to send to.
#[derive(Debug)]
struct Target {
    url: reqwest::Url,
    key: SigningKey,
    template: Option<BodyTemplate>,
    /// Content-Type, user headers and Authorization: everything but the `webhook-*` ones.
    headers: HeaderMap,
    accept: Vec<u16>,
}

type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Builds a [`WebhookDelivery`] and its [`WebhookHandle`].
pub struct WebhookDeliveryBuilder {
    config: WebhookConfig,
    store: Arc<dyn OutboxStore>,
    observer: Arc<dyn DeliveryObserver>,
    env: EnvLookup,
}

impl fmt::Debug for WebhookDeliveryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookDeliveryBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebhookDeliveryBuilder {
    /// Reports outcomes to `observer` (default: [`NoopObserver`]).
    pub fn observer(mut self, observer: Arc<dyn DeliveryObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Reads secrets and tokens through `lookup` instead of the process environment
    /// (for tests, or an engine that resolves secrets elsewhere).
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Box::new(lookup);
        self
    }

    /// Validates the configuration, reads secrets and builds the HTTP client.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] listing every problem (bad URL, template placeholder,
    /// header, missing or malformed secret, out-of-range number); [`Error::HttpClient`]
    /// if the client cannot be built.
    pub fn build(self) -> Result<(WebhookDelivery, WebhookHandle)> {
        let Self { config: c, store, observer, env } = self;
        let mut problems = Problems::default();
        if c.source.is_empty() || c.source.chars().any(char::is_whitespace) {
            problems.push("webhook.source", "must be a non-empty URI-reference without whitespace");
        }
        for (field, value) in [
            ("timeout_ms", c.timeout_ms),
            ("initial_backoff_ms", c.initial_backoff_ms),
            ("poll_interval_ms", c.poll_interval_ms),
            ("max_attempts", u64::from(c.max_attempts)),
            ("max_in_flight", c.max_in_flight as u64),
        ] {
            if value == 0 {
                problems.push(format!("webhook.{field}"), "must be at least 1");
            }
        }
        if c.max_backoff_ms < c.initial_backoff_ms {
            problems.push("webhook.max_backoff_ms", "must be at least initial_backoff_ms");
        }

        let sample = cloudevent::sample_event_json();
        let mut targets = BTreeMap::new();
        for (i, t) in c.targets.iter().enumerate() {
            let at = format!("webhook.targets[{i}]");
            if let Some(target) = build_target(t, &c.secret_env, &at, &sample, &env, &mut problems)
            {
                if targets.insert(t.url.clone(), Arc::new(target)).is_some() {
                    problems.push(format!("{at}.url"), "duplicates another target's url");
                }
            }
        }
        problems.into_result()?;

        let client = http_client(Duration::from_millis(c.timeout_ms), "webhook")?;
        let notify = Arc::new(Notify::new());
        let urls: Arc<[String]> = c.targets.iter().map(|t| t.url.clone()).collect();
        let handle = WebhookHandle {
            store: Arc::clone(&store),
            observer: Arc::clone(&observer),
            notify: Arc::clone(&notify),
            urls,
            source: c.source.as_str().into(),
            send_resolved: c.send_resolved,
        };
        let delivery = WebhookDelivery {
            store,
            observer,
            notify,
            client,
            targets: Arc::new(targets),
            retry: RetryPolicy {
                max_attempts: c.max_attempts,
                initial: Duration::from_millis(c.initial_backoff_ms),
                max: Duration::from_millis(c.max_backoff_ms),
            },
            max_in_flight: c.max_in_flight,
            poll_interval: Duration::from_millis(c.poll_interval_ms),
        };
        Ok((delivery, handle))
    }
}

fn build_target(
    t: &WebhookTarget,
    default_secret_env: &str,
    at: &str,
    sample: &Value,
    env: &EnvLookup,
    problems: &mut Problems,
) -> Option<Target> {
    let before = problems.len();
    let url = match reqwest::Url::parse(&t.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(_) => {
            problems.push(format!("{at}.url"), "must be an http or https URL");
            None
        }
        Err(e) => {
            problems.push(format!("{at}.url"), format!("is not a URL: {e}"));
            None
        }
    };

    let template = t.template.as_deref().and_then(|text| match BodyTemplate::parse(text) {
        Ok(tpl) => {
            for p in tpl.placeholders() {
                if crate::template::lookup(sample, &p).is_none() {
                    problems.push(
                        format!("{at}.template"),
                        Error::TemplatePlaceholder { target: t.url.clone(), placeholder: p }
                            .to_string(),
                    );
                }
            }
            Some(tpl)
        }
        Err(e) => {
            problems.push(format!("{at}.template"), format!("is not JSON: {e}"));
            None
        }
    });

    let mut headers = HeaderMap::new();
    let content_type =
        if t.template.is_some() { "application/json" } else { STRUCTURED_CONTENT_TYPE };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in &t.headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("webhook-")
            || (lower == "authorization" && t.authorization_env.is_some())
        {
            problems.push(
                format!("{at}.headers.{name}"),
                "is set by driftgauge and cannot be overridden",
            );
            continue;
        }
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            (Ok(n), Ok(v)) => {
                headers.insert(n, v);
            }
            _ => problems.push(format!("{at}.headers.{name}"), "is not a valid HTTP header"),
        }
    }
    if let Some(var) = &t.authorization_env {
        match env(var).map(|value| HeaderValue::from_str(value.trim())) {
            Some(Ok(mut v)) => {
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
            Some(Err(_)) => problems.push(
                format!("{at}.authorization_env"),
                format!("{var} is not a valid header value"),
            ),
            None => problems.push(
                format!("{at}.authorization_env"),
                format!("environment variable {var} is not set"),
            ),
        }
    }

    let secret_var = t.secret_env.as_deref().unwrap_or(default_secret_env);
    let secret_field = if t.secret_env.is_some() {
        format!("{at}.secret_env")
    } else {
        "webhook.secret_env".to_owned()
    };
    let key = match env(secret_var) {
        Some(value) => match SigningKey::parse(&value, Some(secret_var)) {
            Ok(k) => Some(k),
            Err(e) => {
                problems.push(secret_field, e.to_string());
                None
            }
        },
        None => {
            problems.push(secret_field, format!("environment variable {secret_var} is not set"));
            None
        }
    };

    if problems.len() != before {
        return None;
    }
    Some(Target { url: url?, key: key?, template, headers, accept: t.accept_status.clone() })
}

/// Builds the shared HTTP client: one timeout for connect and the whole exchange, no
/// redirects, a `driftgauge/<version>` user agent (some APIs, GitHub's among them,
/// reject requests without one).
pub(crate) fn http_client(timeout: Duration, component: &'static str) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("driftgauge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|source| Error::HttpClient { component, source })
}

/// Runs blocking store calls off the async worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Store { operation: "blocking task", source: Box::new(e) })?
}

/// The submitting half: turns decisions into outbox messages. Cheap to clone.
#[derive(Clone)]
pub struct WebhookHandle {
    store: Arc<dyn OutboxStore>,
    observer: Arc<dyn DeliveryObserver>,
    notify: Arc<Notify>,
    urls: Arc<[String]>,
    source: Arc<str>,
    send_resolved: bool,
}

impl fmt::Debug for WebhookHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookHandle")
            .field("urls", &self.urls)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl WebhookHandle {
    /// The outbox messages for `decision`: one per target, all with the same event id
    /// and body. Empty for a resolve unless `send_resolved` is set, and when no target
    /// is configured. For an engine that writes them to its store itself (say, in the
    /// same transaction as the policy state); call [`wake`](Self::wake) afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if the event cannot be serialised.
    pub fn messages_for(
        &self,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>> {
        if self.urls.is_empty() || (decision.kind == DecisionKind::Resolve && !self.send_resolved) {
            return Ok(Vec::new());
        }
        let event = CloudEvent::from_decision(decision, &self.source);
        let body = event.to_json()?;
        Ok(self
            .urls
            .iter()
            .map(|url| OutboxMessage {
                event_id: event.id.clone(),
                target: url.clone(),
                model: decision.key.model.clone(),
                rule: decision.key.rule.clone(),
                event_type: event.event_type.clone(),
                body: body.clone(),
                created_at: now,
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
            })
            .collect())
    }

    /// Stores the messages for `decision` in the outbox and wakes the delivery loop.
    /// Returns how many were newly stored (a decision submitted twice is stored once).
    ///
    /// The trigger is durable when this returns; delivery happens in the background,
    /// also after a restart.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if the outbox rejects the write: the caller should retry, since
    /// the trigger is not stored.
    pub async fn submit(&self, decision: &Decision) -> Result<usize> {
        let messages = self.messages_for(decision, Utc::now())?;
        if messages.is_empty() {
            return Ok(0);
        }
        let store = Arc::clone(&self.store);
        let inserted = blocking(move || {
            let mut inserted = Vec::new();
            for m in messages {
                if store.enqueue(&m)? {
                    inserted.push(m);
                }
            }
            Ok(inserted)
        })
        .await?;
        for m in &inserted {
            tracing::info!(
                event_id = %m.event_id,
                target = %m.target,
                model = %m.model,
                rule = %m.rule,
                "Queued a retraining webhook."
            );
            self.observer.enqueued(m);
        }
        self.wake();
        Ok(inserted.len())
    }

    /// Wakes the delivery loop to look for due messages now.
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// The delivery loop. Construct with [`WebhookDelivery::builder`]; run with
/// [`run`](Self::run) on the engine's runtime.
pub struct WebhookDelivery {
    store: Arc<dyn OutboxStore>,
    observer: Arc<dyn DeliveryObserver>,
    notify: Arc<Notify>,
    client: reqwest::Client,
    targets: Arc<BTreeMap<String, Arc<Target>>>,
    retry: RetryPolicy,
    max_in_flight: usize,
    poll_interval: Duration,
}

impl fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("targets", &self.targets.keys().collect::<Vec<_>>())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

impl WebhookDelivery {
    /// Starts building a delivery over `store`.
    pub fn builder(config: WebhookConfig, store: Arc<dyn OutboxStore>) -> WebhookDeliveryBuilder {
        WebhookDeliveryBuilder {
            config,
            store,
            observer: Arc::new(NoopObserver),
            env: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// Drains the outbox until `shutdown` completes: sends every due message, records
    /// the outcome, then sleeps until the next message is due, a
    /// [`WebhookHandle::submit`] wakes it, or `poll_interval_ms` passes.
    ///
    /// On shutdown, requests in flight are finished (each is bounded by `timeout_ms`)
    /// and recorded; nothing new is started. Messages still pending stay in the store for
    /// the next run. Store failures are logged and retried; they never end the loop.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let mut shutdown: Shutdown = Box::pin(shutdown);
        tracing::info!(targets = self.targets.len(), "Webhook delivery started.");
        loop {
            let store_failed = match self.drain(&mut shutdown).await {
                Ok(true) => break,
                Ok(false) => false,
                Err(error) => {
                    tracing::warn!(
                        error = %error_chain(&error),
                        "Outbox store failed; retrying after the poll interval."
                    );
                    true
                }
            };
            // One trip to the store: the pending gauge, and when the next retry is due.
            let store = Arc::clone(&self.store);
            let next = match blocking(move || Ok((store.pending_count()?, store.next_due_at()?)))
                .await
            {
                Ok((pending, next)) => {
                    self.observer.pending(pending);
                    next
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "Could not read the outbox schedule.");
                    None
                }
            };
            let wait = match next {
                _ if store_failed => self.poll_interval,
                Some(at) => {
                    (at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(self.poll_interval)
                }
                None => self.poll_interval,
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                // After a store failure, wait the full interval rather than spin on wake-ups.
                () = self.notify.notified(), if !store_failed => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("Webhook delivery stopped.");
    }

    /// Sends everything due now. Returns `Ok(true)` if shutdown was requested.
    async fn drain(&self, shutdown: &mut Shutdown) -> Result<bool> {
        loop {
            let store = Arc::clone(&self.store);
            let due = blocking(move || store.due(Utc::now(), DUE_BATCH)).await?;
            let full_batch = due.len() == DUE_BATCH;
            let mut queue = due.into_iter();
            let mut in_flight = JoinSet::new();
            let mut stopping = false;
            loop {
                while !stopping && in_flight.len() < self.max_in_flight {
                    let Some(msg) = queue.next() else { break };
                    let target = self.targets.get(&msg.target).cloned();
                    let client = self.client.clone();
                    in_flight.spawn(async move {
                        let result = attempt(&client, target.as_deref(), &msg).await;
                        (msg, result)
                    });
                }
                if in_flight.is_empty() {
                    break;
                }
                tokio::select! {
                    biased;
                    () = &mut *shutdown, if !stopping => stopping = true,
                    Some(joined) = in_flight.join_next() => match joined {
                        Ok((msg, result)) => {
                            if let Err(error) = self.settle(msg, result).await {
                                // The message stays as it was and is retried later.
                                tracing::warn!(
                                    error = %error_chain(&error),
                                    "Could not record a webhook attempt."
                                );
                            }
                        }
                        Err(error) => tracing::error!(%error, "A webhook attempt task failed."),
                    },
                }
            }
            if stopping {
                return Ok(true);
            }
            if !full_batch {
                return Ok(false);
            }
        }
    }

    async fn settle(
        &self,
        msg: OutboxMessage,
        result: std::result::Result<(), AttemptFailure>,
    ) -> Result<()> {
        let attempts = msg.attempts.saturating_add(1);
        let now = Utc::now();
        let key = msg.key();
        let store = Arc::clone(&self.store);
        match result {
            Ok(()) => {
                blocking(move || store.mark_delivered(&key, attempts, now)).await?;
                let latency = (now - msg.created_at).to_std().unwrap_or(Duration::ZERO);
                tracing::info!(
                    event_id = %msg.event_id,
                    target = %msg.target,
                    model = %msg.model,
                    rule = %msg.rule,
                    attempts,
                    latency_ms = latency.as_millis() as u64,
                    "Delivered a retraining webhook."
                );
                self.observer.delivered(&msg, attempts, latency);
            }
            Err(failure) if failure.is_retryable() && attempts < self.retry.max_attempts => {
                let delay = self.retry.delay(attempts, failure.retry_after());
                let next =
                    now + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
                let error = failure.to_string();
                blocking(move || store.record_failure(&key, attempts, next, &error)).await?;
                tracing::warn!(
                    event_id = %msg.event_id,
                    target = %msg.target,
                    model = %msg.model,
                    rule = %msg.rule,
                    attempts,
                    retry_in_ms = delay.as_millis() as u64,
                    error = %failure,
                    "Webhook attempt failed; it will be retried."
                );
                self.observer.retrying(&msg, attempts, &failure, delay);
            }
            Err(failure) => {
                let error = failure.to_string();
                blocking(move || store.mark_dead(&key, attempts, &error, now)).await?;
                // ERROR: an operator must act (fix the URL, the credentials, the receiver).
                tracing::error!(
                    event_id = %msg.event_id,
                    target = %msg.target,
                    model = %msg.model,
                    rule = %msg.rule,
                    attempts,
                    retryable = failure.is_retryable(),
                    error = %failure,
                    "Gave up on a retraining webhook."
                );
                self.observer.dead(&msg, attempts, &failure);
            }
        }
        Ok(())
    }
}

/// One HTTP attempt for one message.
async fn attempt(
    client: &reqwest::Client,
    target: Option<&Target>,
    msg: &OutboxMessage,
) -> std::result::Result<(), AttemptFailure> {
    let target = target.ok_or(AttemptFailure::TargetRemoved)?;
    let body: Vec<u8> = match &target.template {
        None => msg.body.clone().into_bytes(),
        Some(tpl) => {
            let event: Value = serde_json::from_str(&msg.body)
                .map_err(|e| AttemptFailure::InvalidBody { detail: e.to_string() })?;
            tpl.render(&event).to_string().into_bytes()
        }
    };
    let timestamp = Utc::now().timestamp();
    let signature = target.key.sign(&msg.event_id, timestamp, &body);
    let response = client
        .post(target.url.clone())
        .headers(target.headers.clone())
        .header(HEADER_ID, &msg.event_id)
        .header(HEADER_TIMESTAMP, timestamp.to_string())
        .header(HEADER_SIGNATURE, signature)
        .body(body)
        .send()
        .await
        .map_err(classify)?;
    let status = response.status();
    if status.is_success() || target.accept.contains(&status.as_u16()) {
        return Ok(());
    }
    if status.is_redirection() {
        return Err(AttemptFailure::Redirect { status: status.as_u16() });
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let body = error_body(response).await;
    Err(AttemptFailure::Status { status: status.as_u16(), retry_after, body })
}

fn classify(error: reqwest::Error) -> AttemptFailure {
    if error.is_timeout() {
        return AttemptFailure::Timeout;
    }
    let detail = error_chain(&error);
    if error.is_connect() {
        AttemptFailure::Connect { detail }
    } else {
        AttemptFailure::Transport { detail }
    }
}

/// `outer: inner: innermost`, since reqwest's own message omits the cause.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first bytes of an error response, for `last_error`.
async fn error_body(mut response: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(ERROR_BODY_BYTES);
    String::from_utf8_lossy(&buf).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::MemoryOutbox;
    use chrono::TimeZone;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn env_with(
        vars: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> + Send + Sync {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).single().expect("date");
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:05 2015", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "past date"
        );
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for failures in 1..=40 {
            let cap = Duration::from_millis((100u64 << (failures - 1).min(20)).min(1000));
            for _ in 0..50 {
                assert!(p.delay(failures, None) <= cap, "failure {failures}");
            }
        }
        // Retry-After raises the delay, never lowers it.
        assert!(p.delay(1, Some(Duration::from_secs(5))) == Duration::from_secs(5));
        // Jitter actually varies.
        let samples: std::collections::BTreeSet<_> = (0..50).map(|_| p.delay(4, None)).collect();
        assert!(samples.len() > 5);
    }

    #[test]
    fn build_reports_every_problem() {
        let config = WebhookConfig {
            targets: vec![
                WebhookTarget { url: "ftp://example.com".into(), ..Default::default() },
                WebhookTarget {
                    url: "http://127.0.0.1:1/a".into(),
                    template: Some(r#"{"x": "{{data.nope}}"}"#.into()),
                    headers: [("webhook-id".to_owned(), "x".to_owned())].into(),
                    authorization_env: Some("NO_SUCH_TOKEN".into()),
                    secret_env: Some("OTHER_SECRET".into()),
                    accept_status: vec![],
                },
                WebhookTarget {
                    url: "http://127.0.0.1:1/b".into(),
                    template: Some("{".into()),
                    ..Default::default()
                },
            ],
            source: "has space".into(),
            timeout_ms: 0,
            max_backoff_ms: 1,
            ..WebhookConfig::default()
        };
        let err = WebhookDelivery::builder(config, Arc::new(MemoryOutbox::new()))
            .env(env_with(&[
                ("DRIFTGAUGE_WEBHOOK_SECRET", SECRET),
                ("OTHER_SECRET", "whsec_c2hvcnQ="),
            ]))
            .build()
            .expect_err("invalid");
        let Error::InvalidConfig { problems } = &err else { panic!("{err}") };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for want in [
            "webhook.source",
            "webhook.timeout_ms",
            "webhook.max_backoff_ms",
            "webhook.targets[0].url",
            "webhook.targets[1].template",
            "webhook.targets[1].headers.webhook-id",
            "webhook.targets[1].authorization_env",
            "webhook.targets[1].secret_env",
            "webhook.targets[2].template",
        ] {
            assert!(fields.contains(&want), "missing {want} in {fields:?}");
        }
        let text = err.to_string();
        assert!(text.contains("{{data.nope}}"), "{text}");
        assert!(text.contains("OTHER_SECRET"), "{text}");
    }

    #[test]
    fn missing_default_secret_is_reported() {
        let config = WebhookConfig {
            targets: vec![WebhookTarget {
                url: "http://127.0.0.1:1/".into(),
                ..Default::default()
            }],
            ..WebhookConfig::default()
        };
        let err = WebhookDelivery::builder(config, Arc::new(MemoryOutbox::new()))
            .env(|_| None)
            .build()
            .expect_err("no secret");
        assert!(
            err.to_string().contains(
                "webhook.secret_env: environment variable DRIFTGAUGE_WEBHOOK_SECRET is not set"
            ),
            "{err}"
        );
    }

    #[test]
    fn messages_for_respects_send_resolved() {
        use crate::cloudevent::tests::decision;
        let config = |send_resolved| WebhookConfig {
            targets: vec![
                WebhookTarget { url: "http://127.0.0.1:1/a".into(), ..Default::default() },
                WebhookTarget { url: "http://127.0.0.1:1/b".into(), ..Default::default() },
            ],
            send_resolved,
            ..WebhookConfig::default()
        };
        let now = Utc::now();
        for send_resolved in [false, true] {
            let (_, handle) =
                WebhookDelivery::builder(config(send_resolved), Arc::new(MemoryOutbox::new()))
                    .env(env_with(&[("DRIFTGAUGE_WEBHOOK_SECRET", SECRET)]))
                    .build()
                    .expect("valid");
            let fire = handle.messages_for(&decision(DecisionKind::Fire), now).expect("ok");
            assert_eq!(fire.len(), 2);
            assert_eq!(fire[0].event_id, fire[1].event_id, "one event, two targets");
            assert_eq!(fire[0].body, fire[1].body);
            let resolve = handle.messages_for(&decision(DecisionKind::Resolve), now).expect("ok");
            assert_eq!(resolve.len(), if send_resolved { 2 } else { 0 });
        }
    }
}
