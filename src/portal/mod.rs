//! The partner portal at `/portal`: server-rendered pages for partner users, on the same
//! `service` functions as the JSON API (no business rule lives here: a screen parses the form,
//! calls one service function and renders a template).
//!
//! Layout, after kanidm's `server/core/src/https/views/`: one module per screen, each with a
//! `routes` function listed in [`SCREENS`]; askama templates in `portal/templates/` (pages
//! extend `base.html`, htmx fragments are `*_partial.html`); the vendored assets in
//! `portal/assets/`, embedded and served by [`assets`]. Around every page (outermost first):
//! the cookie jar, [`headers`], [`errors::html_errors`] (every error is an HTML page) and
//! [`csrf::protect`] (every POST carries a valid `csrf_token`).

pub mod assets;
pub mod auth;
pub mod charge_actions;
pub mod cookies;
pub mod crm_groups;
pub mod csrf;
pub mod dialogue_form;
pub mod dialogue_page;
pub mod dialogues;
pub mod download;
pub mod errors;
pub mod format;
pub mod forms;
pub mod headers;
pub mod htmx;
pub mod layout;
pub mod messages;
pub mod session;
pub mod site;
pub mod try_it;
pub mod webhooks;

use poem::{Endpoint, EndpointExt, Route, endpoint::BoxEndpoint, middleware::CookieJarManager};

/// Where the portal is mounted.
pub const PREFIX: &str = "/portal";

/// Every screen's routes, relative to [`PREFIX`]; a new screen adds its `routes` here.
const SCREENS: &[fn(Route) -> Route] = &[
    auth::routes,
    dialogues::routes,
    dialogue_form::routes,
    dialogue_page::routes,
    charge_actions::routes,
    messages::routes,
    crm_groups::routes,
    try_it::routes,
    webhooks::routes,
];

/// `screens`' routes inside the pages' middleware (the console's too).
pub fn pages(screens: &[fn(Route) -> Route]) -> impl Endpoint + 'static {
    screens
        .iter()
        .fold(Route::new(), |route, add| add(route))
        .around(csrf::protect)
        .around(errors::html_errors)
        .around(headers::add_page_headers)
}

/// The portal, to be nested at [`PREFIX`]: the assets as they are (cacheable, no cookies), the
/// screens inside the portal's middleware; any error of either is an HTML page.
pub fn routes() -> BoxEndpoint<'static> {
    Route::new()
        .nest("/assets", assets::routes())
        .nest("/", pages(SCREENS))
        .around(errors::html_errors)
        .with(CookieJarManager::new())
        .boxed()
}
