-- The streaming engine's checkpoint (engine/src/checkpoint.rs): the state of
-- every open window, the watermark and the next offset to read of every
-- partition, written together in one transaction so that a restart resumes
-- exactly where the checkpoint stopped. One checkpoint per consumer group
-- (offsets belong to a group); each write replaces the group's previous one.
--
-- Times are Unix milliseconds (UTC).

CREATE TABLE checkpoints (
    consumer_group   TEXT    NOT NULL PRIMARY KEY,
    -- The layout of `checkpoint_windows.state`; a reader refuses others.
    format_version   INTEGER NOT NULL,
    -- The window shape the state was built with; a different one cannot resume it.
    window_size_ms   INTEGER NOT NULL CHECK (window_size_ms > 0),
    window_slide_ms  INTEGER NOT NULL CHECK (window_slide_ms > 0),
    -- NULL until the first event.
    watermark_ms     INTEGER,
    max_event_ms     INTEGER,
    -- Counts up by one per checkpoint written.
    sequence         INTEGER NOT NULL CHECK (sequence > 0),
    written_at_ms    INTEGER NOT NULL
) STRICT;

-- Next offset to read per partition: every message below it is in the
-- checkpoint's windows (or was late, rejected or exported before it).
CREATE TABLE checkpoint_offsets (
    consumer_group  TEXT    NOT NULL REFERENCES checkpoints (consumer_group) ON DELETE CASCADE,
    topic           TEXT    NOT NULL,
    partition       INTEGER NOT NULL CHECK (partition >= 0),
    next_offset     INTEGER NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (consumer_group, topic, partition)
) STRICT;

-- One row per open window of a model (and the baseline version it is compared
-- with): the accumulators as JSON.
CREATE TABLE checkpoint_windows (
    consumer_group  TEXT    NOT NULL REFERENCES checkpoints (consumer_group) ON DELETE CASCADE,
    model           TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER NOT NULL,
    row_count       INTEGER NOT NULL CHECK (row_count >= 0),
    state           TEXT    NOT NULL,
    PRIMARY KEY (consumer_group, model, version, start_ms)
) STRICT;

-- Windows already exported whose events a restart could still replay (their
-- end is after the checkpoint's watermark). Written right after each export,
-- so a window exported after the last checkpoint is not exported a second time
-- when the replay closes it again; rows at or before the watermark are
-- deleted with each checkpoint.
CREATE TABLE checkpoint_exported (
    consumer_group  TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER NOT NULL,
    exported_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (consumer_group, model, version, start_ms)
) STRICT;
