//! Webhooks API bodies and the recurring event payload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChargeType, Currency, FailureReason, Ore};

/// Recurring webhook event names (note `charge-canceled`, one "l").
pub mod event_names {
    pub const AGREEMENT_ACTIVATED: &str = "recurring.agreement-activated.v1";
    pub const AGREEMENT_REJECTED: &str = "recurring.agreement-rejected.v1";
    pub const AGREEMENT_STOPPED: &str = "recurring.agreement-stopped.v1";
    pub const AGREEMENT_EXPIRED: &str = "recurring.agreement-expired.v1";
    pub const CHARGE_RESERVED: &str = "recurring.charge-reserved.v1";
    pub const CHARGE_CAPTURED: &str = "recurring.charge-captured.v1";
    pub const CHARGE_CANCELED: &str = "recurring.charge-canceled.v1";
    pub const CHARGE_REFUNDED: &str = "recurring.charge-refunded.v1";
    pub const CHARGE_FAILED: &str = "recurring.charge-failed.v1";
    pub const CHARGE_CREATION_FAILED: &str = "recurring.charge-creation-failed.v1";

    /// Every recurring event, for registering one webhook that gets them all.
    pub const ALL_RECURRING: [&str; 10] = [
        AGREEMENT_ACTIVATED,
        AGREEMENT_REJECTED,
        AGREEMENT_STOPPED,
        AGREEMENT_EXPIRED,
        CHARGE_RESERVED,
        CHARGE_CAPTURED,
        CHARGE_CANCELED,
        CHARGE_REFUNDED,
        CHARGE_FAILED,
        CHARGE_CREATION_FAILED,
    ];
}

wire_enum!(
    /// `actor` of agreement events: who stopped (or rejected) it. No official list is
    /// published: `USER` and `MERCHANT` are documented by the official plugin, `ADMIN` by a
    /// third party.
    Actor {
        User => "USER",
        Merchant => "MERCHANT",
        Admin => "ADMIN",
    }
);

/// `RegisterRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterWebhookRequest {
    pub url: String,
    pub events: Vec<String>,
}

/// `RegisterResponse`: the `secret` is shown only once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterWebhookResponse {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for RegisterWebhookResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterWebhookResponse")
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// `Webhook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub events: Vec<String>,
}

/// `QueryResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
}

/// A recurring webhook delivery. No official schema is published: everything but
/// `eventType` is optional, and unknown fields are kept in `extra`. Treat it as a signal and
/// re-read the agreement or charge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_external_id: Option<String>,
    #[serde(
        default,
        rename = "agreementUUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub agreement_uuid: Option<String>,
    /// `MERCHANT` or `USER` (agreement events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<ChargeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_captured: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_canceled: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_refunded: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<FailureReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl WebhookEvent {
    /// An event with only its type set.
    pub fn new(event_type: &str) -> Self {
        Self {
            event_type: event_type.to_owned(),
            msn: None,
            occurred: None,
            agreement_id: None,
            agreement_external_id: None,
            agreement_uuid: None,
            actor: None,
            charge_id: None,
            charge_external_id: None,
            charge_type: None,
            amount: None,
            amount_captured: None,
            amount_canceled: None,
            amount_refunded: None,
            currency: None,
            failure_reason: None,
            failure_description: None,
            transaction_id: None,
            extra: serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_payload_tolerates_unknown_and_missing_fields() {
        let e: WebhookEvent = serde_json::from_str(
            r#"{"eventType":"recurring.agreement-stopped.v1","agreementId":"agr_1",
                "actor":"USER","agreementUUID":"u","somethingNew":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(e.event_type, event_names::AGREEMENT_STOPPED);
        assert_eq!(e.actor, Some(Actor::User));
        assert_eq!(e.agreement_uuid.as_deref(), Some("u"));
        assert!(e.extra.contains_key("somethingNew"));
        assert!(serde_json::from_str::<WebhookEvent>(r#"{"agreementId":"a"}"#).is_err());
    }
}
