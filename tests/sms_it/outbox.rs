//! The `outbox` provider and building gateways from settings.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dialogpay::sms::{DeliveryStatus, SmsError, SmsGateway, SmsProvider, SmsSettings};

use crate::support::msg;

/// Collects log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_default_is_the_outbox_and_it_logs_only_a_masked_phone() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let gw = SmsGateway::from_settings(&SmsSettings::default()).unwrap();
    assert_eq!(gw.provider(), "outbox");
    let receipt = gw.send(&msg("01JOUTBOX")).await.unwrap();
    assert_eq!(receipt.status, DeliveryStatus::Delivered);
    assert!(receipt.gateway_message_id.starts_with("outbox-"));

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("+47****4567"), "{log}");
    assert!(log.contains("01JOUTBOX"), "{log}");
    assert!(!log.contains("91234567"), "full number in the log: {log}");
    assert!(!log.contains("Bekreft"), "message text in the log: {log}");
}

#[test]
fn misconfigured_providers_fail_to_build() {
    for provider in [SmsProvider::Http, SmsProvider::Link] {
        let settings = SmsSettings {
            provider,
            ..SmsSettings::default()
        };
        let err = SmsGateway::from_settings(&settings).unwrap_err();
        assert!(matches!(err, SmsError::Config(_)), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("sms.{}", provider.as_str())),
            "{err}"
        );
    }
}
