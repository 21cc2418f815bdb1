//! Putting jobs on the queue: the one write path into apalis's job tables.
//!
//! We insert rows ourselves ([`crate::db::queue::insert`]) instead of through `TaskSink::push` because we need the same
//! behaviour on both engines inside our own transactions: a duplicate idempotency key is
//! dropped silently (apalis-postgres would fail the whole push), the job id is returned, and
//! `max_attempts` always comes from the contract (apalis would default to 25).

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::Utc;
use dialogpay_jobs::JobSpec;
use tokio::sync::watch;

use crate::db::{
    Db, Tx,
    queue::{self, NewJob},
};

/// Wakes the workers of a queue in this process right after a job was enqueued.
#[derive(Clone, Default)]
pub struct Wakers {
    senders: Arc<std::sync::Mutex<HashMap<&'static str, watch::Sender<u64>>>>,
}

impl Wakers {
    pub fn subscribe(&self, queue: &'static str) -> watch::Receiver<u64> {
        let mut map = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(queue)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    pub fn wake(&self, queue: &str) {
        let map = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = map.get(queue) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Wakes every queue's workers (after a bulk retry over many queues).
    pub fn wake_all(&self) {
        let map = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        for tx in map.values() {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// The row for `job`, to run after `delay`.
fn new_job<J: JobSpec>(job: &J, delay: Duration) -> Result<NewJob, serde_json::Error> {
    Ok(NewJob {
        id: crate::db::ids::monotonic_ulid().to_string(),
        queue: J::QUEUE,
        payload: serde_json::to_vec(job)?,
        max_attempts: i64::from(J::MAX_ATTEMPTS),
        run_at_secs: Utc::now().timestamp() + delay.as_secs() as i64,
        idempotency_key: job.idempotency_key(),
    })
}

/// The handle the API, cron ticks and handlers use to enqueue work.
#[derive(Clone)]
pub struct Enqueuer {
    db: Db,
    wakers: Wakers,
}

impl Enqueuer {
    pub fn new(db: Db, wakers: Wakers) -> Self {
        Self { db, wakers }
    }

    /// The wake-up channels workers of this process subscribe to.
    pub fn wakers(&self) -> &Wakers {
        &self.wakers
    }

    /// Enqueues now. Returns the new job id, or `None` when a job with the same idempotency
    /// key already exists.
    pub async fn enqueue<J: JobSpec>(&self, job: &J) -> Result<Option<String>, EnqueueError> {
        self.enqueue_in(job, Duration::ZERO).await
    }

    /// Enqueues to run after `delay`.
    pub async fn enqueue_in<J: JobSpec>(
        &self,
        job: &J,
        delay: Duration,
    ) -> Result<Option<String>, EnqueueError> {
        let new = new_job(job, delay)?;
        let inserted = queue::insert(&self.db, &new).await?;
        if delay.is_zero() {
            self.wakers.wake(J::QUEUE);
        }
        Ok(inserted.then_some(new.id))
    }

    /// Enqueues inside the caller's transaction: the job exists if and only if it commits.
    /// Call [`Enqueuer::wake`] after the commit.
    pub async fn enqueue_tx<J: JobSpec>(
        &self,
        tx: &mut Tx,
        job: &J,
    ) -> Result<Option<String>, EnqueueError> {
        self.enqueue_in_tx(tx, job, Duration::ZERO).await
    }

    /// Enqueues inside the caller's transaction to run after `delay`.
    pub async fn enqueue_in_tx<J: JobSpec>(
        &self,
        tx: &mut Tx,
        job: &J,
        delay: Duration,
    ) -> Result<Option<String>, EnqueueError> {
        let new = new_job(job, delay)?;
        let inserted = queue::insert_in(tx, &new).await?;
        Ok(inserted.then_some(new.id))
    }

    /// Enqueues many jobs of one kind: one multi-row INSERT per 500 jobs (sweeps, benchmarks).
    /// Returns how many were new (duplicates by idempotency key are dropped).
    pub async fn enqueue_many<J: JobSpec>(&self, jobs: &[J]) -> Result<u64, EnqueueError> {
        let mut inserted = 0;
        for chunk in jobs.chunks(queue::MAX_ROWS_PER_INSERT) {
            let rows: Vec<NewJob> = chunk
                .iter()
                .map(|job| new_job(job, Duration::ZERO))
                .collect::<Result<_, _>>()?;
            inserted += queue::insert_many(&self.db, &rows).await?;
        }
        self.wakers.wake(J::QUEUE);
        Ok(inserted)
    }

    /// Wakes this process's workers of `queue` (after a transactional enqueue committed).
    pub fn wake(&self, queue: &str) {
        self.wakers.wake(queue);
    }

    /// Wakes this process's workers of every queue.
    pub fn wake_all(&self) {
        self.wakers.wake_all();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("encoding the job payload: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("writing the job row: {0}")]
    Db(#[from] sqlx::Error),
}
