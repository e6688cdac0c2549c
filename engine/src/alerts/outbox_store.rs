//! The webhook outbox on SQLite: [`SqliteOutbox`] implements
//! [`OutboxStore`] for the alerting crate's delivery loop.
//!
//! A retraining trigger is committed here before any request is made, so it
//! survives an engine restart or a receiver outage and is delivered at least
//! once, always with its original event id (see
//! [`driftgauge_alerting::outbox`] for the contract).
//!
//! # Where it lives
//!
//! In the engine's one database file, beside the baseline registry (table
//! `webhook_outbox`, migration `V2__outbox.sql`; see
//! [`crate::registry::db`]). One file is one thing to back up and one set of
//! connection settings, and it is what lets the streaming engine commit a
//! window's checkpoint and the triggers that window fired in one transaction
//! later. Nothing stops a deployment from giving the outbox a file of its own:
//! [`SqliteOutbox::open`] applies the same schema to any path.
//!
//! # Blocking and sharing
//!
//! Every method blocks on SQLite; the delivery loop already calls them inside
//! `spawn_blocking`. The connection sits behind a [`Mutex`] because the trait
//! is `Sync` and a rusqlite connection is not; the loop makes one call at a time
//! per message, so the lock is never contended for long. Separate connections
//! (this one and a [`Registry`](crate::registry::Registry)) share the file
//! through WAL and the busy timeout.
//!
//! Times are stored as Unix milliseconds; a stored time reads back truncated to
//! the millisecond, far below any backoff step.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use driftgauge_alerting::outbox::{
    MessageStatus, OutboxKey, OutboxMessage, OutboxStore, StoredMessage,
};
use driftgauge_alerting::{Error, Result};
use rusqlite::{Connection, OptionalExtension as _, Row};

use crate::registry::db::{self, DbError};

/// An [`OutboxStore`] in the engine's SQLite database. See the
/// [module docs](self).
#[derive(Debug)]
pub struct SqliteOutbox {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// A rusqlite error with the database named, as the alerting crate's
/// [`Error::Store`] source.
#[derive(Debug, thiserror::Error)]
#[error("{path}")]
pub struct StoreError {
    /// The database file.
    pub path: PathBuf,
    /// SQLite's error.
    #[source]
    pub source: rusqlite::Error,
}

const COLUMNS: &str = "event_id, target, model, rule, event_type, body, created_at_ms, attempts, \
                       next_attempt_ms, last_error, status, finished_at_ms";

impl SqliteOutbox {
    /// Opens the outbox in the database at `path`, creating the file and
    /// migrating its schema as needed.
    ///
    /// # Errors
    /// [`DbError`] naming the file: it cannot be opened, or was written by a
    /// newer driftgauge.
    pub fn open(path: impl AsRef<Path>) -> std::result::Result<Self, DbError> {
        let path = path.as_ref();
        Ok(Self { conn: Mutex::new(db::open(path)?), path: path.to_owned() })
    }

    /// An outbox in memory, lost when dropped: for demos and tests.
    ///
    /// # Errors
    /// [`DbError`] if SQLite cannot allocate it.
    pub fn open_in_memory() -> std::result::Result<Self, DbError> {
        Ok(Self { conn: Mutex::new(db::open_in_memory()?), path: PathBuf::from(":memory:") })
    }

