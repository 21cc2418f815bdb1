//! What happens to every Vipps-API request before it reaches a handler: it is recorded for
//! `GET /_sim/requests`, then injected faults (latency, dropped connections, error statuses)
//! and the optional documented rate limits are applied.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Simulator;
use super::engine::ApiError;
use super::http::Reply;
use crate::vipps::operation::Operation;
use crate::vipps::wire::ProblemKind;

/// One received request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The operation, when the path is a known Vipps path.
    pub operation: Option<String>,
    /// Lower-case names; `client_secret` is masked.
    pub headers: BTreeMap<String, String>,
    /// Parsed JSON, or the text, or null when empty.
    pub body: serde_json::Value,
}

/// Injected faults (`POST /_sim/faults`). Fields merge; `DELETE /_sim/faults` clears.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Answer this status instead of handling the request…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// …for this many requests (absent: until cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Fraction (0–1) of requests answered with `error_status` (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// The status `error_rate` answers with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_status: Option<u16>,
    /// `Retry-After` (seconds) on injected 429s (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Bursts of 429 (with `Retry-After`): every `burst_every_ms` of wall-clock time, the
    /// requests of the first `burst_ms` are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_every_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_ms: Option<u64>,
    /// Delay before handling every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Apply the documented per-endpoint rate limits (429 + Retry-After).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<bool>,
    /// Close the connection without answering, for this many requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_connection: Option<u32>,
    /// Fraction (0–1) of requests whose connection is closed without handling them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_rate: Option<f64>,
    /// Fraction (0–1) of requests that are handled (the change happens) but whose connection
    /// is then closed without the answer: the caller cannot know whether it took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_reply_rate: Option<f64>,
    /// Answer this many refunds and cancels 202 Accepted (those the rules allow; a refused
    /// one answers its error as usual) and apply them later (see [`super::accepted`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_later: Option<u32>,
    /// The read of its charge at which an accepted change shows (default 2: the first read
    /// after the 202 still sees it not applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_reads: Option<u32>,
    /// Only requests whose path starts with this are affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Faults {
    /// Overlays the fields set in `other`.
    pub fn merge(&mut self, other: Faults) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            status,
            count,
            error_rate,
            error_status,
            retry_after_secs,
            burst_every_ms,
            burst_ms,
            latency_ms,
            rate_limit,
            drop_connection,
            drop_rate,
            lost_reply_rate,
            accept_later,
            accepted_reads,
            path
        );
    }

    /// Whether a refund or cancel on `path` is answered 202 and applied later: the reads it
    /// waits for, using up one of [`accept_later`](Self::accept_later).
    pub fn take_accept_later(&mut self, path: &str) -> Option<u32> {
        if !self.path.as_deref().is_none_or(|p| path.starts_with(p)) {
            return None;
        }
        let n = self.accept_later.filter(|n| *n > 0)?;
        self.accept_later = Some(n - 1);
        Some(
            self.accepted_reads
                .unwrap_or(super::accepted::DEFAULT_READS),
        )
    }
}

/// What to do with one request.
enum Verdict {
    Pass,
    /// Handle the request, then close the connection without the answer.
    PassAndDrop,
    Drop,
    Answer(Reply),
}

/// Maps a Vipps path to its operation and the ids its rate limit is counted by.
pub fn classify(method: &Method, path: &str) -> Option<(Operation, String, String)> {
    use Operation as O;
    if path == "/accesstoken/get" {
        return Some((O::AccessToken, String::new(), String::new()));
    }
    if let Some(rest) = path.strip_prefix("/webhooks/v1/webhooks") {
        let op = match (method.as_str(), rest.is_empty()) {
            ("POST", true) => O::RegisterWebhook,
            ("DELETE", false) => O::DeleteWebhook,
            _ => O::ListWebhooks,
        };
        return Some((op, String::new(), String::new()));
    }
    let segs: Vec<&str> = path.strip_prefix("/recurring/v3/")?.split('/').collect();
    let m = method.as_str();
    let s = |i: usize| segs.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
    let op = match (segs.as_slice(), m) {
        (["agreements"], "GET") => O::ListAgreements,
        (["agreements"], _) => O::DraftAgreement,
        (["agreements", "charges"], _) => O::CreateChargesBatch,
        (["agreements", _], "GET") => O::FetchAgreement,
        (["agreements", _], _) => O::UpdateAgreement,
        (["agreements", _, "accept"], _) => O::ForceAcceptAgreement,
        (["agreements", _, "charges"], "GET") => O::ListCharges,
        (["agreements", _, "charges"], _) => O::CreateCharge,
        (["agreements", _, "charges", _], "GET") => O::FetchCharge,
        (["agreements", _, "charges", _], _) => O::CancelCharge,
        (["agreements", _, "charges", _, "capture"], _) => O::CaptureCharge,
        (["agreements", _, "charges", _, "refund"], _) => O::RefundCharge,
        (["charges", _], _) => return Some((O::FetchChargeById, String::new(), s(1))),
        _ => return None,
    };
    Some((op, s(1), s(3)))
}

