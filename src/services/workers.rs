//! The one owner of the process's workers: the writers behind the audit log and the API
//! usage, the counters' change feed, the periodic work, and each maintenance run. Each has a
//! name, a panic in one is logged under it, and a stopping process says which were still
//! running. (Helpers a request or a step spawns and bounds itself, such as a connection's
//! request task, an export's place or a number lane's renewal, are not workers.)
//!
//! The types that need a worker do not spawn it: they hand back the future
//! (`AuditWriter::new`, `CounterChanges::new`, `UsageRecorder::new`), and whoever owns the
//! process gives it to [`Workers::spawn`].

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
};

use futures::FutureExt;
use tokio::task::{AbortHandle, JoinHandle};

#[derive(Debug, Clone, Default)]
pub struct Workers(Arc<Mutex<Vec<(String, AbortHandle)>>>);

impl Workers {
    /// Runs `work` on the current runtime as the worker `name`. The handle may be awaited or
    /// dropped (the work goes on either way).
    pub fn spawn(&self, name: impl Into<String>, work: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
        let name = name.into();
        let logged = name.clone();
        let task = tokio::spawn(async move {
            if AssertUnwindSafe(work).catch_unwind().await.is_err() {
                tracing::error!(worker = %logged, "a background worker stopped with a panic");
            }
        });
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|(_, handle)| !handle.is_finished());
        all.push((name, task.abort_handle()));
        task
    }

    /// The workers still running, by name.
    pub fn running(&self) -> Vec<String> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().filter(|(_, handle)| !handle.is_finished()).map(|(name, _)| name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_is_listed_until_it_ends_and_a_panic_ends_only_itself() {
        let workers = Workers::default();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let waiting = workers.spawn("waiting", async move {
            let _ = wait.await;
        });
        let panicking = workers.spawn("panicking", async { panic!("on purpose") });
        assert!(panicking.await.is_ok(), "the panic is caught and logged, not passed on");
        assert_eq!(workers.running(), ["waiting"]);
        go.send(()).unwrap();
        waiting.await.unwrap();
        assert!(workers.running().is_empty());
    }
}
