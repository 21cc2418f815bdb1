//! `/api/v1/dialogues`: the partner's keyword dialogues (the seed's twelve fields).
//!
//! Create and update run every rule at once (422 with all bad fields), check the CRM group
//! (the partner's own, with terms) and keyword conflicts (409) inside one write transaction,
//! and write the audit record in the same transaction: a failed request writes nothing.

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::{
        Tx, audit, crm, dialogues,
        partners::Partner,
        stats::{DayRange, DialogueStats},
    },
    domain::{
        dialogue::{DialogueForm, ValidDialogue, validate},
        money::AmountOre,
        period::Period,
        sms_text::reply_info,
    },
    http::{
        auth::PartnerAuth,
        crm::partner_audit,
        error::{ApiError, ApiResult, FieldError},
        health::ApiTags,
        pagination,
        text::Text,
        time::{ts, ts_opt},
    },
    state::AppState,
};

pub struct DialoguesApi;

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
enum PeriodParam {
    Week,
    Month,
    Year,
}

impl From<PeriodParam> for Period {
    fn from(p: PeriodParam) -> Self {
        match p {
            PeriodParam::Week => Period::Week,
            PeriodParam::Month => Period::Month,
            PeriodParam::Year => Period::Year,
        }
    }
}

/// The dialogue form. Every field is required; PUT replaces them all.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct DialogueBody {
    /// 1–100 characters.
    name: Text,
    /// One of the partner's CRM groups that has Terms and Conditions.
    crm_group_id: Text,
    /// First day the keyword is live (Europe/Oslo), inclusive.
    start_date: NaiveDate,
    /// Last day the keyword is live, inclusive; on or after `start_date`.
    end_date: NaiveDate,
    /// `vipps_payments` (the only module for now).
    module_type: Text,
    /// Must be true for a live recurring configuration; false saves a draft that never drafts agreements.
    recurring: bool,
    period: PeriodParam,
    /// Shown in the Vipps app; at most 45 characters.
    product_name: Text,
    /// Shown in the Vipps app; at most 100 characters.
    product_description: Text,
    /// Price per period in NOK as a string with at most two decimals, at least "1.00".
    amount: Text,
    /// The short number (3–8 digits) or phone number users text and replies come from.
    sender: Text,
    /// The SMS reply; must contain `{vipps_link}` exactly once.
    reply_message: Text,
    /// 3–30 letters or digits, unique among live dialogues on the sender; STOPP, STOP, HJELP, HELP, START are reserved.
    keyword: Text,
}

#[derive(Object)]
struct ReplyMessageInfo {
    /// Characters as the encoding counts them (GSM-7 septets or UCS-2 units), with `{vipps_link}` at a real link's length.
    length: i64,
    /// `GSM-7` or `UCS-2`.
    encoding: String,
    segments: i64,
}

#[derive(Object)]
struct DialogueView {
    id: String,
    name: String,
    crm_group_id: String,
    start_date: NaiveDate,
    end_date: NaiveDate,
    module_type: String,
    recurring: bool,
    period: String,
    product_name: String,
    product_description: String,
    /// NOK, two decimals.
    amount: String,
    amount_ore: i64,
    sender: String,
    reply_message: String,
    reply_message_info: ReplyMessageInfo,
    keyword: String,
    /// `draft` (not recurring), `scheduled`, `live`, `ended` (by date) or `archived`.
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[oai(nullable)]
    archived_at: Option<DateTime<Utc>>,
    /// Figures for the requested period (list endpoint only).
    #[oai(skip_serializing_if_is_none)]
    stats: Option<StatsView>,
}

/// A dialogue's figures for a period.
#[derive(Object, Clone)]
pub struct StatsView {
    /// First day (Europe/Oslo), inclusive.
    from: NaiveDate,
    /// Last day, inclusive.
    to: NaiveDate,
    keyword_messages: i64,
    agreements_drafted: i64,
    agreements_activated: i64,
    agreements_expired: i64,
    agreements_stopped: i64,
    /// ACTIVE at the end of the period.
    active_agreements: i64,
    charges_created: i64,
    charges_charged: i64,
    charges_failed: i64,
    amount_charged_ore: i64,
    /// NOK, two decimals.
    amount_charged: String,
}

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
enum Bucket {
    Day,
    Week,
    Month,
}

