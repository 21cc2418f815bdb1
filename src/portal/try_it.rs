//! "Try it" (`/portal/dialogues/{id}/try`, only while payments go to the Vipps simulator;
//! otherwise every route here is a 404 and nothing links to it): a form texts the keyword from
//! a test phone number (POST with the CSRF token, then a redirect to `…/try?phone=…`), and a
//! phone screen shows the conversation and the agreement. With htmx the screen re-reads
//! `…/try/screen?phone=…` every two seconds until the agreement is settled (ACTIVE with its
//! first payment taken, or ended); without it the page has a Refresh link. Its "Open the Vipps
//! link" passes this page to the simulator as `back=`, whose last step links back here.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query, Redirect},
};
use serde::Deserialize;

use crate::{
    db::messages::Message,
    domain::{
        dialogue::DialogueState,
        status::{AgreementStatus, ChargeStatus},
    },
    portal::{
        errors::PortalError,
        format,
        forms::FieldErrors,
        layout::{Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        ServiceError,
        agreements::AgreementDetail,
        try_it::{self, Conversation},
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/dialogues/:id/try", poem::get(show).post(send))
        .at("/dialogues/:id/try/screen", poem::get(fragment))
}

/// The form's fields, by name, as the error summary names them.
const LABELS: &[(&str, &str)] = &[("phone", "Test phone number"), ("text", "Text")];

#[derive(Debug, Default, Deserialize)]
struct PhoneParam {
    #[serde(default)]
    phone: String,
}

#[derive(Debug, Default, Deserialize)]
struct TryForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    text: String,
}

/// One SMS on the phone screen; a link in its text (the Vipps link) is a real link.
struct Bubble {
    /// Sent from the test phone (shown on the right).
    mine: bool,
    at: String,
    status: String,
    before: String,
    link: Option<String>,
    after: String,
}

impl From<&Message> for Bubble {
    fn from(m: &Message) -> Self {
        let (before, link, after) = split_link(&m.text);
        Self {
            mine: m.direction == "in",
            at: format::datetime(m.created_at),
            status: m.status.replace('_', " "),
            before: before.to_owned(),
            link: link.map(str::to_owned),
            after: after.to_owned(),
        }
    }
}

/// The text before the first `http(s)://` link, the link (up to the next whitespace), and the rest.
fn split_link(text: &str) -> (&str, Option<&str>, &str) {
    let start = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| text.find(scheme))
        .min();
    let Some(start) = start else {
        return (text, None, "");
    };
    let end = text[start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |n| start + n);
    (&text[..start], Some(&text[start..end]), &text[end..])
}

/// One payment of the agreement.
struct PaymentRow {
    due: String,
    amount: String,
    status: &'static str,
    charged: bool,
}

/// The agreement as the screen shows it.
struct AgreementView {
    status: &'static str,
    active: bool,
    payments: Vec<PaymentRow>,
    /// Nothing more will change on its own: ACTIVE with its first payment settled, or ended.
    settled: bool,
}

impl From<&AgreementDetail> for AgreementView {
    fn from(d: &AgreementDetail) -> Self {
        let status = d.agreement.status;
        let first = d.charges.iter().min_by_key(|c| c.charge.due_date);
        let first_settled = first.is_some_and(|c| !c.charge.status.is_open());
        Self {
            status: status.as_str(),
            active: status == AgreementStatus::Active,
            settled: !status.is_open() || (d.agreement.activated_at.is_some() && first_settled),
            payments: d
                .charges
                .iter()
                .map(|c| PaymentRow {
                    due: format::date(c.charge.due_date),
                    amount: format::nok(c.charge.amount_ore),
                    status: c.charge.status.as_str(),
                    charged: c.charge.status == ChargeStatus::Charged,
                })
                .collect(),
        }
    }
}

/// The phone screen and the links around it.
struct Screen {
    /// `…/try/screen?phone=…`, which htmx re-reads while `polling`.
    refresh: String,
    /// This page, for a browser without htmx.
    page: String,
    polling: bool,
    /// The reply's Vipps link while the agreement waits for the user, with the simulator's
    /// `back=` to this page (the bubble shows the link as the SMS has it).
    vipps_link: Option<String>,
    phone: String,
    sender: String,
    bubbles: Vec<Bubble>,
    agreement: Option<AgreementView>,
    recurring_payments: String,
    messages: String,
}

