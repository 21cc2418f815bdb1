//! Error bodies: RFC 7807 problem+json (`ErrorV3` / webhooks `ProblemDetails`) and the API
//! gateway's `ErrorFromAzure`.

use serde::{Deserialize, Serialize};

/// Prefix of every recurring problem `type`.
pub const PROBLEM_TYPE_BASE: &str =
    "https://developer.vippsmobilepay.com/docs/APIs/recurring-api/recurring-api-problems#";

wire_enum!(
    /// The problem identifier: the part of `type` after `#`.
    ProblemKind {
        ValidationError => "validation-error",
        InvalidAgreementId => "invalid-agreement-id",
        InvalidJson => "invalid-json",
        UnsupportedMediaType => "unsupported-media-type",
        NotAuthorized => "not-authorized",
        IdempotencyKeyHeader => "idempotency-key-header",
        ChargeAmountTooHigh => "charge-amount-too-high",
        ChargeDueTooSoon => "charge-due-too-soon",
        ChargeDueInTooLong => "charge-due-in-too-long",
        UnsupportedFeature => "unsupported-feature",
        IllegalAgreementUpdate => "illegal-agreement-update",
        InvalidSuggestedMaxAmount => "invalid-suggested-max-amount",
        CancelChargeFailed => "cancel-charge-failed",
        ChargeCreationFailed => "charge-creation-failed",
        ChargeCaptureFailed => "charge-capture-failed",
        MissingRequestHeader => "missing-request-header",
        InvalidSaleUnit => "invalid-sale-unit",
        ResourceNotFound => "resource-not-found",
        OperationFailed => "operation-failed",
        Conflict => "conflict",
        IdempotencyConflict => "idempotency-conflict",
    }
);

/// One `extraDetails` item. Both published shapes are read: `{field, text}` (2023 spec) and
/// `{name, reason}` (newer spec, Webhooks API); `{name, reason}` is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraDetail {
    #[serde(alias = "field", default)]
    pub name: Option<String>,
    #[serde(alias = "text", default)]
    pub reason: Option<String>,
}

/// Problem JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "de_null_vec"
    )]
    pub extra_details: Vec<ExtraDetail>,
}

fn de_null_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ExtraDetail>, D::Error> {
    Ok(Option::<Vec<ExtraDetail>>::deserialize(d)?.unwrap_or_default())
}

impl Problem {
    /// The identifier after `#` in `type` (or the whole `type` when it has no `#`).
    pub fn kind(&self) -> Option<ProblemKind> {
        let t = self.problem_type.as_deref()?;
        let id = t.rsplit_once('#').map_or(t, |(_, id)| id);
        Some(ProblemKind::from(id))
    }

    /// A problem of the documented recurring type.
    pub fn new(kind: ProblemKind, status: u16, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: Some(format!("{PROBLEM_TYPE_BASE}{}", kind.as_str())),
            title: Some(title.to_owned()),
            status: Some(status),
            detail: Some(detail.into()),
            ..Self::default()
        }
    }
}

/// `ErrorFromAzure.responseInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureResponseInfo {
    pub response_code: u16,
    #[serde(default)]
    pub response_message: String,
}

/// `ErrorFromAzure.result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureResult {
    #[serde(default)]
    pub message: String,
}

/// `ErrorFromAzure`: errors from the API gateway (401, 403, 429 …). Rely on the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureError {
    pub response_info: AzureResponseInfo,
    pub result: AzureResult,
}

impl AzureError {
    pub fn new(code: u16, message: &str, detail: impl Into<String>) -> Self {
        Self {
            response_info: AzureResponseInfo {
                response_code: code,
                response_message: message.to_owned(),
            },
            result: AzureResult {
                message: detail.into(),
            },
        }
    }
}

/// An error body as received: whichever shape parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    Problem(Box<Problem>),
    Gateway(AzureError),
    /// Not JSON we recognise (kept, truncated, for the log).
    Raw(String),
}

impl ErrorBody {
    /// Parses an error response body.
    pub fn parse(bytes: &[u8]) -> Self {
        if let Ok(a) = serde_json::from_slice::<AzureError>(bytes) {
            return Self::Gateway(a);
        }
        match serde_json::from_slice::<Problem>(bytes) {
            Ok(p) if p != Problem::default() => Self::Problem(Box::new(p)),
            _ => {
                let text = String::from_utf8_lossy(bytes);
                Self::Raw(text.chars().take(500).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_extra_details_shapes_parse() {
        let old = br#"{"type":"https://developer.vippsmobilepay.com/docs/APIs/recurring-api/recurring-api-problems#validation-error",
            "title":"Bad Request","status":400,"detail":"Input validation failed","instance":"/v3/agreements",
            "contextId":"f70b","extraDetails":[{"field":"productName","text":"must not be empty"}]}"#;
        let ErrorBody::Problem(p) = ErrorBody::parse(old) else {
            panic!("not a problem")
        };
        assert_eq!(p.kind(), Some(ProblemKind::ValidationError));
        assert_eq!(p.extra_details[0].name.as_deref(), Some("productName"));
        assert_eq!(
            p.extra_details[0].reason.as_deref(),
            Some("must not be empty")
        );
        let new = br#"{"type":"00-bb84","title":"Bad Request","status":400,"traceId":"t",
            "extraDetails":[{"name":"url","reason":"The property is required"}]}"#;
        let ErrorBody::Problem(p) = ErrorBody::parse(new) else {
            panic!("not a problem")
        };
        assert_eq!(p.extra_details[0].name.as_deref(), Some("url"));
        assert_eq!(p.trace_id.as_deref(), Some("t"));
        let null = br#"{"title":"x","extraDetails":null}"#;
        assert!(matches!(ErrorBody::parse(null), ErrorBody::Problem(_)));
    }

    #[test]
    fn gateway_and_raw_shapes() {
        let az = br#"{"responseInfo":{"responseCode":401,"responseMessage":"Unauthorized"},
            "result":{"message":"Access denied due to invalid subscription key."}}"#;
        let ErrorBody::Gateway(g) = ErrorBody::parse(az) else {
            panic!("not gateway")
        };
        assert_eq!(g.response_info.response_code, 401);
        assert!(matches!(
            ErrorBody::parse(b"<html>oops</html>"),
            ErrorBody::Raw(_)
        ));
        assert!(matches!(ErrorBody::parse(b"{}"), ErrorBody::Raw(_)));
        let p = Problem::new(ProblemKind::Conflict, 409, "Conflict", "dup");
        assert_eq!(p.kind(), Some(ProblemKind::Conflict));
        let unknown = Problem {
            problem_type: Some("https://x#brand-new".into()),
            ..Problem::default()
        };
        assert_eq!(
            unknown.kind(),
            Some(ProblemKind::Unknown("brand-new".into()))
        );
    }
}
