//! `/api/v1/agreements/{id}` and `/api/v1/dialogues/{id}/agreements`: agreements with their
//! payments; `POST …/stop` stops one in Vipps (idempotent, through a job).

use chrono::{DateTime, NaiveDate, Utc};
use dialogpay_jobs::agreements::StopAgreement;
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::{
        agreements::{self, Agreement},
        audit, charges, dialogues,
    },
    domain::{
        money::AmountOre,
        status::{AgreementStatus, ChargeStatus},
    },
    http::{
        auth::PartnerAuth,
        crm::partner_audit,
        error::{ApiError, ApiResult},
        health::ApiTags,
        pagination,
        time::{ts, ts_opt},
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

fn charge_view(c: charges::Charge, history: &[charges::StatusEntry]) -> ApiResult<ChargeView> {
    Ok(ChargeView {
        history: history
            .iter()
            .filter(|h| h.charge_id == c.id)
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
pub async fn view(state: &AppState, a: Agreement) -> ApiResult<AgreementView> {
    let history = charges::history_for_agreement(&state.db, &a.id).await?;
    let charges = charges::for_agreement(&state.db, &a.id)
        .await?
        .into_iter()
        .map(|c| charge_view(c, &history))
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
        dialogues::get(&state.db, &auth.0.id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("dialogue"))?;
        let limit = pagination::limit(limit.0)?;
        let status = status.0.map(|s| match s {
            AgreementStatusParam::Pending => AgreementStatus::Pending,
            AgreementStatusParam::Active => AgreementStatus::Active,
            AgreementStatusParam::Stopped => AgreementStatus::Stopped,
            AgreementStatusParam::Expired => AgreementStatus::Expired,
        });
        let rows = agreements::list_for_dialogue(
            &state.db,
            &id,
            status,
            cursor.0.as_deref(),
            pagination::fetch_limit(limit),
        )
        .await?;
        let (rows, next_cursor) = pagination::finish(rows, limit, |a| a.id.clone());
        let mut items = Vec::with_capacity(rows.len());
        for a in rows {
            items.push(view(&state, a).await?);
        }
        Ok(Json(AgreementPage { items, next_cursor }))
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
        let limit = pagination::limit(limit.0)?;
        // A status no charge can have matches no charge (as when the text was compared in SQL).
        let status = match status.0.as_deref().map(str::parse::<ChargeStatus>) {
            Some(Err(_)) => {
                return Ok(Json(PaymentPage {
                    items: Vec::new(),
                    next_cursor: None,
                }));
            }
            Some(Ok(s)) => Some(s),
            None => None,
        };
        let filter = charges::ChargeFilter {
            dialogue_id: dialogue_id.0.as_deref(),
            status,
            from: from.0,
            to: to.0,
            before_id: cursor.0.as_deref(),
            limit: pagination::fetch_limit(limit),
        };
        let rows = charges::list(&state.db, &auth.0.id, &filter).await?;
        let (rows, next_cursor) = pagination::finish(rows, limit, |c| c.id.clone());
        let items = rows
            .into_iter()
            .map(|c| {
                Ok(PaymentView {
                    agreement_id: c.agreement_id.clone(),
                    charge: charge_view(c, &[])?,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Json(PaymentPage { items, next_cursor }))
    }

    /// One agreement with every charge.
    #[oai(path = "/agreements/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<AgreementView>> {
        let a = agreements::get_for_partner(&state.db, &auth.0.id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("agreement"))?;
        Ok(Json(view(&state, a).await?))
    }

    /// Stop the agreement in Vipps (idempotent); no further charges are made.
    #[oai(path = "/agreements/:id/stop", method = "post")]
    async fn stop(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<StopResponse> {
        let partner = &auth.0;
        let a = agreements::get_for_partner(&state.db, &partner.id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("agreement"))?;
        if a.status.is_open() {
            let now = state.clock.now_ms();
            let mut tx = state.db.begin().await?;
            state
                .enqueuer
                .enqueue_tx(
                    &mut tx,
                    &StopAgreement {
                        agreement_id: a.id.clone(),
                        reason: "partner_api".into(),
                    },
                )
                .await?;
            audit::record_tx(
                &mut tx,
                &partner_audit(partner, "agreement.stop", "agreement", &a.id),
                now,
            )
            .await?;
            tx.commit().await?;
            state.enqueuer.wake("agreements.stop");
        }
        Ok(StopResponse::Accepted(Json(view(&state, a).await?)))
    }
}
