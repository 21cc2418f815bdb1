//! The `[vipps]` configuration section. Every field has a default, so an empty section works
//! (simulator mode against a local simulator). Secrets are [`SecretString`] and never printed.

use secrecy::SecretString;
use serde::Deserialize;

use super::operation::{MerchantPool, Operation};

/// Whether dialogpay talks to the built-in simulator or to Vipps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VippsMode {
    #[default]
    Simulator,
    Live,
}

/// Settings for the Vipps client (and the embedded simulator).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VippsSettings {
    /// `simulator` (default) or `live`.
    pub mode: VippsMode,
    /// API host in live mode: `https://apitest.vipps.no` (test) or `https://api.vipps.no`.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub subscription_key: SecretString,
    /// Secret returned when our webhook was registered; used to verify deliveries.
    pub webhook_secret: SecretString,
    /// A delivery whose signed `x-ms-date` is further than this from our clock is refused
    /// (401): replays of old deliveries. 0 turns the check off.
    pub webhook_max_skew_secs: u64,
    pub system_name: String,
    pub system_version: String,
    pub plugin_name: String,
    pub plugin_version: String,
    /// Whole-request timeout.
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Idle pooled connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Days between "today" and the earliest allowed charge `due` (Vipps: 1 since late 2025).
    pub min_lead_days: u32,
    /// `retryDays` sent on charges (0–14).
    pub retry_days: u32,
    /// Client-side throttle, requests per minute per operation (0 = unthrottled).
    pub rate_limits: RateLimits,
    /// The simulator, used when `mode = "simulator"`.
    pub simulator: SimulatorSettings,
}

impl Default for VippsSettings {
    fn default() -> Self {
        Self {
            mode: VippsMode::Simulator,
            base_url: "https://apitest.vipps.no".into(),
            client_id: String::new(),
            client_secret: SecretString::default(),
            subscription_key: SecretString::default(),
            webhook_secret: SecretString::default(),
            webhook_max_skew_secs: 900,
            system_name: "dialogpay".into(),
            system_version: env!("CARGO_PKG_VERSION").into(),
            plugin_name: String::new(),
            plugin_version: String::new(),
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            pool_max_idle_per_host: 16,
            min_lead_days: 1,
            retry_days: 3,
            rate_limits: RateLimits::default(),
            simulator: SimulatorSettings::default(),
        }
    }
}

impl VippsSettings {
    /// The base URL the client should use: the simulator's public URL in simulator mode,
    /// `base_url` in live mode.
    pub fn effective_base_url(&self) -> &str {
        match self.mode {
            VippsMode::Simulator => &self.simulator.public_base_url,
            VippsMode::Live => &self.base_url,
        }
    }
}

/// Per-operation client-side limits, requests per minute, counted per the scope Vipps
/// documents for that operation (merchant, agreement, or agreement + charge). Defaults are
/// the documented limits; 0 disables throttling for that operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub draft_agreement: u32,
    pub list_agreements: u32,
    pub fetch_agreement: u32,
    pub update_agreement: u32,
    pub create_charge: u32,
    pub list_charges: u32,
    pub fetch_charge: u32,
    pub fetch_charge_by_id: u32,
    pub cancel_charge: u32,
    pub capture_charge: u32,
    pub refund_charge: u32,
    /// Charge creation per merchant, single and batch calls together.
    pub create_charge_per_merchant: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        let d = |op: Operation| op.documented_limit_per_minute().unwrap_or(0);
        Self {
            draft_agreement: d(Operation::DraftAgreement),
            list_agreements: d(Operation::ListAgreements),
            fetch_agreement: d(Operation::FetchAgreement),
            update_agreement: d(Operation::UpdateAgreement),
            create_charge: d(Operation::CreateCharge),
            list_charges: d(Operation::ListCharges),
            fetch_charge: d(Operation::FetchCharge),
            fetch_charge_by_id: d(Operation::FetchChargeById),
            cancel_charge: d(Operation::CancelCharge),
            capture_charge: d(Operation::CaptureCharge),
            refund_charge: d(Operation::RefundCharge),
            create_charge_per_merchant: MerchantPool::ChargeCreation.documented_limit_per_minute(),
        }
    }
}

