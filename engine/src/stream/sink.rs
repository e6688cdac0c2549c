//! Closed windows handed out of the stream, with backpressure and an
//! acknowledgement.
//!
//! The engine's report broadcast drops the oldest reports for a slow
//! receiver, which is fine for a demo's console but not for alerting: a
//! dropped window could be the one that fires. A [`WindowSink`] is a bounded
//! channel instead. The window stage waits in [`WindowSink::deliver`] until
//! the receiver has [acknowledged](ClosedWindow::acknowledge) the window (its
//! consequences are stored) before it commits the window's Kafka positions,
//! so a crash after the commit cannot lose what the window caused, and a slow
//! receiver slows the stage down instead of growing a queue.
//!
//! The stream defines this seam and never names what is behind it: the alert
//! bridge ([`crate::alerts`]) holds the receiving end.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::stream::compute::WindowReport;

/// The window stage's end of a sink. Cheap to clone; the receiving end sees
/// its channel close once every clone is dropped (the engine has stopped).
#[derive(Debug, Clone)]
pub struct WindowSink {
    tx: mpsc::Sender<ClosedWindow>,
}

/// The receiving end of a [`WindowSink`].
pub type ClosedWindows = mpsc::Receiver<ClosedWindow>;

/// One closed window, to be acknowledged once handled.
#[derive(Debug)]
pub struct ClosedWindow {
    /// The window's report.
    pub report: Arc<WindowReport>,
    handled: oneshot::Sender<()>,
}

impl ClosedWindow {
    /// Tells the window stage that this window is handled, so its positions
    /// may be committed. Dropping the window unacknowledged says the same: a
    /// receiver that gave up must not hold the stream back.
    pub fn acknowledge(self) {
        // The stage may have stopped waiting (shutdown); nothing to tell then.
        self.handled.send(()).ok();
    }
}

/// A sink holding at most `capacity` windows that are not yet taken.
pub fn window_sink(capacity: usize) -> (WindowSink, ClosedWindows) {
    let (tx, rx) = mpsc::channel(capacity);
    (WindowSink { tx }, rx)
}

impl WindowSink {
    /// Hands a closed window on and waits until it is acknowledged (or the
    /// receiver has stopped). Waits while the receiver's buffer is full.
    pub async fn deliver(&self, report: &Arc<WindowReport>) {
        let (handled, done) = oneshot::channel();
        if self.tx.send(ClosedWindow { report: Arc::clone(report), handled }).await.is_ok() {
            // An error means the receiver stopped; nothing more to wait for.
            done.await.ok();
        }
    }
}
