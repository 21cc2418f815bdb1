//! Liveness and readiness probes.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use crate::state::AppState;

pub struct HealthApi;

#[derive(Object)]
struct HealthBody {
    status: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// The database is reachable and every migration is applied.
    #[oai(status = 200)]
    Ready(Json<HealthBody>),
    /// Not ready: the reason is in `status`.
    #[oai(status = 503)]
    NotReady(Json<HealthBody>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// The process is alive.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> Json<HealthBody> {
        Json(HealthBody {
            status: "ok".into(),
        })
    }

    /// The database is reachable and migrations are applied.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self, state: Data<&AppState>) -> ReadyResponse {
        let not_ready = |status: &str| {
            ReadyResponse::NotReady(Json(HealthBody {
                status: status.into(),
            }))
        };
        if state.db.ping().await.is_err() {
            return not_ready("database unreachable");
        }
        match state.db.migrations_applied().await {
            Ok(true) => ReadyResponse::Ready(Json(HealthBody {
                status: "ready".into(),
            })),
            Ok(false) => not_ready("migrations pending"),
            Err(_) => not_ready("migrations unknown"),
        }
    }
}

#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// Liveness and readiness.
    Health,
    /// CRM groups, their Terms and Conditions and members.
    Crm,
    /// Keyword dialogues.
    Dialogues,
    /// Webhooks to the partner's own systems: endpoints, deliveries.
    Webhooks,
    /// Operator: partners.
    AdminPartners,
    /// Operator: background jobs.
    AdminJobs,
    /// Operator: audit log.
    AdminAudit,
}
