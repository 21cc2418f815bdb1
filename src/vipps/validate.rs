//! The documented request limits, checked by the client before sending and by the simulator
//! on receipt, so both reject the same things with the same field names.

use std::fmt;

use super::wire::{
    AgreementPatch, AgreementStatus, BatchChargeItem, Campaign, CampaignType, CaptureRequest,
    CreateChargeRequest, DraftAgreementRequest, InitialCharge, IntervalUpdateType, Ore,
    PricingType, RefundRequest, RegisterWebhookRequest, TimePeriod,
};

/// Minimum amount of any charge, price, capture or refund (øre).
pub const MIN_AMOUNT: Ore = 100;
/// VARIABLE `suggestedMaxAmount` ceiling for NOK.
pub const MAX_SUGGESTED_NOK: Ore = 2_000_000;
pub const PRODUCT_NAME_MAX: usize = 45;
pub const PRODUCT_DESCRIPTION_MAX: usize = 100;
pub const CHARGE_DESCRIPTION_MAX: usize = 45;
pub const ORDER_ID_MAX: usize = 50;
pub const EXTERNAL_ID_MAX: usize = 64;
pub const URL_MAX: usize = 1024;
pub const RETRY_DAYS_MAX: u32 = 14;
pub const PHONE_MAX: usize = 15;

/// One rejected field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path in camelCase, e.g. `initialCharge.description`.
    pub field: String,
    pub reason: String,
}

/// All the fields a request got wrong.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Whether `field` is among the errors.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Collects field errors.
#[derive(Default)]
struct Check(Vec<FieldError>);

impl Check {
    fn fail(&mut self, field: &str, reason: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            reason: reason.into(),
        });
    }

    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min {
            self.fail(field, "must not be empty");
        } else if n > max {
            self.fail(field, format!("must be at most {max} characters (got {n})"));
        }
    }

    fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, 1, max);
        }
    }

    fn amount(&mut self, field: &str, value: Ore) {
        if value < MIN_AMOUNT {
            self.fail(
                field,
                format!("must be at least {MIN_AMOUNT} (minor units)"),
            );
        }
        if value > Ore::from(i32::MAX) {
            self.fail(field, "must fit in a 32-bit integer");
        }
    }

    fn known(&mut self, field: &str, known: bool, value: &dyn fmt::Display) {
        if !known {
            self.fail(
                field,
                format!("unsupported value {value:?}", value = value.to_string()),
            );
        }
    }

    fn url(&mut self, field: &str, value: &str, https_only: bool) {
        self.text(field, value, 1, URL_MAX);
        // Loopback http is accepted for local development against the simulator; Vipps itself
        // can never reach such a URL, so nothing real is weakened.
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| value.starts_with(p));
        let ok = if https_only {
            value.starts_with("https://") || loopback
        } else {
            value.contains("://")
        };
        if !value.is_empty() && !ok {
            let what = if https_only {
                "an https URL"
            } else {
                "a URL or app deeplink"
            };
            self.fail(field, format!("must be {what}"));
        }
    }

    fn order_id(&mut self, field: &str, value: &str) {
        self.text(field, value, 1, ORDER_ID_MAX);
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            self.fail(field, "may contain only letters A-Z a-z, digits and '-'");
        }
    }

    fn retry_days(&mut self, field: &str, value: u32) {
        if value > RETRY_DAYS_MAX {
            self.fail(field, format!("must be between 0 and {RETRY_DAYS_MAX}"));
        }
    }

    fn period(&mut self, field: &str, p: &TimePeriod) {
        self.known(&format!("{field}.unit"), p.unit.is_known(), &p.unit);
        if !(1..=31).contains(&p.count) {
            self.fail(&format!("{field}.count"), "must be between 1 and 31");
        }
    }

    fn done(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.0))
        }
    }
}

