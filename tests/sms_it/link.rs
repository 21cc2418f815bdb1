//! The `link` provider against the fake's `/sms/send`.

use dialogpay::sms::fake::{FAKE_DLR_GATE, FAKE_PLATFORM_ID, FAKE_PLATFORM_PARTNER_ID};
use dialogpay::sms::link::codes;
use dialogpay::sms::{DeliveryStatus, SmsError};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{gateway, link_env, msg};

#[tokio::test]
async fn sends_the_documented_link_body_fields() {
    let (fake, gw) = link_env().await;
    assert_eq!(gw.provider(), "link");
    assert!(!gw.dedupes_resends());
    let receipt = gw.send(&msg("01JLINK1")).await.unwrap();
    assert_eq!(receipt.gateway_message_id, "link-1");
    assert_eq!(receipt.status, DeliveryStatus::Queued);
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body,
        json!({
            "source": "2160",
            "sourceTON": "SHORTNUMBER",
            "destination": "+4791234567",
            "userData": msg("x").text,
            "platformId": FAKE_PLATFORM_ID,
            "platformPartnerId": FAKE_PLATFORM_PARTNER_ID,
            "refId": "01JLINK1",
            "moReferenceId": "mo-77",
            "useDeliveryReport": true,
            "deliveryReportGates": [FAKE_DLR_GATE],
        })
    );
}

#[tokio::test]
async fn msisdn_sender_no_mo_reference_and_no_dlr_gate() {
    let (fake, _) = link_env().await;
    let mut settings = fake.link_settings();
    settings.link.dlr_gate_id = String::new();
    settings.link.base_url = format!("{}/", fake.url()); // a trailing slash is fine
    let gw = gateway(&settings);
    let mut m = msg("01JLINK2");
    m.from = "4790000000".into();
    m.mo_reference_id = None;
    gw.send(&m).await.unwrap();
    let body = &fake.sent()[0].body;
    assert_eq!(body["source"], "+4790000000");
    assert_eq!(body["sourceTON"], "MSISDN");
    assert_eq!(body["useDeliveryReport"], false);
    assert!(body.get("deliveryReportGates").is_none());
    assert!(body.get("moReferenceId").is_none());
}

#[tokio::test]
async fn a_resend_reaches_link_twice_at_least_once() {
    let (fake, gw) = link_env().await;
    let a = gw.send(&msg("01JAGAIN")).await.unwrap();
    let b = gw.send(&msg("01JAGAIN")).await.unwrap();
    assert_ne!(a.gateway_message_id, b.gateway_message_id);
    let sent = fake.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.message_id == "01JAGAIN"));
}

#[tokio::test]
async fn bad_credentials_map_to_a_permanent_auth_error() {
    let (fake, _) = link_env().await;
    let mut settings = fake.link_settings();
    settings.link.password = SecretString::from("wrong-password");
    let err = gateway(&settings).send(&msg("01JA")).await.unwrap_err();
    assert!(err.is_auth() && !err.is_retryable(), "{err}");
    assert_eq!(err.result_code(), Some(codes::BAD_PASSWORD));
    assert!(!err.to_string().contains("wrong-password"));
    assert!(fake.sent().is_empty());
}

#[tokio::test]
async fn bad_platform_ids_are_permanent() {
    let (fake, _) = link_env().await;
    let mut settings = fake.link_settings();
    settings.link.platform_id = "OTHER".into();
    let err = gateway(&settings).send(&msg("01JP")).await.unwrap_err();
    assert_eq!(err.result_code(), Some(codes::BAD_PLATFORM_ID));
    assert!(!err.is_retryable() && !err.is_auth());
    let mut settings = fake.link_settings();
    settings.link.platform_partner_id = "1".into();
    let err = gateway(&settings).send(&msg("01JP")).await.unwrap_err();
    assert_eq!(err.result_code(), Some(codes::BAD_PLATFORM_PARTNER_ID));
    assert!(err.to_string().contains("platformPartnerId"), "{err}");
}

#[tokio::test]
async fn a_rejection_in_a_success_answer_is_permanent() {
    let (fake, gw) = link_env().await;
    fake.set_link_error(200, 106_000, 1);
    let err = gw.send(&msg("01JR")).await.unwrap_err();
    assert!(
        matches!(err, SmsError::Rejected { code: 106_000, .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    // A 5xx with a result code is still a server error: retry.
    fake.set_link_error(502, 106_000, 1);
    let err = gw.send(&msg("01JR")).await.unwrap_err();
    assert!(
        err.is_retryable() && err.result_code() == Some(106_000),
        "{err}"
    );
    assert!(gw.send(&msg("01JR")).await.is_ok());
}

#[tokio::test]
async fn outages_and_rate_limits_are_retryable() {
    let (fake, gw) = link_env().await;
    fake.set_down(1);
    let err = gw.send(&msg("01JD")).await.unwrap_err();
    assert!(err.is_retryable() && err.status() == Some(503));
    fake.set_status(429, 1);
    let err = gw.send(&msg("01JD")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(1)));
    gw.send(&msg("01JD")).await.unwrap();
    assert_eq!(fake.sent().len(), 1);
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn an_unsendable_sender_is_refused_before_any_request() {
    let (fake, gw) = link_env().await;
    let mut m = msg("01JS");
    m.from = "Acme Corp AS".into();
    let err = gw.send(&m).await.unwrap_err();
    assert!(matches!(err, SmsError::InvalidMessage { .. }), "{err}");
    assert!(!err.is_retryable() && !err.may_have_been_sent());
    assert_eq!(fake.requests(), 0);
    m.from = "Acme".into();
    gw.send(&m).await.unwrap();
    assert_eq!(fake.sent()[0].body["sourceTON"], "ALPHANUMERIC");
}
