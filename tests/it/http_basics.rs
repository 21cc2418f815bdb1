//! Health, OpenAPI, error shapes, body limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{OPERATOR_KEY, Options, TestApp};

#[tokio::test]
async fn health_ready_openapi_and_docs_are_served() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (status, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    let (status, spec) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/dialogues",
        "/api/v1/crm-groups/{id}/terms",
        "/api/v1/admin/jobs/{id}/retry",
        "/api/v1/admin/audit",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (status, html) = app.call(Method::GET, "/docs", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.as_str().unwrap_or_default().contains("swagger"),
        "Swagger UI"
    );
    app.stop().await;
}

#[tokio::test]
async fn errors_are_json_with_a_stable_code() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("P").await;
    let (status, body) = app.call(Method::GET, "/nope", None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = app.call(Method::DELETE, "/healthz", None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    // Malformed JSON and wrong types are 400, never 500.
    let resp = app
        .http
        .post(format!("{}/api/v1/crm-groups", app.base))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
    let (status, _) = app
        .post("/api/v1/crm-groups", &key, json!({ "name": ["list"] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post("/api/v1/crm-groups", &key, json!({ "name": 12 }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a number is not a name");
    let (status, _) = app.post("/api/v1/crm-groups", &key, json!([1, 2])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_rejected_with_413_and_nothing_is_written() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        overrides: vec![("server.body_limit_bytes", 2048.into())],
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("P").await;
    let big = "x".repeat(4096);
    let (status, body) = app
        .post("/api/v1/crm-groups", &key, json!({ "name": big }))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "payload_too_large");
    // Chunked bodies (no Content-Length) are measured too.
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(format!(
        "{{\"name\":\"{big}\"}}"
    ))]);
    let resp = app
        .http
        .post(format!("{}/api/v1/crm-groups", app.base))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (_, list) = app.get("/api/v1/crm-groups", &key).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (status, _) = app.get("/api/v1/admin/partners", OPERATOR_KEY).await;
    assert_eq!(status, StatusCode::OK, "small requests still pass");
    app.stop().await;
}

#[tokio::test]
async fn nul_characters_and_undecodable_paths_are_400_on_every_engine() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("P").await;
    // PostgreSQL text cannot hold NUL: these were 500s there (and quietly accepted on SQLite).
    for (path, who) in [
        ("/api/v1/messages/a%00b", key.as_str()),
        ("/api/v1/messages?phone=%00", key.as_str()),
        ("/api/v1/crm-groups?cursor=x%00", key.as_str()),
        ("/api/v1/admin/jobs?queue=%00", OPERATOR_KEY),
        // Not UTF-8 once percent-decoded: was plain text, outside our error shape.
        ("/api/v1/messages/%FF%FE", key.as_str()),
    ] {
        let (status, body) = app.get(path, who).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{path}: {body}"
        );
    }
    let (status, body) = app
        .post("/api/v1/crm-groups", &key, json!({ "name": "a\u{0}b" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("NUL"), "{body}");
    // A body without its Content-Type: 415 in our shape.
    let resp = app
        .http
        .post(format!("{}/api/v1/crm-groups", app.base))
        .bearer_auth(&key)
        .body("{\"name\": \"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "unsupported_media_type");
    let (_, list) = app.get("/api/v1/crm-groups", &key).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    app.stop().await;
}

#[tokio::test]
async fn method_not_allowed_lists_the_allowed_methods() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    for (method, path, allowed) in [
        (Method::DELETE, "/api/v1/crm-groups", "GET, HEAD, POST"),
        (
            Method::PATCH,
            "/api/v1/dialogues/dlg_x",
            "DELETE, GET, HEAD, PUT",
        ),
        (Method::GET, "/webhooks/vipps", "POST"),
        (Method::PUT, "/healthz", "GET, HEAD"),
        (Method::POST, "/metrics", "GET, HEAD"),
        (Method::POST, "/my/agreements/some-token", "GET, HEAD"),
    ] {
        let resp = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let mut allow: Vec<String> = resp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(", ")
            .map(str::to_owned)
            .collect();
        allow.sort();
        assert_eq!(allow.join(", "), allowed, "{method} {path}");
    }
    app.stop().await;
}
