//! The simulator's persisted state: agreements with their charges, webhook registrations and
//! their outbox, idempotency records, issued tokens, user funding, and the clock.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::vipps::wire::{
    AgreementResponse, AgreementStatus, ChargeEventKind, ChargeHistoryEvent, ChargeResponse,
    ChargeStatus, ChargeSummary, ChargeType, CountryCode, Currency, DraftAgreementRequest,
    FailureReason, IntervalUnit, Ore, PricingResponse, PricingType, TimePeriod, TimePeriodResponse,
    TransactionType,
};

/// Everything the simulator remembers (and writes to `--state FILE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The simulator clock: how far time-driven rules (expiries, charges) have been applied.
    /// A frozen clock moves only when told; a ticking one follows real time plus
    /// [`offset_ms`](Self::offset_ms).
    pub now: DateTime<Utc>,
    /// Ticking clock: simulator time minus real time, in milliseconds (what advancing adds
    /// to, and what a restart goes on from). Unused by a frozen clock.
    #[serde(default)]
    pub offset_ms: i64,
    /// Agreements by id.
    pub agreements: BTreeMap<String, SimAgreement>,
    /// `msn|chargeId` → agreement id (charge ids are unique per merchant).
    pub charge_index: HashMap<String, String>,
    /// `msn|METHOD path|key` → first answer.
    pub idempotency: HashMap<String, IdempotencyRecord>,
    /// Issued access tokens → expiry (simulator time).
    pub tokens: HashMap<String, DateTime<Utc>>,
    pub webhooks: Vec<WebhookRegistration>,
    /// Deliveries not yet acknowledged, in order.
    pub outbox: Vec<PendingDelivery>,
    /// Phone → can pay. Absent = can pay.
    pub funding: HashMap<String, bool>,
    /// Counter for ids of deliveries and transactions.
    pub seq: u64,
}

impl State {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            offset_ms: 0,
            agreements: BTreeMap::new(),
            charge_index: HashMap::new(),
            idempotency: HashMap::new(),
            tokens: HashMap::new(),
            webhooks: Vec::new(),
            outbox: Vec::new(),
            funding: HashMap::new(),
            seq: 0,
        }
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn charge_key(msn: &str, charge_id: &str) -> String {
        format!("{msn}|{charge_id}")
    }

    /// Whether the user with `phone` can pay right now.
    pub fn can_pay(&self, phone: Option<&str>) -> bool {
        phone.is_none_or(|p| self.funding.get(p).copied().unwrap_or(true))
    }
}

/// An agreement as the simulator keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimAgreement {
    pub msn: String,
    pub id: String,
    pub uuid: String,
    pub status: AgreementStatus,
    pub created: DateTime<Utc>,
    pub start: Option<DateTime<Utc>>,
    pub stop: Option<DateTime<Utc>>,
    pub phone_number: Option<String>,
    /// The draft as received (names, urls, interval, pricing, campaign, external id).
    pub draft: DraftAgreementRequest,
    /// Current interval (PATCH may change it).
    pub interval: TimePeriod,
    /// Current LEGACY price.
    pub amount: Option<Ore>,
    /// Current VARIABLE suggested max and the user's max.
    pub suggested_max_amount: Option<Ore>,
    pub max_amount: Option<Ore>,
    pub initial_charge_id: Option<String>,
    pub confirmation_url: String,
    pub charges: Vec<SimCharge>,
}

impl SimAgreement {
    pub fn pricing_type(&self) -> PricingType {
        self.draft.pricing.effective_type()
    }

    pub fn charge(&self, id: &str) -> Option<&SimCharge> {
        self.charges.iter().find(|c| c.id == id)
    }

    pub fn charge_mut(&mut self, id: &str) -> Option<&mut SimCharge> {
        self.charges.iter_mut().find(|c| c.id == id)
    }

    /// `AgreementResponseV3`.
    pub fn to_wire(&self) -> AgreementResponse {
        let d = &self.draft;
        AgreementResponse {
            id: self.id.clone(),
            uuid: Some(self.uuid.clone()),
            status: self.status.clone(),
            pricing: PricingResponse {
                pricing_type: self.pricing_type(),
                currency: d.pricing.currency.clone(),
                amount: self.amount,
                suggested_max_amount: self.suggested_max_amount,
                max_amount: self.max_amount,
            },
            interval: TimePeriodResponse {
                unit: self.interval.unit.clone(),
                count: self.interval.count,
                text: Some(interval_text(&self.interval)),
            },
            product_name: d.product_name.clone(),
            product_description: d.product_description.clone(),
            created: self.created,
            start: self.start,
            stop: self.stop,
            campaign: d.campaign.clone().map(|mut c| {
                c.explanation = Some(format!("Campaign price {} øre", c.price));
                c
            }),
            merchant_agreement_url: Some(d.merchant_agreement_url.clone()),
            merchant_redirect_url: Some(d.merchant_redirect_url.clone()),
            country_code: Some(d.country_code.clone().unwrap_or(CountryCode::No)),
            external_id: d.external_id.clone(),
            sub: None,
            userinfo_url: None,
            vipps_confirmation_url: Some(self.confirmation_url.clone()),
        }
    }
}

