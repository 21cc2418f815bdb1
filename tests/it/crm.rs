//! CRM groups, versioned terms, members, tenant isolation.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Options, TestApp};

#[tokio::test]
async fn groups_get_versioned_terms_and_the_filter_offers_only_groups_with_terms() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("Club").await;
    let (status, bare) = app
        .post("/api/v1/crm-groups", &key, json!({ "name": "Newsletter" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bare}");
    assert!(bare["terms"].is_null());
    assert_eq!(bare["member_count"], 0);
    let with_terms = app.crm_group_with_terms(&key, "Donors").await;

    let (_, filtered) = app.get("/api/v1/crm-groups?has_terms=true", &key).await;
    let ids: Vec<&str> = filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [with_terms.as_str()]);
    let (_, without) = app.get("/api/v1/crm-groups?has_terms=false", &key).await;
    assert_eq!(without["items"][0]["id"], bare["id"]);
    let (_, all) = app.get("/api/v1/crm-groups", &key).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    let (status, v2) = app
        .put(
            &format!("/api/v1/crm-groups/{with_terms}/terms"),
            &key,
            json!({ "text": "Version two" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(v2["version"], 2);
    let (_, group) = app
        .get(&format!("/api/v1/crm-groups/{with_terms}"), &key)
        .await;
    assert_eq!(group["terms"]["version"], 2);
    assert_eq!(group["terms"]["text"], "Version two");
    let (_, versions) = app
        .get(&format!("/api/v1/crm-groups/{with_terms}/terms"), &key)
        .await;
    let numbers: Vec<i64> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1], "old versions are kept");

    let (status, members) = app
        .get(&format!("/api/v1/crm-groups/{with_terms}/members"), &key)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(members["items"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn group_input_is_validated() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("Club").await;
    let (status, body) = app
        .post("/api/v1/crm-groups", &key, json!({ "name": "  " }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "name");
    let (status, _) = app
        .post(
            "/api/v1/crm-groups",
            &key,
            json!({ "name": "x".repeat(101) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .post("/api/v1/crm-groups", &key, json!({ "nme": "typo" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.post("/api/v1/crm-groups", &key, json!({ "name": "Twice" }))
        .await;
    let (status, body) = app
        .post("/api/v1/crm-groups", &key, json!({ "name": "Twice" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "name_taken");
    let group = app.crm_group_with_terms(&key, "G").await;
    let (status, body) = app
        .put(
            &format!("/api/v1/crm-groups/{group}/terms"),
            &key,
            json!({ "text": "" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, versions) = app
        .get(&format!("/api/v1/crm-groups/{group}/terms"), &key)
        .await;
    assert_eq!(
        versions["items"].as_array().unwrap().len(),
        1,
        "nothing written"
    );
    app.stop().await;
}

#[tokio::test]
async fn another_partners_group_answers_404_everywhere() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (_, alice) = app.partner("Alice").await;
    let (_, bob) = app.partner("Bob").await;
    let group = app.crm_group_with_terms(&alice, "Alice's donors").await;
    for path in [
        format!("/api/v1/crm-groups/{group}"),
        format!("/api/v1/crm-groups/{group}/terms"),
        format!("/api/v1/crm-groups/{group}/members"),
        "/api/v1/crm-groups/crm_doesnotexist".to_owned(),
    ] {
        let (status, body) = app.get(&path, &bob).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["code"], "not_found");
    }
    let (status, _) = app
        .put(
            &format!("/api/v1/crm-groups/{group}/terms"),
            &bob,
            json!({ "text": "hijack" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/v1/crm-groups", &bob).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (_, versions) = app
        .get(&format!("/api/v1/crm-groups/{group}/terms"), &alice)
        .await;
    assert_eq!(
        versions["items"].as_array().unwrap().len(),
        1,
        "Bob changed nothing"
    );
    app.stop().await;
}
