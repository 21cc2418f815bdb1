//! The events a partner's own systems can subscribe to (outgoing webhooks), the body each is
//! sent as, and the retry schedule of a delivery.

use std::time::Duration;

use serde_json::{Value, json};

use super::text_enum::text_enum;

text_enum! {
    /// What happened, as named in a webhook's `type` and in an endpoint's subscriptions.
    pub enum EventType as "webhook event type" {
        /// The user confirmed in Vipps and paid the first period.
        AgreementActivated => "agreement.activated",
        /// Stopped, by the user, the merchant or Vipps (`actor`).
        AgreementStopped => "agreement.stopped",
        /// A period's charge was created in Vipps.
        ChargeCreated => "charge.created",
        /// Vipps captured the money.
        ChargeCharged => "charge.charged",
        /// Vipps gave up on the charge (`reason`).
        ChargeFailed => "charge.failed",
        /// Money was given back (in part or in full).
        ChargeRefunded => "charge.refunded",
        /// A keyword message arrived for one of the partner's dialogues.
        MessageReceived => "message.received",
        /// A user joined a CRM group.
        MemberJoined => "member.joined",
        /// A member left a CRM group.
        MemberLeft => "member.left",
    }
}

text_enum! {
    /// Where one delivery of one event to one endpoint is.
    pub enum DeliveryStatus as "webhook delivery status" {
        /// Waiting for its first or next attempt.
        Pending => "PENDING",
        /// The endpoint answered 2xx.
        Delivered => "DELIVERED",
        /// Every attempt of the schedule failed, or the endpoint was disabled or removed.
        Failed => "FAILED",
    }
}

/// The wait before each retry: the first attempt is at once, the last about three days after
/// it (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 24 h: 65.6 hours in all).
pub const RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(24 * 3600),
];

/// Attempts of one delivery, the first included.
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32 + 1;

/// How long an endpoint may fail every delivery before it is disabled (the partner is told in
/// the portal and can enable it again).
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);

/// An attempt that has not answered in this time failed (and is retried).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait after failed attempt `attempt` (1 for the first), or `None` when it was the last.
pub fn retry_after(attempt: u32) -> Option<Duration> {
    RETRY_SCHEDULE
        .get(usize::try_from(attempt).ok()?.checked_sub(1)?)
        .copied()
}

/// The body sent for an event: `{"type", "timestamp", "data"}`, as the Standard Webhooks
/// specification suggests. `timestamp` is when it happened (`at_ms`, as [`rfc3339`]).
pub fn body(event_type: EventType, at_ms: i64, data: Value) -> Value {
    json!({
        "type": event_type.as_str(),
        "timestamp": rfc3339(at_ms),
        "data": data,
    })
}

/// Epoch milliseconds as event bodies write times: RFC 3339, UTC, milliseconds.
pub fn rfc3339(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An endpoint's subscriptions as stored: the event types, space-separated, in [`EventType::ALL`]'s
/// order without repeats.
pub fn subscriptions_text(types: &[EventType]) -> String {
    EventType::ALL
        .iter()
        .filter(|t| types.contains(t))
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads what [`subscriptions_text`] wrote.
pub fn parse_subscriptions(
    text: &str,
) -> Result<Vec<EventType>, crate::domain::text_enum::UnknownValue> {
    text.split_whitespace().map(EventType::try_from).collect()
}

/// An address on this machine or a private network: in production no event is posted there
/// (by URL, refused when the endpoint is saved; by what a name resolves to, when a delivery
/// connects).
pub fn is_internal_ip(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_ip(IpAddr::V4(v4)),
            None => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days_and_then_stops() {
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(60 * 3600) && total < Duration::from_secs(80 * 3600));
        assert_eq!(retry_after(1), Some(Duration::from_secs(5)));
        assert_eq!(
            retry_after(MAX_ATTEMPTS - 1),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!(retry_after(MAX_ATTEMPTS), None);
        assert_eq!(retry_after(0), None);
    }

    #[test]
    fn the_delivery_job_has_one_attempt_more_than_the_schedule_has_waits() {
        use dialogpay_jobs::JobSpec;
        assert_eq!(
            MAX_ATTEMPTS,
            dialogpay_jobs::webhooks::DeliverWebhook::MAX_ATTEMPTS
        );
    }

    #[test]
    fn subscriptions_read_back_in_one_order_without_repeats() {
        use EventType::*;
        let text = subscriptions_text(&[ChargeFailed, AgreementActivated, ChargeFailed]);
        assert_eq!(text, "agreement.activated charge.failed");
        assert_eq!(
            parse_subscriptions(&text).unwrap(),
            [AgreementActivated, ChargeFailed]
        );
        assert!(parse_subscriptions("charge.paid").is_err());
        assert_eq!(parse_subscriptions("").unwrap(), []);
    }

    #[test]
    fn a_body_names_its_type_and_time() {
        let b = body(
            EventType::ChargeCharged,
            1_764_000_000_123,
            json!({"charge_id": "chg_1"}),
        );
        assert_eq!(b["type"], "charge.charged");
        assert_eq!(b["timestamp"], "2025-11-24T16:00:00.123Z");
        assert_eq!(b["data"]["charge_id"], "chg_1");
    }
}
