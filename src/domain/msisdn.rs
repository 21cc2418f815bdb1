//! Phone numbers (MSISDNs) in E.164: `+` and 9–15 digits, the first not zero.
//!
//! [`Msisdn::parse`] accepts what people and gateways write: `+4791234567`, `4791234567`,
//! `004791234567`, a Norwegian 8-digit number `91234567` (which becomes `+4791234567`), with
//! spaces anywhere. Logs must never show a full number: use [`Msisdn::masked`]; `Debug` is
//! masked too, and there is deliberately no `Display`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The country code assumed for 8-digit national numbers.
pub const NORWAY_COUNTRY_CODE: &str = "47";

/// Why a text is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsisdnError {
    #[error("is required")]
    Empty,
    #[error("may contain only digits, spaces and a leading + or 00")]
    InvalidCharacter,
    #[error("is too short: use +47 and 8 digits, or a full international number")]
    TooShort,
    #[error("is too long: an international number has at most 15 digits")]
    TooLong,
    #[error("the country code cannot start with 0")]
    LeadingZero,
}

/// An E.164 phone number, stored as `+` followed by its digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

impl Msisdn {
    /// Parses and normalises a phone number (see the module docs for the accepted forms).
    pub fn parse(text: &str) -> Result<Self, MsisdnError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(MsisdnError::Empty);
        }
        let (international, digits) = if let Some(rest) = compact.strip_prefix('+') {
            (true, rest)
        } else if let Some(rest) = compact.strip_prefix("00") {
            (true, rest)
        } else {
            (false, compact.as_str())
        };
        if digits.is_empty() {
            return Err(MsisdnError::TooShort);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MsisdnError::InvalidCharacter);
        }
        if digits.starts_with('0') {
            return Err(MsisdnError::LeadingZero);
        }
        let full = match digits.len() {
            8 if !international => format!("+{NORWAY_COUNTRY_CODE}{digits}"),
            0..=8 => return Err(MsisdnError::TooShort),
            9..=15 => format!("+{digits}"),
            _ => return Err(MsisdnError::TooLong),
        };
        Ok(Msisdn(full))
    }

    /// `+4791234567`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+` (`4791234567`), as some gateways want them.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// `+47****4567`: the first two and the last four digits, the rest starred. Safe for logs.
    pub fn masked(&self) -> String {
        let digits = self.digits();
        let n = digits.len();
        format!("+{}{}{}", &digits[..2], "*".repeat(n - 6), &digits[n - 4..])
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Msisdn").field(&self.masked()).finish()
    }
}

impl std::str::FromStr for Msisdn {
    type Err = MsisdnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Msisdn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Msisdn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Msisdn::parse(&text)
            .map_err(|e| serde::de::Error::custom(format_args!("invalid phone number: {e}")))
    }
}

