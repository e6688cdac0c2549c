//! The streaming engine: sources → windows → compute → metrics, wired together.
//!
//! ```text
//!  KafkaSource (one per stream) ──SourceBatch──▶ window stage ──closed windows──▶ ComputePool (rayon)
//!        ▲                      bounded mpsc        │   ▲                              │ oneshot
//!        └──────── commit positions ◀───────────────┘   └──── WindowReport ◀───────────┘
//!                                                        export metrics, log, broadcast
//! ```
//!
//! Shutdown runs front to back: sources stop consuming and hand on their last
//! micro-batch; when every source has dropped its sender the window stage
//! writes a final checkpoint of its open windows (or, without checkpoints,
//! closes them, reported with `complete: false`, and exports them), sends the
//! final positions and closes the commit channels; the sources store those
//! positions and close their consumers, which commits them.
//!
//! # Checkpoints
//!
//! With a checkpoint database ([`crate::stream::checkpoint`]) the window stage also
//! ticks every `checkpoint.interval_ms`: it snapshots the operator between
//! two micro-batches (so windows, watermark and offsets agree), writes the
//! snapshot on a blocking thread, and only then sends its offsets to the
//! sources to commit. [`Engine::start`] restores the last checkpoint before
//! the consumers join their groups and hands its offsets to the sources,
//! which assign their partitions there.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::observe::metrics::Metrics;
use crate::observe::server::{self, Readiness};
use crate::stream::catalog::{BaselineError, BaselineSource, Catalog};
use crate::stream::checkpoint::{
    CheckpointError, CheckpointStore, Exported, ExportedKey, Restored,
};
use crate::stream::compute::{self, ComputeError, ComputePool, WindowReport, WindowState};
use crate::stream::decode::Reject;
use crate::stream::events;
use crate::stream::sink::WindowSink;
use crate::stream::source::PartitionKey;
use crate::stream::source::kafka::{Assignments, Commit, KafkaSource, Positions, SourceWiring};
use crate::stream::window::{SourceBatch, WindowOperator};

/// Why the engine could not start or stopped. The class decides the action.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Baselines could not be read or are invalid.
    #[error(transparent)]
    Baselines(#[from] BaselineError),
    /// The metrics address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Kafka client refused its configuration.
    #[error("stream `{stream}`")]
    Kafka {
        /// The stream.
        stream: String,
        /// Why.
        source: rdkafka::error::KafkaError,
    },
    /// The compute pool could not start.
    #[error(transparent)]
    Compute(#[from] ComputeError),
    /// The checkpoint could not be opened or resumed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A task of the engine failed (a bug).
    #[error("engine task failed: {0}")]
    Task(String),
}

/// How an error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Fix the configuration or the baselines; fail fast.
    User,
    /// A service is unavailable; retry.
    External,
    /// A bug.
    Internal,
}

impl EngineError {
    /// The error's class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Baselines(BaselineError::Invalid { .. })
            | Self::Bind { .. }
            | Self::Kafka { .. } => ErrorClass::User,
            Self::Baselines(BaselineError::Store(_)) => ErrorClass::External,
            Self::Checkpoint(error) if error.is_user_error() => ErrorClass::User,
            Self::Checkpoint(_) => ErrorClass::External,
            Self::Compute(_) | Self::Task(_) => ErrorClass::Internal,
        }
    }
}

/// What a run did, for the CLI and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Model windows exported.
    pub windows: u64,
    /// Events fed to windows.
    pub events: u64,
}

/// Readiness of a running engine.
#[derive(Debug)]
struct Health {
    streams: usize,
    assignments: Arc<Assignments>,
    baselines: AtomicBool,
}

impl Readiness for Health {
    fn ready(&self) -> Result<(), String> {
        if !self.baselines.load(Ordering::Relaxed) {
            return Err("no active baseline yet".into());
        }
        let assigned = self.assignments.assigned();
        if assigned < self.streams {
            return Err(format!("{assigned} of {} streams have joined their group", self.streams));
        }
        Ok(())
    }
}

