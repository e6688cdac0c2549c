//! `driftgauge check` and `driftgauge baseline fit`: their flags, and the glue
//! from flags to [`crate::batch`] and back to the terminal.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use driftgauge_detectors::baseline::{ProfileOptions, Roles};
use driftgauge_detectors::decision::{Correction, DecisionRule, MinEffect};
use driftgauge_detectors::drift::{DriftOptions, DriftRule, DriftTest};
use driftgauge_detectors::json::NonFinite;
use driftgauge_detectors::ks::KsMethod;
use driftgauge_detectors::quality::BinaryClassificationConfig;

use super::exit::{EXIT_DRIFT, EXIT_OK};
use crate::batch::check::{self, CheckOptions, Mode};
use crate::batch::input::{CsvOptions, Format, Table};
use crate::batch::model::{self, ModelOptions, Task};
use crate::batch::render;
use crate::registry::file::read_profile;

#[derive(Debug, Subcommand)]
pub(super) enum BaselineCommand {
    /// Fit a baseline profile of a reference file and write it as JSON.
    Fit(FitArgs),
}

#[derive(Debug, Args)]
struct ColumnArgs {
    /// Columns to use (comma-separated); default: all but the label.
    #[arg(long, value_delimiter = ',')]
    columns: Vec<String>,
    /// Columns to leave out (comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Columns holding numbers that are categories, e.g. codes (comma-separated).
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// Ground-truth label column; left out of drift unless named in --columns.
    #[arg(long)]
    label: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// Reference data (Parquet, CSV, Arrow IPC file or stream).
    #[arg(long, required_unless_present = "baseline", conflicts_with = "baseline")]
    reference: Option<PathBuf>,
    /// A baseline written by `driftgauge baseline fit`, instead of --reference.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Current data to check.
    #[arg(long)]
    current: PathBuf,
    /// Format of --reference when its extension does not tell.
    #[arg(long, value_enum)]
    reference_format: Option<Format>,
    /// Format of --current when its extension does not tell.
    #[arg(long, value_enum)]
    current_format: Option<Format>,
    /// Output: a readable table or JSON.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    format: Output,
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    csv: CsvArgs,
    /// Statistics contract: reference-fitted bins, or Evidently's DataDriftPreset (needs --reference).
    #[arg(long, value_enum, default_value_t = Mode::Default, conflicts_with = "baseline")]
    mode: Mode,
    /// Prediction column (a class, a score in [0, 1], or a number); with --label, adds model quality.
    #[arg(long, requires = "label")]
    prediction: Option<String>,
    /// Sensitive attribute columns for fairness slices (comma-separated; needs --prediction).
    #[arg(long, value_delimiter = ',', requires = "prediction")]
    sensitive: Vec<String>,
    /// Model task; default: regression when the label is a float, else classification.
    #[arg(long, value_enum)]
    task: Option<Task>,
    /// Positive class of the label (true/false, an integer or text).
    #[arg(long, default_value = "1")]
    positive_label: String,
    /// Scores at or above this are predicted positive.
    #[arg(long, default_value_t = 0.5)]
    decision_threshold: f64,
    /// Groups with fewer rows are shown but left out of fairness differences.
    #[arg(long, default_value_t = 30)]
    min_group_size: u64,
    /// How drift is decided: `corrected` (each column's test against the level that keeps
    /// the false-alarm rate at --alpha; the dataset drifts when any column does) or `share`
    /// (--numeric-test / --categorical-test against --threshold, and --drift-share).
    /// Default: `share` when any of those four flags is given, else `corrected`.
    #[arg(long, value_enum)]
    decision: Option<DecisionArg>,
    /// False-alarm budget of the whole check (corrected decision) [default: 0.05].
    #[arg(long)]
    alpha: Option<f64>,
    /// How --alpha becomes a per-column level: holm (family-wise) or bh (false discovery rate) [default: holm].
    #[arg(long, value_enum)]
    correction: Option<CorrectionArg>,
    /// A distance a drifting column must also reach, e.g. `psi=0.1` (corrected decision).
    #[arg(long, value_parser = parse_min_effect)]
    min_effect: Option<MinEffect>,
    /// Share decision: statistic deciding drift of numeric columns [default: psi].
    #[arg(long, value_enum)]
    numeric_test: Option<TestArg>,
    /// Share decision: statistic deciding drift of categorical columns [default: psi].
    #[arg(long, value_enum)]
    categorical_test: Option<TestArg>,
    /// Share decision: threshold for the deciding statistics (default: 0.1 for distances, 0.05 for p-values).
    #[arg(long)]
    threshold: Option<f64>,
    /// Share decision: share of drifted columns at which the dataset counts as drifted [default: 0.5].
    #[arg(long)]
    drift_share: Option<f64>,
    /// Proportion replacing empty bins in PSI and KL [default: 0.0001] (default mode only).
    #[arg(long)]
    epsilon: Option<f64>,
    /// KS p-value method, as scipy's ks_2samp [default: auto] (default mode only).
    #[arg(long, value_enum)]
    ks_method: Option<KsArg>,
}

