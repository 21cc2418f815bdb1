//! Partner users of the portal: an operator creates one (the CLI's `user create` or the admin
//! API) and hands over a one-time link; following it sets the password. The link's token is
//! random, stored hashed, valid for `portal.password_link_days` and used up by the password.
//! Operators of the console ([`operators`](super::operators)) get and use their links through
//! the same functions, in their own [`Realm`].

use crate::{
    config::PortalSettings,
    db::{
        Db, audit,
        ids::{hash_secret, secret_token},
        partners,
        sessions::Realm,
        users::{self, Account, User},
    },
    service::{
        FieldProblem, OperatorActor, ServiceError, ServiceResult, operator_actor, passwords,
        user_actor,
    },
    state::AppState,
};

/// What managing users needs. The CLI has no running server and so no [`AppState`]; it builds
/// this from the settings, the API from the state ([`UserContext::of`]).
pub struct UserContext<'a> {
    pub db: &'a Db,
    pub portal: &'a PortalSettings,
    /// Where links point: `{public_base_url}/portal/set-password/{token}` (operators':
    /// `/console/set-password/{token}`).
    pub public_base_url: &'a str,
    /// Real time (links expire in real days, whatever the simulator's clock says).
    pub now_ms: i64,
}

impl<'a> UserContext<'a> {
    pub fn of(state: &'a AppState) -> Self {
        Self {
            db: &state.db,
            portal: &state.settings.portal,
            public_base_url: &state.public_base_url,
            now_ms: state.wall_clock.now_ms(),
        }
    }

    /// `account` with its new link.
    pub(super) fn issued<A>(
        &self,
        realm: Realm,
        account: A,
        (token, link_expires_at): (String, i64),
    ) -> NewAccount<A> {
        let site = match realm {
            Realm::Portal => "/portal",
            Realm::Console => "/console",
        };
        NewAccount {
            account,
            set_password_url: format!("{}{site}/set-password/{token}", self.public_base_url),
            link_expires_at,
            token,
        }
    }
}

/// An account just created or given a new link, with the link that sets the password (shown
/// once).
#[derive(Debug, Clone)]
pub struct NewAccount<A> {
    pub account: A,
    pub set_password_url: String,
    pub link_expires_at: i64,
    /// The link's secret (in `set_password_url` too).
    token: String,
}

