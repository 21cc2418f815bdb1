//! The simulator's rules: what Vipps accepts, how agreements and charges move between
//! statuses, what the clock does, and which webhook events each change emits. Pure state
//! manipulation; no HTTP here.

use chrono::{DateTime, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;
use rand::Rng;
use rand::distributions::Alphanumeric;

use super::accepted;
use super::model::{Change, PendingDelivery, SimAgreement, SimCharge, State};
use crate::vipps::validate;
use crate::vipps::wire::{
    Actor, AgreementPatch, AgreementStatus, AsyncChargeResponse, BatchChargeItem, CaptureRequest,
    ChargeEventKind, ChargeReference, ChargeStatus, ChargeType, CreateChargeRequest,
    DraftAgreementRequest, DraftAgreementResponse, FailureReason, IntervalUnit, InvalidBatchCharge,
    Ore, PricingType, Problem, ProblemKind, RefundRequest, TimePeriod, TransactionType,
    WebhookEvent, event_names as ev,
};

/// Rule settings.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Minimum days from today (Europe/Oslo) to a charge's `due`.
    pub lead_days: u32,
    /// How long a draft stays PENDING.
    pub draft_ttl: chrono::Duration,
    /// Base URL for `vippsConfirmationUrl` (the landing page).
    pub public_base_url: String,
}

/// A rejected request: HTTP status + problem body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub problem: Box<Problem>,
}

impl ApiError {
    pub fn new(status: u16, kind: ProblemKind, detail: impl Into<String>) -> Self {
        let title = match status {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Entity",
            _ => "Error",
        };
        Self {
            status,
            problem: Box::new(Problem::new(kind, status, title, detail)),
        }
    }

    pub fn bad(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self::new(400, kind, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            404,
            ProblemKind::ResourceNotFound,
            format!("{what} not found"),
        )
    }

    /// 400 validation-error with one `extraDetails` item per field.
    pub fn validation(errors: &validate::ValidationErrors) -> Self {
        let mut e = Self::bad(ProblemKind::ValidationError, "Input validation failed");
        e.problem.extra_details = errors
            .0
            .iter()
            .map(|f| crate::vipps::wire::ExtraDetail {
                name: Some(f.field.clone()),
                reason: Some(f.reason.clone()),
            })
            .collect();
        e
    }
}

type Res<T> = Result<T, ApiError>;

/// `len` random ASCII letters and digits.
pub fn random_id(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The calendar date in Norway at `t`.
pub fn oslo_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Oslo).date_naive()
}

/// Midnight (Europe/Oslo) at the start of `d`, in UTC.
pub fn oslo_midnight(d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    Oslo.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

/// `start` plus `n` periods (month ends clamp).
fn add_periods(start: NaiveDate, p: &TimePeriod, n: u32) -> Option<NaiveDate> {
    let k = p.count.checked_mul(n)?;
    match p.unit {
        IntervalUnit::Year => start.checked_add_months(Months::new(k.checked_mul(12)?)),
        IntervalUnit::Month => start.checked_add_months(Months::new(k)),
        IntervalUnit::Week => start.checked_add_days(Days::new(u64::from(k) * 7)),
        _ => start.checked_add_days(Days::new(u64::from(k))),
    }
}

/// Queues `event` for every registration of `msn` that subscribed to it.
pub fn emit(state: &mut State, msn: &str, mut event: WebhookEvent) {
    event.msn = Some(msn.to_owned());
    event.occurred = Some(state.now);
    let body = serde_json::to_string(&event).unwrap_or_default();
    let targets: Vec<String> = state
        .webhooks
        .iter()
        .filter(|w| w.msn == msn && w.events.contains(&event.event_type))
        .map(|w| w.id.clone())
        .collect();
    for webhook_id in targets {
        let id = state.next_seq();
        state.outbox.push(PendingDelivery {
            id,
            webhook_id,
            event_type: event.event_type.clone(),
            body: body.clone(),
            attempts: 0,
            next_attempt_ms: None,
        });
    }
}

fn agreement_event(a: &SimAgreement, event_type: &str, actor: Option<Actor>) -> WebhookEvent {
    let mut e = WebhookEvent::new(event_type);
    e.agreement_id = Some(a.id.clone());
    e.agreement_uuid = Some(a.uuid.clone());
    e.agreement_external_id = a.draft.external_id.clone();
    e.actor = actor;
    e
}

/// What a charge event needs to know about its agreement.
pub(super) struct Owner {
    id: String,
    external_id: Option<String>,
}

impl Owner {
    pub(super) fn of(a: &SimAgreement) -> Self {
        Self {
            id: a.id.clone(),
            external_id: a.draft.external_id.clone(),
        }
    }
}

pub(super) fn charge_event(a: &Owner, c: &SimCharge, event_type: &str) -> WebhookEvent {
    let mut e = WebhookEvent::new(event_type);
    e.agreement_id = Some(a.id.clone());
    e.agreement_external_id = a.external_id.clone();
    e.charge_id = Some(c.id.clone());
    e.charge_external_id = c.external_id.clone();
    e.charge_type = Some(c.charge_type.clone());
    e.amount = Some(c.amount);
    e.amount_captured = Some(c.captured);
    e.amount_canceled = Some(c.cancelled);
    e.amount_refunded = Some(c.refunded);
    e.currency = Some(c.currency.clone());
    e.failure_reason = c.failure_reason.clone();
    e.failure_description = c.failure_description.clone();
    e.transaction_id = c.transaction_id.clone();
    e
}

pub(super) fn emit_all(state: &mut State, msn: &str, events: Vec<WebhookEvent>) {
    for e in events {
        emit(state, msn, e);
    }
}

fn agreement<'a>(state: &'a State, msn: &str, id: &str) -> Res<&'a SimAgreement> {
    state
        .agreements
        .get(id)
        .filter(|a| a.msn == msn)
        .ok_or_else(|| ApiError::not_found("Agreement"))
}

