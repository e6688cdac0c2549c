//! Alert policies over closed windows, and the delivery of what they decide:
//! retraining webhooks and Alertmanager alerts.
//!
//! A drift monitor that calls a retraining pipeline has two ways to fail its users: by
//! missing the moment (a lost request when a receiver is down, a crash between deciding
//! and sending) and by flooding them (a signal flapping around its threshold starting a
//! retraining job every window). This crate is organised around avoiding both.
//!
//! # Design
//!
//! * **Pure policy, I/O at the edge.** [`policy`] decides, [`webhook`] and
//!   [`alertmanager`] deliver. [`PolicyEngine::evaluate`](policy::PolicyEngine::evaluate)
//!   is a plain function of the window and remembered state: no clock, no I/O, no async,
//!   so every rule (K of N windows, hysteresis, cooldown) is unit-tested directly, and
//!   replaying windows replays decisions. Time is the windows' event time.
//! * **No storms by construction.** A rule fires on the transition from idle to
//!   breaching, not on every breaching window; it resolves only past a separate, healthier
//!   bound (hysteresis); and after a fire it cannot fire again for its cooldown.
//! * **Stable identity.** Every decision has an [`IdempotencyKey`](policy::IdempotencyKey)
//!   (model, version, rule, window start). The CloudEvent id is a hash of it, the outbox
//!   key contains it and the `webhook-id` header carries it, so a retry, a restart or a
//!   replayed window can never look like a new trigger to a receiver.
//! * **Store, then send.** [`WebhookHandle::submit`](webhook::WebhookHandle::submit)
//!   writes the trigger to an [`OutboxStore`](outbox::OutboxStore) before any request
//!   is made; the delivery loop sends, retries with capped exponential backoff and full
//!   jitter, and records the outcome. Delivery is at least once. The store is a trait the
//!   engine implements on SQLite; this crate never touches a database.
//! * **Signed requests.** Every request is signed the Standard Webhooks way
//!   ([`signing`]), which receivers can check with any of that project's libraries.
//! * **Metrics without a metrics dependency.** Outcomes go to a
//!   [`DeliveryObserver`](observe::DeliveryObserver) that the engine wires to its
//!   Prometheus registry.
//!
//! # Wiring (what the engine does)
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use driftgauge_alerting::{policy::*, webhook::*, alertmanager::*, outbox::MemoryOutbox};
//! # async fn wiring(policies: PolicyConfig, webhooks: WebhookConfig, am: AlertmanagerConfig,
//! #                 windows: Vec<WindowOutcome>) -> driftgauge_alerting::Result<()> {
//! let mut engine = PolicyEngine::new(&policies)?;                // fail fast on bad config
//! let store = Arc::new(MemoryOutbox::new());                       // the engine: its SQLite store
//! let (delivery, webhook) = WebhookDelivery::builder(webhooks, store).build()?;
//! let (pusher, alerts) = AlertmanagerPusher::builder(am).build()?;
//! let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
//! let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
//!     let _ = rx.wait_for(|stop| *stop).await;
//! };
//! tokio::spawn(delivery.run(stopped(stop_rx.clone())));
//! tokio::spawn(pusher.run(stopped(stop_rx)));
//!
//! for window in &windows {                                         // each closed window
//!     for decision in engine.evaluate(window) {
//!         webhook.submit(&decision).await?;                        // durable once this returns
//!         alerts.send(&decision).await?;
//!     }
//! }
//! let _ = stop_tx.send(true);
//! # Ok(()) }
//! ```
//!
//! # User guide
//!
//! Policies, the payload, signing (with a receiver snippet), retries and body templates
//! for Airflow and GitHub are documented in [`guide`] (also `docs/alerting.md`).
#![deny(missing_docs)]

pub mod alertmanager;
mod attempt;
pub mod cloudevent;
pub mod error;
pub mod observe;
pub mod outbox;
pub mod policy;
pub mod signing;
pub mod template;
pub mod webhook;

pub use error::{Error, Result};

#[doc = include_str!("../../docs/alerting.md")]
pub mod guide {}
