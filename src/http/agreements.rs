//! `/api/v1/agreements/{id}` and `/api/v1/dialogues/{id}/agreements`: agreements with their
//! payments; `POST …/stop` stops one in Vipps (idempotent, through a job); `POST …/pause` and
//! `…/resume` skip its next periods or end that early. The use cases are in
//! [`service::agreements`](crate::service::agreements).

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::charges,
    domain::{money::AmountOre, status::AgreementStatus},
    http::{
        auth::PartnerAuth,
        error::ApiResult,
        health::ApiTags,
        time::{ts, ts_opt},
    },
    service::{
        self,
        agreements::{AgreementDetail, ChargeQuery},
        page::PageRequest,
    },
    state::AppState,
};

pub struct AgreementsApi;

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "UPPERCASE")]
enum AgreementStatusParam {
    Pending,
    Active,
    Stopped,
    Expired,
}

#[derive(Object)]
pub struct ChargeHistoryEntry {
    status: String,
    at: DateTime<Utc>,
}

#[derive(Object)]
pub struct ChargeView {
    id: String,
    /// `INITIAL` (period 0, paid when the user confirmed) or `RECURRING`.
    #[oai(rename = "type")]
    charge_type: String,
    period_index: i32,
    due_date: NaiveDate,
    amount_ore: i64,
    amount: String,
    /// PENDING, DUE, CHARGED, FAILED, CANCELLED, PARTIALLY_REFUNDED, REFUNDED …
    status: String,
    history: Vec<ChargeHistoryEntry>,
    #[oai(nullable)]
    failure_reason: Option<String>,
    #[oai(nullable)]
    failure_description: Option<String>,
    #[oai(nullable)]
    vipps_charge_id: Option<String>,
}

#[derive(Object)]
pub struct AgreementView {
    id: String,
    dialogue_id: String,
    phone: String,
    /// PENDING, ACTIVE, STOPPED or EXPIRED.
    status: String,
    /// USER (in the Vipps app) or MERCHANT (STOPP, the manage page, the partner API, the end date).
    #[oai(nullable)]
    stopped_by: Option<String>,
    #[oai(nullable)]
    vipps_agreement_id: Option<String>,
    created_at: DateTime<Utc>,
    #[oai(nullable)]
    activated_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    stopped_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    expired_at: Option<DateTime<Utc>>,
    charges: Vec<ChargeView>,
    /// ACTIVE at Vipps, and skipping periods: no charge is created for them (Vipps has no pause of its own).
    paused: bool,
    /// While paused: the due dates still to be skipped.
    skips_ahead: Vec<NaiveDate>,
    /// The due date of the next period that will be charged (after a pause, the first after it); null when none will be.
    #[oai(nullable)]
    next_charge_date: Option<NaiveDate>,
    /// Periods a pause skipped (no charge was created for them), oldest first.
    skipped_periods: Vec<SkippedPeriodView>,
}

#[derive(Object)]
pub struct SkippedPeriodView {
    period_index: i32,
    due_date: NaiveDate,
    /// When the sweep recorded it.
    skipped_at: DateTime<Utc>,
}

/// `POST /agreements/{id}/pause`.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct PauseBody {
    /// How many of the next periods not yet created to skip, 1 to 12.
    periods: u32,
}

#[derive(Object)]
struct AgreementPage {
    items: Vec<AgreementView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Object)]
struct PaymentView {
    #[oai(flatten)]
    charge: ChargeView,
    agreement_id: String,
}

