//! Alert policies: when does a closed window warrant action?
//!
//! Pure code: no I/O, no clock, no async. [`PolicyEngine::evaluate`] takes one
//! [`WindowOutcome`] and returns the [`Decision`]s it causes; everything time-related
//! (K of N windows, cooldowns) is measured in the *event time* of the windows, so a
//! replay of the same windows yields the same decisions.
//!
//! # A rule's life
//!
//! Every rule reduces a window to one of three verdicts:
//!
//! * **breach**: the signal is beyond the rule's bound (for feature drift: enough
//!   features drifted in at least K of the last N windows);
//! * **recovered**: the signal is back past the rule's *resolve* bound, which lies on the
//!   healthy side of the fire bound (hysteresis); the default resolve bound is the fire
//!   bound itself;
//! * **hold**: in between, or no evidence in this window (a metric that is missing, a
//!   `NaN` score). Nothing changes.
//!
//! An idle rule that sees a breach *fires* ([`DecisionKind::Fire`]) unless it is in
//! cooldown: after a fire, the same rule for the same model cannot fire again until
//! `cooldown_secs` of window time have passed (measured between the ends of the two
//! windows). A breach during cooldown is not remembered: the rule fires on the first
//! breaching window after the cooldown. A firing rule that sees *recovered* resolves
//! ([`DecisionKind::Resolve`]); one that keeps breaching produces nothing new.
//!
//! # Configuration
//!
//! The engine embeds [`PolicyConfig`] in its TOML, for example:
//!
//! ```toml
//! # Applies to every model.
//! [[alerting.policies.defaults]]
//! name = "feature-drift"
//! severity = "warning"
//! cooldown_secs = 21600
//! when = { kind = "feature_drift", statistic = "psi", k = 3, n = 5, min_features = 2, resolve = 0.1 }
//!
//! [[alerting.policies.defaults]]
//! name = "dataset-drift"
//! when = { kind = "dataset_drift", k = 3, n = 3 }
//!
//! # The fraud model also gets an accuracy rule, and its own feature-drift rule
//! # (same name, so it replaces the default one).
//! [[alerting.policies.models.fraud.rules]]
//! name = "accuracy"
//! severity = "critical"
//! when = { kind = "quality", metric = "accuracy", below = 0.85, resolve = 0.88 }
//!
//! [[alerting.policies.models.fraud.rules]]
//! name = "feature-drift"
//! when = { kind = "feature_drift", statistic = "psi", feature = "amount", k = 2, n = 3 }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Problems, Result};

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

/// The results of one closed window for one model: what the engine hands to
/// [`PolicyEngine::evaluate`].
///
/// Self-contained on purpose (strings and floats, no detector types), so the engine can
/// fill it from whatever its window stage produced and tests can write it by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowOutcome {
    /// Model name, for example `fraud`.
    pub model: String,
    /// Model version, for example `v3` or a git sha.
    pub version: String,
    /// Inclusive start of the window (event time).
    pub window_start: DateTime<Utc>,
    /// Exclusive end of the window (event time). Cooldowns are measured on this.
    pub window_end: DateTime<Utc>,
    /// One entry per (feature, statistic) scored in this window.
    pub features: Vec<FeatureScore>,
    /// Share of features that drifted, in `[0, 1]`; `NaN` when nothing was scored.
    pub dataset_drift_share: f64,
    /// The window's dataset verdict (the engine's `drift.decision`: any feature
    /// drifting under the corrected level, or the share rule); `None` when no
    /// feature could be tested.
    #[serde(default)]
    pub dataset_drift: Option<DatasetVerdict>,
    /// Model-quality metrics by name (`accuracy`, `auc`, `mae`…); empty until labels join.
    pub quality: BTreeMap<String, f64>,
    /// Fairness metrics by name (`demographic_parity_difference`, `dp_ratio`…).
    pub fairness: BTreeMap<String, f64>,
    /// Data-quality failure share by feature (for example the share of missing values).
    pub data_quality: BTreeMap<String, f64>,
    /// Version of the baseline the window was compared against.
    pub baseline_version: String,
    /// Link to a dashboard for this model and window, passed through to notifications.
    pub dashboard_url: Option<String>,
}

/// A window's dataset verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetVerdict {
    /// Whether the window drifted.
    pub drifted: bool,
    /// The features called drifted on their deciding statistic, sorted.
    #[serde(default)]
    pub features: Vec<String>,
}

/// One feature's score under one statistic in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureScore {
    /// Feature (column) name.
    pub feature: String,
    /// Statistic name, for example `psi`, `ks` or `wasserstein`.
    pub statistic: String,
    /// The score (a distance, or a p-value for tests such as KS).
    pub score: f64,
    /// The detector's threshold for this statistic.
    pub threshold: f64,
    /// The detector's verdict: whether `score` is beyond `threshold` in the statistic's
    /// own direction (`>=` for distances, `<=` for p-values).
    pub drifted: bool,
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// Alert policies for all models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Rules that apply to every model. Default: none.
    #[serde(default)]
    pub defaults: Vec<RuleConfig>,
    /// Per-model additions and overrides, keyed by model name. Default: none.
    #[serde(default)]
    pub models: BTreeMap<String, ModelPolicyConfig>,
}

/// One model's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPolicyConfig {
    /// Whether the model also gets [`PolicyConfig::defaults`]. A model rule whose name
    /// equals a default rule's name replaces that default. Default: `true`.
    #[serde(default = "default_true")]
    pub inherit_defaults: bool,
    /// The model's own rules. Default: none.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

impl Default for ModelPolicyConfig {
    fn default() -> Self {
        Self { inherit_defaults: true, rules: Vec::new() }
    }
}

const fn default_true() -> bool {
    true
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique (per model) rule name, used in idempotency keys, event ids and as the
    /// Alertmanager `alertname`. Required; no whitespace, at most 128 characters.
    /// Example: `"feature-drift"`.
    pub name: String,
    /// Severity passed to receivers. Default: `warning`.
    #[serde(default)]
    pub severity: Severity,
    /// After this rule fires for a model, it cannot fire again for that model until
    /// this many seconds of window (event) time have passed. Default: `21600` (6 h).
    /// `0` disables the cooldown.
    #[serde(default = "default_cooldown_secs")]
    pub cooldown_secs: u64,
    /// The condition. Required. Example: `{ kind = "dataset_drift_share", at_least = 0.5 }`.
    pub when: Condition,
}

const fn default_cooldown_secs() -> u64 {
    6 * 60 * 60
}

/// Longest accepted cooldown (ten years): keeps event-time arithmetic far from overflow.
const MAX_COOLDOWN_SECS: u64 = 10 * 365 * 24 * 60 * 60;

/// Largest N in "K of the last N windows": the history is a 64-bit mask per feature.
pub const MAX_WINDOWS: u32 = 64;

/// How urgent a rule is; passed through to receivers and Alertmanager's `severity` label.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information only.
    Info,
    /// Needs attention (the default).
    #[default]
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// The lower-case name used in payloads and labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule watches. Tagged by `kind` in configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// A statistic beyond its threshold in at least K of the last N windows, for at
    /// least M features or for one named feature.
    FeatureDrift(FeatureDriftCondition),
    /// The window's dataset verdict was drift in at least K of the last N windows.
    DatasetDrift(DatasetDriftCondition),
    /// The dataset drift share at or above a bound.
    DatasetDriftShare(DatasetDriftShareCondition),
    /// A model-quality metric below or above a bound.
    Quality(MetricCondition),
    /// A fairness difference above, or ratio below, a bound.
    Fairness(MetricCondition),
    /// A data-quality failure share above a bound, for one feature or any feature.
    DataQuality(DataQualityCondition),
}

/// `kind = "feature_drift"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureDriftCondition {
    /// Which statistic's verdicts to count; scores of other statistics are ignored.
    /// Required. Example: `"psi"`.
    pub statistic: String,
    /// K: windows (out of the last `n`) in which a feature must have drifted to count.
    /// Default: `3`.
    #[serde(default = "default_k")]
    pub k: u32,
    /// N: how many recent windows to look at, at most 64. Default: `5`.
    #[serde(default = "default_n")]
    pub n: u32,
    /// M: how many features must be drifting. Default: `1`. Not allowed with `feature`.
    #[serde(default)]
    pub min_features: Option<u32>,
    /// Watch only this feature. Default: any feature.
    #[serde(default)]
    pub feature: Option<String>,
    /// Hysteresis on the score: a drifting feature stops counting only once it has
    /// drifted in fewer than K of the last N windows *and* its latest score is past this
    /// bound. Put it on the healthy side of the detector's threshold: below it for
    /// distances (PSI threshold 0.2, `resolve = 0.1`), above it for p-values (KS
    /// threshold 0.05, `resolve = 0.2`). Default: none (K of N alone decides).
    #[serde(default)]
    pub resolve: Option<f64>,
}

