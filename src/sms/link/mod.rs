//! The `link` provider: LINK Mobility "Common" SMS REST (MT+DLR v1.18).
//!
//! `POST {sms.link.base_url}/sms/send`, HTTP Basic, JSON: `source` + `sourceTON` (SHORTNUMBER
//! for 3–8 digits, MSISDN for a full number, ALPHANUMERIC otherwise), `destination` (E.164),
//! `userData`, `platformId`, `platformPartnerId`, `refId` (our message id), `moReferenceId`
//! (the MO answered), `useDeliveryReport` + `deliveryReportGates` (when a DLR gate is set).
//! The answer is `{"messageId", "resultCode", "description"}`; see [`codes`] for the mapping.
//!
//! Duplicates: LINK only mirrors `refId` (in the DLR), it does not deduplicate on it. A resend
//! after a crash between "sent" and "recorded", or after a timeout, can reach the phone twice:
//! at-least-once. The DLR's `refId` still lets us attach reports to the right message.

pub mod codes;
pub mod inbound;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::error::{SmsError, scrub_for_log};
use super::gateway::{OutboundSms, SendReceipt, http_client, read_response};
use super::settings::LinkSettings;

pub use inbound::{parse_link_dlr, parse_link_mo, parse_link_mo_at, split_part_id};

const PROVIDER: &str = "link";

/// LINK's type of number for `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceTon {
    Shortnumber,
    Alphanumeric,
    Msisdn,
}

/// `source` and `sourceTON` for a sender: `2160` → SHORTNUMBER, `+4791234567` /
/// `4791234567` → MSISDN `+4791234567`, `Acme` (≤ 11 of a-z A-Z 0-9) → ALPHANUMERIC.
pub fn source_for(from: &str) -> Result<(String, SourceTon), String> {
    let from = from.trim();
    let digits = from.strip_prefix('+').unwrap_or(from);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match digits.len() {
            3..=8 if !from.starts_with('+') => Ok((digits.to_owned(), SourceTon::Shortnumber)),
            9..=15 => Ok((format!("+{digits}"), SourceTon::Msisdn)),
            _ => Err(
                "a numeric sender must be a short number (3–8 digits) or a full phone number"
                    .to_owned(),
            ),
        };
    }
    if (1..=11).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok((from.to_owned(), SourceTon::Alphanumeric));
    }
    Err("an alphanumeric sender must be 1–11 characters of a-z, A-Z, 0-9".to_owned())
}

/// The `/sms/send` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkSendRequest {
    pub source: String,
    #[serde(rename = "sourceTON")]
    pub source_ton: SourceTon,
    pub destination: String,
    pub user_data: String,
    pub platform_id: String,
    pub platform_partner_id: String,
    pub ref_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mo_reference_id: Option<String>,
    pub use_delivery_report: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivery_report_gates: Vec<String>,
}

/// The `/sms/send` answer (and LINK's error bodies, which carry at least `resultCode`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkSendResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Client of LINK's send endpoint.
#[derive(Clone)]
pub struct LinkGateway {
    client: reqwest::Client,
    url: String,
    username: String,
    password: SecretString,
    platform_id: String,
    platform_partner_id: String,
    dlr_gate_id: String,
}

impl std::fmt::Debug for LinkGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkGateway")
            .field("url", &self.url)
            .field("platform_id", &self.platform_id)
            .finish_non_exhaustive()
    }
}

impl LinkGateway {
    pub fn new(settings: &LinkSettings) -> Result<Self, SmsError> {
        let url = format!("{}/sms/send", settings.base_url.trim_end_matches('/'));
        reqwest::Url::parse(&url)
            .map_err(|e| SmsError::Config(format!("sms.link.base_url: {e}")))?;
        Ok(Self {
            client: http_client(settings.timeout_ms)?,
            url,
            username: settings.username.clone(),
            password: settings.password.clone(),
            platform_id: settings.platform_id.clone(),
            platform_partner_id: settings.platform_partner_id.clone(),
            dlr_gate_id: settings.dlr_gate_id.trim().to_owned(),
        })
    }

    /// The body that [`send`](Self::send) posts for `msg`.
    pub fn request_body(&self, msg: &OutboundSms) -> Result<LinkSendRequest, SmsError> {
        let (source, source_ton) =
            source_for(&msg.from).map_err(|reason| SmsError::InvalidMessage {
                provider: PROVIDER,
                reason: format!("sender: {reason}"),
            })?;
        let gates: Vec<String> = if self.dlr_gate_id.is_empty() {
            Vec::new()
        } else {
            vec![self.dlr_gate_id.clone()]
        };
        Ok(LinkSendRequest {
            source,
            source_ton,
            destination: msg.to.as_str().to_owned(),
            user_data: msg.text.clone(),
            platform_id: self.platform_id.clone(),
            platform_partner_id: self.platform_partner_id.clone(),
            ref_id: msg.message_id.clone(),
            mo_reference_id: msg.mo_reference_id.clone(),
            use_delivery_report: !gates.is_empty(),
            delivery_report_gates: gates,
        })
    }

