//! Delivery outcomes for metrics.
//!
//! This crate does not depend on a metrics library: the engine owns the Prometheus
//! registry (style guide §7). It implements [`DeliveryObserver`] with its own counters
//! and histogram, and passes it to the delivery loops. Every method has a no-op default,
//! so an implementation only overrides what it exports.
//!
//! Suggested mapping (labels `model` and `rule` come from the message):
//!
//! | callback | metric |
//! | --- | --- |
//! | [`enqueued`](DeliveryObserver::enqueued) | `driftgauge_webhook_triggers_total` |
//! | [`delivered`](DeliveryObserver::delivered) | `driftgauge_webhook_delivered_total`, `driftgauge_webhook_delivery_latency_seconds` |
//! | [`retrying`](DeliveryObserver::retrying) | `driftgauge_webhook_attempt_failures_total` |
//! | [`dead`](DeliveryObserver::dead) | `driftgauge_webhook_dead_total` |
//! | [`pending`](DeliveryObserver::pending) | `driftgauge_webhook_pending` (gauge) |
//! | [`alertmanager_pushed`](DeliveryObserver::alertmanager_pushed) | `driftgauge_alertmanager_pushes_total{outcome}` |
//!
//! Callbacks run on the delivery tasks and in [`WebhookHandle::submit`]: keep them cheap
//! and non-blocking. Callbacks for one message can arrive out of order across those
//! tasks (the loop may deliver a message before `submit` has reported it enqueued).
//!
//! [`WebhookHandle::submit`]: crate::webhook::WebhookHandle::submit

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::attempt::AttemptFailure;
use crate::outbox::OutboxMessage;

/// Receives delivery outcomes. All methods default to doing nothing.
pub trait DeliveryObserver: Send + Sync + 'static {
    /// A message was newly written to the outbox (duplicates are not reported).
    fn enqueued(&self, message: &OutboxMessage) {
        let _ = message;
    }

    /// A receiver accepted `message` on attempt number `attempts`. `latency` is from
    /// enqueueing to acceptance, retries included.
    fn delivered(&self, message: &OutboxMessage, attempts: u32, latency: Duration) {
        let _ = (message, attempts, latency);
    }

    /// Attempt number `attempts` failed with a retryable failure; the next one is in `delay`.
    fn retrying(
        &self,
        message: &OutboxMessage,
        attempts: u32,
        failure: &AttemptFailure,
        delay: Duration,
    ) {
        let _ = (message, attempts, failure, delay);
    }

    /// The message was given up after `attempts` attempts: `failure` is either
    /// non-retryable (a 4xx other than 408 and 429, a redirect) or the last of
    /// `max_attempts` retryable failures ([`AttemptFailure::is_retryable`] tells which).
    fn dead(&self, message: &OutboxMessage, attempts: u32, failure: &AttemptFailure) {
        let _ = (message, attempts, failure);
    }

    /// The number of pending messages after a delivery pass.
    fn pending(&self, count: u64) {
        let _ = count;
    }

    /// A push of `alerts` alerts to the Alertmanager at `url` succeeded (`ok`) or failed.
    fn alertmanager_pushed(&self, url: &str, alerts: usize, ok: bool) {
        let _ = (url, alerts, ok);
    }
}

impl std::fmt::Debug for dyn DeliveryObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn DeliveryObserver")
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl DeliveryObserver for NoopObserver {}

/// An observer that counts, for tests and for embedders without Prometheus.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    /// Messages written to the outbox.
    pub enqueued: AtomicU64,
    /// Messages accepted by a receiver.
    pub delivered: AtomicU64,
    /// Failed attempts that will be retried.
    pub retries: AtomicU64,
    /// Messages given up.
    pub dead: AtomicU64,
    /// Pending messages after the last pass.
    pub pending: AtomicU64,
    /// Successful Alertmanager pushes.
    pub alertmanager_ok: AtomicU64,
    /// Failed Alertmanager pushes.
    pub alertmanager_failed: AtomicU64,
}

impl DeliveryObserver for DeliveryCounters {
    fn enqueued(&self, _: &OutboxMessage) {
        self.enqueued.fetch_add(1, Ordering::Relaxed);
    }

    fn delivered(&self, _: &OutboxMessage, _: u32, _: Duration) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    fn retrying(&self, _: &OutboxMessage, _: u32, _: &AttemptFailure, _: Duration) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    fn dead(&self, _: &OutboxMessage, _: u32, _: &AttemptFailure) {
        self.dead.fetch_add(1, Ordering::Relaxed);
    }

    fn pending(&self, count: u64) {
        self.pending.store(count, Ordering::Relaxed);
    }

    fn alertmanager_pushed(&self, _: &str, _: usize, ok: bool) {
        let counter = if ok { &self.alertmanager_ok } else { &self.alertmanager_failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
