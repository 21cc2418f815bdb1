//! The keyword journey end to end over real HTTP: inbound SMS → Vipps draft (embedded
//! simulator) → reply with the link → approval → webhook and polling → ACTIVE → CRM member with
//! consent; and STOPP, stops in the app, duplicates, bad credentials.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{INBOUND_TOKEN, Options, TestApp, eventually};

const PHONE: &str = "+4791234567";

struct Journey {
    app: TestApp,
    key: String,
    group: String,
    dialogue: String,
}

async fn setup() -> Journey {
    let app = TestApp::spawn_with(Options::default()).await;
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let dialogue = app
        .monthly_give_dialogue(
            &key,
            &group,
            "Takk! Bli fast giver: {vipps_link} Send STOPP til 2160 for å avslutte.",
        )
        .await;
    Journey {
        dialogue,
        app,
        key,
        group,
    }
}

impl Journey {
    async fn text(&self, gateway_id: &str, from: &str, text: &str) -> (StatusCode, Value) {
        let body = json!({ "message_id": gateway_id, "from": from, "to": "2160", "text": text });
        self.app
            .call(
                Method::POST,
                "/webhooks/sms/inbound",
                Some(INBOUND_TOKEN),
                Some(body),
            )
            .await
    }

    async fn messages(&self, query: &str) -> Vec<Value> {
        let (status, page) = self
            .app
            .get(&format!("/api/v1/messages?{query}"), &self.key)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"].as_array().unwrap().clone()
    }

    /// Runs the pending jobs; then at least `count` outbound messages to `phone` have been
    /// handed to the gateway, and those are returned.
    async fn replies(&self, phone: &str, count: usize) -> Vec<Value> {
        self.app.run_pending_jobs().await;
        let sent: Vec<Value> = self
            .messages(&format!(
                "direction=out&phone={}",
                phone.replace('+', "%2B")
            ))
            .await
            .into_iter()
            .filter(|m| m["status"] != "pending")
            .collect();
        assert!(sent.len() >= count, "{count} replies to {phone}: {sent:?}");
        sent
    }

    async fn agreements(&self) -> Vec<Value> {
        let (_, page) = self
            .app
            .get(
                &format!("/api/v1/dialogues/{}/agreements", self.dialogue),
                &self.key,
            )
            .await;
        page["items"].as_array().unwrap().clone()
    }

    /// Runs the pending jobs; then agreement `id` is `status`, and it is returned.
    async fn agreement_with_status(&self, id: &str, status: &str) -> Value {
        self.app.run_pending_jobs().await;
        let (_, a) = self
            .app
            .get(&format!("/api/v1/agreements/{id}"), &self.key)
            .await;
        assert_eq!(a["status"], status, "agreement {id}: {a}");
        a
    }

    async fn members(&self) -> Vec<Value> {
        let (_, page) = self
            .app
            .get(
                &format!("/api/v1/crm-groups/{}/members", self.group),
                &self.key,
            )
            .await;
        page["items"].as_array().unwrap().clone()
    }

    fn simulator(&self) -> &dialogpay::vipps::sim::Simulator {
        self.app.simulator.as_ref().expect("simulator mode")
    }
}

fn link_of(reply: &Value) -> String {
    let text = reply["text"].as_str().unwrap();
    text.split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("a link in the reply")
        .to_owned()
}

