//! The engine's SQLite database: connection settings and schema migrations.
//!
//! One file holds everything the engine keeps: the baseline registry
//! ([`super::Registry`]), the webhook outbox
//! ([`SqliteOutbox`](crate::alerts::outbox_store::SqliteOutbox)) and the streaming
//! engine's checkpoints ([`crate::stream::checkpoint`]), each in its own tables
//! (any of them may be given a file of its own). Every opener applies the whole
//! schema, so any of them may be the first to touch a file.
//!
//! # Migrations
//!
//! Each schema change is a file `engine/migrations/V<n>__<name>.sql`, embedded
//! in the binary and listed in [`MIGRATIONS`]. Opening a database applies the
//! ones it lacks, in order, in one `IMMEDIATE` transaction (so two processes
//! opening the same new file do not both migrate it), and records the result in
//! `PRAGMA user_version` (the authority: it lives in the file header, so even a
//! file without tables answers) and in a `schema_migrations` history table. A
//! database whose version is newer than [`SCHEMA_VERSION`] was written by a newer
//! driftgauge and is refused rather than guessed at. Migrations are never edited
//! once released; a change is a new file.
//!
//! # Connection settings
//!
//! * `journal_mode = WAL`: readers (the CLI, a dashboard) never block the
//!   engine's writer, and a commit is one append to the log.
//! * `synchronous` stays at SQLite's default (`FULL`): a committed outbox row or
//!   checkpoint survives a power cut, not only a process crash. Commits are per
//!   window or per trigger, not per event, so the extra `fsync` is cheap.
//! * `foreign_keys = ON`: SQLite leaves them off by default; the registry relies
//!   on them to keep the active-version pointer valid.
//! * A busy timeout of [`BUSY_TIMEOUT`], so a writer waits for another process's
//!   transaction instead of failing at once with `SQLITE_BUSY`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rusqlite::{Connection, TransactionBehavior};

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The `n` of `V<n>__<name>.sql`; versions run 1, 2, 3, ... without gaps.
    pub version: u32,
    /// The `<name>` of the file.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// Every migration, in order. A new file in `engine/migrations/` must be added
/// here (a unit test checks that the two agree).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sql: include_str!("../../migrations/V1__registry.sql"),
    },
    Migration { version: 2, name: "outbox", sql: include_str!("../../migrations/V2__outbox.sql") },
    Migration {
        version: 3,
        name: "checkpoint",
        sql: include_str!("../../migrations/V3__checkpoint.sql"),
    },
    Migration {
        version: 4,
        name: "alert_state",
        sql: include_str!("../../migrations/V4__alert_state.sql"),
    },
];

/// The schema version this build writes: the last migration's.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// What an in-memory database is called in messages.
const IN_MEMORY: &str = ":memory:";

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite could not open the file or apply the connection settings.
    #[error("{path}: cannot open the database")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer driftgauge.
    #[error(
        "{path}: the database has schema version {found}, but this driftgauge supports \
         versions up to {supported}; it was written by a newer driftgauge, so upgrade \
         this one (the file is left untouched)"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: u32,
        /// [`SCHEMA_VERSION`].
        supported: u32,
    },
    /// The file does not exist, and the caller must not create it.
    #[error(
        "{path}: no such database (`driftgauge registry init --db {path}` creates an empty \
         registry; `registry fit` or `import` creates one with baselines)"
    )]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// The file exists but is not a driftgauge database.
    #[error("{path}: not a driftgauge database ({reason})")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A migration failed; the transaction was rolled back, the file is unchanged.
    #[error("{path}: schema migration V{version}__{name} failed (the file is unchanged)")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The migration's version.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Opens (creating if needed) the database at `path` and brings its schema up
/// to [`SCHEMA_VERSION`].
///
/// # Errors
/// [`DbError`] naming the file.
pub(crate) fn open(path: &Path) -> Result<Connection, DbError> {
    create_private(path);
    let conn =
        Connection::open(path).map_err(|source| DbError::Open { path: path.to_owned(), source })?;
    prepare(conn, path)
}

/// Opens the existing driftgauge database at `path` and brings its schema up
/// to [`SCHEMA_VERSION`]; never creates a file, nor adds driftgauge's tables to
/// another application's database.
///
/// # Errors
/// [`DbError::Missing`], [`DbError::Foreign`] (not SQLite, or SQLite without
/// driftgauge's schema), or an error of [`open`].
pub(crate) fn open_existing(path: &Path) -> Result<Connection, DbError> {
    check_existing(path)?;
    open(path)
}

