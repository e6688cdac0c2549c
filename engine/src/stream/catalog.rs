//! Which models the engine watches, against which baselines, and the plan of
//! each: the Arrow schema its events are gathered into.
//!
//! Baselines come through the [`BaselineSource`] seam: the SQLite registry in
//! production, files or in-memory profiles in `driftgauge demo` and tests. The
//! engine re-reads them every `baselines.refresh_secs` on a blocking thread
//! and swaps in a new [`Catalog`]; a model whose active version changed gets
//! a new [`ModelPlan`], and windows already open keep the plan they began with.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use driftgauge_detectors::baseline::{ColumnStats, Profile};
use driftgauge_detectors::column::ColumnKind;

use crate::config::{BaselineFile, Config};

/// Why baselines could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The store could not be read (retried at the next refresh).
    #[error("baseline store: {0}")]
    Store(String),
    /// A baseline is unusable (a user error: fix the file or the registry).
    #[error("baseline of model `{model}`: {reason}")]
    Invalid {
        /// The model.
        model: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where active baselines come from.
///
/// Implementations may block (SQLite, files): the engine calls them on a
/// blocking thread, never on the async runtime.
pub trait BaselineSource: Send + Sync + 'static {
    /// Models that have an active baseline.
    ///
    /// # Errors
    /// [`BaselineError`] when the store cannot be read.
    fn models(&self) -> Result<Vec<String>, BaselineError>;

    /// The active baseline of `model`: its version and profile.
    ///
    /// # Errors
    /// [`BaselineError`] when the store cannot be read.
    fn active_profile(&self, model: &str) -> Result<Option<(String, Arc<Profile>)>, BaselineError>;

    /// Every active baseline: model, version and profile, by model name.
    /// The default asks [`models`](Self::models), then each model.
    ///
    /// # Errors
    /// [`BaselineError`] when the store cannot be read.
    fn active_profiles(&self) -> Result<Vec<(String, String, Arc<Profile>)>, BaselineError> {
        let mut profiles = Vec::new();
        for model in self.models()? {
            if let Some((version, profile)) = self.active_profile(&model)? {
                profiles.push((model, version, profile));
            }
        }
        Ok(profiles)
    }
}

/// The SQLite baseline registry ([`crate::registry`]) as a [`BaselineSource`].
///
/// A [`Registry`](crate::registry::Registry) is `Send` but not `Sync`; the
/// engine reads it from one blocking task at a time, so a mutex costs nothing.
#[derive(Debug)]
pub struct RegistryBaselines {
    registry: std::sync::Mutex<crate::registry::Registry>,
}

impl RegistryBaselines {
    /// Wraps an open registry.
    pub fn new(registry: crate::registry::Registry) -> Self {
        Self { registry: std::sync::Mutex::new(registry) }
    }

