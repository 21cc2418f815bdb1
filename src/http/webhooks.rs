//! Inbound webhooks from the SMS gateway and from Vipps. Each one authenticates the caller
//! (bad or missing credentials: 401 and nothing stored), stores what arrived (idempotently, on
//! the sender's id or the body's hash), enqueues the work in the same transaction, and answers
//! 2xx at once. The work itself happens in jobs.

use poem::{
    Body, IntoResponse, Request, Response, handler,
    http::{HeaderMap, StatusCode},
    web::{Data, Json},
};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::{
    db::{ids::hash_secret, vipps_events},
    http::error::{ErrorBody, FieldError},
    service::ingest::Stored,
    sms::{DeliveryReport, InboundError, InboundSms},
    state::AppState,
    vipps::{WebhookHeaders, signature::check_date, verify_webhook, wire::WebhookEvent},
};

fn reply(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let mut resp = Json(ErrorBody::new(code, message)).into_response();
    resp.set_status(status);
    resp
}

fn unauthorized() -> Response {
    reply(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or invalid credentials",
    )
}

fn internal(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "webhook could not be stored");
    reply(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A 400 naming the offending field, when the error is about one.
fn bad_request(message: impl Into<String>, field: Option<&str>) -> Response {
    let message = message.into();
    let mut body = ErrorBody::new("bad_request", message.clone());
    if let Some(field) = field {
        body.fields.push(FieldError {
            field: field.to_owned(),
            message,
        });
    }
    let mut resp = Json(body).into_response();
    resp.set_status(StatusCode::BAD_REQUEST);
    resp
}

/// Every webhook body is JSON. A body declared as something else (`text/plain`, a form, XML)
/// is refused with 415; a missing `Content-Type` is tolerated and the body parsed as JSON,
/// because gateways are not all careful about the header.
fn refuse_non_json(req: &Request) -> Option<Response> {
    let value = req.headers().get(poem::http::header::CONTENT_TYPE)?;
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        return None;
    }
    Some(reply(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "expected Content-Type: application/json, got {}",
            String::from_utf8_lossy(value.as_bytes())
        ),
    ))
}

async fn read_body(body: Body) -> Result<Vec<u8>, Response> {
    body.into_vec().await.map_err(|e| {
        reply(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("unreadable body: {e}"),
        )
    })
}

/// Stores an inbound SMS and enqueues its handling (once per gateway message id).
async fn store_inbound(state: &AppState, provider: &str, sms: InboundSms) -> Response {
    match crate::service::ingest::inbound_sms(state, provider, &sms).await {
        Ok(stored) => {
            let duplicate = stored.duplicate();
            tracing::info!(sms.from = %sms.from.masked(), sms.to = %sms.to, duplicate, "inbound SMS stored");
            Json(json!({ "id": stored.id, "duplicate": duplicate })).into_response()
        }
        Err(e) => internal(e),
    }
}

/// Applies a delivery report to the outbound message it belongs to, or parks it until the send
/// job records the gateway's id ([`crate::delivery`]): `{"known": true}` or
/// `{"known": false, "parked": true}`, 200 either way so the gateway stops retrying.
async fn store_report(state: &AppState, provider: &str, report: DeliveryReport) -> Response {
    use crate::delivery::Received;
    match crate::service::ingest::delivery_report(state, provider, &report).await {
        Ok(Received::Applied { changed }) => {
            if let Some(status) = changed {
                crate::monitoring::sms_status(provider, status);
            }
            Json(json!({ "known": true })).into_response()
        }
        Ok(Received::Parked { .. }) => {
            Json(json!({ "known": false, "parked": true })).into_response()
        }
        Err(e) => internal(e),
    }
}

/// Authenticates, reads and parses a gateway post: 401, 415 or 400 as a response, or the value.
async fn accept<T>(
    req: &Request,
    authorized: bool,
    body: Body,
    parse: impl FnOnce(&[u8]) -> Result<T, InboundError>,
) -> Result<T, Response> {
    if !authorized {
        return Err(unauthorized());
    }
    if let Some(resp) = refuse_non_json(req) {
        return Err(resp);
    }
    let bytes = read_body(body).await?;
    parse(&bytes).map_err(|e| bad_request(e.to_string(), e.field()))
}

fn bearer_ok(req: &Request, state: &AppState) -> bool {
    crate::sms::check_bearer(
        header(req.headers(), "authorization"),
        &state.settings.sms.inbound_token,
    )
}

fn link_authorized(req: &Request, state: &AppState) -> bool {
    let link = &state.settings.sms.link;
    crate::sms::check_basic(
        header(req.headers(), "authorization"),
        &link.inbound_username,
        &link.inbound_password,
    )
}

