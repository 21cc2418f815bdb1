//! [`FakeGateway`]: a real HTTP server on `127.0.0.1:0` that speaks our generic protocol
//! (`POST /send`) and LINK's (`POST /sms/send`), for the integration tests and the demo.
//!
//! It checks credentials like the real thing (bearer token / HTTP Basic, the constants below),
//! validates bodies, records every accepted send ([`FakeGateway::sent`]), deduplicates by our
//! `message_id` on the generic protocol (as that protocol requires) but not on LINK's (which
//! does not), and injects faults: [`set_down`](FakeGateway::set_down) (503s),
//! [`set_status`](FakeGateway::set_status) (any status; 429 comes with `Retry-After: 1`),
//! [`set_link_error`](FakeGateway::set_link_error) (a LINK 106xxx answer) and
//! [`set_delay`](FakeGateway::set_delay) (slow answers, to provoke client timeouts; the send
//! is still recorded, like a gateway that accepted it after we gave up) and
//! [`set_answer_delay`](FakeGateway::set_answer_delay) (the send is recorded at once and the
//! answer held back, so a delivery report can overtake it).
//!
//! The free functions build what gateways post to us (MO and DLR bodies) for webhook tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, Server, handler, post};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::{check_basic, check_bearer};
use super::http::HttpSendRequest;
use super::link::{LinkSendRequest, codes};
use super::settings::{HttpGatewaySettings, LinkSettings, SmsProvider, SmsSettings};
use super::status::DeliveryStatus;
use crate::domain::msisdn::Msisdn;

/// The bearer token the fake's generic endpoint requires.
pub const FAKE_TOKEN: &str = "fake-gateway-token";
/// The HTTP Basic credentials the fake's LINK endpoint requires.
pub const FAKE_LINK_USER: &str = "fake-link-user";
pub const FAKE_LINK_PASSWORD: &str = "fake-link-password";
/// The account ids the fake's LINK endpoint requires.
pub const FAKE_PLATFORM_ID: &str = "FAKE-PLATFORM";
pub const FAKE_PLATFORM_PARTNER_ID: &str = "4242";
/// The DLR gate in [`FakeGateway::link_settings`].
pub const FAKE_DLR_GATE: &str = "fake-dlr-gate";

/// Which protocol a send came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FakeProtocol {
    Http,
    Link,
}

/// One accepted send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FakeSent {
    pub protocol: FakeProtocol,
    /// The id the fake answered with.
    pub gateway_message_id: String,
    /// Our id: generic `message_id`, LINK `refId`.
    pub message_id: String,
    /// Generic `from`, LINK `source`.
    pub from: String,
    /// Generic `to`, LINK `destination`.
    pub to: String,
    /// Generic `text`, LINK `userData`.
    pub text: String,
    /// Generic `reply_to`, LINK `moReferenceId`.
    pub reply_to: Option<String>,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<String>,
    /// The request body as received.
    pub body: Value,
}

#[derive(Debug, Default)]
struct State {
    sent: Vec<FakeSent>,
    /// Generic protocol: our message_id → gateway id.
    by_message_id: HashMap<String, String>,
    requests: u64,
    down: u32,
    status: Option<(u16, u32)>,
    link_error: Option<(u16, i64, u32)>,
    delay_ms: u64,
    answer_delay_ms: u64,
    next_id: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panicking test thread must not take the fake down for the others.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fake gateway. Clones share the server and its state.
#[derive(Debug, Clone)]
pub struct FakeGateway {
    state: Shared,
    addr: SocketAddr,
}

impl FakeGateway {
    /// Starts a fake on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// When no local port can be bound (a broken test environment).
    pub async fn spawn() -> Self {
        match Self::try_spawn("127.0.0.1:0").await {
            Ok(fake) => fake,
            Err(e) => panic!("fake SMS gateway could not bind 127.0.0.1:0: {e}"),
        }
    }

