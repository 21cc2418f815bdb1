//! Dialogues: create, change and archive them (every rule at once, the CRM group checked and
//! keyword conflicts found inside one write transaction with the audit record: a refused
//! request writes nothing), read one, and list them with their figures for a period.

use chrono::NaiveDate;

use crate::{
    db::{
        Tx, audit, crm,
        dialogues::{self, Dialogue, DialogueFields},
        stats::{DayRange, DialogueStats},
    },
    domain::{
        dialogue::{DialogueForm, DialogueState, ValidDialogue, validate},
        period::Period,
    },
    service::{
        FieldProblem, PartnerActor, ServiceError, ServiceResult,
        page::{Page, PageRequest},
    },
    state::AppState,
};

/// The dialogue form as typed: the seed's twelve fields (PUT replaces them all).
#[derive(Debug, Clone)]
pub struct DialogueInput {
    pub name: String,
    pub crm_group_id: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub module_type: String,
    pub recurring: bool,
    pub period: Period,
    pub product_name: String,
    pub product_description: String,
    /// NOK as typed, e.g. `49.90`.
    pub amount: String,
    pub sender: String,
    pub reply_message: String,
    pub keyword: String,
    /// The receipt SMS (`domain::notices`); empty: none.
    pub receipt_message: String,
    /// The failed-payment SMS; empty: none.
    pub failure_message: String,
}

/// A dialogue with where it is in its life today.
#[derive(Debug, Clone)]
pub struct DialogueWithState {
    pub dialogue: Dialogue,
    pub state: DialogueState,
}

impl DialogueWithState {
    fn new(dialogue: Dialogue, today: NaiveDate) -> Self {
        let state = DialogueState::of(
            dialogue.archived_at.is_some(),
            dialogue.recurring,
            dialogue.start_date,
            dialogue.end_date,
            today,
        );
        Self { dialogue, state }
    }
}

/// A row of the dialogue list: the dialogue and its figures for the requested period.
#[derive(Debug, Clone)]
pub struct ListedDialogue {
    pub dialogue: DialogueWithState,
    pub stats: DialogueStats,
}

/// Which dialogues to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub include_archived: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

pub async fn create(
    state: &AppState,
    actor: &PartnerActor,
    input: &DialogueInput,
) -> ServiceResult<DialogueWithState> {
    let now = state.clock.now_ms();
    let today = state.clock.today_oslo();
    let mut tx = state.db.begin().await?;
    let fields = check(&mut tx, actor, input, Some(today), None).await?;
    let id = dialogues::insert(&mut tx, actor.partner_id(), &fields, now).await?;
    let mut entry = actor.audit("dialogue.create", "dialogue", &id);
    entry.details = Some(serde_json::json!({ "keyword": fields.keyword, "sender": fields.sender }));
    audit::record_tx(&mut tx, &entry, now).await?;
    tx.commit().await?;
    get(state, actor, &id).await
}

/// One of the partner's dialogues.
pub async fn get(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<DialogueWithState> {
    let d = dialogues::get(&state.db, actor.partner_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("dialogue"))?;
    Ok(DialogueWithState::new(d, state.clock.today_oslo()))
}

/// The partner's dialogues, newest first, each with its figures for the period (default:
/// this month).
pub async fn list(
    state: &AppState,
    actor: &PartnerActor,
    query: &ListQuery,
    page: &PageRequest,
) -> ServiceResult<(DayRange, Page<ListedDialogue>)> {
    let today = state.clock.today_oslo();
    let period = crate::service::stats::period(today, query.from, query.to)?;
    let rows = dialogues::list(
        &state.db,
        actor.partner_id(),
        query.include_archived,
        page.cursor(),
        page.fetch_limit(),
    )
    .await?;
    let rows = page.finish(rows, |d| d.id.clone());
    let ids: Vec<String> = rows.items.iter().map(|d| d.id.clone()).collect();
    let mut stats = crate::db::stats::for_dialogues(&state.db, &ids, period).await?;
    let listed = rows.map(|d| {
        Ok::<_, ServiceError>(ListedDialogue {
            stats: stats.remove(&d.id).unwrap_or_default(),
            dialogue: DialogueWithState::new(d, today),
        })
    })?;
    Ok((period, listed))
}

/// Replaces a dialogue's fields. Period and amount cannot change once agreements exist.
pub async fn update(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
    input: &DialogueInput,
) -> ServiceResult<DialogueWithState> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, actor, id).await?;
    if current.archived_at.is_some() {
        return Err(ServiceError::conflict(
            "dialogue_archived",
            "an archived dialogue cannot be changed",
        ));
    }
    let ending_check = (input.end_date != current.end_date).then(|| state.clock.today_oslo());
    let fields = check(&mut tx, actor, input, ending_check, Some(id)).await?;
    if (fields.period != current.period || fields.amount_ore != current.amount_ore)
        && dialogues::agreement_count_tx(&mut tx, id).await? > 0
    {
        return Err(agreements_exist(
            "the dialogue has agreements: their price and period are agreed with Vipps users; create a new dialogue instead",
        ));
    }
    dialogues::update(&mut tx, id, &fields, now).await?;
    let mut entry = actor.audit("dialogue.update", "dialogue", id);
    entry.details = Some(
        serde_json::json!({ "keyword": fields.keyword, "amount_ore": fields.amount_ore, "period": fields.period.as_str() }),
    );
    audit::record_tx(&mut tx, &entry, now).await?;
    tx.commit().await?;
    get(state, actor, id).await
}

