//! LINK's posts to us: MO messages and delivery reports (one per part, id `{messageId}$n`).
//! Authenticate them with [`crate::sms::auth::check_basic`] against `sms.link.inbound_*`.
//!
//! Timestamps are informational here: an unreadable one is dropped (MO: "now" is used) rather
//! than refused, since a 400 would only make LINK retry the same post for two days.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::codes;
use crate::sms::inbound::{
    DeliveryReport, InboundError, InboundSms, gateway_id, json_object, opt_int, opt_str,
    parse_timestamp, phone, recipient, req_str,
};
use crate::sms::status::DeliveryStatus;

/// A LINK MO message; `timestamp` (else `operatorTimestamp`, else now) is `received_at`.
pub fn parse_link_mo(body: &[u8]) -> Result<InboundSms, InboundError> {
    parse_link_mo_at(body, Utc::now())
}

/// [`parse_link_mo`] with an injected "now".
pub fn parse_link_mo_at(body: &[u8], now: DateTime<Utc>) -> Result<InboundSms, InboundError> {
    let obj = json_object(body)?;
    let gateway_message_id = gateway_id(req_str(&obj, "messageId", "messageId")?, "messageId")?;
    let from = phone(req_str(&obj, "source", "source")?, "source")?;
    let to = recipient(req_str(&obj, "destination", "destination")?, "destination")?;
    let content = match obj.get("content") {
        None | Some(Value::Null) => return Err(InboundError::Missing("content")),
        Some(Value::Object(c)) => c,
        Some(_) => return Err(InboundError::invalid("content", "must be an object")),
    };
    let text = req_str(content, "userData", "content.userData")?.to_owned();
    let received_at = [
        opt_str(&obj, "timestamp", "timestamp").ok().flatten(),
        opt_str(&obj, "operatorTimestamp", "operatorTimestamp")
            .ok()
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .find_map(parse_timestamp)
    .unwrap_or(now);
    Ok(InboundSms {
        gateway_message_id,
        from,
        to,
        text,
        received_at,
    })
}

/// Splits LINK's per-part id: `abc$2` → (`abc`, `Some(2)`), `abc` → (`abc`, `None`).
pub fn split_part_id(id: &str) -> Result<(&str, Option<u32>), InboundError> {
    match id.rsplit_once('$') {
        None => Ok((id, None)),
        Some((base, part)) => {
            if base.trim().is_empty() {
                return Err(InboundError::invalid(
                    "id",
                    "must have a message id before the $ part suffix",
                ));
            }
            let part = part
                .parse::<u32>()
                .ok()
                .filter(|_| part.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| InboundError::invalid("id", "the part after $ must be a number"))?;
            Ok((base, Some(part)))
        }
    }
}

/// A LINK delivery report.
pub fn parse_link_dlr(body: &[u8]) -> Result<DeliveryReport, InboundError> {
    let obj = json_object(body)?;
    let id = gateway_id(req_str(&obj, "id", "id")?, "id")?;
    let (base, part) = split_part_id(&id)?;
    let code =
        opt_int(&obj, "resultCode", "resultCode")?.ok_or(InboundError::Missing("resultCode"))?;
    let status = codes::status(code);
    let operator_code = match obj.get("operatorResultCode") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            Some(s.trim().chars().filter(|c| !c.is_control()).collect())
        }
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let reason = (status != DeliveryStatus::Delivered && status.is_final()).then(|| {
        let mut r = codes::describe(code);
        if let Some(op) = operator_code {
            r.push_str(&format!(
                ", operator code {}",
                op.chars().take(40).collect::<String>()
            ));
        }
        r
    });
    let at = opt_str(&obj, "timestamp", "timestamp")
        .ok()
        .flatten()
        .and_then(parse_timestamp);
    let client_reference = opt_str(&obj, "refId", "refId")
        .ok()
        .flatten()
        .and_then(|s| gateway_id(s, "refId").ok());
    let segments = opt_int(&obj, "segments", "segments")
        .ok()
        .flatten()
        .and_then(|n| u32::try_from(n).ok());
    Ok(DeliveryReport {
        gateway_message_id: base.trim().to_owned(),
        part,
        status,
        at,
        reason,
        client_reference,
        segments,
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

    /// An MO as LINK documents it (MO API v1.7).
    const MO: &str = r#"{
        "destination": "NO-2160",
        "source": "+4791234567",
        "content": {"type": "SMS", "userData": "Give 100", "encoding": "TEXT"},
        "operator": "no.telenor",
        "timestamp": "2025-01-31T13:00:00.000+01:00",
        "messageId": "cGFydG5lcjE6bW8xMjM=",
        "operatorTimestamp": "2025-01-31T12:59:59.000+01:00",
        "operatorMessageId": "op-1",
        "route": {"type": "KEYWORD_ROUTE", "id": "r1", "refId": "ref", "keyword": "GIVE",
                  "keywordType": "FIRST_WORD", "number": "NO-2160", "start": "2024-01-01T00:00:00Z",
                  "end": null, "shared": false},
        "customParameters": {"a": "b"}
    }"#;

    #[test]
    fn mo_real_looking() {
        let m = parse_link_mo_at(MO.as_bytes(), now()).unwrap();
        assert_eq!(m.gateway_message_id, "cGFydG5lcjE6bW8xMjM=");
        assert_eq!(m.from.as_str(), "+4791234567");
        assert_eq!(m.to, "2160");
        assert_eq!(m.text, "Give 100");
        assert_eq!(
            m.received_at,
            Utc.with_ymd_and_hms(2025, 1, 31, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn mo_timestamp_fallbacks_and_errors() {
        let mut v: serde_json::Value = serde_json::from_str(MO).unwrap();
        v["timestamp"] = "garbage".into();
        let m = parse_link_mo_at(v.to_string().as_bytes(), now()).unwrap();
        assert_eq!(
            m.received_at,
            Utc.with_ymd_and_hms(2025, 1, 31, 11, 59, 59).unwrap()
        );
        v["operatorTimestamp"] = serde_json::Value::Null;
        let m = parse_link_mo_at(v.to_string().as_bytes(), now()).unwrap();
        assert_eq!(m.received_at, now());

        let mut v: serde_json::Value = serde_json::from_str(MO).unwrap();
        v["content"] = "Give".into();
        let err = parse_link_mo_at(v.to_string().as_bytes(), now()).unwrap_err();
        assert_eq!(err.field(), Some("content"));
        v["content"] = serde_json::json!({"type": "SMS"});
        let err = parse_link_mo_at(v.to_string().as_bytes(), now()).unwrap_err();
        assert_eq!(err, InboundError::Missing("content.userData"));
        v.as_object_mut().unwrap().remove("messageId");
        let err = parse_link_mo_at(v.to_string().as_bytes(), now()).unwrap_err();
        assert_eq!(err, InboundError::Missing("messageId"));
        let mut v: serde_json::Value = serde_json::from_str(MO).unwrap();
        v["source"] = "NO-2160".into();
        let err = parse_link_mo_at(v.to_string().as_bytes(), now()).unwrap_err();
        assert_eq!(err.field(), Some("source"));
        v["source"] = "+4791234567".into();
        v["destination"] = "NO-".into();
        let err = parse_link_mo_at(v.to_string().as_bytes(), now()).unwrap_err();
        assert_eq!(err.field(), Some("destination"));
    }

    #[test]
    fn dlr_parts_and_codes() {
        let r = parse_link_dlr(
            br#"{"refId":"01JREF","id":"abc$2","operator":"no.telenor","sentTimestamp":"2025-01-31T12:00:00Z",
                 "timestamp":"2025-01-31T12:00:03Z","resultCode":1001,"operatorResultCode":"0","segments":3}"#,
        )
        .unwrap();
        assert_eq!(r.gateway_message_id, "abc");
        assert_eq!(r.part, Some(2));
        assert_eq!(r.status, DeliveryStatus::Delivered);
        assert_eq!(r.reason, None);
        assert_eq!(r.client_reference.as_deref(), Some("01JREF"));
        assert_eq!(r.segments, Some(3));
        assert_eq!(
            r.at,
            Some(Utc.with_ymd_and_hms(2025, 1, 31, 12, 0, 3).unwrap())
        );

        let r =
            parse_link_dlr(br#"{"id":"abc","resultCode":"1004","operatorResultCode":17}"#).unwrap();
        assert_eq!((r.gateway_message_id.as_str(), r.part), ("abc", None));
        assert_eq!(r.status, DeliveryStatus::Failed);
        assert_eq!(
            r.reason.as_deref(),
            Some("mobile full (LINK 1004), operator code 17")
        );
        assert_eq!(r.client_reference, None);

        for (code, status) in [
            (1005, DeliveryStatus::Queued),
            (1000, DeliveryStatus::Sent),
            (1002, DeliveryStatus::Expired),
            (1006, DeliveryStatus::Failed),
            (105, DeliveryStatus::Failed),
        ] {
            let body = format!(r#"{{"id":"m$0","resultCode":{code},"refId":""}}"#);
            let r = parse_link_dlr(body.as_bytes()).unwrap();
            assert_eq!(r.status, status, "{code}");
            assert_eq!(r.part, Some(0));
            assert_eq!(r.client_reference, None);
        }
    }

    #[test]
    fn dlr_errors() {
        for (body, field) in [
            (r#"{"resultCode":1001}"#, "id"),
            (r#"{"id":"abc$x","resultCode":1001}"#, "id"),
            (r#"{"id":"abc$","resultCode":1001}"#, "id"),
            (r#"{"id":"$1","resultCode":1001}"#, "id"),
            (r#"{"id":"abc$+1","resultCode":1001}"#, "id"),
            (r#"{"id":"abc$1"}"#, "resultCode"),
            (r#"{"id":"abc$1","resultCode":"ok"}"#, "resultCode"),
            (r#"{"id":"abc$1","resultCode":1.5}"#, "resultCode"),
        ] {
            let err = parse_link_dlr(body.as_bytes()).unwrap_err();
            assert_eq!(err.field(), Some(field), "{body}: {err}");
        }
        assert_eq!(split_part_id("a$b$3").unwrap(), ("a$b", Some(3)));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_link_mo_at(&body, now());
            let _ = parse_link_dlr(&body);
        }

        #[test]
        fn json_shaped_garbage_never_panics(
            id in any::<String>(), src in any::<String>(), dst in any::<String>(),
            text in any::<String>(), ts in any::<String>(), code in any::<i64>(),
        ) {
            let mo = serde_json::json!({
                "messageId": id, "source": src, "destination": dst,
                "content": {"userData": text}, "timestamp": ts,
            });
            let _ = parse_link_mo_at(mo.to_string().as_bytes(), now());
            let dlr = serde_json::json!({"id": id, "resultCode": code, "timestamp": ts, "segments": code, "refId": text});
            if let Ok(r) = parse_link_dlr(dlr.to_string().as_bytes()) {
                prop_assert!(!r.gateway_message_id.is_empty());
                prop_assert!(!r.gateway_message_id.contains('$') || r.part.is_some());
            }
        }
    }
}
