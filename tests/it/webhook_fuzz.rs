//! Bad input at the webhooks: malformed, truncated, mistyped, oversized, deeply nested, invalid
//! UTF-8 and random bodies, wrong content types, missing or wrong credentials, and Vipps
//! deliveries with bad signatures, tampered bodies or stale dates. Every one is answered with
//! a 4xx in our error shape (never a 5xx) and stores nothing; a valid request afterwards is
//! stored exactly once, and its duplicate not again.
//!
//! Random cases come from a seeded xorshift generator, so a failure names a reproducible case.

use dialogpay::{
    db::messages,
    sms::{
        auth::basic_header,
        fake::{link_dlr_body, link_mo_body},
        link::codes,
    },
    vipps::sign_webhook,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{INBOUND_TOKEN, Options, TestApp};

const LIMIT: usize = 8192;
const VIPPS_SECRET: &str = "fuzz-vipps-webhook-secret-0123456789";
const LINK_USER: &str = "link-gate";
const LINK_PASSWORD: &str = "link-gate-password-123";
/// Random cases per endpoint (bytes, JSON values, and bodies built from the endpoint's fields).
const RANDOM_CASES: usize = 300;

/// Request headers, in order.
type Headers = Vec<(String, String)>;

/// xorshift64*: small, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A short string from a mix of letters, digits, punctuation, control characters, NUL and
    /// non-ASCII.
    fn string(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', '7', ' ', '+', '-', '$', '"', '\\', '\n', '\t', '\0', '\u{1}', 'æ', 'ø',
            'å', '€', '😀', '\u{202e}', '\u{fffd}',
        ];
        let len = self.below(12);
        (0..len).map(|_| *self.pick(CHARS)).collect()
    }

    /// A random JSON value whose object keys are drawn from `keys` (the endpoint's field
    /// names, so that parsers get past "not an object") or are random.
    fn json(&mut self, keys: &[&str], depth: usize) -> Value {
        let kinds = if depth == 0 { 6 } else { 8 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 1),
            2 => json!(self.next() as i64),
            3 => json!((self.next() as f64) / 7.0),
            4 | 5 => Value::String(self.string()),
            6 => Value::Array(
                (0..self.below(4))
                    .map(|_| self.json(keys, depth - 1))
                    .collect(),
            ),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.below(6) {
                    let key = if self.below(4) == 0 {
                        self.string()
                    } else {
                        (*self.pick(keys)).to_owned()
                    };
                    map.insert(key, self.json(keys, depth - 1));
                }
                Value::Object(map)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// `Authorization: Bearer sms.inbound_token`.
    Bearer,
    /// HTTP Basic with `sms.link.inbound_*`.
    Basic,
    /// Vipps' HMAC signature over the exact body bytes.
    Vipps,
}

/// One webhook endpoint and what a valid post to it looks like.
struct Hook {
    path: &'static str,
    auth: Auth,
    /// Delivery reports: a well-formed report about a message we do not know is answered
    /// 200 `{"known": false}` and changes nothing, which random JSON can produce.
    report: bool,
    /// Field names, for random objects.
    keys: &'static [&'static str],
}

const SMS_INBOUND: Hook = Hook {
    path: "/webhooks/sms/inbound",
    auth: Auth::Bearer,
    report: false,
    keys: &["message_id", "from", "to", "text", "received_at"],
};
const SMS_STATUS: Hook = Hook {
    path: "/webhooks/sms/status",
    auth: Auth::Bearer,
    report: true,
    keys: &["message_id", "status", "at", "reason", "client_message_id"],
};
const LINK_MO: Hook = Hook {
    path: "/webhooks/sms/link/mo",
    auth: Auth::Basic,
    report: false,
    keys: &[
        "messageId",
        "source",
        "destination",
        "content",
        "userData",
        "timestamp",
    ],
};
const LINK_DLR: Hook = Hook {
    path: "/webhooks/sms/link/dlr",
    auth: Auth::Basic,
    report: true,
    keys: &["id", "resultCode", "refId", "segments", "timestamp"],
};
const VIPPS: Hook = Hook {
    path: "/webhooks/vipps",
    auth: Auth::Vipps,
    report: false,
    // No `eventType`: with it, a random object would be a valid (signed) event.
    keys: &[
        "msn",
        "agreementId",
        "chargeId",
        "actor",
        "occurred",
        "amount",
    ],
};

