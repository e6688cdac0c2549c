//! The baseline registry: which baseline profile each model is judged against.
//!
//! A model's reference data is profiled once ([`Profile`], fitted by
//! [`crate::batch::check::fit_baseline`]) and stored here under a model name and a
//! version name. One version per model is *active*: that is the baseline the
//! streaming engine compares live windows with. Keeping every version, rather
//! than overwriting one file, makes a rollback one `activate` away and lets a
//! past alert be re-examined against the baseline it was raised on.
//!
//! # Rules
//!
//! * **Versions are immutable.** Storing `model/version` twice is refused;
//!   a new profile is a new version. Only `import --replace` overwrites one.
//! * **The active version is protected.** Deleting it is refused unless forced
//!   ([`Registry::delete`] with `force`), because the engine scoring that model
//!   would lose its baseline. A forced delete leaves the model with no active
//!   version. Deleting a model's last version removes the model.
//! * **Every change is audited**: one row per changed version in the `audit`
//!   table with the time, action, model, version, actor and JSON details. The
//!   actor is whoever the caller names; the CLI uses `--actor`, else the OS user
//!   ([`default_actor`]).
//! * **Export and import round-trip.** [`Registry::export`] writes every model,
//!   version, profile and active pointer as one deterministic JSON document
//!   ([`Export`]); importing it into an empty registry reproduces the same
//!   export. Importing is idempotent: versions already present with the same
//!   profile are left alone. A different profile or active version for an
//!   existing model is a conflict, and the whole import is refused (listing
//!   every conflict) unless `replace` is set.
//!
//! # Blocking
//!
//! rusqlite is a blocking API, and so is every method here. Async callers (the
//! streaming engine) must call them inside [`tokio::task::spawn_blocking`] (style
//! guide pitfall 1), for example to load the active baselines when the plan is
//! built. A [`Registry`] is `Send` but not `Sync`: move it into the blocking task,
//! or open one per task (opening is cheap once the schema is current).
//!
//! Storage lives in the engine's SQLite file; see [`db`] for the connection
//! settings (WAL, foreign keys, busy timeout) and the migrations, which every
//! store of the engine (checkpoints, the webhook outbox) opens through. A
//! single profile can also live in a JSON file ([`mod@file`]).
//!
//! # Boundaries
//!
//! May use: `detectors` (profiles) and [`crate::config`]. Must not use any
//! stage: fitting a profile from a file is the batch path's
//! ([`crate::batch::check::fit_baseline`]), and commands are the CLI's.
//!
//! [`tokio::task::spawn_blocking`]: https://docs.rs/tokio/latest/tokio/task/fn.spawn_blocking.html

pub mod db;
pub mod error;
pub mod file;

use std::path::{Path, PathBuf};

use driftgauge_detectors::baseline::{self, Profile};
use driftgauge_detectors::json::NonFinite;
use rusqlite::{Connection, OptionalExtension as _, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

pub use error::{Error, Result};

/// The export document format this build writes and reads.
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// Longest model or version name accepted.
const MAX_NAME_LEN: usize = 200;

/// A stored version, without its profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSummary {
    /// Model name.
    pub model: String,
    /// Version name.
    pub version: String,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: String,
    /// Who stored it.
    pub created_by: String,
    /// The profile's format version.
    pub format_version: u32,
    /// Rows in the reference data.
    pub rows: u64,
    /// Profiled columns.
    pub columns: u64,
    /// Whether it is the model's active version.
    pub active: bool,
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Sequence number, increasing.
    pub id: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// `store`, `activate`, `import` or `delete`.
    pub action: String,
    /// The model.
    pub model: String,
    /// The version, where the action concerns one.
    pub version: Option<String>,
    /// Who made the change.
    pub actor: String,
    /// Action-specific context.
    pub details: serde_json::Value,
}

/// The registry as a JSON document: what [`Registry::export`] writes and
/// [`Registry::import`] reads.
///
/// Deterministic (models by name, versions by creation time then name, no
/// export timestamp), so two exports of the same registry are byte-identical and
/// can be diffed or kept in version control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// Always [`EXPORT_FORMAT_VERSION`] for documents this build writes.
    pub format_version: u32,
    /// Every model.
    pub models: Vec<ExportedModel>,
}

