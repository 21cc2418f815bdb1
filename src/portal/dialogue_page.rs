//! `GET /portal/dialogues/{id}`: one dialogue's figures by day, week or month over a period
//! (the list's period in the URL, plus `?by=`), and its agreements, each with its payment
//! history in a `<details>`. An open agreement is stopped after a confirmation page
//! (`…/agreements/{aid}/stop`: GET asks, POST with the CSRF token stops); a payment has its
//! refunds with their progress (re-read by htmx while one is in progress) and Refund / Cancel
//! buttons ([`super::charge_actions`]). `agreements.csv`
//! exports every agreement of the dialogue, `charges.csv` its payments due in the period.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    web::{Data, Form, Path, Query, Redirect, cookie::CookieJar},
};
use serde::Deserialize;

use crate::{
    db::{refunds::Refund, stats::DialogueStats},
    domain::{
        dialogue::DialogueState,
        status::{AgreementStatus, RefundStatus},
    },
    portal::{
        cookies::CookiePolicy,
        dialogues::{ListParams, chosen, date, nok, url_encode},
        download,
        errors::PortalError,
        format::datetime,
        layout::{Flash, Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        self,
        agreements::{AgreementDetail, ChargeQuery, ChargeWithHistory},
        page::PageRequest,
        stats::Bucket,
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/dialogues/:id", poem::get(page))
        .at(
            "/dialogues/:id/agreements.csv",
            poem::get(export_agreements),
        )
        .at("/dialogues/:id/charges.csv", poem::get(export_charges))
        .at(
            "/dialogues/:id/agreements/:agreement/stop",
            poem::get(confirm_stop).post(stop),
        )
        .at(
            "/dialogues/:id/agreements/:agreement/pause",
            poem::post(pause),
        )
        .at(
            "/dialogues/:id/agreements/:agreement/resume",
            poem::post(resume),
        )
}

/// An epoch-milliseconds time as its Europe/Oslo date.
fn ms_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Oslo)
                .format("%d.%m.%Y")
                .to_string()
        })
        .unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
struct PageParams {
    #[serde(flatten)]
    list: ListParams,
    by: Option<String>,
}

struct BucketRow {
    label: String,
    s: DialogueStats,
    /// Net of refunds.
    collected: String,
    refunded: String,
}

/// One payment with its refunds (`charge_rows_partial.html`).
struct ChargeRow {
    id: String,
    due: String,
    amount: String,
    status: &'static str,
    failure: String,
    /// A Refund button (something is left and no refund is in progress).
    refundable: bool,
    /// A Cancel button (not taken yet).
    cancellable: bool,
    /// A refund is in progress: the rows are re-read until it is done or failed.
    polling: bool,
    refunds: Vec<RefundRow>,
}

/// One refund of a payment: its progress, how much, why, who and when.
struct RefundRow {
    amount: String,
    status: &'static str,
    badge: &'static str,
    reason: String,
    by: String,
    at: String,
    failure: String,
}

impl RefundRow {
    fn new(r: &Refund) -> Self {
        Self {
            amount: nok(r.amount_ore),
            status: match r.status {
                RefundStatus::Pending => "in progress",
                RefundStatus::Done => "refunded",
                RefundStatus::Failed => "failed",
            },
            badge: match r.status {
                RefundStatus::Pending => "badge-info",
                RefundStatus::Done => "badge-good",
                RefundStatus::Failed => "badge-bad",
            },
            reason: r.reason.clone(),
            by: r
                .actor
                .strip_prefix("user:")
                .map_or_else(|| "API key".to_owned(), str::to_owned),
            at: datetime(r.created_at),
            failure: r.failure.clone().unwrap_or_default(),
        }
    }
}

impl ChargeRow {
    fn new(c: &ChargeWithHistory) -> Self {
        Self {
            id: c.charge.id.clone(),
            due: date(c.charge.due_date),
            amount: nok(c.charge.amount_ore),
            status: c.charge.status.as_str(),
            failure: [&c.charge.failure_reason, &c.charge.failure_description]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(": "),
            refundable: c.refundable_ore() > 0 && !c.refund_pending(),
            cancellable: c.cancellable(),
            polling: c.refund_pending(),
            refunds: c.refunds.iter().map(RefundRow::new).collect(),
        }
    }
}

/// The rows of one payment of dialogue `id` alone: the fragment htmx re-reads while a refund
/// of it is in progress.
#[derive(Template, WebTemplate)]
#[template(path = "charge_rows_partial.html")]
pub(super) struct ChargeRows {
    id: String,
    c: ChargeRow,
}

