//! How the portal shows values: dates and times in Europe/Oslo (`02.12.2026 13:45`), amounts
//! as `49,90 kr`, query-string values percent-encoded.

use chrono::NaiveDate;

use crate::{domain::money::AmountOre, portal::errors::PortalError};

/// A stored time (epoch milliseconds) in Oslo, `dd.mm.yyyy HH:MM:SS`; empty for none.
pub fn datetime(ms: i64) -> String {
    oslo(ms, "%d.%m.%Y %H:%M:%S")
}

/// A stored time (epoch milliseconds) in Oslo, `HH:MM`.
pub fn hour_minute(ms: i64) -> String {
    oslo(ms, "%H:%M")
}

fn oslo(ms: i64, pattern: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Oslo)
                .format(pattern)
                .to_string()
        })
        .unwrap_or_default()
}

/// A `datetime-local` input's `YYYY-MM-DDTHH:MM` (seconds optional) read as Oslo time, as epoch
/// milliseconds; `None` for anything else (or a time the clock change skips).
pub fn parse_oslo_datetime_local(text: &str) -> Option<i64> {
    let text = text.trim();
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .ok()?;
    naive
        .and_local_timezone(chrono_tz::Europe::Oslo)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// `49,90 kr`, with a no-break space between thousands.
pub fn nok(ore: i64) -> String {
    let plain = AmountOre(ore).to_string();
    let (int, dec) = plain.split_once('.').unwrap_or((&plain, "00"));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{dec}\u{a0}kr")
}

/// A query-string value, percent-encoded.
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The non-blank fields of a filter as a query string (`a=1&b=x%20y`), values trimmed and
/// percent-encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", url_encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
}

/// A form field's text, trimmed; `None` when blank ("any" in a filter).
pub fn non_empty(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A filter's date field (`yyyy-mm-dd`, as `<input type="date">` sends it); `None` when blank.
pub fn day(text: &str, name: &str) -> Result<Option<NaiveDate>, PortalError> {
    match non_empty(text) {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| PortalError::BadRequest(format!("{name} is not a date (yyyy-mm-dd)"))),
    }
}

/// `dd.mm.yyyy`.
pub fn date(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_read_as_in_norway() {
        assert_eq!(nok(4990), "49,90\u{a0}kr");
        assert_eq!(nok(12_345_678), "123\u{a0}456,78\u{a0}kr");
        // 2026-07-01 10:00 UTC is noon in Oslo (summer time).
        assert_eq!(
            parse_oslo_datetime_local("2026-07-01T12:00"),
            Some(1_782_900_000_000)
        );
        assert_eq!(
            parse_oslo_datetime_local("2026-07-01 12:00"),
            Some(1_782_900_000_000)
        );
        assert_eq!(parse_oslo_datetime_local("yesterday"), None);
        assert_eq!(datetime(1_782_900_000_000), "01.07.2026 12:00:00");
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()),
            "03.02.2026"
        );
    }
}
