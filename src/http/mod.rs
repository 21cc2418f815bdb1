//! The HTTP API (poem-openapi): partner endpoints, operator endpoints under `/api/v1/admin`,
//! health checks, `/openapi.json` and Swagger UI at `/docs`.
//!
//! Handlers never call Vipps or the SMS gateway: they validate, write, enqueue and return.

pub mod admin;
pub mod agreements;
pub mod allow;
pub mod auth;
pub mod charges;
pub mod crm;
pub mod dialogues;
pub mod error;
pub mod health;
pub mod limits;
pub mod manage;
pub mod messages;
pub mod metrics;
pub mod ops;
pub mod text;
pub mod time;
pub mod webhook_endpoints;
pub mod webhooks;

use std::sync::Arc;

use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

use crate::state::AppState;

/// The OpenAPI service with every API; also used to print or snapshot the document.
pub fn openapi(public_base_url: &str) -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    OpenApiService::new(
        (
            health::HealthApi,
            crm::CrmApi,
            dialogues::DialoguesApi,
            messages::MessagesApi,
            agreements::AgreementsApi,
            charges::ChargesApi,
            webhook_endpoints::WebhookEndpointsApi,
            admin::partners::PartnersAdminApi,
            admin::users::UsersAdminApi,
            admin::jobs::JobsAdminApi,
            admin::billing::BillingAdminApi,
            admin::audit::AuditAdminApi,
        ),
        "dialogpay",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Vipps recurring payments sold through SMS keyword dialogues.")
    .server(public_base_url.to_owned())
}

/// An endpoint mounted beside the API: either inside its middleware as one of its `pages`
/// (the portal at `/portal`, whose errors are HTML pages of its own, which the JSON error
/// normalizer leaves alone), or outside it as `mounted` (the embedded Vipps simulator, so that
/// it answers exactly as Vipps would and its requests are not counted in our metrics).
pub struct Mounted {
    pub prefix: &'static str,
    pub endpoint: poem::endpoint::BoxEndpoint<'static>,
}

/// All routes with their middleware, `pages` among them, and `mounted` beside them.
pub fn routes(
    state: AppState,
    pages: Vec<Mounted>,
    mounted: Option<Mounted>,
) -> poem::endpoint::BoxEndpoint<'static> {
    let api = openapi(&state.public_base_url);
    let route_names = metrics::RouteNames::from_spec(&api.spec());
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    let methods = Arc::new(
        allow::MethodTable::from_openapi(&api.spec())
            .with("/openapi.json", "GET")
            .with("/metrics", "GET")
            .with("/webhooks/sms/inbound", "POST")
            .with("/webhooks/sms/status", "POST")
            .with("/webhooks/sms/link/mo", "POST")
            .with("/webhooks/sms/link/dlr", "POST")
            .with("/webhooks/vipps", "POST")
            .with("/my/agreements/:token", "GET")
            .with("/my/agreements/:token/stop", "POST"),
    );
    let limit = state.settings.server.body_limit_bytes;
    let mut app = Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", spec)
        .at("/webhooks/sms/inbound", poem::post(webhooks::sms_inbound))
        .at("/webhooks/sms/status", poem::post(webhooks::sms_status))
        .at("/webhooks/sms/link/mo", poem::post(webhooks::link_mo))
        .at("/webhooks/sms/link/dlr", poem::post(webhooks::link_dlr))
        .at("/webhooks/vipps", poem::post(webhooks::vipps))
        .at("/my/agreements/:token", poem::get(manage::page))
        .at("/my/agreements/:token/stop", poem::post(manage::stop));
    let page_prefixes: Arc<[&'static str]> = pages.iter().map(|p| p.prefix).collect();
    for Mounted { prefix, endpoint } in pages {
        app = app.nest(prefix, endpoint);
    }
    if state.settings.server.metrics_enabled {
        app = app.at("/metrics", poem::get(metrics::metrics));
    }
    let app = app
        .around(move |ep, req| metrics::capture_route(ep, req, route_names.clone()))
        .around(move |ep, req| limits::limit_body(ep, req, limit))
        .around({
            let pages = page_prefixes.clone();
            move |ep, req| error::normalize_errors_except(ep, req, pages.clone())
        })
        .around(move |ep, req| allow::add_allow(ep, req, methods.clone()))
        .with(poem::middleware::CatchPanic::new())
        .around(metrics::measure)
        .data(state);
    match mounted {
        Some(Mounted { prefix, endpoint }) => {
            let raw: Arc<[&'static str]> = std::iter::once(prefix)
                .chain(page_prefixes.iter().copied())
                .collect();
            Route::new()
                .nest(prefix, endpoint)
                .nest("/", app)
                .around(move |ep, req| error::normalize_errors_except(ep, req, raw.clone()))
                .boxed()
        }
        None => app.boxed(),
    }
}
