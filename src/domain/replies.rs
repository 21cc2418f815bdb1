//! The texts dialogpay sends besides the partner's own reply message (Norwegian, short, and
//! every one says how to stop, or how to go on).

use chrono::NaiveDate;

use super::keyword::MAX_PAUSE_PERIODS;

fn day(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// `a`, `a og b`, `a, b og c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} og {last}", rest.join(", ")),
    }
}

/// A keyword that exists on this number but is not live today.
pub fn not_live(keyword: &str) -> String {
    format!("Beklager, {keyword} er ikke aktiv akkurat nå. Ingen avtale er opprettet.")
}

/// The phone already has an ACTIVE agreement on the dialogue.
pub fn already_member(keyword: &str, sender: &str) -> String {
    format!(
        "Du har allerede en aktiv avtale for {keyword}. Send STOPP til {sender} for å avslutte."
    )
}

/// STOPP was received and handled.
pub fn stop_confirmation(stopped: usize, sender: &str) -> String {
    if stopped == 0 {
        format!("Du har ingen aktive avtaler på {sender}. Ingen trekk vil bli gjort.")
    } else {
        format!("Du er meldt av. Avtalen er stoppet og ingen nye trekk vil bli gjort. Mvh {sender}")
    }
}

/// HJELP: the partner's own text, or a default naming the partner.
pub fn help(partner_name: &str, help_text: Option<&str>, sender: &str) -> String {
    match help_text.filter(|t| !t.trim().is_empty()) {
        Some(t) => t.to_owned(),
        None => format!(
            "Denne tjenesten leveres av {partner_name}. Send STOPP til {sender} for å avslutte en fast avtale."
        ),
    }
}

/// PAUSE on one agreement: the dates skipped and the next charge.
pub fn pause_confirmation(
    skipped: &[NaiveDate],
    next_charge: Option<NaiveDate>,
    sender: &str,
) -> String {
    let dates: Vec<String> = skipped.iter().copied().map(day).collect();
    let skipped = match dates.len() {
        0 => "Ingen trekk hoppes over før avtalen slutter".to_owned(),
        1 => format!("Trekket {} blir hoppet over", dates[0]),
        _ => format!("Trekkene {} blir hoppet over", and_list(&dates)),
    };
    let next = match next_charge {
        Some(d) => format!("neste trekk er {}", day(d)),
        None => "avtalen slutter før neste trekk".to_owned(),
    };
    format!(
        "Avtalen er satt på pause. {skipped}, {next}. Send START til {sender} for å fortsette før."
    )
}

/// PAUSE on several agreements at once.
pub fn pause_several(agreements: usize, periods: u32, sender: &str) -> String {
    format!(
        "Dine {agreements} avtaler på {sender} er satt på pause: de neste {periods} trekkene blir hoppet over. Send START til {sender} for å fortsette før."
    )
}

/// PAUSE with no active agreement on the number.
pub fn pause_nothing(sender: &str) -> String {
    format!("Du har ingen aktive avtaler på {sender}. Ingenting er satt på pause.")
}

/// PAUSE with a number that is not 1 to [`MAX_PAUSE_PERIODS`].
pub fn pause_how(sender: &str) -> String {
    format!(
        "Send PAUSE og et tall fra 1 til {MAX_PAUSE_PERIODS} til {sender}, for eksempel PAUSE 2 for å hoppe over de to neste trekkene. Ingenting er endret."
    )
}

/// START that ended a pause.
pub fn resume_confirmation(next_charge: Option<NaiveDate>, sender: &str) -> String {
    match next_charge {
        Some(d) => format!(
            "Avtalen er i gang igjen. Neste trekk er {}. Send STOPP til {sender} for å avslutte.",
            day(d)
        ),
        None => format!("Avtalen er i gang igjen, men slutter før neste trekk. Mvh {sender}"),
    }
}

/// START with nothing paused.
pub fn resume_nothing(sender: &str) -> String {
    format!("Du har ingen avtaler på pause på {sender}. Ingenting er endret.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sms_text::{Encoding, analyze};

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, m, day).unwrap()
    }

    #[test]
    fn a_pause_names_its_dates_and_the_next_charge() {
        assert_eq!(
            pause_confirmation(&[d(6, 10), d(7, 10), d(8, 10)], Some(d(9, 10)), "2160"),
            "Avtalen er satt på pause. Trekkene 10.06.2027, 10.07.2027 og 10.08.2027 blir hoppet over, neste trekk er 10.09.2027. Send START til 2160 for å fortsette før."
        );
        assert_eq!(
            pause_confirmation(&[d(6, 10)], None, "2160"),
            "Avtalen er satt på pause. Trekket 10.06.2027 blir hoppet over, avtalen slutter før neste trekk. Send START til 2160 for å fortsette før."
        );
    }

    #[test]
    fn every_text_is_gsm7() {
        let texts = [
            pause_confirmation(&[d(6, 10)], Some(d(7, 10)), "2160"),
            pause_several(2, 3, "2160"),
            pause_nothing("2160"),
            pause_how("2160"),
            resume_confirmation(Some(d(7, 10)), "2160"),
            resume_confirmation(None, "2160"),
            resume_nothing("2160"),
        ];
        for text in texts {
            assert_eq!(analyze(&text).encoding, Encoding::Gsm7, "{text}");
        }
    }
}
