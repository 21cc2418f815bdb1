//! `/api/v1/dialogues`: the partner's keyword dialogues (the seed's twelve fields). The rules
//! live in [`service::dialogues`](crate::service::dialogues); this module parses and renders.

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::stats::{DayRange, DialogueStats},
    domain::{
        money::AmountOre,
        notices,
        period::Period,
        sms_text::{MessageInfo, reply_info},
    },
    http::{
        auth::PartnerAuth,
        error::ApiResult,
        health::ApiTags,
        text::Text,
        time::{ts, ts_opt},
    },
    service::{
        self,
        dialogues::{DialogueInput, DialogueWithState, ListQuery},
        page::PageRequest,
        stats::Bucket,
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

/// The dialogue form. Every field but the two notice texts is required; PUT replaces them all
/// (a notice text left out is switched off).
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
    /// 3–30 letters or digits, unique among live dialogues on the sender; STOPP, STOP, HJELP, HELP, START, PAUSE are reserved.
    keyword: Text,
    /// The SMS sent when a charge is CHARGED (the first payment included); absent, null or empty: none. Placeholders: `{amount}`, `{date}` (the charge's due date), `{product}`, `{manage_link}`; at most 3 SMS parts with each at its longest. Held back in quiet hours.
    #[oai(nullable)]
    receipt_message: Option<Text>,
    /// The SMS sent once when a charge FAILED; absent, null or empty: none. Must contain `{reason}` (Vipps's failure reason in the user's words) and `{manage_link}`; may use `{amount}`, `{date}`, `{product}`; at most 3 SMS parts. Held back in quiet hours.
    #[oai(nullable)]
    failure_message: Option<Text>,
}

#[derive(Object)]
struct ReplyMessageInfo {
    /// Characters as the encoding counts them (GSM-7 septets or UCS-2 units), with each placeholder at its length: `{vipps_link}` at a real link's, a notice's placeholders at their longest.
    length: i64,
    /// `GSM-7` or `UCS-2`.
    encoding: String,
    segments: i64,
}

impl From<MessageInfo> for ReplyMessageInfo {
    fn from(info: MessageInfo) -> Self {
        Self {
            length: info.length as i64,
            encoding: info.encoding.as_str().to_owned(),
            segments: info.segments as i64,
        }
    }
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
    #[oai(nullable)]
    receipt_message: Option<String>,
    #[oai(nullable)]
    receipt_message_info: Option<ReplyMessageInfo>,
    #[oai(nullable)]
    failure_message: Option<String>,
    #[oai(nullable)]
    failure_message_info: Option<ReplyMessageInfo>,
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
    /// Captured by the charges due in the period, refunds not taken off.
    amount_charged_ore: i64,
    /// NOK, two decimals.
    amount_charged: String,
    /// Charges cancelled before they were taken (not counted as failed).
    charges_cancelled: i64,
    /// Refunds made of the charges due in the period.
    refunds: i64,
    amount_refunded_ore: i64,
    amount_refunded: String,
    /// NOK collected: charged minus refunded.
    amount_collected_ore: i64,
    amount_collected: String,
}

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename = "Bucket", rename_all = "lowercase")]
enum BucketParam {
    Day,
    Week,
    Month,
}

impl From<BucketParam> for Bucket {
    fn from(b: BucketParam) -> Self {
        match b {
            BucketParam::Day => Bucket::Day,
            BucketParam::Week => Bucket::Week,
            BucketParam::Month => Bucket::Month,
        }
    }
}

#[derive(Object)]
struct StatsSeries {
    dialogue_id: String,
    total: StatsView,
    buckets: Vec<StatsView>,
    /// ACTIVE agreements skipping periods now (Vipps has no pause: they are ACTIVE there).
    paused_agreements: i64,
    /// Periods a pause skipped (no charge created) with a due date in the period.
    periods_skipped: i64,
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
            charges_cancelled: s.charges_cancelled,
            refunds: s.refunds_done,
            amount_refunded_ore: s.amount_refunded_ore,
            amount_refunded: AmountOre(s.amount_refunded_ore).to_string(),
            amount_collected_ore: s.amount_collected_ore(),
            amount_collected: AmountOre(s.amount_collected_ore()).to_string(),
        }
    }
}

