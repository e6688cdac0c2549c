//! Payloads to Arrow: JSON events and Arrow IPC batches, gathered per model
//! into record batches of the model's [`ModelPlan`] schema.
//!
//! Bad data is counted and skipped, never fatal: every rejected event (or
//! message, when a message cannot be read at all) is counted under one
//! [`Reject`] reason, and a JSON event is checked completely before any of
//! its values is appended, so a bad event never leaves a partial row behind.
//!
//! Missing features are not an error (they become nulls, reported as the
//! feature's missing share); a missing model or event time is.
//!
//! # JSON: a fast path and a slow path
//!
//! Each JSON event is first read by a strict reader of its own (`scan`)
//! straight into the model's row builders: no tree, no allocation per event,
//! each number parsed once. It handles the ordinary event; anything else (a
//! rejection, a surrogate escape, a float where a label belongs, deep
//! nesting...) makes it give up before it appends anything, and the event is
//! read again by the slow path, which parses into a borrowed `Json` tree with
//! serde_json and decides, with the rejection's reason and detail. Both read
//! values alike (the tests compare them event by event), so which path took
//! an event never shows.
//!
//! Decoding is a pure function of payload bytes and the model catalogue: it
//! may use [`crate::stream::catalog`] and the event settings of
//! [`crate::config`], and must not touch Kafka, metrics or the runtime. The
//! reasons a message is rejected ([`Reject`]) are defined here, with their
//! label values.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int64Array,
    Int64Builder, RecordBatch, StringArray, StringBuilder, UInt32Array, new_null_array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, TimeUnit as ArrowTimeUnit};
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamReader;
use driftgauge_detectors::column::ColumnKind;
use driftgauge_detectors::quality::PositiveLabel;
use rustc_hash::FxHashMap;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::config::{Config, PayloadFormat, TimeUnit};
use crate::stream::catalog::{Catalog, ColumnSource, ModelPlan};

mod scan;

use scan::{Fast, GiveUp, Scanner, Text, Tok};

/// Why an event or message was rejected (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Not JSON, or not a JSON object.
    NotJson,
    /// No model or event time.
    MissingField,
    /// A field of the wrong type (a string where a number belongs, a bad time).
    WrongType,
    /// A model without an active baseline.
    UnknownModel,
    /// A payload over `kafka.max_message_bytes`.
    Oversize,
    /// Not a readable Arrow IPC stream.
    BadArrow,
    /// A message without a payload.
    Empty,
}

impl Reject {
    /// Every reason, in the order of [`Reject::index`].
    pub const ALL: [Reject; 7] = [
        Self::NotJson,
        Self::MissingField,
        Self::WrongType,
        Self::UnknownModel,
        Self::Oversize,
        Self::BadArrow,
        Self::Empty,
    ];

    /// The label value (`reason` of `driftgauge_events_rejected_total`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotJson => "not_json",
            Self::MissingField => "missing_field",
            Self::WrongType => "wrong_type",
            Self::UnknownModel => "unknown_model",
            Self::Oversize => "oversize",
            Self::BadArrow => "bad_arrow",
            Self::Empty => "empty",
        }
    }

    /// Position in [`Reject::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::NotJson => 0,
            Self::MissingField => 1,
            Self::WrongType => 2,
            Self::UnknownModel => 3,
            Self::Oversize => 4,
            Self::BadArrow => 5,
            Self::Empty => 6,
        }
    }
}

/// A message rejected as a whole: why, and what exactly was wrong (for the
/// dead-letter topic; see [`crate::stream::source::dead_letter`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The counted reason.
    pub reason: Reject,
    /// What was wrong and where, e.g. ``feature `x` is a string, not a number``.
    pub detail: String,
}

impl Rejection {
    fn new(reason: Reject, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

/// Counts since the last [`Decoder::take_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    /// Events gathered.
    pub decoded: u64,
    /// Rejected events (or messages) per reason, indexed by [`Reject::index`].
    pub rejected: [u64; 7],
}

/// The decoding settings taken from the configuration.
#[derive(Debug, Clone)]
pub struct DecodeSettings {
    model_path: Vec<String>,
    version_path: Vec<String>,
    time_path: Vec<String>,
    time_unit: TimeUnit,
    features_path: Vec<String>,
    score_path: Vec<String>,
    label_path: Vec<String>,
    actual_path: Vec<String>,
    attributes_path: Vec<String>,
    /// Field names as written, for Arrow column lookups.
    names: FieldNames,
    max_message_bytes: usize,
    threshold: f64,
    positive: String,
    max_groups: usize,
    /// The paths of the [`Role`]s, for the JSON fast path.
    json_paths: [Vec<String>; ROLES],
    /// Whether the JSON fast path may run: not when one path is a prefix of
    /// another (`a` and `a.b`), which it does not handle.
    fast_json: bool,
}

/// The parts of a JSON event the fast path looks for, as indices into
/// [`DecodeSettings::json_paths`] and bits of a role mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Model = 0,
    Version = 1,
    Time = 2,
    Features = 3,
    Score = 4,
    Label = 5,
    Actual = 6,
    Attributes = 7,
}

const ROLES: usize = 8;

impl Role {
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

#[derive(Debug, Clone)]
struct FieldNames {
    model: String,
    version: String,
    time: String,
    features: String,
    score: String,
    label: String,
    actual: String,
    attributes: String,
}

fn path(field: &str) -> Vec<String> {
    if field.is_empty() { Vec::new() } else { field.split('.').map(str::to_owned).collect() }
}

impl DecodeSettings {
    /// Settings from a configuration.
    pub fn new(config: &Config) -> Self {
        let e = &config.event;
        Self {
            model_path: path(&e.model_field),
            version_path: path(&e.version_field),
            time_path: path(&e.time_field),
            time_unit: e.time_unit,
            features_path: path(&e.features_field),
            score_path: path(&e.score_field),
            label_path: path(&e.label_field),
            actual_path: path(&e.actual_field),
            attributes_path: path(&e.attributes_field),
            names: FieldNames {
                model: e.model_field.clone(),
                version: e.version_field.clone(),
                time: e.time_field.clone(),
                features: e.features_field.clone(),
                attributes: e.attributes_field.clone(),
                score: e.score_field.clone(),
                label: e.label_field.clone(),
                actual: e.actual_field.clone(),
            },
            max_message_bytes: config.kafka.max_message_bytes,
            threshold: config.fairness.threshold,
            positive: canonical_label(&match &config.fairness.positive_label {
                PositiveLabel::Bool(b) => b.to_string(),
                PositiveLabel::Int(i) => i.to_string(),
                PositiveLabel::Str(s) => s.clone(),
            })
            .into_owned(),
            max_groups: config.fairness.max_groups,
            json_paths: Default::default(),
            fast_json: false,
        }
        .with_json_paths()
    }

    fn with_json_paths(mut self) -> Self {
        self.json_paths = [
            self.model_path.clone(),
            self.version_path.clone(),
            self.time_path.clone(),
            self.features_path.clone(),
            self.score_path.clone(),
            self.label_path.clone(),
            self.actual_path.clone(),
            self.attributes_path.clone(),
        ];
        let paths = &self.json_paths;
        self.fast_json = paths
            .iter()
            .all(|a| paths.iter().all(|b| a.is_empty() || b.len() <= a.len() || !b.starts_with(a)));
        self
    }
}

/// Labels compare in one canonical form: booleans as `1` / `0`.
fn canonical_label(s: &str) -> std::borrow::Cow<'_, str> {
    if s.eq_ignore_ascii_case("true") {
        "1".into()
    } else if s.eq_ignore_ascii_case("false") {
        "0".into()
    } else {
        s.into()
    }
}

/// Caps the distinct groups of one attribute; later values share `other`.
#[derive(Debug, Default)]
struct GroupNames {
    known: std::collections::HashSet<String>,
}

/// The group label of values beyond `fairness.max_groups`.
pub const OTHER_GROUP: &str = "other";

impl GroupNames {
    fn name<'a>(&mut self, value: &'a str, cap: usize) -> &'a str {
        if self.known.contains(value) {
            value
        } else if self.known.len() < cap && value != OTHER_GROUP {
            self.known.insert(value.to_owned());
            value
        } else {
            OTHER_GROUP
        }
    }
}

/// Builders of one model's rows.
struct RowBuilder {
    plan: Arc<ModelPlan>,
    columns: Vec<ColumnBuilder>,
    time: Int64Builder,
    predicted: BooleanBuilder,
    actual: BooleanBuilder,
    attributes: Vec<StringBuilder>,
    rows: usize,
    /// Feature name to column index (feature columns only), for the JSON fast path.
    feature_index: HashMap<Box<str>, usize>,
    /// The column of the features object's n-th key in the last event: events
    /// of one producer list their features in one order, so the name usually
    /// matches without a hash lookup.
    feature_order: Vec<usize>,
}

enum ColumnBuilder {
    Numeric(Float64Builder),
    Categorical(StringBuilder),
}

