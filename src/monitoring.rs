//! Prometheus metrics: the process-wide recorder and the few functions that record into it.
//!
//! Recording goes through the `metrics` facade, so every call site is one line and costs
//! nothing until [`install`] has run (it runs when `server.metrics_enabled` is true). The
//! exporter only renders text; `GET /metrics` (in `http::metrics`) serves it together with job
//! counts read from the queue tables at scrape time.
//!
//! Labels are small closed sets (queue names, Vipps operation names, route templates, status
//! codes): never ids, phone numbers or raw paths.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Series names, in one place so that tests and the README agree with the code.
pub mod names {
    /// Gauge `{queue, status}`: jobs in the queue tables (computed at scrape time).
    pub const JOBS: &str = "dialogpay_jobs";
    /// Histogram `{queue, outcome}`: how long job attempts ran.
    pub const JOB_DURATION: &str = "dialogpay_job_duration_seconds";
    /// Counter `{operation, outcome}`: HTTP requests sent to Vipps.
    pub const VIPPS_REQUESTS: &str = "dialogpay_vipps_requests_total";
    /// Histogram `{operation}`: Vipps request latency.
    pub const VIPPS_DURATION: &str = "dialogpay_vipps_request_duration_seconds";
    /// Counter `{provider}`: SMS accepted by the gateway.
    pub const SMS_SENT: &str = "dialogpay_sms_sent_total";
    /// Counter `{provider}`: SMS reported delivered to the handset.
    pub const SMS_DELIVERED: &str = "dialogpay_sms_delivered_total";
    /// Counter `{provider}`: SMS that will not arrive (refused by the gateway, failed or
    /// expired on the way).
    pub const SMS_FAILED: &str = "dialogpay_sms_failed_total";
    /// Gauge: delivery reports parked until their send is recorded (computed at scrape time);
    /// a count that stays up means reports that never find their message.
    pub const SMS_PARKED_REPORTS: &str = "dialogpay_sms_parked_reports";
    /// Counter `{method, route, status}`: HTTP requests we answered.
    pub const HTTP_REQUESTS: &str = "dialogpay_http_requests_total";
    /// Histogram `{method, route}`: how long we took to answer.
    pub const HTTP_DURATION: &str = "dialogpay_http_request_duration_seconds";
    /// Histogram: how many webhook writes shared one transaction (`db::group_commit`).
    pub const GROUP_COMMIT_BATCH: &str = "dialogpay_group_commit_batch_size";
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds; jobs may run up to `jobs.attempt_timeout_secs` (120 s by default).
const JOB_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Items per group-commit transaction (up to `db::group_commit::MAX_BATCH`).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// Seconds; Vipps and our own answers are expected well below the 10 s client timeout.
const REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder once (later calls return the same handle; tests start
/// many apps in one process). Histograms are drained by a small background thread, so memory
/// stays bounded even when nobody scrapes.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let buckets = [
            (names::JOB_DURATION, JOB_BUCKETS),
            (names::VIPPS_DURATION, REQUEST_BUCKETS),
            (names::HTTP_DURATION, REQUEST_BUCKETS),
            (names::GROUP_COMMIT_BATCH, BATCH_BUCKETS),
        ];
        let recorder = buckets
            .into_iter()
            .try_fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
                builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets)
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only job counts");
        }
        describe();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// The recorded series in the Prometheus text format; empty before [`install`].
