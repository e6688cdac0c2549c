//! `driftgauge registry`: the registry from the command line.
//!
//! Results (tables, JSON) go to standard output; progress and confirmations
//! go to standard error, so `driftgauge registry export > file` stays clean.
//! Commands that only read (`list`, `show`, `export`, `audit`) and those that
//! change existing entries (`activate`, `delete`) refuse a database file that
//! does not exist or is not a driftgauge database, rather than creating an
//! empty one at a mistyped path; `init`, `fit` and `import` create it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use driftgauge_detectors::baseline::{ColumnStats, Profile, ProfileOptions, Range};
use driftgauge_detectors::json::NonFinite;
use serde::Serialize;

use super::check::ProfileArgs;
use super::exit::EXIT_OK;
use super::table::write_table;
use crate::batch::check::{self, CheckOptions};
use crate::batch::input::{Format, Table};
use crate::registry::{Export, Registry, VersionSummary};

/// Fits with per-chunk progress lines once the input has at least this many
/// cells (rows × columns); smaller fits finish before progress would help.
const PROGRESS_CELLS: usize = 10_000_000;

/// Arguments of `driftgauge registry`.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// The registry database (SQLite). Created by `init`, `fit` and `import` if missing.
    #[arg(long, global = true, env = "DRIFTGAUGE_REGISTRY", default_value = "driftgauge.db")]
    db: PathBuf,
    #[command(subcommand)]
    command: RegistryCommand,
}

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// Create an empty registry database (for `run`, which never creates one).
    Init,
    /// Fit a baseline profile of reference data and store it as MODEL/VERSION.
    Fit(Box<FitArgs>),
    /// List every stored version.
    List(ListArgs),
    /// Show MODEL/VERSION, or MODEL's active version, as JSON.
    Show(ShowArgs),
    /// Make VERSION the baseline MODEL is monitored against.
    Activate(ActivateArgs),
    /// Write every model, version, profile and active version as JSON.
    Export(ExportArgs),
    /// Read a document written by `export` (idempotent).
    Import(ImportArgs),
    /// Delete MODEL/VERSION, or every version of MODEL.
    Delete(DeleteArgs),
    /// Show the audit trail: who changed what, when.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
struct FitArgs {
    /// Model name.
    #[arg(long)]
    model: String,
    /// Version name for the new profile (versions are immutable).
    #[arg(long)]
    version: String,
    /// Reference data (Parquet, CSV, Arrow IPC file or stream).
    #[arg(long)]
    input: PathBuf,
    /// Format of --input when its extension does not tell.
    #[arg(long, value_enum)]
    input_format: Option<Format>,
    #[command(flatten)]
    profile: ProfileArgs,
    /// Also make the new version the model's active baseline.
    #[arg(long)]
    activate: bool,
    #[command(flatten)]
    actor: Actor,
}

/// `--actor`, on the commands that change the registry (and so write the
/// audit trail) only.
#[derive(Debug, Args)]
struct Actor {
    /// Who makes the change, for the audit trail (default: the OS user).
    #[arg(long)]
    actor: Option<String>,
}

impl Actor {
    fn name(&self) -> String {
        self.actor.clone().unwrap_or_else(crate::registry::default_actor)
    }
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this model's versions.
    #[arg(long)]
    model: Option<String>,
    /// Output: a readable table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    format: Output,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// MODEL/VERSION, or MODEL for its active version.
    target: String,
    /// Include the full profile (bin edges, counts, sample).
    #[arg(long)]
    full: bool,
}

#[derive(Debug, Args)]
struct ActivateArgs {
    /// Model name.
    model: String,
    /// Version to activate.
    version: String,
    #[command(flatten)]
    actor: Actor,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// A document written by `driftgauge registry export`.
    file: PathBuf,
    /// Overwrite versions whose profile differs, and active versions that differ.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    actor: Actor,
}

