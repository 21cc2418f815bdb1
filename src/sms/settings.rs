//! The `[sms]` configuration section. Every field has a default, so an empty section works (the
//! `outbox` provider, which sends nothing). Secrets are [`SecretString`]: they come from the
//! environment (`DIALOGPAY__SMS__…`), never from committed files, and are never printed.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::quiet_hours::QuietHours;

/// Which gateway sends our SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// Sends nothing; messages are only stored and logged (local use and the demo).
    #[default]
    Outbox,
    /// Our documented generic JSON gateway.
    Http,
    /// LINK Mobility "Common" SMS REST API.
    Link,
}

impl SmsProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbox => "outbox",
            Self::Http => "http",
            Self::Link => "link",
        }
    }
}

/// `[sms]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSettings {
    /// `outbox` (default), `http` or `link`.
    pub provider: SmsProvider,
    /// Bearer token the generic webhooks (`/webhooks/sms/inbound`, `/webhooks/sms/status`)
    /// require. Empty: those webhooks refuse every request.
    pub inbound_token: SecretString,
    /// `[sms.http]`, used when `provider = "http"`.
    pub http: HttpGatewaySettings,
    /// `[sms.link]`, used when `provider = "link"` (and for LINK's MO/DLR webhooks).
    pub link: LinkSettings,
    /// Delivery reports that arrive before their send is recorded are parked; those that never
    /// find their message are deleted after this many hours (gateways retry for about 48).
    pub unmatched_report_retention_hours: u64,
    /// When the SMS we send on our own (receipts, failed-payment notices) wait for the
    /// morning: `HH:MM-HH:MM` in Europe/Oslo, or `off`. Replies are never held.
    pub quiet_hours: QuietHoursSetting,
}

/// `sms.quiet_hours`, parsed when the configuration is read: a value that does not parse
/// stops the start with a message saying how to write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct QuietHoursSetting(pub Option<QuietHours>);

impl QuietHoursSetting {
    pub const OFF: Self = Self(None);
}

impl TryFrom<String> for QuietHoursSetting {
    type Error = crate::domain::quiet_hours::QuietHoursError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        crate::domain::quiet_hours::parse_setting(&value).map(Self)
    }
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            provider: SmsProvider::Outbox,
            inbound_token: SecretString::default(),
            http: HttpGatewaySettings::default(),
            link: LinkSettings::default(),
            unmatched_report_retention_hours: 72,
            quiet_hours: QuietHoursSetting(Some(QuietHours::evening_to_morning())),
        }
    }
}

/// `[sms.http]`: the generic JSON gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpGatewaySettings {
    /// The full URL we POST each message to.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: SecretString,
    /// Whole-request timeout.
    pub timeout_ms: u64,
}

impl Default for HttpGatewaySettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: SecretString::default(),
            timeout_ms: 10_000,
        }
    }
}

/// `[sms.link]`: LINK Mobility Common REST.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSettings {
    /// The host LINK assigned, without `/sms/send` (e.g. `https://n-eu.linkmobility.io`).
    pub base_url: String,
    /// HTTP Basic credentials for `/sms/send`.
    pub username: String,
    pub password: SecretString,
    /// Account ids from LINK.
    pub platform_id: String,
    pub platform_partner_id: String,
    /// The gate that posts delivery reports to us (`deliveryReportGates`). Empty: no DLRs
    /// are requested.
    pub dlr_gate_id: String,
    /// HTTP Basic credentials LINK must send when it posts MO messages and DLRs to us. An
    /// empty password: those webhooks refuse every request.
    pub inbound_username: String,
    pub inbound_password: SecretString,
    /// Whole-request timeout.
    pub timeout_ms: u64,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            username: String::new(),
            password: SecretString::default(),
            platform_id: String::new(),
            platform_partner_id: String::new(),
            dlr_gate_id: String::new(),
            inbound_username: String::new(),
            inbound_password: SecretString::default(),
            timeout_ms: 10_000,
        }
    }
}

/// The documented `[sms]` block for `config/default.toml` (a test parses it).
pub const DEFAULT_TOML: &str = r#"[sms]
# Who sends our SMS: "outbox" (default: nothing is sent; messages are stored, logged with the
# phone masked and marked delivered), "http" (our generic JSON gateway) or "link" (LINK Mobility).
provider = "outbox"
# Bearer token the generic webhooks POST /webhooks/sms/inbound and /webhooks/sms/status
# require (secret: DIALOGPAY__SMS__INBOUND_TOKEN, at least 16 characters). Empty: they refuse
# every request.
inbound_token = ""

[sms.http]
# provider = "http": POST {url} with Authorization: Bearer {token} and
# {"message_id","from","to","text","reply_to"?}; the gateway must dedupe on message_id.
url = ""
# Secret: DIALOGPAY__SMS__HTTP__TOKEN.
token = ""
timeout_ms = 10000