/// `DraftAgreementV3`.
pub fn draft_agreement(r: &DraftAgreementRequest) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    let ptype = r.pricing.effective_type();
    c.known("pricing.type", ptype.is_known(), &ptype);
    c.known(
        "pricing.currency",
        r.pricing.currency.is_known(),
        &r.pricing.currency,
    );
    match ptype {
        PricingType::Legacy => match r.pricing.amount {
            Some(a) => c.amount("pricing.amount", a),
            None => c.fail("pricing.amount", "is required for LEGACY pricing"),
        },
        PricingType::Variable => match r.pricing.suggested_max_amount {
            Some(a) if (MIN_AMOUNT..=MAX_SUGGESTED_NOK).contains(&a) => {}
            Some(_) => c.fail(
                "pricing.suggestedMaxAmount",
                format!("must be between {MIN_AMOUNT} and {MAX_SUGGESTED_NOK}"),
            ),
            None => c.fail(
                "pricing.suggestedMaxAmount",
                "is required for VARIABLE pricing",
            ),
        },
        _ => {}
    }
    c.period("interval", &r.interval);
    c.url("merchantAgreementUrl", &r.merchant_agreement_url, true);
    c.url("merchantRedirectUrl", &r.merchant_redirect_url, false);
    c.text("productName", &r.product_name, 1, PRODUCT_NAME_MAX);
    c.opt_text(
        "productDescription",
        r.product_description.as_deref(),
        PRODUCT_DESCRIPTION_MAX,
    );
    if let Some(p) = &r.phone_number {
        let s = p.as_str();
        if s.is_empty() || s.len() > PHONE_MAX || !s.chars().all(|c| c.is_ascii_digit()) {
            c.fail(
                "phoneNumber",
                format!("must be an MSISDN of 1–{PHONE_MAX} digits"),
            );
        }
    }
    if let Some(ic) = &r.initial_charge {
        initial_charge(&mut c, ic);
    }
    if let Some(camp) = &r.campaign {
        if ptype != PricingType::Legacy {
            c.fail("campaign", "campaigns are only allowed with LEGACY pricing");
        }
        campaign(&mut c, camp);
    }
    c.opt_text("externalId", r.external_id.as_deref(), EXTERNAL_ID_MAX);
    if let Some(cc) = &r.country_code {
        c.known("countryCode", cc.is_known(), cc);
    }
    c.done()
}

fn initial_charge(c: &mut Check, ic: &InitialCharge) {
    c.amount("initialCharge.amount", ic.amount);
    c.text(
        "initialCharge.description",
        &ic.description,
        1,
        CHARGE_DESCRIPTION_MAX,
    );
    c.known(
        "initialCharge.transactionType",
        ic.transaction_type.is_known(),
        &ic.transaction_type,
    );
    if let Some(o) = &ic.order_id {
        c.order_id("initialCharge.orderId", o);
    }
    c.opt_text(
        "initialCharge.externalId",
        ic.external_id.as_deref(),
        EXTERNAL_ID_MAX,
    );
}

fn campaign(c: &mut Check, camp: &Campaign) {
    c.amount("campaign.price", camp.price);
    let missing = |c: &mut Check, f: &str| c.fail(&format!("campaign.{f}"), "is required");
    match camp.campaign_type {
        CampaignType::PriceCampaign if camp.end.is_none() => missing(c, "end"),
        CampaignType::PeriodCampaign => match &camp.period {
            Some(p) => c.period("campaign.period", p),
            None => missing(c, "period"),
        },
        CampaignType::EventCampaign => {
            if camp.event_date.is_none() {
                missing(c, "eventDate");
            }
            if camp.event_text.as_deref().is_none_or(str::is_empty) {
                missing(c, "eventText");
            }
        }
        CampaignType::FullFlexCampaign if camp.interval.is_none() || camp.end.is_none() => {
            missing(c, "interval");
        }
        CampaignType::LegacyCampaign | CampaignType::Unknown(_) => c.fail(
            "campaign.type",
            format!("unsupported value {:?}", camp.campaign_type.as_str()),
        ),
        _ => {}
    }
}

/// `PatchAgreementV3`.
pub fn agreement_patch(p: &AgreementPatch) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    c.opt_text("productName", p.product_name.as_deref(), PRODUCT_NAME_MAX);
    c.opt_text(
        "productDescription",
        p.product_description.as_deref(),
        PRODUCT_DESCRIPTION_MAX,
    );
    if let Some(u) = &p.merchant_agreement_url {
        c.url("merchantAgreementUrl", u, true);
    }
    c.opt_text("externalId", p.external_id.as_deref(), EXTERNAL_ID_MAX);
    if let Some(s) = &p.status {
        if *s != AgreementStatus::Stopped {
            c.fail("status", "the only allowed value is STOPPED");
        } else if !p.is_status_only() {
            c.fail("status", "STOPPED must be sent alone");
        }
    }
    if let Some(pr) = &p.pricing {
        if let Some(a) = pr.amount {
            c.amount("pricing.amount", a);
        }
        if let Some(a) = pr.suggested_max_amount
            && !(MIN_AMOUNT..=MAX_SUGGESTED_NOK).contains(&a)
        {
            c.fail(
                "pricing.suggestedMaxAmount",
                format!("must be between {MIN_AMOUNT} and {MAX_SUGGESTED_NOK}"),
            );
        }
    }
    if let Some(i) = &p.interval {
        let t = i
            .interval_type
            .clone()
            .unwrap_or(IntervalUpdateType::Recurring);
        c.known("interval.type", t.is_known(), &t);
        match (&t, &i.period) {
            (IntervalUpdateType::Recurring, Some(period)) => c.period("interval.period", period),
            (IntervalUpdateType::Recurring, None) => {
                c.fail("interval.period", "is required when type is RECURRING");
            }
            _ => {}
        }
    }
    if *p == AgreementPatch::default() {
        c.fail("body", "nothing to update");
    }
    c.done()
}

