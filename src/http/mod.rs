//! The HTTP API (poem-openapi): partner endpoints, operator endpoints under `/api/v1/admin`,
//! health checks, `/openapi.json` and Swagger UI at `/docs`.
//!
//! Handlers never call Vipps or the SMS gateway: they validate, write, enqueue and return.

pub mod admin;
pub mod auth;
pub mod crm;
pub mod dialogues;
pub mod error;
pub mod health;
pub mod limits;
pub mod pagination;
pub mod text;
pub mod time;

use poem::{EndpointExt, IntoEndpoint, Route};
use poem_openapi::OpenApiService;

use crate::app::AppState;

/// The OpenAPI service with every API; also used to print or snapshot the document.
pub fn openapi(public_base_url: &str) -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    OpenApiService::new(
        (
            health::HealthApi,
            crm::CrmApi,
            dialogues::DialoguesApi,
            admin::partners::PartnersAdminApi,
            admin::jobs::JobsAdminApi,
            admin::audit::AuditAdminApi,
        ),
        "dialogpay",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Vipps recurring payments sold through SMS keyword dialogues.")
    .server(public_base_url.to_owned())
}

/// All routes with their middleware.
pub fn routes(state: AppState) -> impl poem::Endpoint {
    let api = openapi(&state.settings.server.public_base_url);
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    let limit = state.settings.server.body_limit_bytes;
    Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", spec)
        .around(move |ep, req| limits::limit_body(ep, req, limit))
        .around(error::normalize_errors)
        .with(poem::middleware::CatchPanic::new())
        .data(state)
        .into_endpoint()
}
