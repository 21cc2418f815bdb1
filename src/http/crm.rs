//! `/api/v1/crm-groups`: CRM groups, their versioned Terms and Conditions, and their members.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::{audit, crm},
    http::text::Text,
    http::{
        auth::PartnerAuth,
        error::{ApiError, ApiResult, FieldError},
        health::ApiTags,
        pagination,
        time::{ts, ts_opt},
    },
    state::AppState,
};

pub struct CrmApi;

/// Longest accepted Terms and Conditions text.
const MAX_TERMS_CHARS: usize = 20_000;

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct CreateGroup {
    /// 1–100 characters, unique among the partner's groups.
    name: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct PutTerms {
    /// The full text of the new version (1–20,000 characters).
    text: Text,
}

#[derive(Object)]
struct TermsView {
    version: i32,
    text: String,
    created_at: DateTime<Utc>,
}

#[derive(Object)]
struct GroupView {
    id: String,
    name: String,
    /// The current Terms and Conditions; `null` until the first version is set.
    #[oai(nullable)]
    terms: Option<TermsView>,
    /// Members who have not left.
    member_count: i64,
    created_at: DateTime<Utc>,
}

impl TryFrom<crm::CrmGroup> for GroupView {
    type Error = ApiError;

    fn try_from(g: crm::CrmGroup) -> ApiResult<Self> {
        let terms = match (g.terms_version, g.terms_text, g.terms_created_at) {
            (Some(version), Some(text), Some(at)) => Some(TermsView {
                version,
                text,
                created_at: ts(at)?,
            }),
            _ => None,
        };
        Ok(GroupView {
            id: g.id,
            name: g.name,
            terms,
            member_count: g.member_count,
            created_at: ts(g.created_at)?,
        })
    }
}

#[derive(Object)]
struct GroupPage {
    items: Vec<GroupView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Object)]
struct TermsList {
    /// Newest first.
    items: Vec<TermsView>,
}

#[derive(Object)]
struct MemberView {
    id: String,
    phone: String,
    joined_at: DateTime<Utc>,
    #[oai(nullable)]
    left_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    left_reason: Option<String>,
    /// The Terms and Conditions version the member consented to.
    terms_version: i32,
    #[oai(nullable)]
    agreement_id: Option<String>,
    /// The keyword message that started the membership.
    #[oai(nullable)]
    inbound_message_id: Option<String>,
}