impl RateLimits {
    /// No throttling at all (tests, benchmarks against the simulator).
    pub fn unlimited() -> Self {
        Self {
            draft_agreement: 0,
            list_agreements: 0,
            fetch_agreement: 0,
            update_agreement: 0,
            create_charge: 0,
            list_charges: 0,
            fetch_charge: 0,
            fetch_charge_by_id: 0,
            cancel_charge: 0,
            capture_charge: 0,
            refund_charge: 0,
            create_charge_per_merchant: 0,
        }
    }

    /// The configured limit for `op`; `None` when unthrottled.
    pub fn per_minute(&self, op: Operation) -> Option<u32> {
        let v = match op {
            Operation::DraftAgreement => self.draft_agreement,
            Operation::ListAgreements => self.list_agreements,
            Operation::FetchAgreement => self.fetch_agreement,
            Operation::UpdateAgreement => self.update_agreement,
            Operation::CreateCharge => self.create_charge,
            Operation::ListCharges => self.list_charges,
            Operation::FetchCharge => self.fetch_charge,
            Operation::FetchChargeById => self.fetch_charge_by_id,
            Operation::CancelCharge => self.cancel_charge,
            Operation::CaptureCharge => self.capture_charge,
            Operation::RefundCharge => self.refund_charge,
            _ => 0,
        };
        (v > 0).then_some(v)
    }

    /// The configured limit of a merchant-wide pool; `None` when unthrottled.
    pub fn pool_per_minute(&self, pool: MerchantPool) -> Option<u32> {
        let v = match pool {
            MerchantPool::ChargeCreation => self.create_charge_per_merchant,
        };
        (v > 0).then_some(v)
    }
}

/// How the simulator's clock moves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SimClockMode {
    /// Real time plus an offset that advancing the clock adds to; due charges and expiries
    /// are processed as time passes (a running service or demo).
    #[default]
    Ticking,
    /// Moves only when advanced or set (tests and benchmarks that control time).
    Frozen,
}

/// Settings of the simulator when it runs inside dialogpay (`mode = "simulator"`) or as
/// `dialogpay vipps-sim`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorSettings {
    /// Public URL of the simulator (including any mount prefix such as `/vipps-sim`); the
    /// client calls it and `vippsConfirmationUrl`/landing forms are built from it.
    pub public_base_url: String,
    /// Minimum days between today and a charge's `due`.
    pub lead_days: u32,
    /// JSON snapshot file keeping the simulator state across restarts.
    pub state_file: Option<String>,
    /// Answer 429 when the documented per-endpoint limits are exceeded.
    pub rate_limit: bool,
    /// First webhook redelivery delay; doubles per attempt.
    pub webhook_retry_base_ms: u64,
    /// Give up a webhook delivery after this many attempts.
    pub webhook_max_attempts: u32,
    /// Honour `Idempotency-Key` on draft-agreement. `false` mimics what the WooCommerce
    /// plugin reports of real Vipps (a retried draft creates a second agreement).
    pub draft_idempotency: bool,
    /// `ticking` (real time plus an offset) or `frozen` (moves only when told).
    pub clock: SimClockMode,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        Self {
            public_base_url: "http://127.0.0.1:8099".into(),
            lead_days: 1,
            state_file: None,
            rate_limit: false,
            webhook_retry_base_ms: 1_000,
            webhook_max_attempts: 12,
            draft_idempotency: true,
            clock: SimClockMode::Ticking,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn empty_section_gives_defaults() {
        let s: VippsSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s.mode, VippsMode::Simulator);
        assert_eq!(s.base_url, "https://apitest.vipps.no");
        assert_eq!(s.timeout_ms, 10_000);
        assert_eq!(s.min_lead_days, 1);
        assert_eq!(s.rate_limits.create_charge, 2);
        assert_eq!(s.rate_limits.fetch_agreement, 120);
        assert_eq!(s.effective_base_url(), "http://127.0.0.1:8099");
    }

    #[test]
    fn unknown_keys_fail_and_secrets_stay_hidden() {
        assert!(serde_json::from_str::<VippsSettings>(r#"{"base_urll":"x"}"#).is_err());
        let s: VippsSettings = serde_json::from_str(
            r#"{"mode":"live","client_secret":"hunter2","rate_limits":{"create_charge":0}}"#,
        )
        .unwrap();
        assert_eq!(s.client_secret.expose_secret(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.rate_limits.per_minute(Operation::CreateCharge), None);
        assert_eq!(s.effective_base_url(), "https://apitest.vipps.no");
    }
}
