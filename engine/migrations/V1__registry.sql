-- The baseline registry: models, their versioned baseline profiles, the active
-- version of each model, and an append-only audit trail.
--
-- Names are the keys: they are what users type and what the streaming engine's
-- events carry, and they never change once written (a version is immutable; a
-- different profile is a new version). Times are RFC 3339 UTC text with
-- milliseconds, which sort correctly as text and read well in the sqlite3 shell.

CREATE TABLE models (
    name        TEXT NOT NULL PRIMARY KEY,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE versions (
    model           TEXT    NOT NULL REFERENCES models (name),
    version         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    created_by      TEXT    NOT NULL,
    -- The profile's own format_version, kept outside the JSON so that a reader
    -- can refuse a profile it does not understand before parsing it.
    format_version  INTEGER NOT NULL,
    row_count       INTEGER NOT NULL CHECK (row_count >= 0),
    column_count    INTEGER NOT NULL CHECK (column_count >= 0),
    -- driftgauge_detectors::baseline::Profile as JSON.
    profile         TEXT    NOT NULL,
    PRIMARY KEY (model, version)
) STRICT;

-- At most one active version per model (the primary key), and it must exist:
-- the foreign key makes deleting an active version fail unless the pointer is
-- removed first, which the registry does only when told to (--force).
CREATE TABLE active_versions (
    model         TEXT NOT NULL PRIMARY KEY REFERENCES models (name),
    version       TEXT NOT NULL,
    activated_at  TEXT NOT NULL,
    activated_by  TEXT NOT NULL,
    FOREIGN KEY (model, version) REFERENCES versions (model, version)
) STRICT;

-- No foreign keys: the trail outlives the models and versions it mentions.
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    action   TEXT NOT NULL,
    model    TEXT NOT NULL,
    version  TEXT,
    actor    TEXT NOT NULL,
    -- A JSON object with action-specific context.
    details  TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX audit_by_model ON audit (model, id);
