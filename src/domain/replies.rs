//! The texts dialogpay sends besides the partner's own reply message (Norwegian, short, and
//! every one says how to stop).

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
