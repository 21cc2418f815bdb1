//! `POST/GET /api/v1/admin/partners`: create partners (the API key is shown once) and list them.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use crate::{
    db::{audit, partners},
    http::text::Text,
    http::{
        auth::OperatorAuth,
        error::{ApiError, ApiResult, FieldError},
        health::ApiTags,
        time::ts,
    },
    state::AppState,
};

pub struct PartnersAdminApi;

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct CreatePartner {
    /// Display name, 1–100 characters.
    name: Text,
    /// The partner's Vipps Merchant Serial Number (4–6 digits).
    vipps_msn: Text,
}

#[derive(Object)]
struct CreatedPartner {
    id: String,
    name: String,
    vipps_msn: String,
    /// Shown once; only its hash is stored.
    api_key: String,
    created_at: DateTime<Utc>,
}

#[derive(Object)]
struct PartnerView {
    id: String,
    name: String,
    vipps_msn: String,
    /// The first characters of the key, to tell keys apart.
    api_key_hint: String,
    created_at: DateTime<Utc>,
}

#[derive(Object)]
struct PartnerList {
    items: Vec<PartnerView>,
}

#[derive(ApiResponse)]
enum CreateResponse {
    #[oai(status = 201)]
    Created(Json<CreatedPartner>),
}

/// Checks the partner form; all problems at once.
pub fn validate_partner(name: &str, vipps_msn: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let len = name.trim().chars().count();
    if len == 0 || len > 100 {
        errors.push(FieldError {
            field: "name".into(),
            message: "must be 1–100 characters".into(),
        });
    }
    if !(4..=6).contains(&vipps_msn.len()) || !vipps_msn.chars().all(|c| c.is_ascii_digit()) {
        errors.push(FieldError {
            field: "vipps_msn".into(),
            message: "must be 4–6 digits".into(),
        });
    }
    errors
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::AdminPartners")]
impl PartnersAdminApi {
    /// Create a partner and its API key (shown once).
    #[oai(path = "/partners", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        op: OperatorAuth,
        body: Json<CreatePartner>,
    ) -> ApiResult<CreateResponse> {
        let errors = validate_partner(&body.name, &body.vipps_msn);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let now = state.clock.now_ms();
        let created = partners::create(&state.db, body.name.trim(), &body.vipps_msn, now).await?;
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
                actor: &op.0.actor,
                partner_id: Some(&p.id),
                action: "partner.create",
                target_type: "partner",
                target_id: &p.id,
                details: Some(serde_json::json!({ "name": p.name, "vipps_msn": p.vipps_msn })),
            },
            now,
        )
        .await?;
        Ok(CreateResponse::Created(Json(CreatedPartner {
            id: p.id.clone(),
            name: p.name.clone(),
            vipps_msn: p.vipps_msn.clone(),
            api_key: created.api_key.clone(),
            created_at: ts(p.created_at)?,
        })))
    }

    /// List partners (without keys).
    #[oai(path = "/partners", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _op: OperatorAuth,
    ) -> ApiResult<Json<PartnerList>> {
        let items = partners::list(&state.db)
            .await?
            .into_iter()
            .map(|p| {
                Ok(PartnerView {
                    id: p.id,
                    name: p.name,
                    vipps_msn: p.vipps_msn,
                    api_key_hint: p.api_key_hint,
                    created_at: ts(p.created_at)?,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Json(PartnerList { items }))
    }
}