[sms.link]
# provider = "link": LINK Mobility Common REST; we POST {base_url}/sms/send with Basic auth.
base_url = ""
username = ""
# Secret: DIALOGPAY__SMS__LINK__PASSWORD.
password = ""
# Account ids from LINK.
platform_id = ""
platform_partner_id = ""
# The gate LINK posts delivery reports through (deliveryReportGates); empty: no DLRs requested.
dlr_gate_id = ""
# HTTP Basic credentials LINK's gates must send when posting MO messages and DLRs to us
# (secret: DIALOGPAY__SMS__LINK__INBOUND_PASSWORD). Empty password: those webhooks refuse all.
inbound_username = ""
inbound_password = ""
timeout_ms = 10000
"#;

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

impl SmsSettings {
    /// Rules serde cannot express, as `sms.<key>: <problem>` lines (empty = fine). Only the
    /// selected provider's section is checked.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let token = self.inbound_token.expose_secret();
        if !token.is_empty() && token.len() < 16 {
            problems.push(
                "sms.inbound_token: must be at least 16 characters (or empty to refuse every generic webhook)"
                    .to_owned(),
            );
        }
        match self.provider {
            SmsProvider::Outbox => {}
            SmsProvider::Http => {
                let h = &self.http;
                if !is_http_url(&h.url) {
                    problems.push("sms.http.url: must be an http:// or https:// URL".to_owned());
                }
                if h.token.expose_secret().is_empty() {
                    problems.push(
                        "sms.http.token: required (set DIALOGPAY__SMS__HTTP__TOKEN)".to_owned(),
                    );
                }
                if h.timeout_ms == 0 {
                    problems.push("sms.http.timeout_ms: must be at least 1".to_owned());
                }
            }
            SmsProvider::Link => {
                let l = &self.link;
                if !is_http_url(&l.base_url) {
                    problems
                        .push("sms.link.base_url: must be an http:// or https:// URL".to_owned());
                }
                if l.username.is_empty() || l.password.expose_secret().is_empty() {
                    problems.push(
                        "sms.link.username and sms.link.password: required (set DIALOGPAY__SMS__LINK__PASSWORD)"
                            .to_owned(),
                    );
                }
                if l.platform_id.is_empty() || l.platform_partner_id.is_empty() {
                    problems.push(
                        "sms.link.platform_id and sms.link.platform_partner_id: required"
                            .to_owned(),
                    );
                }
                if l.timeout_ms == 0 {
                    problems.push("sms.link.timeout_ms: must be at least 1".to_owned());
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_block_parses_to_the_defaults() {
        let table: toml::Table = toml::from_str(DEFAULT_TOML).unwrap();
        let s: SmsSettings = table["sms"].clone().try_into().unwrap();
        let d = SmsSettings::default();
        assert_eq!(s.provider, d.provider);
        assert_eq!(s.http.timeout_ms, d.http.timeout_ms);
        assert_eq!(s.link.timeout_ms, d.link.timeout_ms);
        assert!(s.problems().is_empty());
    }

    #[test]
    fn empty_section_is_the_outbox() {
        let s: SmsSettings = toml::from_str("").unwrap();
        assert_eq!(s.provider, SmsProvider::Outbox);
        assert!(s.inbound_token.expose_secret().is_empty());
        assert_eq!(s.http.timeout_ms, 10_000);
        assert!(s.problems().is_empty());
    }

    #[test]
    fn full_section_parses_and_unknown_keys_fail() {
        let s: SmsSettings = toml::from_str(
            r#"
            provider = "link"
            inbound_token = "t0ken-0123456789"
            [http]
            url = "https://gw.example/send"
            token = "x"
            [link]
            base_url = "https://n-eu.linkmobility.io"
            username = "u"
            password = "p"
            platform_id = "SMSC"
            platform_partner_id = "1234"
            dlr_gate_id = "gate-1"
            inbound_username = "link"
            inbound_password = "in"
            timeout_ms = 5000
            "#,
        )
        .unwrap();
        assert_eq!(s.provider, SmsProvider::Link);
        assert_eq!(s.link.timeout_ms, 5000);
        assert_eq!(s.link.password.expose_secret(), "p");
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        // Secrets never reach Debug output.
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("t0ken") && !debug.contains("\"p\""),
            "{debug}"
        );
        let short = SmsSettings {
            inbound_token: SecretString::from("short"),
            ..SmsSettings::default()
        };
        assert!(short.problems()[0].starts_with("sms.inbound_token"));

        let err = toml::from_str::<SmsSettings>("[link]\npasword = \"x\"").unwrap_err();
        assert!(err.to_string().contains("pasword"), "{err}");
        assert!(toml::from_str::<SmsSettings>("provider = \"twilio\"").is_err());
    }

    #[test]
    fn the_selected_provider_is_checked() {
        let http = SmsSettings {
            provider: SmsProvider::Http,
            ..SmsSettings::default()
        };
        let p = http.problems();
        assert!(p.iter().any(|l| l.starts_with("sms.http.url")), "{p:?}");
        assert!(p.iter().any(|l| l.starts_with("sms.http.token")), "{p:?}");
        let link = SmsSettings {
            provider: SmsProvider::Link,
            ..SmsSettings::default()
        };
        let p = link.problems();
        assert_eq!(p.len(), 3, "{p:?}");
    }
}
