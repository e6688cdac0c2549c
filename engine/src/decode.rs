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

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int64Array,
    Int64Builder, RecordBatch, StringArray, StringBuilder, UInt32Array, new_null_array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, TimeUnit as ArrowTimeUnit};
use arrow::ipc::reader::StreamReader;
use driftgauge_detectors::column::ColumnKind;
use driftgauge_detectors::quality::PositiveLabel;
use serde_json::Value;

use crate::catalog::{Catalog, ColumnSource, ModelPlan};
use crate::config::{Config, PayloadFormat, TimeUnit};

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

    /// The label value.
    pub fn as_str(self) -> &'static str {
        crate::metrics::REJECT_REASONS[self.index()]
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
}

#[derive(Debug, Clone)]
struct FieldNames {
    model: String,
    time: String,
    score: String,
    label: String,
    actual: String,
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
                time: e.time_field.clone(),
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
        }
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
}

enum ColumnBuilder {
    Numeric(Float64Builder),
    Categorical(StringBuilder),
}

impl RowBuilder {
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
        Self {
            plan,
            columns,
            time: Int64Builder::new(),
            predicted: BooleanBuilder::new(),
            actual: BooleanBuilder::new(),
            attributes,
            rows: 0,
        }
    }

    fn finish(&mut self) -> Option<RecordBatch> {
        if self.rows == 0 {
            return None;
        }
        self.rows = 0;
        let mut arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                ColumnBuilder::Numeric(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Categorical(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        arrays.push(Arc::new(self.time.finish()));
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
    builders: HashMap<Arc<str>, RowBuilder>,
    completed: Vec<(Arc<ModelPlan>, RecordBatch)>,
    groups: Vec<GroupNames>,
    counts: DecodeCounts,
    buffered: usize,
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
            builders: HashMap::new(),
            completed: Vec::new(),
            groups: Vec::new(),
            counts: DecodeCounts::default(),
            buffered: 0,
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

    /// Decodes one message's payload; problems are counted, never returned.
    pub fn decode(&mut self, format: PayloadFormat, payload: Option<&[u8]>) {
        let Some(payload) = payload.filter(|p| !p.is_empty()) else {
            return self.reject(Reject::Empty, 1);
        };
        if payload.len() > self.settings.max_message_bytes {
            return self.reject(Reject::Oversize, 1);
        }
        match format {
            PayloadFormat::Json => {
                if let Err(reason) = self.decode_json(payload) {
                    self.reject(reason, 1);
                }
            }
            PayloadFormat::ArrowIpc => self.decode_arrow(payload),
        }
    }

    fn decode_json(&mut self, payload: &[u8]) -> Result<(), Reject> {
        let value: Value = serde_json::from_slice(payload).map_err(|_| Reject::NotJson)?;
        if !value.is_object() {
            return Err(Reject::NotJson);
        }
        let s = Arc::clone(&self.settings);
        let model = match lookup(&value, &s.model_path) {
            None | Some(Value::Null) => return Err(Reject::MissingField),
            Some(Value::String(model)) => model.as_str(),
            Some(_) => return Err(Reject::WrongType),
        };
        let plan = Arc::clone(self.catalog.get(model).ok_or(Reject::UnknownModel)?);
        let time_ms = match lookup(&value, &s.time_path) {
            None | Some(Value::Null) => return Err(Reject::MissingField),
            Some(time) => json_time(time, s.time_unit).ok_or(Reject::WrongType)?,
        };
        // The version is informational; a non-string one is still a type error.
        if let Some(v) = lookup(&value, &s.version_path) {
            if !matches!(v, Value::String(_) | Value::Number(_) | Value::Null) {
                return Err(Reject::WrongType);
            }
        }
        let features = match lookup(&value, &s.features_path) {
            Some(Value::Object(map)) => Some(map),
            None | Some(Value::Null) => None,
            Some(_) => return Err(Reject::WrongType),
        };
        let cell = |source: ColumnSource, name: &str| -> Option<&Value> {
            match source {
                ColumnSource::Feature => features.and_then(|f| f.get(name)),
                ColumnSource::Score => lookup(&value, &s.score_path),
                ColumnSource::Label => lookup(&value, &s.label_path),
            }
        };
        // Pass 1: check every value, so that a bad event appends nothing.
        for column in &plan.columns {
            match (column.kind, cell(column.source, &column.name)) {
                (_, None | Some(Value::Null)) => {}
                (ColumnKind::Numeric, Some(Value::Number(_))) => {}
                (
                    ColumnKind::Categorical,
                    Some(Value::String(_) | Value::Number(_) | Value::Bool(_)),
                ) => {}
                _ => return Err(Reject::WrongType),
            }
        }
        let score = match lookup(&value, &s.score_path) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => return Err(Reject::WrongType),
        };
        let label = json_label(lookup(&value, &s.label_path))?;
        let actual = json_label(lookup(&value, &s.actual_path))?;
        let attributes = match lookup(&value, &s.attributes_path) {
            Some(Value::Object(map)) => Some(map),
            None | Some(Value::Null) => None,
            Some(_) => return Err(Reject::WrongType),
        };

        // Pass 2: append.
        let builder = self.builder(&plan);
        for (column, out) in plan.columns.iter().zip(&mut builder.columns) {
            let v = cell(column.source, &column.name);
            match out {
                ColumnBuilder::Numeric(b) => b.append_option(v.and_then(Value::as_f64)),
                ColumnBuilder::Categorical(b) => match v {
                    Some(Value::String(text)) => b.append_value(text),
                    Some(Value::Number(n)) => b.append_value(n.to_string()),
                    Some(Value::Bool(flag)) => b.append_value(if *flag { "true" } else { "false" }),
                    _ => b.append_null(),
                },
            }
        }
        builder.time.append_value(time_ms);
        let predicted = match (score, &label) {
            (Some(score), _) => Some(score >= s.threshold),
            (None, Some(label)) => Some(*label == s.positive),
            (None, None) => None,
        };
        builder.predicted.append_option(predicted);
        builder.actual.append_option(actual.map(|a| a == s.positive));
        if self.groups.len() < plan.attributes.len() {
            self.groups.resize_with(plan.attributes.len(), GroupNames::default);
        }
        let builder = self.builders.get_mut(&plan.model).ok_or(Reject::UnknownModel)?;
        for ((name, out), groups) in
            plan.attributes.iter().zip(&mut builder.attributes).zip(&mut self.groups)
        {
            let text = match attributes.and_then(|a| a.get(name)) {
                Some(Value::String(text)) => Some(std::borrow::Cow::Borrowed(text.as_str())),
                Some(Value::Number(n)) => Some(std::borrow::Cow::Owned(n.to_string())),
                Some(Value::Bool(flag)) => {
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

    fn decode_arrow(&mut self, payload: &[u8]) {
        let reader = match StreamReader::try_new(Cursor::new(payload), None) {
            Ok(reader) => reader,
            Err(_) => return self.reject(Reject::BadArrow, 1),
        };
        for batch in reader {
            match batch {
                Ok(batch) => self.decode_record_batch(&batch),
                Err(_) => return self.reject(Reject::BadArrow, 1),
            }
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
        let (Some(models), Some(times)) =
            (batch.column_by_name(&s.names.model), batch.column_by_name(&s.names.time))
        else {
            return self.reject(Reject::MissingField, rows as u64);
        };
        let Ok(models) = cast(models, &DataType::Utf8) else {
            return self.reject(Reject::WrongType, rows as u64);
        };
        let Some(models) = models.as_any().downcast_ref::<StringArray>() else {
            return self.reject(Reject::WrongType, rows as u64);
        };
        let Some(times) = arrow_times(times, s.time_unit) else {
            return self.reject(Reject::WrongType, rows as u64);
        };
        // Row indices per model, in row order.
        let mut by_model: Vec<(Arc<ModelPlan>, Vec<u32>)> = Vec::new();
        for i in 0..rows {
            if models.is_null(i) || times.is_null(i) {
                self.reject(Reject::MissingField, 1);
                continue;
            }
            let model = models.value(i);
            match by_model.iter_mut().find(|(plan, _)| &*plan.model == model) {
                Some((_, rows)) => rows.push(i as u32),
                None => match self.catalog.get(model) {
                    Some(plan) => by_model.push((Arc::clone(plan), vec![i as u32])),
                    None => self.reject(Reject::UnknownModel, 1),
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
                Err(reason) => self.reject(reason, n as u64),
            }
        }
    }

    fn gather(
        &mut self,
        plan: &Arc<ModelPlan>,
        batch: &RecordBatch,
        times: &Int64Array,
        indices: Vec<u32>,
    ) -> Result<RecordBatch, Reject> {
        let s = Arc::clone(&self.settings);
        let all = indices.len() == batch.num_rows();
        let indices = UInt32Array::from(indices);
        let pick = |array: &ArrayRef| -> Result<ArrayRef, Reject> {
            if all {
                Ok(Arc::clone(array))
            } else {
                take(array, &indices, None).map_err(|_| Reject::WrongType)
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
                Some(array) => pick(&cast(array, &target).map_err(|_| Reject::WrongType)?)?,
                None => new_null_array(&target, n),
            };
            arrays.push(array);
        }
        let times: ArrayRef = Arc::new(times.clone());
        arrays.push(pick(&times)?);
        let predicted: BooleanArray =
            match (batch.column_by_name(&s.names.score), batch.column_by_name(&s.names.label)) {
                (Some(score), _) => {
                    let score =
                        pick(&cast(score, &DataType::Float64).map_err(|_| Reject::WrongType)?)?;
                    let score =
                        score.as_any().downcast_ref::<Float64Array>().ok_or(Reject::WrongType)?;
                    score.iter().map(|v| v.map(|v| v >= s.threshold)).collect()
                }
                (None, Some(label)) => positive_of(&pick(label)?, &s.positive)?,
                (None, None) => BooleanArray::new_null(n),
            };
        arrays.push(Arc::new(predicted));
        let actual = match batch.column_by_name(&s.names.actual) {
            Some(actual) => positive_of(&pick(actual)?, &s.positive)?,
            None => BooleanArray::new_null(n),
        };
        arrays.push(Arc::new(actual));
        if self.groups.len() < plan.attributes.len() {
            self.groups.resize_with(plan.attributes.len(), GroupNames::default);
        }
        for (name, groups) in plan.attributes.iter().zip(&mut self.groups) {
            let array = match batch.column_by_name(name) {
                Some(array) => {
                    let strings =
                        pick(&cast(array, &DataType::Utf8).map_err(|_| Reject::WrongType)?)?;
                    let strings =
                        strings.as_any().downcast_ref::<StringArray>().ok_or(Reject::WrongType)?;
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
        RecordBatch::try_new(Arc::clone(&plan.schema), arrays).map_err(|_| Reject::WrongType)
    }
}

/// Follows a dotted path; an exact key with dots wins over nesting.
fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    match path {
        [] => None,
        [key] => value.get(key),
        [first, rest @ ..] => value.get(first).and_then(|inner| lookup(inner, rest)),
    }
}

fn json_time(value: &Value, unit: TimeUnit) -> Option<i64> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(unit.to_millis(i)),
            None => n.as_f64().and_then(|f| unit.float_to_millis(f)),
        },
        Value::String(text) => parse_rfc3339_ms(text),
        _ => None,
    }
}

fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

fn json_label(value: Option<&Value>) -> Result<Option<String>, Reject> {
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(if *b { "1" } else { "0" }.to_owned()),
        Some(Value::Number(n)) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9e15 => (f as i64).to_string(),
            _ => n.to_string(),
        }),
        Some(Value::String(text)) => Some(canonical_label(text).into_owned()),
        Some(_) => return Err(Reject::WrongType),
    })
}

fn positive_of(array: &ArrayRef, positive: &str) -> Result<BooleanArray, Reject> {
    let strings = cast(array, &DataType::Utf8).map_err(|_| Reject::WrongType)?;
    let strings = strings.as_any().downcast_ref::<StringArray>().ok_or(Reject::WrongType)?;
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
    use crate::catalog::StaticBaselines;

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
        let config = config();
        let mut baselines = StaticBaselines::new();
        baselines.insert("m", "v1", profile());
        let catalog = Catalog::load(&baselines, &config, None).unwrap();
        Decoder::new(Arc::new(DecodeSettings::new(&config)), Arc::new(catalog))
    }

    #[test]
    fn json_events_are_gathered_and_bad_ones_counted_by_reason() {
        let mut d = decoder();
        let good = br#"{"model":"m","timestamp":1000,"features":{"x":2.5,"c":"b"},"score":0.7,"attributes":{"gender":"f"}}"#;
        d.decode(PayloadFormat::Json, Some(good));
        let missing_feature = br#"{"model":"m","timestamp":"2024-01-01T00:00:00Z","features":{},"attributes":{"gender":"x"}}"#;
        d.decode(PayloadFormat::Json, Some(missing_feature));
        let third_group = br#"{"model":"m","timestamp":1,"attributes":{"gender":"y"}}"#;
        d.decode(PayloadFormat::Json, Some(third_group));
        for (payload, _) in [
            (&b"nope"[..], "not_json"),
            (br#"[1]"#, "not_json"),
            (br#"{"timestamp":1}"#, "missing_field"),
            (br#"{"model":"m"}"#, "missing_field"),
            (br#"{"model":"m","timestamp":1,"features":{"x":"high"}}"#, "wrong_type"),
            (br#"{"model":"m","timestamp":"yesterday"}"#, "wrong_type"),
            (br#"{"model":"zz","timestamp":1}"#, "unknown_model"),
        ] {
            d.decode(PayloadFormat::Json, Some(payload));
        }
        d.decode(PayloadFormat::Json, None);
        d.decode(PayloadFormat::Json, Some(&vec![b' '; 2 << 20]));
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
        d.decode(PayloadFormat::ArrowIpc, Some(&payload));
        d.decode(PayloadFormat::ArrowIpc, Some(b"garbage"));
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
    }
}
