//! The outbox: triggers are stored before they are sent.
//!
//! A decision becomes one [`OutboxMessage`] per webhook target, written to an
//! [`OutboxStore`] before any HTTP request is made. The delivery loop
//! ([`WebhookDelivery`](crate::webhook::WebhookDelivery)) reads due messages, sends them
//! and records the outcome. A crash or restart between those steps loses nothing: the
//! message is still pending and is sent again, with the same `webhook-id`, after the
//! restart. Delivery is therefore *at least once*; receivers deduplicate on the id.
//!
//! # Why the trait is synchronous
//!
//! The engine implements the store on SQLite with rusqlite, which is a blocking API. A
//! synchronous trait is what such an implementation naturally is, stays object-safe
//! (`Arc<dyn OutboxStore>`), and needs no boxed futures or `Send` bounds on
//! `async fn`s in traits. The delivery loop calls every method inside
//! [`tokio::task::spawn_blocking`], so an implementation may block freely and can never
//! stall a runtime worker thread (style guide pitfall 1).
//!
//! # A SQLite layout that satisfies the contract
//!
//! ```sql
//! CREATE TABLE webhook_outbox (
//!     event_id        TEXT    NOT NULL,
//!     target          TEXT    NOT NULL,
//!     model           TEXT    NOT NULL,
//!     rule            TEXT    NOT NULL,
//!     event_type      TEXT    NOT NULL,
//!     body            TEXT    NOT NULL,
//!     created_at_ms   INTEGER NOT NULL,
//!     attempts        INTEGER NOT NULL DEFAULT 0,
//!     next_attempt_ms INTEGER NOT NULL,
//!     last_error      TEXT,
//!     status          TEXT    NOT NULL DEFAULT 'pending', -- pending | delivered | dead
//!     finished_at_ms  INTEGER,
//!     PRIMARY KEY (event_id, target)
//! );
//! CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_ms);
//! ```
//!
//! `enqueue` is `INSERT OR IGNORE` (returning whether a row changed); `due` selects
//! `status = 'pending' AND next_attempt_ms <= ?` ordered by `next_attempt_ms,
//! created_at_ms`. Keep delivered rows for a while (a retention job can delete old
//! ones): while a row exists, re-enqueueing the same event for the same target is a
//! no-op, which is what keeps a replayed window from notifying a receiver twice.
//!
//! # Testing a store
//!
//! The contract above is also code: with this crate's `testing` feature (for
//! dev-dependencies), `outbox::contract::check_outbox_contract` asserts all of it against
//! any store. [`MemoryOutbox`] and the engine's SQLite store are both tested with it.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

#[cfg(any(test, feature = "testing"))]
pub mod contract;

/// Identifies an outbox message: one event for one target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutboxKey {
    /// The CloudEvent id, sent as `webhook-id`.
    pub event_id: String,
    /// The target URL exactly as configured.
    pub target: String,
}

/// A stored trigger for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The CloudEvent id, sent as `webhook-id` on every attempt.
    pub event_id: String,
    /// The target URL exactly as configured.
    pub target: String,
    /// Model name (for metrics and logs).
    pub model: String,
    /// Rule name (for metrics and logs).
    pub rule: String,
    /// CloudEvent `type`.
    pub event_type: String,
    /// The CloudEvent as compact JSON. Body templates are applied to it at send time.
    pub body: String,
    /// When the message was enqueued (wall clock); delivery latency is measured from here.
    pub created_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not to be sent before this time.
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt's failure, if any.
    pub last_error: Option<String>,
}

impl OutboxMessage {
    /// The message's key.
    pub fn key(&self) -> OutboxKey {
        OutboxKey { event_id: self.event_id.clone(), target: self.target.clone() }
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// A receiver accepted it.
    Delivered,
    /// Given up: a non-retryable response, or `max_attempts` reached.
    Dead,
}

/// Durable storage for outbox messages. See the [module docs](self) for why it is
/// synchronous and for a SQLite layout.
///
/// Implementations must make each method atomic. The delivery loop is the only caller
/// of the methods after `enqueue`, and it never works on the same message twice at once.
pub trait OutboxStore: Send + Sync + 'static {
    /// Stores `message` as pending. Returns `false`, changing nothing, if a message
    /// with the same [`OutboxKey`] exists in any status.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) if the store fails.
    fn enqueue(&self, message: &OutboxMessage) -> Result<bool>;