/// A model in an [`Export`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedModel {
    /// Model name.
    pub name: String,
    /// When it was first stored (RFC 3339, UTC).
    pub created_at: String,
    /// The active version, if any.
    pub active_version: Option<String>,
    /// Its versions.
    pub versions: Vec<ExportedVersion>,
}

/// A version in an [`Export`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedVersion {
    /// Version name.
    pub version: String,
    /// When it was stored (RFC 3339, UTC); kept on import.
    pub created_at: String,
    /// Who stored it; kept on import.
    pub created_by: String,
    /// The [`Profile`] as JSON. Left untyped so that an import can check the
    /// profile's `format_version` first and name the version at fault.
    pub profile: serde_json::Value,
}

/// What [`Registry::import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Models that were new.
    pub models_added: usize,
    /// Versions that were new.
    pub versions_added: usize,
    /// Versions already present with the same profile.
    pub versions_unchanged: usize,
    /// Versions whose profile was overwritten (`replace`).
    pub versions_replaced: usize,
    /// Models whose active version was set or changed.
    pub activated: usize,
}

/// What [`Registry::delete`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteSummary {
    /// The model.
    pub model: String,
    /// Versions deleted.
    pub versions: Vec<String>,
    /// The active version, if it was among them (a forced delete).
    pub deactivated: Option<String>,
    /// Whether the model itself is gone (no versions were left).
    pub model_removed: bool,
}

/// The baseline registry on the engine's SQLite database. See the
/// [module docs](self).
#[derive(Debug)]
pub struct Registry {
    conn: Connection,
    path: PathBuf,
}

