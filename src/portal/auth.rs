//! Logging in and out, and setting the password through a one-time link:
//! `GET/POST /portal/login`, `POST /portal/logout`, `GET/POST /portal/set-password/{token}`.
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

/// Where to go after logging in: `next` when it is a portal page, else the home page (never
/// another site, never back to the login form).
fn after_login(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if (next == "/portal" || next.starts_with("/portal/"))
                && !next.starts_with("/portal/login")
                && !next.starts_with("/portal/logout")
                && !next.contains(['\\', '\r', '\n']) =>
        {
            next
        }
        _ => "/portal/",
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
        layout: parts.anonymous(),
        email: String::new(),
        next: after_login(query.next.as_deref()).to_owned(),
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
    session::start(req.cookie(), CookiePolicy::of(state), session);
    Redirect::see_other(next).into_response()
}

#[handler]
async fn login(
    req: &Request,
    state: Data<&AppState>,
    Form(form): Form<LoginForm>,
    parts: LayoutParts,
) -> Result<Response, PortalError> {
    let next = after_login(form.next.as_deref()).to_owned();
    let outcome =
        service::sessions::login(&state, &form.email, &form.password, &client_addr(req)).await?;
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
    if let Some(token) = session::cookie_token(req) {
        service::sessions::close(&state, &token).await?;
    }
    let policy = CookiePolicy::of(&state);
    session::end(req.cookie(), policy);
    Flash::LoggedOut.set(req.cookie(), policy);
    Ok(Redirect::see_other(session::LOGIN_PATH).into_response())
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
    let user = match service::users::password_link(&UserContext::of(&state), &token).await {
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
    let user = match service::users::password_link(&ctx, &token).await {
        Ok(user) => user,
        Err(ServiceError::NotFound(_)) => return Ok(link_unusable(&state)),
        Err(err) => return Err(err.into()),
    };
    match service::users::set_password(&ctx, &token, &form.password, &form.password_confirm).await {
        Ok(user) => {
            let session = service::sessions::open(&state, &user.id).await?;
            Flash::PasswordSet.set(req.cookie(), CookiePolicy::of(&state));
            Ok(logged_in(req, &state, &session, "/portal/"))
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

    #[test]
    fn only_portal_pages_are_come_back_to() {
        assert_eq!(
            after_login(Some("/portal/dialogues?x=1")),
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
            assert_eq!(after_login(elsewhere), "/portal/", "{elsewhere:?}");
        }
    }
}
