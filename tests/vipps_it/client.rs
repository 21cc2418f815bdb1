//! The client against the simulator: every call, headers, token caching, error shapes and
//! retry classification.

use std::time::Duration;

use dialogpay::vipps::client::Applied;
use dialogpay::vipps::sim::{Faults, SimCredentials};
use dialogpay::vipps::wire::{
    AgreementPatch, AgreementStatus, BatchChargeItem, CaptureRequest, ChargeStatus, ErrorBody,
    ListAgreementsQuery, PhoneNumber, ProblemKind, RefundRequest, RegisterWebhookRequest,
    TransactionType,
};
use dialogpay::vipps::{VippsClient, VippsError};

use crate::support::*;

#[tokio::test]
async fn full_direct_capture_journey() {
    let env = env().await;
    let c = &env.client;
    let d = c
        .draft_agreement(MSN, &draft(9900), key("draft-1"))
        .await
        .unwrap();
    assert!(d.agreement_id.starts_with("agr_"));
    assert_eq!(
        d.vipps_confirmation_url.as_deref(),
        Some(format!("{}/landing/{}", env.base, d.agreement_id).as_str())
    );
    let initial = d.charge_id.clone().unwrap();
    let a = c.get_agreement(MSN, &d.agreement_id).await.unwrap();
    assert_eq!(a.status, AgreementStatus::Pending);
    assert_eq!(a.pricing.amount, Some(9900));
    assert_eq!(a.interval.text.as_deref(), Some("every month"));

    env.sim.approve(&d.agreement_id, None).unwrap();
    let a = c.get_agreement(MSN, &d.agreement_id).await.unwrap();
    assert_eq!(a.status, AgreementStatus::Active);
    assert!(a.start.is_some());
    let init = c.get_charge(MSN, &d.agreement_id, &initial).await.unwrap();
    assert_eq!(init.status, ChargeStatus::Charged);
    assert_eq!(init.summary.captured, 9900);

    let due = days_from_today(&env, 5);
    let r = c
        .create_charge(MSN, &d.agreement_id, &charge(due, 9900), key("charge-1"))
        .await
        .unwrap();
    let ch = c
        .get_charge(MSN, &d.agreement_id, &r.charge_id)
        .await
        .unwrap();
    assert_eq!(ch.status, ChargeStatus::Due);
    assert_eq!(ch.due.date_naive(), due);
    assert_eq!(ch.external_agreement_id.as_deref(), Some("dp-agreement-1"));
    let all = c.list_charges(MSN, &d.agreement_id, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let due_only = c
        .list_charges(MSN, &d.agreement_id, Some(&ChargeStatus::Due))
        .await
        .unwrap();
    assert_eq!(due_only.len(), 1);

    env.sim.advance(5);
    let ch = c
        .get_charge(MSN, &d.agreement_id, &r.charge_id)
        .await
        .unwrap();
    assert_eq!(ch.status, ChargeStatus::Charged);
    assert!(ch.transaction_id.is_some());

    let refund = |amount, k: &'static str| {
        let req = RefundRequest {
            amount,
            description: "Goodwill".into(),
        };
        let c = c.clone();
        let aid = d.agreement_id.clone();
        let cid = r.charge_id.clone();
        async move { c.refund_charge(MSN, &aid, &cid, &req, key(k)).await }
    };
    assert_eq!(refund(4000, "refund-1").await.unwrap(), Applied::Done);
    let ch = c.get_charge_by_id(MSN, &r.charge_id).await.unwrap();
    assert_eq!(ch.status, ChargeStatus::PartiallyRefunded);
    refund(5900, "refund-2").await.unwrap();
    let ch = c
        .get_charge(MSN, &d.agreement_id, &r.charge_id)
        .await
        .unwrap();
    assert_eq!(
        (ch.status, ch.summary.refunded),
        (ChargeStatus::Refunded, 9900)
    );
    let e = refund(100, "refund-3").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn reserve_capture_and_cancel() {
    let env = env().await;
    let c = &env.client;
    let mut req = draft(20000);
    req.initial_charge.as_mut().unwrap().transaction_type = TransactionType::ReserveCapture;
    let d = c.draft_agreement(MSN, &req, key("draft-r")).await.unwrap();
    env.sim.approve(&d.agreement_id, Some(PHONE)).unwrap();
    let cid = d.charge_id.unwrap();
    let ch = c.get_charge(MSN, &d.agreement_id, &cid).await.unwrap();
    assert_eq!(ch.status, ChargeStatus::Reserved);
    let cap = CaptureRequest {
        amount: 15000,
        description: "Partial delivery".into(),
    };
    c.capture_charge(MSN, &d.agreement_id, &cid, &cap, key("cap-1"))
        .await
        .unwrap();
    let ch = c.get_charge(MSN, &d.agreement_id, &cid).await.unwrap();
    assert_eq!(
        (ch.status, ch.summary.captured),
        (ChargeStatus::PartiallyCaptured, 15000)
    );
    let too_much = CaptureRequest {
        amount: 6000,
        description: "rest".into(),
    };
    let e = c
        .capture_charge(MSN, &d.agreement_id, &cid, &too_much, key("cap-2"))
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::ChargeCaptureFailed));
    c.cancel_charge(MSN, &d.agreement_id, &cid, key("cancel-1"))
        .await
        .unwrap();
    let ch = c.get_charge(MSN, &d.agreement_id, &cid).await.unwrap();
    assert_eq!(ch.status, ChargeStatus::Charged);
    assert_eq!((ch.summary.captured, ch.summary.cancelled), (15000, 5000));
    let e = c
        .cancel_charge(MSN, &d.agreement_id, &cid, key("cancel-2"))
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::CancelChargeFailed));
}

