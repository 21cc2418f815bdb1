//! Putting jobs on the queue: the one write path into apalis's job tables.
//!
//! We insert rows ourselves instead of through `TaskSink::push` because we need the same
//! behaviour on both engines inside our own transactions: a duplicate idempotency key is
//! dropped silently (apalis-postgres would fail the whole push), the job id is returned, and
//! `max_attempts` always comes from the contract (apalis would default to 25).

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::Utc;
use dialogpay_jobs::JobSpec;
use tokio::sync::watch;

use crate::{
    db::{Db, Tx},
    with_pool, with_tx,
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
}

/// A job about to be inserted, already encoded.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub queue: &'static str,
    pub payload: Vec<u8>,
    pub max_attempts: i64,
    pub run_at_secs: i64,
    pub idempotency_key: Option<String>,
}

impl NewJob {
    pub fn new<J: JobSpec>(job: &J, delay: Duration) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: crate::db::ids::monotonic_ulid().to_string(),
            queue: J::QUEUE,
            payload: serde_json::to_vec(job)?,
            max_attempts: i64::from(J::MAX_ATTEMPTS),
            run_at_secs: Utc::now().timestamp() + delay.as_secs() as i64,
            idempotency_key: job.idempotency_key(),
        })
    }
}

const INSERT_SQLITE: &str = "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
     VALUES ($1, $2, $3, 'Pending', 0, $4, $5, 0, '{}', $6) ON CONFLICT (job_type, idempotency_key) DO NOTHING";
const INSERT_POSTGRES: &str = "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
     VALUES ($1, $2, $3, 'Pending', 0, $4, to_timestamp($5), 0, ''::hstore, $6) ON CONFLICT (job_type, idempotency_key) DO NOTHING";

/// The same insert as [`INSERT_SQLITE`]/[`INSERT_POSTGRES`] for `rows` rows at once.
fn multi_insert_sql(postgres: bool, rows: usize) -> String {
    let (table, run_at, metadata) = if postgres {
        ("apalis.jobs", "to_timestamp", "''::hstore")
    } else {
        ("Jobs", "", "'{}'")
    };
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let n = r * 6;
            format!(
                "(${}, ${}, ${}, 'Pending', 0, ${}, {run_at}(${}), 0, {metadata}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            )
        })
        .collect();
    format!(
        "INSERT INTO {table} (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
         VALUES {} ON CONFLICT (job_type, idempotency_key) DO NOTHING",
        values.join(", ")
    )
}

fn insert_sql(db_is_postgres: bool) -> &'static str {
    if db_is_postgres {
        INSERT_POSTGRES
    } else {
        INSERT_SQLITE
    }
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
        let new = NewJob::new(job, delay)?;
        let sql = insert_sql(self.db.is_postgres());
        let inserted = with_pool!(&self.db, |p| bind_insert(sql, &new)
            .execute(p)
            .await?
            .rows_affected());
        if delay.is_zero() {
            self.wakers.wake(J::QUEUE);
        }
        Ok((inserted > 0).then_some(new.id))
    }

    /// Enqueues inside the caller's transaction: the job exists if and only if it commits.
    /// Call [`Enqueuer::wake`] after the commit.
    pub async fn enqueue_tx<J: JobSpec>(
        &self,
        tx: &mut Tx,
        job: &J,
    ) -> Result<Option<String>, EnqueueError> {
        let new = NewJob::new(job, Duration::ZERO)?;
        let sql = insert_sql(matches!(tx, Tx::Postgres(_)));
        let inserted = with_tx!(tx, |c| bind_insert(sql, &new)
            .execute(c)
            .await?
            .rows_affected());
        Ok((inserted > 0).then_some(new.id))
    }

    /// Enqueues many jobs of one kind: one multi-row INSERT per 500 jobs (sweeps, benchmarks).
    /// Returns how many were new (duplicates by idempotency key are dropped).
    pub async fn enqueue_many<J: JobSpec>(&self, jobs: &[J]) -> Result<u64, EnqueueError> {
        let mut inserted = 0;
        for chunk in jobs.chunks(500) {
            let rows: Vec<NewJob> = chunk
                .iter()
                .map(|job| NewJob::new(job, Duration::ZERO))
                .collect::<Result<_, _>>()?;
            let sql = multi_insert_sql(self.db.is_postgres(), rows.len());
            inserted += with_pool!(&self.db, |p| {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for new in &rows {
                    query = query
                        .bind(new.payload.clone())
                        .bind(new.id.clone())
                        .bind(new.queue)
                        .bind(new.max_attempts)
                        .bind(new.run_at_secs)
                        .bind(new.idempotency_key.clone());
                }
                query.execute(p).await?.rows_affected()
            });
        }
        self.wakers.wake(J::QUEUE);
        Ok(inserted)
    }

    /// Wakes this process's workers of `queue` (after a transactional enqueue committed).
    pub fn wake(&self, queue: &str) {
        self.wakers.wake(queue);
    }
}

fn bind_insert<'q, DB>(
    sql: &'static str,
    new: &'q NewJob,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(sql)
        .bind(new.payload.clone())
        .bind(new.id.clone())
        .bind(new.queue)
        .bind(new.max_attempts)
        .bind(new.run_at_secs)
        .bind(new.idempotency_key.clone())
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("encoding the job payload: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("writing the job row: {0}")]
    Db(#[from] sqlx::Error),
}
