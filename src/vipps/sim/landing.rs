//! The Vipps app's side of the journey, as the seed walks it, in plain pages and form posts so
//! a person can click through it in a browser (keyboard alone works):
//!
//! 1. `GET /landing/{id}`: "Open in the Vipps app?" with an Open button;
//! 2. `GET /landing/{id}/app`: the confirmation screen (product, price, interval, what is paid
//!    now) with Confirm and pay, and Reject;
//! 3. `GET /landing/{id}/pin`: the PIN, posted to `POST /landing/{id}/confirm`;
//! 4. the Paid message and the confirmation, with a link to
//! 5. `GET /app/{phone}/recurring`: Payments → Recurring payments, every agreement of that
//!    phone, and `GET /app/{phone}/recurring/{id}`: one agreement's history of payments.
//!
//! A `?back=/path` on the link (the portal's "Try it" page passes its own) is carried from step
//! to step and becomes a "Back" link on the last one, so the journey works in one tab.

use poem::web::{Data, Form, Html, Path, Query};
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
         a.button{{display:inline-block;text-decoration:none;font-size:1rem;padding:.6rem 1rem;border-radius:6px}}\
         .paid{{font-size:1.4rem;color:#0a7d32;font-weight:bold}} table{{border-collapse:collapse;width:100%}}\
         td,th{{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}}\
         :focus-visible{{outline:3px solid #1a57c6;outline-offset:2px}}\
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

/// Where the last step's "Back" link goes: `?back=`, a path on this site (anything else is
/// ignored, so the link cannot send anyone elsewhere).
#[derive(Debug, Default, Deserialize)]
pub struct Back {
    #[serde(default)]
    back: String,
}

impl Back {
    fn path(&self) -> Option<&str> {
        let b = self.back.as_str();
        (b.starts_with('/') && !b.starts_with("//") && !b.contains('\\')).then_some(b)
    }

    /// `?back=…` for the next step's address, or nothing.
    fn query(&self) -> String {
        self.path()
            .map(|p| {
                format!(
                    "?back={}",
                    form_urlencoded::byte_serialize(p.as_bytes()).collect::<String>()
                )
            })
            .unwrap_or_default()
    }

    fn link(&self) -> String {
        self.path()
            .map(|p| {
                format!(
                    "<p><a id=\"back-to\" href=\"{}\">Back to where you came from</a></p>",
                    esc(p)
                )
            })
            .unwrap_or_default()
    }
}

fn not_found() -> Response {
    page("Agreement not found", "<p>This link is not valid.</p>")
}

fn agreement(sim: &Simulator, id: &str) -> Option<SimAgreement> {
    sim.read(|s| s.agreements.get(id).cloned())
}

/// An agreement that is no longer waiting for the user: what it is, and nothing to press.
fn settled(sim: &Simulator, a: &SimAgreement, back: &Back) -> Response {
    page(
        "Agreement",
        &format!(
            "{}<p id=\"status\">This agreement is {}.</p>{}{}",
            summary(a),
            a.status,
            history_link(sim, a),
            back.link()
        ),
    )
}

/// `pay.example.org` of `https://pay.example.org/my/…`.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

fn base(sim: &Simulator) -> String {
    sim.public_base_url().trim_end_matches('/').to_owned()
}

/// `GET /landing/{id}`: the step a phone's browser shows before the Vipps app opens.
#[handler]
pub fn show(
    Path(id): Path<String>,
    Query(back): Query<Back>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let Some(a) = agreement(sim, &id) else {
        return not_found();
    };
    if a.status != AgreementStatus::Pending {
        return settled(sim, &a, &back);
    }
    page(
        "Open in the Vipps app?",
        &format!(
            "<div class=\"box\"><p>{} wants to open Vipps to confirm <b>{}</b>.</p>\
             <p><a class=\"button pay\" id=\"open\" href=\"{}/landing/{}/app{}\">Open</a></p></div>",
            esc(host(&a.draft.merchant_agreement_url)),
            esc(&a.draft.product_name),
            base(sim),
            esc(&a.id),
            back.query(),
        ),
    )
}

/// `GET /landing/{id}/app`: the confirmation screen in the app.
#[handler]
pub fn confirmation(
    Path(id): Path<String>,
    Query(back): Query<Back>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let Some(a) = agreement(sim, &id) else {
        return not_found();
    };
    if a.status != AgreementStatus::Pending {
        return settled(sim, &a, &back);
    }
    let (base, id, q) = (base(sim), esc(&a.id), back.query());
    page(
        "Confirm agreement",
        &format!(
            "{}<p><a class=\"button pay\" id=\"confirm\" href=\"{base}/landing/{id}/pin{q}\">Confirm and pay</a></p>\
             <form method=\"post\" action=\"{base}/landing/{id}/reject{q}\">\
             <button class=\"rej\" type=\"submit\">Reject</button></form>",
            summary(&a)
        ),
    )
}

/// `GET /landing/{id}/pin`: the PIN step.
#[handler]
pub fn pin(
    Path(id): Path<String>,
    Query(back): Query<Back>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let Some(a) = agreement(sim, &id) else {
        return not_found();
    };
    if a.status != AgreementStatus::Pending {
        return settled(sim, &a, &back);
    }
    let (base, id, q) = (base(sim), esc(&a.id), back.query());
    let phone = esc(a.phone_number.as_deref().unwrap_or(""));
    page(
        "Enter your PIN",
        &format!(
            "<form method=\"post\" action=\"{base}/landing/{id}/confirm{q}\">\
             <p><label>Phone number <input name=\"phone\" value=\"{phone}\" inputmode=\"numeric\" autocomplete=\"tel\"></label></p>\
             <p><label>PIN <input name=\"pin\" type=\"password\" inputmode=\"numeric\" required autofocus \
             minlength=\"4\" maxlength=\"6\" pattern=\"[0-9]{{4,6}}\"></label></p>\
             <button class=\"pay\" type=\"submit\">Confirm and pay</button></form>"
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
    Query(back): Query<Back>,
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
        Ok(AgreementStatus::Active) => {
            let paid = a
                .as_ref()
                .and_then(|a| a.initial_charge_id.as_deref().and_then(|c| a.charge(c)))
                .map(|c| {
                    format!(
                        "<p class=\"paid\" id=\"paid\">Paid {}</p>",
                        kroner(c.amount)
                    )
                })
                .unwrap_or_default();
            page(
                "Paid",
                &format!(
                    "{paid}<p id=\"status\">Done! The agreement is active.</p>{}{}{}{}",
                    a.as_ref().map(summary).unwrap_or_default(),
                    a.as_ref().map(|a| history_link(sim, a)).unwrap_or_default(),
                    back_link(a.as_ref()),
                    back.link()
                ),
            )
        }
        Ok(status) => page(
            "Payment failed",
            &format!(
                "<p id=\"status\">The payment failed; the agreement is {status}.</p>{}{}",
                back_link(a.as_ref()),
                back.link()
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
pub fn reject(
    Path(id): Path<String>,
    Query(back): Query<Back>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let result = sim.reject(&id);
    let a = sim.read(|s| s.agreements.get(&id).cloned());
    match result {
        Ok(()) => page(
            "Agreement rejected",
            &format!(
                "<p id=\"status\">You rejected the agreement.</p>{}{}",
                back_link(a.as_ref()),
                back.link()
            ),
        ),
        Err(e) => page(
            "Cannot reject",
            &format!("<p>{}</p>", esc(e.problem.detail.as_deref().unwrap_or(""))),
        ),
    }
}

fn history_link(sim: &Simulator, a: &SimAgreement) -> String {
    match &a.phone_number {
        Some(phone) => format!(
            "<p><a id=\"payments\" href=\"{b}/app/{p}/recurring\">Payments → Recurring payments</a></p>",
            b = base(sim),
            p = esc(phone)
        ),
        None => String::new(),
    }
}

fn of_phone(sim: &Simulator, phone: &str) -> Vec<SimAgreement> {
    let phone = phone.trim_start_matches('+');
    let mut mine: Vec<SimAgreement> = sim.read(|s| {
        s.agreements
            .values()
            .filter(|a| a.phone_number.as_deref().map(|p| p.trim_start_matches('+')) == Some(phone))
            .cloned()
            .collect()
    });
    mine.sort_by_key(|a| std::cmp::Reverse(a.created));
    mine
}

/// `GET /app/{phone}/recurring`: every agreement of the phone, as the app's Payments tab
/// lists them under Recurring payments.
#[handler]
pub fn recurring(Path(phone): Path<String>, Data(sim): Data<&Simulator>) -> Response {
    let mine = of_phone(sim, &phone);
    if mine.is_empty() {
        return page(
            "Recurring payments",
            "<p>No recurring payments on this phone.</p>",
        );
    }
    let rows: String = mine
        .iter()
        .map(|a| {
            format!(
                "<li><a href=\"recurring/{id}\">{name}</a> — {price} {interval} — {status}</li>",
                id = esc(&a.id),
                name = esc(&a.draft.product_name),
                price = a.amount.map(kroner).unwrap_or_default(),
                interval = esc(&interval_text(&a.interval)),
                status = a.status,
            )
        })
        .collect();
    page(
        "Recurring payments",
        &format!("<ul id=\"agreements\">{rows}</ul>"),
    )
}

/// `GET /app/{phone}/recurring/{id}`: one agreement's payments, newest first.
#[handler]
pub fn payments(
    Path((phone, id)): Path<(String, String)>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let Some(a) = of_phone(sim, &phone).into_iter().find(|a| a.id == id) else {
        return not_found();
    };
    let mut charges = a.charges.clone();
    charges.sort_by_key(|c| std::cmp::Reverse(c.due));
    let rows: String = charges
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.due.format("%d.%m.%Y"),
                kroner(c.amount),
                c.status,
                esc(&c.description)
            )
        })
        .collect();
    page(
        &a.draft.product_name,
        &format!(
            "{}<h2>History</h2><table id=\"history\"><thead><tr><th>Due</th><th>Amount</th>\
             <th>Status</th><th>Description</th></tr></thead><tbody>{rows}</tbody></table>\
             <p><a href=\"../recurring\">All recurring payments</a></p>",
            summary(&a)
        ),
    )
}
