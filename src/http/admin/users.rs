//! `POST /api/v1/admin/partners/{id}/users`: create a partner's portal user, answered with the
//! one-time link that sets the password (shown once); `POST /api/v1/admin/users/reset-link`:
//! a new link for an existing user. Both through [`service::users`](crate::service::users).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use crate::{
    http::{auth::OperatorAuth, error::ApiResult, health::ApiTags, text::Text, time::ts},
    service::{self, users::UserContext},
    state::AppState,
};

pub struct UsersAdminApi;

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct CreateUser {
    /// The user's email address; it is what they log in with (unique across partners).
    email: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ResetLink {
    /// The existing user's email.
    email: Text,
}

#[derive(Object)]
struct CreatedUser {
    id: String,
    partner_id: String,
    /// As stored: trimmed and lower-cased.
    email: String,
    /// `{public_base_url}/portal/set-password/{token}`: single use; shown once (only the
    /// token's hash is stored).
    set_password_url: String,
    set_password_expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
enum CreateResponse {
    #[oai(status = 201)]
    Created(Json<CreatedUser>),
}

impl CreatedUser {
    fn of(made: &service::users::NewUser) -> ApiResult<Self> {
        let u = &made.account;
        Ok(Self {
            id: u.id.clone(),
            partner_id: u.partner_id.clone(),
            email: u.email.clone(),
            set_password_url: made.set_password_url.clone(),
            set_password_expires_at: ts(made.link_expires_at)?,
            created_at: ts(u.created_at)?,
        })
    }
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::AdminPartners")]
impl UsersAdminApi {
    /// Create a portal user of the partner and a one-time link to set the password.
    #[oai(path = "/partners/:id/users", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        op: OperatorAuth,
        id: Path<String>,
        body: Json<CreateUser>,
    ) -> ApiResult<CreateResponse> {
        let created =
            service::users::create(&UserContext::of(&state), &op.0, &id, &body.email).await?;
        Ok(CreateResponse::Created(Json(CreatedUser::of(&created)?)))
    }

    /// A new one-time set-password link for an existing portal user (a forgotten password, a
    /// lost or expired link); the user's older unused links stop working. 404 when no user
    /// has the email.
    #[oai(path = "/users/reset-link", method = "post")]
    async fn reset_link(
        &self,
        state: Data<&AppState>,
        op: OperatorAuth,
        body: Json<ResetLink>,
    ) -> ApiResult<CreateResponse> {
        let made = service::users::reset_link(&UserContext::of(&state), &op.0, &body.email).await?;
        Ok(CreateResponse::Created(Json(CreatedUser::of(&made)?)))
    }
}
