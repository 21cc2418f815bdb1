//! Operator triggers: run the billing sweep now; reconcile every open charge now.

use dialogpay_jobs::{
    JobSpec,
    billing::{Reconcile, Sweep},
};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use crate::{
    db::audit,
    http::{auth::OperatorAuth, error::ApiResult, health::ApiTags},
    state::AppState,
};

pub struct BillingAdminApi;

#[derive(Object)]
struct Queued {
    /// The queued job's id (see `/api/v1/admin/jobs/{id}`).
    #[oai(nullable)]
    job_id: Option<String>,
}

#[derive(ApiResponse)]
enum QueuedResponse {
    #[oai(status = 202)]
    Accepted(Json<Queued>),
}

async fn queue<J: JobSpec>(
    state: &AppState,
    op: &OperatorAuth,
    job: &J,
    action: &str,
) -> ApiResult<QueuedResponse> {
    let id = state.enqueuer.enqueue(job).await?;
    let entry = audit::NewAudit {
        actor: &op.0.actor,
        partner_id: None,
        action,
        target_type: "job",
        target_id: id.as_deref().unwrap_or("-"),
        details: None,
    };
    audit::record(&state.db, &entry, state.clock.now_ms()).await?;
    Ok(QueuedResponse::Accepted(Json(Queued { job_id: id })))
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::AdminJobs")]
impl BillingAdminApi {
    /// Run the billing sweep now (it only enqueues create-charge jobs).
    #[oai(path = "/billing/sweep", method = "post")]
    async fn sweep(&self, state: Data<&AppState>, op: OperatorAuth) -> ApiResult<QueuedResponse> {
        let tick = format!("manual-{}", ulid::Ulid::new());
        queue(&state, &op, &Sweep { tick }, "billing.sweep").await
    }

    /// Re-read every open charge from Vipps now.
    #[oai(path = "/reconcile", method = "post")]
    async fn reconcile(
        &self,
        state: Data<&AppState>,
        op: OperatorAuth,
    ) -> ApiResult<QueuedResponse> {
        let tick = format!("manual-{}", ulid::Ulid::new());
        queue(
            &state,
            &op,
            &Reconcile {
                tick,
                all_open: true,
            },
            "billing.reconcile",
        )
        .await
    }
}