    /// Starts a fake on `addr` (port 0 allowed); serves until the runtime stops.
    pub async fn try_spawn(addr: &str) -> std::io::Result<Self> {
        let acceptor = TcpListener::bind(addr.to_owned()).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| std::io::Error::other("no local address"))?;
        let state = Shared::default();
        let app = Route::new()
            .at("/send", post(generic_send))
            .at("/sms/send", post(link_send))
            .data(state.clone());
        tokio::spawn(async move {
            if let Err(e) = Server::new_with_acceptor(acceptor).run(app).await {
                tracing::error!(error = %e, "fake SMS gateway stopped");
            }
        });
        Ok(Self { state, addr })
    }

    /// `http://127.0.0.1:<port>`: LINK's `base_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The generic protocol's endpoint (`sms.http.url`).
    pub fn http_url(&self) -> String {
        format!("{}/send", self.url())
    }

    /// `[sms]` for the `http` provider pointed at this fake.
    pub fn http_settings(&self) -> SmsSettings {
        SmsSettings {
            provider: SmsProvider::Http,
            http: HttpGatewaySettings {
                url: self.http_url(),
                token: SecretString::from(FAKE_TOKEN),
                timeout_ms: 5_000,
            },
            ..SmsSettings::default()
        }
    }

    /// `[sms]` for the `link` provider pointed at this fake.
    pub fn link_settings(&self) -> SmsSettings {
        SmsSettings {
            provider: SmsProvider::Link,
            link: LinkSettings {
                base_url: self.url(),
                username: FAKE_LINK_USER.to_owned(),
                password: SecretString::from(FAKE_LINK_PASSWORD),
                platform_id: FAKE_PLATFORM_ID.to_owned(),
                platform_partner_id: FAKE_PLATFORM_PARTNER_ID.to_owned(),
                dlr_gate_id: FAKE_DLR_GATE.to_owned(),
                timeout_ms: 5_000,
                ..LinkSettings::default()
            },
            ..SmsSettings::default()
        }
    }

    /// Every accepted send, in order (a deduplicated repeat is not recorded again).
    pub fn sent(&self) -> Vec<FakeSent> {
        lock(&self.state).sent.clone()
    }

    /// Requests received on either endpoint, whatever their answer.
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }

    /// The next `n` requests answer 503.
    pub fn set_down(&self, n: u32) {
        lock(&self.state).down = n;
    }

    /// The next `n` requests answer `code` (429 with `Retry-After: 1`).
    pub fn set_status(&self, code: u16, n: u32) {
        lock(&self.state).status = Some((code, n));
    }

    /// The next `n` LINK requests answer `http_status` with `{"resultCode": code}`.
    pub fn set_link_error(&self, http_status: u16, code: i64, n: u32) {
        lock(&self.state).link_error = Some((http_status, code, n));
    }

    /// Every request waits `ms` before being handled.
    pub fn set_delay(&self, ms: u64) {
        lock(&self.state).delay_ms = ms;
    }

    /// Accepted sends are recorded at once (visible in [`sent`](Self::sent)) but answered
    /// `ms` later: a gateway whose delivery report can arrive before its answer.
    pub fn set_answer_delay(&self, ms: u64) {
        lock(&self.state).answer_delay_ms = ms;
    }

    /// Clears all faults (recorded sends stay).
    pub fn clear_faults(&self) {
        let mut s = lock(&self.state);
        s.down = 0;
        s.status = None;
        s.link_error = None;
        s.delay_ms = 0;
        s.answer_delay_ms = 0;
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(body.to_string())
}