pub fn render() -> String {
    HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

fn describe() {
    use ::metrics::{Unit, describe_counter, describe_histogram};
    describe_histogram!(
        names::JOB_DURATION,
        Unit::Seconds,
        "Job attempts by queue and outcome (done, retry, failed: no attempts left, permanent: stopped at once)"
    );
    describe_counter!(
        names::VIPPS_REQUESTS,
        "Requests to the Vipps API by operation and outcome (2xx, 4xx, 429, 5xx, transport_error)"
    );
    describe_histogram!(
        names::VIPPS_DURATION,
        Unit::Seconds,
        "Vipps API latency by operation"
    );
    describe_counter!(names::SMS_SENT, "SMS accepted by the gateway, by provider");
    describe_counter!(names::SMS_DELIVERED, "SMS reported delivered, by provider");
    describe_counter!(
        names::SMS_FAILED,
        "SMS refused by the gateway or reported failed or expired, by provider"
    );
    describe_counter!(
        names::HTTP_REQUESTS,
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        names::HTTP_DURATION,
        Unit::Seconds,
        "HTTP latency by method and route template"
    );
    describe_histogram!(
        names::GROUP_COMMIT_BATCH,
        Unit::Count,
        "Webhook writes committed together in one transaction"
    );
}

/// One group-commit transaction of `items` writes.
pub fn group_commit_batch(items: usize) {
    ::metrics::histogram!(names::GROUP_COMMIT_BATCH).record(items as f64);
}

/// How a job attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// A transient failure with attempts left: it runs again after the backoff.
    Retry,
    /// A transient failure on the last attempt.
    Failed,
    /// A permanent failure: stopped without further attempts.
    Permanent,
    /// Snoozed (a rate limit): runs again later without using up an attempt.
    Snoozed,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retry => "retry",
            Self::Failed => "failed",
            Self::Permanent => "permanent",
            Self::Snoozed => "snoozed",
        }
    }
}

pub fn job_finished(queue: &'static str, outcome: JobOutcome, elapsed: Duration) {
    ::metrics::histogram!(names::JOB_DURATION, "queue" => queue, "outcome" => outcome.as_str())
        .record(elapsed.as_secs_f64());
}

/// The outcome label of an HTTP call: the status class, 429 on its own, or `transport_error`
/// when no status came back (connection failed, timeout, reset).
pub fn http_outcome(status: Option<u16>) -> &'static str {
    match status {
        None => "transport_error",
        Some(429) => "429",
        Some(200..=299) => "2xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
    }
}

pub fn vipps_call(operation: &'static str, status: Option<u16>, elapsed: Duration) {
    ::metrics::counter!(names::VIPPS_REQUESTS, "operation" => operation, "outcome" => http_outcome(status))
        .increment(1);
    ::metrics::histogram!(names::VIPPS_DURATION, "operation" => operation)
        .record(elapsed.as_secs_f64());
}

/// What happened to an outbound SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEvent {
    Sent,
    Delivered,
    Failed,
}

pub fn sms(provider: &str, event: SmsEvent) {
    let name = match event {
        SmsEvent::Sent => names::SMS_SENT,
        SmsEvent::Delivered => names::SMS_DELIVERED,
        SmsEvent::Failed => names::SMS_FAILED,
    };
    ::metrics::counter!(name, "provider" => provider.to_owned()).increment(1);
}

/// Counts a message reaching a final status (delivered, failed, expired); others count nothing.
pub fn sms_status(provider: &str, status: crate::sms::DeliveryStatus) {
    use crate::sms::DeliveryStatus as S;
    match status {
        S::Delivered => sms(provider, SmsEvent::Delivered),
        S::Failed | S::Expired => sms(provider, SmsEvent::Failed),
        S::Queued | S::Sent => {}
    }
}

pub fn http_request(method: &'static str, route: String, status: u16, elapsed: Duration) {
    ::metrics::counter!(
        names::HTTP_REQUESTS,
        "method" => method,
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    ::metrics::histogram!(names::HTTP_DURATION, "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_a_closed_set() {
        assert_eq!(http_outcome(None), "transport_error");
        assert_eq!(http_outcome(Some(201)), "2xx");
        assert_eq!(http_outcome(Some(404)), "4xx");
        assert_eq!(http_outcome(Some(429)), "429");
        assert_eq!(http_outcome(Some(503)), "5xx");
        assert_eq!(http_outcome(Some(302)), "other");
    }
}
