//! The `http` provider against the fake's generic endpoint.

use std::time::Duration;

use dialogpay::sms::fake::FakeProtocol;
use dialogpay::sms::{DeliveryStatus, SmsError};
use secrecy::SecretString;

use crate::support::{closed_port_url, gateway, http_env, msg};

#[tokio::test]
async fn sends_the_documented_body_with_bearer_and_idempotency_key() {
    let (fake, gw) = http_env().await;
    assert_eq!(gw.provider(), "http");
    assert!(gw.dedupes_resends());
    let receipt = gw.send(&msg("01JMSG1")).await.unwrap();
    assert_eq!(receipt.gateway_message_id, "gw-1");
    assert_eq!(receipt.status, DeliveryStatus::Queued);

    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    let s = &sent[0];
    assert_eq!(s.protocol, FakeProtocol::Http);
    assert_eq!(s.idempotency_key.as_deref(), Some("01JMSG1"));
    assert_eq!(
        s.body,
        serde_json::json!({
            "message_id": "01JMSG1",
            "from": "2160",
            "to": "+4791234567",
            "text": msg("x").text,
            "reply_to": "mo-77",
        })
    );

    let mut no_reply = msg("01JMSG2");
    no_reply.mo_reference_id = None;
    gw.send(&no_reply).await.unwrap();
    assert!(fake.sent()[1].body.get("reply_to").is_none());
}

#[tokio::test]
async fn a_resend_of_the_same_message_id_is_deduplicated() {
    let (fake, gw) = http_env().await;
    let first = gw.send(&msg("01JDUP")).await.unwrap();
    let again = gw.send(&msg("01JDUP")).await.unwrap();
    assert_eq!(first.gateway_message_id, again.gateway_message_id);
    assert_eq!(fake.sent().len(), 1);
    assert_eq!(fake.requests(), 2);
    let other = gw.send(&msg("01JOTHER")).await.unwrap();
    assert_ne!(other.gateway_message_id, first.gateway_message_id);
    assert_eq!(fake.sent().len(), 2);
}

#[tokio::test]
async fn outage_is_retryable_and_recovery_sends_once() {
    let (fake, gw) = http_env().await;
    fake.set_down(2);
    for _ in 0..2 {
        let err = gw.send(&msg("01JOUT")).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(err.status(), Some(503));
        assert_eq!(err.retry_after(), None);
        assert!(err.may_have_been_sent());
    }
    assert!(fake.sent().is_empty());
    let receipt = gw.send(&msg("01JOUT")).await.unwrap();
    assert_eq!(fake.sent().len(), 1);
    assert_eq!(
        fake.sent()[0].gateway_message_id,
        receipt.gateway_message_id
    );
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let (fake, gw) = http_env().await;
    fake.set_status(429, 1);
    let err = gw.send(&msg("01JRL")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert!(gw.send(&msg("01JRL")).await.is_ok());
}

#[tokio::test]
async fn client_errors_are_permanent() {
    let (fake, gw) = http_env().await;
    for code in [400, 404, 409, 422] {
        fake.set_status(code, 1);
        let err = gw.send(&msg("01JBAD")).await.unwrap_err();
        assert!(!err.is_retryable(), "{code}: {err}");
        assert_eq!(err.status(), Some(code));
    }
    fake.set_status(500, 1);
    assert!(gw.send(&msg("01JBAD")).await.unwrap_err().is_retryable());
    assert!(fake.sent().is_empty());
}

#[tokio::test]
async fn a_wrong_token_is_a_permanent_auth_error() {
    let (fake, _) = http_env().await;
    let mut settings = fake.http_settings();
    settings.http.token = SecretString::from("not-the-token");
    let err = gateway(&settings).send(&msg("01JAUTH")).await.unwrap_err();
    assert!(err.is_auth() && !err.is_retryable(), "{err}");
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("not-the-token"));
    assert!(fake.sent().is_empty());
}

#[tokio::test]
async fn a_timeout_is_retryable_and_the_resend_is_deduplicated() {
    let (fake, _) = http_env().await;
    let mut settings = fake.http_settings();
    settings.http.timeout_ms = 150;
    let gw = gateway(&settings);
    fake.set_delay(600);
    let err = gw.send(&msg("01JSLOW")).await.unwrap_err();
    assert!(matches!(err, SmsError::Timeout { .. }), "{err}");
    assert!(err.is_retryable() && err.may_have_been_sent());
    // The gateway accepted it after we gave up: "sent" but not "recorded".
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(fake.sent().len(), 1);
    fake.clear_faults();
    let receipt = gw.send(&msg("01JSLOW")).await.unwrap();
    assert_eq!(fake.sent().len(), 1, "the retry must not send again");
    assert_eq!(
        receipt.gateway_message_id,
        fake.sent()[0].gateway_message_id
    );
}

#[tokio::test]
async fn connection_refused_is_retryable_and_certainly_unsent() {
    let mut settings = dialogpay::sms::SmsSettings {
        provider: dialogpay::sms::SmsProvider::Http,
        ..Default::default()
    };
    settings.http.url = format!("{}/send", closed_port_url());
    settings.http.token = SecretString::from("t");
    let err = gateway(&settings).send(&msg("01JCONN")).await.unwrap_err();
    assert!(matches!(err, SmsError::Connect { .. }), "{err}");
    assert!(err.is_retryable() && !err.may_have_been_sent());
}

#[tokio::test]
async fn an_unreadable_success_is_not_retried() {
    let (fake, gw) = http_env().await;
    fake.set_status(200, 1); // 200 with {"error": "injected"}: no id
    let err = gw.send(&msg("01JODD")).await.unwrap_err();
    assert!(matches!(err, SmsError::Decode { status: 200, .. }), "{err}");
    assert!(!err.is_retryable());
}
