//! The metrics listener (`server.metrics_port`): only `GET /metrics` and `GET /healthz`, so that
//! `dialogpay worker` processes, which have no API port, can be scraped and probed.
//!
//! It answers errors in our JSON shape and 405s with `Allow`, like the API, but its requests are
//! not counted in the HTTP series (those describe the API).

use std::sync::Arc;

use poem::{EndpointExt, Route, handler, web::Json};
use serde_json::{Value, json};

use crate::{
    http::{allow, error, metrics},
    state::AppState,
};

/// `GET /healthz`: the process is alive (the same answer as the API's).
#[handler]
fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The two routes with their middleware.
pub fn routes(state: AppState) -> poem::endpoint::BoxEndpoint<'static> {
    let methods = Arc::new(
        allow::MethodTable::default()
            .with("/metrics", "GET")
            .with("/healthz", "GET"),
    );
    Route::new()
        .at("/metrics", poem::get(metrics::metrics))
        .at("/healthz", poem::get(healthz))
        .around(error::normalize_errors)
        .around(move |ep, req| allow::add_allow(ep, req, methods.clone()))
        .with(poem::middleware::CatchPanic::new())
        .data(state)
        .boxed()
}
