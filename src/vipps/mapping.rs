//! The one place where Vipps's values become ours and ours become Vipps's. Vipps's enums keep
//! values they do not know ([`wire`] `Unknown(String)`); ours do not, so the mapping from
//! Vipps is a `TryFrom` whose error names the value, and the caller decides what an unknown
//! value means (usually: change nothing and log it).

use crate::domain::{
    period::Period,
    status::{AgreementStatus, ChargeStatus, StopActor},
    text_enum::UnknownValue,
};

use super::wire;

/// Vipps's billing interval unit of one of our periods (with count 1).
impl From<Period> for wire::IntervalUnit {
    fn from(p: Period) -> Self {
        match p {
            Period::Week => wire::IntervalUnit::Week,
            Period::Month => wire::IntervalUnit::Month,
            Period::Year => wire::IntervalUnit::Year,
        }
    }
}

fn unknown(kind: &'static str, value: &str, expected: &[&str]) -> UnknownValue {
    UnknownValue {
        kind,
        value: value.to_owned(),
        expected: expected.join(", "),
    }
}

impl TryFrom<&wire::AgreementStatus> for AgreementStatus {
    type Error = UnknownValue;

    fn try_from(s: &wire::AgreementStatus) -> Result<Self, Self::Error> {
        Ok(match s {
            wire::AgreementStatus::Pending => AgreementStatus::Pending,
            wire::AgreementStatus::Active => AgreementStatus::Active,
            wire::AgreementStatus::Stopped => AgreementStatus::Stopped,
            wire::AgreementStatus::Expired => AgreementStatus::Expired,
            wire::AgreementStatus::Unknown(other) => {
                return Err(unknown(
                    "Vipps agreement status",
                    other,
                    &["PENDING", "ACTIVE", "STOPPED", "EXPIRED"],
                ));
            }
        })
    }
}

impl TryFrom<&wire::ChargeStatus> for ChargeStatus {
    type Error = UnknownValue;

    fn try_from(s: &wire::ChargeStatus) -> Result<Self, Self::Error> {
        use wire::ChargeStatus as W;
        Ok(match s {
            W::Pending => ChargeStatus::Pending,
            W::Due => ChargeStatus::Due,
            W::Reserved => ChargeStatus::Reserved,
            W::Charged => ChargeStatus::Charged,
            W::PartiallyCaptured => ChargeStatus::PartiallyCaptured,
            W::Failed => ChargeStatus::Failed,
            W::Cancelled => ChargeStatus::Cancelled,
            W::PartiallyRefunded => ChargeStatus::PartiallyRefunded,
            W::Refunded => ChargeStatus::Refunded,
            W::Processing => ChargeStatus::Processing,
            W::Unknown(other) => {
                return Err(unknown(
                    "Vipps charge status",
                    other,
                    &[
                        "PENDING",
                        "DUE",
                        "RESERVED",
                        "CHARGED",
                        "PARTIALLY_CAPTURED",
                        "FAILED",
                        "CANCELLED",
                        "PARTIALLY_REFUNDED",
                        "REFUNDED",
                        "PROCESSING",
                    ],
                ));
            }
        })
    }
}

impl TryFrom<&wire::Actor> for StopActor {
    type Error = UnknownValue;

    fn try_from(a: &wire::Actor) -> Result<Self, Self::Error> {
        Ok(match a {
            wire::Actor::User => StopActor::User,
            wire::Actor::Merchant => StopActor::Merchant,
            wire::Actor::Admin => StopActor::Admin,
            wire::Actor::Unknown(other) => {
                return Err(unknown(
                    "Vipps actor",
                    other,
                    &["USER", "MERCHANT", "ADMIN"],
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_vipps_status_is_one_of_ours_with_the_same_text() {
        for w in ["PENDING", "ACTIVE", "STOPPED", "EXPIRED"] {
            let ours = AgreementStatus::try_from(&wire::AgreementStatus::from(w)).unwrap();
            assert_eq!(ours.as_str(), w);
        }
        for w in [
            "PENDING",
            "DUE",
            "RESERVED",
            "CHARGED",
            "PARTIALLY_CAPTURED",
            "FAILED",
            "CANCELLED",
            "PARTIALLY_REFUNDED",
            "REFUNDED",
            "PROCESSING",
        ] {
            let ours = ChargeStatus::try_from(&wire::ChargeStatus::from(w)).unwrap();
            assert_eq!(ours.as_str(), w);
        }
        for w in ["USER", "MERCHANT", "ADMIN"] {
            let ours = StopActor::try_from(&wire::Actor::from(w)).unwrap();
            assert_eq!(ours.as_str(), w);
        }
    }

    #[test]
    fn values_vipps_adds_later_are_refused_by_name() {
        let err = AgreementStatus::try_from(&wire::AgreementStatus::from("PAUSED")).unwrap_err();
        assert_eq!(err.value, "PAUSED");
        assert!(err.to_string().contains("\"PAUSED\""), "{err}");
        // Our own statuses are not Vipps's: Vipps never says MISSED.
        assert!(ChargeStatus::try_from(&wire::ChargeStatus::from("MISSED")).is_err());
        assert!(ChargeStatus::try_from(&wire::ChargeStatus::from("UNKNOWN")).is_err());
        assert!(StopActor::try_from(&wire::Actor::from("SYSTEM")).is_err());
    }

    #[test]
    fn periods_are_vipps_units() {
        assert_eq!(
            wire::IntervalUnit::from(Period::Week),
            wire::IntervalUnit::Week
        );
        assert_eq!(
            wire::IntervalUnit::from(Period::Month),
            wire::IntervalUnit::Month
        );
        assert_eq!(
            wire::IntervalUnit::from(Period::Year),
            wire::IntervalUnit::Year
        );
    }
}
