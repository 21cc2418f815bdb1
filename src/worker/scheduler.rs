//! The scheduler, started with the workers by `serve` and `worker` (never by `api`): on each
//! tick of `billing.sweep_cron` and `billing.reconcile_cron` it only enqueues a job whose
//! idempotency key is the tick, so several processes ticking at once create one job, and a slow
//! run never delays the next tick (docs/apalis-1.0.md §4).
//!
//! Ticks missed while no worker ran are not replayed: the next sweep catches up by itself,
//! since it takes every period due by now (and the reconcile pass every open charge).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use dialogpay_jobs::billing::{Reconcile, Sweep};

use crate::{config::BillingSettings, db::enqueue::Enqueuer, state::Shutdown};

/// What a tick enqueues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Sweep,
    Reconcile,
}

/// Runs until shutdown: billing sweep and charge reconciliation on their cron expressions.
pub async fn run(
    enqueuer: Enqueuer,
    billing: BillingSettings,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let schedules = [
        (Task::Sweep, cron::Schedule::from_str(&billing.sweep_cron)?),
        (
            Task::Reconcile,
            cron::Schedule::from_str(&billing.reconcile_cron)?,
        ),
    ];
    let mut last = Utc::now();
    tracing::info!(
        next_sweep = ?next_tick(&schedules[0].1, last),
        next_reconcile = ?next_tick(&schedules[1].1, last),
        "scheduler started"
    );
    tokio::pin!(shutdown);
    loop {
        // After the later of the last tick and now: never the same tick twice, and ticks
        // missed while suspended are skipped (the jobs catch up by themselves).
        let from = last.max(Utc::now());
        let next: Vec<(Task, DateTime<Utc>)> = schedules
            .iter()
            .filter_map(|(task, schedule)| next_tick(schedule, from).map(|at| (*task, at)))
            .collect();
        let Some(at) = next.iter().map(|(_, at)| *at).min() else {
            tracing::warn!("the billing cron expressions never fire again; scheduler stops");
            return Ok(());
        };
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        last = at;
        for (task, _) in next.iter().filter(|(_, t)| *t == at) {
            enqueue(&enqueuer, *task, at).await;
        }
    }
}

fn next_tick(schedule: &cron::Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule.after(&after).next()
}

async fn enqueue(enqueuer: &Enqueuer, task: Task, at: DateTime<Utc>) {
    let tick = at.timestamp().to_string();
    let result = match task {
        Task::Sweep => enqueuer.enqueue(&Sweep { tick }).await,
        Task::Reconcile => {
            enqueuer
                .enqueue(&Reconcile {
                    tick,
                    all_open: false,
                })
                .await
        }
    };
    match result {
        Ok(_) => tracing::debug!(?task, %at, "scheduled job enqueued"),
        Err(err) => {
            tracing::warn!(?task, error = %err, "scheduler could not enqueue; the next tick will")
        }
    }
}
