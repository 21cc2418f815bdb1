//! [`SmsGateway`]: the one handle the send job uses, built from `[sms]`, dispatching to the
//! configured provider. Cheap to clone (the HTTP clients share their connection pools).

use serde::Serialize;

use super::error::SmsError;
use super::http::HttpGateway;
use super::link::LinkGateway;
use super::outbox::OutboxGateway;
use super::settings::{SmsProvider, SmsSettings};
use super::status::DeliveryStatus;
use crate::domain::msisdn::Msisdn;
use crate::domain::sms_text::{MessageInfo, analyze};

/// An SMS to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboundSms {
    /// Our id of the message: the generic gateway's idempotency key, LINK's `refId`.
    pub message_id: String,
    /// The sender: a short number (`2160`) or an E.164 number.
    pub from: String,
    pub to: Msisdn,
    pub text: String,
    /// The gateway's id of the inbound message this replies to (LINK `moReferenceId`).
    pub mo_reference_id: Option<String>,
}

impl OutboundSms {
    /// Encoding and segment count of the text (what it costs; stored on the message row).
    pub fn info(&self) -> MessageInfo {
        analyze(&self.text)
    }
}

/// The gateway's acceptance of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendReceipt {
    /// The gateway's id; delivery reports refer to it. Store it on the message row.
    pub gateway_message_id: String,
    /// The first status the gateway reported (usually queued).
    pub status: DeliveryStatus,
}

/// The configured SMS gateway.
#[derive(Debug, Clone)]
pub enum SmsGateway {
    Outbox(OutboxGateway),
    Http(HttpGateway),
    Link(LinkGateway),
}

impl SmsGateway {
    /// The provider selected by `settings.provider`. Fails on a configuration it cannot use
    /// (see [`SmsSettings::problems`]).
    pub fn from_settings(settings: &SmsSettings) -> Result<Self, SmsError> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(SmsError::Config(problems.join("; ")));
        }
        Ok(match settings.provider {
            SmsProvider::Outbox => Self::Outbox(OutboxGateway::new()),
            SmsProvider::Http => Self::Http(HttpGateway::new(&settings.http)?),
            SmsProvider::Link => Self::Link(LinkGateway::new(&settings.link)?),
        })
    }

    /// Sends one message. On `Err`, [`SmsError::is_retryable`] says whether the job should
    /// try again (with the same `message_id`).
    pub async fn send(&self, msg: &OutboundSms) -> Result<SendReceipt, SmsError> {
        match self {
            Self::Outbox(g) => g.send(msg).await,
            Self::Http(g) => g.send(msg).await,
            Self::Link(g) => g.send(msg).await,
        }
    }

    /// `outbox`, `http` or `link` (for logs and the message row).
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Outbox(_) => SmsProvider::Outbox.as_str(),
            Self::Http(_) => SmsProvider::Http.as_str(),
            Self::Link(_) => SmsProvider::Link.as_str(),
        }
    }

    /// Whether a resend of the same `message_id` after an unknown outcome (crash, timeout)
    /// is deduplicated by the provider: true for outbox (nothing is sent) and for the generic
    /// gateway (the `message_id` is its idempotency key), false for LINK (at-least-once).
    pub fn dedupes_resends(&self) -> bool {
        !matches!(self, Self::Link(_))
    }
}

/// An HTTP client with the given whole-request timeout (connect timeout capped at 5 s).
pub(crate) fn http_client(timeout_ms: u64) -> Result<reqwest::Client, SmsError> {
    let timeout = std::time::Duration::from_millis(timeout_ms.max(1));
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
        .user_agent(concat!("dialogpay/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SmsError::Config(format!("HTTP client: {e}")))
}

/// Reads a response: status, `Retry-After`, body text.
pub(crate) async fn read_response(
    provider: &'static str,
    response: reqwest::Response,
) -> Result<(u16, Option<std::time::Duration>, String), SmsError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| super::error::parse_retry_after(v, std::time::SystemTime::now()));
    let body = response
        .text()
        .await
        .map_err(|e| SmsError::from_reqwest(provider, e))?;
    Ok((status, retry_after, body))
}