impl Registry {
    /// Opens the registry at `path`, creating the file and migrating its
    /// schema as needed.
    ///
    /// # Errors
    /// [`Error::Db`] naming the file: it cannot be opened, or was written by a
    /// newer driftgauge.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Ok(Self { conn: db::open(path)?, path: path.to_owned() })
    }

    /// Opens the existing registry at `path`, migrating its schema as needed;
    /// a missing file, or one that is not a driftgauge database, is an error
    /// rather than a new, empty registry at a mistyped path.
    ///
    /// # Errors
    /// [`Error::Db`] naming the file: missing, not a driftgauge database, or
    /// as for [`Registry::open`].
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Ok(Self { conn: db::open_existing(path)?, path: path.to_owned() })
    }

    /// Checks, without changing it, that `path` is an existing driftgauge
    /// database this build can open.
    ///
    /// # Errors
    /// [`Error::Db`] naming the file and what is wrong.
    pub fn check_existing(path: impl AsRef<Path>) -> Result<()> {
        Ok(db::check_existing(path.as_ref())?)
    }

    /// A registry in memory, gone when dropped: for demos and tests.
    ///
    /// # Errors
    /// [`Error::Db`] if SQLite cannot allocate it.
    pub fn open_in_memory() -> Result<Self> {
        Ok(Self { conn: db::open_in_memory()?, path: PathBuf::from(":memory:") })
    }

    /// The database file (`:memory:` for an in-memory registry).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `profile` as `model/version`, creating the model if it is new.
    /// The version is not activated.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::InvalidProfile`],
    /// [`Error::VersionExists`], or [`Error::Sqlite`].
    pub fn store_profile(
        &mut self,
        model: &str,
        version: &str,
        profile: &Profile,
        actor: &str,
    ) -> Result<VersionSummary> {
        check_name("model", model)?;
        check_name("version", version)?;
        profile.validate().map_err(|source| Error::InvalidProfile {
            model: model.to_owned(),
            version: version.to_owned(),
            source,
        })?;
        let json = profile_json(model, version, profile)?;
        let sql = sql_error(&self.path, "store profile");
        let tx = write(&mut self.conn, &self.path)?;
        if version_exists(&tx, model, version).map_err(&sql)? {
            return Err(Error::VersionExists {
                model: model.to_owned(),
                version: version.to_owned(),
            });
        }
        let now = db::now();
        tx.execute(
            "INSERT OR IGNORE INTO models (name, created_at) VALUES (?1, ?2)",
            (model, &now),
        )
        .map_err(&sql)?;
        insert_version(&tx, model, version, &now, actor, profile, &json).map_err(&sql)?;
        let details = serde_json::json!({
            "rows": profile.rows,
            "columns": profile.columns.len(),
            "format_version": profile.format_version,
        });
        audit(&tx, &now, "store", model, Some(version), actor, &details).map_err(&sql)?;
        let summary = summary(&tx, model, version).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(summary)
    }

    /// Whether `model/version` is stored.
    ///
    /// # Errors
    /// [`Error::Sqlite`].
    pub fn contains(&self, model: &str, version: &str) -> Result<bool> {
        version_exists(&self.conn, model, version).map_err(sql_error(&self.path, "read version"))
    }

    /// Every version of every model, by model name, then creation time.
    ///
    /// # Errors
    /// [`Error::Sqlite`].
    pub fn list(&self) -> Result<Vec<VersionSummary>> {
        let sql = sql_error(&self.path, "list versions");
        let mut statement = self
            .conn
            .prepare(&format!("{SUMMARY_SELECT} ORDER BY v.model, v.created_at, v.version"))
            .map_err(&sql)?;
        let rows = statement.query_map([], summary_from_row).map_err(&sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&sql)
    }

    /// `model/version`, or the model's active version when `version` is `None`:
    /// its summary and its profile.
    ///
    /// # Errors
    /// [`Error::ModelNotFound`], [`Error::VersionNotFound`],
    /// [`Error::NoActiveVersion`], [`Error::InvalidProfile`] (a format this build
    /// cannot read), or [`Error::Sqlite`].
    pub fn show(&self, model: &str, version: Option<&str>) -> Result<(VersionSummary, Profile)> {
        let sql = sql_error(&self.path, "show version");
        let version = match version {
            Some(version) => version.to_owned(),
            None => {
                self.require_model(model)?;
                active_version(&self.conn, model)
                    .map_err(&sql)?
                    .ok_or_else(|| Error::NoActiveVersion { model: model.to_owned() })?
            }
        };
        let Some(summary) = summary_opt(&self.conn, model, &version).map_err(&sql)? else {
            return Err(self.not_found(model, &version));
        };
        let profile = self.profile(model, &version)?;
        Ok((summary, profile))
    }

    /// The profile of `model/version`.
    ///
    /// # Errors
    /// As [`show`](Self::show).
    pub fn profile(&self, model: &str, version: &str) -> Result<Profile> {
        let sql = sql_error(&self.path, "read profile");
        let row: Option<(u32, String)> = self
            .conn
            .query_row(
                "SELECT format_version, profile FROM versions WHERE model = ?1 AND version = ?2",
                (model, version),
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(&sql)?;
        let Some((format_version, json)) = row else {
            return Err(self.not_found(model, version));
        };
        parse_profile(model, version, format_version, &json)
    }

    /// Makes `model/version` the model's active baseline. Returns the version
    /// it replaces, if any. Activating the version that is already active
    /// changes nothing and writes no audit row.
    ///
    /// # Errors
    /// [`Error::ModelNotFound`], [`Error::VersionNotFound`] or [`Error::Sqlite`].
    pub fn activate(&mut self, model: &str, version: &str, actor: &str) -> Result<Option<String>> {
        let sql = sql_error(&self.path, "activate version");
        let tx = write(&mut self.conn, &self.path)?;
        if !version_exists(&tx, model, version).map_err(&sql)? {
            let model_exists = model_exists(&tx, model).map_err(&sql)?;
            return Err(not_found(model, version, model_exists));
        }
        let previous = active_version(&tx, model).map_err(&sql)?;
        if previous.as_deref() == Some(version) {
            return Ok(previous);
        }
        let now = db::now();
        set_active(&tx, model, version, &now, actor).map_err(&sql)?;
        let details = serde_json::json!({ "previous": previous });
        audit(&tx, &now, "activate", model, Some(version), actor, &details).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(previous)
    }

    /// The active version of `model` and its profile; `None` when the model is
    /// unknown or has no active version. This is what the streaming engine
    /// scores a model's windows against.
    ///
    /// # Errors
    /// [`Error::InvalidProfile`] if the stored profile has a format this build
    /// cannot read, or [`Error::Sqlite`].
    pub fn active_profile(&self, model: &str) -> Result<Option<(String, Profile)>> {
        let sql = sql_error(&self.path, "read active profile");
        let Some(version) = active_version(&self.conn, model).map_err(&sql)? else {
            return Ok(None);
        };
        let profile = self.profile(model, &version)?;
        Ok(Some((version, profile)))
    }

    /// Every model's active version, by model name: what the streaming engine
    /// loads when it builds its plan.
    ///
    /// # Errors
    /// As [`active_profile`](Self::active_profile).
    pub fn active_profiles(&self) -> Result<Vec<(String, String, Profile)>> {
        let sql = sql_error(&self.path, "read active profiles");
        let mut statement = self
            .conn
            .prepare(
                "SELECT a.model, a.version, v.format_version, v.profile
                 FROM active_versions a
                 JOIN versions v ON v.model = a.model AND v.version = a.version
                 ORDER BY a.model",
            )
            .map_err(&sql)?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .map_err(&sql)?;
        let mut profiles = Vec::new();
        for row in rows {
            let (model, version, format_version, json): (String, String, u32, String) =
                row.map_err(&sql)?;
            let profile = parse_profile(&model, &version, format_version, &json)?;
            profiles.push((model, version, profile));
        }
        Ok(profiles)
    }

    /// The whole registry as a document. See [`Export`].
    ///
    /// # Errors
    /// [`Error::CorruptProfile`] if a stored profile is not JSON, or
    /// [`Error::Sqlite`].
    pub fn export(&self) -> Result<Export> {
        let sql = sql_error(&self.path, "export");
        let mut models_statement = self
            .conn
            .prepare(
                "SELECT m.name, m.created_at, a.version
                 FROM models m LEFT JOIN active_versions a ON a.model = m.name
                 ORDER BY m.name",
            )
            .map_err(&sql)?;
        let mut versions_statement = self
            .conn
            .prepare(
                "SELECT version, created_at, created_by, profile FROM versions
                 WHERE model = ?1 ORDER BY created_at, version",
            )
            .map_err(&sql)?;
        let models = models_statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(&sql)?
            .collect::<rusqlite::Result<Vec<(String, String, Option<String>)>>>()
            .map_err(&sql)?;
        let mut exported = Vec::with_capacity(models.len());
        for (name, created_at, active_version) in models {
            let rows = versions_statement
                .query_map([&name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
                .map_err(&sql)?
                .collect::<rusqlite::Result<Vec<(String, String, String, String)>>>()
                .map_err(&sql)?;
            let versions = rows
                .into_iter()
                .map(|(version, created_at, created_by, json)| {
                    let profile =
                        serde_json::from_str(&json).map_err(|source| Error::CorruptProfile {
                            model: name.clone(),
                            version: version.clone(),
                            source,
                        })?;
                    Ok(ExportedVersion { version, created_at, created_by, profile })
                })
                .collect::<Result<Vec<_>>>()?;
            exported.push(ExportedModel { name, created_at, active_version, versions });
        }
        Ok(Export { format_version: EXPORT_FORMAT_VERSION, models: exported })
    }

    /// Imports a document written by [`export`](Self::export), in one
    /// transaction: either all of it is applied or none.
    ///
    /// New models and versions are added with their original creation time and
    /// author; versions present with the same profile are left alone, so
    /// importing twice changes nothing. A version present with a different
    /// profile, or a model whose active version differs from the document's, is
    /// a conflict: without `replace` the import is refused listing them all;
    /// with it, the document wins. A model the document leaves without an
    /// active version keeps the one it has.
    ///
    /// # Errors
    /// [`Error::Document`], [`Error::InvalidName`], [`Error::InvalidProfile`],
    /// [`Error::CorruptProfile`], [`Error::ImportConflicts`] or [`Error::Sqlite`].
    pub fn import(
        &mut self,
        document: &Export,
        replace: bool,
        actor: &str,
    ) -> Result<ImportSummary> {
        if document.format_version != EXPORT_FORMAT_VERSION {
            return Err(Error::Document {
                reason: format!(
                    "format_version {} is not supported (this driftgauge reads {})",
                    document.format_version, EXPORT_FORMAT_VERSION
                ),
            });
        }
        let models = validate_document(document)?;
        let sql = sql_error(&self.path, "import");
        let tx = write(&mut self.conn, &self.path)?;
        let now = db::now();
        let mut summary = ImportSummary::default();
        let mut conflicts = Vec::new();
        for (model, versions) in document.models.iter().zip(&models) {
            let name = model.name.as_str();
            if !model_exists(&tx, name).map_err(&sql)? {
                tx.execute(
                    "INSERT INTO models (name, created_at) VALUES (?1, ?2)",
                    (name, &model.created_at),
                )
                .map_err(&sql)?;
                summary.models_added += 1;
            }
            for (exported, (profile, json)) in model.versions.iter().zip(versions) {
                let version = exported.version.as_str();
                let stored: Option<(u32, String)> = tx
                    .query_row(
                        "SELECT format_version, profile FROM versions
                         WHERE model = ?1 AND version = ?2",
                        (name, version),
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()
                    .map_err(&sql)?;
                let Some((format_version, stored_json)) = stored else {
                    insert_version(
                        &tx,
                        name,
                        version,
                        &exported.created_at,
                        &exported.created_by,
                        profile,
                        json,
                    )
                    .map_err(&sql)?;
                    let details = serde_json::json!({ "replaced": false });
                    audit(&tx, &now, "import", name, Some(version), actor, &details)
                        .map_err(&sql)?;
                    summary.versions_added += 1;
                    continue;
                };
                // Compare re-serialised profiles: the same profile gives the same
                // text whatever whitespace or key order the document used.
                let same = parse_profile(name, version, format_version, &stored_json)
                    .and_then(|stored| profile_json(name, version, &stored))
                    .is_ok_and(|stored| stored == *json);
                if same {
                    summary.versions_unchanged += 1;
                } else if replace {
                    tx.execute(
                        "UPDATE versions SET created_at = ?3, created_by = ?4,
                             format_version = ?5, row_count = ?6, column_count = ?7, profile = ?8
                         WHERE model = ?1 AND version = ?2",
                        (
                            name,
                            version,
                            &exported.created_at,
                            &exported.created_by,
                            profile.format_version,
                            profile.rows,
                            profile.columns.len() as u64,
                            json,
                        ),
                    )
                    .map_err(&sql)?;
                    let details = serde_json::json!({ "replaced": true });
                    audit(&tx, &now, "import", name, Some(version), actor, &details)
                        .map_err(&sql)?;
                    summary.versions_replaced += 1;
                } else {
                    conflicts.push(format!(
                        "{name}/{version}: the stored profile differs from the imported one"
                    ));
                }
            }
            let Some(wanted) = model.active_version.as_deref() else { continue };
            let current = active_version(&tx, name).map_err(&sql)?;
            match current.as_deref() {
                Some(current) if current == wanted => {}
                Some(current) if !replace => conflicts.push(format!(
                    "{name}: the active version is {current} here and {wanted} in the import"
                )),
                _ => {
                    if !version_exists(&tx, name, wanted).map_err(&sql)? {
                        return Err(Error::Document {
                            reason: format!(
                                "model `{name}`: active version `{wanted}` is neither in the \
                                 document nor in the registry"
                            ),
                        });
                    }
                    set_active(&tx, name, wanted, &now, actor).map_err(&sql)?;
                    let details = serde_json::json!({ "previous": current, "via": "import" });
                    audit(&tx, &now, "activate", name, Some(wanted), actor, &details)
                        .map_err(&sql)?;
                    summary.activated += 1;
                }
            }
        }
        if !conflicts.is_empty() {
            // Dropping the transaction rolls every change back.
            return Err(Error::ImportConflicts { conflicts });
        }
        tx.commit().map_err(&sql)?;
        Ok(summary)
    }

    /// Deletes `model/version`, or every version of `model` when `version` is
    /// `None`. The active version is deleted only with `force`, which leaves
    /// the model without an active version. A model left with no versions is
    /// removed. One audit row per deleted version.
    ///
    /// # Errors
    /// [`Error::ModelNotFound`], [`Error::VersionNotFound`],
    /// [`Error::DeleteActive`] or [`Error::Sqlite`].
    pub fn delete(
        &mut self,
        model: &str,
        version: Option<&str>,
        force: bool,
        actor: &str,
    ) -> Result<DeleteSummary> {
        let sql = sql_error(&self.path, "delete");
        let tx = write(&mut self.conn, &self.path)?;
        if !model_exists(&tx, model).map_err(&sql)? {
            return Err(Error::ModelNotFound { model: model.to_owned() });
        }
        let versions = match version {
            Some(version) => {
                if !version_exists(&tx, model, version).map_err(&sql)? {
                    return Err(not_found(model, version, true));
                }
                vec![version.to_owned()]
            }
            None => versions_of(&tx, model).map_err(&sql)?,
        };
        let active = active_version(&tx, model).map_err(&sql)?;
        let deactivated = active.filter(|active| versions.contains(active));
        if let Some(active) = &deactivated {
            if !force {
                return Err(Error::DeleteActive {
                    model: model.to_owned(),
                    version: active.clone(),
                });
            }
            tx.execute("DELETE FROM active_versions WHERE model = ?1", [model]).map_err(&sql)?;
        }
        let now = db::now();
        for version in &versions {
            tx.execute("DELETE FROM versions WHERE model = ?1 AND version = ?2", (model, version))
                .map_err(&sql)?;
            let was_active = deactivated.as_ref() == Some(version);
            let details = serde_json::json!({ "was_active": was_active });
            audit(&tx, &now, "delete", model, Some(version), actor, &details).map_err(&sql)?;
        }
        let left: u64 = tx
            .query_row("SELECT count(*) FROM versions WHERE model = ?1", [model], |row| row.get(0))
            .map_err(&sql)?;
        let model_removed = left == 0;
        if model_removed {
            tx.execute("DELETE FROM models WHERE name = ?1", [model]).map_err(&sql)?;
        }
        tx.commit().map_err(&sql)?;
        Ok(DeleteSummary { model: model.to_owned(), versions, deactivated, model_removed })
    }

    /// The audit trail, oldest first: all of it, or one model's.
    ///
    /// # Errors
    /// [`Error::Sqlite`].
    pub fn audit(&self, model: Option<&str>) -> Result<Vec<AuditEntry>> {
        let sql = sql_error(&self.path, "read audit trail");
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, at, action, model, version, actor, details FROM audit
                 WHERE ?1 IS NULL OR model = ?1 ORDER BY id",
            )
            .map_err(&sql)?;
        let rows = statement
            .query_map([model], |row| {
                let details: String = row.get(6)?;
                Ok(AuditEntry {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    action: row.get(2)?,
                    model: row.get(3)?,
                    version: row.get(4)?,
                    actor: row.get(5)?,
                    // Written by this module from `json!` values; never unreadable.
                    details: serde_json::from_str(&details)
                        .unwrap_or(serde_json::Value::String(details)),
                })
            })
            .map_err(&sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&sql)
    }

    fn require_model(&self, model: &str) -> Result<()> {
        let exists =
            model_exists(&self.conn, model).map_err(sql_error(&self.path, "read model"))?;
        if exists { Ok(()) } else { Err(Error::ModelNotFound { model: model.to_owned() }) }
    }

    fn not_found(&self, model: &str, version: &str) -> Error {
        // Only for the message: a failed lookup here still reports the version.
        let model_exists = model_exists(&self.conn, model).unwrap_or(true);
        not_found(model, version, model_exists)
    }
}

/// Who made a change when nobody said: the OS user (`USER`, else `USERNAME`),
/// else `unknown`.
pub fn default_actor() -> String {
    actor_from(|name| std::env::var(name).ok())
}

/// [`default_actor`] over any environment lookup, for tests.
pub fn actor_from(lookup: impl Fn(&str) -> Option<String>) -> String {
    ["USER", "USERNAME"]
        .into_iter()
        .filter_map(lookup)
        .find(|user| !user.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn check_name(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 200 bytes"
    } else if name.contains('/') {
        "`/` separates model and version in `MODEL/VERSION`"
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName { what, name: name.to_owned(), reason })
}

fn sql_error<'p>(
    path: &'p Path,
    operation: &'static str,
) -> impl Fn(rusqlite::Error) -> Error + 'p {
    move |source| Error::Sqlite { path: path.to_owned(), operation, source }
}

/// A write transaction. IMMEDIATE takes the write lock up front: a deferred
/// transaction that reads and then writes fails with `SQLITE_BUSY`, without
/// waiting, if another connection wrote in between.
fn write<'c>(conn: &'c mut Connection, path: &Path) -> Result<Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error(path, "begin transaction"))
}

