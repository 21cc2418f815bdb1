//! The SMS a dialogue may send on its own after sign-up: a receipt when a charge is CHARGED
//! and a notice when one FAILED. The partner writes each text with placeholders; this module
//! checks a text (known placeholders only, the ones a notice needs, at most
//! [`MAX_NOTICE_SEGMENTS`] SMS parts with every placeholder at its longest), fills it in for one
//! charge, and says a Vipps `failureReason` in words the user understands.
//!
//! Texts stay in the GSM-7 alphabet where we write them (amounts as `49,90 kr` with plain
//! spaces, dates as `dd.mm.yyyy`), so a placeholder never turns a message into UCS-2.

use chrono::NaiveDate;

use super::{
    money::AmountOre,
    sms_text::{MessageInfo, analyze},
    status::ReplyPurpose,
};

/// A notice is sent every period to every member: at most three SMS parts.
pub const MAX_NOTICE_SEGMENTS: usize = 3;

/// The charge's amount, `49,90 kr`.
pub const AMOUNT: &str = "{amount}";
/// The charge's due date, `dd.mm.yyyy`.
pub const DATE: &str = "{date}";
/// The dialogue's product name.
pub const PRODUCT: &str = "{product}";
/// The user's page for the agreement (see it, stop it).
pub const MANAGE_LINK: &str = "{manage_link}";
/// Why the charge failed, in the user's words (failed-payment notices only).
pub const REASON: &str = "{reason}";

/// How long a manage link is counted when a text's SMS parts are counted: our base URL,
/// `/my/agreements/` and a 32-character token fit in it.
pub const MANAGE_LINK_LENGTH: usize = 80;

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A charge was CHARGED.
    Receipt,
    /// A charge FAILED (Vipps stopped retrying it).
    PaymentFailed,
}

impl NoticeKind {
    /// The purpose its message is stored with.
    pub fn purpose(self) -> ReplyPurpose {
        match self {
            NoticeKind::Receipt => ReplyPurpose::Receipt,
            NoticeKind::PaymentFailed => ReplyPurpose::PaymentFailed,
        }
    }

    /// The placeholders a text of this kind may use.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            NoticeKind::Receipt => &[AMOUNT, DATE, PRODUCT, MANAGE_LINK],
            NoticeKind::PaymentFailed => &[AMOUNT, DATE, PRODUCT, MANAGE_LINK, REASON],
        }
    }

    /// The placeholders a text of this kind must use: a failed-payment notice says why and
    /// where to fix it.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            NoticeKind::Receipt => &[],
            NoticeKind::PaymentFailed => &[REASON, MANAGE_LINK],
        }
    }

    /// The text the portal offers to start from.
    pub fn suggested_text(self) -> &'static str {
        match self {
            NoticeKind::Receipt => {
                "Takk! Vi har trukket {amount} for {product} ({date}). Se eller stopp avtalen: {manage_link}"
            }
            NoticeKind::PaymentFailed => {
                "Betalingen på {amount} for {product} ({date}) gikk ikke gjennom: {reason}. Se avtalen: {manage_link}"
            }
        }
    }
}

/// Why a notice text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeTextError {
    #[error("{placeholder} is not a placeholder here; use {known}")]
    Unknown { placeholder: String, known: String },
    #[error("must contain {0}")]
    Missing(&'static str),
    #[error(
        "is {0} SMS parts long with every placeholder at its longest; at most {MAX_NOTICE_SEGMENTS}"
    )]
    TooLong(usize),
}

/// Checks a partner's text; `Ok(None)` for an empty one (the notice is off).
pub fn check(
    kind: NoticeKind,
    text: &str,
) -> Result<Option<(String, MessageInfo)>, NoticeTextError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let allowed = kind.placeholders();
    if let Some(unknown) = placeholders_in(text).find(|p| !allowed.contains(p)) {
        return Err(NoticeTextError::Unknown {
            placeholder: unknown.to_owned(),
            known: allowed.join(", "),
        });
    }
    if let Some(missing) = kind.required().iter().find(|p| !text.contains(**p)) {
        return Err(NoticeTextError::Missing(missing));
    }
    let info = info(text);
    if info.segments > MAX_NOTICE_SEGMENTS {
        return Err(NoticeTextError::TooLong(info.segments));
    }
    Ok(Some((text.to_owned(), info)))
}

/// What a text costs with every placeholder at its longest.
pub fn info(text: &str) -> MessageInfo {
    let longest = NoticeFacts {
        amount: AmountOre(super::dialogue::MAX_AMOUNT_ORE),
        date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default(),
        product: &"x".repeat(super::dialogue::MAX_PRODUCT_NAME),
        manage_link: &"x".repeat(MANAGE_LINK_LENGTH),
        failure_reason: Some(LONGEST_REASON),
    };
    analyze(&render(text, &longest))
}

/// `{word}` spans in `text` (the candidates for placeholders).
fn placeholders_in(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('{').filter_map(|(start, _)| {
        let rest = &text[start..];
        let end = rest.find('}')?;
        let candidate = &rest[..=end];
        candidate[1..end]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            .then_some(candidate)
    })
}

