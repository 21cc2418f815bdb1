//! The maintenance pass every worker process runs on a timer: retention of finished jobs,
//! a sweep for orphaned rows, retention of delivery reports that never found their message,
//! and (SQLite) fresh planner statistics.
//!
//! All of it is plain SQL on apalis's tables, because apalis's own `vacuum_before` deletes every
//! finished row on SQLite and its orphan recovery only covers queues with a live worker.

use std::time::Duration;

use chrono::Utc;

use crate::{clock::Clock, config::JobSettings, db::Db, with_pool};

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub deleted_jobs: u64,
    pub requeued_orphans: u64,
    pub deleted_workers: u64,
    pub expired_reports: u64,
}

/// What the maintenance pass needs besides the database.
#[derive(Debug, Clone)]
pub struct MaintenanceSettings {
    pub jobs: JobSettings,
    /// `sms.unmatched_report_retention_hours`.
    pub report_retention_hours: u64,
    /// The business clock, which stamps parked delivery reports.
    pub clock: Clock,
}

impl MaintenanceSettings {
    pub fn from_state(state: &crate::state::AppState) -> Self {
        Self {
            jobs: state.settings.jobs.clone(),
            report_retention_hours: state.settings.sms.unmatched_report_retention_hours,
            clock: state.clock.clone(),
        }
    }
}

/// Runs [`run_pass`] every `maintenance_interval_secs` until `stop` resolves.
pub async fn run_loop(
    db: Db,
    settings: MaintenanceSettings,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut tick =
        tokio::time::interval(Duration::from_secs(settings.jobs.maintenance_interval_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {
                match run_pass(&db, &settings).await {
                    Ok(report) if report != MaintenanceReport::default() => tracing::info!(?report, "job maintenance"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "job maintenance failed; will try again"),
                }
            }
        }
    }
}

/// One maintenance pass.
pub async fn run_pass(
    db: &Db,
    maintenance: &MaintenanceSettings,
) -> Result<MaintenanceReport, sqlx::Error> {
    let settings = &maintenance.jobs;
    let now = Utc::now().timestamp();
    let retention_cutoff = now - (settings.retention_hours * 3600) as i64;
    let orphan_cutoff =
        now - (settings.heartbeat_interval_secs as i64) * (settings.missed_heartbeats as i64 + 1);
    let mut report = MaintenanceReport {
        requeued_orphans: requeue_orphans(db, orphan_cutoff).await?,
        ..Default::default()
    };
    loop {
        let deleted = delete_finished(db, retention_cutoff).await?;
        report.deleted_jobs += deleted;
        if deleted < DELETE_BATCH {
            break;
        }
    }
    report.deleted_workers = delete_stale_workers(db, retention_cutoff).await?;
    let report_cutoff = maintenance.clock.now_ms()
        - i64::try_from(maintenance.report_retention_hours.saturating_mul(3_600_000))
            .unwrap_or(i64::MAX);
    report.expired_reports = crate::delivery::expire_parked(db, report_cutoff).await? as u64;
    if let Db::Sqlite(pool) = db {
        sqlx::query("PRAGMA optimize").execute(pool).await?;
    }
    Ok(report)
}

/// Gives SQLite's planner statistics for the job tables at start-up, so the lock and fetch
/// queries use their indexes from the first job on (docs/apalis-1.0.md §5).
pub async fn analyze(db: &Db) -> Result<(), sqlx::Error> {
    if let Db::Sqlite(pool) = db {
        let mut conn = pool.acquire().await?;
        sqlx::query("PRAGMA analysis_limit = 1000")
            .execute(&mut *conn)
            .await?;
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
    }
    Ok(())
}

const DELETE_BATCH: u64 = 10_000;

async fn delete_finished(db: &Db, cutoff_secs: i64) -> Result<u64, sqlx::Error> {
    let sql = if db.is_postgres() {
        "DELETE FROM apalis.jobs WHERE id IN (SELECT id FROM apalis.jobs WHERE status IN ('Done', 'Killed') AND done_at < to_timestamp($1) LIMIT 10000)"
    } else {
        "DELETE FROM Jobs WHERE id IN (SELECT id FROM Jobs WHERE status IN ('Done', 'Killed') AND done_at < $1 LIMIT 10000)"
    };
    Ok(with_pool!(db, |p| sqlx::query(sql)
        .bind(cutoff_secs)
        .execute(p)
        .await?
        .rows_affected()))
}

/// Running or fetched rows whose worker has not been seen since `cutoff` run again. apalis
/// does the same from its heartbeats, but only for queues that still have a live worker.
async fn requeue_orphans(db: &Db, cutoff_secs: i64) -> Result<u64, sqlx::Error> {
    let sql = if db.is_postgres() {
        "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, done_at = NULL, \
           attempts = attempts + 1, last_result = '{\"Err\": \"re-queued: its worker stopped heartbeating\"}'::jsonb \
         WHERE status IN ('Running', 'Queued') AND (lock_by IS NULL OR lock_by NOT IN \
           (SELECT id FROM apalis.workers WHERE last_seen >= to_timestamp($1)))"
    } else {
        "UPDATE Jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, done_at = NULL, \
           attempts = attempts + 1, last_result = '{\"Err\": \"re-queued: its worker stopped heartbeating\"}' \
         WHERE status IN ('Running', 'Queued') AND (lock_by IS NULL OR lock_by NOT IN \
           (SELECT id FROM Workers WHERE last_seen >= $1))"
    };
    let requeued = with_pool!(db, |p| sqlx::query(sql)
        .bind(cutoff_secs)
        .execute(p)
        .await?
        .rows_affected());
    // Rows left Pending but still locked can never be fetched again; unlock them.
    let unlock = if db.is_postgres() {
        "UPDATE apalis.jobs SET lock_by = NULL, lock_at = NULL WHERE status = 'Pending' AND lock_by IS NOT NULL"
    } else {
        "UPDATE Jobs SET lock_by = NULL, lock_at = NULL WHERE status = 'Pending' AND lock_by IS NOT NULL"
    };
    with_pool!(db, |p| sqlx::query(unlock)
        .execute(p)
        .await?
        .rows_affected());
    Ok(requeued)
}

/// Worker rows of processes gone for longer than the retention, once no job points at them.
async fn delete_stale_workers(db: &Db, cutoff_secs: i64) -> Result<u64, sqlx::Error> {
    let sql = if db.is_postgres() {
        "DELETE FROM apalis.workers w WHERE w.last_seen < to_timestamp($1) \
           AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id)"
    } else {
        "DELETE FROM Workers WHERE last_seen < $1 \
           AND NOT EXISTS (SELECT 1 FROM Jobs j WHERE j.lock_by = Workers.id)"
    };
    Ok(with_pool!(db, |p| sqlx::query(sql)
        .bind(cutoff_secs)
        .execute(p)
        .await?
        .rows_affected()))
}
