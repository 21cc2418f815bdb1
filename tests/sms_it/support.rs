//! Shared helpers: messages to send and gateways built from the fake's settings.

use dialogpay::domain::msisdn::Msisdn;
use dialogpay::sms::fake::FakeGateway;
use dialogpay::sms::{OutboundSms, SmsGateway, SmsSettings};

pub const PHONE: &str = "+4791234567";

pub fn msg(id: &str) -> OutboundSms {
    OutboundSms {
        message_id: id.to_owned(),
        from: "2160".to_owned(),
        to: Msisdn::parse(PHONE).unwrap(),
        text: "Takk for at du vil gi! Bekreft i Vipps: https://pay.vipps.no/x. Send STOPP til 2160"
            .to_owned(),
        mo_reference_id: Some("mo-77".to_owned()),
    }
}

pub fn gateway(settings: &SmsSettings) -> SmsGateway {
    SmsGateway::from_settings(settings).unwrap()
}

pub async fn http_env() -> (FakeGateway, SmsGateway) {
    let fake = FakeGateway::spawn().await;
    let gw = gateway(&fake.http_settings());
    (fake, gw)
}

pub async fn link_env() -> (FakeGateway, SmsGateway) {
    let fake = FakeGateway::spawn().await;
    let gw = gateway(&fake.link_settings());
    (fake, gw)
}

/// A URL on which nothing listens (a port bound and released).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
