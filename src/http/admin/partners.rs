//! `POST/GET /api/v1/admin/partners`: create partners (the API key is shown once) and list
//! them, through [`service::partners`](crate::service::partners).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use crate::{
    http::text::Text,
    http::{auth::OperatorAuth, error::ApiResult, health::ApiTags, time::ts},
    service,
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
        let created = service::partners::create(&state, &op.0, &body.name, &body.vipps_msn).await?;
        let p = &created.partner;
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
        let items = service::partners::list(&state)
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
