//! The journey through a real HTTP SMS gateway (the fake): outages delay replies without
//! losing or doubling them; delivery reports move statuses forward only, also when they
//! arrive before the send is recorded (parked, then applied with the record).

use std::time::{Duration, Instant};

use dialogpay::sms::{
    DeliveryStatus,
    fake::{FakeGateway, generic_status_body},
};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{INBOUND_TOKEN, Options, TestApp, eventually};

async fn app_with(fake: &FakeGateway) -> (TestApp, String) {
    let app = TestApp::spawn_with(Options {
        sms: Some(fake.http_settings()),
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let today = app.state.clock.today_oslo();
    let body = json!({
        "name": "Giver", "crm_group_id": group, "start_date": today.to_string(),
        "end_date": (today + chrono::Days::new(30)).to_string(), "module_type": "vipps_payments",
        "recurring": true, "period": "month", "product_name": "P", "product_description": "D",
        "amount": "50", "sender": "2160", "reply_message": "Bli med: {vipps_link}", "keyword": "GIVE"
    });
    assert_eq!(
        app.post("/api/v1/dialogues", &key, body).await.0,
        StatusCode::CREATED
    );
    (app, key)
}

async fn text(app: &TestApp, id: &str, from: &str) {
    let body = json!({ "message_id": id, "from": from, "to": "2160", "text": "GIVE" });
    let (status, b) = app
        .call(
            Method::POST,
            "/webhooks/sms/inbound",
            Some(INBOUND_TOKEN),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn replies_wait_out_a_gateway_outage_and_go_out_once_each() {
    let fake = FakeGateway::spawn().await;
    fake.set_down(4);
    let (app, _) = app_with(&fake).await;
    let phones = ["+4790000001", "+4790000002", "+4790000003"];
    for (i, phone) in phones.iter().enumerate() {
        text(&app, &format!("gw-{i}"), phone).await;
    }
    // The send jobs retry through the outage; once they are done, nothing sends again.
    app.run_pending_jobs().await;
    let sent = fake.sent();
    assert_eq!(sent.len(), 3, "once each: {sent:?}");
    let mut to: Vec<String> = sent.iter().map(|s| s.to.clone()).collect();
    to.sort();
    assert_eq!(to, phones);
    assert!(
        sent.iter()
            .all(|s| s.text.starts_with("Bli med: http") && s.from == "2160")
    );
    assert!(
        sent.iter().all(|s| s.reply_to.is_some()),
        "the reply names the inbound message it answers"
    );
    app.stop().await;
}

#[tokio::test]
async fn delivery_reports_update_the_message_forward_only() {
    let fake = FakeGateway::spawn().await;
    let (app, key) = app_with(&fake).await;
    let started = Instant::now();
    text(&app, "gw-1", "+4790000009").await;
    app.run_pending_jobs().await;
    let sent = fake.sent().first().cloned().expect("the reply");
    eprintln!(
        "inbound webhook to reply handed to the gateway: {:?}",
        started.elapsed()
    );
    let report = |status| generic_status_body(&sent.gateway_message_id, status);
    for status in [DeliveryStatus::Delivered, DeliveryStatus::Sent] {
        let (code, body) = app
            .call(
                Method::POST,
                "/webhooks/sms/status",
                Some(INBOUND_TOKEN),
                Some(report(status)),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    let (code, _) = app
        .call(
            Method::POST,
            "/webhooks/sms/status",
            Some("wrong"),
            Some(report(DeliveryStatus::Failed)),
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // The send was recorded before the reports came (reports that overtake it are parked:
    // the tests below), so they applied in the order they came.
    app.run_pending_jobs().await;
    let (_, page) = app.get("/api/v1/messages?direction=out", &key).await;
    let msg = page["items"][0].clone();
    assert_eq!(
        msg["status"], "delivered",
        "a late 'sent' does not undo 'delivered': {msg}"
    );
    let (_, details) = app
        .get(
            &format!("/api/v1/messages/{}", msg["id"].as_str().unwrap()),
            &key,
        )
        .await;
    let history: Vec<&str> = details["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history.first(), Some(&"pending"));
    assert_eq!(history.last(), Some(&"delivered"));
    app.stop().await;
}

/// A server on the LINK provider (the fake), a dialogue whose reply needs two SMS parts, and
/// the HTTP Basic header LINK's gate sends us.
async fn link_app(fake: &FakeGateway) -> (TestApp, String, String) {
    let mut sms = fake.link_settings();
    sms.link.inbound_username = "link-gate".into();
    sms.link.inbound_password = secrecy::SecretString::from("link-gate-password-123");
    let app = TestApp::spawn_with(Options {
        sms: Some(sms),
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let today = app.state.clock.today_oslo();
    let long_reply = format!(
        "{} {{vipps_link}}",
        "Takk for at du vil bli fast giver hos oss.".repeat(4)
    );
    let body = json!({
        "name": "Giver", "crm_group_id": group, "start_date": today.to_string(),
        "end_date": (today + chrono::Days::new(30)).to_string(), "module_type": "vipps_payments",
        "recurring": true, "period": "month", "product_name": "P", "product_description": "D",
        "amount": "50", "sender": "2160", "reply_message": long_reply, "keyword": "GIVE"
    });
    assert_eq!(
        app.post("/api/v1/dialogues", &key, body).await.0,
        StatusCode::CREATED
    );
    let auth = dialogpay::sms::auth::basic_header("link-gate", "link-gate-password-123");
    (app, key, auth)
}

/// Posts to a LINK webhook with `auth`; returns the status and the JSON answer.
async fn post_link(
    app: &TestApp,
    path: &str,
    auth: &str,
    body: &serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let resp = app
        .http
        .post(format!("{}{path}", app.base))
        .header("authorization", auth)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

/// The status of the (only) outbound message.
async fn outbound_status(app: &TestApp, key: &str) -> String {
    let (_, page) = app.get("/api/v1/messages?direction=out", key).await;
    page["items"][0]["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn link_mobility_mo_in_and_a_two_part_reply_delivered_only_when_both_parts_are() {
    use dialogpay::sms::fake::{dlr_bodies_for, link_mo_body};
    let fake = FakeGateway::spawn().await;
    let (app, key, auth) = link_app(&fake).await;
    let mo = link_mo_body("link-mo-1", "+4790000042", "2160", "give");
    let (status, _) = app
        .call(
            Method::POST,
            "/webhooks/sms/link/mo",
            Some("wrong"),
            Some(mo.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post_link(&app, "/webhooks/sms/link/mo", &auth, &mo).await;
    assert_eq!(status, StatusCode::OK);
    app.run_pending_jobs().await;
    let sent = fake
        .sent()
        .first()
        .cloned()
        .expect("the reply through LINK");
    assert_eq!(
        sent.reply_to.as_deref(),
        Some("link-mo-1"),
        "moReferenceId names the MO"
    );
    let dlrs = dlr_bodies_for(&sent, DeliveryStatus::Delivered);
    assert_eq!(dlrs.len(), 2, "two parts");
    // The send is recorded (parts that overtake it: the tests below); the first part's
    // report applies at once.
    assert_ne!(
        outbound_status(&app, &key).await,
        "pending",
        "the send recorded"
    );
    let (status, _) = post_link(&app, "/webhooks/sms/link/dlr", &auth, &dlrs[0]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        outbound_status(&app, &key).await,
        "delivered",
        "one part is not the message"
    );
    let (status, answer) = post_link(&app, "/webhooks/sms/link/dlr", &auth, &dlrs[1]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["known"], true, "{answer}");
    assert_eq!(outbound_status(&app, &key).await, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn reports_that_overtake_the_send_record_are_parked_then_applied_with_it() {
    use dialogpay::db::parked_reports;
    let fake = FakeGateway::spawn().await;
    // The gateway records the send at once but answers 3 s later: its reports overtake the
    // answer, as when a DLR webhook races our write of the gateway's id.
    fake.set_answer_delay(3_000);
    let (app, key) = app_with(&fake).await;
    text(&app, "gw-early", "+4790000011").await;
    let sent = eventually(Duration::from_secs(15), "the reply", || async {
        fake.sent().first().cloned()
    })
    .await;
    // Out of order and repeated: delivered, a late sent, delivered again.
    for status in [
        DeliveryStatus::Delivered,
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
    ] {
        let (code, answer) = app
            .call(
                Method::POST,
                "/webhooks/sms/status",
                Some(INBOUND_TOKEN),
                Some(generic_status_body(&sent.gateway_message_id, status)),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{answer}");
        assert_eq!(answer["parked"], true, "{answer}");
    }
    let parked: Vec<String> = parked_reports::list(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.status)
        .collect();
    assert_eq!(
        parked,
        ["delivered", "sent"],
        "a repeated report is parked once"
    );
    assert_eq!(outbound_status(&app, &key).await, "pending");
    let (_, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap_or_default()
            .contains("dialogpay_sms_parked_reports 2"),
        "parked reports are visible"
    );
    // The send record (once the gateway answers) applies them in order: the late "sent" does
    // not undo "delivered".
    app.run_pending_jobs().await;
    assert_eq!(
        outbound_status(&app, &key).await,
        "delivered",
        "the message delivered"
    );
    assert!(
        parked_reports::list(&app.state.db)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, page) = app.get("/api/v1/messages?direction=out", &key).await;
    let (_, details) = app
        .get(
            &format!(
                "/api/v1/messages/{}",
                page["items"][0]["id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    let history: Vec<&str> = details["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["pending", "queued", "delivered"]);
    // A report after the record applies at once (and changes nothing here).
    let (_, answer) = app
        .call(
            Method::POST,
            "/webhooks/sms/status",
            Some(INBOUND_TOKEN),
            Some(generic_status_body(
                &sent.gateway_message_id,
                DeliveryStatus::Sent,
            )),
        )
        .await;
    assert_eq!(answer["known"], true, "{answer}");
    assert_eq!(outbound_status(&app, &key).await, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn link_parts_that_overtake_the_send_record_combine_when_it_is_recorded() {
    use dialogpay::sms::fake::{dlr_bodies_for, link_mo_body};
    let fake = FakeGateway::spawn().await;
    fake.set_answer_delay(3_000);
    let (app, key, auth) = link_app(&fake).await;
    let mo = link_mo_body("link-mo-2", "+4790000043", "2160", "GIVE");
    let (status, _) = post_link(&app, "/webhooks/sms/link/mo", &auth, &mo).await;
    assert_eq!(status, StatusCode::OK);
    let sent = eventually(Duration::from_secs(15), "the reply", || async {
        fake.sent().first().cloned()
    })
    .await;
    let delivered = dlr_bodies_for(&sent, DeliveryStatus::Delivered);
    let part0_sent = dlr_bodies_for(&sent, DeliveryStatus::Sent).remove(0);
    // Part 1 delivered, part 0 only sent, part 1 repeated: all before the record (the refId
    // names our message, but its send is not recorded yet, so they wait too).
    for body in [&delivered[1], &part0_sent, &delivered[1]] {
        let (status, answer) = post_link(&app, "/webhooks/sms/link/dlr", &auth, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["parked"], true, "{answer}");
    }
    // Recorded (once the gateway answers): one part is sent, the other delivered, so the
    // message is sent.
    app.run_pending_jobs().await;
    assert_eq!(
        outbound_status(&app, &key).await,
        "sent",
        "the parts applied"
    );
    let (status, answer) = post_link(&app, "/webhooks/sms/link/dlr", &auth, &delivered[0]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["known"], true, "{answer}");
    assert_eq!(outbound_status(&app, &key).await, "delivered");
    app.stop().await;
}

#[tokio::test]
async fn a_report_that_never_finds_its_message_is_kept_then_expires() {
    use dialogpay::{db::parked_reports, worker::maintenance};
    let fake = FakeGateway::spawn().await;
    let (app, _) = app_with(&fake).await;
    let report = generic_status_body("gw-never-sent", DeliveryStatus::Delivered);
    for _ in 0..2 {
        let (code, answer) = app
            .call(
                Method::POST,
                "/webhooks/sms/status",
                Some(INBOUND_TOKEN),
                Some(report.clone()),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{answer}");
        assert_eq!(answer["known"], false, "{answer}");
        assert_eq!(answer["parked"], true, "{answer}");
    }
    let settings = maintenance::MaintenanceSettings::from_state(&app.state);
    maintenance::run_pass(&app.state.db, &settings)
        .await
        .unwrap();
    let kept = parked_reports::list(&app.state.db).await.unwrap();
    assert_eq!(kept.len(), 1, "kept within the retention: {kept:?}");
    assert_eq!(kept[0].gateway_message_id, "gw-never-sent");
    // Past `sms.unmatched_report_retention_hours` (72) the maintenance pass deletes it.
    app.state.clock.advance(chrono::Duration::hours(73));
    maintenance::run_pass(&app.state.db, &settings)
        .await
        .unwrap();
    let kept = parked_reports::list(&app.state.db).await.unwrap();
    assert!(kept.is_empty(), "the report expired: {kept:?}");
    app.stop().await;
}

#[tokio::test]
async fn reports_racing_the_send_record_are_never_lost() {
    use dialogpay::{
        db::{messages, parked_reports},
        delivery,
        sms::DeliveryReport,
    };
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let db = &app.state.db;
    let mut ids = Vec::new();
    for i in 0..40 {
        let mut tx = db.begin().await.unwrap();
        let new = messages::NewMessage {
            partner_id: None,
            dialogue_id: None,
            direction: "out",
            provider: "http",
            gateway_message_id: None,
            from_addr: "2160",
            to_addr: "+4790000001",
            text: "Takk",
            status: "pending",
            purpose: None,
            in_reply_to: None,
            agreement_id: None,
            charge_id: None,
        };
        ids.push((
            messages::insert(&mut tx, &new, i).await.unwrap().unwrap(),
            i,
        ));
        tx.commit().await.unwrap();
    }
    // Each report and its send record start together; whichever wins, the report applies.
    let tasks = ids.iter().flat_map(|(id, i)| {
        let gateway_id = format!("race-{i}");
        let report = DeliveryReport {
            gateway_message_id: gateway_id.clone(),
            part: None,
            status: DeliveryStatus::Delivered,
            at: None,
            reason: None,
            client_reference: None,
            segments: None,
        };
        let (db1, db2, id) = (db.clone(), db.clone(), id.clone());
        [
            tokio::spawn(async move {
                delivery::receive(&db1, "http", &report, 1).await.unwrap();
            }),
            tokio::spawn(async move {
                let mut tx = db2.begin().await.unwrap();
                delivery::record_send(&mut tx, &id, &gateway_id, DeliveryStatus::Queued, 1)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }),
        ]
    });
    for task in futures::future::join_all(tasks.collect::<Vec<_>>()).await {
        task.unwrap();
    }
    for (id, _) in &ids {
        let msg = messages::get(db, id).await.unwrap().unwrap();
        assert_eq!(msg.status, "delivered", "{msg:?}");
    }
    assert!(parked_reports::list(db).await.unwrap().is_empty());
    app.stop().await;
}
