//! Dialogues: the twelve fields and their rules, keyword conflicts, archive, tenant isolation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{OPERATOR_KEY, Options, TestApp};

/// A valid dialogue body for `crm_group_id`.
fn body(crm_group_id: &str) -> Value {
    json!({
        "name": "Monthly giver",
        "crm_group_id": crm_group_id,
        "start_date": "2026-12-01",
        "end_date": "2027-11-30",
        "module_type": "vipps_payments",
        "recurring": true,
        "period": "month",
        "product_name": "Fast giver",
        "product_description": "Monthly support for our work",
        "amount": "49.90",
        "sender": "2160",
        "reply_message": "Takk! Bli fast giver: {vipps_link}",
        "keyword": "GIVE"
    })
}

fn with(mut v: Value, field: &str, value: Value) -> Value {
    v[field] = value;
    v
}

fn bad_fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn setup() -> (TestApp, String, String) {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    (app, key, group)
}

async fn count_dialogues(app: &TestApp, key: &str) -> usize {
    let (_, list) = app
        .get("/api/v1/dialogues?include_archived=true", key)
        .await;
    list["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_valid_dialogue_is_stored_with_amount_in_ore_and_reply_info() {
    let (app, key, group) = setup().await;
    let (status, d) = app.post("/api/v1/dialogues", &key, body(&group)).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert!(d["id"].as_str().unwrap().starts_with("dlg_"));
    assert_eq!(d["amount"], "49.90");
    assert_eq!(d["amount_ore"], 4990);
    assert_eq!(d["keyword"], "GIVE");
    assert_eq!(d["period"], "month");
    assert_eq!(d["start_date"], "2026-12-01");
    assert_eq!(d["crm_group_id"], group.as_str());
    assert_eq!(d["reply_message_info"]["encoding"], "GSM-7");
    assert_eq!(d["reply_message_info"]["segments"], 1);
    assert!(
        d["reply_message_info"]["length"].as_i64().unwrap() > 40,
        "the link is counted at its real length"
    );

    let (status, fetched) = app
        .get(
            &format!("/api/v1/dialogues/{}", d["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["amount_ore"], 4990);
    let (_, list) = app.get("/api/v1/dialogues", &key).await;
    assert_eq!(list["items"][0]["id"], d["id"]);
    // Creating is audited.
    let (_, audit) = app.get("/api/v1/admin/audit", OPERATOR_KEY).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "dialogue.create" && e["target_id"] == d["id"])
    );
    app.stop().await;
}

/// The API's segment count is `sms_text::analyze`'s: an escape that would straddle two parts
/// opens the next one, so 306 septets with `€` at septet 153 are three parts, not two.
#[tokio::test]
async fn reply_message_info_never_splits_an_escape_across_parts() {
    use dialogpay::domain::sms_text::{VIPPS_LINK_LENGTH, analyze, reply_info};
    let (app, key, group) = setup().await;
    // 152 septets, `€` (2), then enough to end at 306 with the link counted at its length.
    let template = format!(
        "{}€{}{{vipps_link}}",
        "a".repeat(152),
        "a".repeat(306 - 154 - VIPPS_LINK_LENGTH)
    );
    let (status, d) = app
        .post(
            "/api/v1/dialogues",
            &key,
            with(body(&group), "reply_message", json!(template)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    let info = &d["reply_message_info"];
    assert_eq!(info["encoding"], "GSM-7");
    assert_eq!(info["length"], 306);
    assert_eq!(info["segments"], 3, "{info}");
    assert_eq!(info["segments"], reply_info(&template).segments as i64);
    let linked = template.replace("{vipps_link}", &"x".repeat(VIPPS_LINK_LENGTH));
    assert_eq!(analyze(&linked).segments, 3);
    app.stop().await;
}

#[tokio::test]
async fn amounts_are_parsed_exactly() {
    let (app, key, group) = setup().await;
    for (i, (amount, ore)) in [
        ("49", 4900),
        ("49.9", 4990),
        ("1.00", 100),
        ("1234.05", 123405),
    ]
    .into_iter()
    .enumerate()
    {
        let b = with(
            with(body(&group), "amount", json!(amount)),
            "keyword",
            json!(format!("AMT{i}")),
        );
        let (status, d) = app.post("/api/v1/dialogues", &key, b).await;
        assert_eq!(status, StatusCode::CREATED, "{amount}: {d}");
        assert_eq!(d["amount_ore"], ore, "{amount}");
    }
    for amount in ["0.99", "49.999", "-5", "1e3", "49,90", "", "abc", "0"] {
        let (status, d) = app
            .post(
                "/api/v1/dialogues",
                &key,
                with(body(&group), "amount", json!(amount)),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{amount}: {d}");
        assert_eq!(bad_fields(&d), ["amount"], "{amount}");
    }
    let (status, _) = app
        .post(
            "/api/v1/dialogues",
            &key,
            with(body(&group), "amount", json!(49.9)),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a JSON number is the wrong type"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_bad_field_is_reported_at_once_and_nothing_is_written() {
    let (app, key, group) = setup().await;
    let bad = json!({
        "name": "",
        "crm_group_id": group,
        "start_date": "2027-12-01",
        "end_date": "2027-01-01",
        "module_type": "sms_only",
        "recurring": true,
        "period": "month",
        "product_name": "x".repeat(46),
        "product_description": "y".repeat(101),
        "amount": "0.50",
        "sender": "ACME",
        "reply_message": "No link here",
        "keyword": "STOP"
    });
    let (status, d) = app.post("/api/v1/dialogues", &key, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{d}");
    assert_eq!(d["code"], "validation_failed");
    let mut fields = bad_fields(&d);
    fields.sort();
    let mut expected = vec![
        "amount",
        "end_date",
        "keyword",
        "module_type",
        "name",
        "product_description",
        "product_name",
        "reply_message",
        "sender",
    ];
    expected.sort();
    assert_eq!(fields, expected, "{d}");
    assert_eq!(count_dialogues(&app, &key).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn field_rules_one_by_one() {
    let (app, key, group) = setup().await;
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!("n".repeat(101))),
        ("name", json!("   ")),
        ("product_name", json!("")),
        ("product_description", json!("")),
        (
            "reply_message",
            json!("Two links {vipps_link} {vipps_link}"),
        ),
        ("reply_message", json!("")),
        ("keyword", json!("GI")),
        ("keyword", json!("k".repeat(31))),
        ("keyword", json!("GI VE")),
        ("keyword", json!("help")),
        ("keyword", json!("Stopp")),
        ("keyword", json!("START")),
        ("keyword", json!("HJELP")),
        ("sender", json!("")),
        ("sender", json!("21a0")),
        ("module_type", json!("")),
    ];
    for (field, value) in cases {
        let (status, d) = app
            .post(
                "/api/v1/dialogues",
                &key,
                with(body(&group), field, value.clone()),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {d}"
        );
        assert_eq!(bad_fields(&d), [field], "{field}={value}: {d}");
    }
    assert_eq!(count_dialogues(&app, &key).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn wrong_types_unknown_enums_and_missing_fields_are_400() {
    let (app, key, group) = setup().await;
    let cases = vec![
        with(body(&group), "period", json!("fortnight")),
        with(body(&group), "period", json!("MONTH ")),
        with(body(&group), "recurring", json!("yes")),
        with(body(&group), "name", json!(5)),
        with(body(&group), "start_date", json!("2026-13-01")),
        with(body(&group), "start_date", json!(20261201)),
        with(body(&group), "unknown_field", json!(1)),
        {
            let mut b = body(&group);
            b.as_object_mut().unwrap().remove("keyword");
            b
        },
    ];
    for b in cases {
        let (status, d) = app.post("/api/v1/dialogues", &key, b.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b}: {d}");
        assert_eq!(d["code"], "bad_request");
    }
    assert_eq!(count_dialogues(&app, &key).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_crm_group_must_be_the_partners_own_and_have_terms() {
    let (app, key, _) = setup().await;
    let (_, bare) = app
        .post(
            "/api/v1/crm-groups",
            &key,
            json!({ "name": "No terms yet" }),
        )
        .await;
    let (status, d) = app
        .post(
            "/api/v1/dialogues",
            &key,
            body(bare["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{d}");
    assert_eq!(bad_fields(&d), ["crm_group_id"]);
    let (_, other_key) = app.partner("Other").await;
    let others = app.crm_group_with_terms(&other_key, "Theirs").await;
    let (status, d) = app.post("/api/v1/dialogues", &key, body(&others)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{d}");
    assert_eq!(bad_fields(&d), ["crm_group_id"]);
    app.stop().await;
}

#[tokio::test]
async fn a_live_keyword_on_the_same_sender_in_overlapping_dates_conflicts() {
    let (app, key, group) = setup().await;
    let (status, first) = app
        .post(
            "/api/v1/dialogues",
            &key,
            with(body(&group), "name", json!("First")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Same sender and keyword (any case), overlapping dates: 409 naming the holder.
    let overlapping = with(
        with(body(&group), "keyword", json!("give")),
        "start_date",
        json!("2027-06-01"),
    );
    let overlapping = with(overlapping, "end_date", json!("2028-01-01"));
    let (status, d) = app.post("/api/v1/dialogues", &key, overlapping).await;
    assert_eq!(status, StatusCode::CONFLICT, "{d}");
    assert_eq!(d["code"], "keyword_conflict");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains(first["id"].as_str().unwrap()),
        "{d}"
    );
    assert!(d["message"].as_str().unwrap().contains("First"), "{d}");
    // Another partner on the same short number conflicts too, without seeing our dialogue's name.
    let (_, other_key) = app.partner("Other").await;
    let other_group = app.crm_group_with_terms(&other_key, "G").await;
    let (status, d) = app
        .post("/api/v1/dialogues", &other_key, body(&other_group))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{d}");
    assert!(!d["message"].as_str().unwrap().contains("First"), "{d}");
    // Adjacent dates, another sender or another keyword are fine.
    let later = with(
        with(body(&group), "start_date", json!("2027-12-01")),
        "end_date",
        json!("2028-11-30"),
    );
    assert_eq!(
        app.post("/api/v1/dialogues", &key, later).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post(
            "/api/v1/dialogues",
            &key,
            with(body(&group), "sender", json!("2161"))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post(
            "/api/v1/dialogues",
            &key,
            with(body(&group), "keyword", json!("GIVE2"))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    // Archived dialogues release their keyword.
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/dialogues/{id}"), &key).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v1/dialogues", &key, body(&group)).await.0,
        StatusCode::CREATED
    );
    app.stop().await;
}

#[tokio::test]
async fn update_replaces_fields_and_rechecks_every_rule() {
    let (app, key, group) = setup().await;
    let (_, d) = app.post("/api/v1/dialogues", &key, body(&group)).await;
    let id = d["id"].as_str().unwrap();
    let changed = with(
        with(body(&group), "amount", json!("100")),
        "name",
        json!("Renamed"),
    );
    let (status, u) = app
        .put(&format!("/api/v1/dialogues/{id}"), &key, changed)
        .await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["amount_ore"], 10000);
    assert_eq!(u["name"], "Renamed");
    let (status, e) = app
        .put(
            &format!("/api/v1/dialogues/{id}"),
            &key,
            with(body(&group), "amount", json!("0")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (_, still) = app.get(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert_eq!(
        still["amount_ore"], 10000,
        "nothing written on a failed update"
    );
    // Updating a dialogue does not conflict with itself.
    let (status, _) = app
        .put(&format!("/api/v1/dialogues/{id}"), &key, body(&group))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_dialogue_with_agreements_keeps_its_price_and_period_and_cannot_be_archived() {
    let (app, key, group) = setup().await;
    let (_, d) = app.post("/api/v1/dialogues", &key, body(&group)).await;
    let id = d["id"].as_str().unwrap().to_owned();
    crate::support::db::insert_agreement(&app.state.db, &id, "+4791234567").await;
    for (field, value) in [("amount", json!("59.90")), ("period", json!("year"))] {
        let (status, e) = app
            .put(
                &format!("/api/v1/dialogues/{id}"),
                &key,
                with(body(&group), field, value),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{field}: {e}");
        assert_eq!(e["code"], "dialogue_has_agreements");
    }
    // Other fields can still change.
    let (status, _) = app
        .put(
            &format!("/api/v1/dialogues/{id}"),
            &key,
            with(body(&group), "name", json!("New name")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, e) = app.delete(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["code"], "dialogue_has_agreements");
    let (_, still) = app.get(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert!(still["archived_at"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn archiving_hides_the_dialogue_from_the_default_list() {
    let (app, key, group) = setup().await;
    let (_, d) = app.post("/api/v1/dialogues", &key, body(&group)).await;
    let id = d["id"].as_str().unwrap();
    let (status, archived) = app.delete(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert_eq!(status, StatusCode::OK, "{archived}");
    assert!(archived["archived_at"].is_string());
    let (_, list) = app.get("/api/v1/dialogues", &key).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    assert_eq!(count_dialogues(&app, &key).await, 1);
    let (status, _) = app
        .put(&format!("/api/v1/dialogues/{id}"), &key, body(&group))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "archived dialogues are read-only"
    );
    app.stop().await;
}

#[tokio::test]
async fn dialogues_paginate_newest_first() {
    let (app, key, group) = setup().await;
    for i in 0..5 {
        let b = with(body(&group), "keyword", json!(format!("KEY{i}")));
        assert_eq!(
            app.post("/api/v1/dialogues", &key, b).await.0,
            StatusCode::CREATED
        );
    }
    let (_, page) = app.get("/api/v1/dialogues?limit=2", &key).await;
    assert_eq!(page["items"][0]["keyword"], "KEY4");
    let mut seen = page["items"].as_array().unwrap().len();
    let mut cursor = page["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let (_, page) = app
            .get(&format!("/api/v1/dialogues?limit=2&cursor={c}"), &key)
            .await;
        seen += page["items"].as_array().unwrap().len();
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 5);
    assert_eq!(
        app.get("/api/v1/dialogues?limit=0", &key).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/v1/dialogues?limit=501", &key).await.0,
        StatusCode::BAD_REQUEST
    );
    app.stop().await;
}

#[tokio::test]
async fn another_partners_dialogue_answers_404_everywhere() {
    let (app, key, group) = setup().await;
    let (_, d) = app.post("/api/v1/dialogues", &key, body(&group)).await;
    let id = d["id"].as_str().unwrap();
    let (_, other_key) = app.partner("Other").await;
    let other_group = app.crm_group_with_terms(&other_key, "G").await;
    let path = format!("/api/v1/dialogues/{id}");
    assert_eq!(app.get(&path, &other_key).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.put(
            &path,
            &other_key,
            with(body(&other_group), "keyword", json!("MINE"))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.delete(&path, &other_key).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/v1/dialogues/dlg_missing", &key).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get("/api/v1/dialogues", &other_key).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (_, mine) = app.get(&path, &key).await;
    assert_eq!(mine["keyword"], "GIVE", "unchanged");
    assert!(mine["archived_at"].is_null());
    app.stop().await;
}