const fn default_k() -> u32 {
    3
}

const fn default_n() -> u32 {
    5
}

/// `kind = "dataset_drift"`: the engine's dataset verdict in at least K of the
/// last N windows that had one.
///
/// Each window's verdict is wrong with probability `drift.alpha` when nothing
/// drifted, so requiring K of N cuts false triggers to about
/// `C(N, K) · alpha^K` per window (3 of 3 at alpha 0.05: 1.25e-4, one false
/// trigger in about 8,000 windows) at the price of K − 1 windows of delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetDriftCondition {
    /// K: windows (of the last `n` with a verdict) that must have drifted. Default: `1`.
    #[serde(default = "one")]
    pub k: u32,
    /// N: how many recent windows with a verdict to look at, at most 64. Default: `1`.
    #[serde(default = "one")]
    pub n: u32,
}

const fn one() -> u32 {
    1
}

/// `kind = "dataset_drift_share"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetDriftShareCondition {
    /// Fires when the share of drifted features is at least this, in `(0, 1]`.
    /// Required. Example: `0.5` (Evidently's default `drift_share`).
    pub at_least: f64,
    /// Resolves when the share falls below this (`<= at_least`). Default: `at_least`.
    #[serde(default)]
    pub resolve: Option<f64>,
}

/// `kind = "quality"` and `kind = "fairness"`: one named metric against one bound.
///
/// Set exactly one of `below` and `above`. For quality, accuracy-like metrics use
/// `below` and error-like metrics (`mae`) use `above`. For fairness, differences
/// (`demographic_parity_difference`) use `above` and ratios (`demographic_parity_ratio`,
/// the four-fifths rule) use `below`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricCondition {
    /// Metric name as it appears in [`WindowOutcome::quality`] or
    /// [`WindowOutcome::fairness`]. Required. Example: `"accuracy"`.
    pub metric: String,
    /// Fires when the metric is strictly below this. Example: `0.85`.
    #[serde(default)]
    pub below: Option<f64>,
    /// Fires when the metric is strictly above this. Example: `0.1`.
    #[serde(default)]
    pub above: Option<f64>,
    /// Resolves only once the metric is strictly past this bound, on the healthy side
    /// (`>= below`, or `<= above`). Default: the fire bound.
    #[serde(default)]
    pub resolve: Option<f64>,
}

/// `kind = "data_quality"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataQualityCondition {
    /// Watch only this feature. Default: any feature (the worst one decides).
    #[serde(default)]
    pub feature: Option<String>,
    /// Fires when the failure share is strictly above this, in `[0, 1)`. Required.
    /// Example: `0.05`.
    pub share_above: f64,
    /// Resolves when the share falls below this (`<= share_above`). Default: `share_above`.
    #[serde(default)]
    pub resolve: Option<f64>,
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// What a rule decided for a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// The rule started firing: request retraining.
    Fire,
    /// A firing rule recovered.
    Resolve,
}

/// The identity of a decision: model, version, rule and the start of the window that
/// caused it. Everything derived from a decision (event id, `webhook-id`, outbox row)
/// is keyed on it, so replaying a window can never produce a second, different trigger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: String,
    /// Rule name.
    pub rule: String,
    /// Start of the window that caused the decision.
    pub window_start: DateTime<Utc>,
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.model,
            self.version,
            self.rule,
            self.window_start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
    }
}

/// A window's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// A rule firing or resolving, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Fire or resolve.
    pub kind: DecisionKind,
    /// Model, version, rule and window start.
    pub key: IdempotencyKey,
    /// The rule's severity.
    pub severity: Severity,
    /// The window that caused this decision.
    pub window: Window,
    /// For a resolve: the window in which the rule fired.
    pub fired_window: Option<Window>,
    /// Why.
    pub evidence: Evidence,
    /// Baseline version of the window.
    pub baseline_version: String,
    /// Dashboard link of the window.
    pub dashboard_url: Option<String>,
}

/// Which kind of condition produced a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    /// [`Condition::FeatureDrift`].
    FeatureDrift,
    /// [`Condition::DatasetDrift`].
    DatasetDrift,
    /// [`Condition::DatasetDriftShare`].
    DatasetDriftShare,
    /// [`Condition::Quality`].
    Quality,
    /// [`Condition::Fairness`].
    Fairness,
    /// [`Condition::DataQuality`].
    DataQuality,
}

/// The evidence behind a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The rule's condition kind.
    pub condition: ConditionKind,
    /// One sentence for humans, for example
    /// `"2 features drifted (psi) in at least 3 of the last 5 windows: age, income."`.
    pub summary: String,
    /// Features that breach the rule (sorted), empty for model-level conditions.
    /// Alertmanager's `feature` label is built from this.
    pub features: Vec<String>,
    /// The scores and the bounds they were compared with.
    pub signals: Vec<Signal>,
}

/// One observed value and the bound it was compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Feature or metric name, or `dataset_drift_share`.
    pub name: String,
    /// Statistic for feature scores (`psi`); absent for metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// The observed value (`"Infinity"`, `"-Infinity"` or `"NaN"` in JSON
    /// when it is not finite, see [`driftgauge_detectors::json`]).
    #[serde(with = "driftgauge_detectors::json::float")]
    pub value: f64,
    /// The bound that fires.
    #[serde(with = "driftgauge_detectors::json::float")]
    pub threshold: f64,
    /// The bound it must come back past to resolve, when hysteresis is configured.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "driftgauge_detectors::json::option_float"
    )]
    pub resolve: Option<f64>,
    /// Whether this signal breaches the rule.
    pub breached: bool,
    /// For feature drift: in how many of the last `of` windows the feature drifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<u32>,
    /// For feature drift: N, the number of windows looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<u32>,
}

// ---------------------------------------------------------------------------------------
// Compiled rules
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Direction {
    /// Larger values are worse (drift share, a fairness difference, `mae`).
    HigherIsWorse,
    /// Smaller values are worse (accuracy, a fairness ratio).
    LowerIsWorse,
}

/// A fire bound and a resolve bound on one scalar signal.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    direction: Direction,
    fire: f64,
    /// `>=` rather than `>` (only `at_least`).
    inclusive: bool,
    resolve: f64,
}

impl Bound {
    // NaN compares false both ways, so it is neither a breach nor a recovery: a hold.
    fn breached(&self, v: f64) -> bool {
        match (self.direction, self.inclusive) {
            (Direction::HigherIsWorse, true) => v >= self.fire,
            (Direction::HigherIsWorse, false) => v > self.fire,
            (Direction::LowerIsWorse, true) => v <= self.fire,
            (Direction::LowerIsWorse, false) => v < self.fire,
        }
    }

    fn recovered(&self, v: f64) -> bool {
        match self.direction {
            Direction::HigherIsWorse => v < self.resolve,
            Direction::LowerIsWorse => v > self.resolve,
        }
    }

    fn hysteresis(&self) -> Option<f64> {
        (self.resolve != self.fire).then_some(self.resolve)
    }

    fn verb(&self) -> &'static str {
        match (self.direction, self.inclusive) {
            (Direction::HigherIsWorse, true) => "at or above",
            (Direction::HigherIsWorse, false) => "above",
            (Direction::LowerIsWorse, true) => "at or below",
            (Direction::LowerIsWorse, false) => "below",
        }
    }
}

#[derive(Debug, Clone)]
struct CompiledRule {
    name: String,
    severity: Severity,
    cooldown: TimeDelta,
    condition: CompiledCondition,
}

#[derive(Debug, Clone)]
enum CompiledCondition {
    FeatureDrift {
        statistic: String,
        k: u32,
        n: u32,
        min_features: u32,
        feature: Option<String>,
        resolve: Option<f64>,
    },
    DatasetDrift {
        k: u32,
        n: u32,
    },
    DatasetDriftShare(Bound),
    Metric {
        kind: ConditionKind,
        metric: String,
        bound: Bound,
    },
    DataQuality {
        feature: Option<String>,
        bound: Bound,
    },
}

