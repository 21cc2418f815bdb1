//! The page behind Vipps's `merchantAgreementUrl`: `GET /my/agreements/{token}` shows the user
//! their agreement and payments, with a Stop button (`POST …/stop`). The token is a random
//! 192-bit secret per agreement; an unknown token is a plain 404.

use dialogpay_jobs::{JobSpec, agreements::StopAgreement};
use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{Data, Html, Path, Redirect},
};

use crate::{
    db::{agreements, charges, dialogues},
    domain::{money::AmountOre, status::AgreementStatus},
    state::AppState,
};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><p>This agreement link is not valid.</p>"),
    )
        .into_response()
}

fn failed(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "manage page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<!doctype html><p>Something went wrong; please try again.</p>"),
    )
        .into_response()
}

/// `GET /my/agreements/{token}`.
#[handler]
pub async fn page(Path(token): Path<String>, state: Data<&AppState>) -> Response {
    let a = match agreements::get_by_token(&state.db, &token).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    };
    let (d, list) = match (
        dialogues::get_any(&state.db, &a.dialogue_id).await,
        charges::for_agreement(&state.db, &a.id).await,
    ) {
        (Ok(Some(d)), Ok(list)) => (d, list),
        (Err(e), _) | (_, Err(e)) => return failed(e),
        (Ok(None), _) => return not_found(),
    };
    let skipped = match agreements::skipped_for_agreement(&state.db, &a.id).await {
        Ok(skipped) => skipped,
        Err(e) => return failed(e),
    };
    let mut rows: String = list
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{} kr</td><td>{}</td></tr>",
                c.due_date,
                AmountOre(c.amount_ore),
                escape(c.status.as_str())
            )
        })
        .collect();
    for s in &skipped {
        rows.push_str(&format!(
            "<tr data-skipped><td>{}</td><td>–</td><td>hoppet over (pause)</td></tr>",
            s.due_date
        ));
    }
    let pause = pause_text(&a, &d);
    let stop_form = if a.status.is_open() {
        format!(
            "<form method=post action=\"/my/agreements/{}/stop\"><button type=submit>Stop this agreement</button></form>",
            escape(&token)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<!doctype html><html lang=no><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>{product}</title><body style=\"font-family:sans-serif;max-width:32rem;margin:2rem auto\">\
         <h1>{product}</h1><p>{description}</p><p><b>{amount} kr</b> per {period} · status <b id=status>{status}</b></p>{pause}\
         <h2>Payments</h2><table><tr><th>Date</th><th>Amount</th><th>Status</th></tr>{rows}</table>{stop_form}</body></html>",
        product = escape(&d.product_name),
        description = escape(&d.product_description),
        amount = AmountOre(d.amount_ore),
        period = escape(d.period.as_str()),
        status = escape(a.status.as_str()),
    );
    Html(body).into_response()
}

/// What a pause means for the user, with how to pause or go on by SMS (ACTIVE agreements).
fn pause_text(a: &agreements::Agreement, d: &dialogues::Dialogue) -> String {
    let Some(b) = a
        .billing(d.period, d.end_date)
        .filter(|_| a.status == AgreementStatus::Active)
    else {
        return String::new();
    };
    let day = |d: chrono::NaiveDate| d.format("%d.%m.%Y").to_string();
    let next = b
        .next_charge_date()
        .map_or_else(|| "ingen før avtalen slutter".to_owned(), day);
    let sender = escape(&d.sender);
    if b.is_paused() {
        let dates: Vec<String> = b.skipped_dates().into_iter().map(day).collect();
        format!(
            "<p id=paused>På pause: trekkene {} hoppes over. Neste trekk: {next}. Send START til {sender} for å fortsette før.</p>",
            dates.join(", ")
        )
    } else {
        format!(
            "<p id=next>Neste trekk: {next}. Send PAUSE til {sender} for å hoppe over neste trekk (PAUSE 3 for tre).</p>"
        )
    }
}

/// `POST /my/agreements/{token}/stop`: queues the stop in Vipps and shows the page again.
#[handler]
pub async fn stop(Path(token): Path<String>, state: Data<&AppState>) -> Response {
    let a = match agreements::get_by_token(&state.db, &token).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    };
    if a.status.is_open() {
        let job = StopAgreement {
            agreement_id: a.id.clone(),
            reason: "manage_page".into(),
        };
        if let Err(e) = state.enqueuer.enqueue(&job).await {
            return failed(e);
        }
        state.enqueuer.wake(StopAgreement::QUEUE);
    }
    Redirect::see_other(format!("/my/agreements/{token}")).into_response()
}
