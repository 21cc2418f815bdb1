//! htmx conventions: a request made by htmx carries `HX-Request: true` and is answered with a
//! fragment (a `*_partial.html` template) instead of a whole page.

use poem::{FromRequest, Request, RequestBody};

/// Whether htmx made this request.
pub fn is_htmx(req: &Request) -> bool {
    req.headers()
        .get("HX-Request")
        .is_some_and(|v| v.as_bytes() == b"true")
}

/// An extractor: `HxRequest(true)` when htmx made the request (render the fragment).
#[derive(Debug, Clone, Copy)]
pub struct HxRequest(pub bool);

impl<'a> FromRequest<'a> for HxRequest {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(HxRequest(is_htmx(req)))
    }
}
