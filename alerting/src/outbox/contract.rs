//! The [`OutboxStore`] contract as one check that any store's tests can run.
//!
//! Test-only: compiled for this crate's own tests, and for other crates' tests through
//! the `testing` feature, which only a dev-dependency should turn on. The engine runs
//! [`check_outbox_contract`] against its SQLite store and this crate against
//! [`MemoryOutbox`](super::MemoryOutbox), so the two cannot drift apart: the trait's
//! docs say what a store must do, and this module is where that is stated as code, once.

use chrono::{DateTime, TimeZone, Utc};

use super::{MessageStatus, OutboxMessage, OutboxStore, StoredMessage};

/// A fixed instant `secs` seconds after 2023-11-14T22:13:20Z, in whole seconds so that
/// a store keeping milliseconds reads it back unchanged.
///
/// # Panics
///
/// If `secs` takes the time out of chrono's range.
pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single().expect("a valid time")
}

/// A never-tried message for event `event_id` to `target`, created and due
/// [`at(secs)`](at).
pub fn message(event_id: &str, target: &str, secs: i64) -> OutboxMessage {
    OutboxMessage {
        event_id: event_id.into(),
        target: target.into(),
        model: "fraud".into(),
        rule: "dataset-drift".into(),
        event_type: "dev.driftgauge.retrain.requested".into(),
        body: format!(r#"{{"id":"{event_id}","data":{{"model":"fraud"}}}}"#),
        created_at: at(secs),
        attempts: 0,
        next_attempt_at: at(secs),
        last_error: None,
    }
}

/// Asserts that a store behaves as [`OutboxStore`] documents. `fresh` makes a new,
/// empty store (it is called once per part of the contract); `stored` reads back every
/// message the store holds with its status, in any order (the trait itself has no
/// method for that, and each store has its own: `MemoryOutbox::snapshot`, the engine's
/// `SqliteOutbox::messages`).
///
/// The contract, part by part:
///
/// * an empty store has nothing due, no next due time and no pending message;
/// * `enqueue` stores a message as pending and reads it back exactly as written; a
///   second message with the same event id *and* target is ignored (the first write
///   wins), while the same event for another target, or another event for the same
///   target, is a new message;
/// * `due` returns pending messages whose next attempt is at or before `now`, earliest
///   first with ties broken by creation time, at most `limit` of them, and claims
///   nothing (asking again returns the same); `next_due_at` is the earliest next attempt;
/// * `record_failure` changes only its own message (same event, other target
///   untouched): it stays pending, is not due before its new time, and then reads back
///   with the new attempt count and the last error;
/// * `mark_delivered` and `mark_dead` take a message out of the queue for good: not due,
///   not pending, not counted, and enqueueing it again is ignored; it reads back with
///   its status, attempts and finish time (and, when dead, its last error).
///
/// # Panics
///
/// On the first part of the contract the store breaks, or if a store method errs.
pub fn check_outbox_contract<S: OutboxStore>(
    mut fresh: impl FnMut() -> S,
    stored: impl Fn(&S) -> Vec<StoredMessage>,
) {
    let read_back = |store: &S| {
        let mut all = stored(store);
        all.sort_by_key(|s| s.message.key());
        all
    };
    an_empty_store_holds_nothing(&fresh(), &read_back);
    enqueue_is_idempotent_per_event_and_target(&fresh(), &read_back);
    due_is_earliest_first_and_limited(&fresh());
    a_failure_reschedules_only_its_own_message(&fresh());
    finished_messages_leave_the_queue_for_good(&fresh(), &read_back);
}

fn an_empty_store_holds_nothing<S: OutboxStore>(
    o: &S,
    read_back: &impl Fn(&S) -> Vec<StoredMessage>,
) {
    assert_eq!(o.next_due_at().expect("next_due_at"), None, "empty: no next due time");
    assert!(o.due(at(1_000), 10).expect("due").is_empty(), "empty: nothing due");
    assert_eq!(o.pending_count().expect("pending_count"), 0, "empty: nothing pending");
    assert!(read_back(o).is_empty(), "empty: nothing stored");
}

fn enqueue_is_idempotent_per_event_and_target<S: OutboxStore>(
    o: &S,
    read_back: &impl Fn(&S) -> Vec<StoredMessage>,
) {
    let first = message("e1", "http://a", 0);
    assert!(enqueue(o, &first), "a new message is stored");
    assert!(!enqueue(o, &message("e1", "http://a", 5)), "same event and target: ignored");
    assert!(enqueue(o, &message("e1", "http://b", 0)), "same event, other target: new");
    assert!(enqueue(o, &message("e2", "http://a", 0)), "other event, same target: new");
    assert_eq!(pending(o), 3);
    let pending = |m: OutboxMessage| StoredMessage {
        message: m,
        status: MessageStatus::Pending,
        finished_at: None,
    };
    assert_eq!(
        read_back(o),
        [
            pending(first),
            pending(message("e1", "http://b", 0)),
            pending(message("e2", "http://a", 0)),
        ],
        "every message reads back as first written, pending"
    );
}

fn due_is_earliest_first_and_limited<S: OutboxStore>(o: &S) {
    // Insertion order and key order both differ from the order `due` must return.
    let tie = OutboxMessage { created_at: at(5), ..message("tie", "http://a", 10) };
    let early = message("early", "http://a", 10);
    for m in [message("late", "http://a", 30), early, tie, message("mid", "http://a", 20)] {
        enqueue(o, &m);
    }
    let ids = |now, limit| event_ids(&o.due(at(now), limit).expect("due"));
    assert_eq!(ids(25, 10), ["tie", "early", "mid"], "earliest first, ties by created_at");
    assert_eq!(ids(25, 10), ["tie", "early", "mid"], "due claims nothing");
    assert_eq!(ids(25, 2), ["tie", "early"], "at most `limit`");
    assert_eq!(ids(10, 10), ["tie", "early"], "due at exactly next_attempt_at");
    assert!(ids(9, 10).is_empty(), "nothing before its time");
    assert_eq!(o.next_due_at().expect("next_due_at"), Some(at(10)), "the earliest");
    assert_eq!(pending(o), 4);
}

fn a_failure_reschedules_only_its_own_message<S: OutboxStore>(o: &S) {
    let failed = message("e1", "http://a", 0);
    let other = message("e1", "http://b", 0);
    enqueue(o, &failed);
    enqueue(o, &other);
    o.record_failure(&failed.key(), 1, at(60), "connection refused").expect("record_failure");
    let only_other = std::slice::from_ref(&other);
    assert_eq!(o.due(at(59), 10).expect("due"), only_other, "not before the next attempt");
    assert_eq!(o.next_due_at().expect("next_due_at"), Some(at(0)), "the other is still due");
    assert_eq!(pending(o), 2, "a failed message stays pending");
    let retried = OutboxMessage {
        attempts: 1,
        next_attempt_at: at(60),
        last_error: Some("connection refused".into()),
        ..failed.clone()
    };
    assert_eq!(o.due(at(60), 10).expect("due"), [other.clone(), retried], "rescheduled");

    o.record_failure(&failed.key(), 2, at(120), "HTTP 503").expect("record_failure");
    let again = OutboxMessage {
        attempts: 2,
        next_attempt_at: at(120),
        last_error: Some("HTTP 503".into()),
        ..failed
    };
    assert_eq!(o.due(at(120), 10).expect("due"), [other, again], "the last error replaces");
}

fn finished_messages_leave_the_queue_for_good<S: OutboxStore>(
    o: &S,
    read_back: &impl Fn(&S) -> Vec<StoredMessage>,
) {
    let delivered = message("e1", "http://a", 0);
    let dead = message("e2", "http://a", 0);
    let waiting = message("e3", "http://a", 0);
    for m in [&delivered, &dead, &waiting] {
        enqueue(o, m);
    }
    o.mark_delivered(&delivered.key(), 2, at(61)).expect("mark_delivered");
    o.mark_dead(&dead.key(), 1, "HTTP 400", at(62)).expect("mark_dead");
    assert_eq!(event_ids(&o.due(at(1_000), 10).expect("due")), ["e3"], "finished: not due");
    assert_eq!(o.next_due_at().expect("next_due_at"), Some(at(0)), "only the waiting one");
    assert_eq!(pending(o), 1, "finished: not pending");
    assert!(!enqueue(o, &delivered), "a delivered event is not enqueued again");
    assert!(!enqueue(o, &dead), "a dead event is not enqueued again");
    assert_eq!(pending(o), 1, "re-enqueueing changed nothing");

    let outcome = |s: &StoredMessage| {
        let error = s.message.last_error.clone();
        (s.message.event_id.clone(), s.status, s.message.attempts, s.finished_at, error)
    };
    assert_eq!(
        read_back(o).iter().map(outcome).collect::<Vec<_>>(),
        [
            ("e1".into(), MessageStatus::Delivered, 2, Some(at(61)), None),
            ("e2".into(), MessageStatus::Dead, 1, Some(at(62)), Some("HTTP 400".into())),
            ("e3".into(), MessageStatus::Pending, 0, None, None),
        ],
        "finished messages read back with status, attempts, finish time and last error"
    );

    o.mark_delivered(&waiting.key(), 1, at(63)).expect("mark_delivered");
    assert_eq!(o.next_due_at().expect("next_due_at"), None, "nothing left to send");
    assert!(o.due(at(1_000), 10).expect("due").is_empty(), "nothing left to send");
    assert_eq!(pending(o), 0, "nothing left to send");
}

fn enqueue<S: OutboxStore>(o: &S, m: &OutboxMessage) -> bool {
    o.enqueue(m).expect("enqueue")
}

fn pending<S: OutboxStore>(o: &S) -> u64 {
    o.pending_count().expect("pending_count")
}

fn event_ids(messages: &[OutboxMessage]) -> Vec<String> {
    messages.iter().map(|m| m.event_id.clone()).collect()
}