    /// Up to `limit` pending messages with `next_attempt_at <= now`, earliest first
    /// (ties by `created_at`).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) if the store fails.
    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxMessage>>;

    /// The earliest `next_attempt_at` of any pending message, so the loop can sleep
    /// until then.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) if the store fails.
    fn next_due_at(&self) -> Result<Option<DateTime<Utc>>>;

    /// Marks a message delivered after `attempts` attempts.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) if the store fails.
    fn mark_delivered(&self, key: &OutboxKey, attempts: u32, at: DateTime<Utc>) -> Result<()>;

    /// Records a failed attempt and schedules the next one.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) if the store fails.
    fn record_failure(
        &self,
        key: &OutboxKey,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> Result<()>;

    /// Gives up on a message (non-retryable response, or attempts exhausted).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) if the store fails.
    fn mark_dead(
        &self,
        key: &OutboxKey,
        attempts: u32,
        last_error: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Number of pending messages, for the pending gauge.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) if the store fails.
    fn pending_count(&self) -> Result<u64>;
}

/// A stored message and its status, as [`MemoryOutbox::snapshot`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message, with attempts, schedule and last error as last recorded.
    pub message: OutboxMessage,
    /// Its status.
    pub status: MessageStatus,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
}

/// An [`OutboxStore`] in memory. For tests and for embedding where losing pending
/// triggers on restart is acceptable; the engine uses its SQLite store.
///
/// Sharing one `MemoryOutbox` (behind an `Arc`) between two delivery loops, one after
/// the other, is how the tests model a restart.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    rows: Mutex<BTreeMap<OutboxKey, StoredMessage>>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> MutexGuard<'_, BTreeMap<OutboxKey, StoredMessage>> {
        // Every mutation below is a single assignment, so a panic elsewhere cannot leave
        // a row half-written: the data is still consistent after poisoning.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every message ever enqueued, in key order.
    pub fn snapshot(&self) -> Vec<StoredMessage> {
        self.rows().values().cloned().collect()
    }

    fn update(&self, key: &OutboxKey, f: impl FnOnce(&mut StoredMessage)) {
        if let Some(row) = self.rows().get_mut(key) {
            f(row);
        }
    }
}

impl OutboxStore for MemoryOutbox {
    fn enqueue(&self, message: &OutboxMessage) -> Result<bool> {
        let mut rows = self.rows();
        let key = message.key();
        if rows.contains_key(&key) {
            return Ok(false);
        }
        rows.insert(
            key,
            StoredMessage {
                message: message.clone(),
                status: MessageStatus::Pending,
                finished_at: None,
            },
        );
        Ok(true)
    }

    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxMessage>> {
        let mut due: Vec<OutboxMessage> = self
            .rows()
            .values()
            .filter(|r| r.status == MessageStatus::Pending && r.message.next_attempt_at <= now)
            .map(|r| r.message.clone())
            .collect();
        due.sort_by_key(|m| (m.next_attempt_at, m.created_at));
        due.truncate(limit);
        Ok(due)
    }

    fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .rows()
            .values()
            .filter(|r| r.status == MessageStatus::Pending)
            .map(|r| r.message.next_attempt_at)
            .min())
    }

    fn mark_delivered(&self, key: &OutboxKey, attempts: u32, at: DateTime<Utc>) -> Result<()> {
        self.update(key, |r| {
            r.status = MessageStatus::Delivered;
            r.message.attempts = attempts;
            r.finished_at = Some(at);
        });
        Ok(())
    }

    fn record_failure(
        &self,
        key: &OutboxKey,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> Result<()> {
        self.update(key, |r| {
            r.message.attempts = attempts;
            r.message.next_attempt_at = next_attempt_at;
            r.message.last_error = Some(last_error.to_owned());
        });
        Ok(())
    }

    fn mark_dead(
        &self,
        key: &OutboxKey,
        attempts: u32,
        last_error: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.update(key, |r| {
            r.status = MessageStatus::Dead;
            r.message.attempts = attempts;
            r.message.last_error = Some(last_error.to_owned());
            r.finished_at = Some(at);
        });
        Ok(())
    }

    fn pending_count(&self) -> Result<u64> {
        Ok(self.rows().values().filter(|r| r.status == MessageStatus::Pending).count() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_outbox_keeps_the_contract() {
        contract::check_outbox_contract(MemoryOutbox::new, MemoryOutbox::snapshot);
    }
}
