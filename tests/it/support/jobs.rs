//! Helpers for tests that watch the job queue.

use std::time::Duration;

use dialogpay::db::jobs;
use dialogpay_jobs::JobSpec;

use super::{TestApp, eventually};

impl TestApp {
    /// The newest audit entry of `action`, through the admin API.
    pub async fn audit_entry(&self, action: &str) -> serde_json::Value {
        let (_, audit) = self.get("/api/v1/admin/audit", super::OPERATOR_KEY).await;
        audit["items"]
            .as_array()
            .expect("audit items")
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} is audited: {audit}"))
            .clone()
    }

    /// Enqueues a job through the real enqueue path; returns its id.
    pub async fn enqueue<J: JobSpec>(&self, job: &J) -> String {
        self.state
            .enqueuer
            .enqueue(job)
            .await
            .expect("enqueues")
            .expect("not a duplicate")
    }

    /// Runs the pending jobs, then reads job `id`.
    pub async fn settled_job(&self, id: &str) -> jobs::JobRow {
        self.run_pending_jobs().await;
        jobs::get(&self.state.db, id)
            .await
            .expect("reads job")
            .unwrap_or_else(|| panic!("job {id} exists"))
    }

    /// Waits until the job reaches the operator status `want` (e.g. "done", "failed"), for
    /// tests of when that happens (pickup, backoff, a crashed worker's orphan).
    pub async fn wait_job(&self, id: &str, want: &str, within: Duration) -> jobs::JobRow {
        let db = self.state.db.clone();
        eventually(within, &format!("job {id} to be {want}"), || {
            let db = db.clone();
            async move {
                let row = jobs::get(&db, id).await.expect("reads job")?;
                (row.status.as_str() == want).then_some(row)
            }
        })
        .await
    }
}