/// `CreateChargeV3` (the date rules need a clock and live in the simulator).
pub fn create_charge(r: &CreateChargeRequest) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    charge_fields(
        &mut c,
        r.amount,
        &r.description,
        r.retry_days,
        r.order_id.as_deref(),
        r.external_id.as_deref(),
    );
    c.known(
        "transactionType",
        r.transaction_type.is_known(),
        &r.transaction_type,
    );
    if let Some(t) = &r.charge_type {
        c.known("type", t.is_known(), t);
    }
    if let Some(m) = &r.processing_mode {
        c.known("processingMode", m.is_known(), m);
        if *m == super::wire::ProcessingMode::SingleAttempt && r.retry_days != 0 {
            c.fail("processingMode", "SINGLE_ATTEMPT requires retryDays 0");
        }
    }
    c.done()
}

fn charge_fields(
    c: &mut Check,
    amount: Ore,
    description: &str,
    retry_days: u32,
    order_id: Option<&str>,
    external_id: Option<&str>,
) {
    c.amount("amount", amount);
    c.text("description", description, 1, CHARGE_DESCRIPTION_MAX);
    c.retry_days("retryDays", retry_days);
    if let Some(o) = order_id {
        c.order_id("orderId", o);
    }
    c.opt_text("externalId", external_id, EXTERNAL_ID_MAX);
}

/// One `CreateChargeAsyncV3` item.
pub fn batch_item(r: &BatchChargeItem) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    charge_fields(
        &mut c,
        r.amount,
        &r.description,
        r.retry_days,
        Some(&r.order_id),
        r.external_id.as_deref(),
    );
    c.known(
        "transactionType",
        r.transaction_type.is_known(),
        &r.transaction_type,
    );
    if !is_path_id(&r.agreement_id) {
        c.fail("agreementId", "is not a valid agreement id");
    }
    c.done()
}

/// `CaptureRequestV3`.
pub fn capture(r: &CaptureRequest) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    c.amount("amount", r.amount);
    c.text("description", &r.description, 1, PRODUCT_DESCRIPTION_MAX);
    c.done()
}

/// `RefundRequest`.
pub fn refund(r: &RefundRequest) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    c.amount("amount", r.amount);
    c.text("description", &r.description, 1, PRODUCT_DESCRIPTION_MAX);
    c.done()
}

/// `RegisterRequest`.
pub fn register_webhook(r: &RegisterWebhookRequest) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    c.url("url", &r.url, false);
    if !(r.url.starts_with("https://") || r.url.starts_with("http://")) {
        c.fail("url", "must be an http(s) URL");
    }
    if r.events.is_empty() {
        c.fail("events", "must not be empty");
    }
    c.done()
}

/// Merchant serial number: 4–6 digits (access-token spec pattern `^[0-9]{4,6}$`).
pub fn msn(value: &str) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    if !(4..=6).contains(&value.len()) || !value.chars().all(|c| c.is_ascii_digit()) {
        c.fail("Merchant-Serial-Number", "must be 4–6 digits");
    }
    c.done()
}