/// Archives a dialogue (its keyword is released). Refused while it has agreements.
pub async fn archive(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<DialogueWithState> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, actor, id).await?;
    if current.archived_at.is_none() {
        if dialogues::agreement_count_tx(&mut tx, id).await? > 0 {
            return Err(agreements_exist(
                "the dialogue has agreements; it stays until they end (set its end date to stop new sign-ups)",
            ));
        }
        dialogues::archive(&mut tx, id, now).await?;
        audit::record_tx(
            &mut tx,
            &actor.audit("dialogue.archive", "dialogue", id),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    get(state, actor, id).await
}

/// Runs every rule that `create` (`id` `None`) or `update` (`Some(id)`) would, and writes
/// nothing: for a front end that found problems of its own in the input (a date that does not
/// parse) and shows them together with every other one.
pub async fn check_only(
    state: &AppState,
    actor: &PartnerActor,
    id: Option<&str>,
    input: &DialogueInput,
) -> ServiceResult<()> {
    let today = state.clock.today_oslo();
    let mut tx = state.db.begin().await?;
    let not_ending_before = match id {
        None => Some(today),
        Some(id) => {
            let current = locked(&mut tx, actor, id).await?;
            (input.end_date != current.end_date).then_some(today)
        }
    };
    check(&mut tx, actor, input, not_ending_before, id).await?;
    // Dropped without a commit: rolled back, nothing written.
    drop(tx);
    Ok(())
}

/// One of the partner's dialogues, read inside the write transaction.
async fn locked(tx: &mut Tx, actor: &PartnerActor, id: &str) -> ServiceResult<Dialogue> {
    dialogues::get_tx(tx, actor.partner_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("dialogue"))
}

fn agreements_exist(reason: &str) -> ServiceError {
    ServiceError::conflict("dialogue_has_agreements", reason.to_owned())
}

/// Runs every rule, including the CRM group's, inside the write transaction.
async fn check(
    tx: &mut Tx,
    actor: &PartnerActor,
    input: &DialogueInput,
    not_ending_before: Option<NaiveDate>,
    except_id: Option<&str>,
) -> ServiceResult<DialogueFields> {
    let form = DialogueForm {
        name: &input.name,
        start_date: input.start_date,
        end_date: input.end_date,
        module_type: &input.module_type,
        recurring: input.recurring,
        period: input.period,
        product_name: &input.product_name,
        product_description: &input.product_description,
        amount: &input.amount,
        sender: &input.sender,
        reply_message: &input.reply_message,
        keyword: &input.keyword,
        receipt_message: &input.receipt_message,
        failure_message: &input.failure_message,
    };
    let mut errors = Vec::new();
    let valid = validate(&form, not_ending_before)
        .map_err(|e| {
            errors = e
                .into_iter()
                .map(|e| FieldProblem::new(e.field, e.message))
                .collect()
        })
        .ok();
    let group_id = input.crm_group_id.trim();
    match crm::get_tx(tx, actor.partner_id(), group_id).await? {
        None => errors.push(FieldProblem::new("crm_group_id", "no such CRM group")),
        Some(g) if g.terms_version.is_none() => errors.push(FieldProblem::new(
            "crm_group_id",
            "the CRM group has no Terms and Conditions yet",
        )),
        Some(_) => {}
    }
    let valid = match valid {
        Some(v) if errors.is_empty() => v,
        _ => {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            return Err(ServiceError::Invalid(errors));
        }
    };
    let conflict = dialogues::find_keyword_conflict(
        tx,
        valid.sender.as_str(),
        valid.keyword.as_str(),
        valid.start_date,
        valid.end_date,
        except_id,
    )
    .await?;
    if let Some(holder) = conflict {
        return Err(ServiceError::conflict(
            "keyword_conflict",
            Holder::from_row(holder, actor)
                .conflict_message(valid.keyword.as_str(), valid.sender.as_str()),
        ));
    }
    Ok(fields_of(&valid, group_id))
}

/// Who holds a keyword that is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// One of the asking partner's own dialogues.
    Own { id: String, name: String },
    /// Another partner's (nothing more is said about it).
    Other,
}