impl RowBuilder {
    /// Appends an event's time and its predicted and actual outcomes: the
    /// prediction is the score against the threshold, else the label.
    fn append_outcome(
        &mut self,
        time_ms: i64,
        score: Option<f64>,
        label: Option<&str>,
        actual: Option<&str>,
        settings: &DecodeSettings,
    ) {
        self.time.append_value(time_ms);
        let predicted = match (score, label) {
            (Some(score), _) => Some(score >= settings.threshold),
            (None, Some(label)) => Some(label == settings.positive),
            (None, None) => None,
        };
        self.predicted.append_option(predicted);
        self.actual.append_option(actual.map(|a| a == settings.positive));
    }

    fn new(plan: Arc<ModelPlan>) -> Self {
        let columns = plan
            .columns
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Numeric => ColumnBuilder::Numeric(Float64Builder::new()),
                ColumnKind::Categorical => ColumnBuilder::Categorical(StringBuilder::new()),
            })
            .collect();
        let attributes = plan.attributes.iter().map(|_| StringBuilder::new()).collect();
        let feature_index = plan
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.source == ColumnSource::Feature)
            .map(|(i, c)| (Box::from(c.name.as_str()), i))
            .collect();
        Self {
            plan,
            columns,
            time: Int64Builder::new(),
            predicted: BooleanBuilder::new(),
            actual: BooleanBuilder::new(),
            attributes,
            rows: 0,
            feature_index,
            feature_order: Vec::new(),
        }
    }

    /// The column of the feature `name`, the `position`-th key of its event's
    /// features object; `None` for a feature the baseline does not have.
    #[inline]
    fn feature_column(&mut self, position: usize, name: &str) -> Option<usize> {
        if let Some(&guess) = self.feature_order.get(position) {
            if let Some(column) = self.plan.columns.get(guess) {
                if same_text(&column.name, name) && column.source == ColumnSource::Feature {
                    return Some(guess);
                }
            }
        }
        let found = self.feature_index.get(name).copied();
        if self.feature_order.len() <= position {
            self.feature_order.resize(position + 1, usize::MAX);
        }
        self.feature_order[position] = found.unwrap_or(usize::MAX);
        found
    }

    fn finish(&mut self) -> Option<RecordBatch> {
        if self.rows == 0 {
            return None;
        }
        // A finished builder starts again empty and would grow by doubling,
        // copying as it goes: start the next batch at this one's size.
        let rows = std::mem::take(&mut self.rows);
        let mut arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                ColumnBuilder::Numeric(b) => {
                    Arc::new(std::mem::replace(b, Float64Builder::with_capacity(rows)).finish())
                        as ArrayRef
                }
                ColumnBuilder::Categorical(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        arrays.push(Arc::new(
            std::mem::replace(&mut self.time, Int64Builder::with_capacity(rows)).finish(),
        ));
        arrays.push(Arc::new(self.predicted.finish()));
        arrays.push(Arc::new(self.actual.finish()));
        arrays.extend(self.attributes.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        // The builders follow the plan's schema by construction.
        RecordBatch::try_new(Arc::clone(&self.plan.schema), arrays).ok()
    }
}

/// Decodes payloads and gathers events per model until [`Decoder::take_batches`].
pub struct Decoder {
    settings: Arc<DecodeSettings>,
    catalog: Arc<Catalog>,
    builders: FxHashMap<Arc<str>, RowBuilder>,
    completed: Vec<(Arc<ModelPlan>, RecordBatch)>,
    groups: Vec<GroupNames>,
    counts: DecodeCounts,
    buffered: usize,
    /// The first rejection within the Arrow IPC message being decoded.
    first_rejection: Option<Rejection>,
    /// Buffers of the JSON fast path, reused from event to event.
    fast: FastBuffers,
    /// Models whose events were rejected for want of an active baseline, and
    /// logged once (at most [`MAX_UNKNOWN_MODELS_LOGGED`] names).
    unknown_models: rustc_hash::FxHashSet<Box<str>>,
}

/// At most this many distinct model names without a baseline are logged by
/// one decoder: model names come from the data, so garbage must not flood the
/// log. Every rejected event is counted regardless.
const MAX_UNKNOWN_MODELS_LOGGED: usize = 100;

/// What the JSON fast path gathers of one event before it appends it.
#[derive(Debug, Default)]
struct FastBuffers {
    /// Unescaped strings; [`Text::Scratch`] ranges point here.
    scratch: String,
    /// The value found at each [`Role`]'s path (objects as [`Tok::Object`]).
    roles: [Option<Tok>; ROLES],
    /// The features object's members, in payload order.
    features: Vec<(Text, Tok)>,
    /// The attributes object's members, in payload order.
    attributes: Vec<(Text, Tok)>,
    /// Each plan column's value, by column index.
    raw: Vec<Option<Tok>>,
    /// Each plan column's value, checked against the column's kind.
    cells: Vec<Cell>,
    /// Each attribute's value.
    attribute_cells: Vec<Cell>,
}

/// A checked value, ready to append.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Number(f64),
    Text(Text),
    Static(&'static str),
}

impl FastBuffers {
    /// Forgets what the roles of `mask` found (a key given again replaces it).
    fn clear(&mut self, mask: u8) {
        for (r, role) in self.roles.iter_mut().enumerate() {
            if mask & (1 << r) != 0 {
                *role = None;
            }
        }
        if mask & Role::Features.bit() != 0 {
            self.features.clear();
        }
        if mask & Role::Attributes.bit() != 0 {
            self.attributes.clear();
        }
    }
}

/// Reads the members of an object (its `{` consumed, not empty), keeping
/// the values of the roles in `mask` whose paths continue at `depth`.
fn scan_members(
    scanner: &mut Scanner<'_>,
    found: &mut FastBuffers,
    paths: &[Vec<String>; ROLES],
    mask: u8,
    depth: usize,
) -> Fast<()> {
    loop {
        let key = scanner.key(&mut found.scratch)?;
        let (mut leaf, mut inner) = (0u8, 0u8);
        {
            let key = Scanner::text(scanner.payload(), &found.scratch, key);
            for (r, path) in paths.iter().enumerate() {
                if mask & (1 << r) != 0 && path.get(depth).is_some_and(|p| same_text(p, key)) {
                    if path.len() == depth + 1 {
                        leaf |= 1 << r;
                    } else {
                        inner |= 1 << r;
                    }
                }
            }
        }
        let level = depth as u32 + 1;
        if leaf == 0 && inner == 0 {
            scanner.value(&mut found.scratch, level)?;
        } else if inner != 0 {
            // Of a key given twice the last counts, as in the slow path.
            found.clear(inner);
            if scanner.value_or_open_object(&mut found.scratch, level)? == Tok::Object
                && !scanner.begin_object()?
            {
                scan_members(scanner, found, paths, inner, depth + 1)?;
            }
        } else {
            found.clear(leaf);
            let objects = leaf & (Role::Features.bit() | Role::Attributes.bit());
            let tok = if objects == 0 {
                scanner.value(&mut found.scratch, level)?
            } else {
                let tok = scanner.value_or_open_object(&mut found.scratch, level)?;
                if tok == Tok::Object {
                    let entries = if objects == Role::Features.bit() {
                        &mut found.features
                    } else if objects == Role::Attributes.bit() {
                        &mut found.attributes
                    } else {
                        return Err(GiveUp);
                    };
                    if !scanner.begin_object()? {
                        loop {
                            let key = scanner.key(&mut found.scratch)?;
                            let value = scanner.value(&mut found.scratch, level + 1)?;
                            entries.push((key, value));
                            if !scanner.more_members()? {
                                break;
                            }
                        }
                    }
                }
                tok
            };
            for (r, role) in found.roles.iter_mut().enumerate() {
                if leaf & (1 << r) != 0 {
                    *role = Some(tok);
                }
            }
        }
        if !scanner.more_members()? {
            return Ok(());
        }
    }
}

/// `a == b`, inlined: names are short, and a call to `memcmp` per feature
/// name showed in profiles (5% of the fast path).
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// A label's text in its canonical form, as [`json_label`] gives it; gives
/// up where that would take formatting a float.
fn fast_label<'t>(tok: Option<Tok>, text: impl Fn(Text) -> &'t str) -> Fast<Option<Cow<'t, str>>> {
    Ok(match tok {
        None | Some(Tok::Null) => None,
        Some(Tok::Bool(b)) => Some(Cow::Borrowed(if b { "1" } else { "0" })),
        Some(Tok::Int(_, a, b)) => Some(Cow::Borrowed(text(Text::Raw(a, b)))),
        Some(Tok::Str(t)) => Some(canonical_label(text(t))),
        Some(Tok::Num(..) | Tok::Array | Tok::Object) => return Err(GiveUp),
    })
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("buffered", &self.buffered).finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder against the baselines of `catalog`.
    pub fn new(settings: Arc<DecodeSettings>, catalog: Arc<Catalog>) -> Self {
        Self {
            settings,
            catalog,
            builders: FxHashMap::default(),
            completed: Vec::new(),
            groups: Vec::new(),
            counts: DecodeCounts::default(),
            buffered: 0,
            first_rejection: None,
            fast: FastBuffers::default(),
            unknown_models: rustc_hash::FxHashSet::default(),
        }
    }

    /// Logs, once per model name, that its events are rejected because the
    /// model has no active baseline; the metric counts every one.
    fn note_unknown_model(&mut self, model: &str) {
        if self.unknown_models.len() >= MAX_UNKNOWN_MODELS_LOGGED
            || self.unknown_models.contains(model)
        {
            return;
        }
        self.unknown_models.insert(model.into());
        tracing::warn!(
            model,
            "Events for a model with no active baseline are rejected as unknown_model; \
             activate a baseline for it (logged once per model)."
        );
        if self.unknown_models.len() == MAX_UNKNOWN_MODELS_LOGGED {
            tracing::warn!(
                models = MAX_UNKNOWN_MODELS_LOGGED,
                "Further models without a baseline are counted but not logged."
            );
        }
    }

    /// Switches to new baselines; rows gathered under a replaced plan are
    /// completed with that plan first.
    pub fn set_catalog(&mut self, catalog: Arc<Catalog>) {
        let completed = &mut self.completed;
        self.builders.retain(|model, builder| match catalog.get(model) {
            Some(plan) if Arc::ptr_eq(plan, &builder.plan) => true,
            _ => {
                if let Some(batch) = builder.finish() {
                    completed.push((Arc::clone(&builder.plan), batch));
                }
                false
            }
        });
        // A model that loses its baseline again is logged again.
        self.unknown_models.retain(|model| catalog.get(model).is_none());
        self.catalog = catalog;
    }

    /// Events gathered and not yet taken.
    pub fn buffered_rows(&self) -> usize {
        self.buffered
    }

    /// Takes the counts since the last call.
    pub fn take_counts(&mut self) -> DecodeCounts {
        std::mem::take(&mut self.counts)
    }

    /// Takes the gathered batches, one or more per model.
    pub fn take_batches(&mut self) -> Vec<(Arc<ModelPlan>, RecordBatch)> {
        let mut batches = std::mem::take(&mut self.completed);
        let mut models: Vec<&Arc<str>> = self.builders.keys().collect();
        models.sort();
        let models: Vec<Arc<str>> = models.into_iter().cloned().collect();
        for model in models {
            if let Some(builder) = self.builders.get_mut(&model) {
                if let Some(batch) = builder.finish() {
                    batches.push((Arc::clone(&builder.plan), batch));
                }
            }
        }
        self.buffered = 0;
        batches
    }

    fn reject(&mut self, reason: Reject, count: u64) {
        self.counts.rejected[reason.index()] += count;
    }

    /// Counts a rejection within an Arrow IPC message, remembering the first
    /// one's detail (built only then) in case the whole message is rejected.
    fn reject_rows(&mut self, reason: Reject, count: u64, detail: impl FnOnce() -> String) {
        self.reject(reason, count);
        if self.first_rejection.is_none() {
            self.first_rejection = Some(Rejection::new(reason, detail()));
        }
    }

    /// Decodes one message's payload. Bad data is counted here (see
    /// [`Decoder::take_counts`]), never fatal.
    ///
    /// # Errors
    /// The [`Rejection`] when the message as a whole was rejected: a JSON
    /// event that was, or an Arrow IPC message of which no event was
    /// gathered. An Arrow IPC message with some good events is not an error;
    /// its bad rows are only counted.
    pub fn decode(
        &mut self,
        format: PayloadFormat,
        payload: Option<&[u8]>,
    ) -> Result<(), Rejection> {
        let Some(payload) = payload.filter(|p| !p.is_empty()) else {
            return Err(self.rejected(Rejection::new(Reject::Empty, "the message has no payload")));
        };
        let max = self.settings.max_message_bytes;
        if payload.len() > max {
            let detail = format!(
                "the payload of {} bytes is over kafka.max_message_bytes ({max})",
                payload.len()
            );
            return Err(self.rejected(Rejection::new(Reject::Oversize, detail)));
        }
        match format {
            PayloadFormat::Json => self.decode_json(payload).map_err(|r| self.rejected(r)),
            PayloadFormat::ArrowIpc => self.decode_arrow(payload),
        }
    }

    /// Counts a message rejected as a whole.
    fn rejected(&mut self, rejection: Rejection) -> Rejection {
        self.reject(rejection.reason, 1);
        rejection
    }

    /// The fast path, and the slow path where it gives up.
    fn decode_json(&mut self, payload: &[u8]) -> Result<(), Rejection> {
        if self.settings.fast_json && self.decode_json_fast(payload).is_ok() {
            return Ok(());
        }
        self.decode_json_tree(payload)
    }

    /// The fast path (see the [module docs](self)): appends the event, or
    /// gives up having appended nothing.
    fn decode_json_fast(&mut self, payload: &[u8]) -> Fast<()> {
        let Self { settings, catalog, builders, groups, counts, buffered, fast: found, .. } = self;
        let s = &**settings;
        for role in &mut found.roles {
            *role = None;
        }
        found.scratch.clear();
        found.features.clear();
        found.attributes.clear();
        let mut scanner = Scanner::new(payload)?;
        if scanner.begin_object()? {
            return Err(GiveUp);
        }
        scan_members(&mut scanner, found, &s.json_paths, u8::MAX, 0)?;
        scanner.end()?;
        let FastBuffers { scratch, roles, features, attributes, raw, cells, attribute_cells } =
            found;
        let payload = scanner.payload();
        let scratch = scratch.as_str();
        let text = |t: Text| Scanner::text(payload, scratch, t);

        let Some(Tok::Str(model)) = roles[Role::Model as usize] else { return Err(GiveUp) };
        let model = text(model);
        if !builders.contains_key(model) {
            let plan = catalog.get(model).ok_or(GiveUp)?;
            builders.insert(Arc::clone(&plan.model), RowBuilder::new(Arc::clone(plan)));
        }
        let builder = builders.get_mut(model).ok_or(GiveUp)?;
        let time_ms = match roles[Role::Time as usize] {
            Some(Tok::Int(i, ..)) => s.time_unit.to_millis(i),
            Some(Tok::Num(f, ..)) => s.time_unit.float_to_millis(f).ok_or(GiveUp)?,
            Some(Tok::Str(t)) => parse_rfc3339_ms(text(t)).ok_or(GiveUp)?,
            _ => return Err(GiveUp),
        };
        if !matches!(
            roles[Role::Version as usize],
            None | Some(Tok::Null | Tok::Str(_) | Tok::Int(..) | Tok::Num(..))
        ) {
            return Err(GiveUp);
        }
        for role in [Role::Features, Role::Attributes] {
            if !matches!(roles[role as usize], None | Some(Tok::Null | Tok::Object)) {
                return Err(GiveUp);
            }
        }

        // Each column's value: the score and label, then the features (of
        // a key given twice the last counts).
        let columns = builder.plan.columns.len();
        raw.clear();
        raw.resize(columns, None);
        for (i, column) in builder.plan.columns.iter().enumerate() {
            raw[i] = match column.source {
                ColumnSource::Feature => None,
                ColumnSource::Score => roles[Role::Score as usize],
                ColumnSource::Label => roles[Role::Label as usize],
            };
        }
        for (position, &(key, value)) in features.iter().enumerate() {
            if let Some(column) = builder.feature_column(position, text(key)) {
                raw[column] = Some(value);
            }
        }
        // Check every value before appending any.
        cells.clear();
        for (column, value) in builder.plan.columns.iter().zip(raw.iter()) {
            cells.push(match (column.kind, value) {
                (_, None | Some(Tok::Null)) => Cell::Null,
                (ColumnKind::Numeric, Some(Tok::Int(i, ..))) => Cell::Number(*i as f64),
                (ColumnKind::Numeric, Some(Tok::Num(f, ..))) => Cell::Number(*f),
                (ColumnKind::Categorical, Some(Tok::Str(t))) => Cell::Text(*t),
                (ColumnKind::Categorical, Some(Tok::Int(_, a, b))) => Cell::Text(Text::Raw(*a, *b)),
                (ColumnKind::Categorical, Some(Tok::Bool(b))) => {
                    Cell::Static(if *b { "true" } else { "false" })
                }
                _ => return Err(GiveUp),
            });
        }
        let score = match roles[Role::Score as usize] {
            None | Some(Tok::Null) => None,
            Some(Tok::Int(i, ..)) => Some(i as f64),
            Some(Tok::Num(f, ..)) => Some(f),
            Some(_) => return Err(GiveUp),
        };
        let label = fast_label(roles[Role::Label as usize], text)?;
        let actual = fast_label(roles[Role::Actual as usize], text)?;
        attribute_cells.clear();
        for name in &builder.plan.attributes {
            let value = attributes.iter().rev().find(|(key, _)| text(*key) == name);
            attribute_cells.push(match value.map(|(_, v)| *v) {
                Some(Tok::Str(t)) => Cell::Text(t),
                Some(Tok::Int(_, a, b)) => Cell::Text(Text::Raw(a, b)),
                Some(Tok::Bool(b)) => Cell::Static(if b { "true" } else { "false" }),
                Some(Tok::Num(..)) => return Err(GiveUp),
                None | Some(Tok::Null | Tok::Array | Tok::Object) => Cell::Null,
            });
        }

        // Append.
        for (cell, out) in cells.iter().zip(&mut builder.columns) {
            match (out, *cell) {
                (ColumnBuilder::Numeric(b), Cell::Number(v)) => b.append_value(v),
                (ColumnBuilder::Numeric(b), _) => b.append_null(),
                (ColumnBuilder::Categorical(b), Cell::Text(t)) => b.append_value(text(t)),
                (ColumnBuilder::Categorical(b), Cell::Static(t)) => b.append_value(t),
                (ColumnBuilder::Categorical(b), _) => b.append_null(),
            }
        }
        builder.append_outcome(time_ms, score, label.as_deref(), actual.as_deref(), s);
        if groups.len() < attribute_cells.len() {
            groups.resize_with(attribute_cells.len(), GroupNames::default);
        }
        for ((cell, out), groups) in
            attribute_cells.iter().zip(&mut builder.attributes).zip(groups.iter_mut())
        {
            match *cell {
                Cell::Text(t) => out.append_value(groups.name(text(t), s.max_groups)),
                Cell::Static(t) => out.append_value(groups.name(t, s.max_groups)),
                Cell::Null | Cell::Number(_) => out.append_null(),
            }
        }
        builder.rows += 1;
        *buffered += 1;
        counts.decoded += 1;
        Ok(())
    }

    /// The slow path: a borrowed [`Json`] tree; decides every event the
    /// fast path gives up on, with the rejection's reason and detail.
    fn decode_json_tree(&mut self, payload: &[u8]) -> Result<(), Rejection> {
        let value: Json<'_> = serde_json::from_slice(payload)
            .map_err(|e| Rejection::new(Reject::NotJson, e.to_string()))?;
        if !value.is_object() {
            return Err(Rejection::new(
                Reject::NotJson,
                format!("the payload is {}, not a JSON object", json_kind(&value)),
            ));
        }
        let s = Arc::clone(&self.settings);
        let names = &s.names;
        let missing =
            |field: &str| Rejection::new(Reject::MissingField, format!("no `{field}` field"));
        // `what` names the field, quoted: "`score`", "feature `x`".
        let wrong = |what: &str, value: &Json<'_>, expected: &str| {
            Rejection::new(
                Reject::WrongType,
                format!("{what} is {}, not {expected}", json_kind(value)),
            )
        };
        let quoted = |name: &str| format!("`{name}`");
        let model = match lookup(&value, &s.model_path) {
            None | Some(Json::Null) => return Err(missing(&names.model)),
            Some(Json::String(model)) => model.as_ref(),
            Some(other) => return Err(wrong(&quoted(&names.model), other, "a string")),
        };
        let plan = match self.catalog.get(model) {
            Some(plan) => Arc::clone(plan),
            None => {
                self.note_unknown_model(model);
                return Err(Rejection::new(
                    Reject::UnknownModel,
                    format!("model `{model}` has no active baseline"),
                ));
            }
        };
        let time_ms = match lookup(&value, &s.time_path) {
            None | Some(Json::Null) => return Err(missing(&names.time)),
            Some(time) => json_time(time, s.time_unit).ok_or_else(|| {
                Rejection::new(
                    Reject::WrongType,
                    format!(
                        "`{}` is not a time (a number in {:?} or an RFC 3339 string): {time}",
                        names.time, s.time_unit
                    ),
                )
            })?,
        };
        // The version is informational; a non-string one is still a type error.
        if let Some(v) = lookup(&value, &s.version_path) {
            if !matches!(v, Json::String(_) | Json::Number(_) | Json::Null) {
                return Err(wrong(&quoted(&names.version), v, "a string"));
            }
        }
        let features = match lookup(&value, &s.features_path) {
            Some(Json::Object(map)) => Some(map),
            None | Some(Json::Null) => None,
            Some(other) => return Err(wrong(&quoted(&names.features), other, "an object")),
        };
        let score_value = lookup(&value, &s.score_path);
        let label_value = lookup(&value, &s.label_path);
        // Pass 1: look up and check every value, so that a bad event appends
        // nothing. Each feature is looked up once (measured: the map lookups
        // were a tenth of JSON decoding when both passes did them).
        let mut cells: Vec<Option<&Json<'_>>> = Vec::with_capacity(plan.columns.len());
        for column in &plan.columns {
            let cell = match column.source {
                ColumnSource::Feature => features.and_then(|f| f.get(&column.name)),
                ColumnSource::Score => score_value,
                ColumnSource::Label => label_value,
            };
            cells.push(cell);
            match (column.kind, cell) {
                (_, None | Some(Json::Null)) => {}
                (ColumnKind::Numeric, Some(Json::Number(_))) => {}
                (
                    ColumnKind::Categorical,
                    Some(Json::String(_) | Json::Number(_) | Json::Bool(_)),
                ) => {}
                (kind, Some(other)) => {
                    let expected = match kind {
                        ColumnKind::Numeric => "a number",
                        ColumnKind::Categorical => "a string, number or boolean",
                    };
                    let field = match column.source {
                        ColumnSource::Feature => format!("feature `{}`", column.name),
                        ColumnSource::Score | ColumnSource::Label => quoted(&column.name),
                    };
                    return Err(wrong(&field, other, expected));
                }
            }
        }
        let score = match score_value {
            None | Some(Json::Null) => None,
            Some(Json::Number(n)) => n.as_f64(),
            Some(other) => return Err(wrong(&quoted(&names.score), other, "a number")),
        };
        let label = json_label(label_value)
            .map_err(|v| wrong(&quoted(&names.label), v, "a label (string, number or boolean)"))?;
        let actual = json_label(lookup(&value, &s.actual_path))
            .map_err(|v| wrong(&quoted(&names.actual), v, "a label (string, number or boolean)"))?;
        let attributes = match lookup(&value, &s.attributes_path) {
            Some(Json::Object(map)) => Some(map),
            None | Some(Json::Null) => None,
            Some(other) => return Err(wrong(&quoted(&names.attributes), other, "an object")),
        };

        // Pass 2: append.
        let builder = self.builder(&plan);
        for (v, out) in cells.into_iter().zip(&mut builder.columns) {
            match out {
                ColumnBuilder::Numeric(b) => b.append_option(v.and_then(Json::as_f64)),
                ColumnBuilder::Categorical(b) => match v {
                    Some(Json::String(text)) => b.append_value(text),
                    Some(Json::Number(n)) => b.append_value(n.to_string()),
                    Some(Json::Bool(flag)) => b.append_value(if *flag { "true" } else { "false" }),
                    _ => b.append_null(),
                },
            }
        }
        builder.append_outcome(time_ms, score, label.as_deref(), actual.as_deref(), &s);
        if self.groups.len() < plan.attributes.len() {
            self.groups.resize_with(plan.attributes.len(), GroupNames::default);
        }
        let Some(builder) = self.builders.get_mut(&plan.model) else {
            // Inserted above by `self.builder(&plan)`.
            return Err(Rejection::new(
                Reject::UnknownModel,
                format!("model `{}` vanished", plan.model),
            ));
        };
        for ((name, out), groups) in
            plan.attributes.iter().zip(&mut builder.attributes).zip(&mut self.groups)
        {
            let text = match attributes.and_then(|a| a.get(name)) {
                Some(Json::String(text)) => Some(std::borrow::Cow::Borrowed(text.as_ref())),
                Some(Json::Number(n)) => Some(std::borrow::Cow::Owned(n.to_string())),
                Some(Json::Bool(flag)) => {
                    Some(std::borrow::Cow::Borrowed(if *flag { "true" } else { "false" }))
                }
                _ => None,
            };
            match text {
                Some(text) => out.append_value(groups.name(&text, s.max_groups)),
                None => out.append_null(),
            }
        }
        builder.rows += 1;
        self.buffered += 1;
        self.counts.decoded += 1;
        Ok(())
    }

    fn builder(&mut self, plan: &Arc<ModelPlan>) -> &mut RowBuilder {
        self.builders
            .entry(Arc::clone(&plan.model))
            .or_insert_with(|| RowBuilder::new(Arc::clone(plan)))
    }

    /// Counts its rejections itself: an unreadable stream once, as
    /// `bad_arrow` (the record batches read before the damage are kept), and
    /// bad rows one by one.
    fn decode_arrow(&mut self, payload: &[u8]) -> Result<(), Rejection> {
        let decoded_before = self.counts.decoded;
        self.first_rejection = None;
        let reader = StreamReader::try_new(Cursor::new(payload), None)
            .map_err(|e| self.rejected(Rejection::new(Reject::BadArrow, e.to_string())))?;
        for batch in reader {
            match batch {
                Ok(batch) => self.decode_record_batch(&batch),
                Err(e) => {
                    return Err(self.rejected(Rejection::new(Reject::BadArrow, e.to_string())));
                }
            }
        }
        match self.first_rejection.take() {
            Some(rejection) if self.counts.decoded == decoded_before => {
                // Counted per row already.
                Err(rejection)
            }
            _ => Ok(()),
        }
    }

    /// Gathers the events of one record batch: columns named as the
    /// baseline's, plus the model, time, prediction and attribute columns.
    pub fn decode_record_batch(&mut self, batch: &RecordBatch) {
        let rows = batch.num_rows();
        if rows == 0 {
            return;
        }
        let s = Arc::clone(&self.settings);
        let names = &s.names;
        let (Some(models), Some(times)) =
            (batch.column_by_name(&names.model), batch.column_by_name(&names.time))
        else {
            return self.reject_rows(Reject::MissingField, rows as u64, || {
                format!("no `{}` or no `{}` column", names.model, names.time)
            });
        };
        let model_type = models.data_type();
        let Some(models) = cast(models, &DataType::Utf8)
            .ok()
            .and_then(|m| m.as_any().downcast_ref::<StringArray>().cloned())
        else {
            return self.reject_rows(Reject::WrongType, rows as u64, || {
                format!("the `{}` column ({model_type}) cannot be read as strings", names.model)
            });
        };
        let Some(times) = arrow_times(times, s.time_unit) else {
            return self.reject_rows(Reject::WrongType, rows as u64, || {
                format!(
                    "the `{}` column ({}) cannot be read as times",
                    names.time,
                    times.data_type()
                )
            });
        };
        let raw_times = batch.column_by_name(&names.time).map(Arc::clone);
        // Row indices per model, in row order.
        let mut by_model: Vec<(Arc<ModelPlan>, Vec<u32>)> = Vec::new();
        for i in 0..rows {
            // A time that is there but unreadable ("yesterday") is the wrong
            // type, as in a JSON event; only an absent one is missing.
            if times.is_null(i) && raw_times.as_ref().is_some_and(|raw| raw.is_valid(i)) {
                self.reject_rows(Reject::WrongType, 1, || {
                    format!("row {i}: the `{}` value cannot be read as a time", names.time)
                });
                continue;
            }
            if models.is_null(i) || times.is_null(i) {
                self.reject_rows(Reject::MissingField, 1, || {
                    format!("row {i}: no `{}` or no `{}`", names.model, names.time)
                });
                continue;
            }
            let model = models.value(i);
            match by_model.iter_mut().find(|(plan, _)| &*plan.model == model) {
                Some((_, rows)) => rows.push(i as u32),
                None => match self.catalog.get(model) {
                    Some(plan) => by_model.push((Arc::clone(plan), vec![i as u32])),
                    None => {
                        self.note_unknown_model(model);
                        self.reject_rows(Reject::UnknownModel, 1, || {
                            format!("row {i}: model `{model}` has no active baseline")
                        });
                    }
                },
            }
        }
        for (plan, indices) in by_model {
            let n = indices.len();
            match self.gather(&plan, batch, &times, indices) {
                Ok(gathered) => {
                    self.completed.push((plan, gathered));
                    self.buffered += n;
                    self.counts.decoded += n as u64;
                }
                Err(rejection) => {
                    self.reject_rows(rejection.reason, n as u64, || rejection.detail);
                }
            }
        }
    }

    fn gather(
        &mut self,
        plan: &Arc<ModelPlan>,
        batch: &RecordBatch,
        times: &Int64Array,
        indices: Vec<u32>,
    ) -> Result<RecordBatch, Rejection> {
        let s = Arc::clone(&self.settings);
        let all = indices.len() == batch.num_rows();
        let indices = UInt32Array::from(indices);
        let wrong = |column: &str, error: &dyn std::fmt::Display| {
            Rejection::new(
                Reject::WrongType,
                format!("model `{}`: column `{column}`: {error}", plan.model),
            )
        };
        // NOTE: arrow's default cast turns what it cannot convert (a string
        // in a numeric column, an overflow) into nulls, which would count as
        // missing values. A number must come from a numeric column, and a
        // conversion that fails is an error, never a null.
        let as_type = |column: &str, array: &ArrayRef, target: &DataType| {
            let source = array.data_type();
            if target.is_numeric() && !(source.is_numeric() || *source == DataType::Null) {
                return Err(wrong(column, &format_args!("{source}, not a number")));
            }
            let options = arrow::compute::CastOptions { safe: false, ..Default::default() };
            arrow::compute::cast_with_options(array, target, &options)
                .map_err(|e| wrong(column, &e))
        };
        let pick = |array: &ArrayRef| -> Result<ArrayRef, Rejection> {
            if all {
                Ok(Arc::clone(array))
            } else {
                take(array, &indices, None).map_err(|e| wrong("(rows)", &e))
            }
        };
        let n = indices.len();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(plan.schema.fields().len());
        for column in &plan.columns {
            let target = match column.kind {
                ColumnKind::Numeric => DataType::Float64,
                ColumnKind::Categorical => DataType::Utf8,
            };
            let array = match batch.column_by_name(&column.name) {
                Some(array) => pick(&as_type(&column.name, array, &target)?)?,
                None => new_null_array(&target, n),
            };
            arrays.push(array);
        }
        let times: ArrayRef = Arc::new(times.clone());
        arrays.push(pick(&times)?);
        let predicted: BooleanArray =
            match (batch.column_by_name(&s.names.score), batch.column_by_name(&s.names.label)) {
                (Some(score), _) => {
                    let score = pick(&as_type(&s.names.score, score, &DataType::Float64)?)?;
                    let score = score
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .ok_or_else(|| wrong(&s.names.score, &"not Float64 after the cast"))?;
                    score.iter().map(|v| v.map(|v| v >= s.threshold)).collect()
                }
                (None, Some(label)) => positive_of(&pick(label)?, &s.positive)
                    .map_err(|e| wrong(&s.names.label, &e))?,
                (None, None) => BooleanArray::new_null(n),
            };
        arrays.push(Arc::new(predicted));
        let actual = match batch.column_by_name(&s.names.actual) {
            Some(actual) => {
                positive_of(&pick(actual)?, &s.positive).map_err(|e| wrong(&s.names.actual, &e))?
            }
            None => BooleanArray::new_null(n),
        };
        arrays.push(Arc::new(actual));
        if self.groups.len() < plan.attributes.len() {
            self.groups.resize_with(plan.attributes.len(), GroupNames::default);
        }
        for (name, groups) in plan.attributes.iter().zip(&mut self.groups) {
            let array = match batch.column_by_name(name) {
                Some(array) => {
                    let strings = pick(&as_type(name, array, &DataType::Utf8)?)?;
                    let strings = strings
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .ok_or_else(|| wrong(name, &"not Utf8 after the cast"))?;
                    let mut out = StringBuilder::with_capacity(n, n * 4);
                    for value in strings.iter() {
                        match value {
                            Some(v) => out.append_value(groups.name(v, s.max_groups)),
                            None => out.append_null(),
                        }
                    }
                    Arc::new(out.finish()) as ArrayRef
                }
                None => new_null_array(&DataType::Utf8, n),
            };
            arrays.push(array);
        }
        RecordBatch::try_new(Arc::clone(&plan.schema), arrays).map_err(|e| wrong("(batch)", &e))
    }
}