async fn spawn() -> TestApp {
    TestApp::spawn_with(Options {
        workers: false,
        overrides: vec![
            ("server.body_limit_bytes", (LIMIT as i64).into()),
            ("vipps.webhook_secret", VIPPS_SECRET.into()),
            ("sms.link.inbound_username", LINK_USER.into()),
            ("sms.link.inbound_password", LINK_PASSWORD.into()),
        ],
        ..Default::default()
    })
    .await
}

fn host(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// The headers of a correctly authenticated post of `body`.
fn credentials(app: &TestApp, hook: &Hook, body: &[u8]) -> Headers {
    match hook.auth {
        Auth::Bearer => vec![("authorization".into(), format!("Bearer {INBOUND_TOKEN}"))],
        Auth::Basic => vec![(
            "authorization".into(),
            basic_header(LINK_USER, LINK_PASSWORD),
        )],
        Auth::Vipps => {
            let date = httpdate::fmt_http_date(std::time::SystemTime::now());
            vipps_headers(app, VIPPS_SECRET, &date, body)
        }
    }
}

fn vipps_headers(app: &TestApp, secret: &str, date: &str, body: &[u8]) -> Headers {
    let signed = sign_webhook(secret, "POST", VIPPS.path, &host(app), date, body);
    vec![
        ("x-ms-date".into(), signed.date),
        ("x-ms-content-sha256".into(), signed.content_sha256),
        ("authorization".into(), signed.authorization),
    ]
}

/// Posts raw bytes with exactly these headers; the answer's status and body (JSON if it is).
async fn post(
    app: &TestApp,
    path: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(String, String)],
) -> (StatusCode, Value) {
    let mut req = app.http.post(format!("{}{path}", app.base)).body(body);
    for (name, value) in headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let resp = req.send().await.expect("request is sent");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Posts `body` as JSON with valid credentials.
async fn post_json(app: &TestApp, hook: &Hook, body: &[u8]) -> (StatusCode, Value) {
    let mut headers = credentials(app, hook, body);
    headers.push(("content-type".into(), "application/json".into()));
    post(app, hook.path, body.to_vec(), &headers).await
}

/// What the webhooks can have written.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    /// (id, status) of every message.
    messages: Vec<(String, String)>,
    history: i64,
    parts: i64,
    events: i64,
    jobs: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql.to_owned())
    )
    .fetch_one(p)
    .await
    .expect("counts"))
}

async fn stored(app: &TestApp) -> Stored {
    let messages = dialogpay::with_pool!(&app.state.db, |p| sqlx::query_as::<_, (String, String)>(
        "SELECT id, status FROM messages ORDER BY id"
    )
    .fetch_all(p)
    .await
    .expect("reads messages"));
    let jobs = if app.test_db.is_postgres {
        "SELECT COUNT(*) FROM apalis.jobs"
    } else {
        "SELECT COUNT(*) FROM Jobs"
    };
    Stored {
        messages,
        history: count(app, "SELECT COUNT(*) FROM message_status_history").await,
        parts: count(app, "SELECT COUNT(*) FROM message_parts").await,
        events: count(app, "SELECT COUNT(*) FROM vipps_events").await,
        jobs: count(app, jobs).await,
    }
}

