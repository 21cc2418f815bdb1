//! Every request body the client sends validates against the official OpenAPI schema of
//! its operation (`../shared/specs/*.yaml`; skipped with a note when the files are absent).
//! A small validator covers what the specs use: `$ref`, `oneOf`, `nullable`, `type`,
//! `required`, `properties` (unknown properties are reported), `enum`, string lengths and
//! `pattern`, integer bounds, `items`.

use std::path::PathBuf;

use dialogpay::vipps::wire::{
    AgreementPatch, BatchChargeItem, Campaign, CampaignType, CaptureRequest, IntervalUnit,
    IntervalUpdate, IntervalUpdateType, PhoneNumber, RefundRequest, RegisterWebhookRequest,
    TimePeriod, TransactionType,
};
use serde_json::Value;

use crate::support::*;

fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/specs")
}

fn load(name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(spec_dir().join(name)).ok()?;
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    Some(serde_json::to_value(yaml).unwrap())
}

fn resolve<'a>(spec: &'a Value, r: &str) -> &'a Value {
    r.trim_start_matches("#/")
        .split('/')
        .fold(spec, |v, seg| &v[seg])
}

fn check(spec: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return check(spec, resolve(spec, r), v, at, errs);
    }
    if v.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = alts.iter().any(|alt| {
            let mut e = Vec::new();
            check(spec, alt, v, at, &mut e);
            e.is_empty()
        });
        if !ok {
            errs.push(format!("{at}: matches none of oneOf"));
        }
        return;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        errs.push(format!("{at}: {v} not in {values:?}"));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(obj) = v.as_object() else {
                return errs.push(format!("{at}: expected object"));
            };
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !obj.contains_key(req.as_str().unwrap_or("")) {
                    errs.push(format!("{at}: missing required {req}"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => check(spec, s, val, &format!("{at}.{k}"), errs),
                    None => errs.push(format!("{at}.{k}: not in the schema")),
                }
            }
        }
        Some("string") => {
            let Some(s) = v.as_str() else {
                return errs.push(format!("{at}: expected string"));
            };
            let n = s.chars().count() as u64;
            if schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
            {
                errs.push(format!("{at}: longer than maxLength"));
            }
            if schema
                .get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n < m)
            {
                errs.push(format!("{at}: shorter than minLength"));
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str)
                && !regex::Regex::new(p).unwrap().is_match(s)
            {
                errs.push(format!("{at}: {s:?} does not match {p}"));
            }
        }
        Some("integer") => {
            let Some(i) = v.as_i64() else {
                return errs.push(format!("{at}: expected integer"));
            };
            if schema
                .get("minimum")
                .and_then(Value::as_i64)
                .is_some_and(|m| i < m)
            {
                errs.push(format!("{at}: below minimum"));
            }
            if schema
                .get("maximum")
                .and_then(Value::as_i64)
                .is_some_and(|m| i > m)
            {
                errs.push(format!("{at}: above maximum"));
            }
        }
        Some("boolean") if !v.is_boolean() => errs.push(format!("{at}: expected boolean")),
        Some("array") => {
            let Some(items) = v.as_array() else {
                return errs.push(format!("{at}: expected array"));
            };
            for (i, item) in items.iter().enumerate() {
                check(spec, &schema["items"], item, &format!("{at}[{i}]"), errs);
            }
        }
        _ => {}
    }
}

/// The operation at `path` (concrete) and `method`.
fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> Option<&'a Value> {
    let paths = spec["paths"].as_object()?;
    let segs: Vec<&str> = path.split('/').collect();
    let (_, item) = paths.iter().find(|(template, _)| {
        let t: Vec<&str> = template.split('/').collect();
        t.len() == segs.len()
            && t.iter()
                .zip(&segs)
                .all(|(a, b)| a.starts_with('{') || a == b)
    })?;
    item.get(method.to_ascii_lowercase())
}

/// The request-body schema of the operation at `path` (concrete) and `method`.
fn body_schema<'a>(spec: &'a Value, path: &str, method: &str) -> Option<&'a Value> {
    let content = &operation(spec, path, method)?["requestBody"]["content"];
    content.as_object()?.values().next().map(|c| &c["schema"])
}

