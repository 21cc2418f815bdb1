//! [`SmsError`]: every way sending an SMS can fail, classified for the send job: retry
//! (network, timeouts, 5xx, 408, 429 with its `Retry-After`) or give up (other 4xx, provider
//! rejections, unreadable success answers, bad configuration).
//!
//! Error texts carry the gateway's answer (shortened, with long digit runs masked so that a
//! phone number echoed by a gateway does not reach our logs), never credentials.

use std::time::{Duration, SystemTime};

pub use crate::domain::msisdn::scrub_for_log;

/// A failed send.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The gateway answered with a non-success HTTP status.
    #[error("{provider} gateway answered HTTP {status}{}: {body}", code_suffix(*code))]
    Http {
        provider: &'static str,
        status: u16,
        /// A provider result code from the body, when there is one (LINK: 106xxx).
        code: Option<i64>,
        /// The answer body, shortened and with phone-like digit runs masked.
        body: String,
        /// From the `Retry-After` header, if any.
        retry_after: Option<Duration>,
    },
    /// The gateway answered 2xx but refused the message (a LINK error result code).
    #[error("{provider} gateway rejected the message (result code {code}): {description}")]
    Rejected {
        provider: &'static str,
        code: i64,
        description: String,
    },
    /// No answer within the configured timeout. The message may or may not have been sent.
    #[error("{provider} gateway timed out")]
    Timeout { provider: &'static str },
    /// The connection could not be made: nothing was sent.
    #[error("{provider} gateway: connection failed: {source}")]
    Connect {
        provider: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// Another transport problem (reset mid-response, TLS, …).
    #[error("{provider} gateway: transport error: {source}")]
    Transport {
        provider: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// A success status with a body we cannot read. The gateway probably accepted the
    /// message, so retrying could send it twice: not retryable.
    #[error("{provider} gateway: unreadable answer (HTTP {status}): {message}")]
    Decode {
        provider: &'static str,
        status: u16,
        message: String,
    },
    /// The message cannot be sent through this provider as it is (e.g. a sender LINK refuses).
    #[error("{provider} gateway: invalid message: {reason}")]
    InvalidMessage {
        provider: &'static str,
        reason: String,
    },
    /// The gateway is misconfigured (bad URL, missing credentials).
    #[error("SMS gateway configuration: {0}")]
    Config(String),
}

fn code_suffix(code: Option<i64>) -> String {
    code.map(|c| format!(" (result code {c})"))
        .unwrap_or_default()
}

impl SmsError {
    /// Should the send job try again later? Network errors, timeouts, 5xx, 408 and 429: yes.
    /// Other 4xx, rejections, unreadable success answers and configuration: no.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Timeout { .. } | Self::Connect { .. } | Self::Transport { .. } => true,
            Self::Rejected { .. }
            | Self::Decode { .. }
            | Self::InvalidMessage { .. }
            | Self::Config(_) => false,
        }
    }

    /// How long the gateway asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, for HTTP errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The provider's result code (LINK: 106xxx), if one came back.
    pub fn result_code(&self) -> Option<i64> {
        match self {
            Self::Http { code, .. } => *code,
            Self::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Our credentials were refused (HTTP 401/403, LINK 106100/106101): no retry will help,
    /// an operator must fix the configuration.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
            || matches!(self.result_code(), Some(106_100 | 106_101))
    }

    /// False only when the request certainly did not reach the gateway (connection refused,
    /// configuration, invalid message): then a retry cannot duplicate anything.
    pub fn may_have_been_sent(&self) -> bool {
        !matches!(
            self,
            Self::Connect { .. } | Self::Config(_) | Self::InvalidMessage { .. }
        )
    }

    pub(crate) fn from_reqwest(provider: &'static str, e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout { provider }
        } else if e.is_connect() {
            Self::Connect {
                provider,
                source: e.without_url(),
            }
        } else {
            Self::Transport {
                provider,
                source: e.without_url(),
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

    fn http(status: u16, code: Option<i64>) -> SmsError {
        SmsError::Http {
            provider: "http",
            status,
            code,
            body: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn classification() {
        for s in [500, 502, 503, 504, 429, 408] {
            assert!(http(s, None).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!http(s, None).is_retryable(), "{s}");
        }
        assert!(http(503, Some(106_000)).is_retryable());
        let rejected = SmsError::Rejected {
            provider: "link",
            code: 106_200,
            description: "bad platform".into(),
        };
        assert!(!rejected.is_retryable() && !rejected.is_auth());
        assert_eq!(rejected.result_code(), Some(106_200));
        assert!(http(401, None).is_auth());
        assert!(http(400, Some(106_101)).is_auth());
        assert!(!http(400, Some(106_000)).is_auth());
        assert!(SmsError::Timeout { provider: "link" }.may_have_been_sent());
        assert!(!SmsError::Config("x".into()).may_have_been_sent());
        assert!(
            !SmsError::Decode {
                provider: "http",
                status: 200,
                message: "x".into()
            }
            .is_retryable()
        );
        let limited = SmsError::Http {
            provider: "http",
            status: 429,
            code: None,
            body: String::new(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(http(503, None).retry_after(), None);
        assert!(
            http(400, Some(106_200))
                .to_string()
                .contains("result code 106200")
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Thu, 30 Mar 2023 08:38:32 GMT").unwrap();
        assert_eq!(
            parse_retry_after(" 12 ", now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            parse_retry_after("Thu, 30 Mar 2023 08:39:02 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 30 Mar 2023 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("later", now), None);
    }
}
