//! Money: NOK amounts as integer øre. Parsing is exact (no floats anywhere).

use std::fmt;

/// An amount in øre (1 NOK = 100 øre).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmountOre(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be an amount in NOK such as \"49.90\"")]
    Malformed,
    #[error("at most two decimals")]
    TooManyDecimals,
    #[error("use a dot, not a comma, as the decimal separator")]
    Comma,
    #[error("amount is too large")]
    TooLarge,
}

/// Parses `"49"`, `"49.9"` or `"49.90"` NOK into øre.
pub fn parse_nok(text: &str) -> Result<AmountOre, MoneyError> {
    let text = text.trim();
    if text.contains(',') {
        return Err(MoneyError::Comma);
    }
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(frac)) {
        return Err(MoneyError::Malformed);
    }
    if frac.len() > 2 {
        return Err(MoneyError::TooManyDecimals);
    }
    if whole.len() > 12 {
        return Err(MoneyError::TooLarge);
    }
    let kroner: i64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
    let ore: i64 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| MoneyError::Malformed)?;
    kroner
        .checked_mul(100)
        .and_then(|k| k.checked_add(ore))
        .map(AmountOre)
        .ok_or(MoneyError::TooLarge)
}

impl fmt::Display for AmountOre {
    /// `4990` → `"49.90"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_nok("49"), Ok(AmountOre(4900)));
        assert_eq!(parse_nok("49.9"), Ok(AmountOre(4990)));
        assert_eq!(parse_nok("49.90"), Ok(AmountOre(4990)));
        assert_eq!(parse_nok("0.07"), Ok(AmountOre(7)));
        assert_eq!(parse_nok(" 1234.05 "), Ok(AmountOre(123405)));
    }

    #[test]
    fn rejects_what_is_not_an_amount() {
        for bad in [
            "", ".", "49.", ".5", "-5", "+5", "1e3", "4 9", "abc", "49.9.9", "0x10",
        ] {
            assert_eq!(parse_nok(bad), Err(MoneyError::Malformed), "{bad}");
        }
        assert_eq!(parse_nok("49.999"), Err(MoneyError::TooManyDecimals));
        assert_eq!(parse_nok("49,90"), Err(MoneyError::Comma));
        assert_eq!(parse_nok("9999999999999"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn formats_with_two_decimals() {
        assert_eq!(AmountOre(4990).to_string(), "49.90");
        assert_eq!(AmountOre(100).to_string(), "1.00");
        assert_eq!(AmountOre(5).to_string(), "0.05");
        assert_eq!(AmountOre(-150).to_string(), "-1.50");
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(ore in 0i64..10_000_000_000) {
            proptest::prop_assert_eq!(parse_nok(&AmountOre(ore).to_string()), Ok(AmountOre(ore)));
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = parse_nok(&s);
        }
    }
}
