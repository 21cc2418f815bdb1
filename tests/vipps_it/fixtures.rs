//! Hand-written wire fixtures (shapes from the spec and the guide): responses parse, unknown
//! values degrade to `Unknown`, and error bodies of every shape are understood.

use dialogpay::vipps::wire::{
    AgreementResponse, AgreementStatus, CampaignType, ChargeEventKind, ChargeResponse,
    ChargeStatus, ChargeType, DraftAgreementResponse, ErrorBody, FailureReason, PricingType,
    ProblemKind, WebhookList,
};

#[test]
fn agreement_response_legacy_with_campaign() {
    let a: AgreementResponse = serde_json::from_str(
        r#"{
      "id": "agr_5kSeqz", "uuid": "9c2ca95c-245f-4a2e-aab2-4a08eb78e6fb", "status": "ACTIVE",
      "pricing": {"type": "LEGACY", "currency": "NOK", "amount": 49900},
      "interval": {"unit": "MONTH", "count": 1, "text": "every month"},
      "productName": "Premier League subscription", "productDescription": "Access to all games",
      "created": "2019-01-01T00:00:00Z", "start": "2019-01-01T00:00:00Z", "stop": null,
      "campaign": {"type": "PRICE_CAMPAIGN", "price": 100, "end": "2022-01-01T00:00:00Z",
                   "explanation": "Special price until 1 Jan 2022"},
      "merchantRedirectUrl": "https://example.com/redirect",
      "merchantAgreementUrl": "https://example.com/agreement", "countryCode": "NO",
      "sub": null, "userinfoUrl": null, "externalId": "external-id-2468"
    }"#,
    )
    .unwrap();
    assert_eq!(a.status, AgreementStatus::Active);
    assert_eq!(a.pricing.amount, Some(49900));
    let c = a.campaign.unwrap();
    assert_eq!(c.campaign_type, CampaignType::PriceCampaign);
    assert_eq!(
        c.explanation.as_deref(),
        Some("Special price until 1 Jan 2022")
    );
}

#[test]
fn agreement_response_variable_and_unknown_values() {
    let a: AgreementResponse = serde_json::from_str(
        r#"{"id": "agr_1", "status": "PAUSED_SOMEHOW",
      "pricing": {"type": "VARIABLE", "currency": "NOK", "suggestedMaxAmount": 30000, "maxAmount": 25000},
      "interval": {"unit": "FORTNIGHT", "count": 1},
      "productName": "P", "created": "2024-05-01T10:00:00.123Z", "newField": {"x": 1}}"#,
    )
    .unwrap();
    assert_eq!(a.status, AgreementStatus::Unknown("PAUSED_SOMEHOW".into()));
    assert_eq!(a.pricing.pricing_type, PricingType::Variable);
    assert_eq!(a.pricing.max_amount, Some(25000));
    assert!(!a.interval.unit.is_known());
    let flexible: AgreementResponse = serde_json::from_str(
        r#"{"id": "agr_2", "status": "ACTIVE", "pricing": {"type": "FLEXIBLE", "currency": "DKK"},
      "interval": {"unit": "DAY", "count": 1}, "productName": "P", "created": "2025-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(flexible.pricing.pricing_type, PricingType::Flexible);
}

#[test]
fn charge_response_with_history_and_failure() {
    let c: ChargeResponse = serde_json::from_str(
        r#"{
      "id": "chr-WCVbcA", "agreementId": "agr_5kSeqz", "amount": 19900, "currency": "NOK",
      "description": "Premier League subscription: September", "due": "2019-06-01T00:00:00Z",
      "status": "FAILED", "type": "RECURRING", "transactionType": "DIRECT_CAPTURE",
      "transactionId": null, "externalId": null, "retryDays": 5,
      "failureReason": "user_action_required", "failureDescription": "User action required",
      "summary": {"captured": 0, "refunded": 0, "cancelled": 0},
      "history": [
        {"occurred": "2019-06-01T00:00:00Z", "event": "CREATE", "amount": 19900, "idempotencyKey": "k", "success": true},
        {"occurred": "2019-06-06T07:00:00Z", "event": "FAIL", "amount": 19900, "idempotencyKey": "k2", "success": false},
        {"occurred": "2019-06-06T07:00:00Z", "event": "SOMETHING", "amount": 0, "success": true}
      ]}"#,
    )
    .unwrap();
    assert_eq!(c.status, ChargeStatus::Failed);
    assert_eq!(c.charge_type, ChargeType::Recurring);
    assert_eq!(c.failure_reason, Some(FailureReason::UserActionRequired));
    assert_eq!(c.history[1].event, ChargeEventKind::Fail);
    assert!(!c.history[2].event.is_known());
    let unknown: ChargeResponse = serde_json::from_str(
        r#"{"id": "c", "agreementId": "a", "amount": 100, "currency": "NOK", "description": "d",
        "due": "2030-01-01T00:00:00Z", "status": "UNKNOWN", "type": "UNSCHEDULED",
        "transactionType": "DIRECT_CAPTURE", "failureReason": "insufficient_funds"}"#,
    )
    .unwrap();
    assert!(!unknown.status.is_known());
    assert_eq!(unknown.charge_type, ChargeType::Unscheduled);
    assert!(!unknown.failure_reason.unwrap().is_known());
}