    /// The database file (`:memory:` for an in-memory outbox).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stored message with its status, oldest first: for operators and
    /// tests.
    ///
    /// # Errors
    /// [`Error::Store`] if the database fails.
    pub fn messages(&self) -> Result<Vec<StoredMessage>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM webhook_outbox ORDER BY created_at_ms, event_id, target"
            ))
            .map_err(self.error("messages"))?;
        let rows = statement.query_map([], stored_from_row).map_err(self.error("messages"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(self.error("messages"))
    }

    /// Deletes delivered and dead messages that finished before `cutoff`, and
    /// returns how many. Run it now and then so the table does not grow without
    /// bound; keep at least as long as a window can be replayed, because a
    /// deleted message no longer stops a replay from enqueueing it again.
    ///
    /// # Errors
    /// [`Error::Store`] if the database fails.
    pub fn purge_finished_before(&self, cutoff: DateTime<Utc>) -> Result<usize> {
        self.conn()
            .execute(
                "DELETE FROM webhook_outbox WHERE status <> 'pending' AND finished_at_ms < ?1",
                [cutoff.timestamp_millis()],
            )
            .map_err(self.error("purge"))
    }

    /// Makes given-up messages pending again, due at `now`: the one event
    /// `event_id` (on every target that gave it up), or every given-up message
    /// when `event_id` is `None`. Returns how many. Each starts a fresh run of
    /// `max_attempts` with its original event id and body, so receivers that
    /// saw an earlier attempt still deduplicate it; its last error is kept
    /// until the next attempt replaces it. A running engine's delivery loop
    /// finds them at its next look at the outbox.
    ///
    /// # Errors
    /// [`Error::Store`] if the database fails.
    pub fn retry_dead(&self, event_id: Option<&str>, now: DateTime<Utc>) -> Result<usize> {
        self.conn()
            .execute(
                "UPDATE webhook_outbox
                 SET status = 'pending', attempts = 0, next_attempt_ms = ?1, finished_at_ms = NULL
                 WHERE status = 'dead' AND (?2 IS NULL OR event_id = ?2)",
                rusqlite::params![now.timestamp_millis(), event_id],
            )
            .map_err(self.error("retry_dead"))
    }

    /// Stores `messages` and runs `also` on the same connection in one
    /// transaction: all of it is committed, or none. Returns, per message,
    /// whether it was new (as [`OutboxStore::enqueue`]). The alert bridge
    /// commits a window's triggers together with the policy state that fired
    /// them, so a crash can neither lose a trigger whose cooldown was recorded
    /// nor record a fire whose trigger was not stored.
    ///
    /// # Errors
    /// [`Error::Store`] if the database fails; nothing is then stored.
    pub fn enqueue_with(
        &self,
        messages: &[OutboxMessage],
        also: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<Vec<bool>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(self.error("enqueue"))?;
        let mut inserted = Vec::with_capacity(messages.len());
        for message in messages {
            inserted.push(insert(&tx, message).map_err(self.error("enqueue"))?);
        }
        also(&tx).map_err(self.error("enqueue"))?;
        tx.commit().map_err(self.error("enqueue"))?;
        Ok(inserted)
    }

    /// Pending messages per `(model, rule)`, for the pending gauge at start-up.
    ///
    /// # Errors
    /// [`Error::Store`] if the database fails.
    pub fn pending_by_rule(&self) -> Result<Vec<(String, String, u64)>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT model, rule, count(*) FROM webhook_outbox WHERE status = 'pending'
                 GROUP BY model, rule ORDER BY model, rule",
            )
            .map_err(self.error("pending_by_rule"))?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(self.error("pending_by_rule"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(self.error("pending_by_rule"))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Each method is one statement, atomic in SQLite; a panic elsewhere
        // while the lock was held cannot have left a half-applied change.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Store {
            operation,
            source: Box::new(StoreError { path: self.path.clone(), source }),
        }
    }

    fn update(
        &self,
        operation: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<()> {
        self.conn().execute(sql, params).map(drop).map_err(self.error(operation))
    }
}

