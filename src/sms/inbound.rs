//! What gateways post to us: inbound messages ([`InboundSms`], "MO") and delivery reports
//! ([`DeliveryReport`], "DLR"), and the parsers of our generic JSON protocol. LINK's formats are
//! parsed in [`super::link::inbound`] into the same types.
//!
//! Parsers are pure, never panic on any input, and say precisely what is wrong
//! ([`InboundError`], meant for a 400 answer). Webhook handlers authenticate first
//! ([`super::auth`]), parse, store idempotently on the gateway's message id, then answer 2xx.
//!
//! Generic protocol, authenticated with `Authorization: Bearer <sms.inbound_token>`:
//!
//! - `POST /webhooks/sms/inbound`: `{"message_id": "<gateway id>", "from": "+4791234567",
//!   "to": "2160", "text": "GIVE", "received_at": "2025-01-31T12:00:00Z"?}`
//! - `POST /webhooks/sms/status`: `{"message_id": "<the id the gateway answered our send
//!   with>", "status": "queued|sent|delivered|failed|expired", "at": "<RFC 3339>"?,
//!   "reason": "…"?, "client_message_id": "<our message_id>"?}`

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::status::DeliveryStatus;
use crate::domain::msisdn::Msisdn;
use crate::domain::sender::Sender;

/// Longest gateway id we accept (ids are stored and indexed).
pub const MAX_ID_LEN: usize = 255;

/// An SMS a user sent to one of our numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundSms {
    /// The gateway's id: the deduplication key.
    pub gateway_message_id: String,
    /// The user's phone.
    pub from: Msisdn,
    /// The number texted, normalised like a dialogue's sender: a short number as digits
    /// (`2160`, LINK's `NO-` country prefix stripped), a full number as E.164.
    pub to: String,
    pub text: String,
    pub received_at: DateTime<Utc>,
}

/// A gateway's report about one of our outbound messages (or one part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// The gateway's id of the whole message (as returned when we sent it), without any
    /// part suffix.
    pub gateway_message_id: String,
    /// The part this report is about, for gateways that report per part (LINK: `id$n`,
    /// numbered from 0). `None`: the report covers the whole message.
    pub part: Option<u32>,
    pub status: DeliveryStatus,
    /// When the gateway says the status was reached.
    pub at: Option<DateTime<Utc>>,
    /// Why it failed or expired (or the gateway's description), for people.
    pub reason: Option<String>,
    /// Our own message id, when the gateway mirrors it (LINK `refId`, generic
    /// `client_message_id`): finds the message even if its gateway id was never recorded.
    pub client_reference: Option<String>,
    /// How many parts the gateway says the message has, when it says so (LINK `segments`).
    pub segments: Option<u32>,
}

/// Why a post could not be read. The text is safe to return in a 400 body and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error("`{field}` {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

impl InboundError {
    /// The offending field, if the error is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Missing(f) | Self::Invalid { field: f, .. } => Some(f),
            Self::NotJson(_) | Self::NotAnObject => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            problem: problem.into(),
        }
    }
}

/// Parses a body into a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, InboundError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(InboundError::NotAnObject),
        Err(e) => Err(InboundError::NotJson(e.to_string())),
    }
}

/// A present, non-null field; `name` is the path reported in errors.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A string as we can store it: PostgreSQL text cannot hold NUL (`\u0000`), so it is refused
/// on every engine alike rather than failing the insert.
fn storable<'a>(s: &'a str, name: &'static str) -> Result<&'a str, InboundError> {
    if s.contains('\0') {
        return Err(InboundError::invalid(
            name,
            "must not contain NUL characters (\\u0000)",
        ));
    }
    Ok(s)
}

/// A required string field.
pub(crate) fn req_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<&'a str, InboundError> {
    match present(obj, key) {
        None => Err(InboundError::Missing(name)),
        Some(Value::String(s)) => storable(s, name),
        Some(_) => Err(InboundError::invalid(name, "must be a string")),
    }
}