/// A configured engine, not yet started.
pub struct Engine {
    config: Arc<Config>,
    baselines: Arc<dyn BaselineSource>,
    metrics: Arc<Metrics>,
    reports: broadcast::Sender<Arc<WindowReport>>,
    // Alerting hook (issue 4): closed windows to the alert bridge, lossless.
    window_sink: Option<WindowSink>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// A started engine.
#[derive(Debug)]
pub struct Running {
    /// Where `/metrics` is served.
    pub metrics_address: SocketAddr,
    task: JoinHandle<Result<RunSummary, EngineError>>,
}

impl Running {
    /// Waits until the engine has shut down (after its shutdown signal).
    ///
    /// # Errors
    /// [`EngineError::Task`] if a task panicked.
    pub async fn wait(self) -> Result<RunSummary, EngineError> {
        self.task.await.map_err(|e| EngineError::Task(e.to_string()))?
    }
}

impl Engine {
    /// An engine over `config`, comparing against the baselines of `baselines`.
    pub fn new(config: Config, baselines: Arc<dyn BaselineSource>) -> Self {
        let (reports, _) = broadcast::channel(1024);
        let metrics = Arc::new(Metrics::new());
        // Every reason's series exists from the start, so a rate over it is 0, not absent.
        for reason in Reject::ALL {
            metrics.events_rejected.with_label_values(&[reason.as_str()]);
        }
        Self { config: Arc::new(config), baselines, metrics, reports, window_sink: None }
    }

    /// Hands every closed window to `sink` (the alert bridge, [`crate::alerts`]) and
    /// waits until it is stored before the window's positions are committed.
    pub fn with_window_sink(mut self, sink: WindowSink) -> Self {
        self.window_sink = Some(sink);
        self
    }

    /// The engine's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Every closed window's report, from now on (slow receivers miss the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WindowReport>> {
        self.reports.subscribe()
    }

    /// Loads baselines, binds the metrics server, creates the consumers and
    /// starts every stage. Must be called inside a multi-threaded tokio runtime.
    ///
    /// # Errors
    /// [`EngineError`] for anything that keeps the engine from starting.
    pub async fn start(self, shutdown: watch::Receiver<bool>) -> Result<Running, EngineError> {
        let Self { config, baselines, metrics, reports, window_sink } = self;
        let pool = ComputePool::new(config.compute.threads)?;

        let catalog = {
            let (config, baselines) = (Arc::clone(&config), Arc::clone(&baselines));
            tokio::task::spawn_blocking(move || Catalog::load(baselines.as_ref(), &config, None))
                .await
                .map_err(|e| EngineError::Task(e.to_string()))??
        };
        let models: Vec<String> =
            catalog.plans().map(|p| format!("{}@{}", p.model, p.version)).collect();
        if models.is_empty() {
            tracing::warn!(
                "No model has an active baseline; every event is rejected as unknown_model until one does."
            );
        } else {
            tracing::info!(models = ?models, "Baselines loaded.");
        }
        let assignments = Arc::new(Assignments::default());
        let health = Arc::new(Health {
            streams: config.streams.len(),
            assignments: Arc::clone(&assignments),
            baselines: AtomicBool::new(!catalog.is_empty()),
        });
        let catalog = Arc::new(catalog);
        let checkpoint = open_checkpoint(&config, Arc::clone(&catalog)).await?;
        let (catalog_tx, catalog_rx) = watch::channel(catalog);

        let listener = TcpListener::bind(config.server_address)
            .await
            .map_err(|source| EngineError::Bind { address: config.server_address, source })?;
        let metrics_address = listener
            .local_addr()
            .map_err(|source| EngineError::Bind { address: config.server_address, source })?;
        tracing::info!(address = %metrics_address, "Serving /metrics, /healthz and /readyz.");
        let server_task = tokio::spawn(server::serve(
            listener,
            Arc::clone(&metrics),
            Arc::clone(&health) as Arc<dyn Readiness>,
            shutdown.clone(),
        ));

        tracing::info!(properties = ?config.masked_kafka_properties(), "Kafka consumer settings.");
        let (batch_tx, batch_rx) = mpsc::channel::<SourceBatch>(16);
        let mut commit_routes: HashMap<String, mpsc::Sender<Commit>> = HashMap::new();
        let mut sources = Vec::new();
        for stream in &config.streams {
            let (commit_tx, commit_rx) = mpsc::channel::<Commit>(64);
            for topic in &stream.topics {
                commit_routes.insert(topic.clone(), commit_tx.clone());
            }
            let offsets = checkpoint.iter().flat_map(|(_, restored)| &restored.offsets);
            let positions = Positions::new(
                offsets
                    .filter(|((topic, _), _)| stream.topics.iter().any(|t| **t == **topic))
                    .cloned(),
            );
            let wiring = SourceWiring {
                catalog: catalog_rx.clone(),
                out: batch_tx.clone(),
                commits: commit_rx,
                assignments: Arc::clone(&assignments),
                positions: Arc::new(positions),
            };
            let source = KafkaSource::new(&config, stream, Arc::clone(&metrics), wiring)
                .map_err(|source| EngineError::Kafka { stream: stream.name.clone(), source })?;
            sources.push(source);
        }
        drop(batch_tx);
        let source_tasks: Vec<JoinHandle<()>> =
            sources.into_iter().map(|s| tokio::spawn(s.run(shutdown.clone()))).collect();

        let refresher = tokio::spawn(refresh_baselines(
            Arc::clone(&config),
            baselines,
            catalog_tx,
            Arc::clone(&health),
            shutdown.clone(),
        ));

        let (spec, min_group_size) = (config.window, config.fairness.min_group_size);
        let (operator, checkpoints) = match checkpoint {
            Some((store, restored)) => {
                let exported = restored.exported.clone();
                (
                    WindowOperator::restore(spec, min_group_size, restored, Instant::now()),
                    Some(Checkpoints::new(store, &config, exported)),
                )
            }
            None => (WindowOperator::new(spec, min_group_size), None),
        };
        let stage = WindowStage {
            operator,
            checkpoints,
            config: Arc::clone(&config),
            pool,
            metrics: Arc::clone(&metrics),
            reports,
            window_sink,
            commit_routes,
            summary: RunSummary::default(),
        };
        let task = tokio::spawn(async move {
            let summary = stage.run(batch_rx).await;
            for source in source_tasks {
                source.await.map_err(|e| EngineError::Task(e.to_string()))?;
            }
            refresher.abort();
            server_task.await.map_err(|e| EngineError::Task(e.to_string()))?;
            Ok(summary)
        });
        Ok(Running { metrics_address, task })
    }
}

