//! Operator actions outside the job list: run the billing sweep or the reconcile pass now, see
//! the last runs, and read the audit log.

use chrono::NaiveDate;
use dialogpay_jobs::{
    JobSpec,
    billing::{Reconcile, Sweep},
};

use crate::{
    clock::oslo_midnight_ms,
    db::{
        audit::{self, AuditEntry, AuditFilter},
        billing_runs::{self, BillingRun},
    },
    service::{
        OperatorActor, ServiceError, ServiceResult,
        page::{Page, PageRequest},
    },
    state::AppState,
};

/// Queues the billing sweep now (it only enqueues create-charge jobs); the job's id.
pub async fn sweep_now(
    state: &AppState,
    operator: &OperatorActor,
) -> ServiceResult<Option<String>> {
    let tick = format!("manual-{}", ulid::Ulid::new());
    queue(state, operator, &Sweep { tick }, "billing.sweep").await
}

/// Queues a pass that re-reads every open charge from Vipps now; the job's id.
pub async fn reconcile_now(
    state: &AppState,
    operator: &OperatorActor,
) -> ServiceResult<Option<String>> {
    let tick = format!("manual-{}", ulid::Ulid::new());
    let job = Reconcile {
        tick,
        all_open: true,
    };
    queue(state, operator, &job, "billing.reconcile").await
}

async fn queue<J: JobSpec>(
    state: &AppState,
    operator: &OperatorActor,
    job: &J,
    action: &str,
) -> ServiceResult<Option<String>> {
    operator.may_change()?;
    let id = state.enqueuer.enqueue(job).await?;
    let entry = audit::NewAudit {
        actor: &operator.actor,
        partner_id: None,
        action,
        target_type: "job",
        target_id: id.as_deref().unwrap_or("-"),
        details: None,
    };
    audit::record(&state.db, &entry, state.clock.now_ms()).await?;
    Ok(id)
}

/// The last `n` sweep and reconcile runs, newest first.
pub async fn billing_runs(state: &AppState, n: i64) -> ServiceResult<Vec<BillingRun>> {
    Ok(billing_runs::latest(&state.db, n).await?)
}

/// Which audit entries to list; `None` fields match any. `action` ending in `.` (`job.`) is
/// every action it starts; `from`/`to` are Oslo calendar dates, inclusive.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub partner_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl AuditQuery {
    fn filter(&self) -> ServiceResult<AuditFilter<'_>> {
        if let (Some(f), Some(t)) = (self.from, self.to)
            && f > t
        {
            return Err(ServiceError::BadInput(
                "from must be on or before to".to_owned(),
            ));
        }
        let action = self.action.as_deref();
        let is_prefix = action.is_some_and(|a| a.ends_with('.'));
        Ok(AuditFilter {
            partner_id: self.partner_id.as_deref(),
            actor: self.actor.as_deref(),
            action: action.filter(|_| !is_prefix),
            action_prefix: action.filter(|_| is_prefix),
            from_ms: self.from.map(oslo_midnight_ms),
            until_ms: self.to.and_then(|d| d.succ_opt()).map(oslo_midnight_ms),
        })
    }
}

/// The audit log matching `query`, newest first; the cursor is an entry id.
pub async fn audit_log(
    state: &AppState,
    query: &AuditQuery,
    page: &PageRequest,
) -> ServiceResult<Page<AuditEntry>> {
    let before = match page.cursor() {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ServiceError::BadInput("invalid cursor".to_owned()))?,
        ),
    };
    let rows = audit::list(&state.db, &query.filter()?, before, page.fetch_limit()).await?;
    Ok(page.finish(rows, |r| r.id.to_string()))
}
