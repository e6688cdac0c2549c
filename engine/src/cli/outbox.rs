//! `driftgauge outbox`: the webhook outbox from the command line. Webhooks
//! given up after `max_attempts` (or refused by their receiver) stay in the
//! outbox as `dead`; `list` shows them with the pending ones, and `retry`
//! sends them again, with the same CloudEvent id.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use driftgauge_alerting::outbox::MessageStatus;
use serde::Serialize;

use super::exit::EXIT_OK;
use crate::alerts::outbox_store::SqliteOutbox;

/// Arguments of `driftgauge outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// The database holding the outbox: `alerting.database_path`, else the registry.
    #[arg(long, global = true, env = "DRIFTGAUGE_REGISTRY", default_value = "driftgauge.db")]
    db: PathBuf,
    #[command(subcommand)]
    command: OutboxCommand,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List pending and given-up webhook messages (with --all, delivered ones too).
    List {
        /// Include delivered messages.
        #[arg(long)]
        all: bool,
        /// Output: a readable table or JSON.
        #[arg(long, value_enum, default_value_t = Output::Table)]
        format: Output,
    },
    /// Send given-up messages again, with the same CloudEvent id.
    Retry {
        /// The event to send again (to each of its targets).
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every given-up message.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

/// One message, as listed.
#[derive(Debug, Serialize)]
struct Listed {
    event_id: String,
    target: String,
    model: String,
    rule: String,
    status: &'static str,
    attempts: u32,
    created_at: String,
    last_error: Option<String>,
}

fn status_name(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "pending",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Dead => "given up",
    }
}

/// Runs `driftgauge outbox ...`; the caller maps an error to exit code 2.
///
/// # Errors
/// A missing or foreign database, or a database error.
pub fn run(args: OutboxArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    // Never create an empty database at a mistyped path.
    crate::registry::Registry::check_existing(&args.db)?;
    let outbox = SqliteOutbox::open(&args.db)?;
    match args.command {
        OutboxCommand::List { all, format } => {
            let listed: Vec<Listed> = outbox
                .messages()?
                .into_iter()
                .filter(|m| all || m.status != MessageStatus::Delivered)
                .map(|m| Listed {
                    event_id: m.message.event_id,
                    target: m.message.target,
                    model: m.message.model,
                    rule: m.message.rule,
                    status: status_name(m.status),
                    attempts: m.message.attempts,
                    created_at: m.message.created_at.to_rfc3339(),
                    last_error: m.message.last_error,
                })
                .collect();
            match format {
                Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&listed)?)?,
                Output::Table if listed.is_empty() => writeln!(err, "no messages")?,
                Output::Table => {
                    for m in &listed {
                        writeln!(
                            out,
                            "{}  {:<9} {} attempt(s)  {}/{}  {}  {}{}",
                            m.event_id,
                            m.status,
                            m.attempts,
                            m.model,
                            m.rule,
                            m.created_at,
                            m.target,
                            m.last_error.as_ref().map(|e| format!("  ({e})")).unwrap_or_default()
                        )?;
                    }
                }
            }
        }
        OutboxCommand::Retry { id, all: _ } => {
            let revived = outbox.retry_dead(id.as_deref(), chrono::Utc::now())?;
            if revived == 0 {
                anyhow::bail!(
                    "{}: no given-up message{} (`driftgauge outbox list` shows them)",
                    args.db.display(),
                    id.map(|id| format!(" with event id {id}")).unwrap_or_default()
                );
            }
            writeln!(
                err,
                "{revived} message(s) pending again; a running engine sends them within \
                 alerting.webhook.poll_interval_ms, a stopped one when it starts"
            )?;
        }
    }
    Ok(EXIT_OK)
}