/// Opens the checkpoint database, if there is one, and reads the consumer
/// group's checkpoint (an empty one when it has none yet).
async fn open_checkpoint(
    config: &Arc<Config>,
    catalog: Arc<Catalog>,
) -> Result<Option<(CheckpointStore, Restored)>, EngineError> {
    let Some(path) = config.checkpoint_path().map(ToOwned::to_owned) else {
        if config.checkpoint.enabled {
            tracing::warn!(
                "No database for checkpoints (set checkpoint.path or baselines.registry_path): \
                 delivery is at-least-once, and a restart reads the events of open windows again."
            );
        }
        return Ok(None);
    };
    let group = config.kafka.group_id.clone();
    let spec = config.window;
    let (store, restored) = tokio::task::spawn_blocking(move || {
        let store = CheckpointStore::open(&path, &group)?;
        let restored = store.load(&spec, &catalog)?;
        Ok::<_, CheckpointError>((store, restored))
    })
    .await
    .map_err(|e| EngineError::Task(e.to_string()))??;
    match &restored {
        Some(restored) => {
            tracing::info!(
                path = %store.path().display(),
                sequence = restored.sequence,
                windows = restored.windows.len(),
                partitions = restored.offsets.len(),
                watermark_ms = restored.watermark_ms,
                "Resuming from the checkpoint."
            );
            for (model, version, start_ms) in &restored.dropped {
                tracing::warn!(
                    model = &**model,
                    version = &**version,
                    start_ms,
                    "Checkpointed window dropped: its baseline version is no longer active."
                );
            }
        }
        None => {
            tracing::info!(path = %store.path().display(), "No checkpoint yet; starting fresh.");
        }
    }
    Ok(Some((store, restored.unwrap_or_default())))
}

