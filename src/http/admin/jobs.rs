//! `/api/v1/admin/jobs`: list, inspect, retry and cancel background jobs, through
//! [`service::jobs`](crate::service::jobs).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::jobs::{JobRow, JobStatus},
    http::{auth::OperatorAuth, error::ApiResult, health::ApiTags, time::ts_secs_opt},
    service::{self, jobs::JobQuery, page::PageRequest},
    state::AppState,
};

pub struct JobsAdminApi;

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
enum JobStatusParam {
    Pending,
    Scheduled,
    Running,
    Done,
    Failed,
    Killed,
}

impl From<JobStatusParam> for JobStatus {
    fn from(s: JobStatusParam) -> Self {
        match s {
            JobStatusParam::Pending => JobStatus::Pending,
            JobStatusParam::Scheduled => JobStatus::Scheduled,
            JobStatusParam::Running => JobStatus::Running,
            JobStatusParam::Done => JobStatus::Done,
            JobStatusParam::Failed => JobStatus::Failed,
            JobStatusParam::Killed => JobStatus::Killed,
        }
    }
}

#[derive(Object)]
struct JobView {
    id: String,
    queue: String,
    /// pending (due now), scheduled (waiting for its run time, a retry's backoff or a snooze),
    /// running, done, failed (no attempts left), killed (cancelled).
    status: String,
    attempts: i64,
    max_attempts: i64,
    /// The error of the last failed attempt.
    #[oai(nullable)]
    last_error: Option<String>,
    /// When it runs (next).
    #[oai(nullable)]
    run_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    created_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    done_at: Option<DateTime<Utc>>,
    /// The job's arguments (ids).
    payload: serde_json::Value,
}

impl From<JobRow> for JobView {
    fn from(r: JobRow) -> Self {
        let created_at = ulid::Ulid::from_string(&r.id)
            .ok()
            .and_then(|u| DateTime::from_timestamp_millis(u.timestamp_ms() as i64));
        let finished = matches!(
            r.status,
            JobStatus::Done | JobStatus::Failed | JobStatus::Killed
        );
        JobView {
            last_error: r.last_result.as_deref().and_then(last_error),
            payload: serde_json::from_slice(&r.payload).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&r.payload).into_owned())
            }),
            status: r.status.as_str().to_owned(),
            id: r.id,
            queue: r.queue,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: ts_secs_opt(r.run_at_secs),
            created_at,
            done_at: if finished {
                ts_secs_opt(r.done_at_secs)
            } else {
                None
            },
        }
    }
}

/// apalis stores `{"Err": "message"}` (or `{"Ok": …}`) in `last_result`.
fn last_error(raw: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(map)) => map.get("Err").map(|e| match e {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

#[derive(Object)]
struct JobPage {
    items: Vec<JobView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum JobResponse {
    #[oai(status = 200)]
    Ok(Json<JobView>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::AdminJobs")]
impl JobsAdminApi {
    /// Background jobs, newest first.
    #[oai(path = "/jobs", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _op: OperatorAuth,
        status: Query<Option<JobStatusParam>>,
        queue: Query<Option<String>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<JobPage>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let query = JobQuery {
            status: status.0.map(JobStatus::from),
            queue: queue.0,
            ..JobQuery::default()
        };
        let rows = service::jobs::list(&state, &query, &page).await?;
        Ok(Json(JobPage {
            items: rows.items.into_iter().map(JobView::from).collect(),
            next_cursor: rows.next_cursor,
        }))
    }

    /// One job.
    #[oai(path = "/jobs/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        _op: OperatorAuth,
        id: Path<String>,
    ) -> ApiResult<JobResponse> {
        let row = service::jobs::get(&state, &id).await?;
        Ok(JobResponse::Ok(Json(row.into())))
    }

    /// Run a failed or killed job again now (one more attempt). Running, done or pending → 409.
    #[oai(path = "/jobs/:id/retry", method = "post")]
    async fn retry(
        &self,
        state: Data<&AppState>,
        op: OperatorAuth,
        id: Path<String>,
    ) -> ApiResult<JobResponse> {
        let row = service::jobs::retry(&state, &op.0, &id).await?;
        Ok(JobResponse::Ok(Json(row.into())))
    }

    /// Cancel a pending or failed job: it will not run again. Running or done → 409.
    #[oai(path = "/jobs/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        op: OperatorAuth,
        id: Path<String>,
    ) -> ApiResult<JobResponse> {
        let row = service::jobs::cancel(&state, &op.0, &id).await?;
        Ok(JobResponse::Ok(Json(row.into())))
    }
}