/// A portal user just created or given a new link.
pub type NewUser = NewAccount<User>;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The email as stored and compared: trimmed, lower-cased, and roughly an address (one `@`,
/// something on both sides, a dot in the domain, at most 254 characters).
pub fn normalize_email(email: &str) -> Result<String, FieldProblem> {
    let email = email.trim().to_lowercase();
    let looks_right = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if looks_right {
        Ok(email)
    } else {
        Err(FieldProblem::new("email", "must be an email address"))
    }
}

/// Creates a user of `partner_id` and its set-password link. 404 for an unknown partner, 409
/// when the email is taken (by any partner: the login form names no partner).
pub async fn create(
    ctx: &UserContext<'_>,
    operator: &OperatorActor,
    partner_id: &str,
    email: &str,
) -> ServiceResult<NewUser> {
    operator.may_change()?;
    let email = normalize_email(email).map_err(|p| ServiceError::Invalid(vec![p]))?;
    if partners::get(ctx.db, partner_id).await?.is_none() {
        return Err(ServiceError::NotFound("partner"));
    }
    let mut tx = ctx.db.begin().await?;
    let user = match users::insert(&mut tx, partner_id, &email, ctx.now_ms).await {
        Ok(user) => user,
        Err(err) if crate::db::is_unique_violation(&err) => {
            return Err(ServiceError::conflict(
                "email_taken",
                "a portal user with this email exists",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let link = issue_link(ctx, &mut tx, Realm::Portal, &user.id).await?;
    let entry = audit::NewAudit {
        actor: &operator.actor,
        partner_id: Some(partner_id),
        action: "portal_user.create",
        target_type: "portal_user",
        target_id: &user.id,
        details: Some(serde_json::json!({ "email": email })),
    };
    audit::record_tx(&mut tx, &entry, ctx.now_ms).await?;
    tx.commit().await?;
    Ok(ctx.issued(Realm::Portal, user, link))
}

/// A new one-time link for the existing user with this email (forgotten password, an
/// unused link lost or expired): the user's older unused links stop working. 404 when no
/// user has the email.
pub async fn reset_link(
    ctx: &UserContext<'_>,
    operator: &OperatorActor,
    email: &str,
) -> ServiceResult<NewUser> {
    reset_link_of(ctx, operator, None, email).await
}

/// [`reset_link`] for a user of `partner_id` only (the console's partner page): another
/// partner's user is 404, as an unknown email is.
pub async fn reset_link_of(
    ctx: &UserContext<'_>,
    operator: &OperatorActor,
    partner_id: Option<&str>,
    email: &str,
) -> ServiceResult<NewUser> {
    operator.may_change()?;
    let email = normalize_email(email).map_err(|p| ServiceError::Invalid(vec![p]))?;
    let user = users::by_email(ctx.db, &email)
        .await?
        .filter(|u| partner_id.is_none_or(|p| u.partner_id == p))
        .ok_or(ServiceError::NotFound("portal user"))?;
    let entry = audit::NewAudit {
        actor: &operator.actor,
        partner_id: Some(&user.partner_id),
        action: "portal_user.reset_link",
        target_type: "portal_user",
        target_id: &user.id,
        details: None,
    };
    let link = reissue_link(ctx, Realm::Portal, entry).await?;
    Ok(ctx.issued(Realm::Portal, user, link))
}

/// Ends the unused links of `entry`'s target (an account of `realm`) and stores a new one, with
/// `entry` in the audit log (its details: how many links ended), in one transaction.
pub(super) async fn reissue_link(
    ctx: &UserContext<'_>,
    realm: Realm,
    mut entry: audit::NewAudit<'_>,
) -> ServiceResult<(String, i64)> {
    let mut tx = ctx.db.begin().await?;
    let revoked = users::revoke_password_links(&mut tx, realm, entry.target_id, ctx.now_ms).await?;
    let link = issue_link(ctx, &mut tx, realm, entry.target_id).await?;
    entry.details = Some(serde_json::json!({ "revoked_links": revoked }));
    audit::record_tx(&mut tx, &entry, ctx.now_ms).await?;
    tx.commit().await?;
    Ok(link)
}

/// Stores a fresh set-password link of `realm`'s `user_id`: its token and expiry.
pub(super) async fn issue_link(
    ctx: &UserContext<'_>,
    tx: &mut crate::db::Tx,
    realm: Realm,
    user_id: &str,
) -> ServiceResult<(String, i64)> {
    let token = secret_token(32);
    let expires_at = ctx.now_ms + i64::from(ctx.portal.password_link_days) * DAY_MS;
    let hash = hash_secret(&token);
    users::insert_password_link(tx, realm, user_id, &hash, ctx.now_ms, expires_at).await?;
    Ok((token, expires_at))
}

/// A user with a password at once, through its own link (the demo's user).
pub async fn create_with_password(
    ctx: &UserContext<'_>,
    operator: &OperatorActor,
    partner_id: &str,
    email: &str,
    password: &str,
) -> ServiceResult<Account> {
    let created = create(ctx, operator, partner_id, email).await?;
    set_password(ctx, Realm::Portal, &created.token, password, password).await
}

/// The account a set-password link of `realm` is for, while it is unused and unexpired.
pub async fn password_link(
    ctx: &UserContext<'_>,
    realm: Realm,
    token: &str,
) -> ServiceResult<Account> {
    users::by_password_link(ctx.db, realm, &hash_secret(token), ctx.now_ms)
        .await?
        .ok_or(ServiceError::NotFound("link"))
}

/// Sets the password through a link and uses the link up; the account's other sessions end.
/// Invalid fields (too short, not confirmed) come first, all at once; then an unknown, used
/// or expired link is 404.
pub async fn set_password(
    ctx: &UserContext<'_>,
    realm: Realm,
    token: &str,
    password: &str,
    confirm: &str,
) -> ServiceResult<Account> {
    let problems = passwords::problems(password, confirm);
    if !problems.is_empty() {
        return Err(ServiceError::Invalid(problems));
    }
    let phc = passwords::hash(password.to_owned()).await?;
    let mut tx = ctx.db.begin().await?;
    let Some(account) =
        users::set_password_by_link(&mut tx, realm, &hash_secret(token), &phc, ctx.now_ms).await?
    else {
        return Err(ServiceError::NotFound("link"));
    };
    let (actor, action, target_type) = match realm {
        Realm::Portal => (
            user_actor(&account.email),
            "portal_user.set_password",
            "portal_user",
        ),
        Realm::Console => (
            operator_actor(&account.email),
            "operator.set_password",
            "operator",
        ),
    };
    let entry = audit::NewAudit {
        actor: &actor,
        partner_id: account.partner_id.as_deref(),
        action,
        target_type,
        target_id: &account.id,
        details: None,
    };
    audit::record_tx(&mut tx, &entry, ctx.now_ms).await?;
    tx.commit().await?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Kari@Example.ORG ").unwrap(),
            "kari@example.org"
        );
        for bad in [
            "",
            "kari",
            "@example.org",
            "kari@",
            "kari@example",
            "a b@c.no",
            "a@b@c.no",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