fn check_finite(problems: &mut Problems, field: String, v: f64) -> bool {
    if v.is_finite() {
        true
    } else {
        problems.push(field, "must be a finite number");
        false
    }
}

fn compile_rule(rule: &RuleConfig, at: &str, problems: &mut Problems) -> Option<CompiledRule> {
    let before = problems.len();
    let name = rule.name.as_str();
    if name.is_empty()
        || name.len() > 128
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        problems.push(format!("{at}.name"), "must be 1 to 128 characters without whitespace");
    }
    if rule.cooldown_secs > MAX_COOLDOWN_SECS {
        problems.push(
            format!("{at}.cooldown_secs"),
            format!("must be at most {MAX_COOLDOWN_SECS} (ten years)"),
        );
    }
    let when = format!("{at}.when");
    let condition = match &rule.when {
        Condition::FeatureDrift(c) => {
            if c.statistic.is_empty() {
                problems.push(format!("{when}.statistic"), "must not be empty");
            }
            if !(1..=MAX_WINDOWS).contains(&c.n) {
                problems.push(format!("{when}.n"), format!("must be between 1 and {MAX_WINDOWS}"));
            }
            if c.k == 0 || c.k > c.n {
                problems.push(format!("{when}.k"), "must be between 1 and n");
            }
            if c.feature.is_some() && c.min_features.is_some() {
                problems.push(
                    format!("{when}.min_features"),
                    "cannot be combined with feature (a named feature is one feature)",
                );
            }
            if c.min_features == Some(0) {
                problems.push(format!("{when}.min_features"), "must be at least 1");
            }
            if c.feature.as_deref() == Some("") {
                problems.push(format!("{when}.feature"), "must not be empty");
            }
            if let Some(r) = c.resolve {
                check_finite(problems, format!("{when}.resolve"), r);
            }
            CompiledCondition::FeatureDrift {
                statistic: c.statistic.clone(),
                k: c.k,
                n: c.n,
                min_features: c.min_features.unwrap_or(1),
                feature: c.feature.clone(),
                resolve: c.resolve,
            }
        }
        Condition::DatasetDrift(c) => {
            if !(1..=MAX_WINDOWS).contains(&c.n) {
                problems.push(format!("{when}.n"), format!("must be between 1 and {MAX_WINDOWS}"));
            }
            if c.k == 0 || c.k > c.n {
                problems.push(format!("{when}.k"), "must be between 1 and n");
            }
            CompiledCondition::DatasetDrift { k: c.k, n: c.n }
        }
        Condition::DatasetDriftShare(c) => {
            // `!(x > 0.0)` rather than `x <= 0.0` so that NaN is rejected too.
            if !(c.at_least > 0.0 && c.at_least <= 1.0) {
                problems.push(format!("{when}.at_least"), "must be in (0, 1]");
            }
            let resolve = c.resolve.unwrap_or(c.at_least);
            if !(resolve > 0.0 && resolve <= c.at_least) {
                problems.push(format!("{when}.resolve"), "must be in (0, at_least]");
            }
            CompiledCondition::DatasetDriftShare(Bound {
                direction: Direction::HigherIsWorse,
                fire: c.at_least,
                inclusive: true,
                resolve,
            })
        }
        Condition::Quality(c) | Condition::Fairness(c) => {
            let kind = match &rule.when {
                Condition::Fairness(_) => ConditionKind::Fairness,
                _ => ConditionKind::Quality,
            };
            if c.metric.is_empty() {
                problems.push(format!("{when}.metric"), "must not be empty");
            }
            let (direction, fire) = match (c.below, c.above) {
                (Some(b), None) => (Direction::LowerIsWorse, b),
                (None, Some(a)) => (Direction::HigherIsWorse, a),
                _ => {
                    problems.push(when.clone(), "set exactly one of below and above");
                    (Direction::LowerIsWorse, f64::NAN)
                }
            };
            let field = if direction == Direction::LowerIsWorse { "below" } else { "above" };
            let fire_ok = fire.is_nan() || check_finite(problems, format!("{when}.{field}"), fire);
            let resolve = c.resolve.unwrap_or(fire);
            if fire_ok && fire.is_finite() {
                let healthy_side = match direction {
                    Direction::LowerIsWorse => resolve >= fire,
                    Direction::HigherIsWorse => resolve <= fire,
                };
                if !resolve.is_finite() || !healthy_side {
                    let want =
                        if direction == Direction::LowerIsWorse { ">= below" } else { "<= above" };
                    problems.push(format!("{when}.resolve"), format!("must be finite and {want}"));
                }
            }
            CompiledCondition::Metric {
                kind,
                metric: c.metric.clone(),
                bound: Bound { direction, fire, inclusive: false, resolve },
            }
        }
        Condition::DataQuality(c) => {
            if !(c.share_above >= 0.0 && c.share_above < 1.0) {
                problems.push(format!("{when}.share_above"), "must be in [0, 1)");
            }
            let resolve = c.resolve.unwrap_or(c.share_above);
            if !(resolve >= 0.0 && resolve <= c.share_above) {
                problems.push(format!("{when}.resolve"), "must be in [0, share_above]");
            }
            if c.feature.as_deref() == Some("") {
                problems.push(format!("{when}.feature"), "must not be empty");
            }
            CompiledCondition::DataQuality {
                feature: c.feature.clone(),
                bound: Bound {
                    direction: Direction::HigherIsWorse,
                    fire: c.share_above,
                    inclusive: false,
                    resolve,
                },
            }
        }
    };
    if problems.len() != before {
        return None;
    }
    // In range: checked against MAX_COOLDOWN_SECS above.
    let cooldown = TimeDelta::try_seconds(rule.cooldown_secs as i64).unwrap_or(TimeDelta::MAX);
    Some(CompiledRule { name: rule.name.clone(), severity: rule.severity, cooldown, condition })
}

