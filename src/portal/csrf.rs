//! CSRF protection for every portal form, checked in one middleware so no handler can forget.
//!
//! Each browser gets a random `portal_csrf` cookie (`HttpOnly`) on its first page. The token a
//! page puts in its forms ([`CsrfToken`], in the hidden field `csrf_token`, or for htmx the
//! `X-CSRF-Token` header that `base.html` sets on every request) is the SHA-256 of that cookie
//! and of the session cookie when there is one: another site can make the browser send both
//! cookies but can read neither, so it cannot make the token, and a token shown before a login
//! is worth nothing after it. Every request but GET/HEAD/OPTIONS without a matching token is
//! refused with a 403 page before the handler runs. Nothing is stored: every process checks
//! every token. The console does the same with its own cookies (the request's [`site`]), and
//! the site's prefix goes into the hash: a portal token is worth nothing on the console.

use poem::{
    Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response,
    http::{Method, StatusCode, header},
};
use sha2::{Digest, Sha256};

use crate::{
    db::ids::{hash_secret, secret_token},
    portal::{
        cookies::CookiePolicy,
        errors, session,
        site::{self, Site},
    },
    state::AppState,
};

/// The form field that carries the token.
pub const FIELD: &str = "csrf_token";
/// The header htmx requests carry it in.
pub const HEADER: &str = "x-csrf-token";

/// This request's token, for the page's forms (`{{ layout.csrf_token }}`); an extractor.
#[derive(Debug, Clone)]
pub struct CsrfToken(String);

impl CsrfToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'a> FromRequest<'a> for CsrfToken {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        req.extensions().get::<CsrfToken>().cloned().ok_or_else(|| {
            poem::Error::from_string(
                "CsrfToken outside the portal's middleware",
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        })
    }
}

fn token_for(site: &Site, browser_secret: &str, session_token: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"dialogpay csrf\0");
    hasher.update(site.prefix.as_bytes());
    hasher.update(b"\0");
    hasher.update(browser_secret.as_bytes());
    hasher.update(b"\0");
    hasher.update(session_token.unwrap_or_default().as_bytes());
    hex::encode(hasher.finalize())
}

/// Compares through hashes, so the time taken does not depend on where the tokens differ.
fn same(sent: &str, expected: &str) -> bool {
    hash_secret(sent) == hash_secret(expected)
}

fn safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The token a request sent: the header, else the form field of a url-encoded body (read and
/// put back for the handler).
async fn sent_token(req: &mut Request) -> poem::Result<Option<String>> {
    if let Some(value) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return Ok(Some(value.to_owned()));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(None);
    }
    let body = req.take_body().into_bytes().await?;
    let token = form_urlencoded::parse(&body)
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value.into_owned());
    req.set_body(body);
    Ok(token)
}

fn refused() -> Response {
    errors::page(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was sent without a valid security token: it was open for too long, you \
         logged in or out since, or it did not come from this site. Go back, reload the page \
         and send it again.",
    )
}

/// Middleware: refuses unsafe requests without a valid token; gives every browser its secret
/// and every handler its [`CsrfToken`].
pub async fn protect<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    let site = site::of(&req);
    let policy = req
        .data::<AppState>()
        .map(|state| CookiePolicy::for_site(state, site));
    let jar = req.cookie().clone();
    let browser = jar.get(site.csrf_cookie).map(|c| c.value_str().to_owned());
    let session = session::cookie_token(&req);
    if !safe(req.method()) {
        let Some(browser) = &browser else {
            return Ok(refused());
        };
        let expected = token_for(site, browser, session.as_deref());
        match sent_token(&mut req).await? {
            Some(sent) if same(&sent, &expected) => {}
            _ => return Ok(refused()),
        }
    }
    let browser = match browser {
        Some(secret) => secret,
        None => {
            let secret = secret_token(32);
            if let Some(policy) = policy {
                jar.add(policy.cookie(site.csrf_cookie, &secret));
            }
            secret
        }
    };
    req.extensions_mut()
        .insert(CsrfToken(token_for(site, &browser, session.as_deref())));
    next.call(req).await.map(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_the_site_the_browser_and_the_session() {
        let portal = &site::PORTAL;
        let t = token_for(portal, "browser", Some("session"));
        assert_eq!(t, token_for(portal, "browser", Some("session")));
        assert_ne!(t, token_for(portal, "browser", None));
        assert_ne!(t, token_for(portal, "other", Some("session")));
        let elsewhere = Site {
            prefix: "/console",
            ..site::PORTAL
        };
        assert_ne!(t, token_for(&elsewhere, "browser", Some("session")));
        assert_eq!(t.len(), 64);
        assert!(same(&t, &t.clone()));
        assert!(!same("x", &t));
    }
}
