//! `GET /api/v1/admin/audit`: who did what, when.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use crate::{
    http::{auth::OperatorAuth, error::ApiResult, health::ApiTags, time::ts},
    service::{self, operations::AuditQuery, page::PageRequest},
    state::AppState,
};

pub struct AuditAdminApi;

#[derive(Object)]
pub struct AuditEntryView {
    id: i64,
    at: DateTime<Utc>,
    /// `operator` or `partner:<id>`.
    actor: String,
    #[oai(nullable)]
    partner_id: Option<String>,
    /// e.g. `dialogue.create`, `job.retry`.
    action: String,
    target_type: String,
    target_id: String,
    #[oai(nullable)]
    details: Option<serde_json::Value>,
}

#[derive(Object)]
pub struct AuditPage {
    items: Vec<AuditEntryView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::AdminAudit")]
impl AuditAdminApi {
    /// The audit log, newest first.
    #[oai(path = "/audit", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _op: OperatorAuth,
        partner_id: Query<Option<String>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<AuditPage>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let query = AuditQuery {
            partner_id: partner_id.0,
            ..AuditQuery::default()
        };
        let rows = service::operations::audit_log(&state, &query, &page).await?;
        let next_cursor = rows.next_cursor;
        let items = rows
            .items
            .into_iter()
            .map(|r| {
                Ok(AuditEntryView {
                    id: r.id,
                    at: ts(r.at)?,
                    actor: r.actor,
                    partner_id: r.partner_id,
                    action: r.action,
                    target_type: r.target_type,
                    target_id: r.target_id,
                    details: r.details.and_then(|d| serde_json::from_str(&d).ok()),
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Json(AuditPage { items, next_cursor }))
    }
}
