//! LINK Mobility result codes: the MT answer's and the delivery report's `resultCode`.
//!
//! Per LINK's MT+DLR documentation: `1005` queued and `1000` sent are temporary, `1001`
//! delivered is final, `1002` expired, `1003` deleted, `1004` mobile full, `1006` not
//! delivered and the error codes `0`–`6`, `104`, `105` are final failures. The send endpoint
//! refuses requests with `106000`–`106301` (bad credentials `106100`/`106101`, bad platform ids
//! `106200`/`106201`). A code we do not know is treated as a final failure, with its number in
//! the reason, rather than refused: LINK would otherwise retry the report for two days.

use crate::sms::status::DeliveryStatus;

pub const QUEUED: i64 = 1005;
pub const SENT: i64 = 1000;
pub const DELIVERED: i64 = 1001;
pub const EXPIRED: i64 = 1002;
pub const DELETED: i64 = 1003;
pub const MOBILE_FULL: i64 = 1004;
pub const NOT_DELIVERED: i64 = 1006;
pub const BAD_USERNAME: i64 = 106_100;
pub const BAD_PASSWORD: i64 = 106_101;
pub const BAD_PLATFORM_ID: i64 = 106_200;
pub const BAD_PLATFORM_PARTNER_ID: i64 = 106_201;
/// A generic request error in the send range (the fake gateway uses it for bad bodies).
pub const INVALID_REQUEST: i64 = 106_000;

/// The status a `resultCode` means.
pub fn status(code: i64) -> DeliveryStatus {
    match code {
        QUEUED => DeliveryStatus::Queued,
        SENT => DeliveryStatus::Sent,
        DELIVERED => DeliveryStatus::Delivered,
        EXPIRED => DeliveryStatus::Expired,
        _ => DeliveryStatus::Failed,
    }
}

/// A request error of the send endpoint (106000–106999).
pub fn is_request_error(code: i64) -> bool {
    (106_000..=106_999).contains(&code)
}

/// A code the send endpoint may answer with for an accepted message.
pub fn is_accepted(code: i64) -> bool {
    matches!(code, QUEUED | SENT | DELIVERED)
}

/// Words for a code, for reasons and logs.
pub fn describe(code: i64) -> String {
    let text = match code {
        QUEUED => "queued",
        SENT => "sent",
        DELIVERED => "delivered",
        EXPIRED => "expired",
        DELETED => "deleted",
        MOBILE_FULL => "mobile full",
        NOT_DELIVERED => "not delivered",
        0..=6 | 104 | 105 => "delivery error",
        BAD_USERNAME | BAD_PASSWORD => "invalid credentials",
        BAD_PLATFORM_ID => "invalid platformId",
        BAD_PLATFORM_PARTNER_ID => "invalid platformPartnerId",
        c if is_request_error(c) => "request refused",
        _ => "unknown result code",
    };
    format!("{text} (LINK {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(status(1005), DeliveryStatus::Queued);
        assert_eq!(status(1000), DeliveryStatus::Sent);
        assert_eq!(status(1001), DeliveryStatus::Delivered);
        assert_eq!(status(1002), DeliveryStatus::Expired);
        for c in [1003, 1004, 1006, 0, 1, 6, 104, 105, 999_999, -1] {
            assert_eq!(status(c), DeliveryStatus::Failed, "{c}");
        }
        assert!(is_request_error(106_000) && is_request_error(106_301));
        assert!(!is_request_error(1005));
        assert!(is_accepted(1005) && !is_accepted(1006));
        assert_eq!(describe(1004), "mobile full (LINK 1004)");
        assert_eq!(describe(106_101), "invalid credentials (LINK 106101)");
        assert_eq!(describe(42), "unknown result code (LINK 42)");
    }
}