impl ChargeRows {
    pub(super) fn new(id: String, c: &ChargeWithHistory) -> Self {
        Self {
            id,
            c: ChargeRow::new(c),
        }
    }
}

struct AgreementRow {
    id: String,
    status: &'static str,
    open: bool,
    phone: String,
    started: String,
    next_charge: String,
    total_paid: String,
    charges: Vec<ChargeRow>,
    /// Can be paused: ACTIVE and billed.
    pausable: bool,
    /// While paused: the due dates it still skips, `10.06.2027, 10.07.2027`.
    paused: Option<String>,
    /// Due dates a pause skipped (no payment was created).
    skipped: Vec<String>,
}

impl AgreementRow {
    fn new(d: &AgreementDetail) -> Self {
        let a = &d.agreement;
        let next_charge = match (d.next_charge(), d.next_charge_date()) {
            (Some(c), _) => format!("{} · {}", date(c.due_date), nok(c.amount_ore)),
            (None, Some(day)) => date(day),
            (None, None) => "–".into(),
        };
        Self {
            pausable: a.status == AgreementStatus::Active && d.billing.is_some(),
            paused: d.is_paused().then(|| {
                d.dates_to_skip()
                    .into_iter()
                    .map(date)
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            skipped: d.skipped.iter().map(|s| date(s.due_date)).collect(),
            id: a.id.clone(),
            status: a.status.as_str(),
            open: a.status.is_open(),
            phone: a.phone.clone(),
            started: a.activated_at.map(ms_date).unwrap_or_else(|| "–".into()),
            next_charge,
            total_paid: nok(d.total_paid_ore()),
            charges: d.charges.iter().map(ChargeRow::new).collect(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dialogue_page.html")]
struct DialoguePage {
    layout: Layout,
    id: String,
    name: String,
    keyword: String,
    sender: String,
    state: &'static str,
    /// "Try it" is offered (a live dialogue, payments in the Vipps simulator).
    try_it: bool,
    from: String,
    to: String,
    period_text: String,
    by: &'static str,
    buckets: Vec<BucketRow>,
    total: BucketRow,
    agreements: Vec<AgreementRow>,
    next_page: Option<String>,
    pauses: crate::db::stats::PauseFigures,
}

#[handler]
async fn page(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<DialoguePage, PortalError> {
    let actor = user.actor();
    let d = service::dialogues::get(&state, &actor, &id).await?;
    let range = chosen(&params.list, state.clock.today_oslo())?.range;
    let (bucket, by) = match params.by.as_deref().unwrap_or("day") {
        "day" | "" => (Bucket::Day, "day"),
        "week" => (Bucket::Week, "week"),
        "month" => (Bucket::Month, "month"),
        _ => return Err(PortalError::BadRequest("by is day, week or month".into())),
    };
    let series = service::stats::series(&state, &id, range, bucket).await?;
    let pauses = service::stats::pauses(&state, &id, range).await?;
    let label = |r: &crate::db::stats::DayRange| {
        if r.from == r.to {
            date(r.from)
        } else {
            format!("{} – {}", date(r.from), date(r.to))
        }
    };
    let row = |(r, s): &(crate::db::stats::DayRange, DialogueStats)| BucketRow {
        label: label(r),
        collected: nok(s.amount_collected_ore()),
        refunded: nok(s.amount_refunded_ore),
        s: s.clone(),
    };
    let cursor = params.list.cursor.clone().filter(|c| !c.is_empty());
    let agreements = service::agreements::list_for_dialogue(
        &state,
        &actor,
        &id,
        None,
        &PageRequest::new(None, cursor)?,
    )
    .await?;
    let next_page = agreements.next_cursor.as_ref().map(|c| {
        format!(
            "/portal/dialogues/{id}?from={}&to={}&by={by}&cursor={}",
            range.from,
            range.to,
            url_encode(c)
        )
    });
    Ok(DialoguePage {
        layout: parts.for_user(&user, Nav::Dialogues),
        name: d.dialogue.name.clone(),
        keyword: d.dialogue.keyword.clone(),
        sender: d.dialogue.sender.clone(),
        state: d.state.as_str(),
        try_it: d.state == DialogueState::Live && service::try_it::offered(&state),
        from: range.from.to_string(),
        to: range.to.to_string(),
        period_text: format!("{} – {}", date(range.from), date(range.to)),
        by,
        buckets: series.buckets.iter().map(row).collect(),
        total: row(&series.total),
        agreements: agreements.items.iter().map(AgreementRow::new).collect(),
        next_page,
        pauses,
        id,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "agreement_stop.html")]
struct StopPage {
    layout: Layout,
    dialogue_id: String,
    dialogue_name: String,
    agreement: AgreementRow,
}

/// The agreement `agreement` of dialogue `id`, or 404 (another dialogue's or partner's).
async fn agreement_of(
    state: &AppState,
    user: &PortalUser,
    id: &str,
    agreement: &str,
) -> Result<(String, AgreementDetail), PortalError> {
    let actor = user.actor();
    let d = service::dialogues::get(state, &actor, id).await?;
    let a = service::agreements::get(state, &actor, agreement).await?;
    if a.agreement.dialogue_id != d.dialogue.id {
        return Err(PortalError::NotFound);
    }
    Ok((d.dialogue.name, a))
}

#[handler]
async fn confirm_stop(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path((id, agreement)): Path<(String, String)>,
) -> Result<StopPage, PortalError> {
    let (name, a) = agreement_of(&state, &user, &id, &agreement).await?;
    Ok(StopPage {
        layout: parts.for_user(&user, Nav::Dialogues),
        dialogue_id: id,
        dialogue_name: name,
        agreement: AgreementRow::new(&a),
    })
}

#[handler]
async fn stop(
    state: Data<&AppState>,
    user: PortalUser,
    jar: &CookieJar,
    Path((id, agreement)): Path<(String, String)>,
) -> Result<Response, PortalError> {
    agreement_of(&state, &user, &id, &agreement).await?;
    service::agreements::stop(&state, &user.actor(), &agreement).await?;
    Flash::StopRequested.set(jar, CookiePolicy::of(&state));
    Ok(Redirect::see_other(format!("/portal/dialogues/{id}")).into_response())
}

/// The pause form: how many periods, as sent (one that is not a number is refused by the
/// service's range check).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PauseForm {
    periods: String,
}

#[handler]
async fn pause(
    state: Data<&AppState>,
    user: PortalUser,
    jar: &CookieJar,
    Path((id, agreement)): Path<(String, String)>,
    Form(form): Form<PauseForm>,
) -> Result<Response, PortalError> {
    agreement_of(&state, &user, &id, &agreement).await?;
    let periods = form.periods.trim().parse().unwrap_or(0);
    service::agreements::pause(&state, &user.actor(), &agreement, periods).await?;
    Flash::Paused.set(jar, CookiePolicy::of(&state));
    Ok(back_to_agreement(&id, &agreement))
}

#[handler]
async fn resume(
    state: Data<&AppState>,
    user: PortalUser,
    jar: &CookieJar,
    Path((id, agreement)): Path<(String, String)>,
) -> Result<Response, PortalError> {
    agreement_of(&state, &user, &id, &agreement).await?;
    service::agreements::resume(&state, &user.actor(), &agreement).await?;
    Flash::Resumed.set(jar, CookiePolicy::of(&state));
    Ok(back_to_agreement(&id, &agreement))
}

fn back_to_agreement(id: &str, agreement: &str) -> Response {
    Redirect::see_other(format!("/portal/dialogues/{id}#agreement-{agreement}")).into_response()
}

/// `GET /portal/dialogues/{id}/agreements.csv`: every agreement of the dialogue, streamed.
#[handler]
async fn export_agreements(
    state: Data<&AppState>,
    user: PortalUser,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let actor = user.actor();
    service::dialogues::get(&state, &actor, &id).await?;
    let rows = service::export::agreements((*state).clone(), actor, id, None);
    Ok(download::csv("agreements.csv", rows))
}

/// `GET /portal/dialogues/{id}/charges.csv?from=&to=`: the dialogue's payments due in the
/// period (the page's period, the list's presets), streamed.
#[handler]
async fn export_charges(
    state: Data<&AppState>,
    user: PortalUser,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, PortalError> {
    let actor = user.actor();
    service::dialogues::get(&state, &actor, &id).await?;
    let range = chosen(&params, state.clock.today_oslo())?.range;
    let query = ChargeQuery {
        dialogue_id: Some(id),
        status: None,
        from: Some(range.from),
        to: Some(range.to),
    };
    let rows = service::export::charges((*state).clone(), actor, query);
    Ok(download::csv("charges.csv", rows))
}
