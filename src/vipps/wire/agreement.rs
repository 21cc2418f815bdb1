//! Agreement bodies: draft, fetch, patch, force-accept.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ore, PhoneNumber, TransactionType};

wire_enum!(
    /// `AgreementStatus`.
    AgreementStatus {
        Pending => "PENDING",
        Active => "ACTIVE",
        Stopped => "STOPPED",
        Expired => "EXPIRED",
    }
);

wire_enum!(
    /// `TimePeriod.unit`.
    IntervalUnit {
        Year => "YEAR",
        Month => "MONTH",
        Week => "WEEK",
        Day => "DAY",
    }
);

wire_enum!(
    /// `pricing.type`.
    PricingType {
        Legacy => "LEGACY",
        Variable => "VARIABLE",
        Flexible => "FLEXIBLE",
    }
);

wire_enum!(
    /// `CurrencyV3`.
    Currency {
        Nok => "NOK",
        Dkk => "DKK",
        Eur => "EUR",
    }
);

wire_enum!(
    /// `campaign.type`.
    CampaignType {
        PriceCampaign => "PRICE_CAMPAIGN",
        PeriodCampaign => "PERIOD_CAMPAIGN",
        EventCampaign => "EVENT_CAMPAIGN",
        FullFlexCampaign => "FULL_FLEX_CAMPAIGN",
        LegacyCampaign => "LEGACY_CAMPAIGN",
    }
);

wire_enum!(
    /// `countryCode`.
    CountryCode {
        No => "NO",
        Dk => "DK",
        Fi => "FI",
    }
);

wire_enum!(
    /// `PatchAgreementV3.interval.type`.
    IntervalUpdateType {
        Recurring => "RECURRING",
        Flexible => "FLEXIBLE",
    }
);

/// `TimePeriod`: `count` units (1–31).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimePeriod {
    pub unit: IntervalUnit,
    pub count: u32,
}

impl TimePeriod {
    pub fn new(unit: IntervalUnit, count: u32) -> Self {
        Self { unit, count }
    }
}

/// `TimePeriodResponse`: the period plus the app's text ("every 2 months").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimePeriodResponse {
    pub unit: IntervalUnit,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `pricingRequest` (flat: which amount field is used depends on `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PricingRequest {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub pricing_type: Option<PricingType>,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_max_amount: Option<Ore>,
}

impl PricingRequest {
    /// LEGACY pricing: a fixed price per interval, NOK.
    pub fn legacy_nok(amount: Ore) -> Self {
        Self {
            pricing_type: Some(PricingType::Legacy),
            currency: Currency::Nok,
            amount: Some(amount),
            suggested_max_amount: None,
        }
    }

    /// VARIABLE pricing, NOK.
    pub fn variable_nok(suggested_max_amount: Ore) -> Self {
        Self {
            pricing_type: Some(PricingType::Variable),
            currency: Currency::Nok,
            amount: None,
            suggested_max_amount: Some(suggested_max_amount),
        }
    }

    /// The pricing type, LEGACY when omitted.
    pub fn effective_type(&self) -> PricingType {
        self.pricing_type.clone().unwrap_or(PricingType::Legacy)
    }
}

/// `pricingResponse` (LEGACY: `amount`; VARIABLE: `suggestedMaxAmount` + `maxAmount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingResponse {
    #[serde(rename = "type")]
    pub pricing_type: PricingType,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_max_amount: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Ore>,
}

/// `campaignV3` / `campaignResponseV3` (flat; required fields depend on `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    #[serde(rename = "type")]
    pub campaign_type: CampaignType,
    pub price: Ore,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<TimePeriod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<TimePeriod>,
    /// Response only: the text shown in the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// `InitialChargeV3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitialCharge {
    pub amount: Ore,
    pub description: String,
    pub transaction_type: TransactionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// `DraftAgreementV3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftAgreementRequest {
    pub pricing: PricingRequest,
    pub interval: TimePeriod,
    pub merchant_agreement_url: String,
    pub merchant_redirect_url: String,
    pub product_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<PhoneNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_charge: Option<InitialCharge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<Campaign>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<CountryCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_app: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_landing_page: Option<bool>,
}

/// `DraftAgreementResponseV3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftAgreementResponse {
    pub agreement_id: String,
    pub uuid: String,
    #[serde(default)]
    pub vipps_confirmation_url: Option<String>,
    #[serde(default)]
    pub charge_id: Option<String>,
}

/// `AgreementResponseV3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementResponse {
    pub id: String,
    #[serde(default)]
    pub uuid: Option<String>,
    pub status: AgreementStatus,
    pub pricing: PricingResponse,
    pub interval: TimePeriodResponse,
    pub product_name: String,
    #[serde(default)]
    pub product_description: Option<String>,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub stop: Option<DateTime<Utc>>,
    #[serde(default)]
    pub campaign: Option<Campaign>,
    #[serde(default)]
    pub merchant_agreement_url: Option<String>,
    #[serde(default)]
    pub merchant_redirect_url: Option<String>,
    #[serde(default)]
    pub country_code: Option<CountryCode>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub userinfo_url: Option<String>,
    #[serde(default)]
    pub vipps_confirmation_url: Option<String>,
}

/// `PricingUpdateRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PricingUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Ore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_max_amount: Option<Ore>,
}

/// `PatchAgreementV3.interval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntervalUpdate {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub interval_type: Option<IntervalUpdateType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<TimePeriod>,
}

/// `PatchAgreementV3`: every field optional; `status` may only be `STOPPED`, and alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgreementPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_agreement_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgreementStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<PricingUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalUpdate>,
}

impl AgreementPatch {
    /// `{"status":"STOPPED"}`.
    pub fn stop() -> Self {
        Self {
            status: Some(AgreementStatus::Stopped),
            ..Self::default()
        }
    }

    /// `{"pricing":{"amount":N}}` (LEGACY agreements).
    pub fn price(amount: Ore) -> Self {
        Self {
            pricing: Some(PricingUpdate {
                amount: Some(amount),
                suggested_max_amount: None,
            }),
            ..Self::default()
        }
    }

    /// True when nothing but `status` is set.
    pub fn is_status_only(&self) -> bool {
        let other = Self {
            status: None,
            ..self.clone()
        };
        other == Self::default()
    }
}

/// `ForceAcceptAgreementV3` (test environment only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForceAcceptRequest {
    pub phone_number: PhoneNumber,
}

/// Query of `GET /recurring/v3/agreements`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListAgreementsQuery {
    /// Without a status Vipps returns only ACTIVE agreements.
    pub status: Option<AgreementStatus>,
    /// Epoch milliseconds.
    pub created_after: Option<i64>,
}