#[tokio::test]
async fn every_request_body_validates_against_the_spec() {
    let (Some(recurring), Some(webhooks)) = (
        load("recurring-api-v3-openapi.yaml"),
        load("webhooks-api-swagger.yaml"),
    ) else {
        println!(
            "NOTE: {} not found; spec validation skipped",
            spec_dir().display()
        );
        return;
    };
    let env = env().await;
    let c = &env.client;

    // Every mutating call, with optional fields filled in.
    let mut full = draft(9900);
    full.campaign = Some(Campaign {
        campaign_type: CampaignType::PriceCampaign,
        price: 100,
        end: Some("2027-06-01T00:00:00Z".parse().unwrap()),
        period: None,
        event_date: None,
        event_text: None,
        interval: None,
        explanation: None,
    });
    full.initial_charge.as_mut().unwrap().order_id = Some("dp-init-000001".into());
    full.initial_charge.as_mut().unwrap().external_id = Some("ext-1".into());
    full.initial_charge.as_mut().unwrap().transaction_type = TransactionType::ReserveCapture;
    full.scope = Some("name phoneNumber".into());
    full.is_app = Some(false);
    let d = c.draft_agreement(MSN, &full, key("d1")).await.unwrap();
    let mut period = draft(5000);
    period.campaign = Some(Campaign {
        campaign_type: CampaignType::PeriodCampaign,
        price: 100,
        end: None,
        period: Some(TimePeriod::new(IntervalUnit::Week, 2)),
        event_date: None,
        event_text: None,
        interval: None,
        explanation: None,
    });
    let p = c.draft_agreement(MSN, &period, key("d2")).await.unwrap();
    c.force_accept_agreement(MSN, &p.agreement_id, &PhoneNumber::new(PHONE), key("a1"))
        .await
        .unwrap();
    env.sim.approve(&d.agreement_id, None).unwrap();
    let aid = d.agreement_id;
    let cid = d.charge_id.unwrap();
    c.capture_charge(
        MSN,
        &aid,
        &cid,
        &CaptureRequest {
            amount: 9900,
            description: "Delivered".into(),
        },
        key("cap"),
    )
    .await
    .unwrap();
    c.refund_charge(
        MSN,
        &aid,
        &cid,
        &RefundRequest {
            amount: 100,
            description: "Sorry".into(),
        },
        key("ref"),
    )
    .await
    .unwrap();
    let mut ch = charge(days_from_today(&env, 3), 9900);
    ch.order_id = Some("dp-0001-2026-12".into());
    ch.external_id = Some("period-2026-12".into());
    c.create_charge(MSN, &aid, &ch, key("c1")).await.unwrap();
    c.cancel_charge(MSN, &aid, "dp-0001-2026-12", key("x1"))
        .await
        .unwrap();
    let texts = AgreementPatch {
        product_name: Some("Support+".into()),
        product_description: Some("More support".into()),
        merchant_agreement_url: Some("https://dialogpay.example/a/2".into()),
        external_id: Some("dp-agreement-2".into()),
        interval: Some(IntervalUpdate {
            interval_type: Some(IntervalUpdateType::Recurring),
            period: Some(TimePeriod::new(IntervalUnit::Month, 1)),
        }),
        ..AgreementPatch::default()
    };
    c.update_agreement(MSN, &aid, &texts, key("u1"))
        .await
        .unwrap();
    c.update_agreement(MSN, &aid, &AgreementPatch::price(12900), key("u2"))
        .await
        .unwrap();
    c.stop_agreement(MSN, &aid, key("u3")).await.unwrap();
    c.register_webhook(
        MSN,
        &RegisterWebhookRequest {
            url: "https://dialogpay.example/hooks".into(),
            events: vec!["recurring.agreement-stopped.v1".into()],
        },
    )
    .await
    .unwrap();
    let batch = BatchChargeItem {
        agreement_id: p.agreement_id.clone(),
        amount: 5000,
        transaction_type: TransactionType::DirectCapture,
        description: "Batch".into(),
        due: days_from_today(&env, 2),
        retry_days: 2,
        order_id: "dp-batch-000001".into(),
        external_id: None,
    };
    c.create_charges_batch(MSN, &[batch], key("b1"))
        .await
        .unwrap();

    let mut checked = 0;
    let mut errors = Vec::new();
    for r in env.sim.requests() {
        if r.body.is_null() {
            continue;
        }
        let (spec, path) = match r.path.strip_prefix("/webhooks") {
            Some(rest) => (&webhooks, rest.to_owned()),
            None => (&recurring, r.path.clone()),
        };
        if r.path == "/recurring/v3/agreements/charges" {
            println!("NOTE: the batch endpoint is not in the 2023 spec; its body is not checked");
            continue;
        }
        let schema = body_schema(spec, &path, &r.method)
            .unwrap_or_else(|| panic!("no request schema for {} {}", r.method, r.path));
        let mut e = Vec::new();
        check(spec, schema, &r.body, "body", &mut e);
        errors.extend(
            e.into_iter()
                .map(|e| format!("{} {}: {e}", r.method, r.path)),
        );
        checked += 1;
    }
    assert!(errors.is_empty(), "{errors:#?}");
    // 2 drafts, force-accept, capture, refund, create charge, 3 patches, webhook registration.
    assert_eq!(checked, 10, "every call with a body was checked");
}

