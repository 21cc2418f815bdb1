//! Wire types: the JSON bodies of the Recurring v3, access-token and Webhooks APIs, with the
//! exact camelCase names. Shared by the client and the simulator.
//!
//! Every enum keeps values it does not know as `Unknown(String)` instead of failing, because
//! Vipps adds values over time. Request types deny unknown fields (only the simulator parses
//! them); response types ignore unknown fields. Amounts are integer minor units (øre).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Declares a string enum whose unknown values deserialize to `Unknown(String)`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this version does not know.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows, as sent on the wire.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown(s) => s,
                }
            }

            /// False for `Unknown`.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from(s.as_str()))
            }
        }
    };
}

mod agreement;
mod charge;
mod problem;
mod token;
mod webhooks;

pub use agreement::*;
pub use charge::*;
pub use problem::*;
pub use token::*;
pub use webhooks::*;

/// Amount in minor units (øre for NOK).
pub type Ore = i64;

/// An MSISDN such as `4791234567`. Its `Debug` shows only the last two digits, so request
/// structs can be logged without leaking phone numbers.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(pub String);

impl PhoneNumber {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `******67`: safe for logs.
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        let tail: String = self.0.chars().skip(n.saturating_sub(2)).collect();
        format!("{}{tail}", "*".repeat(n.saturating_sub(2)))
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// Accepts `"3600"` or `3600` (the token API documents strings; some gateways send numbers).
pub(crate) fn de_u64_flex<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex {
        N(u64),
        F(f64),
        S(String),
    }
    match Flex::deserialize(d)? {
        Flex::N(n) => Ok(n),
        Flex::F(f) if f >= 0.0 => Ok(f as u64),
        Flex::F(f) => Err(serde::de::Error::custom(format!("negative number {f}"))),
        Flex::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("not a number: {s:?}"))),
    }
}

/// Optional variant of [`de_u64_flex`].
pub(crate) fn de_opt_u64_flex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "de_u64_flex")] u64);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_survive_a_round_trip() {
        let s: ChargeStatus = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(s, ChargeStatus::Unknown("SOMETHING_NEW".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"SOMETHING_NEW\"");
        let s: ChargeStatus = serde_json::from_str("\"PARTIALLY_CAPTURED\"").unwrap();
        assert_eq!(s, ChargeStatus::PartiallyCaptured);
        let r: FailureReason = serde_json::from_str("\"insufficient_funds\"").unwrap();
        assert!(!r.is_known());
        let p: PricingType = serde_json::from_str("\"FLEXIBLE\"").unwrap();
        assert_eq!(p, PricingType::Flexible);
        let p: PricingType = serde_json::from_str("\"PAY_AS_YOU_GO\"").unwrap();
        assert!(!p.is_known());
    }

    #[test]
    fn phone_numbers_are_masked_in_debug() {
        let p = PhoneNumber::new("4791234567");
        assert_eq!(format!("{p:?}"), "PhoneNumber(********67)");
        let req = ForceAcceptRequest { phone_number: p };
        assert!(!format!("{req:?}").contains("4791234567"));
    }
}