/// An optional string field (absent or null → `None`).
pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<Option<&'a str>, InboundError> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => storable(s, name).map(Some),
        Some(_) => Err(InboundError::invalid(name, "must be a string")),
    }
}

/// An optional integer field that may also arrive as a string of digits.
pub(crate) fn opt_int(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<Option<i64>, InboundError> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| InboundError::invalid(name, "must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| InboundError::invalid(name, "must be an integer")),
        Some(_) => Err(InboundError::invalid(name, "must be an integer")),
    }
}

/// A gateway message id: non-empty, at most [`MAX_ID_LEN`] characters, no control characters.
pub(crate) fn gateway_id(value: &str, name: &'static str) -> Result<String, InboundError> {
    let id = value.trim();
    if id.is_empty() {
        return Err(InboundError::invalid(name, "must not be empty"));
    }
    if id.chars().count() > MAX_ID_LEN {
        return Err(InboundError::invalid(
            name,
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(InboundError::invalid(
            name,
            "must not contain control characters",
        ));
    }
    Ok(id.to_owned())
}

/// The user's phone.
pub(crate) fn phone(value: &str, name: &'static str) -> Result<Msisdn, InboundError> {
    Msisdn::parse(value)
        .map_err(|e| InboundError::invalid(name, format!("is not a phone number: {e}")))
}

/// The number texted: an optional `CC-` country prefix (LINK: `NO-2333`) is dropped, then it is
/// normalised like a dialogue sender (short number digits, or E.164).
pub fn normalize_recipient(value: &str) -> Option<String> {
    let v = value.trim();
    let v = match v.split_once('-') {
        Some((cc, rest)) if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_alphabetic()) => rest,
        _ => v,
    };
    Sender::parse(v).ok().map(|s| s.as_str().to_owned())
}

pub(crate) fn recipient(value: &str, name: &'static str) -> Result<String, InboundError> {
    normalize_recipient(value).ok_or_else(|| {
        InboundError::invalid(
            name,
            "must be a short number (3–8 digits, optionally with a country prefix such as NO-) or a phone number",
        )
    })
}

/// Timestamps as gateways write them: RFC 3339 (`2025-01-31T12:00:00Z`, `…+01:00`), or
/// without an offset (`2025-01-31T12:00:00.123`, `2025-01-31 12:00:00`), read as UTC.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .map(|t| t.and_utc())
}