#[test]
fn draft_response_and_webhook_list() {
    let d: DraftAgreementResponse = serde_json::from_str(
        r#"{"agreementId": "agr_5kSeqz", "uuid": "9c2ca95c-245f-4a2e-aab2-4a08eb78e6fb",
        "vippsConfirmationUrl": "https://api.vipps.no/v2/register/U6JUjQXq8HQmmV", "chargeId": null}"#,
    )
    .unwrap();
    assert_eq!(d.charge_id, None);
    let w: WebhookList = serde_json::from_str(
        r#"{"webhooks": [{"id": "b3c3a2c5-0f0e-4d0e-9bc7-fb2f5b5a1a5a", "url": "https://example.com/cb",
        "events": ["recurring.charge-captured.v1"]}]}"#,
    )
    .unwrap();
    assert_eq!(w.webhooks[0].events, ["recurring.charge-captured.v1"]);
}

#[test]
fn error_bodies_of_every_shape() {
    let spec23 = br#"{"type": "https://developer.vippsmobilepay.com/docs/APIs/recurring-api/recurring-api-problems#charge-due-too-soon",
        "title": "Bad Request", "status": 400, "detail": "Due is too soon", "instance": "/v3/agreements/agr_1/charges",
        "contextId": "f70b8bf7", "extraDetails": [{"field": "due", "text": "must be at least 1 day ahead"}]}"#;
    let newer = br#"{"type": "https://developer.vippsmobilepay.com/docs/APIs/recurring-api/recurring-api-problems#validation-error",
        "title": "Bad Request", "status": 400, "detail": "Input validation failed", "traceId": "00-ab",
        "extraDetails": [{"name": "productName", "reason": "must not be longer than 45"}]}"#;
    let azure = br#"{"responseInfo": {"responseCode": 429, "responseMessage": "Too Many Requests"},
        "result": {"message": "Rate limit is exceeded. Try again in 12 seconds."}}"#;
    match ErrorBody::parse(spec23) {
        ErrorBody::Problem(p) => {
            assert_eq!(p.kind(), Some(ProblemKind::ChargeDueTooSoon));
            assert_eq!(p.extra_details[0].name.as_deref(), Some("due"));
        }
        other => panic!("{other:?}"),
    }
    match ErrorBody::parse(newer) {
        ErrorBody::Problem(p) => {
            assert_eq!(p.kind(), Some(ProblemKind::ValidationError));
            assert_eq!(
                p.extra_details[0].reason.as_deref(),
                Some("must not be longer than 45")
            );
        }
        other => panic!("{other:?}"),
    }
    match ErrorBody::parse(azure) {
        ErrorBody::Gateway(g) => assert_eq!(g.response_info.response_code, 429),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ErrorBody::parse(b"upstream connect error"),
        ErrorBody::Raw(_)
    ));
}

#[test]
fn batch_response_and_charge_reference() {
    let r: dialogpay::vipps::wire::AsyncChargeResponse = serde_json::from_str(
        r#"{"validCharges": ["order-1"], "invalidCharges": [{"chargeBatchItemDto":
        {"agreementId": "agr_1", "amount": 50, "orderId": "order-2"}, "errors": ["amount must be at least 100"]}]}"#,
    )
    .unwrap();
    assert_eq!(r.valid_charges, ["order-1"]);
    assert_eq!(
        r.invalid_charges[0].errors[0],
        "amount must be at least 100"
    );
    assert_eq!(
        r.invalid_charges[0].charge_batch_item_dto["orderId"],
        "order-2"
    );
    let c: dialogpay::vipps::wire::ChargeReference =
        serde_json::from_str(r#"{"chargeId": "chg_WCVbcAbRCmu2zk"}"#).unwrap();
    assert_eq!(c.charge_id, "chg_WCVbcAbRCmu2zk");
}