fn not_found(model: &str, version: &str, model_exists: bool) -> Error {
    if model_exists {
        Error::VersionNotFound { model: model.to_owned(), version: version.to_owned() }
    } else {
        Error::ModelNotFound { model: model.to_owned() }
    }
}

fn profile_json(model: &str, version: &str, profile: &Profile) -> Result<String> {
    // A mean or std that overflowed is stored as "Infinity" and read back.
    serde_json::to_string(&NonFinite(profile)).map_err(|source| Error::CorruptProfile {
        model: model.to_owned(),
        version: version.to_owned(),
        source,
    })
}

fn parse_profile(model: &str, version: &str, format_version: u32, json: &str) -> Result<Profile> {
    let invalid = |source| Error::InvalidProfile {
        model: model.to_owned(),
        version: version.to_owned(),
        source,
    };
    // Checked before parsing, so a newer format gets a clear message.
    baseline::check_format_version(format_version).map_err(invalid)?;
    serde_json::from_str(json).map_err(|source| Error::CorruptProfile {
        model: model.to_owned(),
        version: version.to_owned(),
        source,
    })
}

/// Parses and validates every profile in `document` before anything is
/// written. Returns, per model and version, the profile and its stored JSON.
fn validate_document(document: &Export) -> Result<Vec<Vec<(Profile, String)>>> {
    let mut seen = std::collections::BTreeSet::new();
    document
        .models
        .iter()
        .map(|model| {
            check_name("model", &model.name)?;
            if !seen.insert(model.name.as_str()) {
                return Err(Error::Document {
                    reason: format!("model `{}` appears twice", model.name),
                });
            }
            let mut versions = std::collections::BTreeSet::new();
            model
                .versions
                .iter()
                .map(|exported| {
                    let (name, version) = (model.name.as_str(), exported.version.as_str());
                    check_name("version", version)?;
                    if !versions.insert(version) {
                        return Err(Error::Document {
                            reason: format!("`{name}/{version}` appears twice"),
                        });
                    }
                    let format_version = exported
                        .profile
                        .get("format_version")
                        .and_then(serde_json::Value::as_u64)
                        .ok_or_else(|| Error::Document {
                            reason: format!(
                                "`{name}/{version}`: the profile has no format_version"
                            ),
                        })?;
                    baseline::check_format_version(
                        u32::try_from(format_version).unwrap_or(u32::MAX),
                    )
                    .map_err(|source| Error::InvalidProfile {
                        model: name.to_owned(),
                        version: version.to_owned(),
                        source,
                    })?;
                    let profile: Profile = serde_json::from_value(exported.profile.clone())
                        .map_err(|source| Error::CorruptProfile {
                            model: name.to_owned(),
                            version: version.to_owned(),
                            source,
                        })?;
                    profile.validate().map_err(|source| Error::InvalidProfile {
                        model: name.to_owned(),
                        version: version.to_owned(),
                        source,
                    })?;
                    let json = profile_json(name, version, &profile)?;
                    Ok((profile, json))
                })
                .collect()
        })
        .collect()
}