/// "every month", "every 2 weeks".
pub fn interval_text(p: &TimePeriod) -> String {
    let unit = match p.unit {
        IntervalUnit::Year => "year",
        IntervalUnit::Month => "month",
        IntervalUnit::Week => "week",
        IntervalUnit::Day => "day",
        IntervalUnit::Unknown(_) => "period",
    };
    if p.count == 1 {
        format!("every {unit}")
    } else {
        format!("every {} {unit}s", p.count)
    }
}

/// A charge as the simulator keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimCharge {
    pub id: String,
    pub agreement_id: String,
    pub amount: Ore,
    pub currency: Currency,
    pub description: String,
    pub due: NaiveDate,
    pub retry_days: u32,
    pub status: ChargeStatus,
    pub charge_type: ChargeType,
    pub transaction_type: TransactionType,
    pub transaction_id: Option<String>,
    pub external_id: Option<String>,
    pub failure_reason: Option<FailureReason>,
    pub failure_description: Option<String>,
    pub captured: Ore,
    pub refunded: Ore,
    pub cancelled: Ore,
    pub reserved_at: Option<DateTime<Utc>>,
    pub captured_at: Option<DateTime<Utc>>,
    /// When the next payment attempt happens (PENDING/DUE only).
    pub next_attempt: Option<DateTime<Utc>>,
    pub history: Vec<ChargeHistoryEvent>,
    /// Refunds and cancels answered 202 Accepted and not applied yet, oldest first.
    #[serde(default)]
    pub accepted: Vec<AcceptedChange>,
}

/// A refund or cancel Vipps answered 202 ("accepted, not yet applied"): it is applied at a
/// later read of the charge or once the clock passes [`apply_at`](Self::apply_at), whichever
/// comes first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedChange {
    pub change: Change,
    /// The request's `Idempotency-Key` (logged in the charge's history when applied).
    pub key: String,
    pub apply_at: DateTime<Utc>,
    /// Reads of the charge (fetch, list) still to come before it is applied; the read that
    /// brings this to zero sees it applied.
    pub reads_left: u32,
}

/// What an [`AcceptedChange`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Refund { amount: Ore },
    Cancel,
}

impl SimCharge {
    /// Øre of refunds accepted (202) and not applied yet.
    pub fn accepted_refunds(&self) -> Ore {
        self.accepted
            .iter()
            .map(|a| match a.change {
                Change::Refund { amount } => amount,
                Change::Cancel => 0,
            })
            .sum()
    }

    /// Money still reserved and neither captured nor cancelled.
    pub fn remaining_reserved(&self) -> Ore {
        if self.reserved_at.is_none() {
            return 0;
        }
        self.amount - self.captured - self.cancelled
    }

    pub fn log(
        &mut self,
        at: DateTime<Utc>,
        event: ChargeEventKind,
        amount: Ore,
        key: Option<&str>,
        success: bool,
    ) {
        self.history.push(ChargeHistoryEvent {
            occurred: at,
            event,
            amount,
            idempotency_key: key.map(str::to_owned),
            success,
        });
    }

    /// `ChargeResponseV3`.
    pub fn to_wire(&self, external_agreement_id: Option<&str>) -> ChargeResponse {
        ChargeResponse {
            id: self.id.clone(),
            agreement_id: self.agreement_id.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            description: self.description.clone(),
            due: self
                .due
                .and_hms_opt(0, 0, 0)
                .map(|d| d.and_utc())
                .unwrap_or_default(),
            status: self.status.clone(),
            charge_type: self.charge_type.clone(),
            transaction_type: self.transaction_type.clone(),
            transaction_id: self.transaction_id.clone(),
            summary: ChargeSummary {
                captured: self.captured,
                refunded: self.refunded,
                cancelled: self.cancelled,
            },
            history: self.history.clone(),
            external_id: self.external_id.clone(),
            external_agreement_id: external_agreement_id.map(str::to_owned),
            retry_days: self.retry_days,
            failure_reason: self.failure_reason.clone(),
            failure_description: self.failure_description.clone(),
        }
    }
}

/// The first answer given for an idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Canonical JSON of the request body (or the raw text).
    pub request: String,
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// A registered webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookRegistration {
    pub id: String,
    pub msn: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
}

/// A delivery waiting to be (re)sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingDelivery {
    pub id: u64,
    pub webhook_id: String,
    pub event_type: String,
    pub body: String,
    pub attempts: u32,
    /// Real time (epoch ms) of the next attempt; `None` = now.
    pub next_attempt_ms: Option<i64>,
}
