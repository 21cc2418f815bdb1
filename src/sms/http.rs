//! The `http` provider: our documented generic JSON gateway.
//!
//! `POST {sms.http.url}` with `Authorization: Bearer {sms.http.token}`, `Idempotency-Key:
//! {message_id}` and `{"message_id", "from", "to", "text", "reply_to"?}` (`to` in E.164,
//! `reply_to` the gateway id of the inbound message answered). A 2xx answer is
//! `{"id": "<gateway id>", "status": "queued|sent|delivered"?}` (status defaults to queued).
//!
//! Duplicates: `message_id` is our id and the gateway must treat it as an idempotency key
//! (answer a repeat with the first send's `id`, send nothing). A resend after a crash between
//! "sent" and "recorded", or after a timeout, is then harmless: with a well-behaved gateway,
//! exactly once.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::error::{SmsError, scrub_for_log};
use super::gateway::{OutboundSms, SendReceipt, http_client, read_response};
use super::settings::HttpGatewaySettings;
use super::status::DeliveryStatus;

const PROVIDER: &str = "http";

/// The request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSendRequest {
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// The 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSendResponse {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl HttpSendRequest {
    pub fn from_message(msg: &OutboundSms) -> Self {
        Self {
            message_id: msg.message_id.clone(),
            from: msg.from.clone(),
            to: msg.to.as_str().to_owned(),
            text: msg.text.clone(),
            reply_to: msg.mo_reference_id.clone(),
        }
    }
}

/// Client of the generic gateway.
#[derive(Clone)]
pub struct HttpGateway {
    client: reqwest::Client,
    url: String,
    token: SecretString,
}

impl std::fmt::Debug for HttpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGateway")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HttpGateway {
    pub fn new(settings: &HttpGatewaySettings) -> Result<Self, SmsError> {
        reqwest::Url::parse(&settings.url)
            .map_err(|e| SmsError::Config(format!("sms.http.url: {e}")))?;
        Ok(Self {
            client: http_client(settings.timeout_ms)?,
            url: settings.url.clone(),
            token: settings.token.clone(),
        })
    }

    pub async fn send(&self, msg: &OutboundSms) -> Result<SendReceipt, SmsError> {
        let body = HttpSendRequest::from_message(msg);
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(self.token.expose_secret())
            .header("Idempotency-Key", &msg.message_id)
            .json(&body)
            .send()
            .await
            .map_err(|e| SmsError::from_reqwest(PROVIDER, e))?;
        let (status, retry_after, text) = read_response(PROVIDER, response).await?;
        if !(200..300).contains(&status) {
            return Err(SmsError::Http {
                provider: PROVIDER,
                status,
                code: None,
                body: scrub_for_log(&text, 300),
                retry_after,
            });
        }
        let answer: HttpSendResponse =
            serde_json::from_str(&text).map_err(|e| SmsError::Decode {
                provider: PROVIDER,
                status,
                message: format!("expected {{\"id\", \"status\"?}}: {e}"),
            })?;
        let id = answer.id.trim();
        if id.is_empty() {
            return Err(SmsError::Decode {
                provider: PROVIDER,
                status,
                message: "empty id".to_owned(),
            });
        }
        let first = match answer.status.as_deref().map(str::trim) {
            None | Some("") => DeliveryStatus::Queued,
            Some(s) => DeliveryStatus::parse(&s.to_ascii_lowercase()).unwrap_or_else(|| {
                tracing::warn!(sms.provider = PROVIDER, sms.status = %scrub_for_log(s, 40), "unknown first status, taken as queued");
                DeliveryStatus::Queued
            }),
        };
        Ok(SendReceipt {
            gateway_message_id: id.to_owned(),
            status: first,
        })
    }
}
