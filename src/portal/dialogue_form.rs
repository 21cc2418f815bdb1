//! The Create / edit Dialogue form: `GET/POST /portal/dialogues/new`,
//! `GET/POST /portal/dialogues/{id}/edit`, and the two htmx fragments it uses while typing:
//! `POST /portal/dialogue-form/reply-info` (the reply's characters, encoding and SMS parts, by
//! [`reply_info`]; `…/receipt-info` and `…/failure-info` count the notice texts the same way,
//! by [`notices::info`]) and `POST /portal/dialogue-form/keyword` (the keyword's availability, by
//! [`service::dialogues::keyword_availability`]).
//!
//! The portal only parses what was typed: an amount's decimal comma becomes a point and dates
//! are parsed here (a date that does not parse is a field problem of ours, added to the
//! service's so that every error shows at once); every rule is the service's.

use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use poem::{
    IntoResponse, Request, Response, Route, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query, Redirect},
};
use serde::Deserialize;

use crate::{
    db::crm::CrmGroup,
    domain::{
        dialogue::MODULE_VIPPS_PAYMENTS,
        money::AmountOre,
        notices::{self, NoticeKind},
        period::Period,
        sms_text::{MessageInfo, VIPPS_LINK_PLACEHOLDER, reply_info},
    },
    portal::{
        cookies::CookiePolicy,
        errors::PortalError,
        forms::FieldErrors,
        layout::{Flash, Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        self, FieldProblem, PartnerActor, ServiceError,
        dialogues::{DialogueInput, KeywordAvailability},
        page::{MAX_LIMIT, PageRequest},
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/dialogues/new", poem::get(new_page).post(create))
        .at("/dialogues/:id/edit", poem::get(edit_page).post(update))
        .at("/dialogue-form/reply-info", poem::post(reply_info_fragment))
        .at(
            "/dialogue-form/receipt-info",
            poem::post(receipt_info_fragment),
        )
        .at(
            "/dialogue-form/failure-info",
            poem::post(failure_info_fragment),
        )
        .at("/dialogue-form/keyword", poem::post(keyword_fragment))
}

/// What the form was sent with, every field as typed (a missing one is empty).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct DialogueFormData {
    name: String,
    crm_group_id: String,
    start_date: String,
    end_date: String,
    module_type: String,
    /// Present (`on`) when the checkbox is checked.
    recurring: Option<String>,
    period: String,
    product_name: String,
    product_description: String,
    amount: String,
    sender: String,
    reply_message: String,
    keyword: String,
    receipt_message: String,
    failure_message: String,
    /// The dialogue being edited (for the keyword check, which must not find it).
    dialogue_id: String,
}

impl DialogueFormData {
    fn of(d: &crate::db::dialogues::Dialogue) -> Self {
        Self {
            name: d.name.clone(),
            crm_group_id: d.crm_group_id.clone(),
            start_date: d.start_date.to_string(),
            end_date: d.end_date.to_string(),
            module_type: d.module_type.clone(),
            recurring: d.recurring.then(|| "on".to_owned()),
            period: d.period.as_str().to_owned(),
            product_name: d.product_name.clone(),
            product_description: d.product_description.clone(),
            amount: nok_typed(d.amount_ore),
            sender: d.sender.clone(),
            reply_message: d.reply_message.clone(),
            keyword: d.keyword.clone(),
            receipt_message: d.receipt_message.clone().unwrap_or_default(),
            failure_message: d.failure_message.clone().unwrap_or_default(),
            dialogue_id: d.id.clone(),
        }
    }

    /// A new dialogue's defaults: Vipps Payments, recurring, monthly.
    fn blank() -> Self {
        Self {
            module_type: MODULE_VIPPS_PAYMENTS.to_owned(),
            recurring: Some("on".to_owned()),
            period: Period::Month.as_str().to_owned(),
            ..Self::default()
        }
    }

    fn recurring(&self) -> bool {
        self.recurring.is_some()
    }

    /// The service's input and the problems only the portal sees (dates or a period that do
    /// not parse: today or a month stand in for them so the service still checks the rest).
    fn input(&self, today: NaiveDate) -> (DialogueInput, Vec<FieldProblem>) {
        let mut problems = Vec::new();
        let mut date = |field: &str, text: &str| {
            parse_date(text).unwrap_or_else(|| {
                problems.push(FieldProblem::new(field, "must be a date (yyyy-mm-dd)"));
                today
            })
        };
        let start_date = date("start_date", &self.start_date);
        let end_date = date("end_date", &self.end_date);
        let period = self.period.parse::<Period>().unwrap_or_else(|_| {
            problems.push(FieldProblem::new("period", "choose Week, Month or Year"));
            Period::Month
        });
        let input = DialogueInput {
            name: self.name.clone(),
            crm_group_id: self.crm_group_id.clone(),
            start_date,
            end_date,
            module_type: self.module_type.clone(),
            recurring: self.recurring(),
            period,
            product_name: self.product_name.clone(),
            product_description: self.product_description.clone(),
            amount: normalise_amount(&self.amount),
            sender: self.sender.clone(),
            reply_message: self.reply_message.clone(),
            keyword: self.keyword.clone(),
            receipt_message: self.receipt_message.clone(),
            failure_message: self.failure_message.clone(),
        };
        (input, problems)
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// `49,90` → `49.90` (the Norwegian decimal comma); the service parses the rest.
fn normalise_amount(typed: &str) -> String {
    typed.trim().replace(',', ".")
}

/// An amount as a Norwegian types it: `49,90`.
fn nok_typed(ore: i64) -> String {
    AmountOre(ore).to_string().replace('.', ",")
}

/// A period as the form names it.
fn period_label(period: &str) -> &'static str {
    match period {
        "week" => "Week",
        "year" => "Year",
        _ => "Month",
    }
}

const PERIODS: [(&str, &str); 3] = [("week", "Week"), ("month", "Month"), ("year", "Year")];

/// Why Period and Amount are read-only on a dialogue with agreements.
const FIXED_REASON: &str = "agreements exist: their price and period are agreed with Vipps users";

#[derive(Template, WebTemplate)]
#[template(path = "dialogue_form.html")]
struct FormPage {
    layout: Layout,
    /// `None` for a new dialogue.
    editing: Option<Editing>,
    values: DialogueFormData,
    groups: Vec<CrmGroup>,
    errors: FieldErrors,
    /// A refusal that belongs to no single field (an archived dialogue).
    form_error: Option<String>,
    reply: ReplyInfo,
    receipt: ReplyInfo,
    failure: ReplyInfo,
    periods: [(&'static str, &'static str); 3],
    placeholder: &'static str,
    /// `sms.quiet_hours`, e.g. `21:00-08:00` (`None`: off).
    quiet_hours: Option<String>,
}

/// The dialogue being edited.
struct Editing {
    id: String,
    name: String,
    /// Period and amount cannot change (agreements exist): why.
    fixed_reason: Option<&'static str>,
    /// The agreed amount, `49,90 kr`, and period.
    fixed_amount: String,
    fixed_period: &'static str,
}

impl FormPage {
    fn action(&self) -> String {
        match &self.editing {
            Some(e) => format!("/portal/dialogues/{}/edit", e.id),
            None => "/portal/dialogues/new".to_owned(),
        }
    }

    /// A field's label, for the error summary.
    fn field_label<'f>(&self, field: &'f str) -> &'f str {
        FIELDS
            .iter()
            .find(|(name, _)| *name == field)
            .map_or(field, |(_, label)| label)
    }

    fn script(&self) -> &'static str {
        crate::portal::assets::SCRIPT
    }

    /// The two optional texts sent after sign-up, as the form shows them.
    fn notice_fields(&self) -> [NoticeField<'_>; 2] {
        [
            NoticeField {
                field: "receipt_message",
                label: "Receipt by SMS",
                hint: "Sent when a payment is taken, the first one included.",
                suggested: NoticeKind::Receipt.suggested_text(),
                info_path: "receipt-info",
                value: &self.values.receipt_message,
                info: &self.receipt,
            },
            NoticeField {
                field: "failure_message",
                label: "Failed-payment notice by SMS",
                hint: "Sent once when a payment fails. Must contain {reason} (why, in words the user understands) and {manage_link}.",
                suggested: NoticeKind::PaymentFailed.suggested_text(),
                info_path: "failure-info",
                value: &self.values.failure_message,
                info: &self.failure,
            },
        ]
    }

    fn fixed(&self) -> bool {
        self.editing
            .as_ref()
            .is_some_and(|e| e.fixed_reason.is_some())
    }

    /// `aria-describedby`'s value for a field: its error and its hint, those it has.
    fn described_by(&self, field: &str, hint: bool) -> String {
        let mut ids = Vec::new();
        if self.errors.get(field).is_some() {
            ids.push(format!("{field}-error"));
        }
        if hint {
            ids.push(format!("{field}-hint"));
        }
        ids.join(" ")
    }
}