fn model_exists(conn: &Connection, model: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM models WHERE name = ?1)", [model], |row| {
        row.get(0)
    })
}

fn version_exists(conn: &Connection, model: &str, version: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM versions WHERE model = ?1 AND version = ?2)",
        (model, version),
        |row| row.get(0),
    )
}

fn versions_of(conn: &Connection, model: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        conn.prepare("SELECT version FROM versions WHERE model = ?1 ORDER BY created_at, version")?;
    let versions = statement.query_map([model], |row| row.get(0))?;
    versions.collect()
}

fn active_version(conn: &Connection, model: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT version FROM active_versions WHERE model = ?1", [model], |row| {
        row.get(0)
    })
    .optional()
}

fn set_active(
    conn: &Connection,
    model: &str,
    version: &str,
    now: &str,
    actor: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO active_versions (model, version, activated_at, activated_by)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (model) DO UPDATE SET
             version = excluded.version,
             activated_at = excluded.activated_at,
             activated_by = excluded.activated_by",
        (model, version, now, actor),
    )
    .map(drop)
}

fn insert_version(
    conn: &Connection,
    model: &str,
    version: &str,
    created_at: &str,
    created_by: &str,
    profile: &Profile,
    json: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO versions
             (model, version, created_at, created_by,
              format_version, row_count, column_count, profile)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        (
            model,
            version,
            created_at,
            created_by,
            profile.format_version,
            profile.rows,
            profile.columns.len() as u64,
            json,
        ),
    )
    .map(drop)
}