fn agreement_mut<'a>(
    state: &'a mut State,
    msn: Option<&str>,
    id: &str,
) -> Res<&'a mut SimAgreement> {
    state
        .agreements
        .get_mut(id)
        .filter(|a| msn.is_none_or(|m| a.msn == m))
        .ok_or_else(|| ApiError::not_found("Agreement"))
}

fn transaction_id(seq: &mut u64) -> String {
    *seq += 1;
    format!("{:010}", 5_000_000_000u64 + *seq)
}

/// Marks a charge cancelled (whatever is not captured).
fn cancel_charge_in(c: &mut SimCharge, now: DateTime<Utc>, key: Option<&str>) {
    let rest = c.amount - c.captured - c.cancelled;
    c.cancelled += rest;
    c.next_attempt = None;
    c.status = if c.captured > 0 {
        ChargeStatus::Charged
    } else {
        ChargeStatus::Cancelled
    };
    c.log(now, ChargeEventKind::Cancel, rest, key, true);
}

// ---- agreements -------------------------------------------------------------------------

/// `POST /recurring/v3/agreements`.
pub fn draft(
    state: &mut State,
    rules: &Rules,
    msn: &str,
    req: DraftAgreementRequest,
    key: &str,
) -> Res<DraftAgreementResponse> {
    validate::draft_agreement(&req).map_err(|e| ApiError::validation(&e))?;
    if req.skip_landing_page == Some(true) {
        return Err(ApiError::new(
            403,
            ProblemKind::UnsupportedFeature,
            "skipLandingPage requires the sales unit to be allow-listed",
        ));
    }
    let initial_id = match &req.initial_charge {
        Some(ic) => {
            let id = ic
                .order_id
                .clone()
                .unwrap_or_else(|| format!("chr-{}", random_id(10).to_lowercase()));
            if state
                .charge_index
                .contains_key(&State::charge_key(msn, &id))
            {
                return Err(ApiError::new(
                    409,
                    ProblemKind::Conflict,
                    format!("orderId {id} is already used"),
                ));
            }
            Some(id)
        }
        None => None,
    };
    let id = format!("agr_{}", random_id(7));
    let uuid = uuid::Uuid::new_v4().to_string();
    let confirmation_url = if req.is_app == Some(true) {
        format!("vippsMT://recurring?agreementId={id}")
    } else {
        format!(
            "{}/landing/{id}",
            rules.public_base_url.trim_end_matches('/')
        )
    };
    let now = state.now;
    let mut charges = Vec::new();
    if let (Some(ic), Some(cid)) = (&req.initial_charge, &initial_id) {
        let mut c = SimCharge {
            id: cid.clone(),
            agreement_id: id.clone(),
            amount: ic.amount,
            currency: req.pricing.currency.clone(),
            description: ic.description.clone(),
            due: oslo_date(now),
            retry_days: 0,
            status: ChargeStatus::Pending,
            charge_type: ChargeType::Initial,
            transaction_type: ic.transaction_type.clone(),
            transaction_id: None,
            external_id: ic.external_id.clone(),
            failure_reason: None,
            failure_description: None,
            captured: 0,
            refunded: 0,
            cancelled: 0,
            reserved_at: None,
            captured_at: None,
            next_attempt: None,
            accepted: Vec::new(),
            history: Vec::new(),
        };
        c.log(now, ChargeEventKind::Create, ic.amount, Some(key), true);
        charges.push(c);
        state
            .charge_index
            .insert(State::charge_key(msn, cid), id.clone());
    }
    let (amount, suggested) = match req.pricing.effective_type() {
        PricingType::Legacy => (req.pricing.amount, None),
        PricingType::Variable => (None, req.pricing.suggested_max_amount),
        _ => (None, None),
    };
    let a = SimAgreement {
        msn: msn.to_owned(),
        id: id.clone(),
        uuid: uuid.clone(),
        status: AgreementStatus::Pending,
        created: now,
        start: None,
        stop: None,
        phone_number: req.phone_number.as_ref().map(|p| p.as_str().to_owned()),
        interval: req.interval.clone(),
        amount,
        suggested_max_amount: suggested,
        max_amount: None,
        initial_charge_id: initial_id.clone(),
        confirmation_url: confirmation_url.clone(),
        charges,
        draft: req,
    };
    state.agreements.insert(id.clone(), a);
    Ok(DraftAgreementResponse {
        agreement_id: id,
        uuid,
        vipps_confirmation_url: Some(confirmation_url),
        charge_id: initial_id,
    })
}

