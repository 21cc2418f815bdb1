//! The logged-in partner user: the `portal_session` cookie holds a random token, the database
//! the session ([`service::sessions`](crate::service::sessions)). [`PortalUser`] is the
//! extractor every screen takes; without a valid session a page request is sent to the login
//! page (303, with `next` to come back) and an htmx request gets 401 with `HX-Redirect`. The
//! cookie and the login page are the [`site`]'s: the console's operator extractor uses the same
//! functions.

use poem::{
    FromRequest, Request, RequestBody, Response,
    http::{Method, StatusCode, header},
    web::cookie::CookieJar,
};

use crate::{
    db::partners::Partner,
    portal::{cookies::CookiePolicy, errors::PortalError, htmx, layout::Flash, site},
    service::{self, PartnerActor, sessions::NewSession},
    state::AppState,
};

/// A partner user with a valid session: every portal query is for `partner`, and only it.
#[derive(Debug, Clone)]
pub struct PortalUser {
    pub user_id: String,
    pub email: String,
    pub partner: Partner,
    /// One of the partner's webhook endpoints was switched off for failing: every page says so.
    pub endpoints_switched_off: bool,
}

impl PortalUser {
    /// Who acts, for the service layer and its audit log (`user:{email}`).
    pub fn actor(&self) -> PartnerActor {
        PartnerActor::portal_user(self.partner.clone(), &self.email)
    }
}

/// The session cookie's token (of the request's site), if the browser sent one.
pub fn cookie_token(req: &Request) -> Option<String> {
    req.cookie()
        .get(site::of(req).session_cookie)
        .map(|c| c.value_str().to_owned())
        .filter(|t| !t.is_empty())
}

/// Puts a new session's token into the cookie.
pub fn start(jar: &CookieJar, policy: CookiePolicy, session: &NewSession) {
    jar.add(policy.cookie(policy.site().session_cookie, &session.token));
}

/// Deletes the session cookie.
pub fn end(jar: &CookieJar, policy: CookiePolicy) {
    jar.add(policy.removal(policy.site().session_cookie));
}

pub fn state(req: &Request) -> Result<&AppState, PortalError> {
    req.data::<AppState>()
        .ok_or_else(|| PortalError::internal("AppState missing from the request"))
}

/// Where to send a request without a valid session: the login page of its site.
pub fn to_login(req: &Request) -> poem::Error {
    poem::Error::from_response(login_response(req))
}

fn login_response(req: &Request) -> Response {
    let site = site::of(req);
    let login = site.login_path();
    if htmx::is_htmx(req) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("HX-Redirect", login)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .finish();
    }
    // Only a page (GET) can be come back to; after a refused POST the home page will do.
    let location = match req.method() {
        &Method::GET => {
            let home = site.home();
            let next = req
                .original_uri()
                .path_and_query()
                .map_or(home.as_str(), |pq| pq.as_str());
            let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
            format!("{login}?next={next}")
        }
        _ => login,
    };
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .finish()
}

/// A session cookie that no longer names a valid session: deleted, and the login page says so.
pub fn ended(req: &Request, state: &AppState) -> poem::Error {
    let policy = CookiePolicy::of_request(state, req);
    end(req.cookie(), policy);
    Flash::SessionEnded.set(req.cookie(), policy);
    to_login(req)
}

impl<'a> FromRequest<'a> for PortalUser {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = state(req)?;
        let token = cookie_token(req).ok_or_else(|| to_login(req))?;
        match service::sessions::resolve(state, &token).await {
            Ok(Some(s)) => Ok(PortalUser {
                user_id: s.user_id,
                email: s.email,
                partner: s.partner,
                endpoints_switched_off: s.endpoints_switched_off,
            }),
            Ok(None) => Err(ended(req, state)),
            Err(err) => Err(PortalError::from(err).into()),
        }
    }
}