impl Holder {
    fn from_row((id, name, partner_id): (String, String, String), actor: &PartnerActor) -> Self {
        if partner_id == actor.partner_id() {
            Holder::Own { id, name }
        } else {
            Holder::Other
        }
    }

    fn conflict_message(&self, keyword: &str, sender: &str) -> String {
        let holder = match self {
            Holder::Own { id, name } => format!("your dialogue \"{name}\" ({id})"),
            Holder::Other => "another partner's dialogue".to_owned(),
        };
        format!(
            "keyword {keyword} is already used on {sender} by {holder} in an overlapping date range"
        )
    }
}

/// The dialogue form's check while the keyword is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeywordAvailability {
    Available,
    /// The keyword or sender breaks a rule; the message says which.
    Invalid(String),
    /// Held by a live dialogue in an overlapping date range.
    Taken {
        holder: Holder,
        message: String,
    },
}

/// Whether `keyword` is free on `sender` for `[start, end]` (ignoring dialogue `except_id`,
/// the one being edited). The same rules and lookup as saving.
pub async fn keyword_availability(
    state: &AppState,
    actor: &PartnerActor,
    sender: &str,
    keyword: &str,
    start: NaiveDate,
    end: NaiveDate,
    except_id: Option<&str>,
) -> ServiceResult<KeywordAvailability> {
    use crate::domain::{keyword::Keyword, sender::Sender};
    let keyword = match Keyword::parse(keyword) {
        Ok(k) => k,
        Err(e) => return Ok(KeywordAvailability::Invalid(e.to_string())),
    };
    let sender = match Sender::parse(sender) {
        Ok(s) => s,
        Err(e) => return Ok(KeywordAvailability::Invalid(e.to_string())),
    };
    let mut tx = state.db.begin().await?;
    let conflict = dialogues::find_keyword_conflict(
        &mut tx,
        sender.as_str(),
        keyword.as_str(),
        start.min(end),
        end.max(start),
        except_id,
    )
    .await?;
    tx.commit().await?;
    Ok(match conflict {
        None => KeywordAvailability::Available,
        Some(row) => {
            let holder = Holder::from_row(row, actor);
            let message = holder.conflict_message(keyword.as_str(), sender.as_str());
            KeywordAvailability::Taken { holder, message }
        }
    })
}

/// Whether agreements were ever drafted for the dialogue: then its period and amount are
/// fixed (the form shows them read-only).
pub async fn has_agreements(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<bool> {
    get(state, actor, id).await?;
    let mut tx = state.db.begin().await?;
    let count = dialogues::agreement_count_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(count > 0)
}

fn fields_of(v: &ValidDialogue, crm_group_id: &str) -> DialogueFields {
    DialogueFields {
        name: v.name.clone(),
        crm_group_id: crm_group_id.to_owned(),
        start_date: v.start_date,
        end_date: v.end_date,
        module_type: v.module_type.clone(),
        recurring: v.recurring,
        period: v.period,
        product_name: v.product_name.clone(),
        product_description: v.product_description.clone(),
        amount_ore: v.amount.0,
        sender: v.sender.as_str().to_owned(),
        reply_message: v.reply_message.clone(),
        keyword: v.keyword.as_str().to_owned(),
        receipt_message: v.receipt_message.clone(),
        failure_message: v.failure_message.clone(),
    }
}
