//! Authentication: partners and operators both send `Authorization: Bearer <key>`.
//!
//! A partner key is looked up by its SHA-256 hash; the operator key comes from configuration and
//! is compared in constant time. Failures answer 401 with our error body.

use poem::{IntoResponse, Request};
use poem_openapi::{SecurityScheme, auth::Bearer};
use secrecy::ExposeSecret;

use crate::{
    db::{ids::hash_secret, partners},
    http::error::ApiError,
    service::OperatorActor,
    state::AppState,
};

/// The authenticated partner of a request.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_partner")]
pub struct PartnerAuth(pub partners::Partner);

impl PartnerAuth {
    /// The partner, acting with its API key.
    pub fn actor(&self) -> crate::service::PartnerActor {
        crate::service::PartnerActor::api_key(self.0.clone())
    }
}

/// An authenticated operator (the holder of `operator.api_key`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_operator")]
pub struct OperatorAuth(pub OperatorActor);

fn reject(err: ApiError) -> poem::Error {
    poem::Error::from_response(err.into_response())
}

fn state(req: &Request) -> poem::Result<&AppState> {
    req.data::<AppState>()
        .ok_or_else(|| reject(ApiError::internal("AppState missing from the request")))
}

async fn check_partner(req: &Request, bearer: Bearer) -> poem::Result<partners::Partner> {
    let state = state(req)?;
    match partners::find_by_api_key(&state.db, bearer.token.trim()).await {
        Ok(Some(partner)) => Ok(partner),
        Ok(None) => Err(reject(ApiError::unauthorized())),
        Err(err) => Err(reject(ApiError::internal(err))),
    }
}

async fn check_operator(req: &Request, bearer: Bearer) -> poem::Result<OperatorActor> {
    let state = state(req)?;
    let expected = state.settings.operator.api_key.expose_secret();
    // Comparing hashes keeps the comparison time independent of where the keys differ.
    if !expected.is_empty() && hash_secret(bearer.token.trim()) == hash_secret(expected) {
        Ok(OperatorActor::named("operator"))
    } else {
        Err(reject(ApiError::unauthorized()))
    }
}