/// A 4xx in our error shape; for delivery reports also "200, not ours".
fn assert_refused(hook: &Hook, status: StatusCode, body: &Value, case: &str) {
    if hook.report && status == StatusCode::OK && body["known"] == false {
        return;
    }
    assert!(
        status.is_client_error(),
        "{} {case}: expected a 4xx, got {status}: {body}",
        hook.path
    );
    assert!(
        body["code"].is_string() && body["message"].is_string() && body["fields"].is_array(),
        "{} {case}: not our error shape: {body}",
        hook.path
    );
}

/// Every kind of bad post to `hook` (`valid` is a well-formed body, `mutations` fields with
/// values that must be refused); then checks that nothing was stored.
async fn storm(
    app: &TestApp,
    hook: &Hook,
    valid: &Value,
    mutations: &[(String, Value)],
    seed: u64,
) {
    let before = stored(app).await;
    let valid_bytes = serde_json::to_vec(valid).unwrap();
    let mut cases = 0usize;

    // Malformed and truncated JSON.
    let mut bodies: Vec<(String, Vec<u8>)> = [
        "",
        " ",
        "{",
        "}",
        "[",
        "null",
        "true",
        "1",
        "\"text\"",
        "[]",
        "{}",
        "{\"a\":}",
        "{,}",
        "{'a': 1}",
        "{\"a\" 1}",
        "[1,]",
        "{\"a\":1,}",
        "NaN",
        "1e400",
        "{\"a\":1e400}",
        "\u{feff}{}",
    ]
    .iter()
    .map(|b| (format!("malformed {b:?}"), b.as_bytes().to_vec()))
    .collect();
    for end in 0..valid_bytes.len() {
        bodies.push((format!("truncated at {end}"), valid_bytes[..end].to_vec()));
    }
    // Invalid UTF-8, inside a string and outside.
    let text = String::from_utf8(valid_bytes.clone()).unwrap();
    for bad in [
        &b"\xff"[..],
        b"\xc3\x28",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
    ] {
        let mut b = valid_bytes.clone();
        let quote = text.rfind('"').unwrap();
        b.splice(quote..quote, bad.iter().copied());
        bodies.push((format!("invalid UTF-8 {bad:?} in a string"), b));
        let mut b = bad.to_vec();
        b.extend_from_slice(&valid_bytes);
        bodies.push((format!("invalid UTF-8 {bad:?} before the body"), b));
    }
    // Deep nesting, within the size limit.
    let depth = LIMIT / 8;
    bodies.push((
        "deeply nested arrays".into(),
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
    ));
    bodies.push((
        "deeply nested objects".into(),
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)).into_bytes(),
    ));
    bodies.push((
        "deeply nested unterminated".into(),
        "[{\"a\":".repeat(depth / 2).into_bytes(),
    ));
    // Missing fields and wrong types or values in fields.
    for (field, value) in mutations {
        let mut body = valid.clone();
        set_path(&mut body, field, value.clone());
        bodies.push((
            format!("{field} = {value}"),
            serde_json::to_vec(&body).unwrap(),
        ));
    }
    // Random bytes, random JSON, random objects with the endpoint's field names.
    let mut rng = Rng::new(seed);
    for i in 0..RANDOM_CASES {
        let body = match i % 3 {
            0 => {
                let len = rng.below(600);
                rng.bytes(len)
            }
            1 => serde_json::to_vec(&rng.json(hook.keys, 3)).unwrap(),
            _ => {
                let mut map = serde_json::Map::new();
                for key in hook.keys {
                    if rng.below(5) > 0 {
                        map.insert((*key).to_owned(), rng.json(hook.keys, 1));
                    }
                }
                serde_json::to_vec(&Value::Object(map)).unwrap()
            }
        };
        bodies.push((format!("random case {i} (seed {seed})"), body));
    }
    for (case, body) in &bodies {
        let (status, answer) = post_json(app, hook, body).await;
        assert_refused(hook, status, &answer, case);
        cases += 1;
    }

    // Wrong content types, with a valid body: refused before it is read.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json-ish",
    ] {
        let mut headers = credentials(app, hook, &valid_bytes);
        headers.push(("content-type".into(), ct.into()));
        let (status, answer) = post(app, hook.path, valid_bytes.clone(), &headers).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{} as {ct}: {answer}",
            hook.path
        );
        assert_refused(hook, status, &answer, ct);
        cases += 1;
    }
    // A form-encoded body without a content type is still not JSON.
    let form = b"message_id=1&from=%2B4791234567&to=2160&text=GIVE";
    let (status, answer) = post(app, hook.path, form.to_vec(), &credentials(app, hook, form)).await;
    assert_refused(hook, status, &answer, "form body without a content type");

    // Missing and wrong credentials, with a valid body.
    let wrong: Vec<Headers> = vec![
        vec![],
        vec![("authorization".into(), "Bearer wrong-token".into())],
        vec![("authorization".into(), format!("Bearer {INBOUND_TOKEN}x"))],
        vec![("authorization".into(), format!("Basic {INBOUND_TOKEN}"))],
        vec![("authorization".into(), "Bearer".into())],
        vec![("authorization".into(), "Basic !!!not-base64".into())],
        vec![("authorization".into(), basic_header(LINK_USER, "wrong"))],
        vec![("authorization".into(), basic_header("", ""))],
        vec![(
            "authorization".into(),
            format!(
                "Basic {}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "no-colon-here")
            ),
        )],
        vec![("authorization".into(), "HMAC-SHA256 nope".into())],
    ];
    for mut headers in wrong {
        headers.push(("content-type".into(), "application/json".into()));
        let (status, answer) = post(app, hook.path, valid_bytes.clone(), &headers).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} with {headers:?}: {answer}",
            hook.path
        );
        assert_refused(hook, status, &answer, "wrong credentials");
        cases += 1;
    }

    // Over the size limit: announced, chunked, and far over.
    for (case, size) in [("just over the limit", LIMIT + 1), ("1 MiB", 1 << 20)] {
        let mut big = valid.clone();
        set_path(&mut big, hook.keys[0], Value::String("x".repeat(size)));
        let bytes = serde_json::to_vec(&big).unwrap();
        let (status, answer) = post_json(app, hook, &bytes).await;
        assert_eq!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{} {case}: {answer}",
            hook.path
        );
        assert_refused(hook, status, &answer, case);
        let mut headers = credentials(app, hook, &bytes);
        headers.push(("content-type".into(), "application/json".into()));
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(1000).map(|c| Ok(c.to_vec())).collect();
        let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        let (status, answer) = post(app, hook.path, stream, &headers).await;
        assert_eq!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{} {case}, chunked: {answer}",
            hook.path
        );
        cases += 2;
    }

    assert_eq!(
        stored(app).await,
        before,
        "{}: bad input stored something",
        hook.path
    );
    eprintln!("{}: {cases} bad requests refused", hook.path);
}

