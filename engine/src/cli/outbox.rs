//! `driftgauge outbox`: the webhook outbox from the command line.
//!
//! A trigger that no receiver accepted within `alerting.webhook.max_attempts`
//! is given up (`dead`) but kept, with its last error. `list` shows what is
//! pending and what was given up; `retry` makes given-up triggers pending
//! again, to be sent with their original CloudEvent id by the running engine
//! (at its next look at the outbox, within `alerting.webhook.poll_interval_ms`)
//! or by the next one to start. Results go to standard output, confirmations
//! to standard error.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{SecondsFormat, Utc};
use clap::{Args, Subcommand, ValueEnum};
use driftgauge_alerting::outbox::{MessageStatus, StoredMessage};
use serde::Serialize;

use super::exit::EXIT_OK;
use super::table::write_table;
use crate::alerts::outbox_store::SqliteOutbox;
use crate::config::Config;

/// Arguments of `driftgauge outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// The database holding the outbox (`alerting.database_path`, else the registry's file).
    #[arg(long, global = true, conflicts_with = "config")]
    db: Option<PathBuf>,
    /// Find the database in this engine configuration instead of --db.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: OutboxCommand,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List the webhook triggers that are pending or were given up.
    List(ListArgs),
    /// Send given-up triggers again, with their original event ids.
    Retry(RetryArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Which triggers: pending, dead (given up), delivered, or all.
    #[arg(long, value_enum, default_value_t = StatusArg::Undelivered)]
    status: StatusArg,
    /// Output: a readable table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    format: Output,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct RetryArgs {
    /// The event id (`webhook-id`, the CloudEvent `id`) to send again, to every
    /// target that gave it up.
    #[arg(long)]
    id: Option<String>,
    /// Send every given-up trigger again.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StatusArg {
    /// Pending and dead: what has not reached its receiver.
    Undelivered,
    Pending,
    Dead,
    Delivered,
    All,
}

impl StatusArg {
    fn matches(self, status: MessageStatus) -> bool {
        match self {
            Self::Undelivered => status != MessageStatus::Delivered,
            Self::Pending => status == MessageStatus::Pending,
            Self::Dead => status == MessageStatus::Dead,
            Self::Delivered => status == MessageStatus::Delivered,
            Self::All => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

/// One trigger as `outbox list --format json` writes it.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    id: &'a str,
    target: &'a str,
    model: &'a str,
    rule: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    status: &'static str,
    attempts: u32,
    created_at: String,
    next_attempt_at: Option<String>,
    finished_at: Option<String>,
    last_error: Option<&'a str>,
}

/// Runs `driftgauge outbox ...`; the caller maps an error to exit code 2.
///
/// # Errors
/// The database is missing or unreadable, or `retry --id` names no given-up trigger.
pub fn run(args: OutboxArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let path = database(args.db, args.config.as_deref())?;
    // Never create an empty database at a mistyped path.
    crate::registry::Registry::check_existing(&path)?;
    let store = SqliteOutbox::open(&path)?;
    match args.command {
        OutboxCommand::List(list) => {
            let messages: Vec<StoredMessage> =
                store.messages()?.into_iter().filter(|m| list.status.matches(m.status)).collect();
            write_list(&messages, list.format, out)?;
        }
        OutboxCommand::Retry(retry) => {
            let retried = store.retry_dead(retry.id.as_deref(), Utc::now())?;
            match (retry.id, retried) {
                (Some(id), 0) => bail!(
                    "{}: no given-up trigger has event id {id} (`driftgauge outbox list --status \
                     dead` lists them)",
                    path.display()
                ),
                _ => writeln!(
                    err,
                    "{retried} trigger(s) pending again in {}; the engine sends them at its next \
                     look at the outbox",
                    path.display()
                )?,
            }
        }
    }
    Ok(EXIT_OK)
}

/// `--db`, else the outbox database of the configuration `--config` names.
fn database(db: Option<PathBuf>, config: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(db) = db {
        return Ok(db);
    }
    let Some(config) = config else {
        bail!("name the database with --db, or the engine configuration with --config");
    };
    let config = Config::load(Some(config))
        .with_context(|| format!("{}: cannot use this configuration", config.display()))?;
    config.alerting_database_path().map(Path::to_owned).with_context(|| {
        "the configuration names no database (alerting.database_path or \
         baselines.registry_path): its outbox lives in memory"
    })
}

fn write_list(
    messages: &[StoredMessage],
    format: Output,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let listed: Vec<Listed<'_>> = messages
        .iter()
        .map(|stored| {
            let m = &stored.message;
            Listed {
                id: &m.event_id,
                target: &m.target,
                model: &m.model,
                rule: &m.rule,
                event_type: &m.event_type,
                status: match stored.status {
                    MessageStatus::Pending => "pending",
                    MessageStatus::Delivered => "delivered",
                    MessageStatus::Dead => "dead",
                },
                attempts: m.attempts,
                created_at: time(m.created_at),
                next_attempt_at: (stored.status == MessageStatus::Pending)
                    .then(|| time(m.next_attempt_at)),
                finished_at: stored.finished_at.map(time),
                last_error: m.last_error.as_deref(),
            }
        })
        .collect();
    match format {
        Output::Json => {
            out.write_all((serde_json::to_string_pretty(&listed)? + "\n").as_bytes())?;
        }
        Output::Table => {
            let rows: Vec<[String; 8]> = listed
                .iter()
                .map(|l| {
                    [
                        l.id.to_owned(),
                        l.status.to_owned(),
                        l.model.to_owned(),
                        l.rule.to_owned(),
                        l.target.to_owned(),
                        l.attempts.to_string(),
                        l.next_attempt_at
                            .clone()
                            .or_else(|| l.finished_at.clone())
                            .unwrap_or_default(),
                        l.last_error.unwrap_or_default().to_owned(),
                    ]
                })
                .collect();
            write_table(
                out,
                [
                    "ID",
                    "STATUS",
                    "MODEL",
                    "RULE",
                    "TARGET",
                    "ATTEMPTS",
                    "NEXT / FINISHED",
                    "LAST ERROR",
                ],
                &rows,
            )?;
        }
    }
    Ok(())
}
