//! The Jobs screens: `GET /console/jobs`, the jobs filtered by state, queue and time window
//! (default: failed, the last 24 hours), searched by id and by the ids in their payloads, a
//! page at a time by cursor; `GET /console/jobs/{id}`, one job; `POST …/{id}/retry|cancel`;
//! `POST /console/jobs/bulk`, retry or cancel the selected jobs or all matching the filter,
//! after one confirmation page, in one statement. On [`service::jobs`], as the admin API.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    http::StatusCode,
    web::{Data, Path, Query, Redirect},
};
use serde::Deserialize;

use crate::{
    console::session::{ConsoleOperator, Nav},
    db::{
        jobs::{JobAction, JobRow, JobStatus},
        queue::attempts::Attempt,
    },
    portal::{
        errors::PortalError,
        format::{self, non_empty},
        layout::{Layout, LayoutParts},
    },
    service::{
        self, ServiceError,
        jobs::{JobQuery, Selection},
        objects::ObjectRef,
        page::PageRequest,
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/jobs", poem::get(list))
        .at("/jobs/bulk", poem::post(bulk))
        .at("/jobs/:id", poem::get(detail))
        .at("/jobs/:id/:action", poem::post(act))
}

/// The states a filter offers (`any`: every state).
const STATES: &[&str] = &[
    "failed",
    "pending",
    "scheduled",
    "running",
    "done",
    "killed",
    "any",
];
/// The time windows a filter offers, with their length in hours (`None`: all time).
const WINDOWS: &[(&str, &str, Option<i64>)] = &[
    ("1h", "Last hour", Some(1)),
    ("24h", "Last 24 hours", Some(24)),
    ("7d", "Last 7 days", Some(24 * 7)),
    ("all", "All time", None),
];

fn status_of(state: &str) -> Result<Option<JobStatus>, PortalError> {
    Ok(Some(match state {
        "failed" => JobStatus::Failed,
        "pending" => JobStatus::Pending,
        "scheduled" => JobStatus::Scheduled,
        "running" => JobStatus::Running,
        "done" => JobStatus::Done,
        "killed" => JobStatus::Killed,
        "any" => return Ok(None),
        other => return Err(PortalError::BadRequest(format!("no job state {other:?}"))),
    }))
}

/// The filter as it is in the URL (and in the bulk form's hidden fields).
#[derive(Debug, Deserialize)]
struct Filter {
    #[serde(default = "default_state")]
    state: String,
    #[serde(default)]
    queue: String,
    #[serde(default = "default_window")]
    window: String,
    #[serde(default)]
    q: String,
    cursor: Option<String>,
    /// What the last action did (`retried`, `cancelled`) and to how many, after a redirect.
    done: Option<String>,
    n: Option<u64>,
}

fn default_state() -> String {
    "failed".to_owned()
}

fn default_window() -> String {
    "24h".to_owned()
}

impl Filter {
    /// A filter from form fields (the bulk form's), defaults for what is missing.
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        Filter {
            state: get("state").unwrap_or_else(default_state),
            queue: get("queue").unwrap_or_default(),
            window: get("window").unwrap_or_else(default_window),
            q: get("q").unwrap_or_default(),
            cursor: None,
            done: None,
            n: None,
        }
    }

    fn query(&self, state: &AppState) -> Result<JobQuery, PortalError> {
        let hours = WINDOWS
            .iter()
            .find(|(code, _, _)| *code == self.window)
            .ok_or_else(|| PortalError::BadRequest(format!("no window {:?}", self.window)))?
            .2;
        Ok(JobQuery {
            status: status_of(&self.state)?,
            queue: non_empty(&self.queue),
            since_ms: hours.map(|h| state.wall_clock.now_ms() - h * 3_600_000),
            search: non_empty(&self.q),
        })
    }

    /// The filter's part of a URL (no cursor).
    fn url_query(&self) -> String {
        format::query_string(&[
            ("state", &self.state),
            ("queue", &self.queue),
            ("window", &self.window),
            ("q", &self.q),
        ])
    }

    /// What the last action did, as a sentence.
    fn notice(&self) -> Option<String> {
        let verb = match self.done.as_deref()? {
            "retried" => "retried",
            "cancelled" => "cancelled",
            _ => return None,
        };
        let n = self.n.unwrap_or(0);
        Some(match n {
            1 => format!("1 job {verb}."),
            n => format!("{n} jobs {verb}."),
        })
    }
}

/// A job as the list and the detail page show it.
struct JobView {
    id: String,
    queue: String,
    status: &'static str,
    attempts: i64,
    max_attempts: i64,
    run_at: String,
    created: String,
    done: String,
    error: String,
    payload: String,
    can_retry: bool,
    can_cancel: bool,
}

