//! The simulator's rules and state machines, over HTTP and through its Rust API.

use chrono::Days;
use dialogpay::vipps::sim::{SimConfig, Simulator};
use dialogpay::vipps::wire::{
    AgreementStatus, ChargeStatus, FailureReason, PricingRequest, ProblemKind,
};
use dialogpay::vipps::{VippsClient, VippsError};
use serde_json::{Value, json};

use crate::support::*;

/// A raw request with chosen headers.
async fn raw(
    env: &Env,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let mut r = env
        .http
        .request(method.parse().unwrap(), format!("{}{path}", env.base));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.body(b.to_owned());
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn kind(v: &Value) -> String {
    v["type"]
        .as_str()
        .unwrap_or("")
        .rsplit('#')
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn rejects_missing_headers_bad_tokens_and_bad_bodies() {
    let env = env().await;
    let token = env.client.access_token().await.unwrap();
    let bearer = format!("Bearer {token}");
    let good: Vec<(&str, &str)> = vec![
        ("Ocp-Apim-Subscription-Key", "k"),
        ("Authorization", bearer.as_str()),
        ("Merchant-Serial-Number", MSN),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "abc-1"),
    ];
    let without = |name: &str| {
        good.iter()
            .filter(|(k, _)| *k != name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let body = serde_json::to_string(&draft(9900)).unwrap();
    let p = "/recurring/v3/agreements";

    let (s, v) = raw(
        &env,
        "POST",
        p,
        &without("Ocp-Apim-Subscription-Key"),
        Some(&body),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(v["responseInfo"]["responseCode"], 401);
    let (s, _) = raw(&env, "POST", p, &without("Authorization"), Some(&body)).await;
    assert_eq!(s, 401);
    let mut bad = without("Authorization");
    bad.push(("Authorization", "Bearer forged"));
    assert_eq!(raw(&env, "POST", p, &bad, Some(&body)).await.0, 401);
    let mut no_word = without("Authorization");
    no_word.push(("Authorization", &token));
    assert_eq!(raw(&env, "POST", p, &no_word, Some(&body)).await.0, 401);
    let (s, v) = raw(
        &env,
        "POST",
        p,
        &without("Merchant-Serial-Number"),
        Some(&body),
    )
    .await;
    assert_eq!((s, kind(&v).as_str()), (400, "missing-request-header"));
    let (s, v) = raw(&env, "POST", p, &without("Idempotency-Key"), Some(&body)).await;
    assert_eq!((s, kind(&v).as_str()), (400, "idempotency-key-header"));
    let mut bad_key = without("Idempotency-Key");
    bad_key.push(("Idempotency-Key", "a/b"));
    assert_eq!(raw(&env, "POST", p, &bad_key, Some(&body)).await.0, 400);

    let mut text = without("Content-Type");
    text.push(("Content-Type", "text/plain"));
    let (s, v) = raw(&env, "POST", p, &text, Some(&body)).await;
    assert_eq!((s, kind(&v).as_str()), (415, "unsupported-media-type"));

    let fresh = |k: &'static str| {
        let mut h = without("Idempotency-Key");
        h.push(("Idempotency-Key", k));
        h
    };
    let (s, v) = raw(&env, "POST", p, &fresh("k-json"), Some("{not json")).await;
    assert_eq!((s, kind(&v).as_str()), (400, "invalid-json"));
    let (s, v) = raw(
        &env,
        "POST",
        p,
        &fresh("k-missing"),
        Some(r#"{"productName":"x"}"#),
    )
    .await;
    assert_eq!((s, kind(&v).as_str()), (400, "validation-error"));
    assert_eq!(v["extraDetails"][0]["name"], "pricing");
    let mut v2 = serde_json::to_value(draft(9900)).unwrap();
    v2["customerPhoneNumber"] = json!("4791234567");
    let (s, v) = raw(&env, "POST", p, &fresh("k-v2"), Some(&v2.to_string())).await;
    assert_eq!((s, kind(&v).as_str()), (400, "validation-error"));
    assert_eq!(v["extraDetails"][0]["name"], "customerPhoneNumber");
    let mut long = serde_json::to_value(draft(9900)).unwrap();
    long["productName"] = json!("x".repeat(46));
    long["interval"]["unit"] = json!("FORTNIGHT");
    let (s, v) = raw(&env, "POST", p, &fresh("k-long"), Some(&long.to_string())).await;
    assert_eq!(s, 400);
    let fields: Vec<&str> = v["extraDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"productName") && fields.contains(&"interval.unit"),
        "{fields:?}"
    );
    let mut skip = serde_json::to_value(draft(9900)).unwrap();
    skip["skipLandingPage"] = json!(true);
    assert_eq!(
        raw(&env, "POST", p, &fresh("k-skip"), Some(&skip.to_string()))
            .await
            .0,
        403
    );

    // Another merchant cannot see the agreement.
    let d = env
        .client
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    let e = env
        .client
        .get_agreement("654321", &d.agreement_id)
        .await
        .unwrap_err();
    assert!(e.is_not_found());
}

#[tokio::test]
async fn drafts_expire_after_ten_minutes_of_simulator_time() {
    let env = env().await;
    let d = env
        .client
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    env.sim.advance_by(chrono::Duration::minutes(9));
    assert_eq!(
        env.client
            .get_agreement(MSN, &d.agreement_id)
            .await
            .unwrap()
            .status,
        AgreementStatus::Pending
    );
    env.sim.advance_by(chrono::Duration::minutes(2));
    let a = env
        .client
        .get_agreement(MSN, &d.agreement_id)
        .await
        .unwrap();
    assert_eq!(a.status, AgreementStatus::Expired);
    let init = env
        .client
        .get_charge(MSN, &d.agreement_id, d.charge_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(init.status, ChargeStatus::Cancelled);
    assert!(env.sim.approve(&d.agreement_id, None).is_err());
}

#[tokio::test]
async fn approval_paths_reject_and_failed_initial_payment() {
    let env = env().await;
    let c = &env.client;
    let d = c
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    env.sim.reject(&d.agreement_id).unwrap();
    assert_eq!(
        c.get_agreement(MSN, &d.agreement_id).await.unwrap().status,
        AgreementStatus::Stopped
    );

    env.sim.set_funding(PHONE, false);
    let d = c
        .draft_agreement(MSN, &draft(9900), key("d2"))
        .await
        .unwrap();
    assert_eq!(
        env.sim.approve(&d.agreement_id, None).unwrap(),
        AgreementStatus::Expired
    );
    let init = c
        .get_charge(MSN, &d.agreement_id, d.charge_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(init.status, ChargeStatus::Failed);
    assert_eq!(init.failure_reason, Some(FailureReason::UserActionRequired));

    // Without an initial charge the agreement activates even for an unfunded user.
    let mut no_initial = draft(9900);
    no_initial.initial_charge = None;
    let d = c
        .draft_agreement(MSN, &no_initial, key("d3"))
        .await
        .unwrap();
    assert_eq!(d.charge_id, None);
    assert_eq!(
        env.sim.approve(&d.agreement_id, None).unwrap(),
        AgreementStatus::Active
    );
}

#[tokio::test]
async fn user_stop_keeps_reservations_merchant_stop_cancels_them() {
    let env = env().await;
    let c = &env.client;
    for (by_user, expected) in [
        (true, ChargeStatus::Reserved),
        (false, ChargeStatus::Cancelled),
    ] {
        let mut req = draft(9900);
        let ic = req.initial_charge.as_mut().unwrap();
        ic.transaction_type = dialogpay::vipps::wire::TransactionType::ReserveCapture;
        let d = c
            .draft_agreement(MSN, &req, key(&format!("d-{by_user}")))
            .await
            .unwrap();
        env.sim.approve(&d.agreement_id, None).unwrap();
        let due = c
            .create_charge(
                MSN,
                &d.agreement_id,
                &charge(days_from_today(&env, 10), 9900),
                key(&format!("c-{by_user}")),
            )
            .await
            .unwrap();
        if by_user {
            env.sim.user_stop(&d.agreement_id).unwrap();
        } else {
            c.stop_agreement(MSN, &d.agreement_id, key(&format!("s-{by_user}")))
                .await
                .unwrap();
        }
        let init = c
            .get_charge(MSN, &d.agreement_id, d.charge_id.as_deref().unwrap())
            .await
            .unwrap();
        assert_eq!(init.status, expected, "by_user={by_user}");
        let rec = c
            .get_charge(MSN, &d.agreement_id, &due.charge_id)
            .await
            .unwrap();
        assert_eq!(rec.status, ChargeStatus::Cancelled);
    }
}

#[tokio::test]
async fn charge_creation_rules() {
    let env = env().await;
    let c = &env.client;
    let d = c
        .draft_agreement(MSN, &draft(10000), key("d1"))
        .await
        .unwrap();
    let kind = |e: VippsError| e.problem_kind().unwrap();
    // Not ACTIVE.
    let e = c
        .create_charge(
            MSN,
            &d.agreement_id,
            &charge(days_from_today(&env, 2), 10000),
            key("c0"),
        )
        .await
        .unwrap_err();
    assert_eq!(kind(e), ProblemKind::ChargeCreationFailed);
    env.sim.approve(&d.agreement_id, None).unwrap();
    let aid = d.agreement_id;
    // Lead time (1 day): today is too soon, tomorrow is fine.
    let e = c
        .create_charge(MSN, &aid, &charge(today(&env), 10000), key("c1"))
        .await
        .unwrap_err();
    assert_eq!(kind(e), ProblemKind::ChargeDueTooSoon);
    c.create_charge(
        MSN,
        &aid,
        &charge(days_from_today(&env, 1), 10000),
        key("c2"),
    )
    .await
    .unwrap();
    // At most two years ahead.
    let far = today(&env)
        .checked_add_months(chrono::Months::new(24))
        .unwrap()
        + Days::new(1);
    let e = c
        .create_charge(MSN, &aid, &charge(far, 10000), key("c3"))
        .await
        .unwrap_err();
    assert_eq!(kind(e), ProblemKind::ChargeDueInTooLong);
    // LEGACY: at most 5 × price per interval (the first interval already holds 100 kr).
    let mut big = charge(days_from_today(&env, 2), 40000);
    c.create_charge(MSN, &aid, &big, key("c4")).await.unwrap();
    big.amount = 100;
    let e = c
        .create_charge(MSN, &aid, &big, key("c5"))
        .await
        .unwrap_err();
    assert_eq!(kind(e), ProblemKind::ChargeAmountTooHigh);
    // The next interval has room again.
    let next = charge(days_from_today(&env, 40), 50000);
    c.create_charge(MSN, &aid, &next, key("c6")).await.unwrap();
    // Duplicate orderId: 409 conflict.
    let mut ord = charge(days_from_today(&env, 70), 10000);
    ord.order_id = Some("dp-order-0001".into());
    assert_eq!(
        c.create_charge(MSN, &aid, &ord, key("c7"))
            .await
            .unwrap()
            .charge_id,
        "dp-order-0001"
    );
    let e = c
        .create_charge(MSN, &aid, &ord, key("c8"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(kind(e), ProblemKind::Conflict);
    // The simulator also enforces retryDays 0–14 (the client would refuse to send it).
    let token = c.access_token().await.unwrap();
    let mut body = serde_json::to_value(charge(days_from_today(&env, 3), 100)).unwrap();
    body["retryDays"] = json!(15);
    let (s, v) = raw(
        &env,
        "POST",
        &format!("/recurring/v3/agreements/{aid}/charges"),
        &[
            ("Ocp-Apim-Subscription-Key", "k"),
            ("Authorization", &format!("Bearer {token}")),
            ("Merchant-Serial-Number", MSN),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "c9"),
        ],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(
        (s, v["extraDetails"][0]["name"].as_str()),
        (400, Some("retryDays"))
    );
}

#[tokio::test]
async fn variable_pricing_caps_and_user_max() {
    let env = env().await;
    let c = &env.client;
    let mut req = draft(10000);
    req.pricing = PricingRequest::variable_nok(30000);
    req.initial_charge = None;
    let d = c.draft_agreement(MSN, &req, key("d1")).await.unwrap();
    env.sim.approve(&d.agreement_id, None).unwrap();
    let a = c.get_agreement(MSN, &d.agreement_id).await.unwrap();
    assert_eq!(
        (a.pricing.suggested_max_amount, a.pricing.max_amount),
        (Some(30000), Some(30000))
    );
    let e = c
        .create_charge(
            MSN,
            &d.agreement_id,
            &charge(days_from_today(&env, 2), 30001),
            key("c1"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::ChargeAmountTooHigh));
    c.create_charge(
        MSN,
        &d.agreement_id,
        &charge(days_from_today(&env, 2), 30000),
        key("c2"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn charges_move_with_the_clock_and_retry_through_retry_days() {
    let env = env().await;
    let c = &env.client;
    let aid = active_agreement(&env, 9900, "d1").await;
    // Far ahead: PENDING until ~30 days before due.
    let far = c
        .create_charge(
            MSN,
            &aid,
            &charge(days_from_today(&env, 45), 9900),
            key("far"),
        )
        .await
        .unwrap();
    assert_eq!(
        c.get_charge(MSN, &aid, &far.charge_id)
            .await
            .unwrap()
            .status,
        ChargeStatus::Pending
    );
    env.sim.advance(16);
    assert_eq!(
        c.get_charge(MSN, &aid, &far.charge_id)
            .await
            .unwrap()
            .status,
        ChargeStatus::Due
    );

    // No money, retryDays 2: DUE with a reason on the first two attempts, FAILED on the third.
    env.sim.set_funding(PHONE, false);
    let mut req = charge(days_from_today(&env, 1), 9900);
    req.retry_days = 2;
    let failing = c.create_charge(MSN, &aid, &req, key("fail")).await.unwrap();
    env.sim.advance(1);
    let ch = c.get_charge(MSN, &aid, &failing.charge_id).await.unwrap();
    assert_eq!(
        (ch.status, ch.failure_reason),
        (ChargeStatus::Due, Some(FailureReason::UserActionRequired))
    );
    env.sim.advance(1);
    assert_eq!(
        c.get_charge(MSN, &aid, &failing.charge_id)
            .await
            .unwrap()
            .status,
        ChargeStatus::Due
    );
    env.sim.advance(1);
    let ch = c.get_charge(MSN, &aid, &failing.charge_id).await.unwrap();
    assert_eq!(ch.status, ChargeStatus::Failed);
    assert_eq!(ch.failure_reason, Some(FailureReason::UserActionRequired));

    // retryDays 0: one attempt.
    let mut once = charge(days_from_today(&env, 1), 9900);
    once.retry_days = 0;
    let once = c
        .create_charge(MSN, &aid, &once, key("once"))
        .await
        .unwrap();
    env.sim.advance(1);
    assert_eq!(
        c.get_charge(MSN, &aid, &once.charge_id)
            .await
            .unwrap()
            .status,
        ChargeStatus::Failed
    );
}

#[tokio::test]
async fn a_charge_recovers_when_funding_returns_within_retry_days() {
    let env = env().await;
    let c = &env.client;
    let aid = active_agreement(&env, 9900, "d1").await;
    env.sim.set_funding(PHONE, false);
    let mut req = charge(days_from_today(&env, 1), 9900);
    req.retry_days = 5;
    let r = c.create_charge(MSN, &aid, &req, key("c1")).await.unwrap();
    env.sim.advance(2);
    assert_eq!(
        c.get_charge(MSN, &aid, &r.charge_id).await.unwrap().status,
        ChargeStatus::Due
    );
    env.sim.set_funding(PHONE, true);
    env.sim.advance(1);
    let ch = c.get_charge(MSN, &aid, &r.charge_id).await.unwrap();
    assert_eq!(ch.status, ChargeStatus::Charged);
    assert_eq!(ch.failure_reason, None);
}

#[tokio::test]
async fn a_year_of_monthly_charges_in_a_second() {
    let env = env().await;
    let c = &env.client;
    let aid = active_agreement(&env, 9900, "d1").await;
    let mut ids = Vec::new();
    for month in 0..12 {
        let r = c
            .create_charge(
                MSN,
                &aid,
                &charge(days_from_today(&env, 2), 9900),
                key(&format!("m-{month}")),
            )
            .await
            .unwrap();
        ids.push(r.charge_id);
        env.sim.advance(30);
    }
    for id in &ids {
        assert_eq!(
            c.get_charge(MSN, &aid, id).await.unwrap().status,
            ChargeStatus::Charged
        );
    }
    assert!(env.sim.now() > start() + chrono::Duration::days(359));
}

#[tokio::test]
async fn control_api_clock_funding_requests_and_reset() {
    let env = env().await;
    let h = &env.http;
    let url = |p: &str| format!("{}{p}", env.base);
    let v: Value = h
        .get(url("/_sim/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["now"], "2026-12-01T09:00:00Z");
    let v: Value = h
        .post(url("/_sim/clock"))
        .json(&json!({"advance_days": 3}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["now"], "2026-12-04T09:00:00Z");
    let v: Value = h
        .post(url("/_sim/clock"))
        .json(&json!({"set": "2027-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["now"], "2027-01-01T00:00:00Z");

    let d = env
        .client
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    let resp = h
        .post(url(&format!("/_sim/agreements/{}/approve", d.agreement_id)))
        .json(&json!({"phoneNumber": "4799999999"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let dump: Value = h
        .get(url("/_sim/agreements"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump[0]["agreementId"], d.agreement_id.as_str());
    assert_eq!(dump[0]["status"], "ACTIVE");
    assert_eq!(dump[0]["phoneNumber"], "4799999999");
    assert_eq!(dump[0]["charges"][0]["status"], "CHARGED");
    let again = h
        .post(url(&format!("/_sim/agreements/{}/approve", d.agreement_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    let resp = h
        .post(url("/_sim/users/4799999999/funding"))
        .json(&json!({"ok": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut req = charge(
        dialogpay::vipps::sim::engine::oslo_date(env.sim.now()) + Days::new(1),
        9900,
    );
    req.retry_days = 0;
    let r = env
        .client
        .create_charge(MSN, &d.agreement_id, &req, key("c1"))
        .await
        .unwrap();
    h.post(url("/_sim/clock"))
        .json(&json!({"advance_days": 1}))
        .send()
        .await
        .unwrap();
    let ch = env
        .client
        .get_charge(MSN, &d.agreement_id, &r.charge_id)
        .await
        .unwrap();
    assert_eq!(ch.status, ChargeStatus::Failed);

    let stop = h
        .post(url(&format!("/_sim/agreements/{}/stop", d.agreement_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 200);

    let reqs: Value = h
        .get(url("/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let create = reqs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation"] == "create_charge")
        .unwrap();
    assert_eq!(create["body"]["retryDays"], 0);
    assert_eq!(create["headers"]["idempotency-key"], "c1");

    let f: Value = h
        .post(url("/_sim/faults"))
        .json(&json!({"latency_ms": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["latency_ms"], 5);
    assert_eq!(
        h.delete(url("/_sim/faults")).send().await.unwrap().status(),
        204
    );
    assert_eq!(
        h.post(url("/_sim/reset")).send().await.unwrap().status(),
        204
    );
    let dump: Value = h
        .get(url("/_sim/agreements"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump, json!([]));
    assert!(
        env.client
            .get_agreement(MSN, &d.agreement_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn rate_limiting_answers_429_with_retry_after() {
    let env = env().await;
    env.sim.add_faults(dialogpay::vipps::sim::Faults {
        rate_limit: Some(true),
        ..Default::default()
    });
    let q = Default::default();
    for _ in 0..5 {
        env.client.list_agreements(MSN, &q).await.unwrap();
    }
    let e = env.client.list_agreements(MSN, &q).await.unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert!(e.is_retryable());
    let wait = e.retry_after().unwrap();
    assert!(wait.as_secs() >= 1 && wait.as_secs() <= 60, "{wait:?}");
    // Limits are per merchant.
    env.client.list_agreements("654321", &q).await.unwrap();
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sim.json");
    let cfg = SimConfig {
        state_file: Some(file.clone()),
        ..config()
    };
    let env = env_with(cfg.clone()).await;
    let aid = active_agreement(&env, 9900, "d1").await;
    env.sim.advance(3);
    let now = env.sim.now();
    drop(env);
    let sim = Simulator::new(cfg).unwrap();
    assert_eq!(sim.now(), now);
    let dump = sim.agreements();
    assert_eq!(dump.len(), 1);
    assert_eq!(dump[0].agreement_id, aid);
    assert_eq!(dump[0].status, AgreementStatus::Active);
}

#[tokio::test]
async fn works_nested_under_a_prefix() {
    let sim = Simulator::new(config()).unwrap();
    let acceptor = {
        use poem::listener::Listener;
        poem::listener::TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap()
    };
    let addr = {
        use poem::listener::Acceptor;
        *acceptor.local_addr()[0].as_socket_addr().unwrap()
    };
    sim.set_public_base_url(&format!("http://{addr}/vipps-sim"));
    let app = poem::Route::new().nest("/vipps-sim", sim.endpoint());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    let client = VippsClient::with_base_url(&settings(), &sim.public_base_url()).unwrap();
    let d = client
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    let link = d.vipps_confirmation_url.unwrap();
    assert_eq!(
        link,
        format!("http://{addr}/vipps-sim/landing/{}", d.agreement_id)
    );
    let html = reqwest::get(format!("{link}/pin"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!(
        "action=\"http://{addr}/vipps-sim/landing/{}/confirm\"",
        d.agreement_id
    )));
    let resp = reqwest::Client::new()
        .post(format!("{link}/confirm"))
        .form(&[("pin", "1236"), ("phone", PHONE)])
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("active"));
    assert_eq!(
        client
            .get_agreement(MSN, &d.agreement_id)
            .await
            .unwrap()
            .status,
        AgreementStatus::Active
    );
    assert_eq!(sim.requests()[0].path, "/accesstoken/get");
}

/// A 149,50 kr monthly draft and its confirmation link (the landing page).
async fn drafted_for_landing(
    env: &Env,
) -> (dialogpay::vipps::wire::DraftAgreementResponse, String) {
    let d = env
        .client
        .draft_agreement(MSN, &draft(14950), key("d1"))
        .await
        .unwrap();
    let link = d.vipps_confirmation_url.clone().unwrap();
    (d, link)
}

async fn page_text(url: String) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// The page a form post to `url` answers (the PIN step's confirm).
async fn posted_page(env: &Env, url: String, form: &[(&str, &str)]) -> String {
    let resp = env.http.post(url).form(form).send().await.unwrap();
    resp.text().await.unwrap()
}

#[tokio::test]
async fn landing_page_shows_the_agreement_and_its_buttons_work() {
    let env = env().await;
    let (d, link) = drafted_for_landing(&env).await;
    let get = page_text;
    // The seed's steps: open in the app → the confirmation screen → the PIN.
    let open = get(link.clone()).await;
    assert!(open.contains("Open in the Vipps app?"), "{open}");
    assert!(open.contains(&format!("href=\"{link}/app\"")), "{open}");
    let app = get(format!("{link}/app")).await;
    for needle in [
        "Monthly support",
        "149,50 kr",
        "every month",
        "Confirm and pay",
        "Reject",
        &format!("href=\"{link}/pin\""),
    ] {
        assert!(app.contains(needle), "{needle} missing");
    }
    let pin = get(format!("{link}/pin")).await;
    for needle in ["name=\"pin\"", "Confirm and pay", PHONE] {
        assert!(pin.contains(needle), "{needle} missing");
    }
    let bad_pin = posted_page(&env, format!("{link}/confirm"), &[("pin", "12")]).await;
    assert!(bad_pin.contains("4–6 digits"));
    assert_eq!(
        env.client
            .get_agreement(MSN, &d.agreement_id)
            .await
            .unwrap()
            .status,
        AgreementStatus::Pending
    );
    let rej = env
        .http
        .post(format!("{link}/reject"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rej.contains("rejected") && rej.contains("https://dialogpay.example/thanks"));
    assert_eq!(
        env.client
            .get_agreement(MSN, &d.agreement_id)
            .await
            .unwrap()
            .status,
        AgreementStatus::Stopped
    );
    let html = reqwest::get(&link).await.unwrap().text().await.unwrap();
    assert!(html.contains("This agreement is STOPPED"));
}

#[tokio::test]
async fn draft_idempotency_is_honoured_unless_configured_like_real_vipps() {
    let env = env().await;
    let a = env
        .client
        .draft_agreement(MSN, &draft(9900), key("same"))
        .await
        .unwrap();
    let b = env
        .client
        .draft_agreement(MSN, &draft(9900), key("same"))
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(env.sim.agreements().len(), 1);

    let env = env_with(SimConfig {
        draft_idempotency: false,
        ..config()
    })
    .await;
    let a = env
        .client
        .draft_agreement(MSN, &draft(9900), key("same"))
        .await
        .unwrap();
    let b = env
        .client
        .draft_agreement(MSN, &draft(9900), key("same"))
        .await
        .unwrap();
    assert_ne!(a.agreement_id, b.agreement_id);
    assert_eq!(env.sim.agreements().len(), 2);
}

#[tokio::test]
async fn faults_can_target_a_path_and_use_an_error_rate() {
    let env = env().await;
    let aid = active_agreement(&env, 9900, "d1").await;
    env.sim.add_faults(dialogpay::vipps::sim::Faults {
        error_rate: Some(1.0),
        path: Some("/recurring/v3/charges".into()),
        ..Default::default()
    });
    env.client.get_agreement(MSN, &aid).await.unwrap();
    let e = env
        .client
        .get_charge_by_id(MSN, "chr-anything")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.is_retryable());
    env.sim.clear_faults();
    assert!(
        env.client
            .get_charge_by_id(MSN, "chr-anything")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn after_the_pin_the_user_sees_paid_and_every_payment_under_recurring_payments() {
    let env = env().await;
    let (d, link) = drafted_for_landing(&env).await;
    let paid = posted_page(
        &env,
        format!("{link}/confirm"),
        &[("pin", "1234"), ("phone", PHONE)],
    )
    .await;
    assert!(paid.contains("Paid 149,50 kr"), "{paid}");
    let phone = PHONE.trim_start_matches('+');
    let list_url = format!("{}/app/{phone}/recurring", env.base);
    assert!(paid.contains(&format!("href=\"{list_url}\"")), "{paid}");
    let list = page_text(list_url.clone()).await;
    assert!(
        list.contains("Monthly support") && list.contains("ACTIVE"),
        "{list}"
    );
    let history = page_text(format!("{list_url}/{}", d.agreement_id)).await;
    assert!(history.contains("id=\"history\""), "{history}");
    assert!(
        history.contains("CHARGED") && history.contains("149,50 kr"),
        "{history}"
    );
    let stranger = page_text(format!(
        "{}/app/4700000000/recurring/{}",
        env.base, d.agreement_id
    ))
    .await;
    assert!(
        stranger.contains("not valid"),
        "another phone sees nothing: {stranger}"
    );
}

#[tokio::test]
async fn a_back_path_is_carried_to_the_last_step_and_nothing_else_is() {
    let env = env().await;
    let (_, link) = drafted_for_landing(&env).await;
    let q = "?back=%2Fportal%2Fdialogues%2Fd1%2Ftry%3Fphone%3D%252B47";
    let open = page_text(format!("{link}{q}")).await;
    assert!(open.contains(&format!("href=\"{link}/app{q}\"")), "{open}");
    let app = page_text(format!("{link}/app{q}")).await;
    assert!(app.contains(&format!("href=\"{link}/pin{q}\"")), "{app}");
    assert!(app.contains(&format!("action=\"{link}/reject{q}\"")));
    let pin = page_text(format!("{link}/pin{q}")).await;
    assert!(
        pin.contains(&format!("action=\"{link}/confirm{q}\"")),
        "{pin}"
    );
    for (back, shown) in [
        (q, Some("/portal/dialogues/d1/try?phone=%2B47")),
        ("?back=%2F%2Fevil.example%2F", None),
        ("?back=https%3A%2F%2Fevil.example%2F", None),
    ] {
        let open = page_text(format!("{link}{back}")).await;
        assert_eq!(open.contains("?back="), shown.is_some(), "{back}: {open}");
        if let Some(path) = shown {
            let paid = posted_page(&env, format!("{link}/confirm{back}"), &[("pin", "1234")]).await;
            assert!(
                paid.contains(&format!("id=\"back-to\" href=\"{path}\"")),
                "{paid}"
            );
        }
    }
}
