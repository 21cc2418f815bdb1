//! The Overview (`GET /console/`): per queue the jobs in each state and how long its oldest due
//! job has waited, the attempts finished and failed per minute over the last hour (an SVG
//! chart, [`throughput`](super::throughput)), the live workers with their last heartbeat, and
//! the scheduler's next ticks with how the last sweep and reconcile pass ended.
//! It refreshes itself every 5 s by default; the menu (2 s, 5 s, 30 s, off) is kept in the URL
//! (`?refresh=`), and `portal-2.js` pauses it while the tab is hidden (htmx fetches only the
//! figures: `console_overview_partial.html`).

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    web::{Data, Query},
};
use serde::Deserialize;

use crate::{
    console::{
        session::{ConsoleOperator, Nav},
        throughput::Throughput,
    },
    db::{billing_runs::BillingRun, jobs::WorkerRow},
    portal::{
        errors::PortalError,
        format,
        htmx::HxRequest,
        layout::{Layout, LayoutParts},
    },
    service::{
        self,
        jobs::{OVERVIEW_STATES, Overview, QueueSummary},
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route.at("/", poem::get(overview))
}

/// The refresh menu: (value in the URL, label, seconds; 0 is off).
const REFRESH: &[(&str, &str, u32)] = &[
    ("2", "every 2 s", 2),
    ("5", "every 5 s", 5),
    ("30", "every 30 s", 30),
    ("off", "off", 0),
];

#[derive(Deserialize)]
struct Params {
    #[serde(default = "default_refresh")]
    refresh: String,
}

fn default_refresh() -> String {
    "5".to_owned()
}

/// A worker process: its instance, the queues it works and its stalest heartbeat (the one
/// that shows first when the process is in trouble).
struct WorkerView {
    instance: String,
    queues: Vec<String>,
    last_seen: String,
    seconds_ago: i64,
}

impl WorkerView {
    /// One row per instance, in the order the workers were listed.
    fn per_instance(workers: Vec<WorkerRow>, now_secs: i64) -> Vec<Self> {
        let mut grouped: Vec<(String, Vec<String>, i64)> = Vec::new();
        for w in workers {
            let instance = w.instance().to_owned();
            match grouped.iter_mut().find(|(i, _, _)| *i == instance) {
                Some((_, queues, seen)) => {
                    queues.push(w.worker_type);
                    *seen = (*seen).min(w.last_seen);
                }
                None => grouped.push((instance, vec![w.worker_type], w.last_seen)),
            }
        }
        grouped
            .into_iter()
            .map(|(instance, mut queues, seen)| {
                queues.sort();
                WorkerView {
                    instance,
                    queues,
                    last_seen: format::datetime(seen * 1000),
                    seconds_ago: (now_secs - seen).max(0),
                }
            })
            .collect()
    }
}

/// How a billing run ended: its state (`done`, `failed`; empty when none ran yet) and a line
/// such as `at …: 12 found, 12 queued, 0 stopped` or the error.
struct LastRun {
    state: String,
    ok: bool,
    detail: String,
}

impl LastRun {
    fn of(run: Option<BillingRun>) -> Self {
        let Some(run) = run else {
            return LastRun {
                state: String::new(),
                ok: true,
                detail: "none yet".to_owned(),
            };
        };
        let at = format::datetime(run.finished_at);
        let ok = run.state == "done";
        let detail = match (&run.error, ok) {
            (Some(error), false) => format!("at {at}: {error}"),
            _ => format!(
                "at {at}: {} found, {} queued, {} stopped",
                run.found, run.queued, run.stops
            ),
        };
        LastRun {
            state: run.state,
            ok,
            detail,
        }
    }
}

/// The figures, as the partial renders them.
struct Figures {
    queues: Vec<QueueSummary>,
    throughput: Throughput,
    workers: Vec<WorkerView>,
    next_sweep: String,
    next_reconcile: String,
    last_sweep: LastRun,
    last_reconcile: LastRun,
    at: String,
}

fn waited(secs: &Option<i64>) -> String {
    match *secs {
        None => "–".to_owned(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) => format!("{} h", s / 3600),
    }
}

impl Figures {
    fn of(o: Overview) -> Self {
        let now_secs = o.now_ms / 1000;
        let tick = |ms: Option<i64>| ms.map(format::datetime).unwrap_or_else(|| "never".into());
        Figures {
            queues: o.queues,
            throughput: Throughput::new(&o.minutes, o.now_ms),
            workers: WorkerView::per_instance(o.workers, now_secs),
            next_sweep: tick(o.next_sweep_ms),
            next_reconcile: tick(o.next_reconcile_ms),
            last_sweep: LastRun::of(o.last_sweep),
            last_reconcile: LastRun::of(o.last_reconcile),
            at: format::datetime(o.now_ms),
        }
    }

    /// The scheduler's rows: (key for the element ids, label, next tick, last run).
    fn ticks(&self) -> [(&'static str, &'static str, &str, &LastRun); 2] {
        [
            ("sweep", "Billing sweep", &self.next_sweep, &self.last_sweep),
            (
                "reconcile",
                "Reconcile",
                &self.next_reconcile,
                &self.last_reconcile,
            ),
        ]
    }

    fn waited(&self, q: &QueueSummary) -> String {
        waited(&q.oldest_due_secs)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_overview.html")]
struct OverviewPage {
    layout: Layout,
    figures: Figures,
    states: [&'static str; 6],
    refresh: &'static [(&'static str, &'static str, u32)],
    chosen: String,
    seconds: u32,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_overview_partial.html")]
struct OverviewPartial {
    figures: Figures,
    states: [&'static str; 6],
    chosen: String,
    seconds: u32,
}

#[handler]
async fn overview(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    HxRequest(htmx): HxRequest,
    Query(params): Query<Params>,
) -> Result<Response, PortalError> {
    let seconds = REFRESH
        .iter()
        .find(|(code, _, _)| *code == params.refresh)
        .ok_or_else(|| PortalError::BadRequest(format!("no refresh {:?}", params.refresh)))?
        .2;
    let figures = Figures::of(service::jobs::overview(&state).await?);
    let chosen = params.refresh;
    if htmx {
        return Ok(OverviewPartial {
            figures,
            states: OVERVIEW_STATES,
            chosen,
            seconds,
        }
        .into_response());
    }
    Ok(OverviewPage {
        layout: op.layout(parts, Nav::Overview),
        figures,
        states: OVERVIEW_STATES,
        refresh: REFRESH,
        chosen,
        seconds,
    }
    .into_response())
}
