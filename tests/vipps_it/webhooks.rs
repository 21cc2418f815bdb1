//! Signed webhook delivery from the simulator to a real receiver, with retries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dialogpay::vipps::wire::{Actor, RegisterWebhookRequest, WebhookEvent, event_names as ev};
use dialogpay::vipps::{WebhookHeaders, verify_webhook};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Route, Server, post};

use crate::support::*;

#[derive(Clone, Debug)]
struct Received {
    date: String,
    hash: String,
    auth: String,
    host: String,
    body: Vec<u8>,
}

/// A receiver that fails the first `fail_first` deliveries with 500.
async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = Arc::new(Mutex::new(0usize));
    let g = got.clone();
    let ep = poem::endpoint::make(move |req: Request| {
        let got = g.clone();
        let seen = seen.clone();
        async move {
            let h = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let (date, hash, auth, host) = (
                h("x-ms-date"),
                h("x-ms-content-sha256"),
                h("authorization"),
                h("host"),
            );
            let body = req.into_body().into_vec().await.unwrap_or_default();
            let n = {
                let mut s = seen.lock().unwrap();
                *s += 1;
                *s
            };
            if n <= fail_first {
                return Response::builder()
                    .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
                    .finish();
            }
            got.lock().unwrap().push(Received {
                date,
                hash,
                auth,
                host,
                body,
            });
            Response::builder()
                .status(poem::http::StatusCode::ACCEPTED)
                .finish()
        }
    });
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    tokio::spawn(
        Server::new_with_acceptor(acceptor).run(Route::new().at("/hooks/vipps", post(ep))),
    );
    (format!("http://{addr}/hooks/vipps?src=vipps"), got)
}

