//! "Try it", only while payments go to the Vipps simulator: a partner texts one of its own
//! dialogues from a test phone number and watches the conversation and the agreement. The
//! SMS goes in exactly as the gateway's webhook puts it in ([`ingest::inbound_sms`], provider
//! [`PROVIDER`]), so the keyword, the draft and the reply take the same jobs as a real one.

use rand::Rng;

use crate::{
    db::messages::Message,
    domain::msisdn::Msisdn,
    service::{
        FieldProblem, PartnerActor, ServiceError, ServiceResult,
        agreements::{self, AgreementDetail},
        dialogues::{self, DialogueWithState},
        ingest,
        messages::{self, MessageQuery},
        page::PageRequest,
    },
    sms::InboundSms,
    state::AppState,
};

/// The provider test messages are stored under (their gateway ids are ours: `try-…`).
pub const PROVIDER: &str = "portal-try";

/// How many of the phone's latest messages the conversation shows.
const SHOWN: u32 = 20;

/// A test phone's conversation with the partner and its agreement on the dialogue.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub dialogue: DialogueWithState,
    pub phone: Msisdn,
    /// Oldest first.
    pub messages: Vec<Message>,
    pub agreement: Option<AgreementDetail>,
}

/// Refuses everything unless payments are simulated (a real test would charge a real card).
fn available(state: &AppState) -> ServiceResult<()> {
    if state.simulated_vipps() {
        Ok(())
    } else {
        Err(ServiceError::NotFound("try it"))
    }
}

/// Whether "Try it" exists here at all.
pub fn offered(state: &AppState) -> bool {
    available(state).is_ok()
}

/// The partner's dialogue to try, or 404 (another partner's, or payments are not simulated).
pub async fn dialogue(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<DialogueWithState> {
    available(state)?;
    dialogues::get(state, actor, id).await
}

/// A Norwegian mobile number nobody is likely to have used here yet: `+47 4` and 7 random digits.
pub fn fresh_phone() -> String {
    let n: u32 = rand::thread_rng().gen_range(0..10_000_000);
    format!(
        "+47 4{:02} {:02} {:03}",
        n / 100_000,
        n / 1_000 % 100,
        n % 1_000
    )
}

/// The sender's number and the text, or every problem of the two at once.
fn checked(phone: &str, text: &str) -> ServiceResult<Msisdn> {
    let mut problems = Vec::new();
    let from = Msisdn::parse(phone)
        .map_err(|e| problems.push(FieldProblem::new("phone", e.to_string())))
        .ok();
    if text.trim().is_empty() {
        problems.push(FieldProblem::new("text", "is required"));
    }
    match from {
        Some(from) if problems.is_empty() => Ok(from),
        _ => Err(ServiceError::Invalid(problems)),
    }
}

/// Texts `text` from `phone` to the dialogue's sender, as the SMS gateway would deliver it.
pub async fn send(
    state: &AppState,
    actor: &PartnerActor,
    dialogue_id: &str,
    phone_text: &str,
    text: &str,
) -> ServiceResult<Msisdn> {
    let d = dialogue(state, actor, dialogue_id).await?;
    let from = checked(phone_text, text)?;
    let sms = InboundSms {
        gateway_message_id: format!("try-{}", ulid::Ulid::new()),
        from: from.clone(),
        to: d.dialogue.sender.clone(),
        text: text.trim().to_owned(),
        received_at: chrono::Utc::now(),
    };
    ingest::inbound_sms(state, PROVIDER, &sms).await?;
    tracing::info!(sms.from = %from.masked(), dialogue = %dialogue_id, "test SMS sent from the portal");
    Ok(from)
}

/// The conversation of `phone` with the partner, and its newest agreement on the dialogue.
pub async fn conversation(
    state: &AppState,
    actor: &PartnerActor,
    dialogue_id: &str,
    phone_text: &str,
) -> ServiceResult<Conversation> {
    let dialogue = dialogue(state, actor, dialogue_id).await?;
    let phone =
        Msisdn::parse(phone_text).map_err(|e| ServiceError::BadInput(format!("phone {e}")))?;
    let query = MessageQuery {
        phone: Some(phone.as_str().to_owned()),
        ..MessageQuery::default()
    };
    let page = PageRequest::new(Some(SHOWN), None)?;
    let mut messages = messages::list(state, actor, &query, &page).await?.items;
    messages.reverse();
    let agreement = agreements::latest_for_phone(state, actor, dialogue_id, phone.as_str()).await?;
    Ok(Conversation {
        dialogue,
        phone,
        messages,
        agreement,
    })
}

/// The simulator's "Payments → Recurring payments" page of `phone`: what the Vipps app shows.
pub fn recurring_payments_url(state: &AppState, phone: &Msisdn) -> String {
    let base = state
        .settings
        .vipps
        .simulator
        .public_base_url
        .trim_end_matches('/');
    format!("{base}/app/{}/recurring", phone.digits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_phone_is_a_norwegian_mobile_number() {
        for _ in 0..100 {
            let text = fresh_phone();
            let phone = Msisdn::parse(&text).expect("a phone number");
            assert!(phone.as_str().starts_with("+474"), "{text}");
            assert_eq!(phone.as_str().len(), 11, "{text}");
        }
    }

    #[test]
    fn every_problem_of_the_form_at_once() {
        let Err(ServiceError::Invalid(problems)) = checked("12x", " ") else {
            panic!("refused");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["phone", "text"]);
        assert_eq!(
            checked("412 34 567", "GIVE").unwrap().as_str(),
            "+4741234567"
        );
    }
}