#[derive(Debug, Args)]
struct DeleteArgs {
    /// MODEL/VERSION, or MODEL for all its versions.
    target: String,
    /// Also delete the active version, leaving the model without a baseline.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    actor: Actor,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// Only this model's entries.
    model: Option<String>,
    /// Output: a readable table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    format: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

/// Runs `driftgauge registry ...`; the caller maps an error to exit code 2.
///
/// # Errors
/// Any registry, input or fitting error, with the database or file named.
pub fn run(args: RegistryArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let db = args.db.as_path();
    match args.command {
        RegistryCommand::Init => {
            if db.exists() {
                open_existing(db)?;
                writeln!(err, "{}: already a driftgauge registry; left as it is", db.display())?;
            } else {
                Registry::open(db)?;
                writeln!(err, "{}: created an empty registry", db.display())?;
            }
        }
        RegistryCommand::Fit(fit) => run_fit(*fit, db, err)?,
        RegistryCommand::List(list) => run_list(&list, &open_existing(db)?, out, err)?,
        RegistryCommand::Show(show) => {
            let registry = open_existing(db)?;
            let (model, version) = split_target(&show.target);
            let (summary, profile) = registry.show(model, version)?;
            let json =
                serde_json::to_string_pretty(&NonFinite(&shown(&summary, &profile, show.full)))?;
            writeln!(out, "{json}")?;
        }
        RegistryCommand::Activate(activate) => {
            let mut registry = open_existing(db)?;
            let previous =
                registry.activate(&activate.model, &activate.version, &activate.actor.name())?;
            let (model, version) = (&activate.model, &activate.version);
            match previous {
                Some(previous) if previous == *version => {
                    writeln!(err, "{model}/{version} is already active")?;
                }
                Some(previous) => writeln!(err, "activated {model}/{version} (was {previous})")?,
                None => writeln!(err, "activated {model}/{version}")?,
            }
        }
        RegistryCommand::Export(export) => {
            let document = open_existing(db)?.export()?;
            let json = serde_json::to_string_pretty(&NonFinite(&document))? + "\n";
            let versions: usize = document.models.iter().map(|m| m.versions.len()).sum();
            match &export.out {
                Some(path) => {
                    std::fs::write(path, json)
                        .with_context(|| format!("{}: cannot write", path.display()))?;
                    writeln!(
                        err,
                        "exported {} model(s), {versions} version(s) to {}",
                        document.models.len(),
                        path.display()
                    )?;
                }
                None => out.write_all(json.as_bytes())?,
            }
        }
        RegistryCommand::Import(import) => {
            let path = &import.file;
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read", path.display()))?;
            let document: Export = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a registry export document", path.display()))?;
            let summary = Registry::open(db)?
                .import(&document, import.replace, &import.actor.name())
                .with_context(|| format!("importing {}", path.display()))?;
            writeln!(
                err,
                "imported {}: {} model(s) and {} version(s) added, {} unchanged, {} replaced, \
                 {} activation(s)",
                path.display(),
                summary.models_added,
                summary.versions_added,
                summary.versions_unchanged,
                summary.versions_replaced,
                summary.activated
            )?;
        }
        RegistryCommand::Delete(delete) => {
            let (model, version) = split_target(&delete.target);
            let summary =
                open_existing(db)?.delete(model, version, delete.force, &delete.actor.name())?;
            let versions = summary.versions.join(", ");
            write!(err, "deleted {model}: {versions}")?;
            if let Some(active) = &summary.deactivated {
                write!(err, "; {model} has no active version now (was {active})")?;
            }
            if summary.model_removed {
                write!(err, "; no versions left, model removed")?;
            }
            writeln!(err)?;
        }
        RegistryCommand::Audit(audit) => {
            let entries = open_existing(db)?.audit(audit.model.as_deref())?;
            match audit.format {
                Output::Json => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&NonFinite(&entries))?)?;
                }
                Output::Table => {
                    let rows: Vec<[String; 5]> = entries
                        .iter()
                        .map(|e| {
                            let target = match &e.version {
                                Some(version) => format!("{}/{version}", e.model),
                                None => e.model.clone(),
                            };
                            [
                                e.at.clone(),
                                e.action.clone(),
                                target,
                                e.actor.clone(),
                                e.details.to_string(),
                            ]
                        })
                        .collect();
                    write_table(out, ["AT", "ACTION", "TARGET", "ACTOR", "DETAILS"], &rows)?;
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// `MODEL/VERSION` → (model, Some(version)); `MODEL` → (model, None).
fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('/') {
        Some((model, version)) => (model, Some(version)),
        None => (target, None),
    }
}

fn open_existing(db: &Path) -> anyhow::Result<Registry> {
    Ok(Registry::open_existing(db)?)
}

fn run_fit(args: FitArgs, db: &Path, err: &mut dyn Write) -> anyhow::Result<()> {
    let FitArgs { model, version, input, input_format, profile: profile_args, activate, actor } =
        args;
    let actor = &actor.name();
    let (model, version) = (model.as_str(), version.as_str());
    // Open and check first: a fit can take minutes, and should not end in
    // "already exists" or "database too new".
    let mut registry = Registry::open(db)?;
    if registry.contains(model, version)? {
        return Err(crate::registry::Error::VersionExists {
            model: model.to_owned(),
            version: version.to_owned(),
        }
        .into());
    }
    let csv = profile_args.csv.options();
    let roles = profile_args.roles();
    let options = profile_args.options();
    let started = Instant::now();
    writeln!(err, "reading {}", input.display())?;
    let table = Table::read_with(&input, input_format, &csv)?;
    writeln!(
        err,
        "read {} rows, {} columns in {:.1}s",
        table.rows(),
        table.schema.fields().len(),
        started.elapsed().as_secs_f64()
    )?;
    if options.columns.is_empty() {
        for s in table.skipped() {
            writeln!(err, "skipped `{}` ({}): {}", s.column, s.data_type, s.reason)?;
        }
    }
    let chunk = rayon::current_num_threads().max(1);
    let profile =
        Profile { roles, ..fit_with_progress(&table, &options, chunk, PROGRESS_CELLS, err)? };
    let summary = registry.store_profile(model, version, &profile, actor)?;
    writeln!(
        err,
        "stored {model}/{version} ({} columns over {} rows) in {} in {:.1}s",
        summary.columns,
        summary.rows,
        db.display(),
        started.elapsed().as_secs_f64()
    )?;
    if activate {
        match registry.activate(model, version, actor)? {
            Some(previous) => writeln!(err, "activated {model}/{version} (was {previous})")?,
            None => writeln!(err, "activated {model}/{version}")?,
        }
    }
    Ok(())
}

/// [`check::fit_baseline`], in chunks of `chunk` columns with a progress line
/// after each when the input has at least `progress_cells` cells. The caller
/// passes the rayon pool's thread count as `chunk`, so chunking costs no
/// parallelism while columns outnumber threads; columns are independent, so
/// the profile is the same either way.
fn fit_with_progress(
    table: &Table,
    options: &CheckOptions,
    chunk: usize,
    progress_cells: usize,
    err: &mut dyn Write,
) -> anyhow::Result<Profile> {
    // The same selection as `CheckOptions` makes: named columns, else all but
    // the label; never the excluded ones.
    let mut selected: Vec<String> = if options.columns.is_empty() {
        table.column_names().into_iter().filter(|c| Some(c) != options.label.as_ref()).collect()
    } else {
        options.columns.clone()
    };
    selected.retain(|c| !options.exclude.contains(c));
    let chunk = chunk.max(1);
    if selected.len() <= chunk || table.rows().saturating_mul(selected.len()) < progress_cells {
        return Ok(check::fit_baseline(table, options)?);
    }
    let mut profile: Option<Profile> = None;
    let mut done = 0;
    for columns in selected.chunks(chunk) {
        let part = check::fit_baseline(
            table,
            &CheckOptions {
                columns: columns.to_vec(),
                exclude: Vec::new(),
                label: None,
                ..options.clone()
            },
        )?;
        done += columns.len();
        writeln!(err, "fitted {done}/{} columns", selected.len())?;
        match &mut profile {
            Some(profile) => profile.columns.extend(part.columns),
            None => profile = Some(part),
        }
    }
    profile.ok_or_else(|| anyhow::anyhow!("no columns to profile"))
}

fn run_list(
    args: &ListArgs,
    registry: &Registry,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut versions = registry.list()?;
    if let Some(model) = &args.model {
        versions.retain(|v| v.model == *model);
    }
    if args.format == Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&NonFinite(&versions))?)?;
        return Ok(());
    }
    if versions.is_empty() {
        writeln!(err, "no baselines in {}", registry.path().display())?;
        return Ok(());
    }
    let rows: Vec<[String; 6]> = versions
        .iter()
        .map(|v| {
            [
                v.model.clone(),
                v.version.clone(),
                v.created_at.clone(),
                v.rows.to_string(),
                v.columns.to_string(),
                if v.active { "yes" } else { "" }.to_owned(),
            ]
        })
        .collect();
    write_table(out, ["MODEL", "VERSION", "CREATED", "ROWS", "COLUMNS", "ACTIVE"], &rows)?;
    Ok(())
}

