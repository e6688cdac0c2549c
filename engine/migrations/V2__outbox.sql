-- The webhook outbox (driftgauge_alerting::outbox::OutboxStore): a retraining
-- trigger is stored here before it is sent, so it survives engine restarts and
-- receiver outages. One row per (event, target). Delivered and dead rows stay
-- until a retention job deletes them: while a row exists, enqueueing the same
-- event for the same target again is a no-op, which keeps a replayed window
-- from notifying a receiver twice.
--
-- Times are Unix milliseconds (UTC), compared in the `due` query.

CREATE TABLE webhook_outbox (
    event_id         TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    model            TEXT    NOT NULL,
    rule             TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_ms  INTEGER NOT NULL,
    last_error       TEXT,
    status           TEXT    NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'delivered', 'dead')),
    finished_at_ms   INTEGER,
    PRIMARY KEY (event_id, target)
) STRICT;

-- `due` and `next_due_at` read only pending rows, earliest first.
CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_ms, created_at_ms);