/// The user confirms (and pays the initial charge). Returns the resulting status.
pub fn approve(
    state: &mut State,
    msn: Option<&str>,
    id: &str,
    phone: Option<String>,
) -> Res<AgreementStatus> {
    let now = state.now;
    let a = agreement_mut(state, msn, id)?;
    if a.status != AgreementStatus::Pending {
        return Err(ApiError::new(
            409,
            ProblemKind::Conflict,
            format!("agreement is {}", a.status),
        ));
    }
    if let Some(p) = phone.filter(|p| !p.is_empty()) {
        a.phone_number = Some(p);
    }
    let phone = a.phone_number.clone();
    let can_pay = state.can_pay(phone.as_deref());
    let mut seq = state.seq;
    let a = agreement_mut(state, msn, id)?;
    let mut events = Vec::new();
    if a.pricing_type() == PricingType::Variable {
        a.max_amount = a.suggested_max_amount;
    }
    let initial = a.initial_charge_id.clone();
    let mut activated = true;
    if let Some(cid) = initial {
        let a_snapshot = Owner::of(a);
        let c = a
            .charge_mut(&cid)
            .ok_or_else(|| ApiError::not_found("Charge"))?;
        if can_pay {
            c.transaction_id = Some(transaction_id(&mut seq));
            c.reserved_at = Some(now);
            c.log(now, ChargeEventKind::Reserve, c.amount, None, true);
            if c.transaction_type == TransactionType::ReserveCapture {
                c.status = ChargeStatus::Reserved;
                events.push(charge_event(&a_snapshot, c, ev::CHARGE_RESERVED));
            } else {
                c.captured = c.amount;
                c.captured_at = Some(now);
                c.status = ChargeStatus::Charged;
                c.log(now, ChargeEventKind::Capture, c.amount, None, true);
                events.push(charge_event(&a_snapshot, c, ev::CHARGE_CAPTURED));
            }
        } else {
            c.status = ChargeStatus::Failed;
            c.failure_reason = Some(FailureReason::UserActionRequired);
            c.failure_description = Some("User action required".into());
            c.log(now, ChargeEventKind::Fail, c.amount, None, false);
            events.push(charge_event(&a_snapshot, c, ev::CHARGE_FAILED));
            activated = false;
        }
    }
    if activated {
        a.status = AgreementStatus::Active;
        a.start = Some(now);
        events.insert(0, agreement_event(a, ev::AGREEMENT_ACTIVATED, None));
    } else {
        a.status = AgreementStatus::Expired;
        a.stop = Some(now);
        events.push(agreement_event(a, ev::AGREEMENT_EXPIRED, None));
    }
    let status = a.status.clone();
    let msn = a.msn.clone();
    state.seq = seq;
    emit_all(state, &msn, events);
    Ok(status)
}

/// The user rejects the draft: PENDING → STOPPED (webhook `agreement-rejected`).
pub fn reject(state: &mut State, msn: Option<&str>, id: &str) -> Res<()> {
    let now = state.now;
    let a = agreement_mut(state, msn, id)?;
    if a.status != AgreementStatus::Pending {
        return Err(ApiError::new(
            409,
            ProblemKind::Conflict,
            format!("agreement is {}", a.status),
        ));
    }
    a.status = AgreementStatus::Stopped;
    a.stop = Some(now);
    for c in &mut a.charges {
        cancel_charge_in(c, now, None);
    }
    let e = agreement_event(a, ev::AGREEMENT_REJECTED, Some(Actor::User));
    let msn = a.msn.clone();
    emit(state, &msn, e);
    Ok(())
}

/// Stops an ACTIVE agreement. The merchant's stop cancels PENDING, DUE and RESERVED charges;
/// the user's stop leaves RESERVED ones for the merchant to capture or cancel.
pub fn stop(state: &mut State, msn: Option<&str>, id: &str, by_user: bool) -> Res<()> {
    let now = state.now;
    let a = agreement_mut(state, msn, id)?;
    if a.status != AgreementStatus::Active {
        return Err(ApiError::bad(
            ProblemKind::IllegalAgreementUpdate,
            format!("cannot stop an agreement that is {}", a.status),
        ));
    }
    a.status = AgreementStatus::Stopped;
    a.stop = Some(now);
    let actor = if by_user {
        Actor::User
    } else {
        Actor::Merchant
    };
    let mut events = vec![agreement_event(a, ev::AGREEMENT_STOPPED, Some(actor))];
    let snapshot = Owner::of(a);
    for c in &mut a.charges {
        let cancel = match c.status {
            ChargeStatus::Pending | ChargeStatus::Due => true,
            ChargeStatus::Reserved => !by_user,
            _ => false,
        };
        if cancel {
            cancel_charge_in(c, now, None);
            events.push(charge_event(&snapshot, c, ev::CHARGE_CANCELED));
        }
    }
    let msn = a.msn.clone();
    emit_all(state, &msn, events);
    Ok(())
}

