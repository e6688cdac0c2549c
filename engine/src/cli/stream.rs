//! The streaming commands: `driftgauge run`, `driftgauge demo` and
//! `driftgauge config`. [`crate::cli`] parses the command line and dispatches
//! here; each command builds its own tokio runtime, because the CLI entry
//! point is synchronous.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tokio::sync::watch;

use super::demo::{self, DemoOptions};
use super::exit::{EXIT_ERROR, EXIT_OK};
use crate::alerts::Alerting;
use crate::config::{Config, LogConfig, LogFormat};
use crate::stream::catalog::{BaselineSource, Catalog, RegistryBaselines, StaticBaselines};
use crate::stream::checkpoint::CheckpointStore;
use crate::stream::pipeline::Engine;

/// `driftgauge run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (TOML); the embedded defaults fill what it leaves out.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// `driftgauge demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Bootstrap servers of a real Kafka cluster, instead of the in-process mock cluster.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration_secs: Option<u64>,
    /// Window length in seconds.
    #[arg(long, default_value_t = DemoOptions::default().window_secs)]
    pub window_secs: u64,
    /// Seconds after the start at which the stream begins to drift.
    #[arg(long, default_value_t = DemoOptions::default().drift_after_secs)]
    pub drift_after_secs: u64,
    /// Events per second per model.
    #[arg(long, default_value_t = DemoOptions::default().rate)]
    pub rate: u32,
    /// Where /metrics is served (port 0 picks a free one).
    #[arg(long, default_value_t = DemoOptions::default().metrics_address)]
    pub metrics_address: SocketAddr,
    /// Topic to produce to and consume from.
    #[arg(long, default_value_t = DemoOptions::default().topic)]
    pub topic: String,
    /// Log filter for the engine's own log lines (on stderr).
    #[arg(long, default_value = "warn")]
    pub log_level: String,
    /// POST a signed retraining CloudEvent to this URL when an alert rule fires
    /// (repeatable). The secret is DRIFTGAUGE_WEBHOOK_SECRET, else a random one.
    #[arg(long = "webhook", value_name = "URL")]
    pub webhooks: Vec<String>,
    /// Keep the webhook outbox and the alert state in this SQLite file (default: in memory).
    #[arg(long, value_name = "PATH")]
    pub alert_db: Option<PathBuf>,
}

/// `driftgauge config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file (with environment overrides) and what `run` would
    /// check at start: the registry or baseline files, a stored checkpoint, webhook
    /// targets and their secrets. Lists every error.
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Check the file and DRIFTGAUGE__ overrides only, not the files and secrets
        /// of the machine it will run on (for a repository's CI).
        #[arg(long)]
        file_only: bool,
    },
    /// Print the embedded defaults, every key documented.
    Defaults,
}

/// Runs `driftgauge run`.
///
/// # Errors
/// Configuration, baseline and startup errors, to print with `{:#}`.
pub fn run(args: RunArgs, err: &mut dyn Write) -> anyhow::Result<u8> {
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(errors) => {
            writeln!(err, "error: {errors}")?;
            return Ok(EXIT_ERROR);
        }
    };
    init_tracing(&config.log);
    let baselines: Arc<dyn BaselineSource> = match &config.baselines.registry_path {
        Some(path) => Arc::new(RegistryBaselines::open(path)?),
        None => Arc::new(StaticBaselines::from_files(&config.baselines.files)?),
    };
    let runtime = runtime()?;
    runtime.block_on(async move {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let engine = Engine::new(config.clone(), baselines);
        let (alerting, sink) =
            Alerting::start(&config, engine.metrics(), shutdown_rx.clone()).await?;
        let engine = engine.with_window_sink(sink);
        let running = engine.start(shutdown_rx).await?;
        wait_for_signal().await;
        tracing::info!("{}", shutdown_message(&config));
        shutdown_tx.send_replace(true);
        let summary = running.wait().await?;
        // The engine has dropped its sink: the evaluator ends; the delivery loops
        // finish their requests in flight and leave the rest in the outbox.
        alerting.wait().await;
        tracing::info!(windows = summary.windows, events = summary.events, "Stopped.");
        anyhow::Ok(())
    })?;
    Ok(EXIT_OK)
}

/// What shutting down does, which depends on checkpoints: with them, open
/// windows are checkpointed and resume after the restart; without, they are
/// exported as partial windows.
fn shutdown_message(config: &Config) -> &'static str {
    if config.checkpoint_path().is_some() {
        "Shutting down: checkpointing open windows (they resume on restart) and committing offsets."
    } else {
        "Shutting down: exporting open windows as partial (complete: false), no checkpoints, \
         and committing offsets."
    }
}

/// Runs `driftgauge demo`.
///
/// # Errors
/// Kafka and engine startup errors.
pub fn demo(args: DemoArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    init_tracing(&LogConfig { format: LogFormat::Text, level: args.log_level.clone() });
    let options = DemoOptions {
        brokers: args.brokers,
        duration: args.duration_secs.map(Duration::from_secs),
        window_secs: args.window_secs,
        drift_after_secs: args.drift_after_secs,
        rate: args.rate,
        metrics_address: args.metrics_address,
        topic: args.topic,
        webhooks: args.webhooks,
        webhook_secret: std::env::var("DRIFTGAUGE_WEBHOOK_SECRET").ok(),
        alert_database: args.alert_db,
    };
    let runtime = runtime()?;
    runtime.block_on(demo::run(options, out)).context("demo failed")?;
    Ok(EXIT_OK)
}

