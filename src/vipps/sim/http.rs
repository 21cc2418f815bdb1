//! HTTP plumbing shared by the simulator's handlers: the stored reply shape, problem and
//! gateway error bodies, JSON body parsing with Vipps' error types, authentication, and
//! idempotent execution.

use poem::http::{HeaderMap, StatusCode};
use poem::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Simulator;
use super::engine::{ApiError, Rules};
use super::model::{IdempotencyRecord, State};
use crate::vipps::idempotency::IdempotencyKey;
use crate::vipps::validate;
use crate::vipps::wire::{AzureError, ProblemKind};

/// A response as stored against an idempotency key.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub retry_after: Option<u64>,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        Self {
            status,
            content_type: "application/json;charset=UTF-8".into(),
            body: serde_json::to_string(value).unwrap_or_default(),
            retry_after: None,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: String::new(),
            body: String::new(),
            retry_after: None,
        }
    }

    pub fn problem(e: &ApiError) -> Self {
        Self {
            status: e.status,
            content_type: "application/problem+json".into(),
            body: serde_json::to_string(&e.problem).unwrap_or_default(),
            retry_after: None,
        }
    }

    /// The API gateway's own error shape (401, 403, 429).
    pub fn gateway(status: u16, message: &str, detail: &str) -> Self {
        Self::json(status, &AzureError::new(status, message, detail))
    }

    pub fn from_result<T: Serialize>(status: u16, r: Result<T, ApiError>) -> Self {
        match r {
            Ok(v) => Self::json(status, &v),
            Err(e) => Self::problem(&e),
        }
    }

    pub fn into_response(self) -> Response {
        let mut b = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if !self.content_type.is_empty() {
            b = b.content_type(self.content_type);
        }
        if let Some(s) = self.retry_after {
            b = b.header("Retry-After", s.to_string());
        }
        b.body(self.body)
    }
}

/// Who is calling.
pub struct Caller {
    pub msn: String,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Checks the subscription key, the bearer token (against the simulator clock) and the
/// merchant serial number.
pub fn authenticate(sim: &Simulator, req: &Request) -> Result<Caller, Reply> {
    let h = req.headers();
    if header(h, "Ocp-Apim-Subscription-Key").is_none() {
        return Err(Reply::gateway(
            401,
            "Unauthorized",
            "Access denied due to missing subscription key.",
        ));
    }
    let Some(token) = header(h, "Authorization").and_then(|a| a.strip_prefix("Bearer ")) else {
        return Err(Reply::gateway(
            401,
            "Unauthorized",
            "Authorization: Bearer <token> is required.",
        ));
    };
    if !sim.token_valid(token.trim()) {
        return Err(Reply::gateway(
            401,
            "Unauthorized",
            "The access token is invalid or expired.",
        ));
    }
    let Some(msn) = header(h, "Merchant-Serial-Number") else {
        return Err(Reply::problem(&ApiError::bad(
            ProblemKind::MissingRequestHeader,
            "Merchant-Serial-Number header is required",
        )));
    };
    if let Err(e) = validate::msn(msn) {
        return Err(Reply::problem(&ApiError::validation(&e)));
    }
    Ok(Caller {
        msn: msn.to_owned(),
    })
}

/// The `Idempotency-Key` header, validated.
pub fn idempotency_key(req: &Request) -> Result<IdempotencyKey, Reply> {
    let missing = || {
        Reply::problem(&ApiError::bad(
            ProblemKind::IdempotencyKeyHeader,
            "Idempotency-Key header is missing or invalid (1–40 characters, none of # ? / \\)",
        ))
    };
    let v = header(req.headers(), "Idempotency-Key").ok_or_else(missing)?;
    IdempotencyKey::new(v).map_err(|_| missing())
}

/// Parses a JSON body the way Vipps rejects bad ones: 415, `invalid-json`, then
/// `validation-error` naming the field serde complained about.
pub fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let ct = header(headers, "Content-Type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::new(
            415,
            ProblemKind::UnsupportedMediaType,
            "Content-Type must be application/json",
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(ProblemKind::InvalidJson, format!("invalid JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| {
        let msg = e.to_string();
        let field = msg.split('`').nth(1).unwrap_or("body").to_owned();
        ApiError::validation(&validate::ValidationErrors(vec![validate::FieldError {
            field,
            reason: msg,
        }]))
    })
}

/// Canonical form of a request body for idempotency comparison (key order ignored).
fn canonical(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => v.to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// Runs `work` once per (merchant, method, path, key): the same key with the same body
/// replays the stored reply (4xx included); with another body it is a 409. 5xx replies are
/// not stored, so a retry re-attempts.
pub fn idempotent(
    sim: &Simulator,
    caller: &Caller,
    req: &Request,
    key: &IdempotencyKey,
    body: &[u8],
    work: impl FnOnce(&mut State, &Rules) -> Reply,
) -> Reply {
    let record_key = format!(
        "{}|{} {}|{}",
        caller.msn,
        req.method(),
        req.uri().path(),
        key
    );
    let request = canonical(body);
    sim.mutate(|state, rules| {
        if let Some(rec) = state.idempotency.get(&record_key) {
            if rec.request == request {
                return Reply {
                    status: rec.status,
                    content_type: rec.content_type.clone(),
                    body: rec.body.clone(),
                    retry_after: None,
                };
            }
            return Reply::problem(&ApiError::new(
                409,
                ProblemKind::IdempotencyConflict,
                "the Idempotency-Key was already used with a different request",
            ));
        }
        let reply = work(state, rules);
        if reply.status < 500 {
            state.idempotency.insert(
                record_key,
                IdempotencyRecord {
                    request,
                    status: reply.status,
                    content_type: reply.content_type.clone(),
                    body: reply.body.clone(),
                },
            );
        }
        reply
    })
}