/// `PATCH /recurring/v3/agreements/{id}`.
pub fn patch(state: &mut State, msn: &str, id: &str, p: AgreementPatch) -> Res<()> {
    validate::agreement_patch(&p).map_err(|e| ApiError::validation(&e))?;
    if p.status.is_some() {
        return stop(state, Some(msn), id, false);
    }
    let a = agreement_mut(state, Some(msn), id)?;
    if a.status != AgreementStatus::Active {
        return Err(ApiError::bad(
            ProblemKind::IllegalAgreementUpdate,
            format!("cannot update an agreement that is {}", a.status),
        ));
    }
    if let Some(pr) = &p.pricing {
        let t = a.pricing_type();
        if pr.amount.is_some() && t != PricingType::Legacy {
            return Err(ApiError::bad(
                ProblemKind::IllegalAgreementUpdate,
                "pricing.amount applies to LEGACY agreements only",
            ));
        }
        if pr.suggested_max_amount.is_some() && t != PricingType::Variable {
            return Err(ApiError::bad(
                ProblemKind::InvalidSuggestedMaxAmount,
                "pricing.suggestedMaxAmount applies to VARIABLE agreements only",
            ));
        }
        if let Some(x) = pr.amount {
            a.amount = Some(x);
        }
        if let Some(x) = pr.suggested_max_amount {
            a.suggested_max_amount = Some(x);
        }
    }
    if let Some(v) = p.product_name {
        a.draft.product_name = v;
    }
    if let Some(v) = p.product_description {
        a.draft.product_description = Some(v);
    }
    if let Some(v) = p.merchant_agreement_url {
        a.draft.merchant_agreement_url = v;
    }
    if let Some(v) = p.external_id {
        a.draft.external_id = Some(v);
    }
    if let Some(period) = p.interval.and_then(|i| i.period) {
        a.interval = period;
    }
    Ok(())
}

// ---- charges ----------------------------------------------------------------------------

/// The fields of a new recurring charge (single or batch).
struct NewCharge {
    amount: Ore,
    description: String,
    due: NaiveDate,
    retry_days: u32,
    transaction_type: TransactionType,
    order_id: Option<String>,
    external_id: Option<String>,
}

/// Checks the business rules of a new recurring charge and creates it.
fn new_charge(
    state: &mut State,
    rules: &Rules,
    msn: &str,
    agreement_id: &str,
    n: NewCharge,
    key: &str,
) -> Res<String> {
    let NewCharge {
        amount,
        description,
        due,
        retry_days,
        transaction_type,
        order_id,
        external_id,
    } = n;
    let now = state.now;
    let today = oslo_date(now);
    let a = agreement(state, msn, agreement_id)?;
    if a.status != AgreementStatus::Active {
        return Err(ApiError::bad(
            ProblemKind::ChargeCreationFailed,
            format!(
                "charges can only be created on ACTIVE agreements; this one is {}",
                a.status
            ),
        ));
    }
    let earliest = today + Days::new(u64::from(rules.lead_days));
    if due < earliest {
        return Err(ApiError::bad(
            ProblemKind::ChargeDueTooSoon,
            format!(
                "due must be on or after {earliest} (lead time {} days)",
                rules.lead_days
            ),
        ));
    }
    let latest = today.checked_add_months(Months::new(24)).unwrap_or(today);
    if due > latest {
        return Err(ApiError::bad(
            ProblemKind::ChargeDueInTooLong,
            format!("due must be on or before {latest}"),
        ));
    }
    match a.pricing_type() {
        PricingType::Legacy => {
            let price = a.amount.unwrap_or(0);
            let start = oslo_date(a.start.unwrap_or(a.created));
            let (ws, we) = window(start, &a.interval, due);
            let used: Ore = a
                .charges
                .iter()
                .filter(|c| c.charge_type == ChargeType::Recurring && c.due >= ws && c.due < we)
                .filter(|c| !matches!(c.status, ChargeStatus::Cancelled | ChargeStatus::Failed))
                .map(|c| c.amount)
                .sum();
            if used + amount > 5 * price {
                return Err(ApiError::bad(
                    ProblemKind::ChargeAmountTooHigh,
                    format!(
                        "charges due {ws}..{we} would total {} øre, over 5 × the price ({price})",
                        used + amount
                    ),
                ));
            }
        }
        PricingType::Variable => {
            let cap = a
                .suggested_max_amount
                .unwrap_or(0)
                .max(a.max_amount.unwrap_or(0));
            if amount > cap {
                return Err(ApiError::bad(
                    ProblemKind::ChargeAmountTooHigh,
                    format!("amount is above the maximum {cap}"),
                ));
            }
        }
        _ => {}
    }
    let id = order_id.unwrap_or_else(|| format!("chr-{}", random_id(10).to_lowercase()));
    if state
        .charge_index
        .contains_key(&State::charge_key(msn, &id))
    {
        return Err(ApiError::new(
            409,
            ProblemKind::Conflict,
            format!("orderId {id} is already used"),
        ));
    }
    let visible = due.checked_sub_days(Days::new(30)).unwrap_or(due) <= today;
    let currency = a.draft.pricing.currency.clone();
    let mut c = SimCharge {
        id: id.clone(),
        agreement_id: agreement_id.to_owned(),
        amount,
        currency,
        description,
        due,
        retry_days,
        status: if visible {
            ChargeStatus::Due
        } else {
            ChargeStatus::Pending
        },
        charge_type: ChargeType::Recurring,
        transaction_type,
        transaction_id: None,
        external_id,
        failure_reason: None,
        failure_description: None,
        captured: 0,
        refunded: 0,
        cancelled: 0,
        reserved_at: None,
        captured_at: None,
        next_attempt: Some(oslo_midnight(due)),
        history: Vec::new(),
        accepted: Vec::new(),
    };
    c.log(now, ChargeEventKind::Create, amount, Some(key), true);
    state
        .charge_index
        .insert(State::charge_key(msn, &id), agreement_id.to_owned());
    agreement_mut(state, Some(msn), agreement_id)?
        .charges
        .push(c);
    Ok(id)
}