/// Whether `path` is a driftgauge database, without changing it: for
/// `config check` and [`open_existing`].
///
/// # Errors
/// [`DbError::Missing`], [`DbError::Foreign`] or [`DbError::TooNew`].
pub(crate) fn check_existing(path: &Path) -> Result<(), DbError> {
    use rusqlite::OpenFlags;
    if !path.exists() {
        return Err(DbError::Missing { path: path.to_owned() });
    }
    let foreign = |reason: String| DbError::Foreign { path: path.to_owned(), reason };
    if path.is_dir() {
        return Err(foreign("it is a directory".to_owned()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| foreign(e.to_string()))?;
    // "file is not a database" shows only on the first read.
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| foreign(e.to_string()))?;
    if version == 0 {
        return Err(foreign("SQLite, but without driftgauge's schema".to_owned()));
    }
    if version > SCHEMA_VERSION {
        return Err(DbError::TooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Creates `path` empty, readable and writable by its owner only (0600), if it
/// does not exist. The file holds webhook payloads and baselines; SQLite gives
/// the `-wal` and `-shm` files it creates beside it the database file's mode,
/// so they are private too. An existing file keeps the mode its owner chose.
fn create_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A failure (no such directory, no permission) is left for SQLite to
        // report, in its words, when it opens the same path.
        let _created =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).is_ok();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// An in-memory database with the current schema, for demos and tests.
///
/// # Errors
/// [`DbError`] if SQLite cannot allocate it.
pub(crate) fn open_in_memory() -> Result<Connection, DbError> {
    let path = Path::new(IN_MEMORY);
    let conn = Connection::open_in_memory()
        .map_err(|source| DbError::Open { path: path.to_owned(), source })?;
    prepare(conn, path)
}

fn prepare(mut conn: Connection, path: &Path) -> Result<Connection, DbError> {
    let open_error = |source| DbError::Open { path: path.to_owned(), source };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(open_error)?;
    // Returns the resulting mode: `wal` for files, `memory` for in-memory
    // databases, where WAL does not apply and is not needed.
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(open_error)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Applies the migrations `conn` lacks. Returns the versions applied.
fn migrate(conn: &mut Connection, path: &Path) -> Result<Vec<u32>, DbError> {
    let open_error = |source| DbError::Open { path: path.to_owned(), source };
    // IMMEDIATE takes the write lock before reading the version, so a second
    // process opening a new file waits and then finds nothing left to do.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(open_error)?;
    let found: u32 =
        tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(open_error)?;
    if found > SCHEMA_VERSION {
        return Err(DbError::TooNew { path: path.to_owned(), found, supported: SCHEMA_VERSION });
    }
    let pending: Vec<&Migration> = MIGRATIONS.iter().filter(|m| m.version > found).collect();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let now = now();
    for migration in &pending {
        let failed = |source| DbError::Migrate {
            path: path.to_owned(),
            version: migration.version,
            name: migration.name,
            source,
        };
        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version     INTEGER NOT NULL PRIMARY KEY,
                 name        TEXT    NOT NULL,
                 applied_at  TEXT    NOT NULL
             ) STRICT",
        )
        .map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            (migration.version, migration.name, &now),
        )
        .map_err(failed)?;
        // `user_version` is part of the transaction: a rollback restores it.
        tx.pragma_update(None, "user_version", migration.version).map_err(failed)?;
    }
    tx.commit().map_err(open_error)?;
    Ok(pending.iter().map(|m| m.version).collect())
}

/// Now, as stored: RFC 3339 UTC with milliseconds, which sorts as text.
pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_without_gaps_and_match_the_files() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{} is out of order", m.name);
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort_by_key(|name| {
            name.trim_start_matches('V').split("__").next().and_then(|n| n.parse::<u32>().ok())
        });
        let listed: Vec<String> =
            MIGRATIONS.iter().map(|m| format!("V{}__{}.sql", m.version, m.name)).collect();
        assert_eq!(files, listed, "every file in migrations/ is listed in MIGRATIONS");
    }

    #[test]
    fn a_fresh_database_gets_every_migration_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut conn = open(&path).expect("open");
        let version: u32 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        let fk: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).expect("fk");
        assert!(fk);
        assert!(migrate(&mut conn, &path).expect("again").is_empty(), "nothing left to apply");
        drop(conn);
        let conn = open(&path).expect("reopen");
        let history: u32 =
            conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).expect("n");
        assert_eq!(history, SCHEMA_VERSION);
    }

    #[test]
    fn opening_an_existing_database_refuses_missing_and_foreign_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("typo.db");
        assert!(matches!(open_existing(&missing), Err(DbError::Missing { .. })));
        assert!(!missing.exists(), "nothing is created");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database, but long enough to have a header").expect("w");
        let error = open_existing(&text).expect_err("text");
        assert!(matches!(error, DbError::Foreign { .. }), "{error}");
        let other = dir.path().join("other.sqlite");
        Connection::open(&other).expect("o").execute_batch("CREATE TABLE t (x)").expect("t");
        let error = open_existing(&other).expect_err("another application's");
        assert!(error.to_string().contains("without driftgauge's schema"), "{error}");
        let ours = dir.path().join("ours.db");
        drop(open(&ours).expect("create"));
        open_existing(&ours).expect("a driftgauge database opens");
    }

    #[cfg(unix)]
    #[test]
    fn created_files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let conn = open(&path).expect("open");
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);").expect("write");
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.path().join(format!("db.sqlite{suffix}"));
            let mode = std::fs::metadata(&file).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
        }
    }

    #[test]
    fn a_failed_migration_leaves_the_file_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let conn = Connection::open(&path).expect("open");
        // A table a migration wants to create already exists: V1 fails.
        conn.execute_batch("CREATE TABLE models (x INTEGER)").expect("clash");
        drop(conn);
        let error = open(&path).expect_err("V1 clashes");
        assert!(matches!(error, DbError::Migrate { version: 1, .. }), "{error:?}");
        let conn = Connection::open(&path).expect("open");
        let version: u32 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
        assert_eq!(version, 0);
    }
}
