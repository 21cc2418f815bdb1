//! The webhooks screen: `GET/POST /portal/webhooks` lists the partner's endpoints (with a
//! warning for any that was disabled after failing for days) and registers one, showing its
//! signing secret once; `GET/POST /portal/webhooks/{id}` shows an endpoint's delivery log and
//! changes it; `POST …/delete`, `POST …/resend-failed` (every FAILED delivery since a time);
//! `GET /portal/webhooks/deliveries/{id}` shows one delivery's body and attempts and
//! `POST …/resend` sends it again.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Request, Response, Route, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query, Redirect},
};
use serde::Deserialize;

use crate::{
    db::webhooks::{Attempt, Delivery, Endpoint},
    domain::partner_events::{DeliveryStatus, EventType, parse_subscriptions},
    portal::{
        cookies::CookiePolicy,
        errors::PortalError,
        format,
        forms::FieldErrors,
        layout::{Flash, Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        self, ServiceError,
        page::PageRequest,
        webhooks::{CreatedEndpoint, EndpointInput, MAX_DESCRIPTION_CHARS, MAX_URL_CHARS},
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/webhooks", poem::get(list).post(create))
        .at("/webhooks/:id", poem::get(endpoint).post(update))
        .at("/webhooks/:id/delete", poem::post(delete))
        .at("/webhooks/:id/resend-failed", poem::post(resend_failed))
        .at("/webhooks/deliveries/:id", poem::get(delivery))
        .at("/webhooks/deliveries/:id/resend", poem::post(resend))
}

/// The form's fields and their labels, for the error summary.
const LABELS: &[(&str, &str)] = &[
    ("url", "URL"),
    ("event_types", "Events"),
    ("description", "Description"),
    ("since", "Since"),
];

/// Rows per page of the delivery log.
const PAGE_ROWS: u32 = 50;

/// The endpoint form as posted: `event_types` once per ticked box.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EndpointForm {
    url: String,
    description: String,
    #[serde(default)]
    event_types: Vec<String>,
    /// `on` when the "Send events" box is ticked (the change form only).
    enabled: Option<String>,
}

impl EndpointForm {
    fn input<'a>(&'a self, enabled: Option<bool>) -> EndpointInput<'a> {
        EndpointInput {
            url: Some(&self.url),
            event_types: Some(&self.event_types),
            description: Some(&self.description),
            enabled,
        }
    }
}

/// The posted form, read from the raw body: a repeated `event_types` field is a list, which a
/// plain `Form` of a struct does not read.
fn read_form(body: &str) -> EndpointForm {
    let mut form = EndpointForm::default();
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        match key.as_ref() {
            "url" => form.url = value.into_owned(),
            "description" => form.description = value.into_owned(),
            "event_types" => form.event_types.push(value.into_owned()),
            "enabled" => form.enabled = Some(value.into_owned()),
            _ => {}
        }
    }
    form
}