/// What fills a notice's placeholders for one charge.
#[derive(Debug, Clone)]
pub struct NoticeFacts<'a> {
    pub amount: AmountOre,
    pub date: NaiveDate,
    pub product: &'a str,
    pub manage_link: &'a str,
    /// Vipps's `failureReason` as stored (`None`: none given).
    pub failure_reason: Option<&'a str>,
}

/// The text with its placeholders filled in.
pub fn render(template: &str, facts: &NoticeFacts<'_>) -> String {
    template
        .replace(AMOUNT, &sms_amount(facts.amount))
        .replace(DATE, &facts.date.format("%d.%m.%Y").to_string())
        .replace(PRODUCT, facts.product)
        .replace(MANAGE_LINK, facts.manage_link)
        .replace(REASON, reason_words(facts.failure_reason))
}

/// `49,90 kr` (no thousands separator: a no-break space would make the SMS UCS-2).
pub fn sms_amount(amount: AmountOre) -> String {
    format!("{} kr", amount.to_string().replace('.', ","))
}

const LONGEST_REASON: &str = "user_action_required";

/// Vipps's `failureReason` (`docs/vipps-recurring.md` §7.5) as the user can act on it.
pub fn reason_words(reason: Option<&str>) -> &'static str {
    match reason {
        Some("user_action_required") => {
            "kortet i Vipps mangler dekning, er sperret eller er utløpt. Åpne Vipps og sjekk kortet"
        }
        Some("charge_amount_too_high") => "beløpet er høyere enn grensen du har satt i Vipps",
        Some("non_technical_error") => "Vipps avviste betalingen. Åpne Vipps for å se hvorfor",
        Some("technical_error") => "en teknisk feil hos Vipps eller banken",
        _ => "betalingen ble avvist",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sms_text::Encoding;

    fn facts() -> NoticeFacts<'static> {
        NoticeFacts {
            amount: AmountOre(4990),
            date: NaiveDate::from_ymd_opt(2027, 1, 5).unwrap(),
            product: "Fast giver",
            manage_link: "https://pay.example.org/my/agreements/tok",
            failure_reason: Some("charge_amount_too_high"),
        }
    }

    #[test]
    fn placeholders_are_filled_in() {
        let text = render(NoticeKind::PaymentFailed.suggested_text(), &facts());
        assert_eq!(
            text,
            "Betalingen på 49,90 kr for Fast giver (05.01.2027) gikk ikke gjennom: beløpet er høyere enn grensen du har satt i Vipps. Se avtalen: https://pay.example.org/my/agreements/tok"
        );
        assert_eq!(sms_amount(AmountOre(1_234_500)), "12345,00 kr");
    }

    #[test]
    fn the_suggested_texts_pass_and_stay_gsm7() {
        for kind in [NoticeKind::Receipt, NoticeKind::PaymentFailed] {
            let (_, info) = check(kind, kind.suggested_text()).unwrap().unwrap();
            assert_eq!(info.encoding, Encoding::Gsm7, "{kind:?}");
            assert!(info.segments <= 2, "{kind:?}: {info:?}");
        }
        for reason in [
            "user_action_required",
            "charge_amount_too_high",
            "non_technical_error",
            "technical_error",
            "unheard_of",
        ] {
            let words = reason_words(Some(reason));
            assert_eq!(analyze(words).encoding, Encoding::Gsm7, "{reason}");
            assert!(words.len() <= reason_words(Some(LONGEST_REASON)).len());
        }
    }

    #[test]
    fn an_empty_text_turns_the_notice_off() {
        assert_eq!(check(NoticeKind::Receipt, "  \n"), Ok(None));
    }

    #[test]
    fn unknown_and_misplaced_placeholders_are_named() {
        let err = check(NoticeKind::Receipt, "Takk {amout}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "{amout} is not a placeholder here; use {amount}, {date}, {product}, {manage_link}"
        );
        let err = check(NoticeKind::Receipt, "Takk {reason}").unwrap_err();
        assert!(matches!(err, NoticeTextError::Unknown { .. }));
        // Braces that are not a word are text, not a placeholder.
        assert!(check(NoticeKind::Receipt, "Takk :-} {amount} {!}").is_ok());
    }

    #[test]
    fn a_failed_payment_notice_says_why_and_where() {
        assert_eq!(
            check(NoticeKind::PaymentFailed, "Det gikk ikke: {reason}"),
            Err(NoticeTextError::Missing(MANAGE_LINK))
        );
        assert_eq!(
            check(NoticeKind::PaymentFailed, "Se {manage_link}"),
            Err(NoticeTextError::Missing(REASON))
        );
    }

    #[test]
    fn length_counts_every_placeholder_at_its_longest() {
        // 400 characters of text: three parts alone; with a manage link, four.
        let text = format!("{} {MANAGE_LINK}", "a".repeat(400));
        assert_eq!(
            check(NoticeKind::Receipt, &text),
            Err(NoticeTextError::TooLong(4))
        );
        assert!(check(NoticeKind::Receipt, &"a".repeat(400)).is_ok());
    }
}
