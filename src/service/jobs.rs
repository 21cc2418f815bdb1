//! Operating the background jobs: list, inspect, retry and cancel, each action audited with
//! the operator's identity.

use crate::{
    db::{
        audit,
        billing_runs::{self, BillingRun, RunKind},
        jobs::{self, ActionRefused, JobAction, JobFilter, JobRow, JobStatus, WorkerRow},
        queue::attempts::{self, Minute},
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
    /// Only jobs created at or after this time (epoch ms): the console's time window.
    pub since_ms: Option<i64>,
    /// A job id, or an id inside the payloads (an agreement's, a message's, a charge's).
    pub search: Option<String>,
}

impl JobQuery {
    /// The smallest job id (a ULID) created at or after `since_ms`.
    fn since_id(&self) -> Option<String> {
        self.since_ms
            .map(|ms| ulid::Ulid::from_parts(ms.max(0) as u64, 0).to_string())
    }

    fn filter<'a>(&'a self, since_id: &'a Option<String>) -> JobFilter<'a> {
        JobFilter {
            status: self.status,
            queue: self.queue.as_deref(),
            since_id: since_id.as_deref(),
            search: self.search.as_deref(),
        }
    }
}

/// Jobs, newest first.
pub async fn list(
    state: &AppState,
    query: &JobQuery,
    page: &PageRequest,
) -> ServiceResult<Page<JobRow>> {
    let since = query.since_id();
    let filter = query.filter(&since);
    let rows = jobs::list(&state.db, &filter, page.cursor(), page.fetch_limit()).await?;
    Ok(page.finish(rows, |r| r.id.clone()))
}

/// How many jobs `query` selects (what "all matching" would act on at most).
pub async fn count(state: &AppState, query: &JobQuery) -> ServiceResult<i64> {
    let since = query.since_id();
    Ok(jobs::count_matching(&state.db, &query.filter(&since)).await?)
}

/// How many jobs a list shows as matching: exact up to [`COUNT_CAP`], beyond it `None`
/// ("more than"), so that a list over millions of rows does not count them all.
pub async fn count_for_list(state: &AppState, query: &JobQuery) -> ServiceResult<Option<i64>> {
    let since = query.since_id();
    let n =
        jobs::count_matching_up_to(&state.db, &query.filter(&since), Some(COUNT_CAP + 1)).await?;
    Ok((n <= i64::from(COUNT_CAP)).then_some(n))
}

/// The most jobs a list counts exactly.
pub const COUNT_CAP: u32 = 10_000;

pub async fn get(state: &AppState, id: &str) -> ServiceResult<JobRow> {
    jobs::get(&state.db, id)
        .await?
        .ok_or(ServiceError::NotFound("job"))
}

/// A job with every attempt it has made, first to last.
pub async fn get_with_attempts(
    state: &AppState,
    id: &str,
) -> ServiceResult<(JobRow, Vec<attempts::Attempt>)> {
    let job = get(state, id).await?;
    let attempts = attempts::for_job(&state.db, id).await?;
    Ok((job, attempts))
}

/// Runs a failed or killed job again now (one more attempt).
pub async fn retry(state: &AppState, operator: &OperatorActor, id: &str) -> ServiceResult<JobRow> {
    act(state, operator, JobAction::Retry, id).await
}

/// Cancels a pending or failed job: it will not run again.
pub async fn cancel(state: &AppState, operator: &OperatorActor, id: &str) -> ServiceResult<JobRow> {
    act(state, operator, JobAction::Cancel, id).await
}

/// Does `action` to one job, audited.
pub async fn act(
    state: &AppState,
    operator: &OperatorActor,
    action: JobAction,
    id: &str,
) -> ServiceResult<JobRow> {
    operator.may_change()?;
    let result = jobs::act(&state.db, action, id).await?;
    let row = finish_action(state, operator, action, id, result).await?;
    if action == JobAction::Retry {
        state.enqueuer.wake(&row.queue);
    }
    Ok(row)
}

/// The jobs a bulk action is for.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These jobs (those the action applies to).
    Ids(Vec<String>),
    /// Every job the query selects that the action applies to.
    Matching(JobQuery),
}

/// Does `action` to many jobs in one statement, audited once; how many changed.
pub async fn act_on_many(
    state: &AppState,
    operator: &OperatorActor,
    action: JobAction,
    selection: &Selection,
) -> ServiceResult<u64> {
    operator.may_change()?;
    let (changed, details) = match selection {
        Selection::Ids(ids) => (
            jobs::act_on_ids(&state.db, action, ids).await?,
            serde_json::json!({ "ids": ids }),
        ),
        Selection::Matching(query) => {
            let since = query.since_id();
            let changed = jobs::act_on_matching(&state.db, action, &query.filter(&since)).await?;
            let filter = serde_json::json!({
                "status": query.status.map(JobStatus::as_str),
                "queue": query.queue,
                "since_ms": query.since_ms,
                "search": query.search,
            });
            (changed, serde_json::json!({ "filter": filter }))
        }
    };
    let mut details = details;
    details["changed"] = changed.into();
    let entry = audit::NewAudit {
        actor: &operator.actor,
        partner_id: None,
        action: bulk_audit_action(action),
        target_type: "job",
        target_id: "*",
        details: Some(details),
    };
    audit::record(&state.db, &entry, state.clock.now_ms()).await?;
    if action == JobAction::Retry && changed > 0 {
        state.enqueuer.wake_all();
    }
    Ok(changed)
}