pub(crate) fn opt_timestamp(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<Option<DateTime<Utc>>, InboundError> {
    opt_str(obj, key, name)?
        .map(|s| {
            parse_timestamp(s).ok_or_else(|| {
                InboundError::invalid(name, "must be a date-time such as 2025-01-31T12:00:00Z")
            })
        })
        .transpose()
}

/// Text of a reason: trimmed, at most 500 characters, empty → `None`.
pub(crate) fn reason_text(value: Option<&str>) -> Option<String> {
    let v = value?.trim();
    (!v.is_empty()).then(|| v.chars().take(500).collect())
}

/// Generic inbound message; `received_at` defaults to now.
pub fn parse_generic_inbound(body: &[u8]) -> Result<InboundSms, InboundError> {
    parse_generic_inbound_at(body, Utc::now())
}

/// [`parse_generic_inbound`] with an injected "now" (used when `received_at` is absent).
pub fn parse_generic_inbound_at(
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<InboundSms, InboundError> {
    let obj = json_object(body)?;
    let gateway_message_id = gateway_id(req_str(&obj, "message_id", "message_id")?, "message_id")?;
    let from = phone(req_str(&obj, "from", "from")?, "from")?;
    let to = recipient(req_str(&obj, "to", "to")?, "to")?;
    let text = req_str(&obj, "text", "text")?.to_owned();
    let received_at = opt_timestamp(&obj, "received_at", "received_at")?.unwrap_or(now);
    Ok(InboundSms {
        gateway_message_id,
        from,
        to,
        text,
        received_at,
    })
}

/// Generic delivery report.
pub fn parse_generic_status(body: &[u8]) -> Result<DeliveryReport, InboundError> {
    let obj = json_object(body)?;
    let gateway_message_id = gateway_id(req_str(&obj, "message_id", "message_id")?, "message_id")?;
    let status_text = req_str(&obj, "status", "status")?;
    let status = DeliveryStatus::parse(status_text.trim()).ok_or_else(|| {
        InboundError::invalid(
            "status",
            "must be one of queued, sent, delivered, failed, expired",
        )
    })?;
    let at = opt_timestamp(&obj, "at", "at")?;
    let reason = reason_text(opt_str(&obj, "reason", "reason")?);
    let client_reference = opt_str(&obj, "client_message_id", "client_message_id")?
        .map(|s| gateway_id(s, "client_message_id"))
        .transpose()?;
    Ok(DeliveryReport {
        gateway_message_id,
        part: None,
        status,
        at,
        reason,
        client_reference,
        segments: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
    }

    #[test]
    fn generic_inbound_full_and_minimal() {
        let body = br#"{"message_id":"gw-1","from":"+47 912 34 567","to":"2160","text":"GIVE 100","received_at":"2025-01-31T13:00:00+01:00"}"#;
        let m = parse_generic_inbound_at(body, now()).unwrap();
        assert_eq!(m.gateway_message_id, "gw-1");
        assert_eq!(m.from.as_str(), "+4791234567");
        assert_eq!(m.to, "2160");
        assert_eq!(m.text, "GIVE 100");
        assert_eq!(
            m.received_at,
            Utc.with_ymd_and_hms(2025, 1, 31, 12, 0, 0).unwrap()
        );

        let body = br#"{"message_id":"gw-2","from":"91234567","to":"NO-2160","text":"","received_at":null,"extra":1}"#;
        let m = parse_generic_inbound_at(body, now()).unwrap();
        assert_eq!(m.to, "2160");
        assert_eq!(m.text, "");
        assert_eq!(m.received_at, now());

        let body = br#"{"message_id":"gw-3","from":"4791234567","to":"4790000000","text":"hei"}"#;
        assert_eq!(
            parse_generic_inbound_at(body, now()).unwrap().to,
            "+4790000000"
        );
    }

    #[test]
    fn generic_inbound_errors_name_the_field() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not valid JSON"),
            (b"[1,2]", "JSON object"),
            (b"{\"from\":\"+4791234567\",\"to\":\"2160\",\"text\":\"x\"}", "`message_id` is required"),
            (b"{\"message_id\":\"  \",\"from\":\"+4791234567\",\"to\":\"2160\",\"text\":\"x\"}", "`message_id` must not be empty"),
            (b"{\"message_id\":7,\"from\":\"+4791234567\",\"to\":\"2160\",\"text\":\"x\"}", "`message_id` must be a string"),
            (b"{\"message_id\":\"a\",\"from\":\"abc\",\"to\":\"2160\",\"text\":\"x\"}", "`from` is not a phone number"),
            (b"{\"message_id\":\"a\",\"from\":\"+4791234567\",\"to\":\"ACME\",\"text\":\"x\"}", "`to` must be a short number"),
            (b"{\"message_id\":\"a\",\"from\":\"+4791234567\",\"to\":\"2160\"}", "`text` is required"),
            (b"{\"message_id\":\"a\",\"from\":\"+4791234567\",\"to\":\"2160\",\"text\":\"x\",\"received_at\":\"yesterday\"}", "`received_at` must be a date-time"),
            (b"{\"message_id\":\"a\",\"from\":\"+4791234567\",\"to\":\"2160\",\"text\":\"GI\\u0000VE\"}", "`text` must not contain NUL"),
        ];
        for (body, expected) in cases {
            let err = parse_generic_inbound_at(body, now()).unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "{:?}: {err}",
                String::from_utf8_lossy(body)
            );
        }
        let long = format!(
            "{{\"message_id\":\"{}\",\"from\":\"+4791234567\",\"to\":\"2160\",\"text\":\"x\"}}",
            "a".repeat(256)
        );
        let err = parse_generic_inbound_at(long.as_bytes(), now()).unwrap_err();
        assert_eq!(err.field(), Some("message_id"));
    }

    #[test]
    fn generic_status() {
        let r = parse_generic_status(
            br#"{"message_id":"gw-9","status":"delivered","at":"2025-01-31T12:00:05Z","client_message_id":"01J000"}"#,
        )
        .unwrap();
        assert_eq!(r.gateway_message_id, "gw-9");
        assert_eq!(r.status, DeliveryStatus::Delivered);
        assert_eq!(r.part, None);
        assert_eq!(
            r.at,
            Some(Utc.with_ymd_and_hms(2025, 1, 31, 12, 0, 5).unwrap())
        );
        assert_eq!(r.client_reference.as_deref(), Some("01J000"));
        let r = parse_generic_status(
            br#"{"message_id":"gw-9","status":"failed","reason":"  absent subscriber "}"#,
        )
        .unwrap();
        assert_eq!(r.status, DeliveryStatus::Failed);
        assert_eq!(r.reason.as_deref(), Some("absent subscriber"));
        let err = parse_generic_status(br#"{"message_id":"gw-9","status":"DELIVRD"}"#).unwrap_err();
        assert_eq!(err.field(), Some("status"));
        assert!(err.to_string().contains("one of queued"), "{err}");
        let err = parse_generic_status(br#"{"message_id":"gw-9"}"#).unwrap_err();
        assert_eq!(err, InboundError::Missing("status"));
        let err =
            parse_generic_status(br#"{"message_id":"gw-9","status":"sent","at":5}"#).unwrap_err();
        assert_eq!(err.field(), Some("at"));
    }

    #[test]
    fn timestamps_and_recipients() {
        let t = Utc.with_ymd_and_hms(2025, 1, 31, 12, 0, 0).unwrap();
        assert_eq!(parse_timestamp("2025-01-31T12:00:00Z"), Some(t));
        assert_eq!(parse_timestamp("2025-01-31T13:00:00+01:00"), Some(t));
        assert_eq!(parse_timestamp("2025-01-31T12:00:00"), Some(t));
        assert_eq!(parse_timestamp("2025-01-31 12:00:00"), Some(t));
        assert!(parse_timestamp("2025-01-31T12:00:00.250Z").is_some());
        assert_eq!(parse_timestamp("31.01.2025"), None);
        assert_eq!(normalize_recipient("NO-2333").as_deref(), Some("2333"));
        assert_eq!(normalize_recipient("se-72000").as_deref(), Some("72000"));
        assert_eq!(normalize_recipient(" 2160 ").as_deref(), Some("2160"));
        assert_eq!(
            normalize_recipient("+4791234567").as_deref(),
            Some("+4791234567")
        );
        assert_eq!(normalize_recipient("NOR-2160"), None);
        assert_eq!(normalize_recipient("21"), None);
        assert_eq!(normalize_recipient(""), None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_generic_inbound_at(&body, now());
            let _ = parse_generic_status(&body);
        }

        #[test]
        fn json_shaped_garbage_never_panics(
            id in any::<String>(), from in any::<String>(), to in any::<String>(),
            text in any::<String>(), at in any::<String>(), status in any::<String>(),
        ) {
            let body = serde_json::json!({
                "message_id": id, "from": from, "to": to, "text": text,
                "received_at": at, "status": status, "at": at,
            });
            let bytes = serde_json::to_vec(&body).unwrap();
            let _ = parse_generic_inbound_at(&bytes, now());
            let _ = parse_generic_status(&bytes);
        }
    }
}
