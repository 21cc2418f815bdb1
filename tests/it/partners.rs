//! Partners and authentication.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{OPERATOR_KEY, Options, TestApp};

#[tokio::test]
async fn operators_create_partners_and_the_key_is_shown_once() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (status, body) = app
        .post(
            "/api/v1/admin/partners",
            OPERATOR_KEY,
            json!({ "name": "Red Cross", "vipps_msn": "654321" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "Red Cross");
    assert_eq!(body["vipps_msn"], "654321");
    let key = body["api_key"].as_str().unwrap().to_owned();
    assert!(key.len() >= 40);
    // The list never shows the key.
    let (_, list) = app.get("/api/v1/admin/partners", OPERATOR_KEY).await;
    assert!(!list.to_string().contains(&key));
    assert_eq!(list["items"][0]["id"], body["id"]);
    // Only its hash is stored.
    let stored: Vec<String> = dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar(
        "SELECT api_key_hash FROM partners"
    )
    .fetch_all(p)
    .await
    .unwrap());
    assert!(stored.iter().all(|h| h != &key && h.len() == 64));
    // The key works.
    let (status, _) = app.get("/api/v1/crm-groups", &key).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn partner_creation_validates_every_field_at_once() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (status, body) = app
        .post(
            "/api/v1/admin/partners",
            OPERATOR_KEY,
            json!({ "name": "", "vipps_msn": "12a" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "validation_failed");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "vipps_msn"]);
    let (_, list) = app.get("/api/v1/admin/partners", OPERATOR_KEY).await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "nothing written"
    );
    app.stop().await;
}

#[tokio::test]
async fn partner_endpoints_reject_missing_and_wrong_keys() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    app.partner("Someone").await;
    let paths = [
        "/api/v1/crm-groups",
        "/api/v1/dialogues",
        "/api/v1/crm-groups/crm_x",
        "/api/v1/dialogues/dlg_x",
    ];
    for path in paths {
        for key in [None, Some("dp_wrong"), Some(OPERATOR_KEY)] {
            let (status, body) = app.call(Method::GET, path, key, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {key:?}: {body}");
            assert_eq!(body["code"], "unauthorized");
        }
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/crm-groups",
            None,
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_is_closed_when_no_operator_key_is_configured() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        overrides: vec![("operator.api_key", "".into())],
        ..Default::default()
    })
    .await;
    for key in [None, Some(""), Some("anything-at-all-long-enough")] {
        let (status, _) = app
            .call(Method::GET, "/api/v1/admin/partners", key, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    app.stop().await;
}