/// Compiles a list of rules, reporting duplicate names within it.
fn compile_list<'a>(
    rules: impl Iterator<Item = (&'a RuleConfig, String)>,
    problems: &mut Problems,
) -> Vec<CompiledRule> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (rule, at) in rules {
        if !seen.insert(rule.name.as_str()) {
            problems.push(format!("{at}.name"), format!("duplicate rule name {:?}", rule.name));
        }
        if let Some(c) = compile_rule(rule, &at, problems) {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

/// Everything [`PolicyEngine`] remembers between windows: per model, the last window
/// seen and, per rule, whether it is firing, when it last fired and the per-feature
/// K-of-N history.
///
/// Serialisable so the engine can persist it (for example as JSON next to the outbox)
/// and restore it with [`PolicyEngine::with_state`]: without that, a restart forgets
/// cooldowns and a still-drifting model fires again on the first window after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    models: BTreeMap<String, ModelState>,
}

impl PolicyState {
    /// The rules firing now, as `(model, rule, window it fired in)`, in model and rule
    /// order: for an engine that restores its "firing" gauges after a restart.
    pub fn firing(&self) -> impl Iterator<Item = (&str, &str, Window)> + '_ {
        self.models.iter().flat_map(|(model, state)| {
            state
                .rules
                .iter()
                .filter_map(move |(rule, rs)| rs.firing.map(|w| (model.as_str(), rule.as_str(), w)))
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ModelState {
    last_window_end: Option<DateTime<Utc>>,
    rules: BTreeMap<String, RuleState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct RuleState {
    /// The window in which the rule fired, while it is firing.
    firing: Option<Window>,
    /// End of the window of the last fire, for the cooldown.
    last_fired_end: Option<DateTime<Utc>>,
    /// Feature-drift history, by feature.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    features: BTreeMap<String, FeatureTrack>,
}

/// One feature's recent history under one feature-drift rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct FeatureTrack {
    /// Bit i set: drifted i windows ago (bit 0 = the latest window).
    hits: u64,
    /// Bit i set: scored i windows ago.
    seen: u64,
    /// Counts towards the rule (K of N reached, and not yet recovered).
    hot: bool,
    /// Latest non-NaN score and its threshold (an infinite score is stored
    /// as `"Infinity"` and read back).
    #[serde(with = "driftgauge_detectors::json::float")]
    score: f64,
    #[serde(with = "driftgauge_detectors::json::float")]
    threshold: f64,
}

fn window_mask(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// Whether `score` is past the resolve bound, on the healthy side of `threshold`.
fn score_recovered(score: f64, threshold: f64, resolve: f64) -> bool {
    if resolve < threshold {
        score < resolve
    } else if resolve > threshold {
        score > resolve
    } else {
        // No band: being no longer past the threshold is enough, which K of N decides.
        true
    }
}

// ---------------------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------------------

/// Evaluates the configured rules on each closed window.
///
/// Build once at start-up ([`PolicyEngine::new`] validates the whole configuration and
/// reports every problem), then call [`evaluate`](Self::evaluate) with each closed
/// window, in window order per model.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    defaults: Vec<CompiledRule>,
    models: BTreeMap<String, Vec<CompiledRule>>,
    state: PolicyState,
}

/// What a rule concluded from one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Breach,
    Recovered,
    Hold,
}

impl PolicyEngine {
    /// Validates `config` and builds an engine with empty state.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) listing every invalid field
    /// and every duplicated rule name.
    pub fn new(config: &PolicyConfig) -> Result<Self> {
        Self::with_state(config, PolicyState::default())
    }

    /// Like [`new`](Self::new), continuing from a state saved with
    /// [`state`](Self::state). State of rules or models no longer configured is kept
    /// but unused.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_state(config: &PolicyConfig, state: PolicyState) -> Result<Self> {
        let mut problems = Problems::default();
        let defaults = compile_list(
            config.defaults.iter().enumerate().map(|(i, r)| (r, format!("policies.defaults[{i}]"))),
            &mut problems,
        );
        let mut models = BTreeMap::new();
        for (model, mc) in &config.models {
            if model.is_empty() {
                problems.push("policies.models", "model names must not be empty");
            }
            let own = compile_list(
                mc.rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r, format!("policies.models.{model}.rules[{i}]"))),
                &mut problems,
            );
            // Defaults first (a same-named model rule takes the default's place), then
            // the model's other rules, all in configuration order.
            let mut rules: Vec<CompiledRule> = Vec::new();
            if mc.inherit_defaults {
                rules.extend(
                    defaults
                        .iter()
                        .map(|d| own.iter().find(|o| o.name == d.name).unwrap_or(d).clone()),
                );
            }
            let additions: Vec<CompiledRule> =
                own.into_iter().filter(|o| !rules.iter().any(|r| r.name == o.name)).collect();
            rules.extend(additions);
            models.insert(model.clone(), rules);
        }
        problems.into_result()?;
        Ok(Self { defaults, models, state })
    }

    /// The state to persist for [`with_state`](Self::with_state).
    pub fn state(&self) -> &PolicyState {
        &self.state
    }

    /// Evaluates every rule of `outcome.model` on one closed window.
    ///
    /// Returns the decisions in rule order: a [`DecisionKind::Fire`] for each rule that
    /// starts firing (outside its cooldown), a [`DecisionKind::Resolve`] for each firing
    /// rule that recovered. A window whose end is not after the previous window's end
    /// for the same model (a duplicate or a late replay) is ignored and returns nothing,
    /// which makes redelivery of a window harmless.
    pub fn evaluate(&mut self, outcome: &WindowOutcome) -> Vec<Decision> {
        let rules = self.models.get(&outcome.model).unwrap_or(&self.defaults);
        let model_state = self.state.models.entry(outcome.model.clone()).or_default();
        if model_state.last_window_end.is_some_and(|last| outcome.window_end <= last) {
            tracing::debug!(
                model = %outcome.model,
                window_start = %outcome.window_start,
                "Ignored a window that does not end after the previous one."
            );
            return Vec::new();
        }
        model_state.last_window_end = Some(outcome.window_end);

        let this_window = Window { start: outcome.window_start, end: outcome.window_end };
        let mut decisions = Vec::new();
        for rule in rules {
            let rs = model_state.rules.entry(rule.name.clone()).or_default();
            let (verdict, evidence) = assess(&rule.condition, outcome, &mut rs.features);
            let kind = match (verdict, rs.firing) {
                (Verdict::Breach, None) => {
                    let cooling = rs.last_fired_end.is_some_and(|last| {
                        last.checked_add_signed(rule.cooldown)
                            .is_none_or(|until| outcome.window_end < until)
                    });
                    if cooling {
                        tracing::debug!(
                            model = %outcome.model,
                            rule = %rule.name,
                            window_start = %outcome.window_start,
                            "Suppressed a trigger inside the rule's cooldown."
                        );
                        continue;
                    }
                    rs.firing = Some(this_window);
                    rs.last_fired_end = Some(outcome.window_end);
                    DecisionKind::Fire
                }
                (Verdict::Recovered, Some(_)) => DecisionKind::Resolve,
                _ => continue,
            };
            let fired_window = if kind == DecisionKind::Resolve { rs.firing.take() } else { None };
            decisions.push(Decision {
                kind,
                key: IdempotencyKey {
                    model: outcome.model.clone(),
                    version: outcome.version.clone(),
                    rule: rule.name.clone(),
                    window_start: outcome.window_start,
                },
                severity: rule.severity,
                window: this_window,
                fired_window,
                evidence,
                baseline_version: outcome.baseline_version.clone(),
                dashboard_url: outcome.dashboard_url.clone(),
            });
        }
        decisions
    }
}

fn assess(
    condition: &CompiledCondition,
    outcome: &WindowOutcome,
    tracks: &mut BTreeMap<String, FeatureTrack>,
) -> (Verdict, Evidence) {
    match condition {
        CompiledCondition::FeatureDrift { statistic, k, n, min_features, feature, resolve } => {
            assess_feature_drift(
                outcome,
                tracks,
                statistic,
                *k,
                *n,
                *min_features,
                feature.as_deref(),
                *resolve,
            )
        }
        CompiledCondition::DatasetDrift { k, n } => assess_dataset_drift(outcome, tracks, *k, *n),
        CompiledCondition::DatasetDriftShare(bound) => {
            let v = outcome.dataset_drift_share;
            let verdict = scalar_verdict(bound, v);
            let mut signals = vec![Signal {
                name: "dataset_drift_share".to_owned(),
                statistic: None,
                value: v,
                threshold: bound.fire,
                resolve: bound.hysteresis(),
                breached: bound.breached(v),
                hits: None,
                of: None,
            }];
            // The drifted features are the evidence a retraining job wants to see.
            signals.extend(
                outcome.features.iter().filter(|f| f.drifted && !f.score.is_nan()).map(evidence),
            );
            let summary = match verdict {
                Verdict::Breach => {
                    format!("Dataset drift share {v} is {} {}.", bound.verb(), bound.fire)
                }
                _ => format!("Dataset drift share {v} is below {}.", bound.resolve),
            };
            let evidence = Evidence {
                condition: ConditionKind::DatasetDriftShare,
                summary,
                features: Vec::new(),
                signals,
            };
            (verdict, evidence)
        }
        CompiledCondition::Metric { kind, metric, bound } => {
            let map =
                if *kind == ConditionKind::Fairness { &outcome.fairness } else { &outcome.quality };
            let what =
                if *kind == ConditionKind::Fairness { "Fairness metric" } else { "Quality metric" };
            let Some(&v) = map.get(metric) else {
                let summary = format!("{what} {metric} is missing from the window.");
                return (
                    Verdict::Hold,
                    Evidence {
                        condition: *kind,
                        summary,
                        features: Vec::new(),
                        signals: Vec::new(),
                    },
                );
            };
            let verdict = scalar_verdict(bound, v);
            let summary = match verdict {
                Verdict::Breach => {
                    format!("{what} {metric} = {v} is {} {}.", bound.verb(), bound.fire)
                }
                _ => format!("{what} {metric} = {v} is back past {}.", bound.resolve),
            };
            let signals = vec![Signal {
                name: metric.clone(),
                statistic: None,
                value: v,
                threshold: bound.fire,
                resolve: bound.hysteresis(),
                breached: bound.breached(v),
                hits: None,
                of: None,
            }];
            (verdict, Evidence { condition: *kind, summary, features: Vec::new(), signals })
        }
        CompiledCondition::DataQuality { feature, bound } => {
            let observed: Vec<(&String, f64)> = match feature {
                Some(f) => outcome
                    .data_quality
                    .get_key_value(f)
                    .map(|(k, v)| (k, *v))
                    .into_iter()
                    .collect(),
                None => outcome
                    .data_quality
                    .iter()
                    .map(|(k, v)| (k, *v))
                    .filter(|(_, v)| !v.is_nan())
                    .collect(),
            };
            // The worst feature decides: breach if any breaches, recovered only if all are.
            let verdict = if observed.is_empty() {
                Verdict::Hold
            } else if observed.iter().any(|(_, v)| bound.breached(*v)) {
                Verdict::Breach
            } else if observed.iter().all(|(_, v)| bound.recovered(*v)) {
                Verdict::Recovered
            } else {
                Verdict::Hold
            };
            let signals: Vec<Signal> = observed
                .iter()
                .filter(|(_, v)| feature.is_some() || bound.breached(*v) || !bound.recovered(*v))
                .map(|(name, v)| Signal {
                    name: (*name).clone(),
                    statistic: Some("data_quality_share".to_owned()),
                    value: *v,
                    threshold: bound.fire,
                    resolve: bound.hysteresis(),
                    breached: bound.breached(*v),
                    hits: None,
                    of: None,
                })
                .collect();
            let features: Vec<String> =
                signals.iter().filter(|s| s.breached).map(|s| s.name.clone()).collect();
            let summary = match verdict {
                Verdict::Breach => format!(
                    "Data-quality failure share is above {} for {}.",
                    bound.fire,
                    features.join(", ")
                ),
                Verdict::Recovered => {
                    format!("Data-quality failure shares are below {}.", bound.resolve)
                }
                Verdict::Hold if observed.is_empty() => {
                    "No data-quality shares in the window.".to_owned()
                }
                Verdict::Hold => {
                    format!("Data-quality failure shares are not yet below {}.", bound.resolve)
                }
            };
            (
                verdict,
                Evidence { condition: ConditionKind::DataQuality, summary, features, signals },
            )
        }
    }
}

