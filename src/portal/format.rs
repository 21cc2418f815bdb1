//! How the portal shows values: dates and times in Europe/Oslo (`02.12.2026 13:45`), amounts
//! as `49,90 kr`.

use chrono::NaiveDate;

/// A stored time (epoch milliseconds) in Oslo, `dd.mm.yyyy HH:MM:SS`; empty for none.
pub fn datetime(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Oslo)
                .format("%d.%m.%Y %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

pub fn date(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// `4990` → `49,90 kr`.
pub fn kroner(ore: i64) -> String {
    let sign = if ore < 0 { "-" } else { "" };
    let abs = ore.unsigned_abs();
    format!("{sign}{},{:02} kr", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_read_as_in_norway() {
        assert_eq!(kroner(4990), "49,90 kr");
        assert_eq!(kroner(-5), "-0,05 kr");
        // 2026-07-01 10:00 UTC is noon in Oslo (summer time).
        assert_eq!(datetime(1_782_900_000_000), "01.07.2026 12:00:00");
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()),
            "03.02.2026"
        );
    }
}
