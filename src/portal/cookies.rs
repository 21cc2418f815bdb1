//! The portal's cookies: `HttpOnly`, `SameSite=Lax`, `Path=/portal`, and `Secure` when the
//! public address is https.

use poem::web::cookie::{Cookie, SameSite};

use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    secure: bool,
}

impl CookiePolicy {
    pub fn of(state: &AppState) -> Self {
        Self {
            secure: state.public_base_url.starts_with("https://"),
        }
    }

    /// A cookie for the browser's session (no expiry of its own: the server decides).
    pub fn cookie(&self, name: &str, value: &str) -> Cookie {
        let mut cookie = Cookie::new_with_str(name, value);
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path(super::PREFIX);
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