/// The interval window (anchored on the activation date) that contains `due`.
fn window(start: NaiveDate, p: &TimePeriod, due: NaiveDate) -> (NaiveDate, NaiveDate) {
    let mut n = 0;
    loop {
        let (Some(ws), Some(we)) = (add_periods(start, p, n), add_periods(start, p, n + 1)) else {
            return (start, due.succ_opt().unwrap_or(due));
        };
        if due < we || n > 10_000 {
            return (ws.min(due), we);
        }
        n += 1;
    }
}

/// `POST /recurring/v3/agreements/{id}/charges`.
pub fn create_charge(
    state: &mut State,
    rules: &Rules,
    msn: &str,
    agreement_id: &str,
    req: CreateChargeRequest,
    key: &str,
) -> Res<ChargeReference> {
    validate::create_charge(&req).map_err(|e| ApiError::validation(&e))?;
    if matches!(req.charge_type, Some(ChargeType::Unscheduled)) {
        return Err(ApiError::bad(
            ProblemKind::UnsupportedFeature,
            "Cannot create a charge with type 'UNSCHEDULED'",
        ));
    }
    let n = NewCharge {
        amount: req.amount,
        description: req.description,
        due: req.due,
        retry_days: req.retry_days,
        transaction_type: req.transaction_type,
        order_id: req.order_id,
        external_id: req.external_id,
    };
    let id = new_charge(state, rules, msn, agreement_id, n, key)?;
    Ok(ChargeReference { charge_id: id })
}

/// `POST /recurring/v3/agreements/charges`: schema errors come back per item; rule
/// failures are reported later as `charge-creation-failed` webhooks.
pub fn create_batch(
    state: &mut State,
    rules: &Rules,
    msn: &str,
    items: Vec<BatchChargeItem>,
    key: &str,
) -> Res<AsyncChargeResponse> {
    if items.is_empty() || items.len() > 2000 {
        return Err(ApiError::bad(
            ProblemKind::ValidationError,
            "a batch holds 1–2000 charges",
        ));
    }
    let mut out = AsyncChargeResponse::default();
    for item in items {
        if let Err(e) = validate::batch_item(&item) {
            out.invalid_charges.push(InvalidBatchCharge {
                charge_batch_item_dto: serde_json::to_value(&item).unwrap_or_default(),
                errors: e
                    .0
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.reason))
                    .collect(),
            });
            continue;
        }
        out.valid_charges.push(item.order_id.clone());
        let n = NewCharge {
            amount: item.amount,
            description: item.description.clone(),
            due: item.due,
            retry_days: item.retry_days,
            transaction_type: item.transaction_type.clone(),
            order_id: Some(item.order_id.clone()),
            external_id: item.external_id.clone(),
        };
        let result = new_charge(state, rules, msn, &item.agreement_id, n, key);
        if let Err(err) = result {
            let mut e = WebhookEvent::new(ev::CHARGE_CREATION_FAILED);
            e.agreement_id = Some(item.agreement_id.clone());
            e.charge_id = Some(item.order_id.clone());
            e.charge_external_id = item.external_id.clone();
            e.amount = Some(item.amount);
            e.extra
                .insert("errors".into(), serde_json::json!([err.problem.detail]));
            emit(state, msn, e);
        }
    }
    Ok(out)
}

