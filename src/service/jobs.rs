//! Operating the background jobs: list, inspect, retry and cancel, each action audited with
//! the operator's identity.

use crate::{
    db::{
        audit,
        jobs::{self, ActionRefused, JobFilter, JobRow, JobStatus},
    },
    service::{
        OperatorActor, ServiceError, ServiceResult,
        page::{Page, PageRequest},
    },
    state::AppState,
};

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub status: Option<JobStatus>,
    pub queue: Option<String>,
}

/// Jobs, newest first.
pub async fn list(
    state: &AppState,
    query: &JobQuery,
    page: &PageRequest,
) -> ServiceResult<Page<JobRow>> {
    let filter = JobFilter {
        status: query.status,
        queue: query.queue.as_deref(),
        before_id: page.cursor(),
        limit: page.fetch_limit(),
    };
    let rows = jobs::list(&state.db, &filter).await?;
    Ok(page.finish(rows, |r| r.id.clone()))
}

pub async fn get(state: &AppState, id: &str) -> ServiceResult<JobRow> {
    jobs::get(&state.db, id)
        .await?
        .ok_or(ServiceError::NotFound("job"))
}

/// Runs a failed or killed job again now (one more attempt).
pub async fn retry(state: &AppState, operator: &OperatorActor, id: &str) -> ServiceResult<JobRow> {
    let result = jobs::retry(&state.db, id).await?;
    let row = finish_action(state, operator, Action::Retry, id, result).await?;
    state.enqueuer.wake(&row.queue);
    Ok(row)
}

/// Cancels a pending or failed job: it will not run again.
pub async fn cancel(state: &AppState, operator: &OperatorActor, id: &str) -> ServiceResult<JobRow> {
    let result = jobs::cancel(&state.db, id).await?;
    finish_action(state, operator, Action::Cancel, id, result).await
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Retry,
    Cancel,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Cancel => "cancel",
        }
    }

    fn audit_action(self) -> &'static str {
        match self {
            Action::Retry => "job.retry",
            Action::Cancel => "job.cancel",
        }
    }
}

/// Maps a refused action to not-found or a conflict, and audits a successful one.
async fn finish_action(
    state: &AppState,
    operator: &OperatorActor,
    action: Action,
    id: &str,
    result: Result<JobRow, ActionRefused>,
) -> ServiceResult<JobRow> {
    let row = match result {
        Ok(row) => row,
        Err(ActionRefused::NotFound) => return Err(ServiceError::NotFound("job")),
        Err(ActionRefused::WrongStatus(status)) => {
            return Err(ServiceError::conflict(
                "job_state",
                format!("cannot {} a job that is {}", action.verb(), status.as_str()),
            ));
        }
    };
    audit::record(
        &state.db,
        &audit::NewAudit {
            actor: &operator.actor,
            partner_id: None,
            action: action.audit_action(),
            target_type: "job",
            target_id: id,
            details: Some(serde_json::json!({ "queue": row.queue, "attempts": row.attempts })),
        },
        state.clock.now_ms(),
    )
    .await?;
    Ok(row)
}