#[derive(Object)]
struct MemberPage {
    items: Vec<MemberView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum GroupCreated {
    #[oai(status = 201)]
    Created(Json<GroupView>),
}

#[derive(ApiResponse)]
enum TermsCreated {
    #[oai(status = 201)]
    Created(Json<TermsView>),
}

fn name_errors(name: &str) -> Vec<FieldError> {
    let len = name.trim().chars().count();
    if len == 0 || len > 100 {
        vec![FieldError {
            field: "name".into(),
            message: "must be 1–100 characters".into(),
        }]
    } else {
        Vec::new()
    }
}

async fn group_or_404(state: &AppState, partner_id: &str, id: &str) -> ApiResult<crm::CrmGroup> {
    crm::get(&state.db, partner_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("CRM group"))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Crm")]
impl CrmApi {
    /// Create a CRM group (it has no terms until `PUT …/terms`).
    #[oai(path = "/crm-groups", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        body: Json<CreateGroup>,
    ) -> ApiResult<GroupCreated> {
        let errors = name_errors(&body.name);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let partner = &auth.0;
        let now = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        let id = match crm::create(&mut tx, &partner.id, body.name.trim(), now).await {
            Ok(id) => id,
            Err(e) if crate::db::is_unique_violation(&e) => {
                return Err(ApiError::conflict(
                    "name_taken",
                    "a CRM group with this name already exists",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        audit::record_tx(
            &mut tx,
            &partner_audit(partner, "crm_group.create", "crm_group", &id),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(GroupCreated::Created(Json(
            group_or_404(&state, &partner.id, &id).await?.try_into()?,
        )))
    }

    /// The partner's CRM groups, newest first; `has_terms=true` gives the dialogue form's choices.
    #[oai(path = "/crm-groups", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        has_terms: Query<Option<bool>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<GroupPage>> {
        let limit = pagination::limit(limit.0)?;
        let rows = crm::list(
            &state.db,
            &auth.0.id,
            has_terms.0,
            cursor.0.as_deref(),
            pagination::fetch_limit(limit),
        )
        .await?;
        let (rows, next_cursor) = pagination::finish(rows, limit, |g| g.id.clone());
        Ok(Json(GroupPage {
            items: rows
                .into_iter()
                .map(GroupView::try_from)
                .collect::<ApiResult<_>>()?,
            next_cursor,
        }))
    }

    /// One CRM group with its current terms.
    #[oai(path = "/crm-groups/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<GroupView>> {
        Ok(Json(
            group_or_404(&state, &auth.0.id, &id).await?.try_into()?,
        ))
    }

    /// Set new Terms and Conditions: creates the next version; old versions are kept.
    #[oai(path = "/crm-groups/:id/terms", method = "put")]
    async fn put_terms(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        body: Json<PutTerms>,
    ) -> ApiResult<TermsCreated> {
        let len = body.text.trim().chars().count();
        if len == 0 || len > MAX_TERMS_CHARS {
            return Err(ApiError::validation(vec![FieldError {
                field: "text".into(),
                message: format!("must be 1–{MAX_TERMS_CHARS} characters"),
            }]));
        }
        let partner = &auth.0;
        let now = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        if crm::get_tx(&mut tx, &partner.id, &id).await?.is_none() {
            return Err(ApiError::not_found("CRM group"));
        }
        let actor = format!("partner:{}", partner.id);
        let version = crm::add_terms(&mut tx, &id, body.text.trim(), &actor, now).await?;
        let mut entry = partner_audit(partner, "crm_group.terms", "crm_group", &id);
        entry.details = Some(serde_json::json!({ "version": version }));
        audit::record_tx(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(TermsCreated::Created(Json(TermsView {
            version,
            text: body.text.trim().to_owned(),
            created_at: ts(now)?,
        })))
    }

    /// Every terms version, newest first.
    #[oai(path = "/crm-groups/:id/terms", method = "get")]
    async fn list_terms(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<TermsList>> {
        group_or_404(&state, &auth.0.id, &id).await?;
        let items = crm::list_terms(&state.db, &id)
            .await?
            .into_iter()
            .map(|t| {
                Ok(TermsView {
                    version: t.version,
                    text: t.text,
                    created_at: ts(t.created_at)?,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Json(TermsList { items }))
    }

    /// Members, newest first (they join through the keyword journey).
    #[oai(path = "/crm-groups/:id/members", method = "get")]
    async fn members(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<MemberPage>> {
        group_or_404(&state, &auth.0.id, &id).await?;
        let limit = pagination::limit(limit.0)?;
        let rows = crm::list_members(
            &state.db,
            &id,
            cursor.0.as_deref(),
            pagination::fetch_limit(limit),
        )
        .await?;
        let (rows, next_cursor) = pagination::finish(rows, limit, |m| m.id.clone());
        let items = rows
            .into_iter()
            .map(|m| {
                Ok(MemberView {
                    id: m.id,
                    phone: m.phone,
                    joined_at: ts(m.joined_at)?,
                    left_at: ts_opt(m.left_at)?,
                    left_reason: m.left_reason,
                    terms_version: m.terms_version,
                    agreement_id: m.agreement_id,
                    inbound_message_id: m.inbound_message_id,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Json(MemberPage { items, next_cursor }))
    }
}

/// An audit record of a partner's own action.
pub fn partner_audit<'a>(
    partner: &'a crate::db::partners::Partner,
    action: &'a str,
    target_type: &'a str,
    target_id: &'a str,
) -> audit::NewAudit<'a> {
    audit::NewAudit {
        actor: "partner",
        partner_id: Some(&partner.id),
        action,
        target_type,
        target_id,
        details: None,
    }
}
