//! The dialogue form (the seed's twelve fields) and its rules; every violation is reported at
//! once, field by field. The CRM group check needs the database and lives in the HTTP layer.

use chrono::NaiveDate;

use super::{
    keyword::Keyword,
    money::{AmountOre, parse_nok},
    notices::{self, NoticeKind},
    period::Period,
    sender::Sender,
    sms_text::{MessageInfo, VIPPS_LINK_PLACEHOLDER, reply_info},
};

/// The only module for now; the field exists so others can come.
pub const MODULE_VIPPS_PAYMENTS: &str = "vipps_payments";
/// Vipps's minimum price is 100 øre; our maximum guards against typos (100,000 NOK a period).
pub const MIN_AMOUNT_ORE: i64 = 100;
pub const MAX_AMOUNT_ORE: i64 = 10_000_000;
/// Vipps limits: product name 45, description 100 characters.
pub const MAX_PRODUCT_NAME: usize = 45;
pub const MAX_PRODUCT_DESCRIPTION: usize = 100;
/// A reply longer than six SMS parts is refused (it costs six messages per keyword).
pub const MAX_REPLY_SEGMENTS: usize = 6;

/// The form as submitted (types already checked by the HTTP layer).
#[derive(Debug, Clone)]
pub struct DialogueForm<'a> {
    pub name: &'a str,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub module_type: &'a str,
    pub recurring: bool,
    pub period: Period,
    pub product_name: &'a str,
    pub product_description: &'a str,
    pub amount: &'a str,
    pub sender: &'a str,
    pub reply_message: &'a str,
    pub keyword: &'a str,
    /// Empty: no receipt by SMS.
    pub receipt_message: &'a str,
    /// Empty: no failed-payment notice by SMS.
    pub failure_message: &'a str,
}