/// Sets a dotted path (`content.userData`) in a JSON object; `Value::Null` at the end of a
/// path removes the field instead when the path starts with `-`.
fn set_path(body: &mut Value, path: &str, value: Value) {
    let (remove, path) = match path.strip_prefix('-') {
        Some(p) => (true, p),
        None => (false, path),
    };
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut target = body;
    for p in parts {
        target = &mut target[p];
    }
    let obj = target.as_object_mut().expect("an object");
    if remove {
        obj.remove(last);
    } else {
        obj.insert(last.to_owned(), value);
    }
}

/// Wrong types for string fields (and their absence).
fn not_strings(fields: &[&str]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for f in fields {
        for v in [
            json!(7),
            json!(1.5),
            json!(true),
            json!([]),
            json!({}),
            json!(["x"]),
            Value::Null,
        ] {
            out.push(((*f).to_owned(), v));
        }
        out.push((format!("-{f}"), Value::Null));
    }
    out
}

/// An outbound message the delivery reports can refer to.
async fn outbound(app: &TestApp, provider: &str, gateway_id: &str) -> String {
    let mut tx = app.state.db.begin().await.unwrap();
    let id = messages::insert(
        &mut tx,
        &messages::NewMessage {
            partner_id: None,
            dialogue_id: None,
            direction: "out",
            provider,
            gateway_message_id: Some(gateway_id),
            from_addr: "2160",
            to_addr: "+4791234567",
            text: "Takk!",
            status: "sent",
            purpose: None,
            in_reply_to: None,
            agreement_id: None,
            charge_id: None,
        },
        app.state.clock.now_ms(),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A valid post is stored once (one more message or event, one more job), and posting it
/// again stores nothing.
async fn stored_once(app: &TestApp, hook: &Hook, body: &Value, events: bool) {
    let before = stored(app).await;
    let bytes = serde_json::to_vec(body).unwrap();
    let (status, answer) = post_json(app, hook, &bytes).await;
    assert_eq!(status, StatusCode::OK, "{}: {answer}", hook.path);
    assert_eq!(answer["duplicate"], false, "{answer}");
    let after = stored(app).await;
    assert_eq!(after.jobs, before.jobs + 1, "{}: one job", hook.path);
    if events {
        assert_eq!(after.events, before.events + 1);
        assert_eq!(after.messages, before.messages);
    } else {
        assert_eq!(after.messages.len(), before.messages.len() + 1);
        assert_eq!(after.events, before.events);
    }
    // The same delivery again (for Vipps: signed anew, with a new date).
    let (status, answer) = post_json(app, hook, &bytes).await;
    assert_eq!(status, StatusCode::OK, "{}: {answer}", hook.path);
    assert_eq!(answer["duplicate"], true, "{answer}");
    // Without a Content-Type, which gateways sometimes leave out: tolerated, still once.
    let (status, answer) = post(
        app,
        hook.path,
        bytes.clone(),
        &credentials(app, hook, &bytes),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {answer}", hook.path);
    assert_eq!(answer["duplicate"], true, "{answer}");
    assert_eq!(
        stored(app).await,
        after,
        "{}: a duplicate was stored",
        hook.path
    );
}

/// A valid report moves the message forward once; repeating it changes nothing.
async fn report_applied_once(app: &TestApp, hook: &Hook, body: &Value, message_id: &str) {
    let bytes = serde_json::to_vec(body).unwrap();
    let (status, answer) = post_json(app, hook, &bytes).await;
    assert_eq!(status, StatusCode::OK, "{}: {answer}", hook.path);
    assert_eq!(answer["known"], true, "{answer}");
    let after = stored(app).await;
    let status_now = after
        .messages
        .iter()
        .find(|(id, _)| id == message_id)
        .map(|(_, s)| s.as_str());
    assert_eq!(status_now, Some("delivered"));
    let (status, _) = post_json(app, hook, &bytes).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stored(app).await,
        after,
        "{}: a repeat changed something",
        hook.path
    );
}

#[tokio::test]
async fn generic_sms_webhooks_refuse_bad_input_and_store_nothing() {
    let app = spawn().await;
    let inbound =
        json!({ "message_id": "gw-ok-1", "from": "+4791234567", "to": "2160", "text": "GIVE" });
    let mut bad = not_strings(&["message_id", "from", "to", "text"]);
    for (f, v) in [
        ("message_id", json!("")),
        ("message_id", json!("   ")),
        ("message_id", json!("a".repeat(256))),
        ("message_id", json!("gw\u{1}1")),
        ("message_id", json!("gw\u{0}1")),
        ("from", json!("abc")),
        ("from", json!("+47")),
        ("from", json!("+4791234567\u{0}")),
        ("to", json!("ACME")),
        ("to", json!("")),
        ("to", json!("21\u{0}60")),
        ("text", json!("GI\u{0}VE")),
        ("received_at", json!("yesterday")),
        ("received_at", json!(5)),
        ("received_at", json!({})),
    ] {
        bad.push((f.to_owned(), v));
    }
    storm(&app, &SMS_INBOUND, &inbound, &bad, 0x5eed_0001).await;
    stored_once(&app, &SMS_INBOUND, &inbound, false).await;

    let provider = app.state.sms.provider().to_owned();
    let msg = outbound(&app, &provider, "gw-out-1").await;
    let status = json!({ "message_id": "gw-out-1", "status": "delivered" });
    let mut bad = not_strings(&["message_id", "status"]);
    for (f, v) in [
        ("status", json!("bogus")),
        ("status", json!("")),
        ("status", json!("DELIVERED\u{0}")),
        ("message_id", json!("")),
        ("message_id", json!("gw-out-1\u{0}")),
        ("at", json!("yesterday")),
        ("at", json!(12)),
        ("reason", json!(12)),
        ("reason", json!("lost\u{0}")),
        ("client_message_id", json!(12)),
        ("client_message_id", json!("")),
    ] {
        bad.push((f.to_owned(), v));
    }
    storm(&app, &SMS_STATUS, &status, &bad, 0x5eed_0002).await;
    report_applied_once(&app, &SMS_STATUS, &status, &msg).await;
    app.stop().await;
}

#[tokio::test]
async fn link_webhooks_refuse_bad_input_and_store_nothing() {
    let app = spawn().await;
    let mo = link_mo_body("link-ok-1", "+4791234567", "2160", "GIVE");
    let mut bad = not_strings(&["messageId", "source", "destination", "content.userData"]);
    for (f, v) in [
        ("content", json!("GIVE")),
        ("content", json!(7)),
        ("content", json!([])),
        ("-content", Value::Null),
        ("content.userData", json!("GI\u{0}VE")),
        ("messageId", json!("")),
        ("messageId", json!("x".repeat(300))),
        ("source", json!("not a phone")),
        ("destination", json!("NO-")),
        ("destination", json!("XX-ACME")),
    ] {
        bad.push((f.to_owned(), v));
    }
    storm(&app, &LINK_MO, &mo, &bad, 0x5eed_0003).await;
    stored_once(&app, &LINK_MO, &mo, false).await;

    let msg = outbound(&app, "link", "link-out-1").await;
    let dlr = link_dlr_body("link-out-1", None, codes::DELIVERED, &msg, 1);
    let mut bad = not_strings(&["id"]);
    for (f, v) in [
        ("resultCode", json!("delivered")),
        ("resultCode", json!(true)),
        ("resultCode", json!(1.5)),
        ("resultCode", json!([])),
        ("resultCode", Value::Null),
        ("-resultCode", Value::Null),
        ("id", json!("")),
        ("id", json!("$0")),
        ("id", json!("link-out-1$x")),
        ("id", json!("link-out-1\u{0}")),
    ] {
        bad.push((f.to_owned(), v));
    }
    storm(&app, &LINK_DLR, &dlr, &bad, 0x5eed_0004).await;
    report_applied_once(&app, &LINK_DLR, &dlr, &msg).await;
    app.stop().await;
}

#[tokio::test]
async fn vipps_webhook_refuses_bad_signatures_and_bad_input_and_stores_nothing() {
    let app = spawn().await;
    let event = json!({
        "eventType": "recurring.agreement-stopped.v1", "msn": "123456",
        "agreementId": "agr_fuzz_1", "actor": "USER", "occurred": "2025-01-31T12:00:00Z"
    });
    let mut bad = not_strings(&["eventType"]);
    for (f, v) in [
        ("msn", json!(123456)),
        ("agreementId", json!(["x"])),
        ("occurred", json!("yesterday")),
        ("actor", json!({})),
        ("eventType", json!("recurring\u{0}")),
        ("agreementId", json!("agr\u{0}")),
        ("amount", json!("a lot")),
    ] {
        bad.push((f.to_owned(), v));
    }
    storm(&app, &VIPPS, &event, &bad, 0x5eed_0005).await;

    // Signatures: every way of getting them wrong is a 401 and stores nothing.
    let before = stored(&app).await;
    let body = serde_json::to_vec(&event).unwrap();
    let now = std::time::SystemTime::now();
    let date = httpdate::fmt_http_date(now);
    let good = vipps_headers(&app, VIPPS_SECRET, &date, &body);
    let with = |name: &str, value: String| -> Headers {
        good.iter()
            .map(|(n, v)| {
                if n == name {
                    (n.clone(), value.clone())
                } else {
                    (n.clone(), v.clone())
                }
            })
            .collect()
    };
    let without =
        |name: &str| -> Headers { good.iter().filter(|(n, _)| n != name).cloned().collect() };
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'U').unwrap();
    tampered[at] = b'V';
    let stale = httpdate::fmt_http_date(now - std::time::Duration::from_secs(3600));
    let future = httpdate::fmt_http_date(now + std::time::Duration::from_secs(3600));
    let cases: Vec<(&str, Vec<u8>, Headers)> = vec![
        ("unsigned", body.clone(), vec![]),
        ("no signature", body.clone(), without("authorization")),
        (
            "no content hash",
            body.clone(),
            without("x-ms-content-sha256"),
        ),
        ("no date", body.clone(), without("x-ms-date")),
        (
            "wrong secret",
            body.clone(),
            vipps_headers(&app, "not-the-secret", &date, &body),
        ),
        ("tampered body", tampered.clone(), good.clone()),
        (
            "tampered body with its hash recomputed",
            tampered.clone(),
            with(
                "x-ms-content-sha256",
                dialogpay::vipps::signature::content_hash(&tampered),
            ),
        ),
        (
            "date changed after signing",
            body.clone(),
            with("x-ms-date", stale.clone()),
        ),
        (
            "stale date, correctly signed",
            body.clone(),
            vipps_headers(&app, VIPPS_SECRET, &stale, &body),
        ),
        (
            "future date, correctly signed",
            body.clone(),
            vipps_headers(&app, VIPPS_SECRET, &future, &body),
        ),
        (
            "garbage date, correctly signed",
            body.clone(),
            vipps_headers(&app, VIPPS_SECRET, "yesterday", &body),
        ),
        ("signature over another host", body.clone(), {
            let s = sign_webhook(
                VIPPS_SECRET,
                "POST",
                VIPPS.path,
                "evil.example",
                &date,
                &body,
            );
            with("authorization", s.authorization)
        }),
        ("signature over another path", body.clone(), {
            let s = sign_webhook(
                VIPPS_SECRET,
                "POST",
                "/webhooks/other",
                &host(&app),
                &date,
                &body,
            );
            with("authorization", s.authorization)
        }),
        (
            "signature not base64",
            body.clone(),
            with(
                "authorization",
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=!!!".into(),
            ),
        ),
        (
            "bearer instead of a signature",
            body.clone(),
            with("authorization", format!("Bearer {INBOUND_TOKEN}")),
        ),
    ];
    for (case, bytes, mut headers) in cases {
        headers.push(("content-type".into(), "application/json".into()));
        let (status, answer) = post(&app, VIPPS.path, bytes, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {answer}");
        assert_refused(&VIPPS, status, &answer, case);
    }
    // Random bytes without a valid signature never get past it.
    let mut rng = Rng::new(0x5eed_0006);
    for i in 0..RANDOM_CASES {
        let len = rng.below(600);
        let bytes = rng.bytes(len);
        let headers = vipps_headers(&app, "random-secret", &date, &bytes);
        let (status, answer) = post(&app, VIPPS.path, bytes, &headers).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "random case {i}: {answer}"
        );
    }
    assert_eq!(
        stored(&app).await,
        before,
        "a bad signature stored something"
    );

    stored_once(&app, &VIPPS, &event, true).await;
    app.stop().await;
}
