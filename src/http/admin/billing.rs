//! Operator triggers: run the billing sweep now; reconcile every open charge now.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use crate::{
    http::{auth::OperatorAuth, error::ApiResult, health::ApiTags},
    service,
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

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::AdminJobs")]
impl BillingAdminApi {
    /// Run the billing sweep now (it only enqueues create-charge jobs).
    #[oai(path = "/billing/sweep", method = "post")]
    async fn sweep(&self, state: Data<&AppState>, op: OperatorAuth) -> ApiResult<QueuedResponse> {
        let job_id = service::operations::sweep_now(&state, &op.0).await?;
        Ok(QueuedResponse::Accepted(Json(Queued { job_id })))
    }

    /// Re-read every open charge from Vipps now.
    #[oai(path = "/reconcile", method = "post")]
    async fn reconcile(
        &self,
        state: Data<&AppState>,
        op: OperatorAuth,
    ) -> ApiResult<QueuedResponse> {
        let job_id = service::operations::reconcile_now(&state, &op.0).await?;
        Ok(QueuedResponse::Accepted(Json(Queued { job_id })))
    }
}
