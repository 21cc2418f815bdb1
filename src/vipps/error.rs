//! [`VippsError`]: every way a Vipps call can fail, with the retry classification jobs need.

use std::time::{Duration, SystemTime};

use super::operation::Operation;
use super::validate::ValidationErrors;
use super::wire::{ErrorBody, Problem, ProblemKind};
use crate::domain::msisdn::scrub_for_log;

/// A failed Vipps call. Texts are safe to log: the answer is shortened and phone-like digit
/// runs are masked.
#[derive(Debug, thiserror::Error)]
pub enum VippsError {
    /// The request broke a documented limit; nothing was sent.
    #[error("invalid Vipps request: {0}")]
    Validation(#[from] ValidationErrors),
    /// Vipps (or its gateway) answered with a non-success status.
    #[error("Vipps {operation} failed with HTTP {status}: {}", scrub_for_log(&summary(body), 300))]
    Api {
        operation: Operation,
        status: u16,
        body: ErrorBody,
        /// From the `Retry-After` header, if any.
        retry_after: Option<Duration>,
    },
    /// No answer within the configured timeout.
    #[error("Vipps {operation} timed out")]
    Timeout { operation: Operation },
    /// The connection could not be made or was dropped.
    #[error("Vipps {operation}: connection failed: {source}")]
    Connect {
        operation: Operation,
        #[source]
        source: reqwest::Error,
    },
    /// Another transport problem (reset mid-response, bad TLS, …).
    #[error("Vipps {operation}: transport error: {source}")]
    Transport {
        operation: Operation,
        #[source]
        source: reqwest::Error,
    },
    /// A success status with a body we cannot read.
    #[error("Vipps {operation}: unreadable response (HTTP {status}): {message}")]
    Decode {
        operation: Operation,
        status: u16,
        message: String,
    },
    /// The client is misconfigured (bad base URL, header values).
    #[error("Vipps client configuration: {0}")]
    Config(String),
}

fn summary(body: &ErrorBody) -> String {
    match body {
        ErrorBody::Problem(p) => {
            let kind = p.kind().map(|k| k.to_string()).unwrap_or_default();
            let detail = p.detail.as_deref().or(p.title.as_deref()).unwrap_or("");
            let fields: Vec<String> = p
                .extra_details
                .iter()
                .map(|d| {
                    format!(
                        "{}: {}",
                        d.name.as_deref().unwrap_or("?"),
                        d.reason.as_deref().unwrap_or("")
                    )
                })
                .collect();
            if fields.is_empty() {
                format!("{kind} {detail}").trim().to_owned()
            } else {
                format!("{kind} {detail} ({})", fields.join("; "))
            }
        }
        ErrorBody::Gateway(g) => {
            format!("{} {}", g.response_info.response_message, g.result.message)
        }
        ErrorBody::Raw(s) => s.clone(),
    }
}

impl VippsError {
    /// Should a job retry (with the same idempotency key)? 5xx, 408, 429, timeouts and
    /// connection errors: yes. Other 4xx, validation, decoding and configuration: no.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Timeout { .. } | Self::Connect { .. } | Self::Transport { .. } => true,
            Self::Validation(_) | Self::Decode { .. } | Self::Config(_) => false,
        }
    }

    /// How long to wait before retrying, when Vipps said so (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem+json body, if that is what came back.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Api {
                body: ErrorBody::Problem(p),
                ..
            } => Some(p.as_ref()),
            _ => None,
        }
    }

    /// The problem identifier (`charge-due-too-soon`, …), if any.
    pub fn problem_kind(&self) -> Option<ProblemKind> {
        self.problem().and_then(Problem::kind)
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 401/403: credentials or permissions; no retry will fix it.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    pub(crate) fn from_reqwest(operation: Operation, e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout { operation }
        } else if e.is_connect() {
            Self::Connect {
                operation,
                source: e,
            }
        } else {
            Self::Transport {
                operation,
                source: e,
            }
        }
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vipps::wire::AzureError;

    fn api(status: u16, body: ErrorBody, retry_after: Option<Duration>) -> VippsError {
        VippsError::Api {
            operation: Operation::CreateCharge,
            status,
            body,
            retry_after,
        }
    }

    #[test]
    fn classification() {
        let p = |k| ErrorBody::Problem(Box::new(Problem::new(k, 400, "Bad Request", "x")));
        assert!(api(500, ErrorBody::Raw(String::new()), None).is_retryable());
        assert!(api(503, ErrorBody::Raw(String::new()), None).is_retryable());
        assert!(api(502, ErrorBody::Raw("<html>".into()), None).is_retryable());
        let limited = api(
            429,
            ErrorBody::Gateway(AzureError::new(429, "Too Many Requests", "slow down")),
            Some(Duration::from_secs(7)),
        );
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert!(limited.to_string().contains("429"));
        for k in [
            ProblemKind::ValidationError,
            ProblemKind::ChargeDueTooSoon,
            ProblemKind::IdempotencyConflict,
        ] {
            let e = api(400, p(k.clone()), None);
            assert!(!e.is_retryable());
            assert_eq!(e.problem_kind(), Some(k));
        }
        assert!(!api(409, p(ProblemKind::IdempotencyConflict), None).is_retryable());
        let unauth = api(
            401,
            ErrorBody::Gateway(AzureError::new(401, "Unauthorized", "bad key")),
            None,
        );
        assert!(!unauth.is_retryable() && unauth.is_auth());
        assert!(!VippsError::Validation(ValidationErrors::default()).is_retryable());
        assert!(
            VippsError::Timeout {
                operation: Operation::FetchCharge
            }
            .is_retryable()
        );
        assert!(
            !VippsError::Decode {
                operation: Operation::FetchCharge,
                status: 200,
                message: "x".into()
            }
            .is_retryable()
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Thu, 30 Mar 2023 08:38:32 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 30 Mar 2023 08:39:02 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 30 Mar 2023 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn display_mentions_fields() {
        let mut p = Problem::new(
            ProblemKind::ValidationError,
            400,
            "Bad Request",
            "Input validation failed",
        );
        p.extra_details.push(crate::vipps::wire::ExtraDetail {
            name: Some("productName".into()),
            reason: Some("too long".into()),
        });
        let s = api(400, ErrorBody::Problem(Box::new(p)), None).to_string();
        assert!(
            s.contains("validation-error") && s.contains("productName: too long"),
            "{s}"
        );
    }

    #[test]
    fn display_masks_phone_numbers_and_shortens_raw_answers() {
        let body = format!("no user with phone 4791234567 {}", "x".repeat(1000));
        let s = api(404, ErrorBody::Raw(body), None).to_string();
        assert!(!s.contains("4791234567") && s.contains("******4567"), "{s}");
        assert!(s.len() < 400, "{s}");
    }
}