fn secs(at: Option<i64>) -> String {
    at.map(|s| format::datetime(s * 1000)).unwrap_or_default()
}

/// apalis keeps `{"Err": "message"}` (or `{"Ok": …}`) as the last result.
fn last_error(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return String::new();
    };
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(map)) => match map.get("Err") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl From<JobRow> for JobView {
    fn from(r: JobRow) -> Self {
        let created = ulid::Ulid::from_string(&r.id)
            .map(|u| format::datetime(u.timestamp_ms() as i64))
            .unwrap_or_default();
        let finished = matches!(
            r.status,
            JobStatus::Done | JobStatus::Failed | JobStatus::Killed
        );
        let payload = serde_json::from_slice::<serde_json::Value>(&r.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&r.payload).into_owned());
        JobView {
            status: r.status.as_str(),
            can_retry: JobAction::Retry.allows(r.status),
            can_cancel: JobAction::Cancel.allows(r.status) && r.raw_status != "Queued",
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: secs(r.run_at_secs),
            done: if finished {
                secs(r.done_at_secs)
            } else {
                String::new()
            },
            error: last_error(r.last_result.as_deref()),
            created,
            payload,
            id: r.id,
            queue: r.queue,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_jobs.html")]
struct JobsPage {
    layout: Layout,
    filter: Filter,
    states: &'static [&'static str],
    windows: &'static [(&'static str, &'static str, Option<i64>)],
    rows: Vec<JobView>,
    /// How many match, when at most [`service::jobs::COUNT_CAP`].
    matching: Option<i64>,
    next: Option<String>,
    notice: Option<String>,
    read_only: Option<&'static str>,
}

impl JobsPage {
    /// A button's label for all matching jobs: `Retry all 12 matching…` (without the number
    /// beyond the cap: the confirmation counts them).
    fn all_matching(&self, verb: &str) -> String {
        match self.matching {
            Some(n) => format!("{verb} all {n} matching…"),
            None => format!("{verb} all matching…"),
        }
    }

    /// `12 jobs match.`, or `More than 10000 jobs match.` beyond the cap.
    fn matching_line(&self) -> String {
        match self.matching {
            Some(1) => "1 job matches.".to_owned(),
            Some(n) => format!("{n} jobs match."),
            None => format!("More than {} jobs match.", service::jobs::COUNT_CAP),
        }
    }
}

#[handler]
async fn list(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Query(filter): Query<Filter>,
) -> Result<JobsPage, PortalError> {
    let query = filter.query(&state)?;
    let page = PageRequest::new(Some(50), filter.cursor.clone())?;
    let rows = service::jobs::list(&state, &query, &page).await?;
    let matching = service::jobs::count_for_list(&state, &query).await?;
    let next = rows.next_cursor.as_ref().map(|c| {
        format!(
            "/console/jobs?{}&cursor={}",
            filter.url_query(),
            format::url_encode(c)
        )
    });
    Ok(JobsPage {
        layout: op.layout(parts, Nav::Jobs),
        notice: filter.notice(),
        rows: rows.items.into_iter().map(JobView::from).collect(),
        states: STATES,
        windows: WINDOWS,
        read_only: op.read_only_reason(),
        matching,
        next,
        filter,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "console_job.html")]
struct JobPage {
    layout: Layout,
    job: JobView,
    attempts: Vec<AttemptView>,
    /// The partners' objects named in its payload, each linked to its console page.
    concerns: Vec<ObjectRef>,
    notice: Option<String>,
    error: Option<String>,
    read_only: Option<&'static str>,
}

/// One attempt, as the job page shows it.
struct AttemptView {
    attempt: i64,
    outcome: &'static str,
    started: String,
    duration: String,
    worker: String,
    error: String,
}

impl From<&Attempt> for AttemptView {
    fn from(a: &Attempt) -> Self {
        AttemptView {
            attempt: a.attempt,
            outcome: a.outcome.as_str(),
            started: a.started_at.map(format::datetime).unwrap_or_default(),
            duration: match (a.duration_ms(), a.finished_at) {
                (Some(ms), _) => format!("{ms} ms"),
                (None, None) => "running".to_owned(),
                (None, Some(_)) => "–".to_owned(),
            },
            worker: a.worker.clone().unwrap_or_default(),
            error: a.error.clone().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

#[handler]
async fn detail(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<JobPage, PortalError> {
    let job = service::jobs::get_with_attempts(&state, &id).await?;
    let notice = match done.done.as_deref() {
        Some("retried") => Some("The job is retried: it runs again now.".to_owned()),
        Some("cancelled") => Some("The job is cancelled: it will not run again.".to_owned()),
        _ => None,
    };
    Ok(JobPage::new(&op, parts, job, notice, None))
}

impl JobPage {
    fn new(
        op: &ConsoleOperator,
        parts: LayoutParts,
        (job, attempts): (JobRow, Vec<Attempt>),
        notice: Option<String>,
        error: Option<String>,
    ) -> Self {
        let payload = serde_json::from_slice(&job.payload).unwrap_or_default();
        JobPage {
            layout: op.layout(parts, Nav::Jobs),
            concerns: service::objects::refs_in(&payload),
            job: job.into(),
            attempts: attempts.iter().map(AttemptView::from).collect(),
            notice,
            error,
            read_only: op.read_only_reason(),
        }
    }
}

/// What `action` did, for the page after it (`?done=`).
fn done(action: JobAction) -> &'static str {
    match action {
        JobAction::Retry => "retried",
        JobAction::Cancel => "cancelled",
    }
}

/// Retries or cancels one job; back to its page, with the refusal on it when refused.
async fn act_on_one(
    op: &ConsoleOperator,
    parts: LayoutParts,
    state: &AppState,
    action: JobAction,
    id: &str,
) -> Result<Response, PortalError> {
    match service::jobs::act(state, &op.actor(), action, id).await {
        Ok(_) => {
            let to = format!(
                "/console/jobs/{}?done={}",
                format::url_encode(id),
                done(action)
            );
            Ok(Redirect::see_other(to).into_response())
        }
        Err(ServiceError::Conflict { message, .. }) => {
            let job = service::jobs::get_with_attempts(state, id).await?;
            let error = Some(format!("Not done: {message}."));
            Ok(JobPage::new(op, parts, job, None, error)
                .with_status(StatusCode::CONFLICT)
                .into_response())
        }
        Err(err) => Err(err.into()),
    }
}

/// `POST /console/jobs/{id}/retry` or `…/cancel`.
#[handler]
async fn act(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PortalError> {
    let action = match action.as_str() {
        "retry" => JobAction::Retry,
        "cancel" => JobAction::Cancel,
        _ => return Err(PortalError::NotFound),
    };
    act_on_one(&op, parts, &state, action, &id).await
}

/// The bulk form: which action on which jobs, confirmed or not yet.
struct BulkForm {
    action: JobAction,
    /// All matching the filter, or only `ids`.
    matching: bool,
    ids: Vec<String>,
    filter: Filter,
    confirmed: bool,
}

impl BulkForm {
    fn parse(body: &[u8]) -> Result<Self, PortalError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let (action, matching) = match value("op") {
            Some("retry-selected") => (JobAction::Retry, false),
            Some("cancel-selected") => (JobAction::Cancel, false),
            Some("retry-matching") => (JobAction::Retry, true),
            Some("cancel-matching") => (JobAction::Cancel, true),
            _ => return Err(PortalError::BadRequest("no bulk action chosen".to_owned())),
        };
        let ids = pairs
            .iter()
            .filter(|(k, _)| k == "id")
            .map(|(_, v)| v.clone())
            .collect();
        Ok(Self {
            action,
            matching,
            ids,
            confirmed: value("confirmed") == Some("yes"),
            filter: Filter::from_pairs(&pairs),
        })
    }

    fn op(&self) -> &'static str {
        match (self.action, self.matching) {
            (JobAction::Retry, false) => "retry-selected",
            (JobAction::Cancel, false) => "cancel-selected",
            (JobAction::Retry, true) => "retry-matching",
            (JobAction::Cancel, true) => "cancel-matching",
        }
    }

    fn verb(&self) -> &'static str {
        match self.action {
            JobAction::Retry => "Retry",
            JobAction::Cancel => "Cancel",
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_jobs_confirm.html")]
struct ConfirmPage {
    layout: Layout,
    form: BulkForm,
    /// How many jobs the action is for, at most.
    count: i64,
    back: String,
}

#[handler]
async fn bulk(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    body: Vec<u8>,
) -> Result<Response, PortalError> {
    let form = BulkForm::parse(&body)?;
    let back = format!("/console/jobs?{}", form.filter.url_query());
    if !form.matching && form.ids.is_empty() {
        return Err(PortalError::BadRequest(
            "select jobs first, or act on all matching".to_owned(),
        ));
    }
    let query = form.filter.query(&state)?;
    if !form.confirmed {
        let count = if form.matching {
            service::jobs::count(&state, &query).await?
        } else {
            form.ids.len() as i64
        };
        return Ok(ConfirmPage {
            layout: op.layout(parts, Nav::Jobs),
            form,
            count,
            back,
        }
        .into_response());
    }
    let selection = if form.matching {
        Selection::Matching(query)
    } else {
        Selection::Ids(form.ids.clone())
    };
    let changed = service::jobs::act_on_many(&state, &op.actor(), form.action, &selection).await?;
    let done = done(form.action);
    Ok(Redirect::see_other(format!("{back}&done={done}&n={changed}")).into_response())
}
