//! The `outbox` provider: sends nothing. The message is logged (phone masked, text length and
//! segments only, never the text) and reported delivered with a fresh id; the caller stores it,
//! so the outbox is the message table itself. The default for local use and the demo.
//!
//! Duplicates: none possible, nothing leaves the process.

use super::error::SmsError;
use super::gateway::{OutboundSms, SendReceipt};
use super::status::DeliveryStatus;

/// The outbox. Stateless.
#[derive(Debug, Clone, Default)]
pub struct OutboxGateway;

impl OutboxGateway {
    pub fn new() -> Self {
        Self
    }

    /// Logs and "delivers" `msg`; never fails.
    pub async fn send(&self, msg: &OutboundSms) -> Result<SendReceipt, SmsError> {
        let info = msg.info();
        let gateway_message_id = format!("outbox-{}", ulid::Ulid::new());
        tracing::info!(
            sms.provider = "outbox",
            sms.message_id = %msg.message_id,
            sms.gateway_message_id = %gateway_message_id,
            sms.from = %msg.from,
            sms.to = %msg.to.masked(),
            sms.encoding = info.encoding.as_str(),
            sms.segments = info.segments,
            "SMS kept in the outbox (not sent)"
        );
        Ok(SendReceipt {
            gateway_message_id,
            status: DeliveryStatus::Delivered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::msisdn::Msisdn;

    #[tokio::test]
    async fn delivers_with_fresh_ids() {
        let msg = OutboundSms {
            message_id: "01J0".into(),
            from: "2160".into(),
            to: Msisdn::parse("91234567").unwrap(),
            text: "Takk! Bekreft i Vipps: https://example.test/x".into(),
            mo_reference_id: None,
        };
        let a = OutboxGateway::new().send(&msg).await.unwrap();
        let b = OutboxGateway::new().send(&msg).await.unwrap();
        assert_eq!(a.status, DeliveryStatus::Delivered);
        assert!(a.gateway_message_id.starts_with("outbox-"));
        assert_ne!(a.gateway_message_id, b.gateway_message_id);
    }
}
