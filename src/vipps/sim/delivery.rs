//! Webhook delivery: posts queued events to registered URLs, signed exactly as Vipps signs
//! them, in order per registration, retrying failures with exponential backoff (real time).

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{Inner, Simulator};
use crate::vipps::signature::sign_webhook;

/// No answer within this time is a failure (as at Vipps).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// One delivery attempt, for `GET /_sim/webhooks/deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    pub webhook_id: String,
    pub url: String,
    pub event_type: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
    /// True when this was the last attempt and the event was dropped.
    pub gave_up: bool,
}

/// A delivery picked for sending.
struct Job {
    delivery_id: u64,
    webhook_id: String,
    url: String,
    secret: String,
    event_type: String,
    body: String,
    attempt: u32,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Starts the delivery loop; it ends when the simulator is dropped.
pub(super) fn spawn(inner: Weak<Inner>, wake: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let sim = Simulator { inner: strong };
            let jobs = sim.due_jobs();
            if jobs.is_empty() {
                drop(sim);
                let _ = tokio::time::timeout(Duration::from_millis(100), wake.notified()).await;
                continue;
            }
            let results = futures::future::join_all(jobs.iter().map(|j| send(&sim, j))).await;
            for (job, result) in jobs.iter().zip(results) {
                sim.finish_job(job, result);
            }
        }
    });
}

async fn send(sim: &Simulator, job: &Job) -> Result<u16, String> {
    let url = reqwest::Url::parse(&job.url).map_err(|e| e.to_string())?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err("URL has no host".into()),
    };
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let date = httpdate::fmt_http_date(SystemTime::now());
    let signed = sign_webhook(
        &job.secret,
        "POST",
        &path_and_query,
        &host,
        &date,
        job.body.as_bytes(),
    );
    let resp = sim
        .inner
        .http
        .post(url)
        .header("x-ms-date", signed.date)
        .header("x-ms-content-sha256", signed.content_sha256)
        .header("Authorization", signed.authorization)
        .header("Content-Type", "application/json")
        .timeout(DELIVERY_TIMEOUT)
        .body(job.body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(resp.status().as_u16())
}

impl Simulator {
    /// The head of each registration's queue, when its time has come.
    fn due_jobs(&self) -> Vec<Job> {
        let now = now_ms();
        self.read(|s| {
            s.webhooks
                .iter()
                .filter_map(|w| {
                    let d = s.outbox.iter().find(|d| d.webhook_id == w.id)?;
                    if d.next_attempt_ms.is_some_and(|t| t > now) {
                        return None;
                    }
                    Some(Job {
                        delivery_id: d.id,
                        webhook_id: w.id.clone(),
                        url: w.url.clone(),
                        secret: w.secret.clone(),
                        event_type: d.event_type.clone(),
                        body: d.body.clone(),
                        attempt: d.attempts + 1,
                    })
                })
                .collect()
        })
    }

    fn finish_job(&self, job: &Job, result: Result<u16, String>) {
        let delivered = matches!(result, Ok(s) if (200..300).contains(&s));
        let base = self.config().webhook_retry_base;
        let max_attempts = self.config().webhook_max_attempts.max(1);
        let gave_up = !delivered && job.attempt >= max_attempts;
        self.mutate(|state, _| {
            if delivered || gave_up {
                state.outbox.retain(|d| d.id != job.delivery_id);
            } else if let Some(d) = state.outbox.iter_mut().find(|d| d.id == job.delivery_id) {
                d.attempts = job.attempt;
                let backoff = base
                    .saturating_mul(1u32 << (job.attempt - 1).min(20))
                    .min(MAX_BACKOFF);
                d.next_attempt_ms = Some(now_ms() + backoff.as_millis() as i64);
            }
        });
        if gave_up {
            tracing::warn!(webhook.id = %job.webhook_id, event = %job.event_type, "vipps-sim: webhook dropped after {} attempts", job.attempt);
        }
        let attempt = DeliveryAttempt {
            at: Utc::now(),
            webhook_id: job.webhook_id.clone(),
            url: job.url.clone(),
            event_type: job.event_type.clone(),
            attempt: job.attempt,
            status: result.as_ref().ok().copied(),
            error: result.err(),
            delivered,
            gave_up,
        };
        self.volatile(|v| {
            if v.deliveries.len() >= 10_000 {
                v.deliveries.drain(..1_000);
            }
            v.deliveries.push(attempt);
        });
    }
}
