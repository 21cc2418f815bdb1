//! What a request may carry, checked before any handler runs: bodies over
//! `server.body_limit_bytes` are answered 413, whether they announce their length or arrive
//! chunked; a NUL (`%00`) in the path or query is answered 400 (PostgreSQL text cannot hold
//! it, so every path and query parameter would otherwise fail in the database).

use poem::{Endpoint, IntoResponse, Request, Response, http::StatusCode};
use poem_openapi::payload::Json;

use crate::http::error::{ApiError, ErrorBody};

fn too_large(limit: usize) -> Response {
    ApiError::PayloadTooLarge(Json(ErrorBody::new(
        "payload_too_large",
        format!("request body exceeds {limit} bytes"),
    )))
    .into_response()
}

/// Middleware function for `Route::around`.
pub async fn limit_body<E: Endpoint>(
    next: E,
    mut req: Request,
    limit: usize,
) -> poem::Result<Response> {
    if req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().to_ascii_lowercase().contains("%00"))
    {
        return Ok(
            ApiError::bad_request("the URL must not contain NUL characters (%00)").into_response(),
        );
    }
    let announced = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Ok(too_large(limit));
    }
    if announced.is_none()
        && req
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING)
    {
        // Chunked: read at most limit + 1 bytes to learn whether it fits.
        let body = req.take_body();
        let mut reader = body.into_async_read();
        let mut buf = Vec::new();
        let mut limited = tokio::io::AsyncReadExt::take(&mut reader, limit as u64 + 1);
        tokio::io::AsyncReadExt::read_to_end(&mut limited, &mut buf)
            .await
            .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))?;
        if buf.len() > limit {
            return Ok(too_large(limit));
        }
        req.set_body(buf);
    }
    next.call(req).await.map(IntoResponse::into_response)
}
