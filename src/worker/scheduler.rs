//! The scheduler: on each tick of a cron expression it only enqueues a job whose idempotency
//! key is the tick, so several processes ticking at once create one job, and a slow run never
//! delays the next tick (docs/apalis-1.0.md §4). Ticks missed while down are not replayed; the
//! jobs catch up by themselves (the sweep takes every period due by now).

use std::str::FromStr;

use chrono::Utc;
use dialogpay_jobs::billing::{Reconcile, Sweep};

use crate::{app::AppState, app::Shutdown};

/// Runs until shutdown: billing sweep and charge reconciliation on their cron expressions.
pub async fn run(state: AppState, shutdown: Shutdown) -> anyhow::Result<()> {
    let sweep = cron::Schedule::from_str(&state.settings.billing.sweep_cron)?;
    let reconcile = cron::Schedule::from_str(&state.settings.billing.reconcile_cron)?;
    tokio::pin!(shutdown);
    loop {
        let now = Utc::now();
        let next_sweep = sweep.after(&now).next();
        let next_reconcile = reconcile.after(&now).next();
        let (at, is_sweep) = match (next_sweep, next_reconcile) {
            (Some(s), Some(r)) if r < s => (r, false),
            (Some(s), _) => (s, true),
            (None, Some(r)) => (r, false),
            (None, None) => return Ok(()),
        };
        let wait = (at - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        let tick = at.timestamp().to_string();
        let result = if is_sweep {
            state.enqueuer.enqueue(&Sweep { tick }).await
        } else {
            state
                .enqueuer
                .enqueue(&Reconcile {
                    tick,
                    all_open: false,
                })
                .await
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "scheduler could not enqueue; the next tick will");
        }
    }
}
