//! Operators of the console: one is created (the CLI's `operator create`, or another operator)
//! with a one-time link that sets the password, as a portal user is ([`users`](super::users));
//! a read-only operator may look at everything and change nothing. An operator who lost the
//! link or the password gets a new link ([`reset_link`]: the CLI's `operator reset-link`, or
//! another operator in the console).

use crate::{
    db::{
        audit,
        operators::{self, Operator, OperatorSummary},
        sessions::Realm,
    },
    service::{
        OperatorActor, ServiceError, ServiceResult,
        users::{NewAccount, UserContext, issue_link, normalize_email, reissue_link},
    },
};

/// Creates an operator and its set-password link. 409 when the email is taken.
pub async fn create(
    ctx: &UserContext<'_>,
    by: &OperatorActor,
    email: &str,
    read_only: bool,
) -> ServiceResult<NewAccount<Operator>> {
    by.may_change()?;
    let email = normalize_email(email).map_err(|p| ServiceError::Invalid(vec![p]))?;
    let mut tx = ctx.db.begin().await?;
    let operator = match operators::insert(&mut tx, &email, read_only, ctx.now_ms).await {
        Ok(operator) => operator,
        Err(err) if crate::db::is_unique_violation(&err) => {
            return Err(ServiceError::conflict(
                "email_taken",
                "an operator with this email exists",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let link = issue_link(ctx, &mut tx, Realm::Console, &operator.id).await?;
    let entry = audit::NewAudit {
        actor: &by.actor,
        partner_id: None,
        action: "operator.create",
        target_type: "operator",
        target_id: &operator.id,
        details: Some(serde_json::json!({ "email": email, "read_only": read_only })),
    };
    audit::record_tx(&mut tx, &entry, ctx.now_ms).await?;
    tx.commit().await?;
    Ok(ctx.issued(Realm::Console, operator, link))
}

/// A new one-time link for the operator with this email; their older unused links stop
/// working. 404 when no operator has the email.
pub async fn reset_link(
    ctx: &UserContext<'_>,
    by: &OperatorActor,
    email: &str,
) -> ServiceResult<NewAccount<Operator>> {
    by.may_change()?;
    let email = normalize_email(email).map_err(|p| ServiceError::Invalid(vec![p]))?;
    let operator = operators::by_email(ctx.db, &email)
        .await?
        .ok_or(ServiceError::NotFound("operator"))?;
    let entry = audit::NewAudit {
        actor: &by.actor,
        partner_id: None,
        action: "operator.reset_link",
        target_type: "operator",
        target_id: &operator.id,
        details: None,
    };
    let link = reissue_link(ctx, Realm::Console, entry).await?;
    Ok(ctx.issued(Realm::Console, operator, link))
}

/// Every operator with their last login, newest first.
pub async fn list(ctx: &UserContext<'_>) -> ServiceResult<Vec<OperatorSummary>> {
    Ok(operators::summaries(ctx.db).await?)
}