fn verb(action: JobAction) -> &'static str {
    match action {
        JobAction::Retry => "retry",
        JobAction::Cancel => "cancel",
    }
}

fn audit_action(action: JobAction) -> &'static str {
    match action {
        JobAction::Retry => "job.retry",
        JobAction::Cancel => "job.cancel",
    }
}

fn bulk_audit_action(action: JobAction) -> &'static str {
    match action {
        JobAction::Retry => "job.bulk_retry",
        JobAction::Cancel => "job.bulk_cancel",
    }
}

/// Maps a refused action to not-found or a conflict, and audits a successful one.
async fn finish_action(
    state: &AppState,
    operator: &OperatorActor,
    action: JobAction,
    id: &str,
    result: Result<JobRow, ActionRefused>,
) -> ServiceResult<JobRow> {
    let row = match result {
        Ok(row) => row,
        Err(ActionRefused::NotFound) => return Err(ServiceError::NotFound("job")),
        Err(ActionRefused::WrongStatus(status)) => {
            return Err(ServiceError::conflict(
                "job_state",
                format!("cannot {} a job that is {}", verb(action), status.as_str()),
            ));
        }
    };
    audit::record(
        &state.db,
        &audit::NewAudit {
            actor: &operator.actor,
            partner_id: None,
            action: audit_action(action),
            target_type: "job",
            target_id: id,
            details: Some(serde_json::json!({ "queue": row.queue, "attempts": row.attempts })),
        },
        state.clock.now_ms(),
    )
    .await?;
    Ok(row)
}

/// The states the overview counts, in its columns' order.
pub const OVERVIEW_STATES: [&str; 6] = JobStatus::NAMES;

/// One queue on the overview.
#[derive(Debug, Clone)]
pub struct QueueSummary {
    pub queue: String,
    /// Jobs in each of [`OVERVIEW_STATES`] (done and killed ones: within the retention).
    pub counts: [i64; 6],
    /// How long its oldest due pending job has waited, in seconds (the first sign of a stuck
    /// queue).
    pub oldest_due_secs: Option<i64>,
}

/// What the operators' overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    pub queues: Vec<QueueSummary>,
    pub workers: Vec<WorkerRow>,
    /// The scheduler's next billing sweep and reconcile ticks (epoch ms), from their cron.
    pub next_sweep_ms: Option<i64>,
    pub next_reconcile_ms: Option<i64>,
    /// How the last sweep and the last reconcile pass ended.
    pub last_sweep: Option<BillingRun>,
    pub last_reconcile: Option<BillingRun>,
    /// Attempts finished (done, failed) per minute over the last [`THROUGHPUT_WINDOW_MS`],
    /// oldest first; minutes with none are left out.
    pub minutes: Vec<Minute>,
    /// When this was read (epoch ms).
    pub now_ms: i64,
}

/// How far back the overview's jobs-per-minute chart looks.
pub const THROUGHPUT_WINDOW_MS: i64 = 60 * 60 * 1000;

fn next_tick(cron: &str, now_ms: i64) -> Option<i64> {
    let schedule: cron::Schedule = cron.parse().ok()?;
    let now = chrono::DateTime::from_timestamp_millis(now_ms)?;
    schedule.after(&now).next().map(|t| t.timestamp_millis())
}

/// Per-queue counts by state and the oldest due job's wait, the workers, the next ticks.
pub async fn overview(state: &AppState) -> ServiceResult<Overview> {
    let now_ms = state.wall_clock.now_ms();
    let mut queues: Vec<QueueSummary> = Vec::new();
    for (queue, status, n) in jobs::counts(&state.db).await? {
        let Some(column) = OVERVIEW_STATES.iter().position(|s| *s == status) else {
            continue;
        };
        if queues.last().is_none_or(|q| q.queue != queue) {
            queues.push(QueueSummary {
                queue: queue.clone(),
                counts: [0; 6],
                oldest_due_secs: None,
            });
        }
        if let Some(summary) = queues.last_mut() {
            summary.counts[column] += n;
        }
    }
    for (queue, due_secs) in jobs::oldest_due(&state.db).await? {
        if let Some(summary) = queues.iter_mut().find(|q| q.queue == queue) {
            summary.oldest_due_secs = Some((now_ms / 1000 - due_secs).max(0));
        }
    }
    let billing = &state.settings.billing;
    Ok(Overview {
        queues,
        workers: jobs::workers(&state.db).await?,
        next_sweep_ms: next_tick(&billing.sweep_cron, now_ms),
        next_reconcile_ms: next_tick(&billing.reconcile_cron, now_ms),
        last_sweep: billing_runs::last_of(&state.db, RunKind::Sweep).await?,
        last_reconcile: billing_runs::last_of(&state.db, RunKind::Reconcile).await?,
        minutes: attempts::per_minute(&state.db, now_ms - THROUGHPUT_WINDOW_MS).await?,
        now_ms,
    })
}
