//! Logging in and out, and setting the password through a one-time link:
//! `GET/POST /portal/login`, `POST /portal/logout`, `GET/POST /portal/set-password/{token}`,
//! and the same under `/console` for operators (the request's [`site`] says whose accounts).
//! The checks (passwords, limits, sessions, links) are the service's
//! ([`service::sessions`], [`service::users`]); this module renders and sets cookies.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Request, Response, Route, handler,
    http::{StatusCode, header},
    web::{Data, Form, Path, Query, Redirect},
};
use serde::Deserialize;

use crate::{
    portal::{
        cookies::CookiePolicy,
        errors::{self, PortalError},
        forms::FieldErrors,
        layout::{Flash, Layout, LayoutParts},
        session,
        site::{self, Site},
    },
    service::{
        self, ServiceError,
        sessions::{LoginOutcome, NewSession},
        users::UserContext,
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/login", poem::get(login_page).post(login))
        .at("/logout", poem::post(logout))
        .at(
            "/set-password/:token",
            poem::get(set_password_page).post(set_password),
        )
}

/// Where to go after logging in: `next` when it is a page of the site, else its home page
/// (never another site, never back to the login form).
fn after_login(site: &Site, next: Option<&str>) -> String {
    match next {
        Some(next)
            if site.contains(next)
                && !next.starts_with(&site.login_path())
                && !next.starts_with(&format!("{}/logout", site.prefix))
                && !next.contains(['\\', '\r', '\n']) =>
        {
            next.to_owned()
        }
        _ => site.home(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    /// Shown above the form (wrong credentials, too many attempts).
    error: Option<String>,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[handler]
fn login_page(Query(query): Query<LoginQuery>, parts: LayoutParts) -> LoginPage {
    LoginPage {
        next: after_login(parts.site, query.next.as_deref()),
        layout: parts.anonymous(),
        email: String::new(),
        error: None,
    }
}

/// The client's IP address, which the login limits count by.
fn client_addr(req: &Request) -> String {
    req.remote_addr()
        .as_socket_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

/// Logs in with the new session and goes to `next`.
fn logged_in(req: &Request, state: &AppState, session: &NewSession, next: &str) -> Response {
    session::start(req.cookie(), CookiePolicy::of_request(state, req), session);
    Redirect::see_other(next).into_response()
}

#[handler]
async fn login(
    req: &Request,
    state: Data<&AppState>,
    Form(form): Form<LoginForm>,
    parts: LayoutParts,
) -> Result<Response, PortalError> {
    let site = site::of(req);
    let next = after_login(site, form.next.as_deref());
    let addr = client_addr(req);
    let outcome =
        service::sessions::login(&state, site.realm, &form.email, &form.password, &addr).await?;
    let again = |error: String| LoginPage {
        layout: parts.clone().anonymous(),
        email: form.email.trim().to_owned(),
        next: next.clone(),
        error: Some(error),
    };
    Ok(match outcome {
        LoginOutcome::LoggedIn(session) => logged_in(req, &state, &session, &next),
        LoginOutcome::Refused => again("Wrong email or password.".to_owned())
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response(),
        LoginOutcome::Throttled { retry_in_minutes } => {
            let unit = if retry_in_minutes == 1 {
                "minute"
            } else {
                "minutes"
            };
            again(format!(
                "Too many attempts. Try again in {retry_in_minutes} {unit}."
            ))
            .with_status(StatusCode::TOO_MANY_REQUESTS)
            .with_header(header::RETRY_AFTER, (retry_in_minutes * 60).to_string())
            .into_response()
        }
    })
}

#[handler]
async fn logout(req: &Request, state: Data<&AppState>) -> Result<Response, PortalError> {
    let site = site::of(req);
    if let Some(token) = session::cookie_token(req) {
        service::sessions::close(&state, site.realm, &token).await?;
    }
    let policy = CookiePolicy::of_request(&state, req);
    session::end(req.cookie(), policy);
    Flash::LoggedOut.set(req.cookie(), policy);
    Ok(Redirect::see_other(site.login_path()).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    token: String,
    email: String,
    errors: FieldErrors,
    min_chars: usize,
}

/// The set-password form's labels, for its error summary (as in `set_password.html`).
const PASSWORD_LABELS: &[(&str, &str)] = &[
    ("password", "New password"),
    ("password_confirm", "Repeat the password"),
];

#[derive(Deserialize)]
struct SetPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn link_unusable(state: &AppState) -> Response {
    errors::page(
        StatusCode::NOT_FOUND,
        "This link cannot be used",
        &format!(
            "It was used already, it has expired (links are valid for {} days), or it was \
             copied incompletely. Ask whoever sent it to you for a new one.",
            state.settings.portal.password_link_days
        ),
    )
}

#[handler]
async fn set_password_page(
    Path(token): Path<String>,
    state: Data<&AppState>,
    parts: LayoutParts,
) -> Result<Response, PortalError> {
    let ctx = UserContext::of(&state);
    let user = match service::users::password_link(&ctx, parts.site.realm, &token).await {
        Ok(user) => user,
        Err(ServiceError::NotFound(_)) => return Ok(link_unusable(&state)),
        Err(err) => return Err(err.into()),
    };
    Ok(SetPasswordPage {
        layout: parts.anonymous(),
        token,
        email: user.email,
        errors: FieldErrors::none(),
        min_chars: service::passwords::MIN_CHARS,
    }
    .into_response())
}

#[handler]
async fn set_password(
    req: &Request,
    Path(token): Path<String>,
    state: Data<&AppState>,
    Form(form): Form<SetPasswordForm>,
    parts: LayoutParts,
) -> Result<Response, PortalError> {
    let ctx = UserContext::of(&state);
    let site = parts.site;
    let user = match service::users::password_link(&ctx, site.realm, &token).await {
        Ok(user) => user,
        Err(ServiceError::NotFound(_)) => return Ok(link_unusable(&state)),
        Err(err) => return Err(err.into()),
    };
    let (password, confirm) = (&form.password, &form.password_confirm);
    match service::users::set_password(&ctx, site.realm, &token, password, confirm).await {
        Ok(user) => {
            let session = service::sessions::open(&state, site.realm, &user.id).await?;
            Flash::PasswordSet.set(req.cookie(), CookiePolicy::of_request(&state, req));
            Ok(logged_in(req, &state, &session, &site.home()))
        }
        Err(ServiceError::Invalid(problems)) => Ok(SetPasswordPage {
            layout: parts.anonymous(),
            token,
            email: user.email,
            errors: FieldErrors::from(problems).labelled(PASSWORD_LABELS),
            min_chars: service::passwords::MIN_CHARS,
        }
        .with_status(StatusCode::UNPROCESSABLE_ENTITY)
        .into_response()),
        Err(ServiceError::NotFound(_)) => Ok(link_unusable(&state)),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::after_login;
    use crate::portal::site::PORTAL;

    #[test]
    fn only_portal_pages_are_come_back_to() {
        assert_eq!(
            after_login(&PORTAL, Some("/portal/dialogues?x=1")),
            "/portal/dialogues?x=1"
        );
        for elsewhere in [
            None,
            Some("https://evil.example/"),
            Some("//evil.example/portal"),
            Some("/portal/login?next=/x"),
            Some("/portal/logout"),
            Some("/portal\\@evil"),
            Some("/api/v1/dialogues"),
            Some("/portalx"),
        ] {
            assert_eq!(after_login(&PORTAL, elsewhere), "/portal/", "{elsewhere:?}");
        }
    }
}