fn header(req: &Request, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl Simulator {
    fn record(&self, req: &Request, body: &[u8], op: Option<Operation>) {
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().to_ascii_lowercase();
                let value = if name == "client_secret" {
                    "***".to_owned()
                } else {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                };
                (name, value)
            })
            .collect();
        let body = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
            })
        };
        let entry = RecordedRequest {
            at: Utc::now(),
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            operation: op.map(|o| o.name().to_owned()),
            headers,
            body,
        };
        self.volatile(|v| {
            if v.requests.len() >= 50_000 {
                v.requests.drain(..10_000);
            }
            v.requests.push(entry);
        });
    }

    fn verdict(&self, req: &Request, op: Option<&(Operation, String, String)>) -> (Verdict, u64) {
        let path = req.uri().path().to_owned();
        let msn = header(req, "Merchant-Serial-Number");
        let key = header(req, "Idempotency-Key");
        let config_limit = self.config().rate_limit;
        self.volatile(|v| {
            let f = &mut v.faults;
            let targeted = f.path.as_deref().is_none_or(|p| path.starts_with(p));
            let latency = if targeted {
                f.latency_ms.unwrap_or(0)
            } else {
                0
            };
            if targeted && let Some(verdict) = injected(f) {
                return (verdict, latency);
            }
            let lose_reply = targeted
                && f.lost_reply_rate
                    .is_some_and(|r| rand::thread_rng().r#gen::<f64>() < r);
            let pass = if lose_reply {
                Verdict::PassAndDrop
            } else {
                Verdict::Pass
            };
            let limiting = f.rate_limit.unwrap_or(config_limit);
            if let Some((op, agreement, charge)) = op.filter(|_| limiting) {
                let scope = if *op == Operation::CreateCharge {
                    key.as_str()
                } else {
                    charge.as_str()
                };
                let windows: Vec<(String, u32)> = op
                    .documented_limit_per_minute()
                    .map(|limit| (op.limit_key(&msn, agreement, scope), limit))
                    .into_iter()
                    .chain(
                        op.merchant_pool()
                            .map(|pool| (pool.limit_key(&msn), pool.documented_limit_per_minute())),
                    )
                    .collect();
                if let Some(wait) = over_limit(&mut v.rate, &windows) {
                    let mut r = Reply::gateway(429, "Too Many Requests", "Rate limit is exceeded.");
                    r.retry_after = Some(wait);
                    return (Verdict::Answer(r), latency);
                }
            }
            (pass, latency)
        })
    }
}

/// Fixed one-minute windows, as Vipps counts: `Some(seconds until the full window resets)`
/// when any of `windows` is used up; otherwise the request is counted in every window.
fn over_limit(
    rate: &mut std::collections::HashMap<String, (Instant, u32)>,
    windows: &[(String, u32)],
) -> Option<u64> {
    let now = Instant::now();
    for (k, _) in windows {
        let slot = rate.entry(k.clone()).or_insert((now, 0));
        if now.duration_since(slot.0) >= Duration::from_secs(60) {
            *slot = (now, 0);
        }
    }
    let full = windows
        .iter()
        .filter_map(|(k, limit)| rate.get(k).filter(|slot| slot.1 >= *limit))
        .map(|slot| 60 - now.duration_since(slot.0).as_secs().min(59))
        .max();
    if full.is_none() {
        for (k, _) in windows {
            if let Some(slot) = rate.get_mut(k) {
                slot.1 += 1;
            }
        }
    }
    full
}

