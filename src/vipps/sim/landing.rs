//! `GET /landing/{agreementId}`: a small page like the Vipps confirmation screen (product,
//! price, interval, PIN field, "Confirm and pay" and "Reject"), with plain form posts so a
//! person can click through the journey in a browser.

use poem::web::{Data, Form, Html, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use super::Simulator;
use super::model::{SimAgreement, interval_text};
use crate::vipps::wire::AgreementStatus;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn kroner(ore: i64) -> String {
    format!("{},{:02} kr", ore / 100, ore % 100)
}

fn page(title: &str, inner: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{t} – Vipps simulator</title><style>\
         body{{font-family:sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}}\
         .brand{{color:#ff5b24;font-weight:bold}} .box{{border:1px solid #ddd;border-radius:8px;padding:1rem}}\
         button{{font-size:1rem;padding:.6rem 1rem;margin:.3rem .3rem 0 0;border-radius:6px;border:0}}\
         .pay{{background:#ff5b24;color:#fff}} .rej{{background:#eee}}\
         </style></head><body><p class=\"brand\">vipps (simulator)</p><h1>{t}</h1>{inner}</body></html>",
        t = esc(title)
    ))
    .into_response()
}

fn summary(a: &SimAgreement) -> String {
    let price = a
        .amount
        .or(a.suggested_max_amount)
        .map(kroner)
        .unwrap_or_else(|| "variable".into());
    let initial = a
        .initial_charge_id
        .as_deref()
        .and_then(|id| a.charge(id))
        .map(|c| {
            format!(
                "<p>Pay now: <b>{}</b> ({})</p>",
                kroner(c.amount),
                esc(&c.description)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"box\"><h2 id=\"product\">{}</h2><p>{}</p><p>Price: <b id=\"price\">{price}</b> \
         <span id=\"interval\">{}</span></p>{initial}</div>",
        esc(&a.draft.product_name),
        esc(a.draft.product_description.as_deref().unwrap_or("")),
        esc(&interval_text(&a.interval)),
    )
}

/// `GET /landing/{id}`.
#[handler]
pub fn show(Path(id): Path<String>, Data(sim): Data<&Simulator>) -> Response {
    let Some(a) = sim.read(|s| s.agreements.get(&id).cloned()) else {
        return page("Agreement not found", "<p>This link is not valid.</p>");
    };
    if a.status != AgreementStatus::Pending {
        return page(
            "Agreement",
            &format!(
                "{}<p id=\"status\">This agreement is {}.</p>",
                summary(&a),
                a.status
            ),
        );
    }
    let base = sim.public_base_url();
    let base = base.trim_end_matches('/');
    let phone = esc(a.phone_number.as_deref().unwrap_or(""));
    let id = esc(&a.id);
    page(
        "Confirm agreement",
        &format!(
            "{}<form method=\"post\" action=\"{base}/landing/{id}/confirm\">\
             <p><label>Phone number <input name=\"phone\" value=\"{phone}\" inputmode=\"numeric\"></label></p>\
             <p><label>PIN <input name=\"pin\" type=\"password\" inputmode=\"numeric\" required \
             minlength=\"4\" maxlength=\"6\" pattern=\"[0-9]{{4,6}}\"></label></p>\
             <button class=\"pay\" type=\"submit\">Confirm and pay</button></form>\
             <form method=\"post\" action=\"{base}/landing/{id}/reject\">\
             <button class=\"rej\" type=\"submit\">Reject</button></form>",
            summary(&a)
        ),
    )
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    pin: String,
}

fn back_link(a: Option<&SimAgreement>) -> String {
    a.map(|a| {
        format!(
            "<p><a id=\"back\" href=\"{}\">Back to the merchant</a></p>",
            esc(&a.draft.merchant_redirect_url)
        )
    })
    .unwrap_or_default()
}

/// `POST /landing/{id}/confirm` (form: `phone`, `pin`).
#[handler]
pub fn confirm(
    Path(id): Path<String>,
    Form(f): Form<ConfirmForm>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let pin_ok = (4..=6).contains(&f.pin.len()) && f.pin.chars().all(|c| c.is_ascii_digit());
    if !pin_ok {
        return page("Wrong PIN", "<p>The PIN must be 4–6 digits.</p>");
    }
    let phone = Some(f.phone.trim()).filter(|p| !p.is_empty());
    let result = sim.approve(&id, phone);
    let a = sim.read(|s| s.agreements.get(&id).cloned());
    match result {
        Ok(AgreementStatus::Active) => page(
            "Agreement confirmed",
            &format!(
                "<p id=\"status\">Done! The agreement is active.</p>{}",
                back_link(a.as_ref())
            ),
        ),
        Ok(status) => page(
            "Payment failed",
            &format!(
                "<p id=\"status\">The payment failed; the agreement is {status}.</p>{}",
                back_link(a.as_ref())
            ),
        ),
        Err(e) => page(
            "Cannot confirm",
            &format!("<p>{}</p>", esc(e.problem.detail.as_deref().unwrap_or(""))),
        ),
    }
}

/// `POST /landing/{id}/reject`.
#[handler]
pub fn reject(Path(id): Path<String>, Data(sim): Data<&Simulator>) -> Response {
    let result = sim.reject(&id);
    let a = sim.read(|s| s.agreements.get(&id).cloned());
    match result {
        Ok(()) => page(
            "Agreement rejected",
            &format!(
                "<p id=\"status\">You rejected the agreement.</p>{}",
                back_link(a.as_ref())
            ),
        ),
        Err(e) => page(
            "Cannot reject",
            &format!("<p>{}</p>", esc(e.problem.detail.as_deref().unwrap_or(""))),
        ),
    }
}
