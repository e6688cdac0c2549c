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
//! * [`registry`]: `registry init|fit|list|show|activate|export|import|delete|audit`;
//! * [`stream`]: `run` and `config check|defaults`, and the process's logging;
//! * [`outbox`]: `outbox list|retry`, the webhook triggers that are pending or given up;
//! * [`demo`]: `demo`, the engine on an in-process Kafka cluster with a drifting stream;
//! * [`terminal`]: whether output is coloured.

pub mod check;
pub mod demo;
pub mod exit;
pub mod outbox;
pub mod registry;
pub mod stream;
mod table;
pub mod terminal;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

use check::{BaselineCommand, CheckArgs};
pub use exit::{EXIT_DRIFT, EXIT_ERROR, EXIT_OK};
use terminal::colors;

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
    /// The baseline registry: init, fit, list, show, activate, export, import, delete, audit.
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
            let (target, color): (&mut dyn Write, bool) = if error.use_stderr() {
                (err, colors(&std::io::stderr()))
            } else {
                (out, colors(&std::io::stdout()))
            };
            let text =
                if color { error.render().ansi().to_string() } else { error.render().to_string() };
            // A failed write to a closed pipe leaves nothing better to do.
            target.write_all(text.as_bytes()).ok();
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
        // `driftgauge ... | head`: the reader has what it wanted.
        if closed_pipe(&error) {
            return EXIT_OK;
        }
        writeln!(err, "error: {error:#}").ok();
        EXIT_ERROR
    })
}

/// Whether `error` is a write to a pipe whose reader has gone.
fn closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that has gone, as `head` does after its lines.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The summary names every registry command, and `--actor` is offered
    /// only by the commands that change something.
    #[test]
    fn registry_help_is_current() {
        let help = |args: &[&str]| {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            run(["driftgauge"].iter().chain(args), &mut out, &mut err);
            String::from_utf8(out).unwrap()
        };
        let summary = help(&["--help"]);
        for command in
            ["init", "fit", "list", "show", "activate", "export", "import", "delete", "audit"]
        {
            assert!(summary.contains(&format!(" {command}")), "{command}: {summary}");
        }
        for (command, changes) in [
            ("fit", true),
            ("activate", true),
            ("import", true),
            ("delete", true),
            ("init", false),
            ("list", false),
            ("show", false),
            ("export", false),
            ("audit", false),
        ] {
            let text = help(&["registry", command, "--help"]);
            assert_eq!(text.contains("--actor"), changes, "registry {command}: {text}");
        }
    }

    /// One spelling on the command line and in the configuration
    /// (`jensen_shannon`), the other accepted as an alias in both.
    #[test]
    fn statistic_names_are_spelt_as_in_the_configuration() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        run(["driftgauge", "check", "--help"], &mut out, &mut err);
        let help = String::from_utf8(out).unwrap();
        assert!(help.contains("jensen_shannon") && help.contains("chi_square"), "{help}");
        for spelling in ["jensen_shannon", "jensen-shannon", "chi_square", "chi-square"] {
            let parsed = Cli::try_parse_from([
                "driftgauge",
                "check",
                "--reference",
                "r.csv",
                "--current",
                "c.csv",
                "--numeric-test",
                spelling,
            ]);
            assert!(parsed.is_ok(), "{spelling}: {:?}", parsed.err());
            let config = crate::config::Config::from_layers(
                Some(("t", &format!("[drift]\nnumeric_test = \"{spelling}\"\n"))),
                std::iter::empty(),
            );
            assert!(config.is_ok(), "{spelling}: {:?}", config.err());
        }
    }

    #[test]
    fn a_closed_pipe_ends_quietly() {
        let mut err = Vec::new();
        let code = run(["driftgauge", "config", "defaults"], &mut ClosedPipe, &mut err);
        assert_eq!(code, EXIT_OK);
        assert_eq!(String::from_utf8(err).unwrap(), "");
    }

    #[test]
    fn help_has_no_colours_off_a_terminal() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(["driftgauge", "--help"], &mut out, &mut err), EXIT_OK);
        let (mut out2, mut err2) = (Vec::new(), Vec::new());
        assert_eq!(run(["driftgauge", "check", "--bogus"], &mut out2, &mut err2), EXIT_ERROR);
        for text in [out, err2] {
            let text = String::from_utf8(text).unwrap();
            assert!(!text.contains('\u{1b}'), "{text:?}");
        }
    }
}
