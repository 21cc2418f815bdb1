//! Logins and sessions of the portal's partner users and of the console's operators (each
//! [`Realm`] its own accounts and sessions, the same rules): the login form's check (rate-limited per address typed and per
//! client address, counted in the database so every api process agrees), sessions that live in
//! the database (the browser holds a random token, the table its SHA-256) with a sliding idle
//! expiry and an absolute one, and logout. Times are the wall clock, never the simulator's.

use crate::{
    config::PortalSettings,
    db::{
        ids::{hash_secret, secret_token},
        login_failures::{self, CountedBy},
        operators::{self, Operator},
        partners::Partner,
        sessions::{self, Realm},
        users,
    },
    service::{ServiceResult, passwords, users::normalize_email},
    state::AppState,
};

const MINUTE_MS: i64 = 60 * 1000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// The idle timer is renewed at most this often (a write per request would be wasted).
const TOUCH_EVERY_MS: i64 = 30 * 1000;

/// A session just opened: `token` goes into the cookie, and only there.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
}

/// How a login attempt ended.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    LoggedIn(NewSession),
    /// Wrong email or password (the answer does not say which).
    Refused,
    /// Too many refusals; the password was not checked.
    Throttled {
        retry_in_minutes: i64,
    },
}

/// A valid session: who is logged in, for which partner.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub partner: Partner,
    /// One of the partner's webhook endpoints was switched off for failing.
    pub endpoints_switched_off: bool,
}

fn window_ms(portal: &PortalSettings) -> i64 {
    i64::from(portal.login_window_minutes) * MINUTE_MS
}

/// When the next attempt may be made, if the email or the client address is over its limit.
async fn throttled_until(
    state: &AppState,
    email: &str,
    client_addr: &str,
    now: i64,
) -> ServiceResult<Option<i64>> {
    let portal = &state.settings.portal;
    let since = now - window_ms(portal);
    let mut until = None;
    for (by, value, limit) in [
        (CountedBy::Email, email, portal.login_failures_per_email),
        (
            CountedBy::ClientAddr,
            client_addr,
            portal.login_failures_per_address,
        ),
    ] {
        if let Some(at) =
            login_failures::limit_reached_at(&state.db, by, value, limit, since).await?
        {
            until = until.max(Some(at + window_ms(portal)));
        }
    }
    Ok(until)
}

/// Checks a login to `realm`; on success opens a session. Over a limit the password is not
/// checked. Refusals of both realms count towards the same limits.
pub async fn login(
    state: &AppState,
    realm: Realm,
    email: &str,
    password: &str,
    client_addr: &str,
) -> ServiceResult<LoginOutcome> {
    let now = state.wall_clock.now_ms();
    // An address that is no email still counts towards the limits, as typed.
    let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    if let Some(until) = throttled_until(state, &email, client_addr, now).await? {
        let retry_in_minutes = ((until - now) + MINUTE_MS - 1) / MINUTE_MS;
        return Ok(LoginOutcome::Throttled {
            retry_in_minutes: retry_in_minutes.max(1),
        });
    }
    let credentials = users::credentials(&state.db, realm, &email).await?;
    let (user_id, stored) = match credentials {
        Some(c) => (Some(c.id), c.password_hash),
        None => (None, None),
    };
    let matches = passwords::verify(password.to_owned(), stored).await?;
    match user_id {
        Some(user_id) if matches => {
            login_failures::clear_email(&state.db, &email).await?;
            Ok(LoginOutcome::LoggedIn(open(state, realm, &user_id).await?))
        }
        _ => {
            let forget_before = now - window_ms(&state.settings.portal);
            login_failures::record(&state.db, &email, client_addr, now, forget_before).await?;
            Ok(LoginOutcome::Refused)
        }
    }
}

/// Opens a session of `realm`'s `user_id` (after a login or a new password) and deletes
/// expired ones.
pub async fn open(state: &AppState, realm: Realm, user_id: &str) -> ServiceResult<NewSession> {
    let now = state.wall_clock.now_ms();
    let (idle_before, opened_before) = expiry_bounds(&state.settings.portal, now);
    sessions::delete_expired(&state.db, realm, idle_before, opened_before).await?;
    let token = secret_token(32);
    sessions::insert(&state.db, realm, &hash_secret(&token), user_id, now).await?;
    Ok(NewSession { token })
}

/// Sessions last seen before the first bound are idle; those opened before the second are too
/// old.
fn expiry_bounds(portal: &PortalSettings, now: i64) -> (i64, i64) {
    (
        now - i64::from(portal.session_idle_minutes) * MINUTE_MS,
        now - i64::from(portal.session_absolute_hours) * HOUR_MS,
    )
}

/// Whether a session found by `hash` is still valid; renews its idle timer, or deletes it when
/// it has expired.
async fn still_valid(
    state: &AppState,
    realm: Realm,
    hash: &str,
    session_created_at: i64,
    last_seen_at: i64,
) -> ServiceResult<bool> {
    let now = state.wall_clock.now_ms();
    let (idle_before, opened_before) = expiry_bounds(&state.settings.portal, now);
    if last_seen_at < idle_before || session_created_at < opened_before {
        sessions::delete(&state.db, realm, hash).await?;
        return Ok(false);
    }
    if now - last_seen_at >= TOUCH_EVERY_MS {
        sessions::touch(&state.db, realm, hash, now).await?;
    }
    Ok(true)
}

/// The portal session a cookie's token names, if it exists and has not expired; using it
/// renews the idle timer. An expired session is deleted.
pub async fn resolve(state: &AppState, token: &str) -> ServiceResult<Option<Session>> {
    let hash = hash_secret(token);
    let Some(row) = sessions::find(&state.db, &hash).await? else {
        return Ok(None);
    };
    if !still_valid(
        state,
        Realm::Portal,
        &hash,
        row.session_created_at,
        row.last_seen_at,
    )
    .await?
    {
        return Ok(None);
    }
    Ok(Some(Session {
        user_id: row.user_id,
        email: row.email,
        partner: row.partner,
        endpoints_switched_off: row.endpoints_switched_off,
    }))
}

/// The console session a cookie's token names: its operator, as [`resolve`] does for the
/// portal.
pub async fn resolve_operator(state: &AppState, token: &str) -> ServiceResult<Option<Operator>> {
    let hash = hash_secret(token);
    let Some(row) = operators::find_session(&state.db, &hash).await? else {
        return Ok(None);
    };
    let valid = still_valid(
        state,
        Realm::Console,
        &hash,
        row.session_created_at,
        row.last_seen_at,
    );
    Ok(valid.await?.then_some(row.operator))
}

/// Logout: the session is gone, and its cookie no longer works anywhere.
pub async fn close(state: &AppState, realm: Realm, token: &str) -> ServiceResult<()> {
    sessions::delete(&state.db, realm, &hash_secret(token)).await?;
    Ok(())
}