/// One of the notice texts on the form.
struct NoticeField<'a> {
    field: &'static str,
    label: &'static str,
    hint: &'static str,
    suggested: &'static str,
    /// Its counter's fragment, under `/portal/dialogue-form/`.
    info_path: &'static str,
    value: &'a str,
    info: &'a ReplyInfo,
}

/// The counter under the reply message and under each notice text.
struct ReplyInfo {
    characters: usize,
    info: MessageInfo,
    /// What the length counts the placeholders as.
    counted_as: &'static str,
}

impl ReplyInfo {
    fn of(text: &str) -> Self {
        Self {
            characters: text.chars().count(),
            info: reply_info(text),
            counted_as: "with the Vipps link",
        }
    }

    /// A receipt's or failed-payment notice's counter (nothing typed: nothing is sent).
    fn notice(text: &str) -> Self {
        Self {
            characters: text.chars().count(),
            info: notices::info(text.trim()),
            counted_as: "with every placeholder at its longest",
        }
    }

    fn encoding(&self) -> &'static str {
        self.info.encoding.as_str()
    }

    fn parts_word(&self) -> &'static str {
        if self.info.segments == 1 {
            "SMS part"
        } else {
            "SMS parts"
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dialogue_reply_info_partial.html")]
struct ReplyInfoPartial {
    reply: ReplyInfo,
}

#[derive(Template, WebTemplate)]
#[template(path = "dialogue_keyword_partial.html")]
struct KeywordPartial {
    /// `available`, `taken` or `invalid` (the CSS class `keyword-{state}`); empty: nothing typed.
    state: &'static str,
    message: String,
}

async fn groups(state: &AppState, actor: &PartnerActor) -> Result<Vec<CrmGroup>, PortalError> {
    let page = PageRequest::new(Some(MAX_LIMIT), None)?;
    Ok(service::crm::list(state, actor, Some(true), &page)
        .await?
        .items)
}

/// The form page for `values`; `editing` is the dialogue's id when it is an edit.
async fn form_page(
    state: &AppState,
    user: &PortalUser,
    parts: LayoutParts,
    editing: Option<&crate::db::dialogues::Dialogue>,
    values: DialogueFormData,
    errors: FieldErrors,
    form_error: Option<String>,
) -> Result<FormPage, PortalError> {
    let actor = user.actor();
    let editing = match editing {
        Some(d) => Some(Editing {
            id: d.id.clone(),
            name: d.name.clone(),
            fixed_reason: service::dialogues::has_agreements(state, &actor, &d.id)
                .await?
                .then_some(FIXED_REASON),
            fixed_amount: format!("{} kr", nok_typed(d.amount_ore)),
            fixed_period: period_label(d.period.as_str()),
        }),
        None => None,
    };
    Ok(FormPage {
        layout: parts.for_user(user, Nav::Dialogues),
        editing,
        reply: ReplyInfo::of(&values.reply_message),
        receipt: ReplyInfo::notice(&values.receipt_message),
        failure: ReplyInfo::notice(&values.failure_message),
        values,
        groups: groups(state, &actor).await?,
        errors,
        form_error,
        periods: PERIODS,
        placeholder: VIPPS_LINK_PLACEHOLDER,
        quiet_hours: state.settings.sms.quiet_hours.0.map(|q| q.to_string()),
    })
}

/// `?crm_group_id=…` chooses the group (the CRM group page's "Create Dialogue with this group").
#[derive(Debug, Default, Deserialize)]
struct Prefill {
    crm_group_id: Option<String>,
}

#[handler]
async fn new_page(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Query(prefill): Query<Prefill>,
) -> Result<FormPage, PortalError> {
    let values = DialogueFormData {
        crm_group_id: prefill.crm_group_id.unwrap_or_default(),
        ..DialogueFormData::blank()
    };
    form_page(
        &state,
        &user,
        parts,
        None,
        values,
        FieldErrors::none(),
        None,
    )
    .await
}

#[handler]
async fn edit_page(
    Path(id): Path<String>,
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
) -> Result<FormPage, PortalError> {
    let current = service::dialogues::get(&state, &user.actor(), &id).await?;
    let values = DialogueFormData::of(&current.dialogue);
    form_page(
        &state,
        &user,
        parts,
        Some(&current.dialogue),
        values,
        FieldErrors::none(),
        None,
    )
    .await
}

#[handler]
async fn create(
    req: &Request,
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Form(form): Form<DialogueFormData>,
) -> Result<Response, PortalError> {
    let (input, problems) = form.input(state.clock.today_oslo());
    let result = match problems.is_empty() {
        true => service::dialogues::create(&state, &user.actor(), &input).await,
        // Still asks the service, for every other problem; it saves nothing on error.
        false => match service::dialogues::check_only(&state, &user.actor(), None, &input).await {
            Ok(()) => Err(ServiceError::Invalid(Vec::new())),
            Err(e) => Err(e),
        },
    };
    saved_or_again(req, &state, &user, parts, None, form, problems, result).await
}

#[handler]
async fn update(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Form(mut form): Form<DialogueFormData>,
) -> Result<Response, PortalError> {
    let actor = user.actor();
    let current = service::dialogues::get(&state, &actor, &id).await?.dialogue;
    if service::dialogues::has_agreements(&state, &actor, &id).await? {
        // Shown read-only: what was agreed stays, whatever the request says.
        form.period = current.period.as_str().to_owned();
        form.amount = nok_typed(current.amount_ore);
    }
    form.dialogue_id = id.clone();
    let (input, problems) = form.input(state.clock.today_oslo());
    let result = match problems.is_empty() {
        true => service::dialogues::update(&state, &actor, &id, &input).await,
        false => match service::dialogues::check_only(&state, &actor, Some(&id), &input).await {
            Ok(()) => Err(ServiceError::Invalid(Vec::new())),
            Err(e) => Err(e),
        },
    };
    saved_or_again(
        req,
        &state,
        &user,
        parts,
        Some(&current),
        form,
        problems,
        result,
    )
    .await
}

/// After a save: to the dialogue's page with "Saved.", or the form again (422) with every
/// problem next to its field and what was typed.
#[allow(clippy::too_many_arguments)]
async fn saved_or_again(
    req: &Request,
    state: &AppState,
    user: &PortalUser,
    parts: LayoutParts,
    editing: Option<&crate::db::dialogues::Dialogue>,
    form: DialogueFormData,
    mut problems: Vec<FieldProblem>,
    result: service::ServiceResult<service::dialogues::DialogueWithState>,
) -> Result<Response, PortalError> {
    let mut form_error = None;
    match result {
        Ok(saved) if problems.is_empty() => {
            Flash::Saved.set(req.cookie(), CookiePolicy::of(state));
            let to = format!("/portal/dialogues/{}", saved.dialogue.id);
            return Ok(Redirect::see_other(to).into_response());
        }
        Ok(_) => {}
        Err(ServiceError::Invalid(more)) => {
            for p in more {
                if !problems.iter().any(|q| q.field == p.field) {
                    problems.push(p);
                }
            }
        }
        Err(ServiceError::Conflict { code, message }) => match code {
            "keyword_conflict" => problems.push(FieldProblem::new("keyword", message)),
            "dialogue_has_agreements" => problems.push(FieldProblem::new("amount", message)),
            _ => form_error = Some(message),
        },
        Err(err) => return Err(err.into()),
    }
    problems.sort_by_key(|p| field_order(&p.field));
    let page = form_page(
        state,
        user,
        parts,
        editing,
        form,
        problems.into(),
        form_error,
    )
    .await?;
    Ok(page
        .with_status(StatusCode::UNPROCESSABLE_ENTITY)
        .into_response())
}

/// The form's fields in the seed's order, with their labels (the error summary's order and
/// words).
const FIELDS: [(&str, &str); 15] = [
    ("name", "Name"),
    ("crm_group_id", "CRM Group"),
    ("start_date", "Start Date"),
    ("end_date", "End Date"),
    ("module_type", "Module type"),
    ("recurring", "Recurring payments"),
    ("period", "Recurring period"),
    ("product_name", "Product name"),
    ("product_description", "Product description"),
    ("amount", "Amount in NOK"),
    ("sender", "Sender"),
    ("reply_message", "Reply message"),
    ("keyword", "Keyword"),
    ("receipt_message", "Receipt by SMS"),
    ("failure_message", "Failed-payment notice by SMS"),
];

fn field_order(field: &str) -> usize {
    FIELDS
        .iter()
        .position(|(f, _)| *f == field)
        .unwrap_or(FIELDS.len())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReplyInfoForm {
    reply_message: String,
}

#[handler]
fn reply_info_fragment(_user: PortalUser, Form(form): Form<ReplyInfoForm>) -> ReplyInfoPartial {
    ReplyInfoPartial {
        reply: ReplyInfo::of(&form.reply_message),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeInfoForm {
    receipt_message: String,
    failure_message: String,
}

#[handler]
fn receipt_info_fragment(_user: PortalUser, Form(form): Form<NoticeInfoForm>) -> ReplyInfoPartial {
    ReplyInfoPartial {
        reply: ReplyInfo::notice(&form.receipt_message),
    }
}

#[handler]
fn failure_info_fragment(_user: PortalUser, Form(form): Form<NoticeInfoForm>) -> ReplyInfoPartial {
    ReplyInfoPartial {
        reply: ReplyInfo::notice(&form.failure_message),
    }
}

#[handler]
async fn keyword_fragment(
    state: Data<&AppState>,
    user: PortalUser,
    Form(form): Form<DialogueFormData>,
) -> Result<KeywordPartial, PortalError> {
    if form.keyword.trim().is_empty() {
        return Ok(KeywordPartial {
            state: "",
            message: String::new(),
        });
    }
    let today = state.clock.today_oslo();
    let start = parse_date(&form.start_date).unwrap_or(today);
    let end = parse_date(&form.end_date).unwrap_or(start);
    let except = Some(form.dialogue_id.as_str()).filter(|id| !id.is_empty());
    let answer = service::dialogues::keyword_availability(
        &state,
        &user.actor(),
        &form.sender,
        &form.keyword,
        start,
        end,
        except,
    )
    .await?;
    Ok(match answer {
        KeywordAvailability::Available => KeywordPartial {
            state: "available",
            message: format!(
                "{} is available on {}.",
                form.keyword.trim().to_uppercase(),
                form.sender.trim()
            ),
        },
        KeywordAvailability::Invalid(message) => KeywordPartial {
            state: "invalid",
            message,
        },
        KeywordAvailability::Taken { message, .. } => KeywordPartial {
            state: "taken",
            message: format!("Taken: {message}."),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_comma_becomes_a_point() {
        assert_eq!(normalise_amount(" 49,90 "), "49.90");
        assert_eq!(normalise_amount("49.90"), "49.90");
        assert_eq!(nok_typed(4990), "49,90");
    }

    #[test]
    fn dates_that_do_not_parse_are_field_problems_and_today_stands_in() {
        let today = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        let form = DialogueFormData {
            start_date: "31.02.2027".into(),
            end_date: "2027-04-01".into(),
            period: "month".into(),
            ..DialogueFormData::default()
        };
        let (input, problems) = form.input(today);
        assert_eq!(input.start_date, today);
        assert_eq!(
            problems,
            [FieldProblem::new(
                "start_date",
                "must be a date (yyyy-mm-dd)"
            )]
        );
    }
}
