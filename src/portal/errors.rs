//! Errors as HTML pages. [`PortalError`] is what a screen's handler returns on failure; the
//! [`html_errors`] middleware turns every other error response under `/portal` (an unknown
//! path, a wrong method, a form that does not parse, a body too large) into the same page, so a
//! partner never sees JSON or plain text. The page is the site's (the portal's or the
//! console's): its brand and its "start page" link lead back into the site it happened in.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    Endpoint, IntoResponse, Request, Response, error::ResponseError, http::StatusCode, http::header,
};

use crate::{
    portal::{
        layout::Layout,
        site::{self, Site},
    },
    service::ServiceError,
};

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    title: &'a str,
    message: &'a str,
}

/// What an error page says, kept on its response so that [`html_errors`] can render it again
/// for the site it happened in.
#[derive(Debug, Clone)]
struct ErrorText {
    title: String,
    message: String,
}

/// An error page with this status, title and explanation (the portal's, until
/// [`html_errors`] makes it its site's).
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut resp = site_page(&site::PORTAL, status, title, message);
    resp.extensions_mut().insert(ErrorText {
        title: title.to_owned(),
        message: message.to_owned(),
    });
    resp
}

fn site_page(site: &'static Site, status: StatusCode, title: &str, message: &str) -> Response {
    ErrorPage {
        layout: Layout::bare_of(site),
        title,
        message,
    }
    .with_status(status)
    .into_response()
}

/// Why a screen could not answer.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// No such object, or another partner's (the same answer).
    #[error("not found")]
    NotFound,
    /// A request no form of ours sends (a bad period, a bad cursor).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Logged where it happened; the page says only that it failed.
    #[error("internal error")]
    Internal,
}

impl PortalError {
    /// Logs the cause once and answers an opaque 500 page.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error on a portal page");
        PortalError::Internal
    }
}

/// Field problems and conflicts belong next to the form's fields: a screen renders those
/// itself; reaching this conversion with one means a form the screen did not expect.
impl From<ServiceError> for PortalError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(_) => PortalError::NotFound,
            ServiceError::BadInput(message) => PortalError::BadRequest(message),
            ServiceError::Conflict { message, .. } => PortalError::BadRequest(message),
            ServiceError::Invalid(_) => PortalError::BadRequest(err.to_string()),
            ServiceError::Internal(err) => PortalError::internal(format!("{err:#}")),
        }
    }
}

impl ResponseError for PortalError {
    fn status(&self) -> StatusCode {
        match self {
            PortalError::NotFound => StatusCode::NOT_FOUND,
            PortalError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PortalError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        self.page_of(&site::PORTAL)
    }
}

impl PortalError {
    /// The error's page on `site`.
    fn page_of(&self, site: &'static Site) -> Response {
        let status = self.status();
        match self {
            PortalError::BadRequest(message) => {
                site_page(site, status, "The request could not be used", message)
            }
            _ => {
                let (title, message) = standard_text(status);
                site_page(site, status, title, message)
            }
        }
    }
}

/// The title and explanation for a status that no handler explained.
fn standard_text(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "The request could not be read",
            "Something in the form or the address was not understood. Go back and try again.",
        ),
        StatusCode::NOT_FOUND => (
            "Page not found",
            "There is nothing here: the address is wrong, or what it pointed to is gone.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Not possible here",
            "This address does not accept that kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Too much at once",
            "What you sent is larger than we accept. Shorten it and try again.",
        ),
        s if s.is_server_error() => (
            "Something went wrong on our side",
            "Nothing you did caused this. Try again in a moment; if it keeps happening, tell \
             us what you were doing.",
        ),
        _ => ("The request failed", "Go back and try again."),
    }
}

fn is_html(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

/// The error page `resp` needs on `site`: `None` when it is no error or already that page.
fn replacement(site: &'static Site, resp: &Response) -> Option<Response> {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    match resp.extensions().get::<ErrorText>() {
        Some(_) if site.prefix == site::PORTAL.prefix => None,
        Some(text) => Some(site_page(site, status, &text.title, &text.message)),
        None if is_html(resp) => None,
        None => {
            let (title, message) = standard_text(status);
            Some(site_page(site, status, title, message))
        }
    }
}

/// Middleware: an error response that is not HTML becomes the standard page for its status,
/// keeping its other headers (`Allow`, `Retry-After`, …); an error page becomes its site's.
pub async fn html_errors<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let site = site::of(&req);
    let resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => match err.downcast_ref::<PortalError>() {
            Some(failed) => failed.page_of(site),
            None => err.into_response(),
        },
    };
    let Some(mut out) = replacement(site, &resp) else {
        return Ok(resp);
    };
    for (name, value) in resp.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(out)
}