async fn wait_for(got: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    for _ in 0..200 {
        let v = got.lock().unwrap().clone();
        if v.len() >= n {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("only {} deliveries arrived", got.lock().unwrap().len());
}

fn event(r: &Received) -> WebhookEvent {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn state_changes_are_delivered_signed_and_in_order() {
    let env = env().await;
    let (url, got) = receiver(0).await;
    let reg = env
        .client
        .register_webhook(
            MSN,
            &RegisterWebhookRequest {
                url: url.clone(),
                events: ev::ALL_RECURRING.iter().map(|e| (*e).to_owned()).collect(),
            },
        )
        .await
        .unwrap();
    let aid = active_agreement(&env, 9900, "d1").await;
    let r = env
        .client
        .create_charge(
            MSN,
            &aid,
            &charge(days_from_today(&env, 1), 9900),
            key("c1"),
        )
        .await
        .unwrap();
    env.sim.advance(1);
    env.sim.user_stop(&aid).unwrap();
    let all = wait_for(&got, 4).await;
    let types: Vec<String> = all.iter().map(|r| event(r).event_type).collect();
    assert_eq!(
        types,
        [
            ev::AGREEMENT_ACTIVATED,
            ev::CHARGE_CAPTURED,
            ev::CHARGE_CAPTURED,
            ev::AGREEMENT_STOPPED
        ]
    );
    let captured = event(&all[2]);
    assert_eq!(captured.charge_id.as_deref(), Some(r.charge_id.as_str()));
    assert_eq!(captured.amount_captured, Some(9900));
    assert_eq!(captured.msn.as_deref(), Some(MSN));
    let stopped = event(&all[3]);
    assert_eq!(stopped.actor, Some(Actor::User));
    assert_eq!(
        stopped.agreement_external_id.as_deref(),
        Some("dp-agreement-1")
    );

    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    for r in &all {
        assert_eq!(r.host, host);
        let headers = WebhookHeaders {
            date: &r.date,
            content_sha256: &r.hash,
            authorization: &r.auth,
        };
        verify_webhook(
            &reg.secret,
            "POST",
            "/hooks/vipps?src=vipps",
            &host,
            &headers,
            &r.body,
        )
        .unwrap();
        assert!(
            verify_webhook(
                "wrong",
                "POST",
                "/hooks/vipps?src=vipps",
                &host,
                &headers,
                &r.body
            )
            .is_err()
        );
        assert!(httpdate::parse_http_date(&r.date).is_ok());
    }
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff() {
    let env = env().await;
    let (url, got) = receiver(2).await;
    env.client
        .register_webhook(
            MSN,
            &RegisterWebhookRequest {
                url,
                events: vec![ev::AGREEMENT_REJECTED.into(), ev::AGREEMENT_EXPIRED.into()],
            },
        )
        .await
        .unwrap();
    let d = env
        .client
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    env.sim.reject(&d.agreement_id).unwrap();
    let d2 = env
        .client
        .draft_agreement(MSN, &draft(9900), key("d2"))
        .await
        .unwrap();
    env.sim.advance_by(chrono::Duration::minutes(11));
    let all = wait_for(&got, 2).await;
    // The rejected event was retried until accepted and still came first.
    assert_eq!(event(&all[0]).event_type, ev::AGREEMENT_REJECTED);
    assert_eq!(
        event(&all[0]).agreement_id.as_deref(),
        Some(d.agreement_id.as_str())
    );
    assert_eq!(event(&all[1]).event_type, ev::AGREEMENT_EXPIRED);
    assert_eq!(
        event(&all[1]).agreement_id.as_deref(),
        Some(d2.agreement_id.as_str())
    );
    let attempts = env.sim.deliveries();
    let first: Vec<_> = attempts
        .iter()
        .filter(|a| a.event_type == ev::AGREEMENT_REJECTED)
        .collect();
    assert_eq!(first.len(), 3);
    assert_eq!(
        first.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(202)]
    );
    assert!(first[1].at - first[0].at >= chrono::Duration::milliseconds(20));
    assert!(first[2].at - first[1].at >= chrono::Duration::milliseconds(40));
    for _ in 0..40 {
        if env.sim.pending_deliveries() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(env.sim.pending_deliveries(), 0);
}

#[tokio::test]
async fn only_subscribed_events_of_the_same_merchant_are_sent() {
    let env = env().await;
    let (url, got) = receiver(0).await;
    env.client
        .register_webhook(
            MSN,
            &RegisterWebhookRequest {
                url: url.clone(),
                events: vec![ev::AGREEMENT_STOPPED.into()],
            },
        )
        .await
        .unwrap();
    env.client
        .register_webhook(
            "654321",
            &RegisterWebhookRequest {
                url,
                events: vec![ev::AGREEMENT_ACTIVATED.into()],
            },
        )
        .await
        .unwrap();
    let aid = active_agreement(&env, 9900, "d1").await;
    env.client
        .stop_agreement(MSN, &aid, key("s1"))
        .await
        .unwrap();
    let all = wait_for(&got, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all_now = got.lock().unwrap().clone();
    assert_eq!(all_now.len(), 1);
    let e = event(&all[0]);
    assert_eq!(e.event_type, ev::AGREEMENT_STOPPED);
    assert_eq!(e.actor, Some(Actor::Merchant));
}

#[tokio::test]
async fn batch_reports_invalid_items_now_and_rule_failures_by_webhook() {
    let env = env().await;
    let (url, got) = receiver(0).await;
    env.client
        .register_webhook(
            MSN,
            &RegisterWebhookRequest {
                url,
                events: vec![ev::CHARGE_CREATION_FAILED.into()],
            },
        )
        .await
        .unwrap();
    let pending = env
        .client
        .draft_agreement(MSN, &draft(9900), key("d1"))
        .await
        .unwrap();
    let due = days_from_today(&env, 2).to_string();
    let body = serde_json::json!([
        {"agreementId": pending.agreement_id, "amount": 9900, "transactionType": "DIRECT_CAPTURE",
         "description": "Batch", "due": due, "retryDays": 1, "orderId": "batch-ok-0001"},
        {"agreementId": pending.agreement_id, "amount": 50, "transactionType": "DIRECT_CAPTURE",
         "description": "Batch", "due": due, "retryDays": 1, "orderId": "batch-bad-0001"}
    ]);
    let token = env.client.access_token().await.unwrap();
    let resp = env
        .http
        .post(format!("{}/recurring/v3/agreements/charges", env.base))
        .header("Ocp-Apim-Subscription-Key", "k")
        .header("Authorization", format!("Bearer {token}"))
        .header("Merchant-Serial-Number", MSN)
        .header("Idempotency-Key", "batch-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["validCharges"], serde_json::json!(["batch-ok-0001"]));
    assert_eq!(
        v["invalidCharges"][0]["chargeBatchItemDto"]["orderId"],
        "batch-bad-0001"
    );
    assert!(
        v["invalidCharges"][0]["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("amount")
    );
    // The valid item failed a rule (the agreement is not ACTIVE): reported by webhook.
    let all = wait_for(&got, 1).await;
    let e = event(&all[0]);
    assert_eq!(e.event_type, ev::CHARGE_CREATION_FAILED);
    assert_eq!(e.charge_id.as_deref(), Some("batch-ok-0001"));
    assert!(e.extra["errors"][0].as_str().unwrap().contains("ACTIVE"));
}