impl CheckArgs {
    /// The options given that `--mode evidently` cannot honour: Evidently's
    /// preset picks each column's test, threshold, empty-bin fill and KS
    /// method itself, and silently ignoring them would report a verdict the
    /// user did not ask for.
    fn ignored_by_evidently(&self) -> Vec<&'static str> {
        let given = [
            ("--numeric-test", self.numeric_test.is_some()),
            ("--categorical-test", self.categorical_test.is_some()),
            ("--threshold", self.threshold.is_some()),
            ("--epsilon", self.epsilon.is_some()),
            ("--ks-method", self.ks_method.is_some()),
        ];
        given.iter().filter(|(_, set)| *set).map(|(flag, _)| *flag).collect()
    }
}

#[derive(Debug, Args)]
pub(super) struct FitArgs {
    /// Reference data (Parquet, CSV, Arrow IPC file or stream).
    #[arg(long)]
    input: PathBuf,
    /// Where to write the baseline JSON.
    #[arg(long)]
    out: PathBuf,
    /// Format of --input when its extension does not tell.
    #[arg(long, value_enum)]
    input_format: Option<Format>,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// How CSV files are read: shared by `check` and the fits.
#[derive(Debug, Clone, Args)]
pub(crate) struct CsvArgs {
    /// CSV field delimiter (default: sniffed from the header among `,` `;` tab `|`).
    #[arg(long, value_parser = delimiter)]
    delimiter: Option<u8>,
    /// CSV values read as missing, replacing the default list
    /// (empty, NA, N/A, n/a, NaN, nan, null, NULL, None, <NA>); comma-separated.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    na_values: Option<Vec<String>>,
}

impl CsvArgs {
    pub(crate) fn options(&self) -> CsvOptions {
        CsvOptions { delimiter: self.delimiter, na_values: self.na_values.clone() }
    }
}

/// One ASCII character, or `tab` / `\t`.
fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err(format!("`{text}` is not one ASCII character (or `tab`)")),
    }
}

/// What a baseline profile holds: shared by `baseline fit` and `registry fit`.
#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    pub(crate) csv: CsvArgs,
    /// The model's prediction column; stored with --label in the baseline, so that
    /// `check --baseline` leaves the label out and reports model quality unasked.
    #[arg(long)]
    prediction: Option<String>,
    /// Quantile bins per numeric column.
    #[arg(long, default_value_t = ProfileOptions::default().bins)]
    bins: usize,
    /// Largest exact sample kept per numeric column for KS and Wasserstein.
    #[arg(long, default_value_t = ProfileOptions::default().max_sample)]
    max_sample: usize,
    /// Categories kept per categorical column; the rest go to `other`.
    #[arg(long, default_value_t = ProfileOptions::default().top_k)]
    top_k: usize,
}

impl ProfileArgs {
    /// The label and prediction columns, for the profile to remember.
    pub(crate) fn roles(&self) -> Roles {
        Roles { label: self.columns.label.clone(), prediction: self.prediction.clone() }
    }

