//! `GET /api/v1/admin/audit`: who did what, when.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use crate::{
    db::audit,
    http::{
        auth::OperatorAuth,
        error::{ApiError, ApiResult},
        health::ApiTags,
        pagination,
        time::ts,
    },
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
        let limit = pagination::limit(limit.0)?;
        let before = match cursor.0.as_deref() {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| ApiError::bad_request("invalid cursor"))?,
            ),
        };
        let rows = audit::list(
            &state.db,
            partner_id.0.as_deref(),
            before,
            pagination::fetch_limit(limit),
        )
        .await?;
        let (rows, next_cursor) = pagination::finish(rows, limit, |r| r.id.to_string());
        let items = rows
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