#[tokio::test]
async fn update_stop_list_and_force_accept() {
    let env = env().await;
    let c = &env.client;
    let aid = active_agreement(&env, 9900, "d1").await;
    assert_eq!(
        c.update_agreement(MSN, &aid, &AgreementPatch::price(14900), key("price-1"))
            .await
            .unwrap(),
        Applied::Done
    );
    assert_eq!(
        c.get_agreement(MSN, &aid).await.unwrap().pricing.amount,
        Some(14900)
    );
    let r = c
        .create_charge(
            MSN,
            &aid,
            &charge(days_from_today(&env, 3), 14900),
            key("c1"),
        )
        .await
        .unwrap();

    let pending = c
        .draft_agreement(MSN, &draft(5000), key("d2"))
        .await
        .unwrap();
    let active = c
        .list_agreements(MSN, &ListAgreementsQuery::default())
        .await
        .unwrap();
    assert_eq!(
        active.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [aid.as_str()]
    );
    let q = ListAgreementsQuery {
        status: Some(AgreementStatus::Pending),
        created_after: Some(0),
    };
    let listed = c.list_agreements(MSN, &q).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, pending.agreement_id);

    c.force_accept_agreement(
        MSN,
        &pending.agreement_id,
        &PhoneNumber::new(PHONE),
        key("acc-1"),
    )
    .await
    .unwrap();
    assert_eq!(
        c.get_agreement(MSN, &pending.agreement_id)
            .await
            .unwrap()
            .status,
        AgreementStatus::Active
    );

    c.stop_agreement(MSN, &aid, key("stop-1")).await.unwrap();
    let a = c.get_agreement(MSN, &aid).await.unwrap();
    assert_eq!(a.status, AgreementStatus::Stopped);
    assert!(a.stop.is_some());
    let ch = c.get_charge(MSN, &aid, &r.charge_id).await.unwrap();
    assert_eq!(ch.status, ChargeStatus::Cancelled);
    let e = c
        .stop_agreement(MSN, &aid, key("stop-2"))
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::IllegalAgreementUpdate));
}