impl Screen {
    fn new(state: &AppState, id: &str, c: &Conversation) -> Self {
        let phone = format::url_encode(c.phone.as_str());
        let agreement = c.agreement.as_ref().map(AgreementView::from);
        // Until a reply came and the agreement, if any, is settled.
        let replied = c.messages.iter().any(|m| m.direction == "out");
        let settled = agreement.as_ref().map_or(replied, |a| a.settled);
        let bubbles: Vec<Bubble> = c.messages.iter().map(Bubble::from).collect();
        let pending =
            (c.agreement.as_ref()).is_some_and(|a| a.agreement.status == AgreementStatus::Pending);
        let page = format!("/portal/dialogues/{id}/try?phone={phone}");
        let vipps_link = (bubbles.iter().rev())
            .filter(|b| !b.mine)
            .find_map(|b| b.link.as_deref())
            .filter(|_| pending)
            .map(|link| {
                let sep = if link.contains('?') { '&' } else { '?' };
                format!("{link}{sep}back={}", format::url_encode(&page))
            });
        Self {
            refresh: format!("/portal/dialogues/{id}/try/screen?phone={phone}"),
            page,
            vipps_link,
            polling: !settled,
            phone: c.phone.as_str().to_owned(),
            sender: c.dialogue.dialogue.sender.clone(),
            bubbles,
            agreement,
            recurring_payments: try_it::recurring_payments_url(state, &c.phone),
            messages: format!("/portal/messages?phone={phone}"),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "try_it.html")]
struct TryPage {
    layout: Layout,
    id: String,
    name: String,
    keyword: String,
    sender: String,
    live: bool,
    phone: String,
    text: String,
    errors: FieldErrors,
    screen: Option<Screen>,
}

impl TryPage {
    fn stylesheet(&self) -> &'static str {
        crate::portal::assets::TRY_STYLESHEET
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "try_it_screen_partial.html")]
struct ScreenPartial {
    screen: Screen,
}

/// The page: the form (prefilled with the phone shown, or a fresh one, and the keyword) and,
/// for a phone, its screen.
async fn try_page(
    state: &AppState,
    user: &PortalUser,
    layout: Layout,
    id: &str,
    form: Option<TryForm>,
    errors: FieldErrors,
    phone: &str,
) -> Result<TryPage, PortalError> {
    let actor = user.actor();
    let (d, screen) = if phone.trim().is_empty() {
        (try_it::dialogue(state, &actor, id).await?, None)
    } else {
        let c = try_it::conversation(state, &actor, id, phone).await?;
        let screen = Screen::new(state, id, &c);
        (c.dialogue, Some(screen))
    };
    let form = form.unwrap_or_else(|| TryForm {
        phone: screen
            .as_ref()
            .map_or_else(try_it::fresh_phone, |s| s.phone.clone()),
        text: d.dialogue.keyword.clone(),
    });
    Ok(TryPage {
        layout,
        id: id.to_owned(),
        name: d.dialogue.name,
        keyword: d.dialogue.keyword,
        sender: d.dialogue.sender,
        live: d.state == DialogueState::Live,
        phone: form.phone,
        text: form.text,
        errors: errors.labelled(LABELS),
        screen,
    })
}

/// `GET /portal/dialogues/{id}/try[?phone=…]`.
#[handler]
async fn show(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    Query(p): Query<PhoneParam>,
) -> Result<TryPage, PortalError> {
    let layout = parts.for_user(&user, Nav::Dialogues);
    try_page(
        &state,
        &user,
        layout,
        &id,
        None,
        FieldErrors::none(),
        &p.phone,
    )
    .await
}

/// `GET /portal/dialogues/{id}/try/screen?phone=…`: the phone screen alone (htmx polls it).
#[handler]
async fn fragment(
    state: Data<&AppState>,
    user: PortalUser,
    Path(id): Path<String>,
    Query(p): Query<PhoneParam>,
) -> Result<ScreenPartial, PortalError> {
    let c = try_it::conversation(&state, &user.actor(), &id, &p.phone).await?;
    Ok(ScreenPartial {
        screen: Screen::new(&state, &id, &c),
    })
}

/// `POST /portal/dialogues/{id}/try`: texts the form's text from its phone, then shows that
/// phone's screen; the form again (422) with what is wrong.
#[handler]
async fn send(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    Form(form): Form<TryForm>,
) -> Result<Response, PortalError> {
    match try_it::send(&state, &user.actor(), &id, &form.phone, &form.text).await {
        Ok(phone) => {
            let to = format!(
                "/portal/dialogues/{id}/try?phone={}",
                format::url_encode(phone.as_str())
            );
            Ok(Redirect::see_other(to).into_response())
        }
        Err(ServiceError::Invalid(problems)) => {
            let layout = parts.for_user(&user, Nav::Dialogues);
            let page =
                try_page(&state, &user, layout, &id, Some(form), problems.into(), "").await?;
            Ok(page
                .with_status(StatusCode::UNPROCESSABLE_ENTITY)
                .into_response())
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_link_of_a_text_is_cut_out() {
        assert_eq!(
            split_link("Takk! https://x.no/a?b=1 Svar STOPP"),
            ("Takk! ", Some("https://x.no/a?b=1"), " Svar STOPP")
        );
        assert_eq!(split_link("http://a.b"), ("", Some("http://a.b"), ""));
        assert_eq!(split_link("No link"), ("No link", None, ""));
    }
}