#[tokio::test]
async fn keyword_to_active_member_with_consent() {
    let j = setup().await;
    let (status, body) = j.text("gw-1", PHONE, "  give ").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let replies = j.replies(PHONE, 1).await;
    let reply = &replies[0];
    let link = link_of(reply);
    assert!(link.contains("/vipps-sim/landing/"), "{link}");
    assert_eq!(reply["from"], "2160");
    assert_eq!(reply["dialogue_id"], j.dialogue.as_str());
    assert_eq!(reply["encoding"], "GSM-7");
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .starts_with("Takk! Bli fast giver: http")
    );

    let agreements = j.agreements().await;
    assert_eq!(agreements.len(), 1);
    let a = &agreements[0];
    assert_eq!(a["status"], "PENDING");
    assert_eq!(a["phone"], PHONE);
    let vipps_id = a["vipps_agreement_id"]
        .as_str()
        .expect("drafted in Vipps")
        .to_owned();

    // What Vipps got: LEGACY price, monthly, phone prefilled, initial DIRECT_CAPTURE, our id.
    let sim_agreement = j
        .simulator()
        .agreements()
        .into_iter()
        .find(|x| x.agreement_id == vipps_id)
        .expect("in the simulator");
    assert_eq!(sim_agreement.status.as_str(), "PENDING");

    // The user confirms and pays (through the simulator's control API, like the landing page).
    let (status, body) = j
        .app
        .call(
            Method::POST,
            &format!("/vipps-sim/_sim/agreements/{vipps_id}/approve"),
            None,
            Some(json!({})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");

    let a = j
        .agreement_with_status(a["id"].as_str().unwrap(), "ACTIVE")
        .await;
    assert!(a["activated_at"].is_string());
    let charges = a["charges"].as_array().unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["type"], "INITIAL");
    assert_eq!(charges[0]["status"], "CHARGED");
    assert_eq!(charges[0]["amount_ore"], 10000);
    assert_eq!(charges[0]["period_index"], 0);

    let members = j.members().await;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["phone"], PHONE);
    assert_eq!(members[0]["terms_version"], 1);
    assert_eq!(members[0]["agreement_id"], a["id"]);
    let inbound = j.messages("direction=in").await;
    assert_eq!(members[0]["inbound_message_id"], inbound[0]["id"]);
    assert_eq!(inbound[0]["outcome"], "agreement_drafted");

    // Message details carry the history and the links.
    let (_, details) = j
        .app
        .get(
            &format!("/api/v1/messages/{}", reply["id"].as_str().unwrap()),
            &j.key,
        )
        .await;
    assert_eq!(details["in_reply_to"], inbound[0]["id"]);
    assert_eq!(details["agreement_id"], a["id"]);
    assert!(
        details["history"].as_array().unwrap().len() >= 2,
        "{details}"
    );
    j.app.stop().await;
}

#[tokio::test]
async fn a_repeated_keyword_while_pending_resends_the_same_link() {
    let j = setup().await;
    j.text("gw-1", PHONE, "GIVE").await;
    let first = link_of(&j.replies(PHONE, 1).await[0]);
    j.text("gw-2", PHONE, "give").await;
    let replies = j.replies(PHONE, 2).await;
    assert!(
        replies.iter().all(|r| link_of(r) == first),
        "same link twice"
    );
    assert_eq!(j.agreements().await.len(), 1);
    let inbound = j.messages("direction=in").await;
    assert_eq!(inbound[0]["outcome"], "link_resent");
    j.app.stop().await;
}

#[tokio::test]
async fn after_the_draft_expired_a_new_keyword_gets_a_new_link() {
    let j = setup().await;
    j.text("gw-1", PHONE, "GIVE").await;
    let first = link_of(&j.replies(PHONE, 1).await[0]);
    j.simulator().advance_by(chrono::Duration::minutes(11));
    j.text("gw-2", PHONE, "GIVE").await;
    let replies = j.replies(PHONE, 2).await;
    let links: Vec<String> = replies.iter().map(link_of).collect();
    assert!(links.contains(&first));
    assert!(links.iter().any(|l| l != &first), "a new link: {links:?}");
    assert_eq!(j.agreements().await.len(), 2);
    j.app.stop().await;
}

#[tokio::test]
async fn stopp_stops_in_vipps_leaves_the_group_and_confirms() {
    let j = setup().await;
    j.text("gw-1", PHONE, "GIVE").await;
    j.replies(PHONE, 1).await;
    let agreement = j.agreements().await[0].clone();
    let vipps_id = agreement["vipps_agreement_id"].as_str().unwrap().to_owned();
    j.simulator().approve(&vipps_id, None).unwrap();
    let id = agreement["id"].as_str().unwrap();
    j.agreement_with_status(id, "ACTIVE").await;

    j.text("gw-2", PHONE, "Stopp GIVE").await;
    let a = j.agreement_with_status(id, "STOPPED").await;
    assert_eq!(a["stopped_by"], "MERCHANT");
    let sim = j
        .simulator()
        .agreements()
        .into_iter()
        .find(|x| x.agreement_id == vipps_id)
        .unwrap();
    assert_eq!(sim.status.as_str(), "STOPPED");
    let members = j.members().await;
    assert!(members[0]["left_at"].is_string(), "{members:?}");
    let replies = j.replies(PHONE, 2).await;
    assert!(
        replies.iter().any(|r| r["outcome"] == "stop_confirmation"
            && r["text"].as_str().unwrap().contains("meldt av"))
    );
    j.app.stop().await;
}

#[tokio::test]
async fn a_stop_in_the_vipps_app_is_seen_and_the_member_leaves() {
    let j = setup().await;
    j.text("gw-1", PHONE, "GIVE").await;
    j.replies(PHONE, 1).await;
    let agreement = j.agreements().await[0].clone();
    let vipps_id = agreement["vipps_agreement_id"].as_str().unwrap().to_owned();
    j.simulator().approve(&vipps_id, None).unwrap();
    let id = agreement["id"].as_str().unwrap();
    j.agreement_with_status(id, "ACTIVE").await;
    j.simulator().user_stop(&vipps_id).unwrap();
    let a = j.agreement_with_status(id, "STOPPED").await;
    assert_eq!(a["stopped_by"], "USER");
    assert!(j.members().await[0]["left_at"].is_string());
    j.app.stop().await;
}