/// A form that passed every rule, with typed values.
#[derive(Debug, Clone)]
pub struct ValidDialogue {
    pub name: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub module_type: String,
    pub recurring: bool,
    pub period: Period,
    pub product_name: String,
    pub product_description: String,
    pub amount: AmountOre,
    pub sender: Sender,
    pub reply_message: String,
    pub reply_info: MessageInfo,
    pub keyword: Keyword,
    pub receipt_message: Option<String>,
    pub failure_message: Option<String>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

fn text_length(
    field: &'static str,
    value: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> String {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len == 0 || len > max {
        errors.push(err(field, format!("must be 1–{max} characters")));
    }
    trimmed.to_owned()
}

/// Checks every rule. `not_ending_before` (today, on create) refuses an end date in the past.
pub fn validate(
    form: &DialogueForm<'_>,
    not_ending_before: Option<NaiveDate>,
) -> Result<ValidDialogue, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = text_length("name", form.name, 100, &mut errors);
    if form.start_date > form.end_date {
        errors.push(err("end_date", "must be on or after start_date"));
    } else if not_ending_before.is_some_and(|today| form.end_date < today) {
        errors.push(err("end_date", "must not be in the past"));
    }
    if form.module_type != MODULE_VIPPS_PAYMENTS {
        errors.push(err(
            "module_type",
            format!("must be \"{MODULE_VIPPS_PAYMENTS}\""),
        ));
    }
    let product_name = text_length(
        "product_name",
        form.product_name,
        MAX_PRODUCT_NAME,
        &mut errors,
    );
    let product_description = text_length(
        "product_description",
        form.product_description,
        MAX_PRODUCT_DESCRIPTION,
        &mut errors,
    );
    let amount = match parse_nok(form.amount) {
        Ok(a) if a.0 < MIN_AMOUNT_ORE => {
            errors.push(err("amount", "must be at least 1.00 NOK (Vipps minimum)"));
            None
        }
        Ok(a) if a.0 > MAX_AMOUNT_ORE => {
            errors.push(err("amount", "must be at most 100000.00 NOK"));
            None
        }
        Ok(a) => Some(a),
        Err(e) => {
            errors.push(err("amount", e.to_string()));
            None
        }
    };
    let sender = Sender::parse(form.sender)
        .map_err(|e| errors.push(err("sender", e.to_string())))
        .ok();
    let reply_message = form.reply_message.trim().to_owned();
    let placeholders = reply_message.matches(VIPPS_LINK_PLACEHOLDER).count();
    let reply = reply_info(&reply_message);
    if placeholders != 1 {
        errors.push(err(
            "reply_message",
            format!("must contain {VIPPS_LINK_PLACEHOLDER} exactly once"),
        ));
    } else if reply.segments > MAX_REPLY_SEGMENTS {
        errors.push(err(
            "reply_message",
            format!(
                "is {} SMS parts long; at most {MAX_REPLY_SEGMENTS}",
                reply.segments
            ),
        ));
    }
    let keyword = Keyword::parse(form.keyword)
        .map_err(|e| errors.push(err("keyword", e.to_string())))
        .ok();
    let mut notice = |field: &'static str, kind: NoticeKind, text: &str| {
        notices::check(kind, text)
            .map_err(|e| errors.push(err(field, e.to_string())))
            .ok()
            .flatten()
            .map(|(text, _)| text)
    };
    let receipt_message = notice("receipt_message", NoticeKind::Receipt, form.receipt_message);
    let failure_message = notice(
        "failure_message",
        NoticeKind::PaymentFailed,
        form.failure_message,
    );
    match (amount, sender, keyword) {
        (Some(amount), Some(sender), Some(keyword)) if errors.is_empty() => Ok(ValidDialogue {
            name,
            start_date: form.start_date,
            end_date: form.end_date,
            module_type: form.module_type.to_owned(),
            recurring: form.recurring,
            period: form.period,
            product_name,
            product_description,
            amount,
            sender,
            reply_message,
            reply_info: reply,
            keyword,
            receipt_message,
            failure_message,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> DialogueForm<'static> {
        DialogueForm {
            name: "Monthly giver",
            start_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            end_date: NaiveDate::from_ymd_opt(2027, 11, 30).unwrap(),
            module_type: "vipps_payments",
            recurring: true,
            period: Period::Month,
            product_name: "Fast giver",
            product_description: "Monthly support",
            amount: "49.90",
            sender: "2160",
            reply_message: "Takk! {vipps_link}",
            keyword: "give",
            receipt_message: "",
            failure_message: "",
        }
    }

    #[test]
    fn a_valid_form_is_typed() {
        let v = validate(&form(), None).unwrap();
        assert_eq!(v.amount, AmountOre(4990));
        assert_eq!(v.keyword.as_str(), "GIVE");
        assert_eq!(v.reply_info.segments, 1);
    }

    #[test]
    fn all_errors_at_once() {
        let mut f = form();
        f.name = "";
        f.amount = "0.99";
        f.keyword = "HELP";
        f.reply_message = "no link";
        f.failure_message = "Betalingen feilet.";
        f.end_date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let fields: Vec<&str> = validate(&f, None)
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "end_date",
                "amount",
                "reply_message",
                "keyword",
                "failure_message"
            ]
        );
    }

    #[test]
    fn end_in_the_past_only_when_asked() {
        let today = NaiveDate::from_ymd_opt(2028, 1, 1).unwrap();
        assert!(validate(&form(), None).is_ok());
        assert_eq!(
            validate(&form(), Some(today)).unwrap_err()[0].field,
            "end_date"
        );
    }

    #[test]
    fn long_replies_are_refused() {
        let long = format!("{} {{vipps_link}}", "a".repeat(900));
        let mut f = form();
        f.reply_message = &long;
        assert_eq!(validate(&f, None).unwrap_err()[0].field, "reply_message");
    }
}

/// Where a dialogue is in its life, as the partner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogueState {
    /// Not recurring: saved, never drafts agreements.
    Draft,
    /// Before its start date.
    Scheduled,
    /// Between its start and end dates: the keyword signs users up.
    Live,
    /// After its end date.
    Ended,
    /// Archived by the partner; its keyword is released.
    Archived,
}

impl DialogueState {
    pub fn of(
        archived: bool,
        recurring: bool,
        start_date: NaiveDate,
        end_date: NaiveDate,
        today: NaiveDate,
    ) -> Self {
        if archived {
            Self::Archived
        } else if !recurring {
            Self::Draft
        } else if today < start_date {
            Self::Scheduled
        } else if today > end_date {
            Self::Ended
        } else {
            Self::Live
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Live => "live",
            Self::Ended => "ended",
            Self::Archived => "archived",
        }
    }
}
