//! Vipps's agreement and charge statuses and stop actors as ours. Vipps's enums keep values
//! they do not know ([`wire`] `Unknown(String)`); ours do not, so each mapping is a `TryFrom`,
//! variant by variant, whose error names an unknown value, and the caller decides what it
//! means (usually: change nothing and log it). What we store is always ours: a Vipps value
//! reaches the database only through these conversions.
//!
//! Nothing sends our statuses to Vipps (a stop is `wire::AgreementPatch::stop`), so there is
//! no way back; the tests hold the mapping to a bijection onto ours, apart from the charge
//! statuses only we have (MISSED, CREATE_FAILED).

use crate::{
    domain::{
        status::{AgreementStatus, ChargeStatus, StopActor},
        text_enum::UnknownValue,
    },
    vipps::wire,
};

/// The error for a value Vipps's enum holds as `Unknown`.
fn unknown(kind: &'static str, value: &str, known: &[&str]) -> UnknownValue {
    UnknownValue {
        kind,
        value: value.to_owned(),
        expected: known.join(", "),
    }
}

impl TryFrom<&wire::AgreementStatus> for AgreementStatus {
    type Error = UnknownValue;

    fn try_from(s: &wire::AgreementStatus) -> Result<Self, Self::Error> {
        use wire::AgreementStatus as W;
        Ok(match s {
            W::Pending => Self::Pending,
            W::Active => Self::Active,
            W::Stopped => Self::Stopped,
            W::Expired => Self::Expired,
            W::Unknown(value) => return Err(unknown("Vipps agreement status", value, W::KNOWN)),
        })
    }
}

impl TryFrom<&wire::ChargeStatus> for ChargeStatus {
    type Error = UnknownValue;

    fn try_from(s: &wire::ChargeStatus) -> Result<Self, Self::Error> {
        use wire::ChargeStatus as W;
        Ok(match s {
            W::Pending => Self::Pending,
            W::Due => Self::Due,
            W::Reserved => Self::Reserved,
            W::Charged => Self::Charged,
            W::PartiallyCaptured => Self::PartiallyCaptured,
            W::Failed => Self::Failed,
            W::Cancelled => Self::Cancelled,
            W::PartiallyRefunded => Self::PartiallyRefunded,
            W::Refunded => Self::Refunded,
            W::Processing => Self::Processing,
            W::Unknown(value) => return Err(unknown("Vipps charge status", value, W::KNOWN)),
        })
    }
}

impl TryFrom<&wire::Actor> for StopActor {
    type Error = UnknownValue;

    fn try_from(a: &wire::Actor) -> Result<Self, Self::Error> {
        use wire::Actor as W;
        Ok(match a {
            W::User => Self::User,
            W::Merchant => Self::Merchant,
            W::Admin => Self::Admin,
            W::Unknown(value) => return Err(unknown("Vipps actor", value, W::KNOWN)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashSet, fmt::Display, hash::Hash};

    use super::*;

    /// `table` pairs every value Vipps's enum knows with ours: each wire variant is in it
    /// once, maps to its row, has the same text as ours (what the API and the triggers read),
    /// and every one of ours but `ours_only` is reached exactly once.
    fn holds<W, O>(table: &[(W, O)], known: &[&str], all_ours: &[O], ours_only: &[O])
    where
        W: Display,
        O: Copy + Eq + Hash + Display + std::fmt::Debug,
        for<'a> O: TryFrom<&'a W, Error = UnknownValue>,
    {
        let wire_texts: Vec<String> = table.iter().map(|(w, _)| w.to_string()).collect();
        assert_eq!(
            wire_texts, known,
            "the table lists every known wire value in order"
        );
        for (w, o) in table {
            assert_eq!(O::try_from(w), Ok(*o), "{w}");
            assert_eq!(o.to_string(), w.to_string());
        }
        let reached: HashSet<O> = table.iter().map(|(_, o)| *o).collect();
        assert_eq!(
            reached.len(),
            table.len(),
            "two wire values map to one of ours"
        );
        let expected: HashSet<O> = all_ours
            .iter()
            .filter(|o| !ours_only.contains(o))
            .copied()
            .collect();
        assert_eq!(reached, expected);
    }

    #[test]
    fn every_vipps_agreement_status_is_one_of_ours() {
        use wire::AgreementStatus as W;
        holds(
            &[
                (W::Pending, AgreementStatus::Pending),
                (W::Active, AgreementStatus::Active),
                (W::Stopped, AgreementStatus::Stopped),
                (W::Expired, AgreementStatus::Expired),
            ],
            W::KNOWN,
            AgreementStatus::ALL,
            &[],
        );
    }

    #[test]
    fn every_vipps_charge_status_is_one_of_ours() {
        use wire::ChargeStatus as W;
        holds(
            &[
                (W::Pending, ChargeStatus::Pending),
                (W::Due, ChargeStatus::Due),
                (W::Reserved, ChargeStatus::Reserved),
                (W::Charged, ChargeStatus::Charged),
                (W::PartiallyCaptured, ChargeStatus::PartiallyCaptured),
                (W::Failed, ChargeStatus::Failed),
                (W::Cancelled, ChargeStatus::Cancelled),
                (W::PartiallyRefunded, ChargeStatus::PartiallyRefunded),
                (W::Refunded, ChargeStatus::Refunded),
                (W::Processing, ChargeStatus::Processing),
            ],
            W::KNOWN,
            ChargeStatus::ALL,
            &[ChargeStatus::Missed, ChargeStatus::CreateFailed],
        );
    }

    #[test]
    fn every_vipps_actor_is_one_of_ours() {
        use wire::Actor as W;
        holds(
            &[
                (W::User, StopActor::User),
                (W::Merchant, StopActor::Merchant),
                (W::Admin, StopActor::Admin),
            ],
            W::KNOWN,
            StopActor::ALL,
            &[],
        );
    }

    #[test]
    fn values_vipps_adds_later_are_refused_by_name() {
        let err = AgreementStatus::try_from(&wire::AgreementStatus::from("PAUSED")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown Vipps agreement status \"PAUSED\" (expected one of PENDING, ACTIVE, STOPPED, EXPIRED)"
        );
        // Our own statuses are not Vipps's: Vipps never says MISSED. UNKNOWN is transient.
        for text in ["MISSED", "CREATE_FAILED", "UNKNOWN", "charged"] {
            let err = ChargeStatus::try_from(&wire::ChargeStatus::from(text)).unwrap_err();
            assert_eq!(
                (err.kind, err.value.as_str()),
                ("Vipps charge status", text)
            );
        }
        let err = StopActor::try_from(&wire::Actor::from("SYSTEM")).unwrap_err();
        assert_eq!((err.kind, err.value.as_str()), ("Vipps actor", "SYSTEM"));
        assert_eq!(err.expected, "USER, MERCHANT, ADMIN");
    }
}