#[tokio::test]
async fn batch_charges_and_webhook_registrations() {
    let env = env().await;
    let c = &env.client;
    let aid = active_agreement(&env, 9900, "d1").await;
    let item = |order: &str| BatchChargeItem {
        agreement_id: aid.clone(),
        amount: 9900,
        transaction_type: TransactionType::DirectCapture,
        description: "Batch".into(),
        due: days_from_today(&env, 2),
        retry_days: 1,
        order_id: order.into(),
        external_id: None,
    };
    let r = c
        .create_charges_batch(
            MSN,
            &[item("batch-0001"), item("batch-0002")],
            key("batch-1"),
        )
        .await
        .unwrap();
    assert_eq!(r.valid_charges, ["batch-0001", "batch-0002"]);
    assert!(r.invalid_charges.is_empty());
    assert_eq!(
        c.get_charge(MSN, &aid, "batch-0002").await.unwrap().amount,
        9900
    );
    assert!(
        c.create_charges_batch(MSN, &[], key("batch-2"))
            .await
            .is_err()
    );

    let reg = c
        .register_webhook(
            MSN,
            &RegisterWebhookRequest {
                url: "https://dialogpay.example/webhooks/vipps".into(),
                events: vec!["recurring.agreement-stopped.v1".into()],
            },
        )
        .await
        .unwrap();
    assert!(!reg.secret.is_empty());
    let list = c.list_webhooks(MSN).await.unwrap();
    assert_eq!(list.webhooks.len(), 1);
    assert_eq!(list.webhooks[0].id, reg.id);
    assert!(c.list_webhooks("654321").await.unwrap().webhooks.is_empty());
    c.delete_webhook(MSN, &reg.id).await.unwrap();
    assert!(c.list_webhooks(MSN).await.unwrap().webhooks.is_empty());
    assert!(
        c.delete_webhook(MSN, &reg.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn every_request_carries_the_required_headers() {
    let env = env().await;
    let aid = active_agreement(&env, 9900, "d1").await;
    env.client.get_agreement(MSN, &aid).await.unwrap();
    env.client
        .create_charge(
            MSN,
            &aid,
            &charge(days_from_today(&env, 2), 9900),
            key("c-1"),
        )
        .await
        .unwrap();
    let reqs = env.sim.requests();
    let token = reqs.iter().find(|r| r.path == "/accesstoken/get").unwrap();
    assert_eq!(token.headers["client_id"], "client-id");
    assert_eq!(token.headers["client_secret"], "***");
    assert_eq!(token.headers["ocp-apim-subscription-key"], "sub-key");
    for r in reqs.iter().filter(|r| r.path.starts_with("/recurring")) {
        let h = &r.headers;
        assert!(h["authorization"].starts_with("Bearer sim."), "{r:?}");
        assert_eq!(h["ocp-apim-subscription-key"], "sub-key");
        assert_eq!(h["merchant-serial-number"], MSN);
        assert_eq!(h["vipps-system-name"], "dialogpay");
        assert!(h.contains_key("vipps-system-version"));
        assert_eq!(h["vipps-system-plugin-name"], "dialogpay-tests");
        assert_eq!(h["vipps-system-plugin-version"], "1.0.0");
        if r.method != "GET" {
            assert!(h.contains_key("idempotency-key"), "{r:?}");
            assert_eq!(h["content-type"], "application/json");
        } else {
            assert!(!h.contains_key("idempotency-key"));
        }
    }
}

#[tokio::test]
async fn one_token_fetch_for_a_thousand_concurrent_calls() {
    let env = env().await;
    let aid = active_agreement(&env, 9900, "d1").await;
    env.sim.clear_requests();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let c = env.client.clone();
        let aid = aid.clone();
        tasks.push(tokio::spawn(
            async move { c.get_agreement(MSN, &aid).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        requests_for(&env, "access_token").len(),
        0,
        "token fetched by the draft already"
    );
    assert_eq!(requests_for(&env, "fetch_agreement").len(), 1000);

    // A fresh client: exactly one token fetch for 1000 concurrent callers.
    let fresh = VippsClient::with_base_url(&settings(), &env.base).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let c = fresh.clone();
        let aid = aid.clone();
        tasks.push(tokio::spawn(
            async move { c.get_agreement(MSN, &aid).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(requests_for(&env, "access_token").len(), 1);
}

#[tokio::test]
async fn expired_token_gets_one_refresh_and_retry() {
    let env = env().await;
    let aid = active_agreement(&env, 9900, "d1").await;
    env.sim.clear_requests();
    // The simulator's token lives one simulator hour; walking the clock expires it while
    // the client still believes it valid.
    env.sim.advance_by(chrono::Duration::hours(2));
    let a = env.client.get_agreement(MSN, &aid).await.unwrap();
    assert_eq!(a.id, aid);
    assert_eq!(requests_for(&env, "access_token").len(), 1);
    assert_eq!(requests_for(&env, "fetch_agreement").len(), 2);
}

#[tokio::test]
async fn bad_credentials_are_a_permanent_gateway_401() {
    let mut cfg = config();
    cfg.credentials = Some(SimCredentials {
        client_id: "other".into(),
        client_secret: "x".into(),
        subscription_key: "y".into(),
    });
    let env = env_with(cfg).await;
    let e = env.client.get_agreement(MSN, "agr_x").await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e.is_auth() && !e.is_retryable());
    assert!(
        matches!(
            e,
            VippsError::Api {
                body: ErrorBody::Gateway(_),
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn validation_happens_before_sending() {
    let env = env().await;
    let mut d = draft(9900);
    d.product_name = "x".repeat(46);
    let e = env
        .client
        .draft_agreement(MSN, &d, key("d1"))
        .await
        .unwrap_err();
    let VippsError::Validation(v) = &e else {
        panic!("{e:?}")
    };
    assert!(v.has("productName"));
    assert!(e.to_string().contains("productName"));
    let mut ch = charge(days_from_today(&env, 2), 50);
    ch.retry_days = 15;
    let e = env
        .client
        .create_charge(MSN, "agr_x", &ch, key("c1"))
        .await
        .unwrap_err();
    let VippsError::Validation(v) = &e else {
        panic!("{e:?}")
    };
    assert!(v.has("amount") && v.has("retryDays"));
    assert!(matches!(
        env.client.get_agreement("12", "agr_x").await,
        Err(VippsError::Validation(_))
    ));
    assert!(matches!(
        env.client.get_agreement(MSN, "../etc").await,
        Err(VippsError::Validation(_))
    ));
    assert!(env.sim.requests().is_empty(), "nothing may reach Vipps");
}

#[tokio::test]
async fn server_errors_classify_for_retry() {
    let env = env().await;
    let aid = active_agreement(&env, 9900, "d1").await;
    let c = &env.client;

    let e = c.get_agreement(MSN, "agr_missing").await.unwrap_err();
    assert!(e.is_not_found() && !e.is_retryable());
    assert_eq!(e.problem_kind(), Some(ProblemKind::ResourceNotFound));

    let e = c
        .create_charge(MSN, &aid, &charge(today(&env), 9900), key("c-soon"))
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::ChargeDueTooSoon));
    assert!(!e.is_retryable());

    env.sim.add_faults(Faults {
        status: Some(503),
        count: Some(2),
        ..Faults::default()
    });
    let req = charge(days_from_today(&env, 2), 9900);
    for _ in 0..2 {
        let e = c
            .create_charge(MSN, &aid, &req, key("c-retry"))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert!(e.is_retryable());
    }
    // The injected failures happened before the work: the same key now succeeds, once.
    let ok = c
        .create_charge(MSN, &aid, &req, key("c-retry"))
        .await
        .unwrap();
    let again = c
        .create_charge(MSN, &aid, &req, key("c-retry"))
        .await
        .unwrap();
    assert_eq!(ok, again);

    env.sim.add_faults(Faults {
        status: Some(429),
        count: Some(1),
        ..Faults::default()
    });
    let e = c.get_agreement(MSN, &aid).await.unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));

    env.sim.add_faults(Faults {
        drop_connection: Some(1),
        ..Faults::default()
    });
    let e = c.get_agreement(MSN, &aid).await.unwrap_err();
    assert!(
        matches!(e, VippsError::Transport { .. } | VippsError::Connect { .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    c.get_agreement(MSN, &aid).await.unwrap();

    env.sim.add_faults(Faults {
        latency_ms: Some(3_000),
        ..Faults::default()
    });
    let e = c.get_agreement(MSN, &aid).await.unwrap_err();
    assert!(matches!(e, VippsError::Timeout { .. }), "{e:?}");
    assert!(e.is_retryable());
    env.sim.clear_faults();

    let unreachable = VippsClient::with_base_url(&settings(), "http://127.0.0.1:9").unwrap();
    let e = unreachable.get_agreement(MSN, &aid).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
}

#[tokio::test]
async fn idempotency_replay_conflict_and_sticky_4xx() {
    let env = env().await;
    let c = &env.client;
    let d = c
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    let req = charge(days_from_today(&env, 2), 9900);
    // A 4xx (agreement not active yet) stays attached to its key…
    let e = c
        .create_charge(MSN, &d.agreement_id, &req, key("k1"))
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::ChargeCreationFailed));
    env.sim.approve(&d.agreement_id, None).unwrap();
    let e = c
        .create_charge(MSN, &d.agreement_id, &req, key("k1"))
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::ChargeCreationFailed));
    // …a new key does the work.
    let r1 = c
        .create_charge(MSN, &d.agreement_id, &req, key("k2"))
        .await
        .unwrap();
    let r2 = c
        .create_charge(MSN, &d.agreement_id, &req, key("k2"))
        .await
        .unwrap();
    assert_eq!(r1, r2);
    let charges = c.list_charges(MSN, &d.agreement_id, None).await.unwrap();
    assert_eq!(charges.len(), 2, "initial + one recurring");
    // Same key, different body: 409.
    let mut other = req.clone();
    other.amount = 9800;
    let e = c
        .create_charge(MSN, &d.agreement_id, &other, key("k2"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.problem_kind(), Some(ProblemKind::IdempotencyConflict));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn webhooks_cli_commands_run_against_the_configured_simulator() {
    use dialogpay::vipps::cli::{WebhooksCommand, run_webhooks};
    let env = env().await;
    let mut s = settings();
    s.simulator.public_base_url = env.base.clone();
    run_webhooks(
        WebhooksCommand::Register {
            msn: MSN.into(),
            url: "https://dialogpay.example/hooks".into(),
            events: vec![],
        },
        &s,
    )
    .await
    .unwrap();
    let list = env.client.list_webhooks(MSN).await.unwrap();
    assert_eq!(list.webhooks.len(), 1);
    assert_eq!(
        list.webhooks[0].events.len(),
        10,
        "all recurring events by default"
    );
    run_webhooks(WebhooksCommand::List { msn: MSN.into() }, &s)
        .await
        .unwrap();
    let id = list.webhooks[0].id.clone();
    run_webhooks(
        WebhooksCommand::Delete {
            msn: MSN.into(),
            id: id.clone(),
        },
        &s,
    )
    .await
    .unwrap();
    assert!(
        env.client
            .list_webhooks(MSN)
            .await
            .unwrap()
            .webhooks
            .is_empty()
    );
    assert!(
        run_webhooks(
            WebhooksCommand::Delete {
                msn: MSN.into(),
                id
            },
            &s
        )
        .await
        .is_err()
    );
}