/// At most `max` characters of `text`, with every run of 6 or more digits masked except its
/// last 4 (`+4791234567` → `+******4567`), so that gateway answers are safe to log.
pub fn scrub_for_log(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().take(max).collect();
    let mut out = String::with_capacity(chars.len() + 1);
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run = i - start;
            if run >= 6 {
                out.extend(std::iter::repeat_n('*', run - 4));
                out.extend(&chars[i - 4..i]);
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepted_forms_normalise_to_e164() {
        for input in [
            "+4791234567",
            "4791234567",
            "004791234567",
            "91234567",
            " +47 912 34 567 ",
            "0047 91 23 45 67",
            "912\t34567",
        ] {
            assert_eq!(
                Msisdn::parse(input).map(|m| m.as_str().to_owned()),
                Ok("+4791234567".to_owned()),
                "{input:?}"
            );
        }
        assert_eq!(
            Msisdn::parse("+46701234567").unwrap().as_str(),
            "+46701234567"
        );
        assert_eq!(
            Msisdn::parse("+123456789012345").unwrap().as_str(),
            "+123456789012345"
        );
    }

    #[test]
    fn rejections_are_typed() {
        assert_eq!(Msisdn::parse(""), Err(MsisdnError::Empty));
        assert_eq!(Msisdn::parse("   "), Err(MsisdnError::Empty));
        assert_eq!(Msisdn::parse("+"), Err(MsisdnError::TooShort));
        assert_eq!(Msisdn::parse("00"), Err(MsisdnError::TooShort));
        assert_eq!(
            Msisdn::parse("9123456a"),
            Err(MsisdnError::InvalidCharacter)
        );
        assert_eq!(
            Msisdn::parse("+47-912-34-567"),
            Err(MsisdnError::InvalidCharacter)
        );
        assert_eq!(Msisdn::parse("ACME"), Err(MsisdnError::InvalidCharacter));
        assert_eq!(Msisdn::parse("1234567"), Err(MsisdnError::TooShort));
        assert_eq!(Msisdn::parse("+4712345"), Err(MsisdnError::TooShort));
        // 8 digits after + is not a Norwegian shorthand: the country code is missing.
        assert_eq!(Msisdn::parse("+91234567"), Err(MsisdnError::TooShort));
        assert_eq!(
            Msisdn::parse("+1234567890123456"),
            Err(MsisdnError::TooLong)
        );
        assert_eq!(Msisdn::parse("01234567"), Err(MsisdnError::LeadingZero));
        assert_eq!(Msisdn::parse("+0471234567"), Err(MsisdnError::LeadingZero));
        assert_eq!(
            Msisdn::parse("0004791234567"),
            Err(MsisdnError::LeadingZero)
        );
        assert_eq!(
            Msisdn::parse("٩١٢٣٤٥٦٧"),
            Err(MsisdnError::InvalidCharacter)
        );
    }

    #[test]
    fn masked_hides_the_middle() {
        let m = Msisdn::parse("91234567").unwrap();
        assert_eq!(m.masked(), "+47****4567");
        assert_eq!(format!("{m:?}"), "Msisdn(\"+47****4567\")");
        assert_eq!(m.digits(), "4791234567");
        let long = Msisdn::parse("+123456789012345").unwrap();
        assert_eq!(long.masked(), "+12*********2345");
    }

    #[test]
    fn serde_as_a_string() {
        let m = Msisdn::parse("+4791234567").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"+4791234567\"");
        let back: Msisdn = serde_json::from_str("\"0047 912 34 567\"").unwrap();
        assert_eq!(back, m);
        let err = serde_json::from_str::<Msisdn>("\"12\"").unwrap_err();
        assert!(err.to_string().contains("too short"), "{err}");
        assert!(serde_json::from_str::<Msisdn>("4791234567").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            if let Ok(m) = Msisdn::parse(&s) {
                prop_assert!(m.as_str().starts_with('+'));
                prop_assert!((10..=16).contains(&m.as_str().len()));
                prop_assert!(m.masked().len() == m.as_str().len());
                prop_assert_eq!(Msisdn::parse(m.as_str()), Ok(m.clone()));
            }
        }

        #[test]
        fn digit_strings_round_trip(d in "[1-9][0-9]{8,14}") {
            let m = Msisdn::parse(&format!("+{d}")).unwrap();
            prop_assert_eq!(m.digits(), d.as_str());
            let masked = m.masked();
            prop_assert_eq!(masked.matches('*').count(), d.len() - 6);
            prop_assert!(masked.ends_with(&d[d.len() - 4..]));
        }
    }

    #[test]
    fn scrubbing_masks_numbers_and_shortens() {
        assert_eq!(
            scrub_for_log("bad destination +4791234567, code 400", 100),
            "bad destination +******4567, code 400"
        );
        assert_eq!(scrub_for_log("12345", 100), "12345");
        assert_eq!(scrub_for_log("abcdef", 3), "abc…");
        assert_eq!(scrub_for_log("ø91234567", 5), "ø9123…");
    }
}
