//! Inbound posts as gateways build them, read by our parsers; per-part delivery reports of a
//! real split LINK send combined into one message status.

use std::collections::BTreeMap;

use dialogpay::sms::auth::{basic_header, bearer_header};
use dialogpay::sms::fake::{
    dlr_bodies_for, generic_inbound_body, generic_status_body, link_dlr_body, link_mo_body,
};
use dialogpay::sms::link::codes;
use dialogpay::sms::{
    DeliveryReport, DeliveryStatus, check_basic, check_bearer, combine_parts,
    parse_generic_inbound, parse_generic_status, parse_link_dlr, parse_link_mo,
};
use secrecy::SecretString;

use crate::support::{http_env, link_env, msg};

fn bytes(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[test]
fn generic_and_link_mo_read_the_same() {
    let generic = parse_generic_inbound(&bytes(&generic_inbound_body(
        "gw-in-1", "91234567", "2160", "give 100",
    )))
    .unwrap();
    let link = parse_link_mo(&bytes(&link_mo_body(
        "link-in-1",
        "+4791234567",
        "2160",
        "give 100",
    )))
    .unwrap();
    assert_eq!(generic.from, link.from);
    assert_eq!(generic.to, "2160");
    assert_eq!(link.to, "2160");
    assert_eq!(link.gateway_message_id, "link-in-1");
    assert_eq!(generic.text, link.text);
}

#[test]
fn webhook_credentials() {
    let token = SecretString::from("inbound-token-0123456789");
    assert!(check_bearer(
        Some(&bearer_header("inbound-token-0123456789")),
        &token
    ));
    assert!(!check_bearer(
        Some(&bearer_header("inbound-token-012345678")),
        &token
    ));
    let pw = SecretString::from("link-in-pw");
    assert!(check_basic(
        Some(&basic_header("link", "link-in-pw")),
        "link",
        &pw
    ));
    assert!(!check_basic(
        Some(&basic_header("link", "link-in-px")),
        "link",
        &pw
    ));
    // Nothing configured: everything refused.
    assert!(!check_bearer(
        Some(&bearer_header("")),
        &SecretString::from("")
    ));
    assert!(!check_basic(
        Some(&basic_header("", "")),
        "",
        &SecretString::from("")
    ));
}

/// What a webhook handler keeps per part: forward-only merged statuses.
fn apply(parts: &mut BTreeMap<Option<u32>, DeliveryStatus>, r: &DeliveryReport) {
    let e = parts.entry(r.part).or_insert(DeliveryStatus::Queued);
    *e = e.merge(r.status);
}

#[tokio::test]
async fn a_split_link_message_is_delivered_when_every_part_is() {
    let (fake, gw) = link_env().await;
    let mut m = msg("01JLONG");
    m.text = "Æ".repeat(200); // GSM-7, 200 septets: 2 parts
    assert_eq!(m.info().segments, 2);
    let receipt = gw.send(&m).await.unwrap();
    let sent = fake.sent().remove(0);
    let dlrs: Vec<DeliveryReport> = dlr_bodies_for(&sent, DeliveryStatus::Delivered)
        .iter()
        .map(|b| parse_link_dlr(&bytes(b)).unwrap())
        .collect();
    assert_eq!(dlrs.len(), 2);
    for r in &dlrs {
        assert_eq!(r.gateway_message_id, receipt.gateway_message_id);
        assert_eq!(r.client_reference.as_deref(), Some("01JLONG"));
        assert_eq!(r.segments, Some(2));
    }
    let expected = m.info().segments;
    let mut parts = BTreeMap::new();
    apply(&mut parts, &dlrs[0]);
    let now: Vec<_> = parts.values().copied().collect();
    assert_eq!(combine_parts(&now, expected), DeliveryStatus::Queued);
    // A temporary report for the other part: still not delivered.
    let sent_part1 = parse_link_dlr(&bytes(&link_dlr_body(
        &sent.gateway_message_id,
        Some(1),
        codes::SENT,
        "01JLONG",
        2,
    )))
    .unwrap();
    apply(&mut parts, &sent_part1);
    let now: Vec<_> = parts.values().copied().collect();
    assert_eq!(combine_parts(&now, expected), DeliveryStatus::Sent);
    apply(&mut parts, &dlrs[1]);
    let now: Vec<_> = parts.values().copied().collect();
    assert_eq!(combine_parts(&now, expected), DeliveryStatus::Delivered);
    // The same "sent" report retried late changes nothing.
    apply(&mut parts, &sent_part1);
    let now: Vec<_> = parts.values().copied().collect();
    assert_eq!(combine_parts(&now, expected), DeliveryStatus::Delivered);
}

#[tokio::test]
async fn one_failed_part_fails_the_message() {
    let (fake, gw) = link_env().await;
    let mut m = msg("01JFAIL");
    m.text = "🙂".repeat(40); // UCS-2, 80 units: 2 parts
    assert_eq!(m.info().segments, 2);
    gw.send(&m).await.unwrap();
    let sent = fake.sent().remove(0);
    let ok = parse_link_dlr(&bytes(&link_dlr_body(
        &sent.gateway_message_id,
        Some(0),
        codes::DELIVERED,
        "01JFAIL",
        2,
    )))
    .unwrap();
    let bad = parse_link_dlr(&bytes(&link_dlr_body(
        &sent.gateway_message_id,
        Some(1),
        codes::MOBILE_FULL,
        "01JFAIL",
        2,
    )))
    .unwrap();
    assert_eq!(
        bad.reason.as_deref(),
        Some("mobile full (LINK 1004), operator code 0")
    );
    assert_eq!(
        combine_parts(&[ok.status, bad.status], m.info().segments),
        DeliveryStatus::Failed
    );
}

#[tokio::test]
async fn generic_status_reports_refer_to_the_gateway_id() {
    let (fake, gw) = http_env().await;
    let receipt = gw.send(&msg("01JGS")).await.unwrap();
    let sent = fake.sent().remove(0);
    let bodies = dlr_bodies_for(&sent, DeliveryStatus::Delivered);
    assert_eq!(bodies.len(), 1);
    let r = parse_generic_status(&bytes(&bodies[0])).unwrap();
    assert_eq!(r.gateway_message_id, receipt.gateway_message_id);
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.part, None);
    assert!(r.at.is_some());
    let r = parse_generic_status(&bytes(&generic_status_body(
        "gw-x",
        DeliveryStatus::Expired,
    )))
    .unwrap();
    assert!(r.status.is_final());
}

#[test]
fn garbage_gets_a_precise_error_not_a_panic() {
    for body in [
        &b""[..],
        b"null",
        b"\xff\xfe",
        b"{\"message_id\":",
        b"{\"id\":{},\"resultCode\":1001}",
        b"{\"destination\":\"NO-2160\",\"source\":\"+4791234567\",\"messageId\":\"m\",\"content\":[]}",
    ] {
        let errors = [
            parse_generic_inbound(body).unwrap_err().to_string(),
            parse_generic_status(body).unwrap_err().to_string(),
            parse_link_mo(body).unwrap_err().to_string(),
            parse_link_dlr(body).unwrap_err().to_string(),
        ];
        assert!(errors.iter().all(|e| !e.is_empty()), "{errors:?}");
    }
    let deep = "[".repeat(10_000);
    assert!(parse_link_mo(deep.as_bytes()).is_err());
}
