//! CRM groups, their versioned Terms and Conditions, and their members (who join through the
//! keyword journey).

use crate::{
    db::{
        audit,
        crm::{self, CrmGroup, Member, TermsVersion},
    },
    service::{
        PartnerActor, ServiceError, ServiceResult,
        page::{Page, PageRequest},
    },
    state::AppState,
};

/// Longest accepted group name.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest accepted Terms and Conditions text.
pub const MAX_TERMS_CHARS: usize = 20_000;

/// Creates a group (it has no terms until [`add_terms`]).
pub async fn create(state: &AppState, actor: &PartnerActor, name: &str) -> ServiceResult<CrmGroup> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_CHARS {
        return Err(ServiceError::invalid(
            "name",
            format!("must be 1–{MAX_NAME_CHARS} characters"),
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id = match crm::create(&mut tx, actor.partner_id(), name, now).await {
        Ok(id) => id,
        Err(e) if crate::db::is_unique_violation(&e) => {
            return Err(ServiceError::conflict(
                "name_taken",
                "a CRM group with this name already exists",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record_tx(
        &mut tx,
        &actor.audit("crm_group.create", "crm_group", &id),
        now,
    )
    .await?;
    tx.commit().await?;
    get(state, actor, &id).await
}

pub async fn get(state: &AppState, actor: &PartnerActor, id: &str) -> ServiceResult<CrmGroup> {
    crm::get(&state.db, actor.partner_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("CRM group"))
}

/// The partner's groups, newest first; `has_terms = Some(true)` gives the dialogue form's
/// choices.
pub async fn list(
    state: &AppState,
    actor: &PartnerActor,
    has_terms: Option<bool>,
    page: &PageRequest,
) -> ServiceResult<Page<CrmGroup>> {
    let rows = crm::list(
        &state.db,
        actor.partner_id(),
        has_terms,
        page.cursor(),
        page.fetch_limit(),
    )
    .await?;
    Ok(page.finish(rows, |g| g.id.clone()))
}

/// Sets new terms: the next version; old versions are kept.
pub async fn add_terms(
    state: &AppState,
    actor: &PartnerActor,
    group_id: &str,
    text: &str,
) -> ServiceResult<TermsVersion> {
    let text = text.trim();
    let len = text.chars().count();
    if len == 0 || len > MAX_TERMS_CHARS {
        return Err(ServiceError::invalid(
            "text",
            format!("must be 1–{MAX_TERMS_CHARS} characters"),
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if crm::get_tx(&mut tx, actor.partner_id(), group_id)
        .await?
        .is_none()
    {
        return Err(ServiceError::NotFound("CRM group"));
    }
    // Who wrote it: `partner` (the API key) or `user:{email}` (a portal user), as in the audit log.
    let author = actor.actor.clone();
    let version = crm::add_terms(&mut tx, group_id, text, &author, now).await?;
    let mut entry = actor.audit("crm_group.terms", "crm_group", group_id);
    entry.details = Some(serde_json::json!({ "version": version }));
    audit::record_tx(&mut tx, &entry, now).await?;
    tx.commit().await?;
    Ok(TermsVersion {
        version,
        text: text.to_owned(),
        created_at: now,
        created_by: author,
    })
}

/// Every terms version of a group, newest first.
pub async fn list_terms(
    state: &AppState,
    actor: &PartnerActor,
    group_id: &str,
) -> ServiceResult<Vec<TermsVersion>> {
    get(state, actor, group_id).await?;
    Ok(crm::list_terms(&state.db, group_id).await?)
}

/// A group's members, newest first.
pub async fn members(
    state: &AppState,
    actor: &PartnerActor,
    group_id: &str,
    page: &PageRequest,
) -> ServiceResult<Page<Member>> {
    get(state, actor, group_id).await?;
    members_of(state, group_id, page).await
}

/// A page of the members of a group known to be the actor's.
async fn members_of(
    state: &AppState,
    group_id: &str,
    page: &PageRequest,
) -> ServiceResult<Page<Member>> {
    let rows = crm::list_members(&state.db, group_id, page.cursor(), page.fetch_limit()).await?;
    Ok(page.finish(rows, |m| m.id.clone()))
}

/// A group with everything its page shows: every terms version and a page of members.
#[derive(Debug, Clone)]
pub struct GroupOverview {
    pub group: CrmGroup,
    /// Newest first.
    pub terms: Vec<TermsVersion>,
    pub members: Page<Member>,
}

/// The group `group_id` with its terms versions and a page of its members (the portal's group
/// page); another partner's group is not found.
pub async fn overview(
    state: &AppState,
    actor: &PartnerActor,
    group_id: &str,
    page: &PageRequest,
) -> ServiceResult<GroupOverview> {
    let group = get(state, actor, group_id).await?;
    let terms = crm::list_terms(&state.db, group_id).await?;
    let members = members_of(state, group_id, page).await?;
    Ok(GroupOverview {
        group,
        terms,
        members,
    })
}