/// Re-reads baselines every `baselines.refresh_secs` on a blocking thread.
async fn refresh_baselines(
    config: Arc<Config>,
    baselines: Arc<dyn BaselineSource>,
    catalog_tx: watch::Sender<Arc<Catalog>>,
    health: Arc<Health>,
    mut shutdown: watch::Receiver<bool>,
) {
    let period = Duration::from_secs(config.baselines.refresh_secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
            _ = tick.tick() => {
                let previous = Arc::clone(&catalog_tx.borrow());
                let (config, baselines) = (Arc::clone(&config), Arc::clone(&baselines));
                let loaded = tokio::task::spawn_blocking(move || {
                    Catalog::load(baselines.as_ref(), &config, Some(&previous)).map(|c| (c, previous))
                })
                .await;
                match loaded {
                    Ok(Ok((catalog, previous))) => {
                        if !catalog.same_as(&previous) {
                            let models: Vec<String> =
                                catalog.plans().map(|p| format!("{}@{}", p.model, p.version)).collect();
                            tracing::info!(models = ?models, "Active baselines changed.");
                            health.baselines.store(!catalog.is_empty(), Ordering::Relaxed);
                            catalog_tx.send_replace(Arc::new(catalog));
                        }
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "Cannot refresh baselines; keeping the current ones.");
                    }
                    Err(error) => {
                        tracing::error!(%error, "Baseline refresh task failed.");
                    }
                }
            }
        }
    }
}

/// The window stage's checkpoint store and what it needs between checkpoints.
struct Checkpoints {
    store: Arc<std::sync::Mutex<CheckpointStore>>,
    interval: Duration,
    /// Windows exported before a restart that a replay may close again.
    exported: HashSet<ExportedKey>,
}

impl Checkpoints {
    fn new(store: CheckpointStore, config: &Config, exported: HashSet<ExportedKey>) -> Self {
        Self {
            store: Arc::new(std::sync::Mutex::new(store)),
            interval: Duration::from_millis(config.checkpoint.interval_ms),
            exported,
        }
    }

    /// Runs `f` on the store on a blocking thread.
    async fn with_store<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut CheckpointStore) -> Result<R, CheckpointError> + Send + 'static,
    ) -> Result<R, String> {
        let store = Arc::clone(&self.store);
        let joined = tokio::task::spawn_blocking(move || {
            // A panic while writing rolled the transaction back: the store is usable.
            let mut store = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut store)
        })
        .await;
        match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(crate::error_chain(&error)),
            Err(error) => Err(error.to_string()),
        }
    }
}

struct WindowStage {
    operator: WindowOperator,
    checkpoints: Option<Checkpoints>,
    config: Arc<Config>,
    pool: ComputePool,
    metrics: Arc<Metrics>,
    reports: broadcast::Sender<Arc<WindowReport>>,
    window_sink: Option<WindowSink>,
    commit_routes: HashMap<String, mpsc::Sender<Commit>>,
    summary: RunSummary,
}