#[test]
fn the_validator_catches_what_it_should() {
    let Some(spec) = load("recurring-api-v3-openapi.yaml") else {
        println!("NOTE: spec files absent; skipped");
        return;
    };
    let schema = body_schema(&spec, "/recurring/v3/agreements/agr_1/charges", "POST").unwrap();
    let mut e = Vec::new();
    let bad = serde_json::json!({"amount": 50, "description": "d", "due": "2030-01-01",
        "retryDays": 20, "transactionType": "LATER", "orderId": "!!", "customerPhoneNumber": "1"});
    check(&spec, schema, &bad, "body", &mut e);
    let text = e.join("\n");
    for needle in [
        "amount: below minimum",
        "retryDays: above maximum",
        "transactionType",
        "orderId",
        "customerPhoneNumber",
    ] {
        assert!(text.contains(needle), "{needle} not reported in {text}");
    }
}

/// Refund and cancel, applied at once and accepted for later: each answer is one of the
/// success statuses the spec lists for its operation (204, and 202 "accepted, not yet
/// enacted").
#[tokio::test]
async fn refund_and_cancel_answer_statuses_the_spec_lists() {
    let Some(spec) = load("recurring-api-v3-openapi.yaml") else {
        println!("NOTE: spec files absent; skipped");
        return;
    };
    let env = env().await;
    let c = &env.client;
    let d = c
        .draft_agreement(MSN, &draft(9900), key("d"))
        .await
        .unwrap();
    let (aid, initial) = (d.agreement_id, d.charge_id.unwrap());
    env.sim.approve(&aid, None).unwrap();
    let refund = RefundRequest {
        amount: 1000,
        description: "Goodwill".into(),
    };
    let mut answers = Vec::new();
    for (n, later) in [(1, false), (2, true)] {
        env.sim.add_faults(dialogpay::vipps::sim::Faults {
            accept_later: Some(u32::from(later)),
            ..Default::default()
        });
        let charged = c.refund_charge(MSN, &aid, &initial, &refund, key(&format!("r{n}")));
        answers.push((
            "POST",
            format!("/charges/{initial}/refund"),
            charged.await.unwrap(),
        ));
        let due = charge(days_from_today(&env, 5), 9900);
        let cid = c
            .create_charge(MSN, &aid, &due, key(&format!("c{n}")))
            .await
            .unwrap()
            .charge_id;
        env.sim.add_faults(dialogpay::vipps::sim::Faults {
            accept_later: Some(u32::from(later)),
            ..Default::default()
        });
        let cancelled = c.cancel_charge(MSN, &aid, &cid, key(&format!("x{n}")));
        answers.push((
            "DELETE",
            format!("/charges/{cid}"),
            cancelled.await.unwrap(),
        ));
    }
    let mut seen = Vec::new();
    for (method, tail, applied) in answers {
        let status = match applied {
            dialogpay::vipps::client::Applied::Done => "204",
            dialogpay::vipps::client::Applied::Accepted => "202",
        };
        let path = format!("/recurring/v3/agreements/{aid}{tail}");
        let op = operation(&spec, &path, method).expect("the operation is in the spec");
        assert!(
            op["responses"].get(status).is_some(),
            "{method} {path} answered {status}, not in the spec's {:?}",
            op["responses"]
        );
        seen.push(status);
    }
    assert_eq!(seen, ["204", "204", "202", "202"]);
}
