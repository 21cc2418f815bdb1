//! The one place where Vipps's values become ours and ours become Vipps's. Vipps's enums keep
//! values they do not know ([`wire`] `Unknown(String)`); ours do not, so the mapping from
//! Vipps is a `TryFrom` whose error names the value, and the caller decides what an unknown
//! value means (usually: change nothing and log it).

use std::str::FromStr;

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

/// Ours for a Vipps value: every value Vipps's enum knows has the same text as ours (a test
/// holds them to it); one it does not know is refused by name.
fn ours<T: FromStr>(
    kind: &'static str,
    wire: &str,
    known: bool,
    expected: &[&str],
) -> Result<T, UnknownValue> {
    known
        .then(|| wire.parse().ok())
        .flatten()
        .ok_or_else(|| UnknownValue {
            kind,
            value: wire.to_owned(),
            expected: expected.join(", "),
        })
}

impl TryFrom<&wire::AgreementStatus> for AgreementStatus {
    type Error = UnknownValue;

    fn try_from(s: &wire::AgreementStatus) -> Result<Self, Self::Error> {
        let known = wire::AgreementStatus::KNOWN;
        ours("Vipps agreement status", s.as_str(), s.is_known(), known)
    }
}

impl TryFrom<&wire::ChargeStatus> for ChargeStatus {
    type Error = UnknownValue;

    fn try_from(s: &wire::ChargeStatus) -> Result<Self, Self::Error> {
        let known = wire::ChargeStatus::KNOWN;
        ours("Vipps charge status", s.as_str(), s.is_known(), known)
    }
}

impl TryFrom<&wire::Actor> for StopActor {
    type Error = UnknownValue;

    fn try_from(a: &wire::Actor) -> Result<Self, Self::Error> {
        ours("Vipps actor", a.as_str(), a.is_known(), wire::Actor::KNOWN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_vipps_status_is_one_of_ours_with_the_same_text() {
        for w in wire::AgreementStatus::KNOWN {
            let ours = AgreementStatus::try_from(&wire::AgreementStatus::from(*w)).unwrap();
            assert_eq!(ours.as_str(), *w);
        }
        for w in wire::ChargeStatus::KNOWN {
            let ours = ChargeStatus::try_from(&wire::ChargeStatus::from(*w)).unwrap();
            assert_eq!(ours.as_str(), *w);
        }
        for w in wire::Actor::KNOWN {
            let ours = StopActor::try_from(&wire::Actor::from(*w)).unwrap();
            assert_eq!(ours.as_str(), *w);
        }
        assert_eq!(wire::AgreementStatus::KNOWN.len(), 4);
        assert_eq!(wire::ChargeStatus::KNOWN.len(), 10);
        assert_eq!(wire::Actor::KNOWN, ["USER", "MERCHANT", "ADMIN"]);
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