#[tokio::test]
async fn duplicate_inbound_messages_are_stored_and_handled_once() {
    let j = setup().await;
    let (_, first) = j.text("gw-dup", PHONE, "GIVE").await;
    let (_, second) = j.text("gw-dup", PHONE, "GIVE").await;
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    j.replies(PHONE, 1).await;
    assert_eq!(j.messages("direction=in").await.len(), 1);
    assert_eq!(j.messages("direction=out").await.len(), 1);
    assert_eq!(j.agreements().await.len(), 1);
    j.app.stop().await;
}

#[tokio::test]
async fn unknown_keywords_are_stored_without_a_reply_and_inactive_ones_get_a_polite_one() {
    let j = setup().await;
    j.text("gw-1", PHONE, "NOPE").await;
    // A dialogue that starts next month.
    let start = j.app.state.clock.today_oslo() + chrono::Days::new(40);
    let later = json!({
        "name": "Later", "crm_group_id": j.group, "start_date": start.to_string(),
        "end_date": (start + chrono::Days::new(30)).to_string(), "module_type": "vipps_payments", "recurring": true,
        "period": "week", "product_name": "P", "product_description": "D", "amount": "10", "sender": "2160",
        "reply_message": "{vipps_link}", "keyword": "LATER"
    });
    assert_eq!(
        j.app.post("/api/v1/dialogues", &j.key, later).await.0,
        StatusCode::CREATED
    );
    j.text("gw-2", PHONE, "later").await;
    let replies = j.replies(PHONE, 1).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["outcome"], "not_live");
    let outcome: Option<String> = dialogpay::with_pool!(&j.app.state.db, |p| sqlx::query_scalar(
        "SELECT outcome FROM messages WHERE gateway_message_id = 'gw-1'"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(
        outcome.as_deref(),
        Some("unknown_keyword"),
        "the unknown keyword classified"
    );
    assert!(j.agreements().await.is_empty());
    j.app.stop().await;
}

#[tokio::test]
async fn bad_credentials_and_signatures_are_refused_and_nothing_is_stored() {
    let j = setup().await;
    let body = json!({ "message_id": "gw-x", "from": PHONE, "to": "2160", "text": "GIVE" });
    for key in [None, Some("wrong")] {
        let (status, _) = j
            .app
            .call(
                Method::POST,
                "/webhooks/sms/inbound",
                key,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = j
        .app
        .call(
            Method::POST,
            "/webhooks/sms/inbound",
            Some(INBOUND_TOKEN),
            Some(json!({ "text": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A Vipps webhook without a valid signature.
    let event = json!({ "eventType": "recurring.agreement-stopped.v1", "agreementId": "agr_x", "actor": "USER" });
    let (status, _) = j
        .app
        .call(
            Method::POST,
            "/webhooks/vipps",
            Some("HMAC-SHA256 nope"),
            Some(event),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let count: i64 = dialogpay::with_pool!(&j.app.state.db, |p| sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM vipps_events)"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(count, 0);
    j.app.stop().await;
}

#[tokio::test]
async fn the_manage_page_shows_the_agreement_and_its_stop_button_works() {
    let j = setup().await;
    j.text("gw-1", PHONE, "GIVE").await;
    j.replies(PHONE, 1).await;
    let agreement = j.agreements().await[0].clone();
    let vipps_id = agreement["vipps_agreement_id"].as_str().unwrap().to_owned();
    j.simulator().approve(&vipps_id, None).unwrap();
    let id = agreement["id"].as_str().unwrap();
    j.agreement_with_status(id, "ACTIVE").await;
    // The page's URL is the one Vipps got as merchantAgreementUrl.
    let token: String = dialogpay::with_pool!(&j.app.state.db, |p| sqlx::query_scalar(
        "SELECT manage_token FROM agreements WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await
    .unwrap());
    let url = format!("{}/my/agreements/{token}", j.app.base);
    let draft = j
        .simulator()
        .requests()
        .into_iter()
        .find(|r| {
            r.method == "POST"
                && r.path.ends_with("/recurring/v3/agreements")
                && r.body["externalId"] == id
        })
        .expect("the draft request");
    assert!(
        draft.body["merchantAgreementUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/my/agreements/{token}")),
        "merchantAgreementUrl points at the page: {}",
        draft.body
    );
    assert_eq!(draft.body["pricing"]["type"], "LEGACY");
    assert_eq!(draft.body["pricing"]["amount"], 10000);
    assert_eq!(draft.body["interval"]["unit"], "MONTH");
    assert_eq!(draft.body["phoneNumber"], "4791234567");
    assert_eq!(
        draft.body["initialCharge"]["transactionType"],
        "DIRECT_CAPTURE"
    );
    assert_eq!(draft.body["externalId"], id);
    assert!(draft.headers.contains_key("idempotency-key"));
    let page = j.app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Fast giver") && html.contains("100.00 kr") && html.contains("ACTIVE"),
        "{html}"
    );
    let stop = j.app.http.post(format!("{url}/stop")).send().await.unwrap();
    assert!(stop.status().is_success() || stop.status().is_redirection());
    let a = j.agreement_with_status(id, "STOPPED").await;
    assert_eq!(a["stopped_by"], "MERCHANT");
    let (status, _) = j
        .app
        .call(Method::GET, "/my/agreements/not-a-token", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    j.app.stop().await;
}

/// A partner with its own Vipps merchant and a live dialogue for `keyword` on `sender`.
async fn merchant_with_dialogue(
    app: &TestApp,
    msn: &str,
    keyword: &str,
    sender: &str,
) -> (String, String) {
    let (status, p) = app
        .post(
            "/api/v1/admin/partners",
            crate::support::OPERATOR_KEY,
            json!({ "name": format!("Merchant {msn}"), "vipps_msn": msn }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let key = p["api_key"].as_str().unwrap().to_owned();
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let today = app.state.clock.today_oslo();
    let body = json!({
        "name": keyword, "crm_group_id": group,
        "start_date": today.to_string(), "end_date": (today + chrono::Days::new(365)).to_string(),
        "module_type": "vipps_payments", "recurring": true, "period": "month",
        "product_name": "Fast giver", "product_description": "Monthly support",
        "amount": "100", "sender": sender, "reply_message": "{vipps_link}", "keyword": keyword
    });
    let (status, d) = app.post("/api/v1/dialogues", &key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    (key, d["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_merchant_behind_its_draft_limit_does_not_hold_up_another_merchant() {
    // 20 drafts a minute: a burst of 20, then one every 3 s.
    let app = TestApp::spawn_with(Options {
        overrides: vec![("vipps.rate_limits.draft_agreement", 20.into())],
        ..Default::default()
    })
    .await;
    let (_, _) = merchant_with_dialogue(&app, "111111", "GIVE", "2160").await;
    let (key_b, dialogue_b) = merchant_with_dialogue(&app, "222222", "HOPE", "2161").await;
    // A telethon for merchant A: 50 keywords, 30 more than its limit lets through at once.
    for n in 0..50 {
        let sms = json!({ "message_id": format!("a-{n}"), "from": format!("+4790{n:06}"), "to": "2160", "text": "GIVE" });
        let (status, body) = app
            .call(
                Method::POST,
                "/webhooks/sms/inbound",
                Some(INBOUND_TOKEN),
                Some(sms),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sms = json!({ "message_id": "b-1", "from": "+4791111111", "to": "2161", "text": "HOPE" });
    app.call(
        Method::POST,
        "/webhooks/sms/inbound",
        Some(INBOUND_TOKEN),
        Some(sms),
    )
    .await;
    let started = std::time::Instant::now();
    eventually(Duration::from_secs(15), "merchant B's draft", || async {
        let (_, page) = app
            .get(
                &format!("/api/v1/dialogues/{dialogue_b}/agreements"),
                &key_b,
            )
            .await;
        page["items"].get(0)?["vipps_agreement_id"]
            .as_str()
            .map(|_| ())
    })
    .await;
    let waited = started.elapsed();
    // Merchant A's drafts are still queued (pending, or scheduled: snoozed until the limit
    // lets them through), none has failed.
    let mut waiting = 0;
    for status in ["pending", "scheduled"] {
        let (_, jobs) = app
            .get(
                &format!("/api/v1/admin/jobs?queue=agreements.draft&status={status}&limit=100"),
                crate::support::OPERATOR_KEY,
            )
            .await;
        waiting += jobs["items"].as_array().unwrap().len();
    }
    assert!(waiting >= 15, "A's backlog still queued: {waiting} waiting");
    let (_, failed) = app
        .get(
            "/api/v1/admin/jobs?queue=agreements.draft&status=failed",
            crate::support::OPERATOR_KEY,
        )
        .await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 0, "{failed}");
    assert!(waited < Duration::from_secs(10), "B waited {waited:?}");
    app.stop().await;
}
