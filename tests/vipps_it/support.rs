//! Test environment: a simulator on 127.0.0.1:0 and a client pointed at it.

use chrono::{DateTime, Days, NaiveDate, Utc};
use dialogpay::vipps::settings::{RateLimits, SimClockMode};
use dialogpay::vipps::sim::{SimConfig, Simulator};
use dialogpay::vipps::wire::{
    CreateChargeRequest, DraftAgreementRequest, InitialCharge, IntervalUnit, PhoneNumber,
    PricingRequest, TimePeriod, TransactionType,
};
use dialogpay::vipps::{IdempotencyKey, VippsClient, VippsSettings};
use secrecy::SecretString;

pub const MSN: &str = "123456";
pub const PHONE: &str = "4791234567";

pub fn start() -> DateTime<Utc> {
    "2026-12-01T09:00:00Z".parse().unwrap()
}

pub struct Env {
    pub sim: Simulator,
    pub client: VippsClient,
    pub base: String,
    pub http: reqwest::Client,
}

pub fn settings() -> VippsSettings {
    VippsSettings {
        client_id: "client-id".into(),
        client_secret: SecretString::from("client-secret"),
        subscription_key: SecretString::from("sub-key"),
        plugin_name: "dialogpay-tests".into(),
        plugin_version: "1.0.0".into(),
        timeout_ms: 2_000,
        rate_limits: RateLimits::unlimited(),
        ..VippsSettings::default()
    }
}

pub fn config() -> SimConfig {
    SimConfig {
        start: Some(start()),
        webhook_retry_base: std::time::Duration::from_millis(20),
        clock: SimClockMode::Frozen,
        ..SimConfig::default()
    }
}

pub async fn env() -> Env {
    env_with(config()).await
}

pub async fn env_with(cfg: SimConfig) -> Env {
    let sim = Simulator::new(cfg).unwrap();
    sim.spawn("127.0.0.1:0").await.unwrap();
    let base = sim.public_base_url();
    let client = VippsClient::with_base_url(&settings(), &base).unwrap();
    Env {
        sim,
        client,
        base,
        http: reqwest::Client::new(),
    }
}

pub fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::new(s).unwrap()
}

pub fn draft(amount: i64) -> DraftAgreementRequest {
    DraftAgreementRequest {
        pricing: PricingRequest::legacy_nok(amount),
        interval: TimePeriod::new(IntervalUnit::Month, 1),
        merchant_agreement_url: "https://dialogpay.example/agreements".into(),
        merchant_redirect_url: "https://dialogpay.example/thanks".into(),
        product_name: "Monthly support".into(),
        product_description: Some("Support the club every month".into()),
        phone_number: Some(PhoneNumber::new(PHONE)),
        initial_charge: Some(InitialCharge {
            amount,
            description: "First month".into(),
            transaction_type: TransactionType::DirectCapture,
            order_id: None,
            external_id: None,
        }),
        campaign: None,
        external_id: Some("dp-agreement-1".into()),
        country_code: None,
        scope: None,
        is_app: None,
        skip_landing_page: None,
    }
}

/// The simulator's "today" in Norway.
pub fn today(env: &Env) -> NaiveDate {
    dialogpay::vipps::sim::engine::oslo_date(env.sim.now())
}

pub fn days_from_today(env: &Env, n: u64) -> NaiveDate {
    today(env) + Days::new(n)
}

pub fn charge(due: NaiveDate, amount: i64) -> CreateChargeRequest {
    CreateChargeRequest {
        amount,
        transaction_type: TransactionType::DirectCapture,
        description: "Monthly support".into(),
        due,
        retry_days: 3,
        order_id: None,
        external_id: None,
        charge_type: None,
        processing_mode: None,
    }
}

/// Drafts and approves an agreement; returns its id.
pub async fn active_agreement(env: &Env, amount: i64, k: &str) -> String {
    let d = env
        .client
        .draft_agreement(MSN, &draft(amount), key(k))
        .await
        .unwrap();
    env.sim.approve(&d.agreement_id, None).unwrap();
    d.agreement_id
}

/// Requests the simulator received for `operation`.
pub fn requests_for(env: &Env, operation: &str) -> Vec<dialogpay::vipps::sim::RecordedRequest> {
    env.sim
        .requests()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some(operation))
        .collect()
}
