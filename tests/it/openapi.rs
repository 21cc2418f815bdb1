//! The OpenAPI document is a snapshot in the repository, so every API change shows up in
//! review. After an intended change: `UPDATE_SNAPSHOTS=1 cargo test --test it openapi`.

const SNAPSHOT: &str = "tests/it/snapshots/openapi.json";

#[test]
fn the_openapi_document_matches_its_snapshot() {
    let spec = dialogpay::http::openapi("http://127.0.0.1:8080").spec();
    let current: serde_json::Value = serde_json::from_str(&spec).expect("the document is JSON");
    let pretty = serde_json::to_string_pretty(&current).unwrap() + "\n";
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(SNAPSHOT, &pretty).expect("writes the snapshot");
        return;
    }
    let stored = std::fs::read_to_string(SNAPSHOT)
        .expect("the snapshot exists (UPDATE_SNAPSHOTS=1 creates it)");
    assert!(
        stored == pretty,
        "the OpenAPI document changed; review it and run UPDATE_SNAPSHOTS=1 cargo test --test it openapi"
    );
    // Every operation declares its errors in our shape, and every partner path needs a key.
    for (path, item) in current["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path.starts_with("/api/v1/") {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} has no security requirement"
                );
                for status in ["400", "401", "413", "415"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
    }
}