#[derive(Debug, Default, Deserialize)]
struct Cursor {
    cursor: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SinceForm {
    /// `YYYY-MM-DDTHH:MM` from a `datetime-local` input, Europe/Oslo.
    since: String,
}

/// A refusal shown next to its field; any other error is a page.
fn field_errors(err: ServiceError) -> Result<FieldErrors, PortalError> {
    match err {
        ServiceError::Invalid(problems) => Ok(FieldErrors::from(problems).labelled(LABELS)),
        ServiceError::Conflict { message, .. } => {
            Ok(
                FieldErrors::from(vec![crate::service::FieldProblem::new("url", message)])
                    .labelled(LABELS),
            )
        }
        err => Err(err.into()),
    }
}

fn again(page: impl IntoResponse) -> Response {
    page.with_status(StatusCode::UNPROCESSABLE_ENTITY)
        .into_response()
}

fn to(req: &Request, state: &AppState, path: String, flash: Flash) -> Response {
    flash.set(req.cookie(), CookiePolicy::of(state));
    Redirect::see_other(path).into_response()
}

fn endpoint_path(id: &str) -> String {
    format!("/portal/webhooks/{}", format::url_encode(id))
}

/// One event type as a checkbox.
struct EventChoice {
    name: &'static str,
    checked: bool,
}

fn choices(chosen: &[String]) -> Vec<EventChoice> {
    EventType::ALL
        .iter()
        .map(|t| EventChoice {
            name: t.as_str(),
            checked: chosen.iter().any(|c| c == t.as_str()),
        })
        .collect()
}

/// A row of the endpoints table, and the head of an endpoint's page.
struct EndpointRow {
    id: String,
    url: String,
    description: String,
    events: Vec<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<String>,
    created: String,
}

impl From<Endpoint> for EndpointRow {
    fn from(e: Endpoint) -> Self {
        EndpointRow {
            events: parse_subscriptions(&e.event_types)
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            failing_since: e.failing_since.map(format::datetime),
            created: format::datetime(e.created_at),
            id: e.id,
            url: e.url,
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "webhooks.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<EndpointRow>,
    /// Endpoints disabled after failing for days.
    disabled: usize,
    form: EndpointForm,
    choices: Vec<EventChoice>,
    errors: FieldErrors,
    max_url: usize,
    max_description: usize,
}

async fn list_page(
    state: &AppState,
    user: &PortalUser,
    parts: LayoutParts,
    form: EndpointForm,
    errors: FieldErrors,
) -> Result<ListPage, PortalError> {
    let page = PageRequest::new(Some(100), None)?;
    let endpoints = service::webhooks::list(state, &user.actor(), &page).await?;
    let rows: Vec<EndpointRow> = endpoints.items.into_iter().map(EndpointRow::from).collect();
    Ok(ListPage {
        layout: parts.for_user(user, Nav::Webhooks),
        disabled: rows.iter().filter(|r| r.disabled_reason.is_some()).count(),
        choices: choices(&form.event_types),
        rows,
        form,
        errors,
        max_url: MAX_URL_CHARS,
        max_description: MAX_DESCRIPTION_CHARS,
    })
}

#[handler]
async fn list(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
) -> Result<ListPage, PortalError> {
    list_page(
        &state,
        &user,
        parts,
        EndpointForm::default(),
        FieldErrors::none(),
    )
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "webhook_created.html")]
struct CreatedPage {
    layout: Layout,
    row: EndpointRow,
    secret: String,
}

#[handler]
async fn create(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    body: String,
) -> Result<Response, PortalError> {
    let form = read_form(&body);
    match service::webhooks::create(&state, &user.actor(), &form.input(Some(true))).await {
        Ok(CreatedEndpoint {
            endpoint: made,
            secret,
        }) => Ok(CreatedPage {
            layout: parts.for_user(&user, Nav::Webhooks),
            row: made.into(),
            secret,
        }
        .into_response()),
        Err(err) => {
            let errors = field_errors(err)?;
            Ok(again(list_page(&state, &user, parts, form, errors).await?))
        }
    }
}

/// A row of the delivery log.
struct DeliveryRow {
    id: String,
    event_id: String,
    event_type: &'static str,
    status: &'static str,
    attempts: i32,
    last_answer: String,
    created: String,
    next_attempt: String,
}

impl From<Delivery> for DeliveryRow {
    fn from(d: Delivery) -> Self {
        DeliveryRow {
            last_answer: match (d.attempts, d.last_status_code) {
                (0, _) => String::new(),
                (_, Some(code)) => format!("HTTP {code}"),
                (_, None) => "no answer".to_owned(),
            },
            next_attempt: match d.status {
                DeliveryStatus::Pending => {
                    d.next_attempt_at.map(format::datetime).unwrap_or_default()
                }
                _ => String::new(),
            },
            created: format::datetime(d.created_at),
            event_type: d.event_type.as_str(),
            status: d.status.as_str(),
            attempts: d.attempts,
            id: d.id,
            event_id: d.event_id,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "webhook_endpoint.html")]
struct EndpointPage {
    layout: Layout,
    row: EndpointRow,
    form: EndpointForm,
    choices: Vec<EventChoice>,
    errors: FieldErrors,
    max_url: usize,
    max_description: usize,
    deliveries: Vec<DeliveryRow>,
    /// The status the log is filtered to, if any.
    status: String,
    next: Option<String>,
}

async fn endpoint_page(
    state: &AppState,
    user: &PortalUser,
    parts: LayoutParts,
    id: &str,
    at: &Cursor,
    typed: Option<EndpointForm>,
    errors: FieldErrors,
) -> Result<EndpointPage, PortalError> {
    let e = service::webhooks::get(state, &user.actor(), id).await?;
    // The form's "All" sends an empty status.
    let chosen = at.status.as_deref().filter(|s| !s.is_empty());
    let status = service::webhooks::status_filter(chosen)?;
    let cursor = at.cursor.clone().filter(|c| !c.trim().is_empty());
    let page = PageRequest::new(Some(PAGE_ROWS), cursor)?;
    let log = service::webhooks::deliveries(state, &user.actor(), id, status, &page).await?;
    let status_text = status.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let next = log.next_cursor.map(|c| {
        format!(
            "{}?status={}&cursor={}#deliveries",
            endpoint_path(id),
            format::url_encode(&status_text),
            format::url_encode(&c)
        )
    });
    let row = EndpointRow::from(e);
    let form = typed.unwrap_or_else(|| EndpointForm {
        url: row.url.clone(),
        description: row.description.clone(),
        event_types: row.events.clone(),
        enabled: row.enabled.then(|| "on".to_owned()),
    });
    Ok(EndpointPage {
        layout: parts.for_user(user, Nav::Webhooks),
        choices: choices(&form.event_types),
        deliveries: log.items.into_iter().map(DeliveryRow::from).collect(),
        status: status_text,
        max_url: MAX_URL_CHARS,
        max_description: MAX_DESCRIPTION_CHARS,
        row,
        form,
        errors,
        next,
    })
}

#[handler]
async fn endpoint(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    Query(at): Query<Cursor>,
) -> Result<EndpointPage, PortalError> {
    endpoint_page(&state, &user, parts, &id, &at, None, FieldErrors::none()).await
}

#[handler]
async fn update(
    req: &Request,
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    body: String,
) -> Result<Response, PortalError> {
    let form = read_form(&body);
    let enabled = Some(form.enabled.is_some());
    match service::webhooks::update(&state, &user.actor(), &id, &form.input(enabled)).await {
        Ok(_) => Ok(to(req, &state, endpoint_path(&id), Flash::Saved)),
        Err(err) => {
            let errors = field_errors(err)?;
            let at = Cursor::default();
            let page = endpoint_page(&state, &user, parts, &id, &at, Some(form), errors);
            Ok(again(page.await?))
        }
    }
}

#[handler]
async fn delete(
    req: &Request,
    state: Data<&AppState>,
    user: PortalUser,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    service::webhooks::delete(&state, &user.actor(), &id).await?;
    Ok(to(
        req,
        &state,
        "/portal/webhooks".to_owned(),
        Flash::EndpointRemoved,
    ))
}

#[handler]
async fn resend_failed(
    req: &Request,
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    Form(form): Form<SinceForm>,
) -> Result<Response, PortalError> {
    let Some(since) = format::parse_oslo_datetime_local(&form.since) else {
        let errors = FieldErrors::from(vec![crate::service::FieldProblem::new(
            "since",
            "a date and time, e.g. 2026-12-01 08:00",
        )])
        .labelled(LABELS);
        let at = Cursor::default();
        let page = endpoint_page(&state, &user, parts, &id, &at, None, errors);
        return Ok(again(page.await?));
    };
    service::webhooks::resend_failed(&state, &user.actor(), &id, since).await?;
    Ok(to(req, &state, endpoint_path(&id), Flash::ResendQueued))
}

/// A row of a delivery's attempts.
struct AttemptRow {
    attempt: i32,
    at: String,
    answer: String,
    duration_ms: i64,
    detail: String,
}

impl From<Attempt> for AttemptRow {
    fn from(a: Attempt) -> Self {
        AttemptRow {
            attempt: a.attempt,
            at: format::datetime(a.at),
            answer: a
                .status_code
                .map(|c| format!("HTTP {c}"))
                .unwrap_or_else(|| "no answer".to_owned()),
            duration_ms: a.duration_ms,
            detail: a.detail.unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "webhook_delivery.html")]
struct DeliveryPage {
    layout: Layout,
    delivery: DeliveryRow,
    endpoint_id: String,
    body: String,
    attempts: Vec<AttemptRow>,
}

#[handler]
async fn delivery(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
) -> Result<DeliveryPage, PortalError> {
    let (d, body, attempts) = service::webhooks::delivery(&state, &user.actor(), &id).await?;
    let body = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(body);
    Ok(DeliveryPage {
        layout: parts.for_user(&user, Nav::Webhooks),
        endpoint_id: d.endpoint_id.clone(),
        delivery: d.into(),
        body,
        attempts: attempts.into_iter().map(AttemptRow::from).collect(),
    })
}

#[handler]
async fn resend(
    req: &Request,
    state: Data<&AppState>,
    user: PortalUser,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let d = service::webhooks::resend(&state, &user.actor(), &id).await?;
    Ok(to(
        req,
        &state,
        endpoint_path(&d.endpoint_id),
        Flash::ResendQueued,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_field_is_a_list() {
        let f = read_form(
            "url=https%3A%2F%2Fx.example%2Fh&event_types=charge.failed&event_types=member.left&description=CRM&csrf_token=t",
        );
        assert_eq!(f.url, "https://x.example/h");
        assert_eq!(f.event_types, ["charge.failed", "member.left"]);
        assert_eq!(f.description, "CRM");
        assert!(f.enabled.is_none());
    }
}
