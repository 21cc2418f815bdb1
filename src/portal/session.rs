//! The logged-in partner user: the `portal_session` cookie holds a random token, the database
//! the session ([`service::sessions`](crate::service::sessions)). [`PortalUser`] is the
//! extractor every screen takes; without a valid session a page request is sent to the login
//! page (303, with `next` to come back) and an htmx request gets 401 with `HX-Redirect`.

use poem::{
    FromRequest, Request, RequestBody, Response,
    http::{Method, StatusCode, header},
    web::cookie::CookieJar,
};

use crate::{
    db::partners::Partner,
    portal::{cookies::CookiePolicy, errors::PortalError, htmx, layout::Flash},
    service::{self, PartnerActor, sessions::NewSession},
    state::AppState,
};

/// The session cookie.
pub const COOKIE: &str = "portal_session";
/// Where a request without a session is sent.
pub const LOGIN_PATH: &str = "/portal/login";

/// A partner user with a valid session: every portal query is for `partner`, and only it.
#[derive(Debug, Clone)]
pub struct PortalUser {
    pub user_id: String,
    pub email: String,
    pub partner: Partner,
}

impl PortalUser {
    /// Who acts, for the service layer and its audit log (`user:{email}`).
    pub fn actor(&self) -> PartnerActor {
        PartnerActor::portal_user(self.partner.clone(), &self.email)
    }
}

/// The session cookie's token, if the browser sent one.
pub fn cookie_token(req: &Request) -> Option<String> {
    req.cookie()
        .get(COOKIE)
        .map(|c| c.value_str().to_owned())
        .filter(|t| !t.is_empty())
}

/// Puts a new session's token into the cookie.
pub fn start(jar: &CookieJar, policy: CookiePolicy, session: &NewSession) {
    jar.add(policy.cookie(COOKIE, &session.token));
}

/// Deletes the session cookie.
pub fn end(jar: &CookieJar, policy: CookiePolicy) {
    jar.add(policy.removal(COOKIE));
}

fn state(req: &Request) -> Result<&AppState, PortalError> {
    req.data::<AppState>()
        .ok_or_else(|| PortalError::internal("AppState missing from the request"))
}

/// Where to send a request without a valid session.
fn to_login(req: &Request) -> Response {
    if htmx::is_htmx(req) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("HX-Redirect", LOGIN_PATH)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .finish();
    }
    // Only a page (GET) can be come back to; after a refused POST the home page will do.
    let location = match req.method() {
        &Method::GET => {
            let next = req
                .original_uri()
                .path_and_query()
                .map_or("/portal/", |pq| pq.as_str());
            let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
            format!("{LOGIN_PATH}?next={next}")
        }
        _ => LOGIN_PATH.to_owned(),
    };
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .finish()
}

impl<'a> FromRequest<'a> for PortalUser {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = state(req)?;
        let Some(token) = cookie_token(req) else {
            return Err(poem::Error::from_response(to_login(req)));
        };
        match service::sessions::resolve(state, &token).await {
            Ok(Some(s)) => Ok(PortalUser {
                user_id: s.user_id,
                email: s.email,
                partner: s.partner,
            }),
            Ok(None) => {
                let policy = CookiePolicy::of(state);
                end(req.cookie(), policy);
                Flash::SessionEnded.set(req.cookie(), policy);
                Err(poem::Error::from_response(to_login(req)))
            }
            Err(err) => Err(PortalError::from(err).into()),
        }
    }
}