/// Finds a charge of an agreement of `msn`.
pub fn charge<'a>(
    state: &'a State,
    msn: &str,
    agreement_id: &str,
    charge_id: &str,
) -> Res<(&'a SimAgreement, &'a SimCharge)> {
    let a = agreement(state, msn, agreement_id)?;
    let c = a
        .charge(charge_id)
        .ok_or_else(|| ApiError::not_found("Charge"))?;
    Ok((a, c))
}

fn charge_op<T>(
    state: &mut State,
    msn: &str,
    agreement_id: &str,
    charge_id: &str,
    f: impl FnOnce(&mut SimCharge, DateTime<Utc>) -> Res<(T, Option<&'static str>)>,
) -> Res<T> {
    let now = state.now;
    let a = agreement_mut(state, Some(msn), agreement_id)?;
    let snapshot = Owner::of(a);
    let c = a
        .charge_mut(charge_id)
        .ok_or_else(|| ApiError::not_found("Charge"))?;
    let (out, event) = f(c, now)?;
    let e = event.map(|name| charge_event(&snapshot, c, name));
    if let Some(e) = e {
        emit(state, msn, e);
    }
    Ok(out)
}

/// `DELETE .../charges/{id}`. True when it was accepted to be applied later (202): `later`
/// is asked once the rules allow the cancel, and answers the reads it waits for (see
/// [`AcceptedChange`](super::model::AcceptedChange)).
pub fn cancel(
    state: &mut State,
    msn: &str,
    agreement_id: &str,
    charge_id: &str,
    key: &str,
    later: impl FnOnce() -> Option<u32>,
) -> Res<bool> {
    charge_op(state, msn, agreement_id, charge_id, |c, now| {
        check_cancel(c)?;
        if let Some(reads) = later() {
            accepted::record(c, Change::Cancel, key, now, reads);
            return Ok((true, None));
        }
        Ok((false, Some(apply_cancel(c, now, key))))
    })
}

/// Vipps cancels PENDING, DUE and RESERVED charges, and the rest of a PARTIALLY_CAPTURED one.
pub(super) fn check_cancel(c: &SimCharge) -> Res<()> {
    match c.status {
        ChargeStatus::Pending
        | ChargeStatus::Due
        | ChargeStatus::Reserved
        | ChargeStatus::PartiallyCaptured => Ok(()),
        ref s => Err(ApiError::bad(
            ProblemKind::CancelChargeFailed,
            format!("cannot cancel a charge that is {s}"),
        )),
    }
}

/// Cancels what is not captured; returns the webhook event.
pub(super) fn apply_cancel(c: &mut SimCharge, now: DateTime<Utc>, key: &str) -> &'static str {
    cancel_charge_in(c, now, Some(key));
    ev::CHARGE_CANCELED
}

/// `POST .../charges/{id}/capture`.
pub fn capture(
    state: &mut State,
    msn: &str,
    agreement_id: &str,
    charge_id: &str,
    req: CaptureRequest,
    key: &str,
) -> Res<()> {
    validate::capture(&req).map_err(|e| ApiError::validation(&e))?;
    charge_op(state, msn, agreement_id, charge_id, |c, now| {
        if !matches!(
            c.status,
            ChargeStatus::Reserved | ChargeStatus::PartiallyCaptured
        ) {
            return Err(ApiError::bad(
                ProblemKind::ChargeCaptureFailed,
                format!("cannot capture a charge that is {}", c.status),
            ));
        }
        if c.reserved_at
            .is_some_and(|t| now - t > chrono::Duration::days(180))
        {
            return Err(ApiError::bad(
                ProblemKind::ChargeCaptureFailed,
                "the reservation is older than 180 days",
            ));
        }
        let remaining = c.remaining_reserved();
        if req.amount > remaining {
            return Err(ApiError::bad(
                ProblemKind::ChargeCaptureFailed,
                format!("amount higher than remaining capturable amount ({remaining})"),
            ));
        }
        c.captured += req.amount;
        c.captured_at = Some(now);
        c.status = if c.remaining_reserved() == 0 {
            ChargeStatus::Charged
        } else {
            ChargeStatus::PartiallyCaptured
        };
        c.log(now, ChargeEventKind::Capture, req.amount, Some(key), true);
        Ok(((), Some(ev::CHARGE_CAPTURED)))
    })
}

/// `POST .../charges/{id}/refund`. True when it was accepted to be applied later (202), as
/// with [`cancel`].
pub fn refund(
    state: &mut State,
    msn: &str,
    agreement_id: &str,
    charge_id: &str,
    req: RefundRequest,
    key: &str,
    later: impl FnOnce() -> Option<u32>,
) -> Res<bool> {
    validate::refund(&req).map_err(|e| ApiError::validation(&e))?;
    charge_op(state, msn, agreement_id, charge_id, |c, now| {
        check_refund(c, now, req.amount)?;
        if let Some(reads) = later() {
            let change = Change::Refund { amount: req.amount };
            accepted::record(c, change, key, now, reads);
            return Ok((true, None));
        }
        Ok((false, Some(apply_refund(c, now, req.amount, key))))
    })
}

