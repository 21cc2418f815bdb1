//! The Vipps paths: `/accesstoken/get`, `/recurring/v3/...` and `/webhooks/v1/webhooks`,
//! answering with the same statuses and bodies as Vipps.

use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::Simulator;
use super::engine::{self, ApiError};
use super::http::{Caller, Reply, authenticate, idempotency_key, idempotent, parse_body};
use super::model::{State, WebhookRegistration};
use crate::vipps::validate;
use crate::vipps::wire::{
    AccessTokenWire, AgreementPatch, AgreementStatus, BatchChargeItem, CaptureRequest,
    ChargeResponse, ChargeStatus, CreateChargeRequest, DraftAgreementRequest, ForceAcceptRequest,
    ProblemKind, RefundRequest, RegisterWebhookRequest, RegisterWebhookResponse, Webhook,
    WebhookList,
};

/// Maximum registrations per event type and merchant.
const WEBHOOKS_PER_EVENT: usize = 25;

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// `POST /accesstoken/get`.
#[handler]
pub fn access_token(req: &Request, Data(sim): Data<&Simulator>) -> Response {
    let Some(sub_key) = header(req, "Ocp-Apim-Subscription-Key") else {
        return Reply::gateway(
            401,
            "Unauthorized",
            "Access denied due to missing subscription key.",
        )
        .into_response();
    };
    let (Some(id), Some(secret)) = (header(req, "client_id"), header(req, "client_secret")) else {
        return Reply::gateway(
            400,
            "Bad Request",
            "client_id and client_secret headers are required.",
        )
        .into_response();
    };
    if let Some(c) = &sim.config().credentials
        && (c.client_id != id || c.client_secret != secret || c.subscription_key != sub_key)
    {
        return Reply::gateway(401, "Unauthorized", "Invalid client credentials.").into_response();
    }
    let lifetime = sim.config().token_lifetime_secs;
    let token = format!("sim.{}", engine::random_id(48));
    let t = token.clone();
    let now = sim.mutate(move |state, _| {
        let now = state.now;
        state.tokens.retain(|_, exp| *exp > now);
        state
            .tokens
            .insert(t, now + chrono::Duration::seconds(lifetime as i64));
        now
    });
    let body = AccessTokenWire {
        token_type: "Bearer".into(),
        expires_in: lifetime.to_string(),
        ext_expires_in: "0".into(),
        expires_on: (now.timestamp() + lifetime as i64).to_string(),
        not_before: now.timestamp().to_string(),
        resource: "00000002-0000-0000-c000-000000000000".into(),
        access_token: token,
    };
    Reply::json(200, &body).into_response()
}

/// Authenticates, then runs `f` (read-only requests).
fn read(sim: &Simulator, req: &Request, f: impl FnOnce(&State, &Caller) -> Reply) -> Response {
    read_charges(sim, req, None, f)
}

/// [`read`] of charges: `(agreement, charge)` (either may be `None`: all of the agreement's,
/// or the agreement looked up) counts as a read for the refunds and cancels accepted on them.
fn read_charges(
    sim: &Simulator,
    req: &Request,
    charges: Option<(Option<&str>, Option<&str>)>,
    f: impl FnOnce(&State, &Caller) -> Reply,
) -> Response {
    match authenticate(sim, req) {
        Ok(caller) => {
            if let Some((aid, cid)) = charges {
                sim.count_read(&caller.msn, aid, cid);
            }
            sim.read(|state| f(state, &caller)).into_response()
        }
        Err(r) => r.into_response(),
    }
}

/// Authenticates, requires an idempotency key, then runs `f` once per key.
fn write(
    sim: &Simulator,
    req: &Request,
    body: &[u8],
    f: impl FnOnce(&mut State, &engine::Rules, &Caller, &str) -> Reply,
) -> Response {
    write_with(sim, req, body, true, f)
}