#[derive(Object)]
struct StatsSeries {
    dialogue_id: String,
    total: StatsView,
    buckets: Vec<StatsView>,
}

impl StatsView {
    fn new(period: DayRange, s: &DialogueStats) -> Self {
        Self {
            from: period.from,
            to: period.to,
            keyword_messages: s.keyword_messages,
            agreements_drafted: s.agreements_drafted,
            agreements_activated: s.agreements_activated,
            agreements_expired: s.agreements_expired,
            agreements_stopped: s.agreements_stopped,
            active_agreements: s.active_agreements,
            charges_created: s.charges_created,
            charges_charged: s.charges_charged,
            charges_failed: s.charges_failed,
            amount_charged_ore: s.amount_charged_ore,
            amount_charged: AmountOre(s.amount_charged_ore).to_string(),
        }
    }
}

/// The first day of the bucket after the one starting on `start`.
fn next_bucket(bucket: Bucket, start: NaiveDate) -> Option<NaiveDate> {
    match bucket {
        Bucket::Day => start.succ_opt(),
        Bucket::Week => start.checked_add_days(chrono::Days::new(7)),
        Bucket::Month => start.checked_add_months(chrono::Months::new(1)),
    }
}

/// `from`/`to` or the current month; `from` must not be after `to`, and at most ten years.
fn period_of(
    state: &AppState,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ApiResult<(NaiveDate, NaiveDate)> {
    use chrono::Datelike;
    let today = state.clock.today_oslo();
    let month_start = today.with_day(1).unwrap_or(today);
    let month_end = month_start
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(today);
    let (from, to) = (from.unwrap_or(month_start), to.unwrap_or(month_end));
    if from > to {
        return Err(ApiError::bad_request("from must be on or before to"));
    }
    if (to - from).num_days() > 3660 {
        return Err(ApiError::bad_request("the period is limited to ten years"));
    }
    Ok((from, to))
}

impl DialogueView {
    fn new(d: dialogues::Dialogue, today: NaiveDate) -> ApiResult<Self> {
        let info = reply_info(&d.reply_message);
        let status = if d.archived_at.is_some() {
            "archived"
        } else if !d.recurring {
            "draft"
        } else if today < d.start_date {
            "scheduled"
        } else if today > d.end_date {
            "ended"
        } else {
            "live"
        };
        Ok(DialogueView {
            status: status.to_owned(),
            amount: AmountOre(d.amount_ore).to_string(),
            amount_ore: d.amount_ore,
            reply_message_info: ReplyMessageInfo {
                length: info.length as i64,
                encoding: info.encoding.as_str().to_owned(),
                segments: info.segments as i64,
            },
            id: d.id,
            name: d.name,
            crm_group_id: d.crm_group_id,
            start_date: d.start_date,
            end_date: d.end_date,
            module_type: d.module_type,
            recurring: d.recurring,
            period: d.period.as_str().to_owned(),
            product_name: d.product_name,
            product_description: d.product_description,
            sender: d.sender,
            reply_message: d.reply_message,
            keyword: d.keyword,
            created_at: ts(d.created_at)?,
            updated_at: ts(d.updated_at)?,
            archived_at: ts_opt(d.archived_at)?,
            stats: None,
        })
    }
}

#[derive(Object)]
struct DialoguePage {
    items: Vec<DialogueView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum DialogueCreated {
    #[oai(status = 201)]
    Created(Json<DialogueView>),
}

fn to_fields(errors: Vec<crate::domain::dialogue::FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError {
            field: e.field.to_owned(),
            message: e.message,
        })
        .collect()
}

fn fields_of(v: &ValidDialogue, crm_group_id: &str) -> dialogues::DialogueFields {
    dialogues::DialogueFields {
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
    }
}

/// Runs every rule, including the CRM group's, inside the write transaction.
async fn check(
    tx: &mut Tx,
    partner: &Partner,
    body: &DialogueBody,
    not_ending_before: Option<NaiveDate>,
    except_id: Option<&str>,
) -> ApiResult<dialogues::DialogueFields> {
    let form = DialogueForm {
        name: &body.name,
        start_date: body.start_date,
        end_date: body.end_date,
        module_type: &body.module_type,
        recurring: body.recurring,
        period: body.period.into(),
        product_name: &body.product_name,
        product_description: &body.product_description,
        amount: &body.amount,
        sender: &body.sender,
        reply_message: &body.reply_message,
        keyword: &body.keyword,
    };
    let mut errors = Vec::new();
    let valid = validate(&form, not_ending_before)
        .map_err(|e| errors = to_fields(e))
        .ok();
    match crm::get_tx(tx, &partner.id, body.crm_group_id.trim()).await? {
        None => errors.push(FieldError {
            field: "crm_group_id".into(),
            message: "no such CRM group".into(),
        }),
        Some(g) if g.terms_version.is_none() => errors.push(FieldError {
            field: "crm_group_id".into(),
            message: "the CRM group has no Terms and Conditions yet".into(),
        }),
        Some(_) => {}
    }
    let valid = match valid {
        Some(v) if errors.is_empty() => v,
        _ => {
            errors.sort_by_key(|e| e.field.clone());
            return Err(ApiError::validation(errors));
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
    if let Some((id, name, partner_id)) = conflict {
        let holder = if partner_id == partner.id {
            format!("your dialogue \"{name}\" ({id})")
        } else {
            "another partner's dialogue".to_owned()
        };
        return Err(ApiError::conflict(
            "keyword_conflict",
            format!(
                "keyword {} is already used on {} by {holder} in an overlapping date range",
                valid.keyword.as_str(),
                valid.sender.as_str()
            ),
        ));
    }
    Ok(fields_of(&valid, body.crm_group_id.trim()))
}

async fn dialogue_or_404(
    state: &AppState,
    partner_id: &str,
    id: &str,
) -> ApiResult<dialogues::Dialogue> {
    dialogues::get(&state.db, partner_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("dialogue"))
}

fn has_agreements(reason: &str) -> ApiError {
    ApiError::conflict("dialogue_has_agreements", reason.to_owned())
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dialogues")]
impl DialoguesApi {
    /// Create a dialogue.
    #[oai(path = "/dialogues", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        body: Json<DialogueBody>,
    ) -> ApiResult<DialogueCreated> {
        let partner = &auth.0;
        let now = state.clock.now_ms();
        let today = state.clock.today_oslo();
        let mut tx = state.db.begin().await?;
        let fields = check(&mut tx, partner, &body, Some(today), None).await?;
        let id = dialogues::insert(&mut tx, &partner.id, &fields, now).await?;
        let mut entry = partner_audit(partner, "dialogue.create", "dialogue", &id);
        entry.details =
            Some(serde_json::json!({ "keyword": fields.keyword, "sender": fields.sender }));
        audit::record_tx(&mut tx, &entry, now).await?;
        tx.commit().await?;
        let stored = dialogue_or_404(&state, &partner.id, &id).await?;
        Ok(DialogueCreated::Created(Json(DialogueView::new(
            stored, today,
        )?)))
    }

    /// The partner's dialogues, newest first, each with its figures for the period.
    #[oai(path = "/dialogues", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        /// Include archived dialogues.
        include_archived: Query<Option<bool>>,
        /// Statistics period start (Europe/Oslo date); default: the first day of this month.
        from: Query<Option<NaiveDate>>,
        /// Statistics period end, inclusive; default: the last day of this month.
        to: Query<Option<NaiveDate>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<DialoguePage>> {
        let limit = pagination::limit(limit.0)?;
        let (from, to) = period_of(&state, from.0, to.0)?;
        let rows = dialogues::list(
            &state.db,
            &auth.0.id,
            include_archived.0.unwrap_or(false),
            cursor.0.as_deref(),
            pagination::fetch_limit(limit),
        )
        .await?;
        let (rows, next_cursor) = pagination::finish(rows, limit, |d| d.id.clone());
        let today = state.clock.today_oslo();
        let period = DayRange { from, to };
        let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
        let mut stats = crate::db::stats::for_dialogues(&state.db, &ids, period).await?;
        let mut items = Vec::with_capacity(rows.len());
        for d in rows {
            let figures = stats.remove(&d.id).unwrap_or_default();
            let mut view = DialogueView::new(d, today)?;
            view.stats = Some(StatsView::new(period, &figures));
            items.push(view);
        }
        Ok(Json(DialoguePage { items, next_cursor }))
    }

    /// A dialogue's figures for a period, in total and per day, week or month.
    #[oai(path = "/dialogues/:id/stats", method = "get")]
    async fn stats(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        from: Query<Option<NaiveDate>>,
        to: Query<Option<NaiveDate>>,
        bucket: Query<Option<Bucket>>,
    ) -> ApiResult<Json<StatsSeries>> {
        dialogue_or_404(&state, &auth.0.id, &id).await?;
        let (from, to) = period_of(&state, from.0, to.0)?;
        let bucket = bucket.0.unwrap_or(Bucket::Day);
        let days = crate::db::stats::daily(&state.db, &id, DayRange { from, to }).await?;
        let mut total = DialogueStats::default();
        let mut buckets: Vec<StatsView> = Vec::new();
        let mut current: Option<(DayRange, DialogueStats)> = None;
        for (day, figures) in &days {
            total.extend(figures);
            match &mut current {
                Some((p, s)) if *day <= p.to => s.extend(figures),
                _ => {
                    if let Some((p, s)) = current.take() {
                        buckets.push(StatsView::new(p, &s));
                    }
                    let end = next_bucket(bucket, *day)
                        .and_then(|n| n.pred_opt())
                        .map_or(to, |e| e.min(to));
                    current = Some((
                        DayRange {
                            from: *day,
                            to: end,
                        },
                        figures.clone(),
                    ));
                }
            }
        }
        if let Some((p, s)) = current {
            buckets.push(StatsView::new(p, &s));
        }
        let total = StatsView::new(DayRange { from, to }, &total);
        Ok(Json(StatsSeries {
            dialogue_id: id.0,
            total,
            buckets,
        }))
    }

    /// One dialogue.
    #[oai(path = "/dialogues/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<DialogueView>> {
        let d = dialogue_or_404(&state, &auth.0.id, &id).await?;
        Ok(Json(DialogueView::new(d, state.clock.today_oslo())?))
    }

    /// Replace a dialogue's fields. Period and amount cannot change once agreements exist.
    #[oai(path = "/dialogues/:id", method = "put")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        body: Json<DialogueBody>,
    ) -> ApiResult<Json<DialogueView>> {
        let partner = &auth.0;
        let now = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        let current = dialogues::get_tx(&mut tx, &partner.id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("dialogue"))?;
        if current.archived_at.is_some() {
            return Err(ApiError::conflict(
                "dialogue_archived",
                "an archived dialogue cannot be changed",
            ));
        }
        let ending_check = (body.end_date != current.end_date).then(|| state.clock.today_oslo());
        let fields = check(&mut tx, partner, &body, ending_check, Some(&id)).await?;
        if (fields.period != current.period || fields.amount_ore != current.amount_ore)
            && dialogues::agreement_count_tx(&mut tx, &id).await? > 0
        {
            return Err(has_agreements(
                "the dialogue has agreements: their price and period are agreed with Vipps users; create a new dialogue instead",
            ));
        }
        dialogues::update(&mut tx, &id, &fields, now).await?;
        let mut entry = partner_audit(partner, "dialogue.update", "dialogue", &id);
        entry.details = Some(
            serde_json::json!({ "keyword": fields.keyword, "amount_ore": fields.amount_ore, "period": fields.period.as_str() }),
        );
        audit::record_tx(&mut tx, &entry, now).await?;
        tx.commit().await?;
        let d = dialogue_or_404(&state, &partner.id, &id).await?;
        Ok(Json(DialogueView::new(d, state.clock.today_oslo())?))
    }

    /// Archive a dialogue (its keyword is released). Refused while it has agreements.
    #[oai(path = "/dialogues/:id", method = "delete")]
    async fn archive(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<DialogueView>> {
        let partner = &auth.0;
        let now = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        let current = dialogues::get_tx(&mut tx, &partner.id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("dialogue"))?;
        if current.archived_at.is_none() {
            if dialogues::agreement_count_tx(&mut tx, &id).await? > 0 {
                return Err(has_agreements(
                    "the dialogue has agreements; it stays until they end (set its end date to stop new sign-ups)",
                ));
            }
            dialogues::archive(&mut tx, &id, now).await?;
            audit::record_tx(
                &mut tx,
                &partner_audit(partner, "dialogue.archive", "dialogue", &id),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        let d = dialogue_or_404(&state, &partner.id, &id).await?;
        Ok(Json(DialogueView::new(d, state.clock.today_oslo())?))
    }
}