/// The injected fault for the next request, if any (consumes counted faults).
fn injected(f: &mut Faults) -> Option<Verdict> {
    if let Some(n) = f.drop_connection.filter(|n| *n > 0) {
        f.drop_connection = Some(n - 1);
        return Some(Verdict::Drop);
    }
    if f.drop_rate
        .is_some_and(|r| rand::thread_rng().r#gen::<f64>() < r)
    {
        return Some(Verdict::Drop);
    }
    let retry_after = f.retry_after_secs.unwrap_or(1);
    if let (Some(every), Some(len)) = (f.burst_every_ms.filter(|e| *e > 0), f.burst_ms) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        if now_ms % every < len {
            return Some(Verdict::Answer(fault_reply(429, retry_after)));
        }
    }
    if let Some(status) = f.status {
        match f.count {
            Some(n) if n <= 1 => {
                f.status = None;
                f.count = None;
            }
            Some(n) => f.count = Some(n - 1),
            None => {}
        }
        return Some(Verdict::Answer(fault_reply(status, retry_after)));
    }
    if f.error_rate
        .is_some_and(|r| rand::thread_rng().r#gen::<f64>() < r)
    {
        let status = f.error_status.unwrap_or(500);
        return Some(Verdict::Answer(fault_reply(status, retry_after)));
    }
    None
}

fn fault_reply(status: u16, retry_after_secs: u64) -> Reply {
    if status == 429 {
        let mut r = Reply::gateway(429, "Too Many Requests", "Rate limit is exceeded.");
        r.retry_after = Some(retry_after_secs);
        return r;
    }
    Reply::problem(&ApiError::new(
        status,
        ProblemKind::OperationFailed,
        "injected fault",
    ))
}

/// Runs the gate in front of `ep`.
pub async fn gate<E: Endpoint>(
    sim: Simulator,
    ep: Arc<E>,
    mut req: Request,
) -> poem::Result<Response> {
    let body = req.take_body().into_bytes().await.unwrap_or_default();
    let op = classify(req.method(), req.uri().path());
    sim.record(&req, &body, op.as_ref().map(|o| o.0));
    let (verdict, latency) = sim.verdict(&req, op.as_ref());
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match verdict {
        // Unwinding the connection task closes the socket without a response. Inside a
        // server with a CatchPanic middleware this becomes a 500 instead.
        Verdict::Drop => std::panic::resume_unwind(Box::new("vipps-sim: dropped connection")),
        Verdict::Answer(reply) => Ok(reply.into_response()),
        Verdict::Pass => {
            req.set_body(body);
            ep.call(req).await.map(IntoResponse::into_response)
        }
        Verdict::PassAndDrop => {
            req.set_body(body);
            let _handled = ep.call(req).await;
            std::panic::resume_unwind(Box::new("vipps-sim: reply lost after handling"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_in_every_window_or_in_none() {
        let mut rate = std::collections::HashMap::new();
        let own = |i: u32| (format!("create_charge|1|agr|{i}"), 2);
        let pool = ("charge_creation|1".to_owned(), 3);
        for i in 0..3 {
            assert_eq!(over_limit(&mut rate, &[own(i), pool.clone()]), None);
        }
        // The pool is used up: refused, and the refused request is not counted anywhere.
        let wait = over_limit(&mut rate, &[own(9), pool.clone()]).expect("refused");
        assert!((1..=60).contains(&wait));
        assert_eq!(rate[&own(9).0].1, 0);
        // A charge's own window fills on its own.
        let mut rate = std::collections::HashMap::new();
        let big_pool = ("charge_creation|1".to_owned(), 500);
        assert_eq!(over_limit(&mut rate, &[own(1), big_pool.clone()]), None);
        assert_eq!(over_limit(&mut rate, &[own(1), big_pool.clone()]), None);
        assert!(over_limit(&mut rate, &[own(1), big_pool.clone()]).is_some());
        assert_eq!(rate[&big_pool.0].1, 2);
    }
}
