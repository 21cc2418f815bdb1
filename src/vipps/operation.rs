//! The catalogue of API operations the client calls, with the rate limits Vipps documents
//! for each and the scope each limit is counted per. Shared by the client-side throttle and
//! the simulator's optional rate limiting.

use std::fmt;

/// One API operation (the spec's operationId, more or less).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    AccessToken,
    DraftAgreement,
    ListAgreements,
    FetchAgreement,
    UpdateAgreement,
    ForceAcceptAgreement,
    CreateCharge,
    CreateChargesBatch,
    ListCharges,
    FetchCharge,
    FetchChargeById,
    CancelCharge,
    CaptureCharge,
    RefundCharge,
    RegisterWebhook,
    ListWebhooks,
    DeleteWebhook,
}

/// What a documented rate limit is counted per (besides the merchant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// Per merchant serial number.
    Merchant,
    /// Per agreement.
    Agreement,
    /// Per agreement and charge (for creation: the idempotency key stands in for the charge).
    Charge,
}

impl Operation {
    /// Stable snake_case name, used in logs and settings.
    pub fn name(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::DraftAgreement => "draft_agreement",
            Self::ListAgreements => "list_agreements",
            Self::FetchAgreement => "fetch_agreement",
            Self::UpdateAgreement => "update_agreement",
            Self::ForceAcceptAgreement => "force_accept_agreement",
            Self::CreateCharge => "create_charge",
            Self::CreateChargesBatch => "create_charges_batch",
            Self::ListCharges => "list_charges",
            Self::FetchCharge => "fetch_charge",
            Self::FetchChargeById => "fetch_charge_by_id",
            Self::CancelCharge => "cancel_charge",
            Self::CaptureCharge => "capture_charge",
            Self::RefundCharge => "refund_charge",
            Self::RegisterWebhook => "register_webhook",
            Self::ListWebhooks => "list_webhooks",
            Self::DeleteWebhook => "delete_webhook",
        }
    }

    /// Documented requests per minute (vipps-recurring.md §10); `None` = no documented limit.
    pub fn documented_limit_per_minute(self) -> Option<u32> {
        match self {
            Self::CreateCharge => Some(2),
            Self::CancelCharge | Self::CaptureCharge | Self::RefundCharge => Some(5),
            Self::ListAgreements | Self::UpdateAgreement => Some(5),
            Self::FetchCharge | Self::ListCharges => Some(10),
            Self::FetchChargeById => Some(100),
            Self::FetchAgreement => Some(120),
            Self::DraftAgreement => Some(300),
            _ => None,
        }
    }

    /// The merchant-wide allowance this operation shares with others, if any: newer docs limit
    /// charge creation, single and batch calls together, to 500 requests a minute per merchant
    /// (vipps-recurring.md §10), on top of each operation's own limit.
    pub fn merchant_pool(self) -> Option<MerchantPool> {
        matches!(self, Self::CreateCharge | Self::CreateChargesBatch)
            .then_some(MerchantPool::ChargeCreation)
    }

    /// What the documented limit is counted per.
    pub fn limit_scope(self) -> LimitScope {
        match self {
            Self::CreateCharge
            | Self::CancelCharge
            | Self::CaptureCharge
            | Self::RefundCharge
            | Self::FetchCharge => LimitScope::Charge,
            Self::UpdateAgreement | Self::ListCharges | Self::FetchAgreement => {
                LimitScope::Agreement
            }
            _ => LimitScope::Merchant,
        }
    }

    /// The key a limit is counted under, from the request's ids.
    pub fn limit_key(self, msn: &str, agreement_id: &str, charge_or_key: &str) -> String {
        match self.limit_scope() {
            LimitScope::Merchant => format!("{}|{msn}", self.name()),
            LimitScope::Agreement => format!("{}|{msn}|{agreement_id}", self.name()),
            LimitScope::Charge => format!("{}|{msn}|{agreement_id}|{charge_or_key}", self.name()),
        }
    }
}

/// A limit several operations count against together, per merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantPool {
    /// `POST .../agreements/{id}/charges` and `POST .../agreements/charges` (batch).
    ChargeCreation,
}

impl MerchantPool {
    /// Documented requests per minute.
    pub fn documented_limit_per_minute(self) -> u32 {
        match self {
            Self::ChargeCreation => 500,
        }
    }

    /// The key the pool is counted under.
    pub fn limit_key(self, msn: &str) -> String {
        match self {
            Self::ChargeCreation => format!("charge_creation|{msn}"),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