impl DialogueView {
    fn new(d: DialogueWithState) -> ApiResult<Self> {
        let DialogueWithState { dialogue: d, state } = d;
        let info = reply_info(&d.reply_message);
        Ok(DialogueView {
            receipt_message_info: d
                .receipt_message
                .as_deref()
                .map(|t| notices::info(t).into()),
            failure_message_info: d
                .failure_message
                .as_deref()
                .map(|t| notices::info(t).into()),
            receipt_message: d.receipt_message,
            failure_message: d.failure_message,
            status: state.as_str().to_owned(),
            amount: AmountOre(d.amount_ore).to_string(),
            amount_ore: d.amount_ore,
            reply_message_info: info.into(),
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

impl From<&DialogueBody> for DialogueInput {
    fn from(b: &DialogueBody) -> Self {
        DialogueInput {
            name: b.name.0.clone(),
            crm_group_id: b.crm_group_id.0.clone(),
            start_date: b.start_date,
            end_date: b.end_date,
            module_type: b.module_type.0.clone(),
            recurring: b.recurring,
            period: b.period.into(),
            product_name: b.product_name.0.clone(),
            product_description: b.product_description.0.clone(),
            amount: b.amount.0.clone(),
            sender: b.sender.0.clone(),
            reply_message: b.reply_message.0.clone(),
            keyword: b.keyword.0.clone(),
            receipt_message: text_or_empty(&b.receipt_message),
            failure_message: text_or_empty(&b.failure_message),
        }
    }
}

fn text_or_empty(text: &Option<Text>) -> String {
    text.as_ref().map(|t| t.0.clone()).unwrap_or_default()
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
        let created = service::dialogues::create(&state, &auth.actor(), &(&*body).into()).await?;
        Ok(DialogueCreated::Created(Json(DialogueView::new(created)?)))
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
        let page = PageRequest::new(limit.0, cursor.0)?;
        let query = ListQuery {
            include_archived: include_archived.0.unwrap_or(false),
            from: from.0,
            to: to.0,
        };
        let (period, rows) = service::dialogues::list(&state, &auth.actor(), &query, &page).await?;
        let rows = rows.map(|row| {
            let mut view = DialogueView::new(row.dialogue)?;
            view.stats = Some(StatsView::new(period, &row.stats));
            ApiResult::Ok(view)
        })?;
        Ok(Json(DialoguePage {
            items: rows.items,
            next_cursor: rows.next_cursor,
        }))
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
        bucket: Query<Option<BucketParam>>,
    ) -> ApiResult<Json<StatsSeries>> {
        service::dialogues::get(&state, &auth.actor(), &id).await?;
        let period = service::stats::period(state.clock.today_oslo(), from.0, to.0)?;
        let bucket = bucket.0.map(Bucket::from).unwrap_or_default();
        let series = service::stats::series(&state, &id, period, bucket).await?;
        let pauses = service::stats::pauses(&state, &id, period).await?;
        Ok(Json(StatsSeries {
            paused_agreements: pauses.paused_now,
            periods_skipped: pauses.periods_skipped,
            dialogue_id: id.0,
            total: StatsView::new(series.total.0, &series.total.1),
            buckets: series
                .buckets
                .iter()
                .map(|(p, s)| StatsView::new(*p, s))
                .collect(),
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
        let d = service::dialogues::get(&state, &auth.actor(), &id).await?;
        Ok(Json(DialogueView::new(d)?))
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
        let d = service::dialogues::update(&state, &auth.actor(), &id, &(&*body).into()).await?;
        Ok(Json(DialogueView::new(d)?))
    }

    /// Archive a dialogue (its keyword is released). Refused while it has agreements.
    #[oai(path = "/dialogues/:id", method = "delete")]
    async fn archive(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<DialogueView>> {
        let d = service::dialogues::archive(&state, &auth.actor(), &id).await?;
        Ok(Json(DialogueView::new(d)?))
    }
}
