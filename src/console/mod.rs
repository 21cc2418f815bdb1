//! The operator console at `/console`: background jobs to watch and act on in the browser, on
//! the same `service` functions as the admin API (no logic of its own). Built from the portal's
//! parts ([`crate::portal`]): its layout, templates, assets, errors, headers, CSRF and its
//! login and set-password pages, here as the console's [`SITE`] (operators' accounts and
//! sessions, cookies of their own on `Path=/console`).

pub mod audit;
pub mod billing;
pub mod forms;
pub mod jobs;
pub mod objects;
pub mod operators;
pub mod overview;
pub mod partners;
pub mod session;
pub mod throughput;

use poem::{EndpointExt, Route, endpoint::BoxEndpoint, middleware::CookieJarManager};

use crate::{
    db::sessions::Realm,
    portal::{
        self, errors,
        site::{self, Site},
    },
};

/// Where the console is mounted.
pub const PREFIX: &str = "/console";

/// The console as a site of the portal's machinery.
pub static SITE: Site = Site {
    prefix: PREFIX,
    realm: Realm::Console,
    name: "Console",
    login_lead: "The operator console: background jobs, their attempts, retries and cancels.",
    session_cookie: "console_session",
    csrf_cookie: "console_csrf",
    flash_cookie: "console_flash",
};

/// Every screen's routes, relative to [`PREFIX`].
const SCREENS: &[fn(Route) -> Route] = &[
    portal::auth::routes,
    overview::routes,
    jobs::routes,
    objects::routes,
    partners::routes,
    billing::routes,
    audit::routes,
    operators::routes,
];

/// The console, to be nested at [`PREFIX`]; every error is an HTML page.
pub fn routes() -> BoxEndpoint<'static> {
    Route::new()
        .nest("/", portal::pages(SCREENS))
        .around(|next, req| site::enter(&SITE, next, req))
        .around(errors::html_errors)
        .with(CookieJarManager::new())
        .boxed()
}
