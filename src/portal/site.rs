//! Which site a page belongs to. The partner portal and the operator console (`/console`)
//! share this module's machinery (layout, sessions, CSRF, cookies, login and set-password
//! pages); a [`Site`] says what differs: where it is mounted, whose accounts log in
//! ([`Realm`]), its cookies' names. A site's routes run inside [`enter`]; a request outside
//! any is the portal's.

use poem::{Endpoint, IntoResponse, Request, Response};

use crate::db::sessions::Realm;

/// One site's constants.
#[derive(Debug)]
pub struct Site {
    /// Where it is mounted (`/portal`); its cookies' path.
    pub prefix: &'static str,
    /// Whose accounts log in.
    pub realm: Realm,
    /// The navigation's accessible name.
    pub name: &'static str,
    /// The login page's line under its heading.
    pub login_lead: &'static str,
    pub session_cookie: &'static str,
    pub csrf_cookie: &'static str,
    pub flash_cookie: &'static str,
}

/// The partner portal.
pub const PORTAL: Site = Site {
    prefix: "/portal",
    realm: Realm::Portal,
    name: "Portal",
    login_lead: "The partner portal: your dialogues, messages and payments.",
    session_cookie: "portal_session",
    csrf_cookie: "portal_csrf",
    flash_cookie: "portal_flash",
};

impl Site {
    /// The login page.
    pub fn login_path(&self) -> String {
        format!("{}/login", self.prefix)
    }

    /// The start page.
    pub fn home(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// Whether `path` is one of this site's pages.
    pub fn contains(&self, path: &str) -> bool {
        path == self.prefix
            || path
                .strip_prefix(self.prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The site of this request.
pub fn of(req: &Request) -> &'static Site {
    req.extensions()
        .get::<&'static Site>()
        .copied()
        .unwrap_or(&PORTAL)
}

/// Middleware body: the request belongs to `site`.
pub async fn enter<E: Endpoint>(
    site: &'static Site,
    next: E,
    mut req: Request,
) -> poem::Result<Response> {
    req.extensions_mut().insert(site);
    next.call(req).await.map(IntoResponse::into_response)
}