impl OutboxStore for SqliteOutbox {
    fn enqueue(&self, message: &OutboxMessage) -> Result<bool> {
        insert(&self.conn(), message).map_err(self.error("enqueue"))
    }

    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxMessage>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM webhook_outbox
                 WHERE status = 'pending' AND next_attempt_ms <= ?1
                 ORDER BY next_attempt_ms, created_at_ms
                 LIMIT ?2"
            ))
            .map_err(self.error("due"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map((now.timestamp_millis(), limit), |row| {
                stored_from_row(row).map(|stored| stored.message)
            })
            .map_err(self.error("due"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(self.error("due"))
    }

    fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let millis: Option<i64> = self
            .conn()
            .query_row(
                "SELECT min(next_attempt_ms) FROM webhook_outbox WHERE status = 'pending'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.error("next_due_at"))?
            .flatten();
        Ok(millis.map(from_millis))
    }

    fn mark_delivered(&self, key: &OutboxKey, attempts: u32, at: DateTime<Utc>) -> Result<()> {
        self.update(
            "mark_delivered",
            "UPDATE webhook_outbox SET status = 'delivered', attempts = ?3, finished_at_ms = ?4
             WHERE event_id = ?1 AND target = ?2",
            (&key.event_id, &key.target, attempts, at.timestamp_millis()),
        )
    }

    fn record_failure(
        &self,
        key: &OutboxKey,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> Result<()> {
        self.update(
            "record_failure",
            "UPDATE webhook_outbox SET attempts = ?3, next_attempt_ms = ?4, last_error = ?5
             WHERE event_id = ?1 AND target = ?2",
            (&key.event_id, &key.target, attempts, next_attempt_at.timestamp_millis(), last_error),
        )
    }

    fn mark_dead(
        &self,
        key: &OutboxKey,
        attempts: u32,
        last_error: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.update(
            "mark_dead",
            "UPDATE webhook_outbox
             SET status = 'dead', attempts = ?3, last_error = ?4, finished_at_ms = ?5
             WHERE event_id = ?1 AND target = ?2",
            (&key.event_id, &key.target, attempts, last_error, at.timestamp_millis()),
        )
    }

    fn pending_count(&self) -> Result<u64> {
        self.conn()
            .query_row("SELECT count(*) FROM webhook_outbox WHERE status = 'pending'", [], |row| {
                row.get(0)
            })
            .map_err(self.error("pending_count"))
    }
}

/// `INSERT OR IGNORE`s one message; `true` if it was new.
fn insert(conn: &Connection, message: &OutboxMessage) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        &format!(
            "INSERT OR IGNORE INTO webhook_outbox ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', NULL)"
        ),
        rusqlite::params![
            message.event_id,
            message.target,
            message.model,
            message.rule,
            message.event_type,
            message.body,
            message.created_at.timestamp_millis(),
            message.attempts,
            message.next_attempt_at.timestamp_millis(),
            message.last_error,
        ],
    )?;
    Ok(changed == 1)
}

fn from_millis(millis: i64) -> DateTime<Utc> {
    // Every stored time came from a `DateTime<Utc>`, so it is in range.
    DateTime::from_timestamp_millis(millis).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn stored_from_row(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let status: String = row.get(10)?;
    let status = match status.as_str() {
        "delivered" => MessageStatus::Delivered,
        "dead" => MessageStatus::Dead,
        // The table's CHECK constraint allows only these three.
        _ => MessageStatus::Pending,
    };
    Ok(StoredMessage {
        message: OutboxMessage {
            event_id: row.get(0)?,
            target: row.get(1)?,
            model: row.get(2)?,
            rule: row.get(3)?,
            event_type: row.get(4)?,
            body: row.get(5)?,
            created_at: from_millis(row.get(6)?),
            attempts: row.get(7)?,
            next_attempt_at: from_millis(row.get(8)?),
            last_error: row.get(9)?,
        },
        status,
        finished_at: row.get::<_, Option<i64>>(11)?.map(from_millis),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_makes_given_up_messages_pending_again_and_nothing_else() {
        let store = SqliteOutbox::open_in_memory().expect("open");
        let dead_a = message("a", "http://one", 1);
        let dead_a2 = message("a", "http://two", 1);
        let dead_b = message("b", "http://one", 2);
        let delivered = message("c", "http://one", 3);
        for m in [&dead_a, &dead_a2, &dead_b, &delivered] {
            store.enqueue(m).expect("enqueue");
        }
        for m in [&dead_a, &dead_a2, &dead_b] {
            store.mark_dead(&m.key(), 24, "503 Service Unavailable", at(10)).expect("dead");
        }
        store.mark_delivered(&delivered.key(), 1, at(10)).expect("delivered");

        assert_eq!(store.retry_dead(Some("a"), at(20)).expect("retry"), 2);
        assert_eq!(store.retry_dead(Some("nope"), at(20)).expect("retry"), 0);
        let due = store.due(at(20), 10).expect("due");
        assert_eq!(
            due.iter().map(|m| m.target.as_str()).collect::<Vec<_>>(),
            ["http://one", "http://two"]
        );
        assert!(
            due.iter().all(|m| m.event_id == "a" && m.attempts == 0 && m.next_attempt_at == at(20))
        );
        assert_eq!(due[0].last_error.as_deref(), Some("503 Service Unavailable"));

        assert_eq!(store.retry_dead(None, at(30)).expect("retry all"), 1);
        let statuses: Vec<_> = store
            .messages()
            .expect("messages")
            .into_iter()
            .map(|m| (m.message.event_id, m.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("a".to_owned(), MessageStatus::Pending),
                ("a".to_owned(), MessageStatus::Pending),
                ("b".to_owned(), MessageStatus::Pending),
                ("c".to_owned(), MessageStatus::Delivered),
            ]
        );
    }
    use driftgauge_alerting::outbox::contract::{self, at, message};

    #[test]
    fn keeps_the_outbox_contract() {
        contract::check_outbox_contract(
            || SqliteOutbox::open_in_memory().expect("open"),
            |o| o.messages().expect("read back"),
        );
    }

    #[test]
    fn messages_are_oldest_first_and_purge_deletes_only_what_finished_before_the_cutoff() {
        let o = SqliteOutbox::open_in_memory().expect("open");
        let [delivered, dead, waiting] = [("delivered", 20), ("dead", 10), ("waiting", 0)]
            .map(|(id, secs)| message(id, "http://a", secs));
        for m in [&delivered, &dead, &waiting] {
            o.enqueue(m).expect("enqueue");
        }
        o.mark_delivered(&delivered.key(), 1, at(61)).expect("mark_delivered");
        o.mark_dead(&dead.key(), 1, "HTTP 400", at(62)).expect("mark_dead");
        let ids = |o: &SqliteOutbox| {
            let stored = o.messages().expect("messages");
            stored.into_iter().map(|s| s.message.event_id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&o), ["waiting", "dead", "delivered"], "oldest first");
        assert_eq!(o.purge_finished_before(at(62)).expect("purge"), 1, "strictly before");
        assert_eq!(ids(&o), ["waiting", "dead"]);
        assert_eq!(o.purge_finished_before(at(1_000)).expect("purge"), 1, "never a pending one");
        assert_eq!(ids(&o), ["waiting"]);
    }
}