/// Runs `driftgauge config ...`.
///
/// # Errors
/// Output errors only; configuration errors are the command's result.
pub fn config(
    command: ConfigCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    match command {
        ConfigCommand::Defaults => {
            out.write_all(crate::config::DEFAULT_TOML.as_bytes())?;
            Ok(EXIT_OK)
        }
        ConfigCommand::Check { file, file_only } => match Config::load(Some(&file)) {
            Ok(config) => {
                let problems = if file_only { Vec::new() } else { startup_problems(&config) };
                if !problems.is_empty() {
                    let n = problems.len();
                    writeln!(
                        err,
                        "error: {n} problem{} `run` would refuse",
                        if n == 1 { "" } else { "s" }
                    )?;
                    for problem in problems {
                        writeln!(err, "  {problem}")?;
                    }
                    return Ok(EXIT_ERROR);
                }
                writeln!(out, "{}: ok", file.display())?;
                let window = &config.window;
                writeln!(
                    out,
                    "  windows: {} s every {} s, {} s allowed lateness",
                    window.size_ms / 1000,
                    window.slide_ms / 1000,
                    window.allowed_lateness_ms / 1000
                )?;
                for stream in &config.streams {
                    writeln!(
                        out,
                        "  stream {}: {:?} topics {}",
                        stream.name,
                        stream.format,
                        stream.topics.join(", ")
                    )?;
                }
                writeln!(out, "  metrics: http://{}/metrics", config.server_address)?;
                match config.checkpoint_path() {
                    Some(path) => writeln!(
                        out,
                        "  checkpoints: every {} ms into {}; exactly-once into windows",
                        config.checkpoint.interval_ms,
                        path.display()
                    )?,
                    None if config.checkpoint.enabled => writeln!(
                        out,
                        "  checkpoints: none, no database (set checkpoint.path or \
                         baselines.registry_path); at-least-once"
                    )?,
                    None => writeln!(out, "  checkpoints: off; at-least-once")?,
                }
                let alerting = &config.alerting;
                writeln!(
                    out,
                    "  alerting: {} default rule(s), {} model(s) with their own, {} webhook target(s), alertmanager {}; database {}",
                    alerting.policies.defaults.len(),
                    alerting.policies.models.len(),
                    alerting.webhook.targets.len(),
                    if alerting.alertmanager.is_some() { "on" } else { "off" },
                    config
                        .alerting_database_path()
                        .map_or_else(|| "none (in memory)".to_owned(), |p| p.display().to_string()),
                )?;
                for (key, value) in config.masked_kafka_properties() {
                    writeln!(out, "  kafka {key} = {value}")?;
                }
                Ok(EXIT_OK)
            }
            Err(errors) => {
                // Each error names its key, or the variable that set it: the
                // file is not always where the value came from.
                writeln!(err, "error: {errors}")?;
                Ok(EXIT_ERROR)
            }
        },
    }
}

/// What `run` would refuse at start beyond the file itself, from the
/// environment it would run in: the baselines (a missing or foreign registry,
/// unreadable profile files), a stored checkpoint the configuration cannot
/// resume, and webhook targets, secrets and Alertmanager settings. Each
/// independent check runs, so one problem does not hide another.
fn startup_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let baselines: Option<Arc<dyn BaselineSource>> = match &config.baselines.registry_path {
        Some(path) => match RegistryBaselines::open(path) {
            Ok(registry) => Some(Arc::new(registry)),
            Err(error) => {
                problems.push(format!("baselines.registry_path: {}", crate::error_chain(&error)));
                None
            }
        },
        None => match StaticBaselines::from_files(&config.baselines.files) {
            Ok(files) => Some(Arc::new(files)),
            Err(error) => {
                problems.push(format!("baselines.files: {}", crate::error_chain(&error)));
                None
            }
        },
    };
    let catalog = baselines.and_then(|b| match Catalog::load(b.as_ref(), config, None) {
        Ok(catalog) => Some(catalog),
        Err(error) => {
            problems.push(format!("baselines: {}", crate::error_chain(&error)));
            None
        }
    });
    // A checkpoint is only read where one exists: `run` creates the file.
    if let (Some(path), Some(catalog)) = (config.checkpoint_path(), &catalog) {
        if path.exists() {
            let resumed = CheckpointStore::open(path, &config.kafka.group_id)
                .and_then(|store| store.load(&config.window, catalog));
            if let Err(error) = resumed {
                problems.push(format!("checkpoint: {}", crate::error_chain(&error)));
            }
        }
    }
    for error in crate::alerts::check_delivery(config, |name| std::env::var(name).ok()) {
        problems.push(crate::error_chain(&error));
    }
    problems
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("driftgauge-io")
        .build()
        .context("cannot start the async runtime")
}

/// Installs the log subscriber once per process (later calls keep the first).
pub fn init_tracing(log: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(super::terminal::colors(&std::io::stderr()));
    // An already-installed subscriber (tests running commands in-process) wins.
    let _installed = match log.format {
        LogFormat::Text => builder.try_init().is_ok(),
        LogFormat::Json => builder.json().try_init().is_ok(),
    };
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                tokio::signal::ctrl_c().await.ok();
            }
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shutdown line says what happens to open windows, which differs
    /// with and without checkpoints.
    #[test]
    fn the_shutdown_line_says_what_happens_to_open_windows() {
        let without = Config::defaults();
        assert!(shutdown_message(&without).contains("exporting open windows as partial"));
        let with = Config::from_layers(
            Some(("t", "[baselines]\nregistry_path = \"r.db\"\n")),
            std::iter::empty(),
        )
        .unwrap();
        assert!(shutdown_message(&with).contains("checkpointing open windows"));
    }
}
