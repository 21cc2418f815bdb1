//! The one API error type: stable snake_case codes, field-level details, opaque 500s.
//!
//! Every error body has the shape `{"code", "message", "fields": [{"field", "message"}]}`.
//! Errors raised by poem itself (malformed JSON, wrong types, unknown enum values, missing
//! auth, 404/405, 413) are rewritten into the same shape by [`normalize_errors`].

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response, http::StatusCode};
use poem_openapi::{ApiResponse, Object, payload::Json};

/// One invalid field.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct FieldError {
    /// The JSON field name, e.g. `amount`.
    pub field: String,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `validation_failed`, `keyword_conflict`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The invalid fields, all at once (empty when the error is not about fields).
    pub fields: Vec<FieldError>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// Malformed request: bad JSON, wrong types, unknown enum values, bad parameters.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing or wrong API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// No such object (or it belongs to another partner).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The body is larger than `server.body_limit_bytes`.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is missing its `Content-Type` or is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Well-formed, but breaks a rule.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Something went wrong on our side; details are in the server log.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
}

fn bad_request(err: poem::Error) -> ApiError {
    ApiError::BadRequest(Json(ErrorBody::new("bad_request", err.to_string())))
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(Json(ErrorBody::new("bad_request", message)))
    }

    pub fn unauthorized() -> Self {
        ApiError::Unauthorized(Json(ErrorBody::new(
            "unauthorized",
            "missing or invalid API key (Authorization: Bearer <key>)",
        )))
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(Json(ErrorBody::new(
            "not_found",
            format!("{what} not found"),
        )))
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        ApiError::Conflict(Json(ErrorBody::new(code, message)))
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let message = format!("invalid fields: {}", names.join(", "));
        ApiError::Unprocessable(Json(ErrorBody {
            code: "validation_failed".to_owned(),
            message,
            fields,
        }))
    }

    /// Logs the cause once and answers an opaque 500.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error while handling a request");
        ApiError::Internal(Json(ErrorBody::new("internal", "internal error")))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if crate::db::is_unique_violation(&err) {
            return ApiError::conflict("conflict", "the request conflicts with existing data");
        }
        ApiError::internal(err)
    }
}

impl From<crate::db::enqueue::EnqueueError> for ApiError {
    fn from(err: crate::db::enqueue::EnqueueError) -> Self {
        ApiError::internal(err)
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(err: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as E;
        match err {
            E::BadInput(message) => ApiError::bad_request(message),
            E::NotFound(what) => ApiError::not_found(what),
            E::Conflict { code, message } => ApiError::conflict(code, message),
            E::Invalid(fields) => ApiError::validation(
                fields
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            ),
            E::Internal(err) => ApiError::internal(format!("{err:#}")),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Whether `path` is `prefix` or below it.
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// [`normalize_errors`] for every path but those under `prefixes`: the embedded Vipps
/// simulator, which answers exactly as Vipps would, wrapped around the outermost router (whose
/// own errors, a path that is not UTF-8 once percent-decoded, would otherwise escape as plain
/// text), and pages with HTML errors of their own (the portal).
pub async fn normalize_errors_except<E: Endpoint>(
    next: E,
    req: Request,
    prefixes: Arc<[&'static str]>,
) -> poem::Result<Response> {
    if prefixes.iter().any(|p| is_under(req.uri().path(), p)) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    normalize_errors(next, req).await
}

/// Middleware: any error response that is not already our JSON shape (poem's plain-text
/// errors, 404/405 from routing, 413 from the size limit, panics) is rewritten into it.
pub async fn normalize_errors<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(resp);
    }
    let is_json = resp
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let text = body.into_string().await.unwrap_or_default();
    let (code, default_message) = match parts.status {
        StatusCode::BAD_REQUEST => ("bad_request", "malformed request"),
        StatusCode::UNAUTHORIZED => (
            "unauthorized",
            "missing or invalid API key (Authorization: Bearer <key>)",
        ),
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "expected application/json")
        }
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("error", "request failed"),
    };
    let message = if parts.status.is_server_error() || text.trim().is_empty() {
        default_message.to_owned()
    } else {
        text.trim().to_owned()
    };
    let mut out = poem::web::Json(ErrorBody::new(code, message)).into_response();
    out.set_status(parts.status);
    for (name, value) in parts.headers.iter() {
        if name != poem::http::header::CONTENT_TYPE && name != poem::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(out)
}
