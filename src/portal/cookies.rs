//! The portal's (and the console's) cookies: `HttpOnly`, `SameSite=Lax`, `Path=` the site's
//! prefix (`/portal`, `/console`: neither site sees the other's cookies), and `Secure` when the
//! public address is https.

use poem::{
    Request,
    web::cookie::{Cookie, SameSite},
};

use crate::{
    portal::site::{self, PORTAL, Site},
    state::AppState,
};

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    secure: bool,
    site: &'static Site,
}

impl CookiePolicy {
    /// The portal's cookies.
    pub fn of(state: &AppState) -> Self {
        Self::for_site(state, &PORTAL)
    }

    pub fn for_site(state: &AppState, site: &'static Site) -> Self {
        Self {
            secure: state.public_base_url.starts_with("https://"),
            site,
        }
    }

    /// The cookies of the site `req` is on.
    pub fn of_request(state: &AppState, req: &Request) -> Self {
        Self::for_site(state, site::of(req))
    }

    pub fn site(&self) -> &'static Site {
        self.site
    }

    /// A cookie for the browser's session (no expiry of its own: the server decides).
    pub fn cookie(&self, name: &str, value: &str) -> Cookie {
        let mut cookie = Cookie::new_with_str(name, value);
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path(self.site.prefix);
        cookie.set_secure(self.secure);
        cookie
    }

    /// Deletes the cookie `name` (same path and flags, so the browser matches it).
    pub fn removal(&self, name: &str) -> Cookie {
        let mut cookie = self.cookie(name, "");
        cookie.make_removal();
        cookie
    }
}