/// A JSON value as decoding needs it: strings borrowed from the payload
/// unless they hold escapes, objects as lists of entries (no map is built),
/// arrays skipped (no event field may be one). Measured: building
/// `serde_json::Value`s (a `BTreeMap` node and a `String` per key) took most
/// of JSON decoding; this takes about half as long for 20-feature events.
#[derive(Debug, Clone, PartialEq)]
enum Json<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    /// An array, its items skipped.
    Array,
    Object(Object<'a>),
}

/// A JSON object's entries in payload order.
#[derive(Debug, Clone, PartialEq, Default)]
struct Object<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Object<'a> {
    /// The value of `key`; of a key given twice, the last (as `serde_json`'s maps keep).
    fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'a> Json<'a> {
    fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(object) => object.get(key),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }
}

/// JSON text for rejection details; the contents of arrays and objects are elided.
impl std::fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => write!(f, "{n}"),
            Json::String(s) => write!(f, "{}", serde_json::Value::String(s.to_string())),
            Json::Array => f.write_str("[...]"),
            Json::Object(_) => f.write_str("{...}"),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        // As serde_json's own Value: a non-finite float is null.
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Key(key)) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Json::Object(Object(entries)))
    }
}

/// An object key, borrowed unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Follows a dotted path; an exact key with dots wins over nesting.
fn lookup<'v, 'a>(value: &'v Json<'a>, path: &[String]) -> Option<&'v Json<'a>> {
    match path {
        [] => None,
        [key] => value.get(key),
        [first, rest @ ..] => value.get(first).and_then(|inner| lookup(inner, rest)),
    }
}