#[derive(Object)]
struct PaymentPage {
    items: Vec<PaymentView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum StopResponse {
    /// The stop is queued (or the agreement was already stopped or expired).
    #[oai(status = 202)]
    Accepted(Json<AgreementView>),
}

impl From<AgreementStatusParam> for AgreementStatus {
    fn from(s: AgreementStatusParam) -> Self {
        match s {
            AgreementStatusParam::Pending => AgreementStatus::Pending,
            AgreementStatusParam::Active => AgreementStatus::Active,
            AgreementStatusParam::Stopped => AgreementStatus::Stopped,
            AgreementStatusParam::Expired => AgreementStatus::Expired,
        }
    }
}

pub(crate) fn charge_view(
    c: charges::Charge,
    history: &[charges::StatusEntry],
) -> ApiResult<ChargeView> {
    Ok(ChargeView {
        history: history
            .iter()
            .map(|h| {
                Ok(ChargeHistoryEntry {
                    status: h.status.as_str().to_owned(),
                    at: ts(h.at)?,
                })
            })
            .collect::<ApiResult<_>>()?,
        amount: AmountOre(c.amount_ore).to_string(),
        id: c.id,
        charge_type: c.charge_type,
        period_index: c.period_index,
        due_date: c.due_date,
        amount_ore: c.amount_ore,
        status: c.status.as_str().to_owned(),
        failure_reason: c.failure_reason,
        failure_description: c.failure_description,
        vipps_charge_id: c.vipps_charge_id,
    })
}

/// An agreement with its charges and their history.
fn view(d: AgreementDetail) -> ApiResult<AgreementView> {
    let paused = d.is_paused();
    let skips_ahead = d.dates_to_skip();
    let next_charge_date = d.next_charge_date();
    let AgreementDetail {
        agreement: a,
        charges,
        skipped,
        ..
    } = d;
    let skipped_periods = skipped
        .into_iter()
        .map(|s| {
            Ok(SkippedPeriodView {
                period_index: s.period_index,
                due_date: s.due_date,
                skipped_at: ts(s.created_at)?,
            })
        })
        .collect::<ApiResult<_>>()?;
    let charges = charges
        .into_iter()
        .map(|c| charge_view(c.charge, &c.history))
        .collect::<ApiResult<_>>()?;
    Ok(AgreementView {
        id: a.id,
        dialogue_id: a.dialogue_id,
        phone: a.phone,
        status: a.status.as_str().to_owned(),
        stopped_by: a.stopped_by.map(|s| s.as_str().to_owned()),
        vipps_agreement_id: a.vipps_agreement_id,
        created_at: ts(a.created_at)?,
        activated_at: ts_opt(a.activated_at)?,
        stopped_at: ts_opt(a.stopped_at)?,
        expired_at: ts_opt(a.expired_at)?,
        charges,
        paused,
        skips_ahead,
        next_charge_date,
        skipped_periods,
    })
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dialogues")]
impl AgreementsApi {
    /// A dialogue's agreements, newest first.
    #[oai(path = "/dialogues/:id/agreements", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        status: Query<Option<AgreementStatusParam>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<AgreementPage>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let status = status.0.map(AgreementStatus::from);
        let rows =
            service::agreements::list_for_dialogue(&state, &auth.actor(), &id, status, &page)
                .await?
                .map(view)?;
        Ok(Json(AgreementPage {
            items: rows.items,
            next_cursor: rows.next_cursor,
        }))
    }

    /// Payments: the partner's charges, newest first (`from`/`to` filter by due date).
    #[oai(path = "/charges", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn charges(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        dialogue_id: Query<Option<String>>,
        status: Query<Option<String>>,
        from: Query<Option<NaiveDate>>,
        to: Query<Option<NaiveDate>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<PaymentPage>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let query = ChargeQuery {
            dialogue_id: dialogue_id.0,
            status: status.0,
            from: from.0,
            to: to.0,
        };
        let rows = service::agreements::charges(&state, &auth.actor(), &query, &page)
            .await?
            .map(|c| {
                ApiResult::Ok(PaymentView {
                    agreement_id: c.agreement_id.clone(),
                    charge: charge_view(c, &[])?,
                })
            })?;
        Ok(Json(PaymentPage {
            items: rows.items,
            next_cursor: rows.next_cursor,
        }))
    }

    /// One agreement with every charge.
    #[oai(path = "/agreements/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<AgreementView>> {
        let d = service::agreements::get(&state, &auth.actor(), &id).await?;
        Ok(Json(view(d)?))
    }

    /// Stop the agreement in Vipps (idempotent); no further charges are made.
    #[oai(path = "/agreements/:id/stop", method = "post")]
    async fn stop(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<StopResponse> {
        let d = service::agreements::stop(&state, &auth.actor(), &id).await?;
        Ok(StopResponse::Accepted(Json(view(d)?)))
    }

    /// Pause the agreement: its next `periods` periods not yet created are skipped (no charge; a charge already created ahead of its due date is still taken). It stays ACTIVE at Vipps. Pausing again counts from the next period.
    #[oai(path = "/agreements/:id/pause", method = "post")]
    async fn pause(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        body: Json<PauseBody>,
    ) -> ApiResult<Json<AgreementView>> {
        let d = service::agreements::pause(&state, &auth.actor(), &id, body.periods).await?;
        Ok(Json(view(d)?))
    }

    /// End the agreement's pause early (nothing happens when it is not paused).
    #[oai(path = "/agreements/:id/resume", method = "post")]
    async fn resume(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<AgreementView>> {
        let d = service::agreements::resume(&state, &auth.actor(), &id).await?;
        Ok(Json(view(d)?))
    }
}