fn audit(
    conn: &Connection,
    at: &str,
    action: &str,
    model: &str,
    version: Option<&str>,
    actor: &str,
    details: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit (at, action, model, version, actor, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        (at, action, model, version, actor, details.to_string()),
    )
    .map(drop)
}

const SUMMARY_SELECT: &str = "SELECT v.model, v.version, v.created_at, v.created_by,
        v.format_version, v.row_count, v.column_count, a.version IS NOT NULL
    FROM versions v
    LEFT JOIN active_versions a ON a.model = v.model AND a.version = v.version";

fn summary_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<VersionSummary> {
    Ok(VersionSummary {
        model: row.get(0)?,
        version: row.get(1)?,
        created_at: row.get(2)?,
        created_by: row.get(3)?,
        format_version: row.get(4)?,
        rows: row.get(5)?,
        columns: row.get(6)?,
        active: row.get(7)?,
    })
}

fn summary_opt(
    conn: &Connection,
    model: &str,
    version: &str,
) -> rusqlite::Result<Option<VersionSummary>> {
    conn.query_row(
        &format!("{SUMMARY_SELECT} WHERE v.model = ?1 AND v.version = ?2"),
        (model, version),
        summary_from_row,
    )
    .optional()
}

fn summary(conn: &Connection, model: &str, version: &str) -> rusqlite::Result<VersionSummary> {
    summary_opt(conn, model, version)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftgauge_detectors::baseline::ProfileOptions;

    fn profile(rows: u64) -> Profile {
        Profile {
            format_version: baseline::FORMAT_VERSION,
            roles: Default::default(),
            rows,
            options: ProfileOptions::default(),
            columns: Vec::new(),
        }
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", "a/b", "a b", "tab\t", &"x".repeat(201)] {
            assert!(matches!(check_name("model", bad), Err(Error::InvalidName { .. })), "{bad:?}");
        }
        for good in ["fraud", "fraud-v2.1", "2024-05-01T10:00", "émile@team"] {
            check_name("model", good).expect(good);
        }
    }

    #[test]
    fn actor_falls_back_from_user_to_username_to_unknown() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(actor_from(env(&[("USER", "ada"), ("USERNAME", "bob")])), "ada");
        assert_eq!(actor_from(env(&[("USER", " "), ("USERNAME", "bob")])), "bob");
        assert_eq!(actor_from(env(&[])), "unknown");
    }

    #[test]
    fn store_activate_delete_in_memory() {
        let mut registry = Registry::open_in_memory().expect("open");
        registry.store_profile("m", "v1", &profile(10), "ada").expect("store");
        registry.store_profile("m", "v2", &profile(20), "ada").expect("store");
        assert!(matches!(
            registry.store_profile("m", "v1", &profile(10), "ada"),
            Err(Error::VersionExists { .. })
        ));
        assert_eq!(registry.active_profile("m").expect("read"), None);
        assert_eq!(registry.activate("m", "v1", "ada").expect("activate"), None);
        assert_eq!(registry.activate("m", "v2", "ada").expect("activate"), Some("v1".into()));
        let (version, active) = registry.active_profile("m").expect("read").expect("active");
        assert_eq!((version.as_str(), active.rows), ("v2", 20));
        assert!(matches!(
            registry.delete("m", Some("v2"), false, "ada"),
            Err(Error::DeleteActive { .. })
        ));
        let deleted = registry.delete("m", None, true, "ada").expect("forced");
        assert_eq!(deleted.versions, ["v1", "v2"]);
        assert_eq!(deleted.deactivated.as_deref(), Some("v2"));
        assert!(deleted.model_removed);
        assert!(registry.list().expect("list").is_empty());
        let actions: Vec<String> =
            registry.audit(Some("m")).expect("audit").into_iter().map(|e| e.action).collect();
        assert_eq!(actions, ["store", "store", "activate", "activate", "delete", "delete"]);
    }
}
