//! Partners: created by an operator (the API key is shown once), listed, and one partner with
//! its portal users (the console's partner page).

use crate::{
    db::{
        audit,
        partners::{self, NewPartner, Partner, PartnerSummary},
        users::{self, User},
    },
    service::{FieldProblem, OperatorActor, ServiceError, ServiceResult},
    state::AppState,
};

/// Checks the partner form; all problems at once.
pub fn validate(name: &str, vipps_msn: &str) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let len = name.trim().chars().count();
    if len == 0 || len > 100 {
        problems.push(FieldProblem::new("name", "must be 1–100 characters"));
    }
    if !(4..=6).contains(&vipps_msn.len()) || !vipps_msn.chars().all(|c| c.is_ascii_digit()) {
        problems.push(FieldProblem::new("vipps_msn", "must be 4–6 digits"));
    }
    problems
}

/// Creates a partner and its API key. With the embedded simulator, our webhook is registered
/// for the partner's MSN at once (a job).
pub async fn create(
    state: &AppState,
    operator: &OperatorActor,
    name: &str,
    vipps_msn: &str,
) -> ServiceResult<NewPartner> {
    operator.may_change()?;
    let problems = validate(name, vipps_msn);
    if !problems.is_empty() {
        return Err(ServiceError::Invalid(problems));
    }
    let now = state.clock.now_ms();
    let created = partners::create(&state.db, name.trim(), vipps_msn, now).await?;
    let p = &created.partner;
    if state.simulated_vipps() {
        state
            .enqueuer
            .enqueue(&dialogpay_jobs::vipps::RegisterWebhook {
                msn: p.vipps_msn.clone(),
            })
            .await?;
    }
    audit::record(
        &state.db,
        &audit::NewAudit {
            actor: &operator.actor,
            partner_id: Some(&p.id),
            action: "partner.create",
            target_type: "partner",
            target_id: &p.id,
            details: Some(serde_json::json!({ "name": p.name, "vipps_msn": p.vipps_msn })),
        },
        now,
    )
    .await?;
    Ok(created)
}

/// Every partner (without keys).
pub async fn list(state: &AppState) -> ServiceResult<Vec<Partner>> {
    Ok(partners::list(&state.db).await?)
}

/// Every partner with its user count and webhook registration, newest first.
pub async fn summaries(state: &AppState) -> ServiceResult<Vec<PartnerSummary>> {
    Ok(partners::summaries(&state.db).await?)
}

/// One partner and its portal users; 404 for an unknown id.
pub async fn with_users(state: &AppState, id: &str) -> ServiceResult<(Partner, Vec<User>)> {
    let partner = partners::get(&state.db, id)
        .await?
        .ok_or(ServiceError::NotFound("partner"))?;
    let users = users::of_partner(&state.db, id).await?;
    Ok((partner, users))
}