/// What `show` prints: the version's summary, a line per column, and the full
/// profile when asked. A struct rather than `json!` so the keys keep this order.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    summary: &'a VersionSummary,
    options: ProfileOptions,
    column_summaries: Vec<ColumnSummary<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a Profile>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum ColumnSummary<'a> {
    Numeric { name: &'a str, bins: usize, missing: u64, integer: bool, range: Option<Range> },
    Categorical { name: &'a str, categories: usize, other: u64, null: u64 },
}

fn shown<'a>(summary: &'a VersionSummary, profile: &'a Profile, full: bool) -> Shown<'a> {
    let column_summaries = profile
        .columns
        .iter()
        .map(|column| match &column.stats {
            ColumnStats::Numeric(numeric) => ColumnSummary::Numeric {
                name: &column.name,
                bins: numeric.counts.len(),
                missing: numeric.missing.total(),
                integer: numeric.integer,
                range: numeric.range,
            },
            ColumnStats::Categorical(categorical) => ColumnSummary::Categorical {
                name: &column.name,
                categories: categorical.categories.len(),
                other: categorical.other,
                null: categorical.null,
            },
        })
        .collect();
    Shown { summary, options: profile.options, column_summaries, profile: full.then_some(profile) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_on_the_first_slash() {
        assert_eq!(split_target("fraud"), ("fraud", None));
        assert_eq!(split_target("fraud/v2"), ("fraud", Some("v2")));
    }

    #[test]
    fn chunked_fitting_reports_progress_and_gives_the_same_profile() {
        use std::sync::Arc;

        use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};

        let names: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
        let fields: Vec<Field> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let data_type = if i == 3 { DataType::Utf8 } else { DataType::Float64 };
                Field::new(name, data_type, true)
            })
            .collect();
        let columns: Vec<ArrayRef> = (0..7)
            .map(|i| -> ArrayRef {
                if i == 3 {
                    Arc::new(StringArray::from_iter_values((0..500).map(|r| ["a", "b"][r % 2])))
                } else {
                    Arc::new(Float64Array::from_iter_values(
                        (0..500).map(|r| ((r * (i + 3)) % 97) as f64),
                    ))
                }
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch");
        let table = Table::from_batches(PathBuf::from("ref.arrow"), batch.schema(), vec![batch]);
        let options = CheckOptions { exclude: vec!["c6".into()], ..CheckOptions::default() };
        let mut err = Vec::new();
        let chunked = fit_with_progress(&table, &options, 2, 0, &mut err).expect("fit");
        assert_eq!(
            String::from_utf8(err).expect("utf8"),
            "fitted 2/6 columns\nfitted 4/6 columns\nfitted 6/6 columns\n"
        );
        let mut quiet = Vec::new();
        let whole = fit_with_progress(&table, &options, 2, usize::MAX, &mut quiet).expect("fit");
        assert!(quiet.is_empty(), "small inputs fit in one go, silently");
        assert_eq!(chunked, check::fit_baseline(&table, &options).expect("fit"));
        assert_eq!(chunked, whole);
    }

    #[test]
    fn tables_pad_columns() {
        let mut out = Vec::new();
        let rows = [["fraud".to_owned(), "v10".to_owned()], ["x".to_owned(), "v2".to_owned()]];
        write_table(&mut out, ["MODEL", "VERSION"], &rows).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "MODEL  VERSION\nfraud  v10\nx      v2\n"
        );
    }
}
