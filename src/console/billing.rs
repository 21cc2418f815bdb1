//! The Billing screen: `GET /console/billing`, the buttons that run the billing sweep or the
//! reconcile pass now (`POST /console/billing/sweep|reconcile`, audited, as the admin API's
//! endpoints do) and the last runs: when each tick ran, its state, what it found and queued,
//! its failed attempts. On [`service::operations`].

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
    db::billing_runs::BillingRun,
    portal::{
        errors::PortalError,
        format,
        layout::{Layout, LayoutParts},
    },
    service::{self, ServiceError},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/billing", poem::get(page))
        .at("/billing/:run", poem::post(run_now))
}

/// Runs shown.
const RUNS: i64 = 50;

/// What a button runs: its name in the URL and in sentences.
#[derive(Debug, Clone, Copy)]
enum Run {
    Sweep,
    Reconcile,
}

impl Run {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "sweep" => Some(Run::Sweep),
            "reconcile" => Some(Run::Reconcile),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Run::Sweep => "sweep",
            Run::Reconcile => "reconcile",
        }
    }

    fn queued(self, job: &str) -> String {
        match self {
            Run::Sweep => {
                format!("The billing sweep is queued (job {job}); its run shows below when done.")
            }
            Run::Reconcile => {
                format!("The reconcile pass is queued (job {job}); its run shows below when done.")
            }
        }
    }
}

/// A run's row.
struct RunRow {
    kind: String,
    tick: String,
    job_id: String,
    state: String,
    found: i64,
    queued: i64,
    stops: i64,
    failed_attempts: i64,
    error: String,
    finished: String,
}

impl From<BillingRun> for RunRow {
    fn from(r: BillingRun) -> Self {
        RunRow {
            finished: format::datetime(r.finished_at),
            error: r.error.unwrap_or_default(),
            kind: r.kind,
            tick: r.tick,
            job_id: r.job_id,
            state: r.state,
            found: r.found,
            queued: r.queued,
            stops: r.stops,
            failed_attempts: r.failed_attempts,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_billing.html")]
struct BillingPage {
    layout: Layout,
    runs: Vec<RunRow>,
    notice: Option<String>,
    error: Option<String>,
    read_only: Option<&'static str>,
}

async fn billing_page(
    op: &ConsoleOperator,
    parts: LayoutParts,
    state: &AppState,
    notice: Option<String>,
    error: Option<String>,
) -> Result<BillingPage, PortalError> {
    let runs = service::operations::billing_runs(state, RUNS).await?;
    Ok(BillingPage {
        layout: op.layout(parts, Nav::Billing),
        runs: runs.into_iter().map(RunRow::from).collect(),
        read_only: op.read_only_reason(),
        notice,
        error,
    })
}

#[derive(Deserialize)]
struct Queued {
    /// The run just queued (`sweep`, `reconcile`) and its job, after the redirect.
    queued: Option<String>,
    job: Option<String>,
}

#[handler]
async fn page(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Query(q): Query<Queued>,
) -> Result<BillingPage, PortalError> {
    let notice = q
        .queued
        .as_deref()
        .and_then(Run::parse)
        .map(|run| run.queued(q.job.as_deref().unwrap_or("–")));
    billing_page(&op, parts, &state, notice, None).await
}

/// `POST /console/billing/sweep` or `…/reconcile`: queued, back on the page with its job.
#[handler]
async fn run_now(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path(run): Path<String>,
) -> Result<Response, PortalError> {
    let run = Run::parse(&run).ok_or(PortalError::NotFound)?;
    let queued = match run {
        Run::Sweep => service::operations::sweep_now(&state, &op.actor()).await,
        Run::Reconcile => service::operations::reconcile_now(&state, &op.actor()).await,
    };
    match queued {
        Ok(job) => {
            let job = format::url_encode(job.as_deref().unwrap_or(""));
            let to = format!("/console/billing?queued={}&job={job}", run.name());
            Ok(Redirect::see_other(to).into_response())
        }
        Err(ServiceError::Conflict { message, .. }) => {
            let error = Some(format!("Not done: {message}."));
            let refused = billing_page(&op, parts, &state, None, error).await?;
            Ok(refused.with_status(StatusCode::CONFLICT).into_response())
        }
        Err(err) => Err(err.into()),
    }
}