/// `POST /webhooks/sms/inbound`: the generic gateway's inbound SMS (Bearer `sms.inbound_token`).
#[handler]
pub async fn sms_inbound(req: &Request, body: Body, state: Data<&AppState>) -> Response {
    match accept(
        req,
        bearer_ok(req, &state),
        body,
        crate::sms::parse_generic_inbound,
    )
    .await
    {
        Ok(sms) => store_inbound(&state, "http", sms).await,
        Err(resp) => resp,
    }
}

/// `POST /webhooks/sms/status`: the generic gateway's delivery reports.
#[handler]
pub async fn sms_status(req: &Request, body: Body, state: Data<&AppState>) -> Response {
    match accept(
        req,
        bearer_ok(req, &state),
        body,
        crate::sms::parse_generic_status,
    )
    .await
    {
        Ok(report) => store_report(&state, state.sms.provider(), report).await,
        Err(resp) => resp,
    }
}

/// `POST /webhooks/sms/link/mo`: LINK Mobility inbound SMS (HTTP Basic).
#[handler]
pub async fn link_mo(req: &Request, body: Body, state: Data<&AppState>) -> Response {
    match accept(
        req,
        link_authorized(req, &state),
        body,
        crate::sms::parse_link_mo,
    )
    .await
    {
        Ok(sms) => store_inbound(&state, "link", sms).await,
        Err(resp) => resp,
    }
}

/// `POST /webhooks/sms/link/dlr`: LINK Mobility delivery reports, one per message part.
#[handler]
pub async fn link_dlr(req: &Request, body: Body, state: Data<&AppState>) -> Response {
    match accept(
        req,
        link_authorized(req, &state),
        body,
        crate::sms::parse_link_dlr,
    )
    .await
    {
        Ok(report) => store_report(&state, "link", report).await,
        Err(resp) => resp,
    }
}

/// `POST /webhooks/vipps`: a Vipps webhook, signed with the secret of one of our registrations
/// (or `vipps.webhook_secret`). Stored once per body, then processed by a job.
#[handler]
pub async fn vipps(req: &Request, body: Body, state: Data<&AppState>) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let headers = WebhookHeaders {
        date: header(req.headers(), "x-ms-date").unwrap_or_default(),
        content_sha256: header(req.headers(), "x-ms-content-sha256").unwrap_or_default(),
        authorization: header(req.headers(), "authorization").unwrap_or_default(),
    };
    let host = header(req.headers(), "host").unwrap_or_default().to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/webhooks/vipps")
        .to_owned();
    let mut secrets = match vipps_events::secrets(&state.db).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let configured = state.settings.vipps.webhook_secret.expose_secret();
    if !configured.is_empty() {
        secrets.push(configured.to_owned());
    }
    let verified = secrets
        .iter()
        .any(|secret| verify_webhook(secret, "POST", &path, &host, &headers, &bytes).is_ok());
    if !verified {
        return unauthorized();
    }
    if let Some(resp) = refuse_non_json(req) {
        return resp;
    }
    let max_skew = std::time::Duration::from_secs(state.settings.vipps.webhook_max_skew_secs);
    if let Err(e) = check_date(headers.date, std::time::SystemTime::now(), max_skew) {
        tracing::warn!(error = %e, "Vipps webhook refused");
        return reply(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string());
    }
    let event: WebhookEvent = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(e) => return bad_request(format!("not a Vipps event: {e}"), None),
    };
    // PostgreSQL text cannot hold NUL: refuse it on every engine instead of failing the insert.
    let stored = [
        ("eventType", Some(event.event_type.as_str())),
        ("msn", event.msn.as_deref()),
        ("agreementId", event.agreement_id.as_deref()),
        ("chargeId", event.charge_id.as_deref()),
        ("actor", event.actor.as_ref().map(|a| a.as_str())),
    ];
    if let Some((field, _)) = stored
        .iter()
        .find(|(_, v)| v.is_some_and(|v| v.contains('\0')))
    {
        return bad_request(
            format!("`{field}` must not contain NUL characters (\\u0000)"),
            Some(field),
        );
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let new = vipps_events::NewEvent {
        event_key: hash_secret(&text),
        actor: event.actor.as_ref().map(|a| a.as_str().to_owned()),
        event_type: event.event_type,
        msn: event.msn,
        agreement_id: event.agreement_id,
        charge_id: event.charge_id,
        body: text,
    };
    match crate::service::ingest::vipps_event(&state, new).await {
        Ok(Stored { id: Some(id) }) => {
            Json(json!({ "id": id, "duplicate": false })).into_response()
        }
        Ok(Stored { id: None }) => Json(json!({ "duplicate": true })).into_response(),
        Err(e) => internal(e),
    }
}