fn scalar_verdict(bound: &Bound, v: f64) -> Verdict {
    if bound.breached(v) {
        Verdict::Breach
    } else if bound.recovered(v) {
        Verdict::Recovered
    } else {
        Verdict::Hold
    }
}

/// The history key of a `dataset_drift` rule (its only track).
const DATASET_TRACK: &str = "dataset";

fn assess_dataset_drift(
    outcome: &WindowOutcome,
    tracks: &mut BTreeMap<String, FeatureTrack>,
    k: u32,
    n: u32,
) -> (Verdict, Evidence) {
    let track = tracks.entry(DATASET_TRACK.to_owned()).or_default();
    let drifted_now = outcome.dataset_drift.as_ref().map(|v| v.drifted);
    // A window without a verdict (no feature could be tested) is no evidence:
    // the history does not move.
    if let Some(drifted) = drifted_now {
        let mask = window_mask(n);
        track.hits = ((track.hits << 1) | u64::from(drifted)) & mask;
        track.seen = ((track.seen << 1) | 1) & mask;
    }
    let hits = track.hits.count_ones();
    let verdict = match drifted_now {
        None => Verdict::Hold,
        Some(_) if hits >= k => Verdict::Breach,
        Some(false) => Verdict::Recovered,
        Some(true) => Verdict::Hold,
    };
    let mut signals = vec![Signal {
        name: "dataset_drift".to_owned(),
        statistic: None,
        value: drifted_now.map_or(f64::NAN, |d| f64::from(u8::from(d))),
        threshold: 1.0,
        resolve: None,
        breached: verdict == Verdict::Breach,
        hits: Some(hits),
        of: Some(n),
    }];
    // The features the verdict counted are the evidence a retraining job wants
    // to see, with each of their statistics that drifted.
    let drifted: &[String] = outcome.dataset_drift.as_ref().map_or(&[], |v| &v.features);
    let counted = |f: &FeatureScore| f.drifted && !f.score.is_nan() && drifted.contains(&f.feature);
    signals.extend(outcome.features.iter().filter(|f| counted(f)).map(evidence));
    let summary = match verdict {
        Verdict::Breach => format!(
            "Dataset drift in {hits} of the last {n} windows{}.",
            if drifted.is_empty() {
                String::new()
            } else {
                format!("; drifted now: {}", drifted.join(", "))
            }
        ),
        _ => format!("Dataset drift in {hits} of the last {n} windows (fires at {k})."),
    };
    // Model-level, like the share rule: no `feature` label, so the alert keeps
    // one identity while the drifting features change.
    let evidence =
        Evidence { condition: ConditionKind::DatasetDrift, summary, features: Vec::new(), signals };
    (verdict, evidence)
}

#[allow(clippy::too_many_arguments)]
fn assess_feature_drift(
    outcome: &WindowOutcome,
    tracks: &mut BTreeMap<String, FeatureTrack>,
    statistic: &str,
    k: u32,
    n: u32,
    min_features: u32,
    only: Option<&str>,
    resolve: Option<f64>,
) -> (Verdict, Evidence) {
    let mask = window_mask(n);
    // Age every history by one window; this window's bits are OR-ed in below.
    for t in tracks.values_mut() {
        t.hits = (t.hits << 1) & mask;
        t.seen = (t.seen << 1) & mask;
    }
    for fs in &outcome.features {
        if fs.statistic != statistic || only.is_some_and(|f| f != fs.feature) {
            continue;
        }
        let t = tracks.entry(fs.feature.clone()).or_default();
        t.seen |= 1;
        t.hits |= u64::from(fs.drifted);
        if !fs.score.is_nan() {
            t.score = fs.score;
            t.threshold = fs.threshold;
        }
    }
    for t in tracks.values_mut() {
        let hits = t.hits.count_ones();
        if hits >= k {
            t.hot = true;
        } else if t.hot {
            let scored_now = t.seen & 1 == 1;
            let past_resolve = match resolve {
                None => true,
                Some(r) => scored_now && score_recovered(t.score, t.threshold, r),
            };
            // A feature that has not been scored for N windows has no evidence left
            // either way; let it go rather than keep the rule firing forever.
            if past_resolve || t.seen == 0 {
                t.hot = false;
            }
        }
    }
    tracks.retain(|_, t| t.hot || t.hits != 0);

    let features: Vec<String> =
        tracks.iter().filter(|(_, t)| t.hot).map(|(f, _)| f.clone()).collect();
    let needed = if only.is_some() { 1 } else { min_features };
    let verdict = if features.len() as u64 >= u64::from(needed) {
        Verdict::Breach
    } else {
        Verdict::Recovered
    };
    let signals = tracks
        .iter()
        .map(|(f, t)| Signal {
            name: f.clone(),
            statistic: Some(statistic.to_owned()),
            value: t.score,
            threshold: t.threshold,
            resolve,
            breached: t.hot,
            hits: Some(t.hits.count_ones()),
            of: Some(n),
        })
        .collect();
    let subject = match only {
        Some(f) => format!("Feature {f}"),
        None => format!("{} feature(s)", features.len()),
    };
    let summary = match verdict {
        Verdict::Breach => format!(
            "{subject} drifted ({statistic}) in at least {k} of the last {n} windows: {}.",
            features.join(", ")
        ),
        _ => match only {
            Some(f) => format!(
                "Feature {f} no longer drifts ({statistic}, fewer than {k} of the last {n} windows)."
            ),
            None => format!(
                "{} feature(s) drift ({statistic}, {k} of the last {n} windows); {min_features} needed.",
                features.len()
            ),
        },
    };
    (verdict, Evidence { condition: ConditionKind::FeatureDrift, summary, features, signals })
}