/// Counts the request, waits the configured delay, and answers an injected fault if one is due.
async fn fault(state: &Shared, protocol: FakeProtocol) -> Option<Response> {
    let delay = {
        let mut s = lock(state);
        s.requests += 1;
        s.delay_ms
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let mut s = lock(state);
    if s.down > 0 {
        s.down -= 1;
        return Some(json_response(503, json!({"error": "service unavailable"})));
    }
    if let Some((code, n)) = s.status {
        s.status = (n > 1).then_some((code, n - 1));
        let mut r = json_response(code, json!({"error": "injected"}));
        if code == 429 {
            r.headers_mut().insert(
                poem::http::header::RETRY_AFTER,
                poem::http::HeaderValue::from_static("1"),
            );
        }
        return Some(r);
    }
    if protocol == FakeProtocol::Link
        && let Some((status, code, n)) = s.link_error
    {
        s.link_error = (n > 1).then_some((status, code, n - 1));
        return Some(json_response(
            status,
            json!({"resultCode": code, "description": codes::describe(code)}),
        ));
    }
    None
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn authorization(req: &Request) -> Option<&str> {
    req.headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

#[handler]
async fn generic_send(req: &Request, body: Vec<u8>, state: Data<&Shared>) -> Response {
    let state = *state;
    if let Some(r) = fault(state, FakeProtocol::Http).await {
        return r;
    }
    if !check_bearer(authorization(req), &SecretString::from(FAKE_TOKEN)) {
        return json_response(401, json!({"error": "unauthorized"}));
    }
    let raw: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return json_response(400, json!({"error": format!("invalid JSON: {e}")})),
    };
    let request: HttpSendRequest = match serde_json::from_value(raw.clone()) {
        Ok(r) => r,
        Err(e) => return json_response(400, json!({"error": format!("invalid body: {e}")})),
    };
    if Msisdn::parse(&request.to).is_err() || request.message_id.trim().is_empty() {
        return json_response(400, json!({"error": "invalid to or message_id"}));
    }
    let (id, answer_delay) = record_generic(state, req, raw, request);
    answer_later(answer_delay).await;
    json_response(200, json!({"id": id, "status": "queued"}))
}

/// Records a generic send (once per our message_id); returns the gateway id and answer delay.
fn record_generic(
    state: &Shared,
    req: &Request,
    raw: Value,
    request: HttpSendRequest,
) -> (String, u64) {
    let mut s = lock(state);
    if let Some(id) = s.by_message_id.get(&request.message_id) {
        return (id.clone(), s.answer_delay_ms);
    }
    s.next_id += 1;
    let id = format!("gw-{}", s.next_id);
    s.by_message_id
        .insert(request.message_id.clone(), id.clone());
    s.sent.push(FakeSent {
        protocol: FakeProtocol::Http,
        gateway_message_id: id.clone(),
        message_id: request.message_id,
        from: request.from,
        to: request.to,
        text: request.text,
        reply_to: request.reply_to,
        idempotency_key: header(req, "idempotency-key"),
        body: raw,
    });
    (id, s.answer_delay_ms)
}

/// Holds an answer back ([`FakeGateway::set_answer_delay`]).
async fn answer_later(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[handler]
async fn link_send(req: &Request, body: Vec<u8>, state: Data<&Shared>) -> Response {
    let state = *state;
    let link_error = |status: u16, code: i64| {
        json_response(
            status,
            json!({"resultCode": code, "description": codes::describe(code)}),
        )
    };
    if let Some(r) = fault(state, FakeProtocol::Link).await {
        return r;
    }
    if !check_basic(
        authorization(req),
        FAKE_LINK_USER,
        &SecretString::from(FAKE_LINK_PASSWORD),
    ) {
        return link_error(401, codes::BAD_PASSWORD);
    }
    let raw: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return link_error(400, codes::INVALID_REQUEST),
    };
    let request: LinkSendRequest = match serde_json::from_value(raw.clone()) {
        Ok(r) => r,
        Err(_) => return link_error(400, codes::INVALID_REQUEST),
    };
    if request.platform_id != FAKE_PLATFORM_ID {
        return link_error(400, codes::BAD_PLATFORM_ID);
    }
    if request.platform_partner_id != FAKE_PLATFORM_PARTNER_ID {
        return link_error(400, codes::BAD_PLATFORM_PARTNER_ID);
    }
    if !request.destination.starts_with('+') || Msisdn::parse(&request.destination).is_err() {
        return link_error(400, codes::INVALID_REQUEST);
    }
    let (id, answer_delay) = {
        let mut s = lock(state);
        s.next_id += 1;
        let id = format!("link-{}", s.next_id);
        s.sent.push(FakeSent {
            protocol: FakeProtocol::Link,
            gateway_message_id: id.clone(),
            message_id: request.ref_id,
            from: request.source,
            to: request.destination,
            text: request.user_data,
            reply_to: request.mo_reference_id,
            idempotency_key: header(req, "idempotency-key"),
            body: raw,
        });
        (id, s.answer_delay_ms)
    };
    answer_later(answer_delay).await;
    json_response(
        200,
        json!({"messageId": id, "resultCode": codes::QUEUED, "description": "Queued"}),
    )
}

/// A generic inbound post (`/webhooks/sms/inbound`).
pub fn generic_inbound_body(message_id: &str, from: &str, to: &str, text: &str) -> Value {
    json!({"message_id": message_id, "from": from, "to": to, "text": text,
           "received_at": chrono::Utc::now().to_rfc3339()})
}

/// A generic delivery report (`/webhooks/sms/status`) for a gateway id.
pub fn generic_status_body(gateway_message_id: &str, status: DeliveryStatus) -> Value {
    json!({"message_id": gateway_message_id, "status": status.as_str(),
           "at": chrono::Utc::now().to_rfc3339()})
}

/// A LINK MO post: `to` is the short number (sent as `NO-<to>`), routed by `keyword`.
pub fn link_mo_body(message_id: &str, from: &str, to: &str, text: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    let keyword = text.split_whitespace().next().unwrap_or("").to_uppercase();
    json!({
        "destination": format!("NO-{to}"),
        "source": from,
        "content": {"type": "SMS", "userData": text, "encoding": "TEXT"},
        "operator": "no.telenor",
        "timestamp": now,
        "messageId": message_id,
        "operatorTimestamp": now,
        "operatorMessageId": format!("op-{message_id}"),
        "route": {"type": "KEYWORD_ROUTE", "id": "fake-route", "refId": "", "keyword": keyword,
                  "keywordType": "FIRST_WORD", "number": format!("NO-{to}"), "shared": false},
        "customParameters": {}
    })
}

/// A LINK DLR for part `part` (`None`: no `$n` suffix) of the message with LINK id
/// `message_id`, with `result_code` (see [`codes`]) and our `ref_id`.
pub fn link_dlr_body(
    message_id: &str,
    part: Option<u32>,
    result_code: i64,
    ref_id: &str,
    segments: u32,
) -> Value {
    let id = match part {
        Some(p) => format!("{message_id}${p}"),
        None => message_id.to_owned(),
    };
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "refId": ref_id, "id": id, "operator": "no.telenor", "sentTimestamp": now,
        "timestamp": now, "resultCode": result_code, "operatorResultCode": "0",
        "segments": segments,
    })
}

/// The DLR a gateway would post for a recorded send (LINK format for LINK sends, one per part
/// `0..segments`; generic format otherwise, one for the whole message).
pub fn dlr_bodies_for(sent: &FakeSent, status: DeliveryStatus) -> Vec<Value> {
    match sent.protocol {
        FakeProtocol::Http => vec![generic_status_body(&sent.gateway_message_id, status)],
        FakeProtocol::Link => {
            let code = match status {
                DeliveryStatus::Queued => codes::QUEUED,
                DeliveryStatus::Sent => codes::SENT,
                DeliveryStatus::Delivered => codes::DELIVERED,
                DeliveryStatus::Expired => codes::EXPIRED,
                DeliveryStatus::Failed => codes::NOT_DELIVERED,
            };
            let segments =
                u32::try_from(crate::domain::sms_text::analyze(&sent.text).segments.max(1))
                    .unwrap_or(1);
            (0..segments)
                .map(|p| {
                    link_dlr_body(
                        &sent.gateway_message_id,
                        Some(p),
                        code,
                        &sent.message_id,
                        segments,
                    )
                })
                .collect()
        }
    }
}
