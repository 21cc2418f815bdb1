//! A payment's money operations on the Dialogue page: `…/charges/{cid}/refund` (GET: the
//! amount left prefilled and a description, as the confirmation; POST with the CSRF token:
//! the refund is recorded and queued) and `…/charges/{cid}/cancel` (GET asks, POST cancels a
//! payment not taken yet). Both go back to the agreement's card, where the payment history
//! shows the refund's progress: `…/charges/{cid}/rows` is the payment's rows alone, which htmx
//! re-reads while a refund is in progress.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    http::StatusCode,
    web::{Data, Form, Path, Redirect, cookie::CookieJar},
};
use serde::Deserialize;

use crate::{
    portal::{
        cookies::CookiePolicy,
        dialogue_page::ChargeRows,
        errors::PortalError,
        format::{date, nok},
        forms::FieldErrors,
        layout::{Flash, Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        self, FieldProblem, ServiceError,
        refunds::{ChargeDetail, RefundInput},
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at(
            "/dialogues/:id/charges/:charge/refund",
            poem::get(refund_form).post(refund),
        )
        .at(
            "/dialogues/:id/charges/:charge/cancel",
            poem::get(confirm_cancel).post(cancel),
        )
        .at("/dialogues/:id/charges/:charge/rows", poem::get(rows))
}

const LABELS: &[(&str, &str)] = &[("amount", "Amount"), ("reason", "Description")];

/// The payment as the pages show it.
struct PaymentFacts {
    id: String,
    agreement_id: String,
    due: String,
    amount: String,
    status: &'static str,
    refunded: String,
    refundable: String,
    refundable_ore: i64,
}

impl PaymentFacts {
    fn new(d: &ChargeDetail) -> Self {
        let refunded = d.charge.amount_ore - d.refundable_ore;
        Self {
            id: d.charge.id.clone(),
            agreement_id: d.charge.agreement_id.clone(),
            due: date(d.charge.due_date),
            amount: nok(d.charge.amount_ore),
            status: d.charge.status.as_str(),
            refunded: nok(if d.charge.status.is_refundable() {
                refunded
            } else {
                0
            }),
            refundable: nok(d.refundable_ore),
            refundable_ore: d.refundable_ore,
        }
    }
}

/// The payment `charge` of dialogue `id` with the dialogue's name, or 404 (another dialogue's
/// or partner's).
async fn payment_of(
    state: &AppState,
    user: &PortalUser,
    id: &str,
    charge: &str,
) -> Result<(String, String, ChargeDetail), PortalError> {
    let actor = user.actor();
    let d = service::dialogues::get(state, &actor, id).await?;
    let c = service::refunds::get(state, &actor, charge).await?;
    let a = service::agreements::get(state, &actor, &c.charge.agreement_id).await?;
    if a.agreement.dialogue_id != d.dialogue.id {
        return Err(PortalError::NotFound);
    }
    Ok((d.dialogue.name, d.dialogue.product_name, c))
}

#[derive(Template, WebTemplate)]
#[template(path = "charge_refund.html")]
struct RefundPage {
    layout: Layout,
    dialogue_id: String,
    dialogue_name: String,
    product_name: String,
    payment: PaymentFacts,
    amount: String,
    reason: String,
    errors: FieldErrors,
    /// Why no refund can be made now (a conflict), instead of the form's fields.
    refused: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RefundForm {
    amount: String,
    reason: String,
}

/// `49,90` as typed in Norway, or `49.90`.
fn amount_typed(text: &str) -> String {
    text.trim().replace(',', ".")
}

/// `4990` as the amount field shows it: `49,90`.
fn amount_field(ore: i64) -> String {
    format!("{},{:02}", ore / 100, ore % 100)
}

#[handler]
async fn refund_form(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path((id, charge)): Path<(String, String)>,
) -> Result<RefundPage, PortalError> {
    let (name, product, c) = payment_of(&state, &user, &id, &charge).await?;
    let refused = (c.refundable_ore == 0).then(|| {
        format!(
            "This payment cannot be refunded: it is {}.",
            c.charge.status.as_str()
        )
    });
    Ok(RefundPage {
        layout: parts.for_user(&user, Nav::Dialogues),
        dialogue_id: id,
        dialogue_name: name,
        amount: amount_field(c.refundable_ore),
        reason: String::new(),
        product_name: product,
        payment: PaymentFacts::new(&c),
        errors: FieldErrors::none(),
        refused,
    })
}

/// Back to the agreement's card on the dialogue's page, with `flash` shown there.
fn to_card(jar: &CookieJar, state: &AppState, id: &str, agreement: &str, flash: Flash) -> Response {
    flash.set(jar, CookiePolicy::of(state));
    Redirect::see_other(format!("/portal/dialogues/{id}#agreement-{agreement}")).into_response()
}

#[handler]
async fn refund(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    jar: &CookieJar,
    Path((id, charge)): Path<(String, String)>,
    Form(form): Form<RefundForm>,
) -> Result<Response, PortalError> {
    let (name, product, c) = payment_of(&state, &user, &id, &charge).await?;
    let input = RefundInput {
        amount: amount_typed(&form.amount),
        reason: Some(form.reason.clone()),
    };
    let err = match service::refunds::refund(&state, &user.actor(), &charge, &input).await {
        Ok(_) => {
            let agreement = c.charge.agreement_id.clone();
            return Ok(to_card(
                jar,
                &state,
                &id,
                &agreement,
                Flash::RefundRequested,
            ));
        }
        Err(err) => err,
    };
    let (errors, refused) = match err {
        ServiceError::Invalid(problems) => (problems, None),
        ServiceError::Conflict { message, .. } => (Vec::<FieldProblem>::new(), Some(message)),
        err => return Err(err.into()),
    };
    let page = RefundPage {
        layout: parts.for_user(&user, Nav::Dialogues),
        dialogue_id: id,
        dialogue_name: name,
        product_name: product,
        payment: PaymentFacts::new(&c),
        amount: form.amount,
        reason: form.reason,
        errors: FieldErrors::from(errors).labelled(LABELS),
        refused,
    };
    Ok(page
        .with_status(StatusCode::UNPROCESSABLE_ENTITY)
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "charge_cancel.html")]
struct CancelPage {
    layout: Layout,
    dialogue_id: String,
    dialogue_name: String,
    payment: PaymentFacts,
    cancellable: bool,
}

#[handler]
async fn confirm_cancel(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path((id, charge)): Path<(String, String)>,
) -> Result<CancelPage, PortalError> {
    let (name, _, c) = payment_of(&state, &user, &id, &charge).await?;
    Ok(CancelPage {
        layout: parts.for_user(&user, Nav::Dialogues),
        dialogue_id: id,
        dialogue_name: name,
        cancellable: c.charge.status.is_cancelled_on_stop(),
        payment: PaymentFacts::new(&c),
    })
}

#[handler]
async fn cancel(
    state: Data<&AppState>,
    user: PortalUser,
    jar: &CookieJar,
    Path((id, charge)): Path<(String, String)>,
) -> Result<Response, PortalError> {
    let (_, _, c) = payment_of(&state, &user, &id, &charge).await?;
    service::refunds::cancel(&state, &user.actor(), &charge).await?;
    let agreement = c.charge.agreement_id;
    Ok(to_card(
        jar,
        &state,
        &id,
        &agreement,
        Flash::CancelRequested,
    ))
}

/// `GET …/charges/{cid}/rows`: the payment and its refunds as the Dialogue page shows them.
#[handler]
async fn rows(
    state: Data<&AppState>,
    user: PortalUser,
    Path((id, charge)): Path<(String, String)>,
) -> Result<ChargeRows, PortalError> {
    let (_, _, c) = payment_of(&state, &user, &id, &charge).await?;
    Ok(ChargeRows::new(id, &c.into()))
}