/// A drifted feature as the evidence a retraining job wants to see.
fn evidence(f: &FeatureScore) -> Signal {
    Signal {
        name: f.feature.clone(),
        statistic: Some(f.statistic.clone()),
        value: f.score,
        threshold: f.threshold,
        resolve: None,
        breached: true,
        hits: None,
        of: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use driftgauge_detectors::json::NonFinite;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).single().expect("valid date")
    }

    /// Window `i` of one minute.
    fn window(model: &str, i: i64) -> WindowOutcome {
        WindowOutcome {
            model: model.to_owned(),
            version: "v1".to_owned(),
            window_start: t0() + TimeDelta::minutes(i),
            window_end: t0() + TimeDelta::minutes(i + 1),
            features: Vec::new(),
            dataset_drift_share: 0.0,
            dataset_drift: None,
            quality: BTreeMap::new(),
            fairness: BTreeMap::new(),
            data_quality: BTreeMap::new(),
            baseline_version: "b1".to_owned(),
            dashboard_url: Some("https://grafana.example/d/drift".to_owned()),
        }
    }

    fn psi(feature: &str, score: f64) -> FeatureScore {
        FeatureScore {
            feature: feature.to_owned(),
            statistic: "psi".to_owned(),
            score,
            threshold: 0.2,
            drifted: score >= 0.2,
        }
    }

    fn rule(name: &str, cooldown_secs: u64, when: Condition) -> RuleConfig {
        RuleConfig { name: name.to_owned(), severity: Severity::Warning, cooldown_secs, when }
    }

    fn engine(rules: Vec<RuleConfig>) -> PolicyEngine {
        PolicyEngine::new(&PolicyConfig { defaults: rules, models: BTreeMap::new() })
            .expect("valid config")
    }

    fn share_rule(cooldown_secs: u64, resolve: Option<f64>) -> RuleConfig {
        rule(
            "share",
            cooldown_secs,
            Condition::DatasetDriftShare(DatasetDriftShareCondition { at_least: 0.5, resolve }),
        )
    }

    fn drift_rule(
        k: u32,
        n: u32,
        min_features: Option<u32>,
        feature: Option<&str>,
        resolve: Option<f64>,
    ) -> RuleConfig {
        rule(
            "drift",
            0,
            Condition::FeatureDrift(FeatureDriftCondition {
                statistic: "psi".to_owned(),
                k,
                n,
                min_features,
                feature: feature.map(str::to_owned),
                resolve,
            }),
        )
    }

    fn kinds(ds: &[Decision]) -> Vec<DecisionKind> {
        ds.iter().map(|d| d.kind).collect()
    }

    #[test]
    fn flapping_signal_fires_at_most_once_per_cooldown() {
        // Cooldown of 10 one-minute windows; the share flaps across the bound every window.
        let cooldown = TimeDelta::minutes(10);
        let mut e = engine(vec![share_rule(600, None)]);
        let mut fires = Vec::new();
        let mut resolves = 0;
        for i in 0..50 {
            let mut w = window("m", i);
            w.dataset_drift_share = if i % 2 == 0 { 0.9 } else { 0.1 };
            for d in e.evaluate(&w) {
                match d.kind {
                    DecisionKind::Fire => fires.push(d.window.end),
                    DecisionKind::Resolve => resolves += 1,
                }
            }
        }
        for pair in fires.windows(2) {
            assert!(pair[1] - pair[0] >= cooldown, "fires {pair:?} closer than the cooldown");
        }
        // 50 minutes / 10-minute cooldown: windows 0, 10, 20, 30, 40.
        assert_eq!(fires.len(), 5);
        assert_eq!(resolves, 5, "each fire resolves on the next window");
    }

    #[test]
    fn dataset_drift_fires_on_k_of_n_verdicts_and_ignores_windows_without_one() {
        let condition = Condition::DatasetDrift(DatasetDriftCondition { k: 2, n: 3 });
        let mut e = engine(vec![rule("dataset", 0, condition)]);
        // A single drifting window (a false alarm at rate alpha) does not fire; a
        // window without a verdict neither counts nor breaks the run.
        let verdicts = [Some(true), Some(false), Some(false), Some(true), None, Some(true)];
        let mut all = Vec::new();
        for (i, verdict) in verdicts.into_iter().enumerate() {
            let mut w = window("m", i as i64);
            w.dataset_drift =
                verdict.map(|drifted| DatasetVerdict { drifted, features: vec!["age".to_owned()] });
            // `income` drifted on a statistic that does not decide: not evidence.
            w.features = vec![psi("age", 0.5), psi("income", 0.5)];
            for d in e.evaluate(&w) {
                all.push((i, d));
            }
        }
        assert_eq!(all.len(), 1, "{all:?}");
        let (i, fire) = &all[0];
        assert_eq!((*i, fire.kind), (5, DecisionKind::Fire));
        assert_eq!(fire.evidence.condition, ConditionKind::DatasetDrift);
        assert_eq!(fire.evidence.signals[0].hits, Some(2));
        assert!(fire.evidence.summary.ends_with("drifted now: age."), "{}", fire.evidence.summary);
        assert_eq!(fire.evidence.signals.len(), 2, "the verdict and age's score");
        // Back to no drift: still 2 of the last 3, then resolved below k.
        let mut w = window("m", 6);
        w.dataset_drift = Some(DatasetVerdict::default());
        assert!(e.evaluate(&w).is_empty());
        let mut w = window("m", 7);
        w.dataset_drift = Some(DatasetVerdict::default());
        assert_eq!(kinds(&e.evaluate(&w)), vec![DecisionKind::Resolve]);
        // k > n is a configuration error.
        let bad = Condition::DatasetDrift(DatasetDriftCondition { k: 4, n: 3 });
        let config = PolicyConfig { defaults: vec![rule("x", 0, bad)], models: BTreeMap::new() };
        assert!(PolicyEngine::new(&config).is_err());
    }

    #[test]
    fn flapping_feature_drift_with_k_of_n_fires_once_and_stays_firing() {
        // 2 of 4 with a feature that drifts every other window: every 4 consecutive
        // windows hold exactly 2 hits once established, so one fire and no resolve.
        let mut e = engine(vec![drift_rule(2, 4, None, None, None)]);
        let mut all = Vec::new();
        for i in 0..50 {
            let mut w = window("m", i);
            w.features = vec![psi("age", if i % 2 == 0 { 0.5 } else { 0.05 })];
            all.extend(e.evaluate(&w));
        }
        assert_eq!(kinds(&all), vec![DecisionKind::Fire]);
        assert_eq!(all[0].key.window_start, window("m", 2).window_start);
    }

    #[test]
    fn cooldown_suppresses_refire_until_elapsed_then_fires_if_still_breaching() {
        let mut e = engine(vec![share_rule(300, None)]);
        let seq = [0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9];
        let mut out = Vec::new();
        for (i, s) in seq.iter().enumerate() {
            let mut w = window("m", i as i64);
            w.dataset_drift_share = *s;
            out.push(kinds(&e.evaluate(&w)));
        }
        use DecisionKind::*;
        // Fired at window 0 (end 00:01); cooldown 5 min → allowed again from end 00:06 = window 5.
        assert_eq!(
            out,
            vec![vec![Fire], vec![Resolve], vec![], vec![], vec![], vec![Fire], vec![]]
        );
    }

    #[test]
    fn hysteresis_resolves_only_past_the_resolve_bound() {
        let quality = |resolve| {
            rule(
                "acc",
                0,
                Condition::Quality(MetricCondition {
                    metric: "accuracy".to_owned(),
                    below: Some(0.80),
                    above: None,
                    resolve,
                }),
            )
        };
        let run = |resolve| {
            let mut e = engine(vec![quality(resolve)]);
            [0.79, 0.82, 0.84, 0.86]
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut w = window("m", i as i64);
                    w.quality.insert("accuracy".to_owned(), *a);
                    kinds(&e.evaluate(&w))
                })
                .collect::<Vec<_>>()
        };
        use DecisionKind::*;
        assert_eq!(run(Some(0.85)), vec![vec![Fire], vec![], vec![], vec![Resolve]]);
        assert_eq!(run(None), vec![vec![Fire], vec![Resolve], vec![], vec![]]);
    }

    #[test]
    fn hysteresis_on_drift_share() {
        let mut e = engine(vec![share_rule(0, Some(0.3))]);
        let seq = [0.6, 0.4, 0.35, 0.6, 0.29];
        let got: Vec<_> = seq
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut w = window("m", i as i64);
                w.dataset_drift_share = *s;
                kinds(&e.evaluate(&w))
            })
            .collect();
        use DecisionKind::*;
        assert_eq!(got, vec![vec![Fire], vec![], vec![], vec![], vec![Resolve]]);
    }

    fn run_drift(e: &mut PolicyEngine, pattern: &[&[(&str, f64)]]) -> Vec<Vec<DecisionKind>> {
        pattern
            .iter()
            .enumerate()
            .map(|(i, feats)| {
                let mut w = window("m", i as i64);
                w.features = feats.iter().map(|(f, s)| psi(f, *s)).collect();
                kinds(&e.evaluate(&w))
            })
            .collect()
    }

    #[test]
    fn k_of_n_needs_k_hits_within_the_last_n_windows() {
        use DecisionKind::*;
        const D: &[(&str, f64)] = &[("age", 0.5)];
        const C: &[(&str, f64)] = &[("age", 0.01)];
        // 3 of 5: hits at 0, 2, 4 → third hit within 5 windows fires at window 4.
        let mut e = engine(vec![drift_rule(3, 5, None, None, None)]);
        assert_eq!(
            run_drift(&mut e, &[D, C, D, C, D]),
            vec![vec![], vec![], vec![], vec![], vec![Fire]]
        );
        // Hits spread so that no 5 consecutive windows hold 3: never fires.
        let mut e = engine(vec![drift_rule(3, 5, None, None, None)]);
        let spread = [D, D, C, C, C, D, C, C, C, D, D, C, C, C];
        assert!(run_drift(&mut e, &spread).iter().all(Vec::is_empty));
        // Once hits fall below K again it resolves (no score hysteresis configured).
        let mut e = engine(vec![drift_rule(2, 3, None, None, None)]);
        assert_eq!(
            run_drift(&mut e, &[D, D, C, C]),
            vec![vec![], vec![Fire], vec![], vec![Resolve]]
        );
    }

    #[test]
    fn feature_missing_from_a_window_counts_as_no_hit() {
        use DecisionKind::*;
        const D: &[(&str, f64)] = &[("age", 0.5)];
        const NONE: &[(&str, f64)] = &[];
        let mut e = engine(vec![drift_rule(2, 2, None, None, None)]);
        assert_eq!(
            run_drift(&mut e, &[D, NONE, D, D, NONE]),
            vec![vec![], vec![], vec![], vec![Fire], vec![Resolve]]
        );
    }

    #[test]
    fn min_features_and_named_feature() {
        use DecisionKind::*;
        const ONE: &[(&str, f64)] = &[("age", 0.5), ("income", 0.01)];
        const TWO: &[(&str, f64)] = &[("age", 0.5), ("income", 0.5)];
        let mut e = engine(vec![drift_rule(1, 1, Some(2), None, None)]);
        assert_eq!(run_drift(&mut e, &[ONE, TWO, ONE]), vec![vec![], vec![Fire], vec![Resolve]]);

        let mut e = engine(vec![drift_rule(1, 1, None, Some("income"), None)]);
        let got = run_drift(&mut e, &[ONE, TWO]);
        assert_eq!(got, vec![vec![], vec![Fire]]);
    }

    #[test]
    fn feature_drift_evidence_lists_hot_features() {
        let mut e = engine(vec![drift_rule(1, 2, Some(2), None, None)]);
        let mut w = window("m", 0);
        w.features = vec![psi("income", 0.31), psi("age", 0.25), psi("zip", 0.01)];
        let d = e.evaluate(&w);
        assert_eq!(d.len(), 1);
        let ev = &d[0].evidence;
        assert_eq!(ev.features, vec!["age", "income"]);
        assert_eq!(ev.signals.len(), 2, "zip never drifted, so it is not tracked");
        assert_eq!(ev.signals[1].value, 0.31);
        assert_eq!(ev.signals[1].threshold, 0.2);
        assert_eq!((ev.signals[1].hits, ev.signals[1].of), (Some(1), Some(2)));
        assert_eq!(
            ev.summary,
            "2 feature(s) drifted (psi) in at least 1 of the last 2 windows: age, income."
        );
    }

    #[test]
    fn feature_score_hysteresis_for_distances_and_p_values() {
        use DecisionKind::*;
        // PSI: drift at >= 0.2, resolve only below 0.1.
        let mut e = engine(vec![drift_rule(1, 1, None, None, Some(0.1))]);
        let got = run_drift(
            &mut e,
            &[&[("age", 0.3)], &[("age", 0.15)], &[("age", 0.12)], &[("age", 0.05)]],
        );
        assert_eq!(got, vec![vec![Fire], vec![], vec![], vec![Resolve]]);

        // KS p-value: drift at p <= 0.05, resolve only above 0.2.
        let mut e = engine(vec![drift_rule(1, 1, None, None, Some(0.2))]);
        let ks = |p: f64| FeatureScore {
            feature: "age".to_owned(),
            statistic: "psi".to_owned(), // the rule's statistic; the direction comes from resolve vs threshold
            score: p,
            threshold: 0.05,
            drifted: p <= 0.05,
        };
        let got: Vec<_> = [0.01, 0.1, 0.3]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut w = window("m", i as i64);
                w.features = vec![ks(*p)];
                kinds(&e.evaluate(&w))
            })
            .collect();
        assert_eq!(got, vec![vec![Fire], vec![], vec![Resolve]]);
    }

    #[test]
    fn other_statistics_are_ignored() {
        let mut e = engine(vec![drift_rule(1, 1, None, None, None)]);
        let mut w = window("m", 0);
        w.features = vec![FeatureScore {
            feature: "age".to_owned(),
            statistic: "ks".to_owned(),
            score: 0.0,
            threshold: 0.05,
            drifted: true,
        }];
        assert!(e.evaluate(&w).is_empty());
    }

    #[test]
    fn staying_breached_produces_nothing_new_and_keys_are_stable() {
        let mut e = engine(vec![share_rule(0, None)]);
        let mut out = Vec::new();
        for i in 0..5 {
            let mut w = window("m", i);
            w.dataset_drift_share = 0.8;
            out.extend(e.evaluate(&w));
        }
        assert_eq!(out.len(), 1);
        let key = &out[0].key;
        assert_eq!(key.to_string(), "m/v1/share/2024-05-01T00:00:00Z");
        assert_eq!(out[0].evidence.signals[0].name, "dataset_drift_share");
        assert_eq!(out[0].dashboard_url.as_deref(), Some("https://grafana.example/d/drift"));
    }

    #[test]
    fn resolve_refers_to_the_fired_window() {
        let mut e = engine(vec![share_rule(0, None)]);
        let mut w0 = window("m", 0);
        w0.dataset_drift_share = 0.8;
        let mut w3 = window("m", 3);
        w3.dataset_drift_share = 0.1;
        assert_eq!(e.evaluate(&w0).len(), 1);
        let r = e.evaluate(&w3);
        assert_eq!(r[0].kind, DecisionKind::Resolve);
        assert_eq!(r[0].fired_window, Some(Window { start: w0.window_start, end: w0.window_end }));
        assert_eq!(r[0].key.window_start, w3.window_start);
    }

    #[test]
    fn duplicate_and_stale_windows_are_ignored() {
        let mut e = engine(vec![share_rule(0, None)]);
        let mut w = window("m", 5);
        w.dataset_drift_share = 0.8;
        assert_eq!(e.evaluate(&w).len(), 1);
        let mut again = w.clone();
        again.dataset_drift_share = 0.0;
        assert!(e.evaluate(&again).is_empty(), "redelivered window");
        let mut older = window("m", 2);
        older.dataset_drift_share = 0.0;
        assert!(e.evaluate(&older).is_empty(), "late window");
    }

    #[test]
    fn models_and_rules_have_independent_state() {
        let other = rule(
            "dq",
            3600,
            Condition::DataQuality(DataQualityCondition {
                feature: None,
                share_above: 0.1,
                resolve: None,
            }),
        );
        let mut e = engine(vec![share_rule(3600, None), other]);
        let mut a = window("a", 0);
        a.dataset_drift_share = 0.9;
        a.data_quality.insert("age".to_owned(), 0.5);
        let mut b = window("b", 0);
        b.dataset_drift_share = 0.9;
        let da = e.evaluate(&a);
        let db = e.evaluate(&b);
        assert_eq!(da.iter().map(|d| d.key.rule.as_str()).collect::<Vec<_>>(), vec!["share", "dq"]);
        assert_eq!(da[1].evidence.features, vec!["age"]);
        assert_eq!(db.len(), 1);
        assert_eq!(db[0].key.model, "b");
    }

    #[test]
    fn missing_metric_holds_state() {
        let fair = rule(
            "dp",
            0,
            Condition::Fairness(MetricCondition {
                metric: "dp_ratio".to_owned(),
                below: Some(0.8),
                above: None,
                resolve: None,
            }),
        );
        let mut e = engine(vec![fair]);
        let mut w0 = window("m", 0);
        w0.fairness.insert("dp_ratio".to_owned(), 0.6);
        assert_eq!(kinds(&e.evaluate(&w0)), vec![DecisionKind::Fire]);
        assert!(e.evaluate(&window("m", 1)).is_empty(), "no metric: no resolve");
        let mut w2 = window("m", 2);
        w2.fairness.insert("dp_ratio".to_owned(), f64::NAN);
        assert!(e.evaluate(&w2).is_empty(), "NaN: no resolve");
        let mut w3 = window("m", 3);
        w3.fairness.insert("dp_ratio".to_owned(), 0.9);
        assert_eq!(kinds(&e.evaluate(&w3)), vec![DecisionKind::Resolve]);
    }

    #[test]
    fn data_quality_named_feature_and_any() {
        use DecisionKind::*;
        let dq = |feature: Option<&str>| {
            rule(
                "dq",
                0,
                Condition::DataQuality(DataQualityCondition {
                    feature: feature.map(str::to_owned),
                    share_above: 0.1,
                    resolve: Some(0.05),
                }),
            )
        };
        let shares = [[0.2, 0.0], [0.07, 0.0], [0.01, 0.3], [0.01, 0.01]];
        let run = |e: &mut PolicyEngine| {
            shares
                .iter()
                .enumerate()
                .map(|(i, [age, zip])| {
                    let mut w = window("m", i as i64);
                    w.data_quality.insert("age".to_owned(), *age);
                    w.data_quality.insert("zip".to_owned(), *zip);
                    kinds(&e.evaluate(&w))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            run(&mut engine(vec![dq(Some("age"))])),
            vec![vec![Fire], vec![], vec![Resolve], vec![]]
        );
        // Any feature: zip breaches in window 2 while the rule is still firing for age.
        assert_eq!(
            run(&mut engine(vec![dq(None)])),
            vec![vec![Fire], vec![], vec![], vec![Resolve]]
        );
    }

    #[test]
    fn model_rules_replace_defaults_by_name_and_can_opt_out() {
        let mut models = BTreeMap::new();
        models.insert(
            "fraud".to_owned(),
            ModelPolicyConfig {
                inherit_defaults: true,
                rules: vec![share_rule(0, Some(0.2)), drift_rule(1, 1, None, None, None)],
            },
        );
        models.insert(
            "quiet".to_owned(),
            ModelPolicyConfig { inherit_defaults: false, rules: Vec::new() },
        );
        let cfg = PolicyConfig { defaults: vec![share_rule(60, None)], models };
        let e = PolicyEngine::new(&cfg).expect("valid");
        let names = |m: &str| -> Vec<(String, i64)> {
            e.models
                .get(m)
                .unwrap_or(&e.defaults)
                .iter()
                .map(|r| (r.name.clone(), r.cooldown.num_seconds()))
                .collect()
        };
        assert_eq!(names("fraud"), vec![("share".to_owned(), 0), ("drift".to_owned(), 0)]);
        assert_eq!(names("other"), vec![("share".to_owned(), 60)]);
        assert!(names("quiet").is_empty());
    }

    #[test]
    fn state_round_trips_and_keeps_the_cooldown() {
        let cfg = PolicyConfig { defaults: vec![share_rule(3600, None)], models: BTreeMap::new() };
        let mut e = PolicyEngine::new(&cfg).expect("valid");
        let mut w = window("m", 0);
        w.dataset_drift_share = 0.9;
        assert_eq!(e.evaluate(&w).len(), 1);
        w = window("m", 1);
        assert_eq!(e.evaluate(&w).len(), 1, "resolve");

        let saved = serde_json::to_string(&NonFinite(e.state())).expect("serialise");
        let restored: PolicyState = serde_json::from_str(&saved).expect("deserialise");
        let mut e2 = PolicyEngine::with_state(&cfg, restored).expect("valid");
        let mut w = window("m", 2);
        w.dataset_drift_share = 0.9;
        assert!(e2.evaluate(&w).is_empty(), "cooldown survives the restart");
        assert_eq!(
            PolicyEngine::new(&cfg).expect("valid").evaluate(&w).len(),
            1,
            "fresh state fires"
        );
    }

    #[test]
    fn state_with_an_infinite_score_round_trips() {
        let mut e = engine(vec![drift_rule(2, 3, None, None, None)]);
        let mut w = window("m", 0);
        w.features = vec![psi("age", f64::INFINITY)];
        e.evaluate(&w);
        let saved = serde_json::to_string(&NonFinite(e.state())).expect("serialise");
        assert!(saved.contains(r#""score":"Infinity""#), "{saved}");
        let restored: PolicyState = serde_json::from_str(&saved).expect("deserialise");
        assert_eq!(&restored, e.state());
    }

    #[test]
    fn config_parses_with_tagged_conditions_and_rejects_unknown_fields() {
        let json = r#"{
            "defaults": [
                {"name": "drift", "when": {"kind": "feature_drift", "statistic": "psi", "k": 2, "n": 4, "min_features": 2}},
                {"name": "acc", "severity": "critical", "cooldown_secs": 60,
                 "when": {"kind": "quality", "metric": "accuracy", "below": 0.8, "resolve": 0.85}}
            ],
            "models": {"fraud": {"rules": [{"name": "dq", "when": {"kind": "data_quality", "share_above": 0.1}}]}}
        }"#;
        let cfg: PolicyConfig = serde_json::from_str(json).expect("parses");
        assert_eq!(cfg.defaults[0].cooldown_secs, 21600, "documented default");
        assert_eq!(cfg.defaults[0].severity, Severity::Warning, "documented default");
        assert!(cfg.models["fraud"].inherit_defaults, "documented default");
        PolicyEngine::new(&cfg).expect("valid");

        let typo = r#"{"defaults": [{"name": "x", "when": {"kind": "dataset_drift_share", "at_leest": 0.5}}]}"#;
        let err = serde_json::from_str::<PolicyConfig>(typo).expect_err("unknown field");
        assert!(err.to_string().contains("at_leest"), "{err}");
        let typo = r#"{"defaults": [{"name": "x", "cooldown": 5, "when": {"kind": "dataset_drift_share", "at_least": 0.5}}]}"#;
        assert!(serde_json::from_str::<PolicyConfig>(typo).is_err());
    }

    #[test]
    fn validation_reports_every_problem() {
        let bad = PolicyConfig {
            defaults: vec![
                drift_rule(6, 5, Some(2), Some("age"), Some(f64::NAN)),
                rule(
                    "share",
                    0,
                    Condition::DatasetDriftShare(DatasetDriftShareCondition {
                        at_least: f64::NAN,
                        resolve: None,
                    }),
                ),
                rule(
                    "share",
                    0,
                    Condition::DatasetDriftShare(DatasetDriftShareCondition {
                        at_least: 0.5,
                        resolve: Some(0.7),
                    }),
                ),
                rule(
                    "acc",
                    0,
                    Condition::Quality(MetricCondition {
                        metric: "accuracy".into(),
                        below: Some(0.8),
                        above: Some(0.9),
                        resolve: None,
                    }),
                ),
                rule(
                    "mae",
                    0,
                    Condition::Quality(MetricCondition {
                        metric: "mae".into(),
                        below: None,
                        above: Some(3.0),
                        resolve: Some(4.0),
                    }),
                ),
                rule(
                    "has space",
                    0,
                    Condition::DataQuality(DataQualityCondition {
                        feature: None,
                        share_above: 1.5,
                        resolve: None,
                    }),
                ),
            ],
            models: BTreeMap::new(),
        };
        let err = PolicyEngine::new(&bad).expect_err("invalid");
        let crate::Error::InvalidConfig { problems } = &err else { panic!("{err}") };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for want in [
            "policies.defaults[0].when.k",
            "policies.defaults[0].when.min_features",
            "policies.defaults[0].when.resolve",
            "policies.defaults[1].when.at_least",
            "policies.defaults[2].name",
            "policies.defaults[2].when.resolve",
            "policies.defaults[3].when",
            "policies.defaults[4].when.resolve",
            "policies.defaults[5].name",
            "policies.defaults[5].when.share_above",
        ] {
            assert!(fields.contains(&want), "missing {want} in {fields:?}");
        }
        assert!(err.to_string().contains("duplicate rule name"), "{err}");
    }

    #[test]
    fn model_rule_problems_are_reported_under_the_model() {
        let mut models = BTreeMap::new();
        models.insert(
            "fraud".to_owned(),
            ModelPolicyConfig {
                inherit_defaults: true,
                rules: vec![drift_rule(0, 5, None, None, None)],
            },
        );
        let err = PolicyEngine::new(&PolicyConfig { defaults: vec![share_rule(0, None)], models })
            .expect_err("invalid");
        let crate::Error::InvalidConfig { problems } = &err else { panic!("{err}") };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "policies.models.fraud.rules[0].when.k");
    }
}