impl WindowStage {
    async fn run(mut self, mut batches: mpsc::Receiver<SourceBatch>) -> RunSummary {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let period = self.checkpoints.as_ref().map_or(Duration::from_secs(3600), |c| c.interval);
        let mut checkpoint_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        checkpoint_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                batch = batches.recv() => {
                    let Some(batch) = batch else { break };
                    let applied = self.operator.apply(batch, Instant::now());
                    self.summary.events += applied.accepted;
                    for (model, count) in &applied.late {
                        events::LateEvents { model, count: *count, watermark_ms: self.operator.watermark() }
                            .emit(&self.metrics);
                    }
                    for error in &applied.errors {
                        events::InternalError { stage: "window", error }.emit(&self.metrics);
                    }
                    let closed = self.operator.close_ready();
                    self.finish(closed, true).await;
                }
                _ = tick.tick() => {
                    if self.operator.advance_idle(Instant::now()) {
                        let closed = self.operator.close_ready();
                        self.finish(closed, true).await;
                    }
                }
                _ = checkpoint_tick.tick(), if self.checkpoints.is_some() => {
                    self.checkpoint().await;
                }
            }
        }
        if self.checkpoints.is_some() {
            // The open windows resume on restart and are exported once, complete.
            self.checkpoint().await;
        } else {
            let rest = self.operator.close_all();
            self.finish(rest, false).await;
        }
        self.summary
    }

    /// Writes a checkpoint of the operator, then commits its offsets to Kafka.
    /// A failed write is logged; the previous checkpoint stays, and the next
    /// tick tries again.
    async fn checkpoint(&mut self) {
        let Some(checkpoints) = &self.checkpoints else { return };
        let started = Instant::now();
        let snapshot = self.operator.snapshot();
        let offsets = snapshot.offsets.clone();
        let windows = snapshot.windows.len();
        let spec = self.config.window;
        match checkpoints.with_store(move |store| store.save(&snapshot, &spec)).await {
            Ok(sequence) => {
                let seconds = started.elapsed().as_secs_f64();
                self.metrics.checkpoint_seconds.observe(seconds);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                self.metrics.last_checkpoint.set(now);
                tracing::debug!(sequence, windows, seconds, "Checkpoint written.");
                self.send_commits(offsets).await;
            }
            Err(error) => {
                tracing::warn!(%error, "Checkpoint failed; the previous one stays and the next tick retries.");
            }
        }
    }

    /// Finishes closed windows on the pool, exports them, then commits.
    async fn finish(&mut self, closed: Vec<WindowState>, complete: bool) {
        if !closed.is_empty() {
            let options = self.config.drift;
            let statistics = self.config.statistics.clone();
            let finished = self
                .pool
                .run(move || {
                    use rayon::prelude::*;
                    closed
                        .par_iter()
                        .map(|state| compute::finish(state, complete, &options, &statistics))
                        .collect::<Vec<_>>()
                })
                .await;
            match finished {
                Ok(reports) => {
                    let mut exported = Vec::new();
                    for report in reports {
                        let key: ExportedKey = (
                            Arc::clone(&report.model),
                            Arc::clone(&report.version),
                            report.start_ms,
                        );
                        if let Some(checkpoints) = &mut self.checkpoints {
                            if checkpoints.exported.remove(&key) {
                                tracing::info!(
                                    model = &*report.model,
                                    start_ms = report.start_ms,
                                    "Window already exported before the restart; not exported again."
                                );
                                continue;
                            }
                            exported.push(Exported { key, end_ms: report.end_ms });
                        }
                        events::WindowClosed { report: &report }.emit(&self.metrics);
                        self.summary.windows += 1;
                        let report = Arc::new(report);
                        if let Some(sink) = &self.window_sink {
                            sink.deliver(&report).await;
                        }
                        // No receiver is fine: reports are for the demo and tests.
                        self.reports.send(report).ok();
                    }
                    if let Some(checkpoints) = &self.checkpoints {
                        if !exported.is_empty() {
                            let recorded =
                                checkpoints.with_store(move |s| s.record_exported(&exported)).await;
                            if let Err(error) = recorded {
                                tracing::warn!(%error, "Cannot record exported windows; a crash before the next checkpoint may export them again.");
                            }
                        }
                    }
                }
                Err(error) => {
                    events::InternalError { stage: "compute", error: &error.to_string() }
                        .emit(&self.metrics);
                }
            }
        }
        if self.checkpoints.is_none() {
            let positions = self.operator.commit_positions();
            self.send_commits(positions).await;
        }
    }

    /// Sends positions to the sources of their topics, to store and commit.
    async fn send_commits(&self, positions: Vec<(PartitionKey, i64)>) {
        if positions.is_empty() {
            return;
        }
        let mut per_stream: Vec<(&mpsc::Sender<Commit>, Commit)> = Vec::new();
        for (key, position) in positions {
            let Some(route) = self.commit_routes.get(&*key.0) else { continue };
            match per_stream.iter_mut().find(|(r, _)| r.same_channel(route)) {
                Some((_, commit)) => commit.push((key, position)),
                None => per_stream.push((route, vec![(key, position)])),
            }
        }
        for (route, commit) in per_stream {
            // A source that has stopped no longer commits; its group resumes
            // from the last committed position.
            route.send(commit).await.ok();
        }
    }
}