/// [`write`], optionally without honouring the key (every call does the work).
fn write_with(
    sim: &Simulator,
    req: &Request,
    body: &[u8],
    honour_key: bool,
    f: impl FnOnce(&mut State, &engine::Rules, &Caller, &str) -> Reply,
) -> Response {
    let caller = match authenticate(sim, req) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let key = match idempotency_key(req) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    if !honour_key {
        return sim
            .mutate(|state, rules| f(state, rules, &caller, key.as_str()))
            .into_response();
    }
    idempotent(sim, &caller, req, &key, body, |state, rules| {
        f(state, rules, &caller, key.as_str())
    })
    .into_response()
}

fn done(r: Result<(), ApiError>) -> Reply {
    applied(r.map(|()| false))
}

/// 204 when applied, 202 when accepted to be applied later.
fn applied(r: Result<bool, ApiError>) -> Reply {
    match r {
        Ok(false) => Reply::empty(204),
        Ok(true) => Reply::empty(202),
        Err(e) => Reply::problem(&e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgreementQuery {
    status: Option<String>,
    created_after: Option<i64>,
}

/// `GET /recurring/v3/agreements`.
#[handler]
pub fn list_agreements(req: &Request, Data(sim): Data<&Simulator>) -> Response {
    let q: AgreementQuery = match req.params() {
        Ok(q) => q,
        Err(e) => {
            return Reply::problem(&ApiError::bad(ProblemKind::ValidationError, e.to_string()))
                .into_response();
        }
    };
    let status = AgreementStatus::from(q.status.as_deref().unwrap_or("ACTIVE"));
    read(sim, req, |state, caller| {
        let list: Vec<_> = state
            .agreements
            .values()
            .filter(|a| a.msn == caller.msn && a.status == status)
            .filter(|a| {
                q.created_after
                    .is_none_or(|t| a.created.timestamp_millis() > t)
            })
            .map(|a| a.to_wire())
            .collect();
        Reply::json(200, &list)
    })
}

/// `POST /recurring/v3/agreements`. With `draft_idempotency = false` the key is ignored, as
/// the WooCommerce plugin reports of real Vipps: every call drafts a new agreement.
#[handler]
pub fn draft_agreement(req: &Request, body: Vec<u8>, Data(sim): Data<&Simulator>) -> Response {
    let honour = sim.config().draft_idempotency;
    write_with(sim, req, &body, honour, |state, rules, caller, key| {
        let r = parse_body::<DraftAgreementRequest>(req.headers(), &body)
            .and_then(|d| engine::draft(state, rules, &caller.msn, d, key));
        Reply::from_result(201, r)
    })
}

/// `GET /recurring/v3/agreements/{id}`.
#[handler]
pub fn fetch_agreement(
    req: &Request,
    Path(id): Path<String>,
    Data(sim): Data<&Simulator>,
) -> Response {
    read(sim, req, |state, caller| {
        match state.agreements.get(&id).filter(|a| a.msn == caller.msn) {
            Some(a) => Reply::json(200, &a.to_wire()),
            None => Reply::problem(&ApiError::not_found("Agreement")),
        }
    })
}

/// `PATCH /recurring/v3/agreements/{id}`.
#[handler]
pub fn update_agreement(
    req: &Request,
    Path(id): Path<String>,
    body: Vec<u8>,
    Data(sim): Data<&Simulator>,
) -> Response {
    write(sim, req, &body, |state, _, caller, _| {
        done(
            parse_body::<AgreementPatch>(req.headers(), &body)
                .and_then(|p| engine::patch(state, &caller.msn, &id, p)),
        )
    })
}

/// `PATCH /recurring/v3/agreements/{id}/accept` (test environment helper).
#[handler]
pub fn force_accept(
    req: &Request,
    Path(id): Path<String>,
    body: Vec<u8>,
    Data(sim): Data<&Simulator>,
) -> Response {
    write(sim, req, &body, |state, _, caller, _| {
        done(
            parse_body::<ForceAcceptRequest>(req.headers(), &body).and_then(|f| {
                engine::approve(state, Some(&caller.msn), &id, Some(f.phone_number.0)).map(|_| ())
            }),
        )
    })
}

/// `POST /recurring/v3/agreements/{id}/charges`.
#[handler]
pub fn create_charge(
    req: &Request,
    Path(id): Path<String>,
    body: Vec<u8>,
    Data(sim): Data<&Simulator>,
) -> Response {
    write(sim, req, &body, |state, rules, caller, key| {
        let r = parse_body::<CreateChargeRequest>(req.headers(), &body)
            .and_then(|c| engine::create_charge(state, rules, &caller.msn, &id, c, key));
        Reply::from_result(201, r)
    })
}

/// `POST /recurring/v3/agreements/charges` (batch).
#[handler]
pub fn create_charges_batch(req: &Request, body: Vec<u8>, Data(sim): Data<&Simulator>) -> Response {
    write(sim, req, &body, |state, rules, caller, key| {
        let r = parse_body::<Vec<BatchChargeItem>>(req.headers(), &body)
            .and_then(|items| engine::create_batch(state, rules, &caller.msn, items, key));
        Reply::from_result(202, r)
    })
}

#[derive(Deserialize)]
struct ChargeQuery {
    status: Option<String>,
}

/// `GET /recurring/v3/agreements/{id}/charges`.
#[handler]
pub fn list_charges(
    req: &Request,
    Path(id): Path<String>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let status = req
        .params::<ChargeQuery>()
        .ok()
        .and_then(|q| q.status)
        .map(|s| ChargeStatus::from(s.as_str()));
    read_charges(
        sim,
        req,
        Some((Some(&id), None)),
        |state, caller| match state.agreements.get(&id).filter(|a| a.msn == caller.msn) {
            Some(a) => {
                let list: Vec<ChargeResponse> = a
                    .charges
                    .iter()
                    .filter(|c| status.as_ref().is_none_or(|s| c.status == *s))
                    .map(|c| c.to_wire(a.draft.external_id.as_deref()))
                    .collect();
                Reply::json(200, &list)
            }
            None => Reply::problem(&ApiError::not_found("Agreement")),
        },
    )
}

/// `GET /recurring/v3/agreements/{id}/charges/{chargeId}`.
#[handler]
pub fn fetch_charge(
    req: &Request,
    Path((aid, cid)): Path<(String, String)>,
    Data(sim): Data<&Simulator>,
) -> Response {
    read_charges(
        sim,
        req,
        Some((Some(&aid), Some(&cid))),
        |state, caller| match engine::charge(state, &caller.msn, &aid, &cid) {
            Ok((a, c)) => Reply::json(200, &c.to_wire(a.draft.external_id.as_deref())),
            Err(e) => Reply::problem(&e),
        },
    )
}

/// `GET /recurring/v3/charges/{chargeId}`.
#[handler]
pub fn fetch_charge_by_id(
    req: &Request,
    Path(cid): Path<String>,
    Data(sim): Data<&Simulator>,
) -> Response {
    read_charges(sim, req, Some((None, Some(&cid))), |state, caller| {
        let aid = state
            .charge_index
            .get(&State::charge_key(&caller.msn, &cid))
            .cloned()
            .unwrap_or_default();
        match engine::charge(state, &caller.msn, &aid, &cid) {
            Ok((a, c)) => Reply::json(200, &c.to_wire(a.draft.external_id.as_deref())),
            Err(_) => Reply::problem(&ApiError::not_found("Charge")),
        }
    })
}

/// `DELETE .../charges/{chargeId}`.
#[handler]
pub fn cancel_charge(
    req: &Request,
    Path((aid, cid)): Path<(String, String)>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let path = req.uri().path().to_owned();
    write(sim, req, &[], |state, _, caller, key| {
        let later = || sim.take_accept_later(&path);
        applied(engine::cancel(state, &caller.msn, &aid, &cid, key, later))
    })
}

/// `POST .../charges/{chargeId}/capture`.
#[handler]
pub fn capture_charge(
    req: &Request,
    Path((aid, cid)): Path<(String, String)>,
    body: Vec<u8>,
    Data(sim): Data<&Simulator>,
) -> Response {
    write(sim, req, &body, |state, _, caller, key| {
        done(
            parse_body::<CaptureRequest>(req.headers(), &body)
                .and_then(|c| engine::capture(state, &caller.msn, &aid, &cid, c, key)),
        )
    })
}

/// `POST .../charges/{chargeId}/refund`.
#[handler]
pub fn refund_charge(
    req: &Request,
    Path((aid, cid)): Path<(String, String)>,
    body: Vec<u8>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let path = req.uri().path().to_owned();
    write(sim, req, &body, |state, _, caller, key| {
        let later = || sim.take_accept_later(&path);
        applied(
            parse_body::<RefundRequest>(req.headers(), &body)
                .and_then(|r| engine::refund(state, &caller.msn, &aid, &cid, r, key, later)),
        )
    })
}

// ---- Webhooks API -------------------------------------------------------------------------

/// `GET /webhooks/v1/webhooks`.
#[handler]
pub fn list_webhooks(req: &Request, Data(sim): Data<&Simulator>) -> Response {
    read(sim, req, |state, caller| {
        let webhooks = state
            .webhooks
            .iter()
            .filter(|w| w.msn == caller.msn)
            .map(|w| Webhook {
                id: w.id.clone(),
                url: w.url.clone(),
                events: w.events.clone(),
            })
            .collect();
        Reply::json(200, &WebhookList { webhooks })
    })
}

/// `POST /webhooks/v1/webhooks`.
#[handler]
pub fn register_webhook(req: &Request, body: Vec<u8>, Data(sim): Data<&Simulator>) -> Response {
    let caller = match authenticate(sim, req) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let parsed = parse_body::<RegisterWebhookRequest>(req.headers(), &body).and_then(|r| {
        validate::register_webhook(&r)
            .map(|()| r)
            .map_err(|e| ApiError::validation(&e))
    });
    let r = match parsed {
        Ok(r) => r,
        Err(e) => return Reply::problem(&e).into_response(),
    };
    sim.mutate(|state, _| {
        for e in &r.events {
            let n = state
                .webhooks
                .iter()
                .filter(|w| w.msn == caller.msn && w.events.contains(e))
                .count();
            if n >= WEBHOOKS_PER_EVENT {
                return Reply::problem(&ApiError::bad(
                    ProblemKind::ValidationError,
                    format!("at most {WEBHOOKS_PER_EVENT} webhooks per event ({e})"),
                ));
            }
        }
        let reg = WebhookRegistration {
            id: uuid::Uuid::new_v4().to_string(),
            msn: caller.msn.clone(),
            url: r.url.clone(),
            events: r.events.clone(),
            secret: engine::random_id(64),
        };
        let resp = RegisterWebhookResponse {
            id: reg.id.clone(),
            secret: reg.secret.clone(),
        };
        state.webhooks.push(reg);
        Reply::json(201, &resp)
    })
    .into_response()
}

/// `DELETE /webhooks/v1/webhooks/{id}`.
#[handler]
pub fn delete_webhook(
    req: &Request,
    Path(id): Path<String>,
    Data(sim): Data<&Simulator>,
) -> Response {
    let caller = match authenticate(sim, req) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    sim.mutate(|state, _| {
        let before = state.webhooks.len();
        state
            .webhooks
            .retain(|w| !(w.id == id && w.msn == caller.msn));
        if state.webhooks.len() == before {
            return Reply::problem(&ApiError::not_found("Webhook"));
        }
        state.outbox.retain(|d| d.webhook_id != id);
        Reply::empty(204)
    })
    .into_response()
}