/// Vipps refunds captured money (CHARGED, PARTIALLY_REFUNDED, or the captured part of a
/// PARTIALLY_CAPTURED charge), up to what is captured and not refunded or accepted to be
/// refunded, within 365 days of the capture.
pub(super) fn check_refund(c: &SimCharge, now: DateTime<Utc>, amount: Ore) -> Res<()> {
    if !matches!(
        c.status,
        ChargeStatus::Charged | ChargeStatus::PartiallyRefunded | ChargeStatus::PartiallyCaptured
    ) {
        return Err(ApiError::bad(
            ProblemKind::OperationFailed,
            format!("cannot refund a charge that is {}", c.status),
        ));
    }
    if c.captured_at
        .is_some_and(|t| now - t > chrono::Duration::days(365))
    {
        return Err(ApiError::bad(
            ProblemKind::OperationFailed,
            "refunds are allowed up to 365 days after capture",
        ));
    }
    let refundable = c.captured - c.refunded - c.accepted_refunds();
    if amount > refundable {
        return Err(ApiError::bad(
            ProblemKind::OperationFailed,
            format!("amount higher than remaining refundable amount ({refundable})"),
        ));
    }
    Ok(())
}

/// Refunds `amount` (checked by [`check_refund`]); returns the webhook event.
pub(super) fn apply_refund(
    c: &mut SimCharge,
    now: DateTime<Utc>,
    amount: Ore,
    key: &str,
) -> &'static str {
    c.refunded += amount;
    if c.status != ChargeStatus::PartiallyCaptured {
        c.status = if c.refunded == c.captured {
            ChargeStatus::Refunded
        } else {
            ChargeStatus::PartiallyRefunded
        };
    }
    c.log(now, ChargeEventKind::Refund, amount, Some(key), true);
    ev::CHARGE_REFUNDED
}

// ---- the clock --------------------------------------------------------------------------

/// Moves the clock to `target`, processing every expiry and payment attempt on the way,
/// in time order. Never moves backwards through events (setting an earlier time only sets
/// the clock).
pub fn advance_to(state: &mut State, rules: &Rules, target: DateTime<Utc>) {
    if target <= state.now {
        state.now = target;
        return;
    }
    loop {
        process(state, rules);
        match next_event(state, rules) {
            Some(t) if t <= target => state.now = t.max(state.now),
            _ => break,
        }
    }
    state.now = target;
    process(state, rules);
}

/// True when a time-driven rule (a draft's expiry, a charge falling due or being attempted)
/// applies at or before `t`: [`advance_to`] would change more than the clock.
pub fn due_by(state: &State, rules: &Rules, t: DateTime<Utc>) -> bool {
    next_event(state, rules).is_some_and(|e| e <= t)
}

fn next_event(state: &State, rules: &Rules) -> Option<DateTime<Utc>> {
    let mut best: Option<DateTime<Utc>> = None;
    let mut consider = |t: DateTime<Utc>| {
        if t > state.now && best.is_none_or(|b| t < b) {
            best = Some(t);
        }
    };
    for a in state.agreements.values() {
        if a.status == AgreementStatus::Pending {
            consider(a.created + rules.draft_ttl);
        }
        for c in &a.charges {
            if c.status == ChargeStatus::Pending {
                consider(oslo_midnight(
                    c.due.checked_sub_days(Days::new(30)).unwrap_or(c.due),
                ));
            }
            if let Some(t) = c.next_attempt {
                consider(t);
            }
            for x in &c.accepted {
                consider(x.apply_at);
            }
        }
    }
    best
}