/// An id that is safe to put in a path segment (`agr_5kSeqz`, `chr-123ab`, a uuid).
pub fn is_path_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Path-id check returning a field error.
pub fn path_id(field: &str, value: &str) -> Result<(), ValidationErrors> {
    let mut c = Check::default();
    if !is_path_id(value) {
        c.fail(field, "must be 1–64 characters of A-Z a-z 0-9 '-' '_'");
    }
    c.done()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::vipps::wire::{
        Currency, IntervalUnit, PhoneNumber, PricingRequest, PricingUpdate, TransactionType,
    };
    use chrono::NaiveDate;

    /// A valid draft request (the client's tests use it too).
    pub(crate) fn draft() -> DraftAgreementRequest {
        DraftAgreementRequest {
            pricing: PricingRequest::legacy_nok(9900),
            interval: TimePeriod::new(IntervalUnit::Month, 1),
            merchant_agreement_url: "https://example.com/a".into(),
            merchant_redirect_url: "https://example.com/r".into(),
            product_name: "Support".into(),
            product_description: Some("Monthly support".into()),
            phone_number: Some(PhoneNumber::new("4791234567")),
            initial_charge: Some(InitialCharge {
                amount: 9900,
                description: "First month".into(),
                transaction_type: TransactionType::DirectCapture,
                order_id: Some("dp-123-init".into()),
                external_id: None,
            }),
            campaign: None,
            external_id: None,
            country_code: None,
            scope: None,
            is_app: None,
            skip_landing_page: None,
        }
    }

    /// A valid charge request (the client's tests use it too).
    pub(crate) fn charge() -> CreateChargeRequest {
        CreateChargeRequest {
            amount: 9900,
            transaction_type: TransactionType::DirectCapture,
            description: "May".into(),
            due: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            retry_days: 3,
            order_id: Some("dp-1-2030-01".into()),
            external_id: None,
            charge_type: None,
            processing_mode: None,
        }
    }

    #[test]
    fn valid_requests_pass() {
        assert_eq!(draft_agreement(&draft()), Ok(()));
        assert_eq!(create_charge(&charge()), Ok(()));
        assert_eq!(agreement_patch(&AgreementPatch::stop()), Ok(()));
        assert_eq!(agreement_patch(&AgreementPatch::price(100)), Ok(()));
    }

    #[test]
    fn draft_limits_are_enforced_per_field() {
        let mut d = draft();
        d.product_name = "x".repeat(46);
        d.product_description = Some("y".repeat(101));
        d.pricing.amount = Some(99);
        d.merchant_agreement_url = "http://example.com".into();
        d.interval.count = 0;
        d.phone_number = Some(PhoneNumber::new("+47 912"));
        let ic = d.initial_charge.as_mut().unwrap();
        ic.description = "z".repeat(46);
        ic.order_id = Some("has space".into());
        let e = draft_agreement(&d).unwrap_err();
        for f in [
            "productName",
            "productDescription",
            "pricing.amount",
            "merchantAgreementUrl",
            "interval.count",
            "phoneNumber",
            "initialCharge.description",
            "initialCharge.orderId",
        ] {
            assert!(e.has(f), "{f} missing from {e}");
        }
        assert!(e.to_string().contains("at most 45"));
    }

    #[test]
    fn pricing_rules() {
        let mut d = draft();
        d.pricing = PricingRequest::variable_nok(2_000_001);
        assert!(
            draft_agreement(&d)
                .unwrap_err()
                .has("pricing.suggestedMaxAmount")
        );
        d.pricing = PricingRequest {
            pricing_type: None,
            currency: Currency::Unknown("SEK".into()),
            amount: None,
            suggested_max_amount: None,
        };
        let e = draft_agreement(&d).unwrap_err();
        assert!(e.has("pricing.currency") && e.has("pricing.amount"));
    }

    #[test]
    fn charge_limits() {
        let mut c = charge();
        c.amount = 99;
        c.description = String::new();
        c.retry_days = 15;
        c.order_id = Some("a".repeat(51));
        let e = create_charge(&c).unwrap_err();
        for f in ["amount", "description", "retryDays", "orderId"] {
            assert!(e.has(f), "{f}");
        }
        let mut c = charge();
        c.description = "d".repeat(46);
        c.order_id = Some("ok_not".into());
        let e = create_charge(&c).unwrap_err();
        assert!(e.has("description") && e.has("orderId"));
    }

    #[test]
    fn patch_rules() {
        let mut p = AgreementPatch::stop();
        p.product_name = Some("n".into());
        assert!(agreement_patch(&p).unwrap_err().has("status"));
        let p = AgreementPatch {
            status: Some(AgreementStatus::Active),
            ..AgreementPatch::default()
        };
        assert!(agreement_patch(&p).unwrap_err().has("status"));
        assert!(agreement_patch(&AgreementPatch::default()).is_err());
        let p = AgreementPatch {
            pricing: Some(PricingUpdate {
                amount: Some(50),
                suggested_max_amount: None,
            }),
            ..AgreementPatch::default()
        };
        assert!(agreement_patch(&p).unwrap_err().has("pricing.amount"));
    }

    #[test]
    fn ids_and_msn() {
        assert!(msn("123456").is_ok());
        assert!(msn("12a456").is_err() && msn("123").is_err() && msn("1234567").is_err());
        assert!(is_path_id("agr_5kSeqz") && is_path_id("chr-123ab"));
        assert!(!is_path_id("../x") && !is_path_id("a/b") && !is_path_id(""));
    }
}