/// `a string`, `an object`, ...: a JSON value's kind, for rejection details.
fn json_kind(value: &Json<'_>) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array => "an array",
        Json::Object(_) => "an object",
    }
}

fn json_time(value: &Json<'_>, unit: TimeUnit) -> Option<i64> {
    match value {
        Json::Number(n) => match n.as_i64() {
            Some(i) => Some(unit.to_millis(i)),
            None => n.as_f64().and_then(|f| unit.float_to_millis(f)),
        },
        Json::String(text) => parse_rfc3339_ms(text),
        _ => None,
    }
}

fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

/// A label in its canonical form; the value itself when it cannot be one.
fn json_label<'v, 'a>(value: Option<&'v Json<'a>>) -> Result<Option<String>, &'v Json<'a>> {
    Ok(match value {
        None | Some(Json::Null) => None,
        Some(Json::Bool(b)) => Some(if *b { "1" } else { "0" }.to_owned()),
        Some(Json::Number(n)) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9e15 => (f as i64).to_string(),
            _ => n.to_string(),
        }),
        Some(Json::String(text)) => Some(canonical_label(text).into_owned()),
        Some(other) => return Err(other),
    })
}

fn positive_of(array: &ArrayRef, positive: &str) -> Result<BooleanArray, ArrowError> {
    let strings = cast(array, &DataType::Utf8)?;
    let strings = strings
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ArrowError::CastError("not Utf8 after the cast".into()))?;
    Ok(strings.iter().map(|v| v.map(|v| canonical_label(v) == positive)).collect())
}

