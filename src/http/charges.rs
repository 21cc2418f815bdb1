//! `/api/v1/charges/{id}`: one payment with its refunds and the amount left to refund;
//! `POST …/refunds` refunds it fully or partly, `POST …/cancel` cancels one not taken yet
//! (both 202: a job carries them out). The use cases are in
//! [`service::refunds`](crate::service::refunds).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use crate::{
    db::refunds::Refund,
    domain::money::AmountOre,
    http::{
        agreements::{ChargeView, charge_view},
        auth::PartnerAuth,
        error::ApiResult,
        health::ApiTags,
        text::Text,
        time::ts,
    },
    service::{
        self,
        refunds::{ChargeDetail, RefundInput},
    },
    state::AppState,
};

pub struct ChargesApi;

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct RefundBody {
    /// NOK with at most two decimals, e.g. `"49.90"`: at least 1.00, at most what is left.
    amount: Text,
    /// Shown to the user by Vipps (up to 100 characters); the dialogue's product name when left
    /// out.
    reason: Option<Text>,
}

#[derive(Object)]
struct RefundView {
    id: String,
    charge_id: String,
    amount_ore: i64,
    amount: String,
    reason: String,
    /// PENDING (Vipps asked, or about to be), DONE or FAILED.
    status: String,
    #[oai(nullable)]
    failure: Option<String>,
    /// `partner` (the API key) or `user:{email}` (the portal).
    actor: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Object)]
struct ChargeDetailView {
    #[oai(flatten)]
    charge: ChargeView,
    agreement_id: String,
    refunds: Vec<RefundView>,
    /// What can still be refunded (0 unless CHARGED or PARTIALLY_REFUNDED).
    refundable_ore: i64,
    refundable: String,
}

#[derive(ApiResponse)]
enum RefundResponse {
    /// The refund is recorded (PENDING) and queued.
    #[oai(status = 202)]
    Accepted(Json<RefundView>),
}

#[derive(ApiResponse)]
enum CancelResponse {
    /// The cancel is queued.
    #[oai(status = 202)]
    Accepted(Json<ChargeDetailView>),
}

fn refund_view(r: Refund) -> ApiResult<RefundView> {
    Ok(RefundView {
        amount: AmountOre(r.amount_ore).to_string(),
        created_at: ts(r.created_at)?,
        updated_at: ts(r.updated_at)?,
        status: r.status.as_str().to_owned(),
        id: r.id,
        charge_id: r.charge_id,
        amount_ore: r.amount_ore,
        reason: r.reason,
        failure: r.failure,
        actor: r.actor,
    })
}

fn detail_view(d: ChargeDetail) -> ApiResult<ChargeDetailView> {
    Ok(ChargeDetailView {
        agreement_id: d.charge.agreement_id.clone(),
        refundable: AmountOre(d.refundable_ore).to_string(),
        refundable_ore: d.refundable_ore,
        refunds: d
            .refunds
            .into_iter()
            .map(refund_view)
            .collect::<ApiResult<_>>()?,
        charge: charge_view(d.charge, &d.history)?,
    })
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dialogues")]
impl ChargesApi {
    /// One payment with its history, its refunds and the amount left to refund.
    #[oai(path = "/charges/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<ChargeDetailView>> {
        let d = service::refunds::get(&state, &auth.actor(), &id).await?;
        Ok(Json(detail_view(d)?))
    }

    /// Refund a CHARGED payment fully or partly (202, carried out by a job). 409 when nothing
    /// is left, the payment is not CHARGED or partly refunded, or another refund of it is
    /// pending; 422 for a bad amount.
    #[oai(path = "/charges/:id/refunds", method = "post")]
    async fn refund(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        body: Json<RefundBody>,
    ) -> ApiResult<RefundResponse> {
        let input = RefundInput {
            amount: body.0.amount.0,
            reason: body.0.reason.map(|r| r.0),
        };
        let r = service::refunds::refund(&state, &auth.actor(), &id, &input).await?;
        Ok(RefundResponse::Accepted(Json(refund_view(r)?)))
    }

    /// Cancel a payment not taken yet (PENDING or DUE; 202, carried out by a job); 409 otherwise.
    #[oai(path = "/charges/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<CancelResponse> {
        let d = service::refunds::cancel(&state, &auth.actor(), &id).await?;
        Ok(CancelResponse::Accepted(Json(detail_view(d)?)))
    }
}