    pub async fn send(&self, msg: &OutboundSms) -> Result<SendReceipt, SmsError> {
        let body = self.request_body(msg)?;
        let response = self
            .client
            .post(&self.url)
            .basic_auth(&self.username, Some(self.password.expose_secret()))
            .json(&body)
            .send()
            .await
            .map_err(|e| SmsError::from_reqwest(PROVIDER, e))?;
        let (status, retry_after, text) = read_response(PROVIDER, response).await?;
        interpret(status, retry_after, &text)
    }
}

/// Turns LINK's answer into a receipt or a classified error.
fn interpret(
    status: u16,
    retry_after: Option<std::time::Duration>,
    text: &str,
) -> Result<SendReceipt, SmsError> {
    let parsed = serde_json::from_str::<LinkSendResponse>(text);
    if !(200..300).contains(&status) {
        let answer = parsed.unwrap_or_default();
        let body = match (&answer.result_code, &answer.description) {
            (Some(code), Some(d)) => {
                format!("{}: {}", codes::describe(*code), scrub_for_log(d, 200))
            }
            (Some(code), None) => codes::describe(*code),
            _ => scrub_for_log(text, 300),
        };
        return Err(SmsError::Http {
            provider: PROVIDER,
            status,
            code: answer.result_code,
            body,
            retry_after,
        });
    }
    let answer = parsed.map_err(|e| SmsError::Decode {
        provider: PROVIDER,
        status,
        message: format!("expected {{\"messageId\", \"resultCode\", \"description\"}}: {e}"),
    })?;
    let code = answer.result_code.unwrap_or(codes::QUEUED);
    let refused =
        codes::is_request_error(code) || (!codes::is_accepted(code) && answer.message_id.is_none());
    if refused {
        return Err(SmsError::Rejected {
            provider: PROVIDER,
            code,
            description: match answer.description {
                Some(d) => format!("{}: {}", codes::describe(code), scrub_for_log(&d, 200)),
                None => codes::describe(code),
            },
        });
    }
    let id = answer
        .message_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| SmsError::Decode {
            provider: PROVIDER,
            status,
            message: "no messageId in the answer".to_owned(),
        })?;
    Ok(SendReceipt {
        gateway_message_id: id.to_owned(),
        status: codes::status(code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::status::DeliveryStatus;

    #[test]
    fn sources() {
        assert_eq!(
            source_for("2160").unwrap(),
            ("2160".to_owned(), SourceTon::Shortnumber)
        );
        assert_eq!(
            source_for("+4791234567").unwrap(),
            ("+4791234567".to_owned(), SourceTon::Msisdn)
        );
        assert_eq!(
            source_for("4791234567").unwrap(),
            ("+4791234567".to_owned(), SourceTon::Msisdn)
        );
        assert_eq!(
            source_for("Acme").unwrap(),
            ("Acme".to_owned(), SourceTon::Alphanumeric)
        );
        assert!(source_for("+2160").is_err());
        assert!(source_for("21").is_err());
        assert!(source_for("Acme Corp AS").is_err());
        assert!(source_for("Bjørn").is_err());
        assert!(source_for("").is_err());
        assert_eq!(
            serde_json::to_value(SourceTon::Shortnumber).unwrap(),
            "SHORTNUMBER"
        );
    }

    #[test]
    fn answers() {
        let ok = interpret(
            200,
            None,
            r#"{"messageId":"m-1","resultCode":1005,"description":"Queued"}"#,
        )
        .unwrap();
        assert_eq!(ok.gateway_message_id, "m-1");
        assert_eq!(ok.status, DeliveryStatus::Queued);
        let e = interpret(
            200,
            None,
            r#"{"resultCode":106200,"description":"Invalid platformId"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, SmsError::Rejected { code: 106_200, .. }));
        assert!(!e.is_retryable());
        let e = interpret(200, None, r#"{"resultCode":1006}"#).unwrap_err();
        assert!(!e.is_retryable() && e.result_code() == Some(1006));
        let e = interpret(200, None, "OK").unwrap_err();
        assert!(matches!(e, SmsError::Decode { .. }) && !e.is_retryable());
        let e = interpret(200, None, r#"{"resultCode":1005}"#).unwrap_err();
        assert!(matches!(e, SmsError::Decode { .. }));
        let e = interpret(
            401,
            None,
            r#"{"resultCode":106101,"description":"Bad password"}"#,
        )
        .unwrap_err();
        assert!(e.is_auth() && !e.is_retryable());
        assert!(e.to_string().contains("106101"), "{e}");
        let e = interpret(503, None, "<html>down</html>").unwrap_err();
        assert!(e.is_retryable() && e.result_code().is_none());
    }
}