/// An Arrow time column as milliseconds since the epoch.
fn arrow_times(array: &ArrayRef, unit: TimeUnit) -> Option<Int64Array> {
    let ms = match array.data_type() {
        DataType::Timestamp(arrow_unit, _) => {
            let raw = cast(array, &DataType::Int64).ok()?;
            let raw = raw.as_any().downcast_ref::<Int64Array>()?;
            let unit = match arrow_unit {
                ArrowTimeUnit::Second => TimeUnit::S,
                ArrowTimeUnit::Millisecond => TimeUnit::Ms,
                ArrowTimeUnit::Microsecond => TimeUnit::Us,
                ArrowTimeUnit::Nanosecond => TimeUnit::Ns,
            };
            raw.iter().map(|v| v.map(|v| unit.to_millis(v))).collect()
        }
        DataType::Float32 | DataType::Float64 => {
            let raw = cast(array, &DataType::Float64).ok()?;
            let raw = raw.as_any().downcast_ref::<Float64Array>()?;
            raw.iter().map(|v| v.and_then(|v| unit.float_to_millis(v))).collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let raw = cast(array, &DataType::Utf8).ok()?;
            let raw = raw.as_any().downcast_ref::<StringArray>()?;
            raw.iter().map(|v| v.and_then(parse_rfc3339_ms)).collect()
        }
        t if t.is_integer() => {
            let raw = cast(array, &DataType::Int64).ok()?;
            let raw = raw.as_any().downcast_ref::<Int64Array>()?;
            if unit == TimeUnit::Ms {
                return Some(raw.clone());
            }
            raw.iter().map(|v| v.map(|v| unit.to_millis(v))).collect()
        }
        _ => return None,
    };
    Some(ms)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float64Array as F64, StringArray as Str};
    use arrow::datatypes::{Field, Schema};
    use arrow::ipc::writer::StreamWriter;
    use driftgauge_detectors::baseline::{ColumnProfileBuilder, Profile, ProfileOptions};

    use super::*;
    use crate::stream::catalog::StaticBaselines;

    fn config() -> Config {
        Config::from_layers(
            Some(("t", "[fairness]\nattributes = [\"gender\"]\nmax_groups = 2\n")),
            [],
        )
        .unwrap()
    }

    fn profile() -> Profile {
        let options = ProfileOptions::default();
        let mut x = ColumnProfileBuilder::new(ColumnKind::Numeric, false);
        x.update("x", &F64::from(vec![1.0, 2.0, 3.0])).unwrap();
        let mut c = ColumnProfileBuilder::new(ColumnKind::Categorical, false);
        c.update("c", &Str::from(vec!["a", "b", "a"])).unwrap();
        let mut score = ColumnProfileBuilder::new(ColumnKind::Numeric, false);
        score.update("score", &F64::from(vec![0.1, 0.9, 0.5])).unwrap();
        Profile {
            format_version: driftgauge_detectors::baseline::FORMAT_VERSION,
            roles: Default::default(),
            rows: 3,
            options,
            columns: vec![
                x.finish("x", &options),
                c.finish("c", &options),
                score.finish("score", &options),
            ],
        }
    }

    fn decoder() -> Decoder {
        decoder_with(&config(), true)
    }

    /// A decoder with the JSON fast path on or off.
    fn decoder_with(config: &Config, fast: bool) -> Decoder {
        let mut baselines = StaticBaselines::new();
        baselines.insert("m", "v1", profile());
        let catalog = Catalog::load(&baselines, config, None).unwrap();
        let mut settings = DecodeSettings::new(config);
        assert!(settings.fast_json);
        settings.fast_json = fast;
        Decoder::new(Arc::new(settings), Arc::new(catalog))
    }

    /// Decodes `payloads` with and without the fast path; asserts the same
    /// outcome, counts and batches. Returns how many the fast path took.
    fn same_on_both_paths(config: &Config, payloads: &[&[u8]]) -> usize {
        let (mut fast, mut slow) = (decoder_with(config, true), decoder_with(config, false));
        let mut taken = 0;
        for payload in payloads {
            let text = String::from_utf8_lossy(payload).into_owned();
            let before = fast.counts.decoded;
            let mut probe = decoder_with(config, true);
            if probe.decode_json_fast(payload).is_ok() {
                taken += 1;
            } else {
                assert_eq!(probe.buffered_rows(), 0, "gave up after appending: {text}");
            }
            let (a, b) = (
                fast.decode(PayloadFormat::Json, Some(payload)),
                slow.decode(PayloadFormat::Json, Some(payload)),
            );
            assert_eq!(a, b, "{text}");
            assert_eq!(fast.counts.decoded - before, u64::from(a.is_ok()), "{text}");
        }
        assert_eq!(fast.take_counts(), slow.take_counts());
        let (a, b) = (fast.take_batches(), slow.take_batches());
        assert_eq!(a.len(), b.len());
        for ((_, a), (_, b)) in a.iter().zip(&b) {
            assert_eq!(a, b);
            // `==` takes -0.0 for 0.0: compare the bits of floats too.
            for (x, y) in a.columns().iter().zip(b.columns()) {
                if let (Some(x), Some(y)) =
                    (x.as_any().downcast_ref::<F64>(), y.as_any().downcast_ref::<F64>())
                {
                    let bits = |v: &F64| v.values().iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(x), bits(y));
                }
            }
        }
        taken
    }

    #[test]
    fn json_events_are_gathered_and_bad_ones_counted_by_reason() {
        let mut d = decoder();
        let good = br#"{"model":"m","timestamp":1000,"features":{"x":2.5,"c":"b"},"score":0.7,"attributes":{"gender":"f"}}"#;
        assert_eq!(d.decode(PayloadFormat::Json, Some(good)), Ok(()));
        let missing_feature = br#"{"model":"m","timestamp":"2024-01-01T00:00:00Z","features":{},"attributes":{"gender":"x"}}"#;
        assert_eq!(d.decode(PayloadFormat::Json, Some(missing_feature)), Ok(()));
        let third_group = br#"{"model":"m","timestamp":1,"attributes":{"gender":"y"}}"#;
        assert_eq!(d.decode(PayloadFormat::Json, Some(third_group)), Ok(()));
        for (payload, reason) in [
            (&b"nope"[..], "not_json"),
            (br#"[1]"#, "not_json"),
            (br#"{"timestamp":1}"#, "missing_field"),
            (br#"{"model":"m"}"#, "missing_field"),
            (br#"{"model":"m","timestamp":1,"features":{"x":"high"}}"#, "wrong_type"),
            (br#"{"model":"m","timestamp":"yesterday"}"#, "wrong_type"),
            (br#"{"model":"zz","timestamp":1}"#, "unknown_model"),
        ] {
            let rejection = d.decode(PayloadFormat::Json, Some(payload)).unwrap_err();
            assert_eq!(rejection.reason.as_str(), reason);
        }
        let empty = d.decode(PayloadFormat::Json, None).unwrap_err();
        assert_eq!(empty.reason, Reject::Empty);
        let oversize = d.decode(PayloadFormat::Json, Some(&vec![b' '; 2 << 20])).unwrap_err();
        assert_eq!(oversize.reason, Reject::Oversize);
        let counts = d.take_counts();
        assert_eq!(counts.decoded, 3);
        assert_eq!(counts.rejected, [2, 2, 2, 1, 1, 0, 1]);
        let batches = d.take_batches();
        assert_eq!(batches.len(), 1);
        let batch = &batches[0].1;
        assert_eq!(batch.num_rows(), 3);
        let x = batch.column(0).as_any().downcast_ref::<F64>().unwrap();
        assert_eq!(x.iter().collect::<Vec<_>>(), vec![Some(2.5), None, None]);
        let time = batch.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(time.value(1), 1_704_067_200_000);
        let predicted = batch.column(4).as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(predicted.iter().collect::<Vec<_>>(), vec![Some(true), None, None]);
        let groups = batch.column(6).as_any().downcast_ref::<Str>().unwrap();
        assert_eq!(groups.iter().collect::<Vec<_>>(), vec![Some("f"), Some("x"), Some("other")]);
        assert_eq!(d.buffered_rows(), 0);
    }

    /// A string where a number is expected, or a time that is no time, is
    /// the wrong type for its rows, not a null (missing value) from a lossy cast.
    #[test]
    fn arrow_ipc_columns_of_the_wrong_type_are_rejected_not_nulled() {
        let ipc = |schema: &Arc<Schema>, columns: Vec<ArrayRef>| {
            let batch = RecordBatch::try_new(Arc::clone(schema), columns).unwrap();
            let mut payload = Vec::new();
            let mut writer = StreamWriter::try_new(&mut payload, schema).unwrap();
            writer.write(&batch).unwrap();
            writer.finish().unwrap();
            drop(writer);
            payload
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, true),
            Field::new("timestamp", DataType::Int64, true),
            Field::new("x", DataType::Utf8, true),
        ]));
        let payload = ipc(
            &schema,
            vec![
                Arc::new(Str::from(vec!["m", "m"])),
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(Str::from(vec!["1.5", "high"])),
            ],
        );
        let mut d = decoder();
        let rejection = d.decode(PayloadFormat::ArrowIpc, Some(&payload)).unwrap_err();
        assert_eq!(rejection.reason, Reject::WrongType, "{}", rejection.detail);
        assert!(rejection.detail.contains("column `x`"), "{}", rejection.detail);
        let counts = d.take_counts();
        assert_eq!(counts.rejected[Reject::WrongType.index()], 2);
        assert_eq!(counts.decoded, 0);

        let schema = Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, true),
            Field::new("timestamp", DataType::Utf8, true),
        ]));
        let payload = ipc(
            &schema,
            vec![
                Arc::new(Str::from(vec!["m", "m", "m"])),
                Arc::new(Str::from(vec![Some("2024-01-01T00:00:00Z"), Some("yesterday"), None])),
            ],
        );
        assert_eq!(d.decode(PayloadFormat::ArrowIpc, Some(&payload)), Ok(()));
        let counts = d.take_counts();
        assert_eq!(counts.decoded, 1);
        assert_eq!(counts.rejected[Reject::WrongType.index()], 1);
        assert_eq!(counts.rejected[Reject::MissingField.index()], 1);
    }

    #[test]
    fn arrow_ipc_batches_split_by_model() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, true),
            Field::new("timestamp", DataType::Int64, true),
            Field::new("x", DataType::Int32, true),
            Field::new("score", DataType::Float32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Str::from(vec![Some("m"), Some("zz"), Some("m"), None])),
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
                Arc::new(arrow::array::Int32Array::from(vec![1, 2, 3, 4])),
                Arc::new(arrow::array::Float32Array::from(vec![0.1, 0.2, 0.9, 0.4])),
            ],
        )
        .unwrap();
        let mut payload = Vec::new();
        let mut writer = StreamWriter::try_new(&mut payload, &schema).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        let mut d = decoder();
        // Some good rows: the message is accepted, its bad rows only counted.
        assert_eq!(d.decode(PayloadFormat::ArrowIpc, Some(&payload)), Ok(()));
        let garbage = d.decode(PayloadFormat::ArrowIpc, Some(b"garbage")).unwrap_err();
        assert_eq!(garbage.reason, Reject::BadArrow);
        let counts = d.take_counts();
        assert_eq!(counts.decoded, 2);
        assert_eq!(counts.rejected[Reject::UnknownModel.index()], 1);
        assert_eq!(counts.rejected[Reject::MissingField.index()], 1);
        assert_eq!(counts.rejected[Reject::BadArrow.index()], 1);
        let batches = d.take_batches();
        let gathered = &batches[0].1;
        let x = gathered.column(0).as_any().downcast_ref::<F64>().unwrap();
        assert_eq!(x.values().to_vec(), vec![1.0, 3.0]);
        let predicted = gathered.column(4).as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(predicted.iter().collect::<Vec<_>>(), vec![Some(false), Some(true)]);

        // No good row: the message is rejected, with its first bad row's reason.
        let unknown = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Str::from(vec!["zz", "yy"])),
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(arrow::array::Int32Array::from(vec![1, 2])),
                Arc::new(arrow::array::Float32Array::from(vec![0.1, 0.2])),
            ],
        )
        .unwrap();
        let mut payload = Vec::new();
        let mut writer = StreamWriter::try_new(&mut payload, &schema).unwrap();
        writer.write(&unknown).unwrap();
        writer.finish().unwrap();
        drop(writer);
        let rejection = d.decode(PayloadFormat::ArrowIpc, Some(&payload)).unwrap_err();
        assert_eq!(rejection.reason, Reject::UnknownModel);
        assert_eq!(rejection.detail, "row 0: model `zz` has no active baseline");
        assert_eq!(d.take_counts().rejected[Reject::UnknownModel.index()], 2);
    }

    /// A log sink for one test.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_model_without_baseline_is_logged_once_by_name() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber =
            tracing_subscriber::fmt().with_ansi(false).with_writer(move || sink.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut d = decoder();
            for _ in 0..3 {
                for model in ["credit-v9", "churn-x"] {
                    let event = format!(r#"{{"model":"{model}","timestamp":1}}"#);
                    let rejected = d.decode(PayloadFormat::Json, Some(event.as_bytes()));
                    assert_eq!(rejected.unwrap_err().reason, Reject::UnknownModel);
                }
            }
            assert_eq!(d.take_counts().rejected[Reject::UnknownModel.index()], 6);
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for model in ["credit-v9", "churn-x"] {
            assert_eq!(log.matches(&format!("model=\"{model}\"")).count(), 1, "{log}");
        }
    }

    #[test]
    fn json_values_read_as_serde_json_reads_them() {
        let mut d = decoder();
        // A key given twice: the last counts. Escapes are decoded, in keys too.
        let event = br#"{"model":"m","timestamp":1,"features":{"x":1,"x":2.5,"\u0063":"a\u0062"},"score":7e-1,"skip":[1,{"a":[]}]}"#;
        assert_eq!(d.decode(PayloadFormat::Json, Some(event)), Ok(()));
        let event =
            br#"{"model":"m","timestamp":2,"features":{"x":-3,"c":true},"prediction":"TRUE"}"#;
        assert_eq!(d.decode(PayloadFormat::Json, Some(event)), Ok(()));
        let event = br#"{"model":"m","timestamp":3,"features":{"x":18446744073709551615,"c":12}}"#;
        assert_eq!(d.decode(PayloadFormat::Json, Some(event)), Ok(()));
        let batches = d.take_batches();
        let batch = &batches[0].1;
        let x = batch.column(0).as_any().downcast_ref::<F64>().unwrap();
        assert_eq!(x.values().to_vec(), vec![2.5, -3.0, 18446744073709551615.0]);
        let c = batch.column(1).as_any().downcast_ref::<Str>().unwrap();
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![Some("ab"), Some("true"), Some("12")]);
        let predicted = batch.column(4).as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(predicted.iter().collect::<Vec<_>>(), vec![Some(true), Some(true), None]);
        // Times beyond i64 are rejected, and shown as written.
        let late = br#"{"model":"m","timestamp":18446744073709551615}"#;
        let rejection = d.decode(PayloadFormat::Json, Some(late)).unwrap_err();
        assert_eq!(rejection.reason, Reject::WrongType);
        assert!(rejection.detail.ends_with(": 18446744073709551615"), "{}", rejection.detail);
        let bad = br#"{"model":"m","timestamp":"a\"b"}"#;
        let rejection = d.decode(PayloadFormat::Json, Some(bad)).unwrap_err();
        assert!(rejection.detail.ends_with(r#": "a\"b""#), "{}", rejection.detail);
        let trailing = d.decode(PayloadFormat::Json, Some(br#"{"model":"m"} x"#)).unwrap_err();
        assert_eq!(trailing.reason, Reject::NotJson);
    }

    #[test]
    fn json_rejections_say_what_is_wrong_and_where() {
        let mut d = decoder();
        for (payload, reason, detail) in [
            (
                &br#"{"model":"m","timestamp":1,"score":"0.5"}"#[..],
                Reject::WrongType,
                "`score` is a string, not a number",
            ),
            (
                br#"{"model":["m"],"timestamp":1}"#,
                Reject::WrongType,
                "`model` is an array, not a string",
            ),
            (
                br#"{"model":"m","timestamp":1,"features":{"c":[1]}}"#,
                Reject::WrongType,
                "feature `c` is an array, not a string, number or boolean",
            ),
            (
                br#"{"model":"m","timestamp":1,"prediction":{}}"#,
                Reject::WrongType,
                "`prediction` is an object, not a label (string, number or boolean)",
            ),
            (
                br#"{"model":"m","timestamp":1,"attributes":7}"#,
                Reject::WrongType,
                "`attributes` is a number, not an object",
            ),
        ] {
            let text = String::from_utf8_lossy(payload).into_owned();
            let rejection = d.decode(PayloadFormat::Json, Some(payload)).unwrap_err();
            assert_eq!((rejection.reason, rejection.detail.as_str()), (reason, detail), "{text}");
        }
        assert_eq!(d.take_counts().rejected[Reject::WrongType.index()], 5);
    }

    #[test]
    fn fast_and_slow_paths_read_events_alike() {
        let events: &[&[u8]] = &[
            // Ordinary events, features in and out of the plan's order.
            br#"{"model":"m","timestamp":1000,"features":{"x":2.5,"c":"b"},"score":0.7,"attributes":{"gender":"f"}}"#,
            br#"{"features":{"c":"a","x":-1e-3},"score":1,"model":"m","timestamp":5}"#,
            br#" { "model" : "m" ,
                "timestamp" : "2024-01-01T00:00:00.250+01:00" , "features" : { } } "#,
            // Keys given twice: the last counts, at every level.
            br#"{"model":"zz","model":"m","timestamp":1,"features":{"x":1,"x":2,"c":"a","c":"b"}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":"high"},"features":{"x":3}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":3},"features":null}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":"f","gender":"g"}}"#,
            br#"{"model":"m","timestamp":1,"score":0.1,"score":null,"prediction":true}"#,
            // Unknown fields, nested, with every kind of value; unknown features.
            br#"{"model":"m","timestamp":1,"meta":{"a":[1,{"b":[[],{}]},"x\"y"],"n":null,"t":true},"features":{"y":[1,2],"z":{"q":1},"x":4}}"#,
            br#"{"model":"m","timestamp":1,"junk":[1e400,-0,1E+2]}"#,
            br#"{"model":"m","timestamp":1,"junk":1e400}"#,
            br#"{"model":"m","timestamp":1,"features":{"y":1e400}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":1e400,"x":1}}"#,
            // Escapes, in keys and values, and raw UTF-8.
            br#"{"mod\u0065l":"\u006d","timestamp":1,"features":{"\u0078":1.5,"c":"\u00e9t\u00E9 \"q\" \\ \/ \b\f\n\r\t"}}"#,
            "{\"model\":\"m\",\"timestamp\":1,\"features\":{\"c\":\"\u{e9}t\u{e9} \u{1f600}\"}}".as_bytes(),
            br#"{"model":"m","timestamp":1,"features":{"c":"\ud83d\ude00"}}"#,
            br#"{"model":"m","timestamp":1,"features":{"c":"\ud83d"}}"#,
            br#"{"model":"m","timestamp":1,"features":{"c":"\u00g0"}}"#,
            br#"{"model":"m","timestamp":1,"features":{"c":"a\qb"}}"#,
            b"{\"model\":\"m\",\"timestamp\":1,\"features\":{\"c\":\"a\tb\"}}",
            b"{\"model\":\"m\",\"timestamp\":1,\"features\":{\"c\":\"\xff\"}}",
            // Numbers: integers, -0, beyond i64 and u64, exponents.
            br#"{"model":"m","timestamp":1,"features":{"x":-0,"c":-0}}"#,
            br#"{"model":"m","timestamp":-0,"features":{"x":-0.0,"c":0}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":123456789012345678,"c":-123456789012345678}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":9223372036854775808,"c":1234567890123456789}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":-99999999999999999999999,"c":1.5}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":1E5,"c":1e5}}"#,
            br#"{"model":"m","timestamp":1.5e3,"features":{"x":0.1e-310}}"#,
            br#"{"model":"m","timestamp":9223372036854775807}"#,
            br#"{"model":"m","timestamp":18446744073709551615}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":01}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":1.}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":.5}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":1e}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":-}}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":+1}}"#,
            // Labels, versions and attributes of every kind.
            br#"{"model":"m","timestamp":1,"prediction":"True","actual":0,"model_version":7}"#,
            br#"{"model":"m","timestamp":1,"prediction":1,"actual":"no","model_version":"v1"}"#,
            br#"{"model":"m","timestamp":1,"prediction":1.0,"actual":false}"#,
            br#"{"model":"m","timestamp":1,"prediction":-0,"actual":1e0}"#,
            br#"{"model":"m","timestamp":1,"model_version":true}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":7}}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":7.5}}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":true,"other":[1]}}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":[1]}}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":"other"}}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":"a"}}"#,
            br#"{"model":"m","timestamp":1,"attributes":{"gender":"b"}}"#,
            br#"{"model":"m","timestamp":1,"attributes":null}"#,
            // Categorical values of every kind.
            br#"{"model":"m","timestamp":1,"features":{"c":true,"x":null}}"#,
            br#"{"model":"m","timestamp":1,"features":{"c":null}}"#,
            // Rejections: each the slow path's, with its detail.
            b"",
            b"nope",
            b"[1]",
            b"{}",
            br#"{"model":"m","timestamp":1"#,
            br#"{"model":"m","timestamp":1,}"#,
            br#"{"model":"m","timestamp":1} x"#,
            br#"{"model":"m" "timestamp":1}"#,
            br#"{"model":"m","timestamp":tru}"#,
            br#"{"timestamp":1}"#,
            br#"{"model":"m"}"#,
            br#"{"model":null,"timestamp":1}"#,
            br#"{"model":"zz","timestamp":1}"#,
            br#"{"model":["m"],"timestamp":1}"#,
            br#"{"model":"m","timestamp":"yesterday"}"#,
            br#"{"model":"m","timestamp":true}"#,
            br#"{"model":"m","timestamp":1,"features":{"x":"high"}}"#,
            br#"{"model":"m","timestamp":1,"features":{"c":[1]}}"#,
            br#"{"model":"m","timestamp":1,"features":[1]}"#,
            br#"{"model":"m","timestamp":1,"score":"0.5"}"#,
            br#"{"model":"m","timestamp":1,"prediction":{}}"#,
            br#"{"model":"m","timestamp":1,"actual":[]}"#,
            br#"{"model":"m","timestamp":1,"attributes":7}"#,
            br#"{"model":"m","timestamp":1,"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        ];
        let taken = same_on_both_paths(&config(), events);
        // The ordinary events take the fast path; the rest (rejections,
        // surrogate escapes, floats to show as text, numbers beyond f64 or
        // i64, bad syntax) the slow one.
        assert_eq!(taken, 26);
    }

    #[test]
    fn fast_path_reads_floats_to_the_same_bits() {
        // Shortest round-trip forms (as serde_json writes them), 17 and 25
        // significant digits, and exponents near the ends of f64's range.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut payloads = Vec::new();
        for i in 0..4000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = f64::from_bits(state);
            if !value.is_finite() {
                continue;
            }
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let text = match i % 7 {
                0 => serde_json::to_string(&value).unwrap(),
                1 => format!("{value:.16e}"),
                2 => format!("{:.24e}", value / 3.0),
                3 => format!("{unit}"),
                4 => format!("{}", (unit - 0.5) * 1e4),
                5 => format!("{:.3}", (unit - 0.5) * 1e6),
                _ => format!("{}e{}", (state >> 40) % 100_000, (state % 60) as i64 - 30),
            };
            payloads.push(format!(r#"{{"model":"m","timestamp":{i},"features":{{"x":{text}}}}}"#));
        }
        // Around the exact fast path's bounds: 2^53, 10^22, 19 digits.
        for text in [
            "9007199254740992.0",
            "9007199254740993.0",
            "0.9007199254740993",
            "0.9007199254740991",
            "1e22",
            "1e23",
            "1.5e-22",
            "1.5e-23",
            "123456789012345.6e7",
            "0.0000000000000000000000000001",
            "1234567890123456789.5",
            "12345678901234567890e-10",
            "1e-400",
            "4.9406564584124654e-324",
            "1.7976931348623157e308",
        ] {
            payloads.push(format!(r#"{{"model":"m","timestamp":1,"features":{{"x":{text}}}}}"#));
        }
        let payloads: Vec<&[u8]> = payloads.iter().map(|p| p.as_bytes()).collect();
        assert_eq!(same_on_both_paths(&config(), &payloads), payloads.len());
    }

    #[test]
    fn fast_path_follows_nested_paths() {
        let text = "[event]\nmodel_field = \"meta.model\"\ntime_field = \"meta.at.ms\"\n\
                    features_field = \"body.features\"\n\
                    [fairness]\nattributes = [\"gender\"]\nmax_groups = 2\n";
        let config = Config::from_layers(Some(("t", text)), []).unwrap();
        let events: &[&[u8]] = &[
            br#"{"body":{"features":{"x":1}},"meta":{"model":"m","at":{"ms":5}}}"#,
            br#"{"meta":{"model":"m","at":{"ms":5}},"meta":{"model":"m"}}"#,
            br#"{"meta":{"model":"m","at":{"ms":5}},"meta":7}"#,
            br#"{"meta":{"at":{"ms":5}},"meta":{"model":"m","at":{"ms":6}},"body":[]}"#,
            br#"{"model":"m","timestamp":1}"#,
        ];
        assert_eq!(same_on_both_paths(&config, events), 2);
        // A path that is a prefix of another is left to the slow path.
        let text = "[event]\nmodel_field = \"meta\"\ntime_field = \"meta.ts\"\n";
        let config = Config::from_layers(Some(("t", text)), []).unwrap();
        assert!(!DecodeSettings::new(&config).fast_json);
    }
}