/// Applies everything that is due at `state.now`.
fn process(state: &mut State, rules: &Rules) {
    let now = state.now;
    let today = oslo_date(now);
    let mut events: Vec<(String, WebhookEvent)> = Vec::new();
    let funding = &state.funding;
    let seq = &mut state.seq;
    for a in state.agreements.values_mut() {
        if a.status == AgreementStatus::Pending && a.created + rules.draft_ttl <= now {
            a.status = AgreementStatus::Expired;
            a.stop = Some(now);
            for c in &mut a.charges {
                cancel_charge_in(c, now, None);
            }
            events.push((
                a.msn.clone(),
                agreement_event(a, ev::AGREEMENT_EXPIRED, None),
            ));
            continue;
        }
        let can_pay = a
            .phone_number
            .as_deref()
            .is_none_or(|p| funding.get(p).copied().unwrap_or(true));
        let snapshot = Owner::of(a);
        let user_max = if a.pricing_type() == PricingType::Variable {
            a.max_amount
        } else {
            None
        };
        for c in &mut a.charges {
            for name in accepted::apply(c, now, |x| x.apply_at <= now) {
                events.push((a.msn.clone(), charge_event(&snapshot, c, name)));
            }
            if c.status == ChargeStatus::Pending
                && c.due.checked_sub_days(Days::new(30)).unwrap_or(c.due) <= today
            {
                c.status = ChargeStatus::Due;
            }
            let attempt_now = c.next_attempt.is_some_and(|t| t <= now)
                && matches!(c.status, ChargeStatus::Pending | ChargeStatus::Due);
            if !attempt_now {
                continue;
            }
            c.status = ChargeStatus::Due;
            let too_high = user_max.is_some_and(|m| c.amount > m);
            let failure = if too_high {
                Some((FailureReason::ChargeAmountTooHigh, "Charge amount too high"))
            } else if !can_pay {
                Some((FailureReason::UserActionRequired, "User action required"))
            } else {
                None
            };
            match failure {
                None => {
                    c.transaction_id = Some(transaction_id(seq));
                    c.failure_reason = None;
                    c.failure_description = None;
                    c.reserved_at = Some(now);
                    c.next_attempt = None;
                    c.log(now, ChargeEventKind::Reserve, c.amount, None, true);
                    if c.transaction_type == TransactionType::ReserveCapture {
                        c.status = ChargeStatus::Reserved;
                        events.push((
                            a.msn.clone(),
                            charge_event(&snapshot, c, ev::CHARGE_RESERVED),
                        ));
                    } else {
                        c.captured = c.amount;
                        c.captured_at = Some(now);
                        c.status = ChargeStatus::Charged;
                        c.log(now, ChargeEventKind::Capture, c.amount, None, true);
                        events.push((
                            a.msn.clone(),
                            charge_event(&snapshot, c, ev::CHARGE_CAPTURED),
                        ));
                    }
                }
                Some((reason, text)) => {
                    c.failure_reason = Some(reason);
                    c.failure_description = Some(text.to_owned());
                    let last_day = c.due + Days::new(u64::from(c.retry_days));
                    let attempt_day = c.next_attempt.map(oslo_date).unwrap_or(today);
                    if attempt_day >= last_day {
                        c.status = ChargeStatus::Failed;
                        c.next_attempt = None;
                        c.log(now, ChargeEventKind::Fail, c.amount, None, false);
                        events.push((a.msn.clone(), charge_event(&snapshot, c, ev::CHARGE_FAILED)));
                    } else {
                        c.next_attempt = Some(oslo_midnight(attempt_day + Days::new(1)));
                    }
                }
            }
        }
    }
    for (msn, e) in events {
        emit(state, &msn, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn windows_are_anchored_on_activation_and_clamp_month_ends() {
        let m = TimePeriod::new(IntervalUnit::Month, 1);
        assert_eq!(
            window(d("2027-01-31"), &m, d("2027-02-27")),
            (d("2027-01-31"), d("2027-02-28"))
        );
        assert_eq!(
            window(d("2027-01-31"), &m, d("2027-02-28")),
            (d("2027-02-28"), d("2027-03-31"))
        );
        let w2 = TimePeriod::new(IntervalUnit::Week, 2);
        assert_eq!(
            window(d("2027-01-01"), &w2, d("2027-01-20")),
            (d("2027-01-15"), d("2027-01-29"))
        );
        let y = TimePeriod::new(IntervalUnit::Year, 1);
        assert_eq!(
            window(d("2027-03-01"), &y, d("2028-02-29")),
            (d("2027-03-01"), d("2028-03-01"))
        );
    }

    #[test]
    fn oslo_midnight_follows_daylight_saving() {
        assert_eq!(
            oslo_midnight(d("2027-01-15")).to_rfc3339(),
            "2027-01-14T23:00:00+00:00"
        );
        assert_eq!(
            oslo_midnight(d("2027-07-15")).to_rfc3339(),
            "2027-07-14T22:00:00+00:00"
        );
        let late = "2027-01-14T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(oslo_date(late), d("2027-01-15"));
    }

    #[test]
    fn events_go_only_to_matching_registrations() {
        let mut s = State::new("2027-01-01T00:00:00Z".parse().unwrap());
        for (id, msn, event) in [
            ("w1", "1234", ev::AGREEMENT_STOPPED),
            ("w2", "1234", ev::AGREEMENT_ACTIVATED),
            ("w3", "9999", ev::AGREEMENT_STOPPED),
        ] {
            s.webhooks.push(super::super::model::WebhookRegistration {
                id: id.into(),
                msn: msn.into(),
                url: "https://x".into(),
                events: vec![event.into()],
                secret: "s".into(),
            });
        }
        emit(&mut s, "1234", WebhookEvent::new(ev::AGREEMENT_STOPPED));
        assert_eq!(s.outbox.len(), 1);
        assert_eq!(s.outbox[0].webhook_id, "w1");
        let body: WebhookEvent = serde_json::from_str(&s.outbox[0].body).unwrap();
        assert_eq!(body.msn.as_deref(), Some("1234"));
        assert_eq!(body.occurred, Some(s.now));
    }
}
