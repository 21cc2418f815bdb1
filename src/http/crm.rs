//! `/api/v1/crm-groups`: CRM groups, their versioned Terms and Conditions, and their members;
//! the rules are in [`service::crm`](crate::service::crm).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::crm,
    http::text::Text,
    http::{
        auth::PartnerAuth,
        error::{ApiError, ApiResult},
        health::ApiTags,
        time::{ts, ts_opt},
    },
    service::{self, page::PageRequest},
    state::AppState,
};

pub struct CrmApi;

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

impl TryFrom<crm::TermsVersion> for TermsView {
    type Error = ApiError;

    fn try_from(t: crm::TermsVersion) -> ApiResult<Self> {
        Ok(TermsView {
            version: t.version,
            text: t.text,
            created_at: ts(t.created_at)?,
        })
    }
}

impl TryFrom<crm::Member> for MemberView {
    type Error = ApiError;

    fn try_from(m: crm::Member) -> ApiResult<Self> {
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
    }
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
        let group = service::crm::create(&state, &auth.actor(), &body.name).await?;
        Ok(GroupCreated::Created(Json(group.try_into()?)))
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
        let page = PageRequest::new(limit.0, cursor.0)?;
        let groups = service::crm::list(&state, &auth.actor(), has_terms.0, &page)
            .await?
            .map(GroupView::try_from)?;
        Ok(Json(GroupPage {
            items: groups.items,
            next_cursor: groups.next_cursor,
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
        let group = service::crm::get(&state, &auth.actor(), &id).await?;
        Ok(Json(group.try_into()?))
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
        let terms = service::crm::add_terms(&state, &auth.actor(), &id, &body.text).await?;
        Ok(TermsCreated::Created(Json(terms.try_into()?)))
    }

    /// Every terms version, newest first.
    #[oai(path = "/crm-groups/:id/terms", method = "get")]
    async fn list_terms(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<TermsList>> {
        let items = service::crm::list_terms(&state, &auth.actor(), &id)
            .await?
            .into_iter()
            .map(TermsView::try_from)
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
        let page = PageRequest::new(limit.0, cursor.0)?;
        let members = service::crm::members(&state, &auth.actor(), &id, &page)
            .await?
            .map(MemberView::try_from)?;
        Ok(Json(MemberPage {
            items: members.items,
            next_cursor: members.next_cursor,
        }))
    }
}
