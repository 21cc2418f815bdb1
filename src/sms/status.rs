//! [`DeliveryStatus`] of an outbound message and its two laws: statuses only move forward
//! ([`DeliveryStatus::merge`]), and a split message is delivered only when every part is
//! ([`combine_parts`]).
//!
//! Order: `queued` < `sent` < the final statuses `delivered`, `failed`, `expired`. Gateways
//! retry delivery reports for days and may deliver them out of order, so a late "sent" after
//! "delivered" must change nothing, and once a message is final its status is settled.

use serde::{Deserialize, Serialize};

/// Where an outbound SMS is on its way to the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Accepted by the gateway, not yet handed to the operator.
    Queued,
    /// Handed to the operator; no handset confirmation yet.
    Sent,
    /// The handset has it (final).
    Delivered,
    /// The operator or gateway gave up (final).
    Failed,
    /// Validity ran out before delivery (final).
    Expired,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        Self::Queued,
        Self::Sent,
        Self::Delivered,
        Self::Failed,
        Self::Expired,
    ];

    /// `queued`, `sent`, … (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Delivered, failed and expired never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed | Self::Expired)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sent => 1,
            Self::Delivered | Self::Failed | Self::Expired => 2,
        }
    }

    /// The status after learning `newer`: forward only. A final status is kept (the first
    /// final status wins; a later, contradicting final report is ignored), and a temporary
    /// status never replaces a more advanced one.
    #[must_use]
    pub fn merge(self, newer: DeliveryStatus) -> DeliveryStatus {
        if self.is_final() || newer.rank() < self.rank() {
            self
        } else {
            newer
        }
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a whole message from the (merged) status of each part it has reports for.
///
/// `parts` holds one status per part heard of; `expected_parts` is how many parts the message
/// has (its segment count; 0 = unknown, take `parts.len()`). Parts without a report yet count
/// as `queued`. Rules: any `failed` part → `failed`; else any `expired` → `expired`; else
/// `delivered` only when every expected part is delivered; else the least advanced status.
pub fn combine_parts(parts: &[DeliveryStatus], expected_parts: usize) -> DeliveryStatus {
    if parts.contains(&DeliveryStatus::Failed) {
        return DeliveryStatus::Failed;
    }
    if parts.contains(&DeliveryStatus::Expired) {
        return DeliveryStatus::Expired;
    }
    if parts.is_empty() {
        return DeliveryStatus::Queued;
    }
    if parts.len() < expected_parts {
        return DeliveryStatus::Queued;
    }
    parts
        .iter()
        .copied()
        .min_by_key(|s| match s {
            DeliveryStatus::Queued => 0,
            DeliveryStatus::Sent => 1,
            _ => 2,
        })
        .unwrap_or(DeliveryStatus::Queued)
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn serde_and_names() {
        for s in DeliveryStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryStatus::parse("Delivered"), None);
        assert!(serde_json::from_str::<DeliveryStatus>("\"DELIVERED\"").is_err());
    }

    #[test]
    fn finality() {
        assert!(!Queued.is_final() && !Sent.is_final());
        assert!(Delivered.is_final() && Failed.is_final() && Expired.is_final());
    }

    #[test]
    fn merge_moves_forward_only() {
        assert_eq!(Queued.merge(Sent), Sent);
        assert_eq!(Sent.merge(Queued), Sent);
        assert_eq!(Sent.merge(Delivered), Delivered);
        assert_eq!(Queued.merge(Failed), Failed);
        assert_eq!(Delivered.merge(Sent), Delivered);
        assert_eq!(Delivered.merge(Queued), Delivered);
        assert_eq!(Failed.merge(Delivered), Failed);
        assert_eq!(Expired.merge(Delivered), Expired);
        assert_eq!(Sent.merge(Sent), Sent);
    }

    #[test]
    fn parts_combine() {
        assert_eq!(combine_parts(&[], 0), Queued);
        assert_eq!(combine_parts(&[], 2), Queued);
        assert_eq!(combine_parts(&[Delivered], 1), Delivered);
        assert_eq!(combine_parts(&[Delivered], 0), Delivered);
        // One of two parts delivered: not delivered yet.
        assert_eq!(combine_parts(&[Delivered], 2), Queued);
        assert_eq!(combine_parts(&[Delivered, Sent], 2), Sent);
        assert_eq!(combine_parts(&[Delivered, Delivered], 2), Delivered);
        assert_eq!(
            combine_parts(&[Delivered, Delivered, Delivered], 2),
            Delivered
        );
        assert_eq!(combine_parts(&[Queued, Sent, Delivered], 3), Queued);
        assert_eq!(combine_parts(&[Delivered, Failed], 2), Failed);
        assert_eq!(combine_parts(&[Failed], 3), Failed);
        assert_eq!(combine_parts(&[Expired, Sent], 2), Expired);
        assert_eq!(combine_parts(&[Expired, Failed], 2), Failed);
    }

    fn status() -> impl Strategy<Value = DeliveryStatus> {
        proptest::sample::select(DeliveryStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn merge_never_leaves_a_final_status(a in status(), bs in proptest::collection::vec(status(), 0..8)) {
            let end = bs.iter().fold(a, |acc, b| acc.merge(*b));
            if a.is_final() {
                prop_assert_eq!(end, a);
            }
            if bs.iter().any(|s| s.is_final()) {
                prop_assert!(end.is_final());
            }
        }

        #[test]
        fn combined_delivered_means_all_delivered(parts in proptest::collection::vec(status(), 0..5), expected in 0usize..5) {
            let c = combine_parts(&parts, expected);
            if c == Delivered {
                prop_assert!(parts.iter().all(|p| *p == Delivered));
                prop_assert!(parts.len() >= expected.max(1));
            }
            if parts.iter().any(|p| matches!(p, Failed | Expired)) {
                prop_assert!(matches!(c, Failed | Expired));
            }
        }
    }
}
