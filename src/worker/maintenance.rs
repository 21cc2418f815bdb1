//! The maintenance pass every worker process runs on a timer: retention of finished jobs,
//! a sweep for orphaned rows, retention of delivery reports that never found their message,
//! and (SQLite) fresh planner statistics.
//!
//! All of it is our own SQL on apalis's tables ([`crate::db::queue`]), because apalis's own
//! `vacuum_before` deletes every finished row on SQLite and its orphan recovery only covers
//! queues with a live worker.

use std::time::Duration;

use chrono::Utc;

use crate::{
    clock::Clock,
    config::JobSettings,
    db::{Db, queue},
};

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub deleted_jobs: u64,
    pub requeued_orphans: u64,
    pub deleted_workers: u64,
    pub expired_reports: u64,
    /// Billing runs older than the jobs' retention.
    pub deleted_billing_runs: u64,
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
        requeued_orphans: queue::requeue_orphans(db, orphan_cutoff).await?,
        deleted_jobs: queue::purge_finished(db, retention_cutoff).await?,
        deleted_workers: queue::delete_stale_workers(db, retention_cutoff).await?,
        ..Default::default()
    };
    let report_cutoff = maintenance.clock.now_ms()
        - i64::try_from(maintenance.report_retention_hours.saturating_mul(3_600_000))
            .unwrap_or(i64::MAX);
    report.expired_reports = crate::delivery::expire_parked(db, report_cutoff).await? as u64;
    let runs_cutoff = maintenance.clock.now_ms()
        - i64::try_from(settings.retention_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
    report.deleted_billing_runs = crate::db::billing_runs::purge(db, runs_cutoff).await?;
    queue::optimize(db).await?;
    Ok(report)
}

/// The start-up half of maintenance: fresh planner statistics for the job tables
/// ([`queue::analyze`]).
pub async fn analyze(db: &Db) -> Result<(), sqlx::Error> {
    queue::analyze(db).await
}
