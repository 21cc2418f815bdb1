//! Headers on every portal page: pages hold a partner's data, so no cache keeps them
//! (`no-store`: the back button after logout shows nothing); a strict Content-Security-Policy
//! (scripts and styles only from our own files, no inline script, no framing); no referrer
//! beyond this site (a set-password link's token stays here).

use poem::{Endpoint, IntoResponse, Request, Response, http::HeaderValue, http::header};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   object-src 'none'";

pub async fn add_page_headers<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let mut resp = next.call(req).await?.into_response();
    let headers = resp.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(resp)
}
