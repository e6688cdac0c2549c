//! The `driftgauge` command line, as a library function so that tests run
//! it in-process with their own output streams.
//!
//! Owns argument parsing and each command's glue: reading flags, calling the
//! stage that does the work, writing its result and choosing the exit code.
//! It may use every other module of the crate; nothing may use it (the
//! binary's `main` aside). Work that a command starts belongs to its stage:
//! comparisons to [`crate::batch`], the engine to [`crate::stream`], storage
//! to [`crate::registry`].
//!
//! * [`check`]: `check` and `baseline fit`;
//! * [`registry`]: `registry fit|list|show|activate|export|import|delete|audit`;
//! * [`stream`]: `run` and `config check|defaults`, and the process's logging;
//! * [`outbox`]: `outbox list|retry`, the webhook triggers that are pending or given up;
//! * [`demo`]: `demo`, the engine on an in-process Kafka cluster with a drifting stream.

pub mod check;
pub mod demo;
pub mod exit;
pub mod outbox;
pub mod registry;
pub mod stream;
mod table;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

use check::{BaselineCommand, CheckArgs};
pub use exit::{EXIT_DRIFT, EXIT_ERROR, EXIT_OK};

/// Streaming drift and model-quality monitoring.
#[derive(Debug, Parser)]
#[command(name = "driftgauge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare a current file with a reference file or baseline.
    ///
    /// Exit code 0: no dataset drift; 1: dataset drift; 2: error.
    Check(CheckArgs),
    /// Baseline profiles.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// The baseline registry: fit, list, show, activate, export, import, delete.
    Registry(registry::RegistryArgs),
    /// Run the streaming engine: Kafka in, event-time windows, Prometheus out.
    Run(stream::RunArgs),
    /// A live demo on an in-process Kafka cluster, drifting after a while.
    Demo(stream::DemoArgs),
    /// Check a streaming configuration file, or print the defaults.
    #[command(subcommand)]
    Config(stream::ConfigCommand),
    /// The webhook outbox: list pending and given-up triggers, send given-up ones again.
    Outbox(outbox::OutboxArgs),
}

/// Runs the command line `args` (program name first), writing results to
/// `out` and messages to `err`, and returns the exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            // Help and version go to stdout, usage errors to stderr.
            let target: &mut dyn Write = if error.use_stderr() { err } else { out };
            // A failed write to a closed pipe leaves nothing better to do.
            target.write_all(error.render().ansi().to_string().as_bytes()).ok();
            return code;
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run_check(args, out),
        Command::Baseline(BaselineCommand::Fit(args)) => {
            check::run_fit(args, err).map(|()| EXIT_OK)
        }
        Command::Registry(args) => registry::run(args, out, err),
        Command::Run(args) => stream::run(args, err),
        Command::Demo(args) => stream::demo(args, out),
        Command::Config(command) => stream::config(command, out, err),
        Command::Outbox(args) => outbox::run(args, out, err),
    };
    result.unwrap_or_else(|error| {
        writeln!(err, "error: {error:#}").ok();
        EXIT_ERROR
    })
}
