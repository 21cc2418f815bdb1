//! Charge bodies: create (single and batch), fetch, capture, refund.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Currency, Ore};

wire_enum!(
    /// `ChargeStatus` (+ `UNKNOWN`, which the guide lists as transient).
    ChargeStatus {
        Pending => "PENDING",
        Due => "DUE",
        Reserved => "RESERVED",
        Charged => "CHARGED",
        PartiallyCaptured => "PARTIALLY_CAPTURED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
        PartiallyRefunded => "PARTIALLY_REFUNDED",
        Refunded => "REFUNDED",
        Processing => "PROCESSING",
    }
);

wire_enum!(
    /// `ChargeType`.
    ChargeType {
        Initial => "INITIAL",
        Recurring => "RECURRING",
        Unscheduled => "UNSCHEDULED",
    }
);

wire_enum!(
    /// `transactionType`.
    TransactionType {
        DirectCapture => "DIRECT_CAPTURE",
        ReserveCapture => "RESERVE_CAPTURE",
    }
);

wire_enum!(
    /// `failureReason`.
    FailureReason {
        UserActionRequired => "user_action_required",
        ChargeAmountTooHigh => "charge_amount_too_high",
        NonTechnicalError => "non_technical_error",
        TechnicalError => "technical_error",
    }
);

wire_enum!(
    /// `ChargeEvent.event`.
    ChargeEventKind {
        Create => "CREATE",
        Reserve => "RESERVE",
        Capture => "CAPTURE",
        Refund => "REFUND",
        Cancel => "CANCEL",
        Fail => "FAIL",
    }
);

wire_enum!(
    /// `processingMode` (2025+, not in the 2023 spec).
    ProcessingMode {
        MultipleAttempts => "MULTIPLE_ATTEMPTS",
        SingleAttempt => "SINGLE_ATTEMPT",
    }
);

/// `CreateChargeV3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateChargeRequest {
    pub amount: Ore,
    pub transaction_type: TransactionType,
    pub description: String,
    /// `YYYY-MM-DD`.
    pub due: NaiveDate,
    pub retry_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<ChargeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_mode: Option<ProcessingMode>,
}

/// `ChargeReference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeReference {
    pub charge_id: String,
}

/// `CreateChargeAsyncV3`: one item of the batch endpoint (`orderId` required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchChargeItem {
    pub agreement_id: String,
    pub amount: Ore,
    pub transaction_type: TransactionType,
    pub description: String,
    pub due: NaiveDate,
    pub retry_days: u32,
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// One rejected item of the batch endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidBatchCharge {
    pub charge_batch_item_dto: serde_json::Value,
    #[serde(default)]
    pub errors: Vec<String>,
}

/// `AsyncChargeResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AsyncChargeResponse {
    #[serde(default)]
    pub valid_charges: Vec<String>,
    #[serde(default)]
    pub invalid_charges: Vec<InvalidBatchCharge>,
}

/// `ChargeSummary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChargeSummary {
    pub captured: Ore,
    pub refunded: Ore,
    pub cancelled: Ore,
}

/// `ChargeEvent`: one entry of a charge's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeHistoryEvent {
    pub occurred: DateTime<Utc>,
    pub event: ChargeEventKind,
    pub amount: Ore,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    pub success: bool,
}

/// `ChargeResponseV3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeResponse {
    pub id: String,
    pub agreement_id: String,
    pub amount: Ore,
    pub currency: Currency,
    pub description: String,
    pub due: DateTime<Utc>,
    pub status: ChargeStatus,
    #[serde(rename = "type")]
    pub charge_type: ChargeType,
    pub transaction_type: TransactionType,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub summary: ChargeSummary,
    #[serde(default)]
    pub history: Vec<ChargeHistoryEvent>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub external_agreement_id: Option<String>,
    #[serde(default)]
    pub retry_days: u32,
    #[serde(default)]
    pub failure_reason: Option<FailureReason>,
    #[serde(default)]
    pub failure_description: Option<String>,
}

/// `CaptureRequestV3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureRequest {
    pub amount: Ore,
    pub description: String,
}

/// `RefundRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundRequest {
    pub amount: Ore,
    pub description: String,
}