    /// Opens the existing registry file at `path` (never creates one).
    ///
    /// # Errors
    /// [`BaselineError::Store`] if it does not exist, is not a driftgauge
    /// database, or cannot be opened.
    pub fn open(path: &std::path::Path) -> Result<Self, BaselineError> {
        crate::registry::Registry::open_existing(path)
            .map(Self::new)
            .map_err(|e| BaselineError::Store(crate::error_chain(&e)))
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, crate::registry::Registry> {
        // A panic while reading leaves nothing half-written: keep using it.
        self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl BaselineSource for RegistryBaselines {
    fn models(&self) -> Result<Vec<String>, BaselineError> {
        Ok(self.active_profiles()?.into_iter().map(|(model, _, _)| model).collect())
    }

    fn active_profile(&self, model: &str) -> Result<Option<(String, Arc<Profile>)>, BaselineError> {
        self.registry()
            .active_profile(model)
            .map(|found| found.map(|(version, profile)| (version, Arc::new(profile))))
            .map_err(|e| BaselineError::Store(crate::error_chain(&e)))
    }

    fn active_profiles(&self) -> Result<Vec<(String, String, Arc<Profile>)>, BaselineError> {
        self.registry()
            .active_profiles()
            .map(|all| all.into_iter().map(|(m, v, p)| (m, v, Arc::new(p))).collect())
            .map_err(|e| BaselineError::Store(crate::error_chain(&e)))
    }
}

/// Baselines held in memory: the demo's fitted profiles, or files read at start.
#[derive(Debug, Default, Clone)]
pub struct StaticBaselines {
    profiles: BTreeMap<String, (String, Arc<Profile>)>,
}

impl StaticBaselines {
    /// No baselines.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the active baseline of `model`.
    pub fn insert(&mut self, model: &str, version: &str, profile: Profile) {
        self.profiles.insert(model.to_owned(), (version.to_owned(), Arc::new(profile)));
    }

    /// Reads the `[[baselines.files]]` of a configuration.
    ///
    /// # Errors
    /// [`BaselineError::Invalid`] naming the model and file.
    pub fn from_files(files: &[BaselineFile]) -> Result<Self, BaselineError> {
        let mut baselines = Self::new();
        for file in files {
            let profile = crate::registry::file::read_profile(&file.path).map_err(|e| {
                BaselineError::Invalid { model: file.model.clone(), reason: e.to_string() }
            })?;
            baselines.insert(&file.model, &file.version, profile);
        }
        Ok(baselines)
    }
}

impl BaselineSource for StaticBaselines {
    fn models(&self) -> Result<Vec<String>, BaselineError> {
        Ok(self.profiles.keys().cloned().collect())
    }

    fn active_profile(&self, model: &str) -> Result<Option<(String, Arc<Profile>)>, BaselineError> {
        Ok(self.profiles.get(model).cloned())
    }
}

/// Where a plan column's values come from in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSource {
    /// A feature of that name.
    Feature,
    /// The prediction score (`event.score_field`).
    Score,
    /// The predicted label (`event.label_field`).
    Label,
}

/// One compared column of a model.
#[derive(Debug, Clone)]
pub struct PlanColumn {
    /// Its name in the baseline (and the Arrow schema).
    pub name: String,
    /// Numeric (gathered as Float64) or categorical (Utf8).
    pub kind: ColumnKind,
    /// Where events hold it.
    pub source: ColumnSource,
}

/// How a model's events are gathered and compared: built once per active
/// baseline version and shared by the decoder and the windows.
#[derive(Debug)]
pub struct ModelPlan {
    /// Model id.
    pub model: Arc<str>,
    /// Active baseline version.
    pub version: Arc<str>,
    /// The baseline.
    pub profile: Arc<Profile>,
    /// Compared columns, in the profile's order.
    pub columns: Vec<PlanColumn>,
    /// Sensitive attributes (from the configuration).
    pub attributes: Vec<String>,
    /// Gathered batches: the columns, then event time, the predicted and
    /// actual outcome, then one column per attribute.
    pub schema: SchemaRef,
}

/// Name of the event-time column (Int64 milliseconds since the epoch).
pub const TIME_COLUMN: &str = "__event_time_ms";
/// Name of the predicted-positive column (Boolean).
pub const PREDICTED_COLUMN: &str = "__predicted_positive";
/// Name of the actual-positive column (Boolean, null without ground truth).
pub const ACTUAL_COLUMN: &str = "__actual_positive";

impl ModelPlan {
    /// The plan of `model` against `profile`.
    pub fn new(
        model: &str,
        version: &str,
        profile: Arc<Profile>,
        score_field: &str,
        label_field: &str,
        attributes: &[String],
    ) -> Self {
        let columns: Vec<PlanColumn> = profile
            .columns
            .iter()
            .map(|c| PlanColumn {
                name: c.name.clone(),
                kind: match c.stats {
                    ColumnStats::Numeric(_) => ColumnKind::Numeric,
                    ColumnStats::Categorical(_) => ColumnKind::Categorical,
                },
                source: if c.name == score_field {
                    ColumnSource::Score
                } else if c.name == label_field {
                    ColumnSource::Label
                } else {
                    ColumnSource::Feature
                },
            })
            .collect();
        let mut fields: Vec<Field> = columns
            .iter()
            .map(|c| {
                let data_type = match c.kind {
                    ColumnKind::Numeric => DataType::Float64,
                    ColumnKind::Categorical => DataType::Utf8,
                };
                Field::new(&c.name, data_type, true)
            })
            .collect();
        fields.push(Field::new(TIME_COLUMN, DataType::Int64, false));
        fields.push(Field::new(PREDICTED_COLUMN, DataType::Boolean, true));
        fields.push(Field::new(ACTUAL_COLUMN, DataType::Boolean, true));
        fields.extend(
            attributes.iter().map(|a| Field::new(format!("__attr_{a}"), DataType::Utf8, true)),
        );
        Self {
            model: model.into(),
            version: version.into(),
            profile,
            columns,
            attributes: attributes.to_vec(),
            schema: Arc::new(Schema::new(fields)),
        }
    }

    /// Index of the event-time column.
    pub fn time_index(&self) -> usize {
        self.columns.len()
    }

    /// Index of the predicted-positive column.
    pub fn predicted_index(&self) -> usize {
        self.columns.len() + 1
    }

    /// Index of the actual-positive column.
    pub fn actual_index(&self) -> usize {
        self.columns.len() + 2
    }

    /// Index of attribute `i`'s column.
    pub fn attribute_index(&self, i: usize) -> usize {
        self.columns.len() + 3 + i
    }
}

/// The plans of every model with an active baseline.
#[derive(Debug, Default)]
pub struct Catalog {
    plans: BTreeMap<String, Arc<ModelPlan>>,
}

impl Catalog {
    /// The plan of `model`, if it has an active baseline.
    pub fn get(&self, model: &str) -> Option<&Arc<ModelPlan>> {
        self.plans.get(model)
    }

    /// Models and their plans, by name.
    pub fn plans(&self) -> impl Iterator<Item = &Arc<ModelPlan>> {
        self.plans.values()
    }

    /// Number of models.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// Whether no model has a baseline.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// Reads every active baseline from `source` (blocking), reusing the plans
    /// of `previous` whose version is unchanged so that open windows and the
    /// decoder keep sharing them.
    ///
    /// # Errors
    /// [`BaselineError`] when the store cannot be read or a profile is invalid.
    pub fn load(
        source: &dyn BaselineSource,
        config: &Config,
        previous: Option<&Catalog>,
    ) -> Result<Self, BaselineError> {
        let mut plans = BTreeMap::new();
        for (model, version, profile) in source.active_profiles()? {
            if let Some(plan) = previous.and_then(|p| p.get(&model)) {
                if *plan.version == *version
                    && (Arc::ptr_eq(&plan.profile, &profile) || plan.profile == profile)
                {
                    plans.insert(model, Arc::clone(plan));
                    continue;
                }
            }
            profile.validate().map_err(|e| BaselineError::Invalid {
                model: model.clone(),
                reason: e.to_string(),
            })?;
            let plan = ModelPlan::new(
                &model,
                &version,
                profile,
                &config.event.score_field,
                &config.event.label_field,
                &config.fairness.attributes,
            );
            plans.insert(model, Arc::new(plan));
        }
        Ok(Self { plans })
    }

    /// Whether `other` has the same plans (by identity).
    pub fn same_as(&self, other: &Catalog) -> bool {
        self.plans.len() == other.plans.len()
            && self
                .plans
                .iter()
                .zip(&other.plans)
                .all(|((a, p), (b, q))| a == b && Arc::ptr_eq(p, q))
    }
}