    /// The options `check::fit_baseline` takes.
    pub(crate) fn options(self) -> CheckOptions {
        CheckOptions {
            profile: ProfileOptions {
                bins: self.bins,
                max_sample: self.max_sample,
                top_k: self.top_k,
            },
            ..column_options(self.columns)
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

/// The statistics, spelt as in the configuration and the metrics
/// (`jensen_shannon`); the hyphenated spelling is accepted too.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum TestArg {
    Psi,
    Kl,
    #[value(alias = "jensen-shannon")]
    JensenShannon,
    Hellinger,
    Wasserstein,
    Ks,
    #[value(alias = "chi-square")]
    ChiSquare,
    ChiSquareContingency,
    Z,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DecisionArg {
    Corrected,
    Share,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CorrectionArg {
    Holm,
    Bh,
}

/// `psi=0.1`: a distance and the value it must reach.
fn parse_min_effect(text: &str) -> Result<MinEffect, String> {
    let (name, value) =
        text.split_once('=').ok_or_else(|| format!("`{text}` is not STATISTIC=VALUE"))?;
    let test = TestArg::from_str(name, true).map(DriftTest::from)?;
    if test.is_p_value() {
        return Err(format!(
            "`{name}` is a test; the minimum effect is a distance (psi, kl, jensen-shannon, hellinger, wasserstein)"
        ));
    }
    let at_least: f64 = value.parse().map_err(|_| format!("`{value}` is not a number"))?;
    if !(at_least >= 0.0 && at_least.is_finite()) {
        return Err(format!("{at_least} must be finite and non-negative"));
    }
    Ok(MinEffect { statistic: test, at_least })
}

impl From<TestArg> for DriftTest {
    fn from(test: TestArg) -> Self {
        match test {
            TestArg::Psi => Self::Psi,
            TestArg::Kl => Self::Kl,
            TestArg::JensenShannon => Self::JensenShannon,
            TestArg::Hellinger => Self::Hellinger,
            TestArg::Wasserstein => Self::Wasserstein,
            TestArg::Ks => Self::Ks,
            TestArg::ChiSquare => Self::ChiSquare,
            TestArg::ChiSquareContingency => Self::ChiSquareContingency,
            TestArg::Z => Self::Z,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KsArg {
    Auto,
    Exact,
    Asymp,
}

impl From<KsArg> for KsMethod {
    fn from(method: KsArg) -> Self {
        match method {
            KsArg::Auto => Self::Auto,
            KsArg::Exact => Self::Exact,
            KsArg::Asymp => Self::Asymp,
        }
    }
}

fn column_options(args: ColumnArgs) -> CheckOptions {
    CheckOptions {
        columns: args.columns,
        exclude: args.exclude,
        categorical: args.categorical,
        label: args.label,
        ..CheckOptions::default()
    }
}

/// The drift settings the flags ask for, or why they contradict each other.
fn drift_options(args: &CheckArgs) -> anyhow::Result<DriftOptions> {
    let share_flags = [
        ("--numeric-test", args.numeric_test.is_some()),
        ("--categorical-test", args.categorical_test.is_some()),
        ("--threshold", args.threshold.is_some()),
        ("--drift-share", args.drift_share.is_some()),
    ];
    let corrected_flags = [
        ("--alpha", args.alpha.is_some()),
        ("--correction", args.correction.is_some()),
        ("--min-effect", args.min_effect.is_some()),
    ];
    let given = |flags: &[(&'static str, bool)]| -> Vec<&'static str> {
        flags.iter().filter(|f| f.1).map(|f| f.0).collect()
    };
    let evidently = args.mode == Mode::Evidently;
    let ignored = args.ignored_by_evidently();
    if evidently && !ignored.is_empty() {
        anyhow::bail!(
            "{} cannot be used with --mode evidently: that mode reproduces Evidently's \
             DataDriftPreset, which chooses each column's test, threshold, empty-bin fill and \
             KS method itself; drop {} or use --mode default",
            ignored.join(", "),
            if ignored.len() == 1 { "it" } else { "them" }
        );
    }
    let decision = match args.decision {
        Some(decision) => decision,
        None if evidently || !given(&share_flags).is_empty() => DecisionArg::Share,
        None => DecisionArg::Corrected,
    };
    if evidently && (decision == DecisionArg::Corrected || !given(&corrected_flags).is_empty()) {
        anyhow::bail!(
            "--mode evidently decides as Evidently does (its tests and thresholds, --drift-share); \
             --decision corrected, --alpha, --correction and --min-effect do not apply"
        );
    }
    match decision {
        DecisionArg::Corrected if !given(&share_flags).is_empty() => {
            anyhow::bail!("{} only apply to --decision share", given(&share_flags).join(", "))
        }
        DecisionArg::Share if !given(&corrected_flags).is_empty() => anyhow::bail!(
            "{} only apply to --decision corrected",
            given(&corrected_flags).join(", ")
        ),
        _ => {}
    }
    let rule = |test: Option<TestArg>| {
        let test = DriftTest::from(test.unwrap_or(TestArg::Psi));
        DriftRule { test, threshold: args.threshold.unwrap_or(test.default_threshold()) }
    };
    let defaults = DriftOptions::default();
    Ok(DriftOptions {
        epsilon: args.epsilon.unwrap_or(defaults.epsilon),
        ks_method: args.ks_method.map_or(defaults.ks_method, KsMethod::from),
        numeric_rule: rule(args.numeric_test),
        categorical_rule: rule(args.categorical_test),
        drift_share: args.drift_share.unwrap_or(defaults.drift_share),
        decision: match decision {
            DecisionArg::Corrected => DecisionRule::Corrected,
            DecisionArg::Share => DecisionRule::Share,
        },
        alpha: args.alpha.unwrap_or(defaults.alpha),
        correction: match args.correction {
            None => defaults.correction,
            Some(CorrectionArg::Holm) => Correction::Holm,
            Some(CorrectionArg::Bh) => Correction::BenjaminiHochberg,
        },
        min_effect: args.min_effect,
    })
}

pub(super) fn run_check(args: CheckArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let drift = drift_options(&args)?;
    // A baseline remembers the label and prediction it was fitted with: the
    // same check as one from the reference file, without the flags again.
    let baseline = args.baseline.as_ref().map(|path| read_profile(path)).transpose()?;
    let roles = baseline.as_ref().map(|b| b.roles.clone()).unwrap_or_default();
    let label = args.columns.label.clone().or(roles.label);
    let prediction = args.prediction.clone().or(roles.prediction);
    let model = match (&label, &prediction) {
        (Some(label), Some(prediction)) => Some(ModelOptions {
            sensitive: args.sensitive.clone(),
            task: args.task,
            classification: BinaryClassificationConfig {
                positive_label: model::parse_positive_label(&args.positive_label),
                threshold: args.decision_threshold,
            },
            min_group_size: args.min_group_size,
            ..ModelOptions::new(label.clone(), prediction.clone())
        }),
        _ => None,
    };
    let options = CheckOptions { model, drift, ..column_options(args.columns) };
    let options = CheckOptions { label, ..options };
    let csv = args.csv.options();
    let (reference, current) = rayon::join(
        || match (&args.reference, &args.baseline) {
            (Some(path), _) => Table::read_with(path, args.reference_format, &csv).map(Some),
            _ => Ok(None),
        },
        || Table::read_with(&args.current, args.current_format, &csv),
    );
    let current = current?;
    let report = match (reference?, &args.baseline) {
        (Some(reference), _) => check::check(&reference, &current, args.mode, &options)?,
        (None, Some(path)) => {
            let baseline = baseline.context("the baseline was read above")?;
            let mut report = check::check_against(&baseline, path, &current, &options)?;
            report.model = check::model_report(None, &current, &options)?;
            report
        }
        (None, None) => unreachable!("clap requires --reference or --baseline"),
    };
    let text = match args.format {
        Output::Table => render::table(&report),
        // Non-finite statistics as "Infinity", "-Infinity" and "NaN", not null.
        Output::Json => serde_json::to_string_pretty(&NonFinite(&report))? + "\n",
    };
    out.write_all(text.as_bytes())?;
    Ok(if report.dataset.drifted { EXIT_DRIFT } else { EXIT_OK })
}

pub(super) fn run_fit(args: FitArgs, err: &mut dyn Write) -> anyhow::Result<()> {
    let csv = args.profile.csv.options();
    let roles = args.profile.roles();
    let options = args.profile.options();
    let table = Table::read_with(&args.input, args.input_format, &csv)?;
    if options.columns.is_empty() {
        for s in table.skipped() {
            writeln!(err, "skipped `{}` ({}): {}", s.column, s.data_type, s.reason)?;
        }
    }
    let profile =
        driftgauge_detectors::baseline::Profile { roles, ..check::fit_baseline(&table, &options)? };
    let json = serde_json::to_string_pretty(&NonFinite(&profile))?;
    std::fs::write(&args.out, json + "\n")
        .with_context(|| format!("{}: cannot write", args.out.display()))?;
    writeln!(
        err,
        "wrote a baseline of {} columns over {} rows to {}",
        profile.columns.len(),
        profile.rows,
        args.out.display()
    )?;
    Ok(())
}
