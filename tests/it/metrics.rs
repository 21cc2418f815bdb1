//! `GET /metrics`: the series change when the service does things.
//!
//! The recorder is process-wide and tests run in parallel, so recorded series are compared as
//! deltas that must have grown by at least what this test did; job counts are read from the
//! test's own database and are exact.

use std::{path::Path, process::Command, time::Duration};

use dialogpay::{
    monitoring::names,
    sms::{
        DeliveryStatus,
        fake::{FakeGateway, generic_status_body},
    },
    vipps::sim::Faults,
};
use dialogpay_jobs::testing::Flaky;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{
    INBOUND_TOKEN, OPERATOR_KEY, Options, TestApp,
    db::TestDb,
    eventually, keyword_dialogue,
    process::{ChildGuard, live_vipps_env, spawn_listening, start_simulator},
};

type Labels = Vec<(String, String)>;

/// One scrape, parsed: (series name, labels, value).
struct Scrape(Vec<(String, Labels, f64)>);

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut series = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (key, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match key.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (key, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once("=\"").expect("label=\"value\"");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            series.push((name.to_owned(), labels, value));
        }
        Self(series)
    }

    /// The sum over the series called `name` that carry all of `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(n, ls, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }
}

async fn scrape_text(app: &TestApp) -> String {
    scrape_url(&app.http, &app.base).await
}

/// `GET {base}/metrics`: the body, after checking status and content type.
async fn scrape_url(http: &reqwest::Client, base: &str) -> String {
    let resp = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrapes");
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    resp.text().await.unwrap()
}

async fn scrape(app: &TestApp) -> Scrape {
    Scrape::parse(&scrape_text(app).await)
}

fn count(name: &str) -> String {
    format!("{name}_count")
}

#[tokio::test]
async fn http_requests_are_counted_by_route_template_never_by_raw_path() {
    let app = TestApp::spawn().await;
    let (_, key) = app.partner("Charity").await;
    let before = scrape(&app).await;
    let unique = ulid::Ulid::new().to_string().to_lowercase();
    let missing = format!("dlg_{unique}");
    let (status, _) = app.get(&format!("/api/v1/dialogues/{missing}"), &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/v1/crm-groups", &key).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        format!("/no/such/{unique}"),
        format!("/api/v1/no-such/+4790000{}", &unique[..3]),
    ] {
        let (status, _) = app.get(&path, &key).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app
        .call(Method::from_bytes(b"BREW").unwrap(), "/healthz", None, None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let text = scrape_text(&app).await;
    let after = Scrape::parse(&text);
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let dialogue = [
        ("method", "GET"),
        ("route", "/api/v1/dialogues/:id"),
        ("status", "404"),
    ];
    assert!(grew(names::HTTP_REQUESTS, &dialogue) >= 1.0, "{text}");
    let groups = [
        ("method", "GET"),
        ("route", "/api/v1/crm-groups"),
        ("status", "200"),
    ];
    assert!(grew(names::HTTP_REQUESTS, &groups) >= 1.0, "{text}");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(grew(names::HTTP_REQUESTS, &unmatched) >= 2.0, "{text}");
    let brew = [
        ("method", "other"),
        ("route", "/healthz"),
        ("status", "405"),
    ];
    assert!(grew(names::HTTP_REQUESTS, &brew) >= 1.0, "{text}");
    let latency = [("method", "GET"), ("route", "/api/v1/dialogues/:id")];
    assert!(
        grew(&count(names::HTTP_DURATION), &latency) >= 1.0,
        "{text}"
    );
    assert!(
        !text.contains(&unique) && !text.contains("+4790000"),
        "raw paths never become labels"
    );
    assert!(
        !text.contains("/vipps-sim"),
        "the embedded simulator's own requests are not ours"
    );
    app.stop().await;
}

#[tokio::test]
async fn jobs_are_counted_by_queue_and_status_and_timed_by_outcome() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let name = ulid::Ulid::new().to_string();
    let flaky = |suffix: &str, fail_times, permanent| Flaky {
        name: format!("{name}-{suffix}"),
        fail_times,
        permanent,
        sleep_ms: 0,
        snooze_first_ms: 0,
    };
    let retried = app.enqueue(&flaky("retried", 1, false)).await;
    let permanent = app.enqueue(&flaky("permanent", 1, true)).await;
    let exhausted = app.enqueue(&flaky("exhausted", 4, false)).await;
    for (id, want) in [
        (&retried, "done"),
        (&permanent, "failed"),
        (&exhausted, "failed"),
    ] {
        let row = app.settled_job(id).await;
        assert_eq!(row.status.as_str(), want, "{row:?}");
    }

    let text = scrape_text(&app).await;
    let after = Scrape::parse(&text);
    let jobs = |status| after.value(names::JOBS, &[("queue", "test.flaky"), ("status", status)]);
    assert_eq!(jobs("done"), 1.0, "{text}");
    assert_eq!(jobs("failed"), 2.0, "{text}");
    assert_eq!(jobs("pending"), 0.0, "zeros are shown: {text}");
    assert_eq!(jobs("killed"), 0.0, "{text}");
    let runs = |outcome| {
        let labels = [("queue", "test.flaky"), ("outcome", outcome)];
        after.value(&count(names::JOB_DURATION), &labels)
            - before.value(&count(names::JOB_DURATION), &labels)
    };
    assert!(runs("done") >= 1.0, "{text}");
    assert!(runs("retry") >= 1.0 + 3.0, "{text}");
    assert!(runs("permanent") >= 1.0, "{text}");
    assert!(runs("failed") >= 1.0, "{text}");
    app.stop().await;
}

#[tokio::test]
async fn vipps_calls_are_counted_by_operation_and_outcome() {
    let app = TestApp::spawn().await;
    let sim = app.simulator.as_ref().expect("simulator mode");
    let vipps = &app.state.vipps;
    let agreement = format!("agr_metrics{}", &ulid::Ulid::new().to_string()[..8]);
    let before = scrape(&app).await;

    let answered = vipps.get_agreement("123456", &agreement).await;
    assert_eq!(answered.unwrap_err().status(), Some(404));
    for fault in [
        Faults {
            status: Some(503),
            count: Some(1),
            ..Default::default()
        },
        Faults {
            status: Some(429),
            count: Some(1),
            ..Default::default()
        },
        Faults {
            drop_connection: Some(1),
            ..Default::default()
        },
    ] {
        sim.add_faults(Faults {
            path: Some(format!("/recurring/v3/agreements/{agreement}")),
            ..fault
        });
        assert!(vipps.get_agreement("123456", &agreement).await.is_err());
        sim.clear_faults();
    }

    let text = scrape_text(&app).await;
    let after = Scrape::parse(&text);
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    for outcome in ["4xx", "5xx", "429", "transport_error"] {
        let labels = [("operation", "fetch_agreement"), ("outcome", outcome)];
        assert!(
            grew(names::VIPPS_REQUESTS, &labels) >= 1.0,
            "{outcome}: {text}"
        );
    }
    let latency = [("operation", "fetch_agreement")];
    assert!(
        grew(&count(names::VIPPS_DURATION), &latency) >= 4.0,
        "{text}"
    );
    assert!(
        !text.contains(&agreement),
        "operations, never paths with ids"
    );
    app.stop().await;
}

/// A partner with a live GIVE dialogue on 2160, replies through `fake`.
async fn app_with(fake: &FakeGateway) -> (TestApp, String) {
    let app = TestApp::spawn_with(Options {
        sms: Some(fake.http_settings()),
        ..Options::manual_billing()
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
    let (status, created) = app.post("/api/v1/dialogues", &key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (app, key)
}

async fn text_in(app: &TestApp, gateway_id: &str, from: &str) {
    let body = json!({ "message_id": gateway_id, "from": from, "to": "2160", "text": "GIVE" });
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

async fn report(app: &TestApp, gateway_message_id: &str, status: DeliveryStatus) {
    let (code, body) = app
        .call(
            Method::POST,
            "/webhooks/sms/status",
            Some(INBOUND_TOKEN),
            Some(generic_status_body(gateway_message_id, status)),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn sms_are_counted_when_sent_delivered_and_failed() {
    let fake = FakeGateway::spawn().await;
    let (app, key) = app_with(&fake).await;
    let before = scrape(&app).await;

    text_in(&app, "metrics-1", "+4790000101").await;
    text_in(&app, "metrics-2", "+4790000102").await;
    app.run_pending_jobs().await;
    let sent = fake.sent();
    assert_eq!(sent.len(), 2, "two replies: {sent:?}");
    report(&app, &sent[0].gateway_message_id, DeliveryStatus::Delivered).await;
    report(&app, &sent[0].gateway_message_id, DeliveryStatus::Delivered).await;
    report(&app, &sent[1].gateway_message_id, DeliveryStatus::Failed).await;

    // The gateway refuses the next message outright (400): the send job gives up at once.
    fake.set_status(400, 1);
    text_in(&app, "metrics-3", "+4790000103").await;
    app.run_pending_jobs().await;
    let (_, page) = app
        .get("/api/v1/messages?direction=out&status=failed", &key)
        .await;
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(2),
        "the refused reply: {page}"
    );

    let jobs = |scrape: &Scrape, queue, status| {
        scrape.value(names::JOBS, &[("queue", queue), ("status", status)])
    };
    let text = scrape_text(&app).await;
    let after = Scrape::parse(&text);
    assert_eq!(
        jobs(&after, "sms.send", "failed"),
        1.0,
        "the send job failed: {text}"
    );
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let http = [("provider", "http")];
    assert!(grew(names::SMS_SENT, &http) >= 2.0, "{text}");
    assert!(grew(names::SMS_DELIVERED, &http) >= 1.0, "{text}");
    assert!(
        grew(names::SMS_FAILED, &http) >= 2.0,
        "one failed on the way, one refused: {text}"
    );
    let sends = |outcome| {
        grew(
            &count(names::JOB_DURATION),
            &[("queue", "sms.send"), ("outcome", outcome)],
        )
    };
    assert!(sends("done") >= 2.0, "{text}");
    assert!(sends("permanent") >= 1.0, "{text}");
    let drafts = [("operation", "draft_agreement"), ("outcome", "2xx")];
    assert!(grew(names::VIPPS_REQUESTS, &drafts) >= 3.0, "{text}");
    assert_eq!(
        (
            jobs(&after, "sms.send", "done"),
            jobs(&after, "sms.inbound", "done")
        ),
        (2.0, 3.0),
        "the other jobs done: {text}"
    );
    assert!(!text.contains("90000101"), "no phone numbers");
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = TestApp::spawn_with(Options {
        overrides: vec![("server.metrics_enabled", false.into())],
        ..Options::manual_billing()
    })
    .await;
    let (status, _) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// `dialogpay ROLE` as a child process on `db` with `env`, its log in `log` (shown when the test
/// fails); returns the first address it prints (`listening on …`: the API, or the metrics
/// listener of a worker).
fn start(role: &str, db: &TestDb, env: &[(&str, &str)], log: &Path) -> (ChildGuard, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogpay"));
    cmd.arg(role)
        .env_remove("RUST_LOG")
        .env("DIALOGPAY__DATABASE__URL", &db.url)
        .env("DIALOGPAY__OPERATOR__API_KEY", OPERATOR_KEY)
        .env("DIALOGPAY__SMS__INBOUND_TOKEN", INBOUND_TOKEN)
        .env("DIALOGPAY__JOBS__POLL_INTERVAL_MS", "100")
        .env("DIALOGPAY__LOG__LEVEL", "warn");
    for (k, v) in env {
        cmd.env(format!("DIALOGPAY__{k}"), v);
    }
    spawn_listening(cmd, Some(log))
}

#[tokio::test]
async fn a_worker_process_serves_its_own_series_on_the_metrics_port() {
    let test_db = TestDb::create().await;
    let logs = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    // The split deployment without Vipps: a standalone simulator, reached in live mode.
    let (_sim, sim) = start_simulator(&logs.path().join("sim.json"), &logs.path().join("sim.log"));
    let live = live_vipps_env(&sim);
    let live: Vec<(&str, &str)> = live
        .iter()
        .map(|(k, v)| (k.trim_start_matches("DIALOGPAY__"), v.as_str()))
        .collect();
    let (_api, api) = start(
        "api",
        &test_db,
        &[live.as_slice(), &[("SERVER__PORT", "0")]].concat(),
        &logs.path().join("api.log"),
    );
    // The API process migrates; the worker starts on the migrated database.
    eventually(Duration::from_secs(30), "the API ready", || async {
        let resp = http.get(format!("{api}/readyz")).send().await.ok()?;
        (resp.status() == StatusCode::OK).then_some(())
    })
    .await;
    let (_worker, worker) = start(
        "worker",
        &test_db,
        &[
            live.as_slice(),
            &[
                ("SERVER__METRICS_PORT", "0"),
                ("SERVER__PUBLIC_BASE_URL", &api),
            ],
        ]
        .concat(),
        &logs.path().join("worker.log"),
    );
    let (status, body) = {
        let resp = http.get(format!("{worker}/healthz")).send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    };
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"ok"}"#)
    );

    // A user texts the keyword to the API; the worker drafts with Vipps and replies.
    keyword_dialogue(&http, &api).await;
    let resp = http
        .post(format!("{api}/webhooks/sms/inbound"))
        .bearer_auth(INBOUND_TOKEN)
        .json(&json!({ "message_id": "m-1", "from": "+4790000101", "to": "2160", "text": "GIVE" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let done = |scrape: &Scrape, queue| {
        scrape.value(
            &count(names::JOB_DURATION),
            &[("queue", queue), ("outcome", "done")],
        )
    };
    // Each job's duration is recorded when it ends, which may be after the job it enqueued
    // has already run: wait for all three.
    let (text, scrape) = eventually(Duration::from_secs(60), "the three jobs done", || async {
        let text = scrape_url(&http, &worker).await;
        let scrape = Scrape::parse(&text);
        ["sms.inbound", "agreements.draft", "sms.send"]
            .iter()
            .all(|queue| done(&scrape, queue) >= 1.0)
            .then_some((text, scrape))
    })
    .await;
    let drafts = [("operation", "draft_agreement"), ("outcome", "2xx")];
    assert!(
        scrape.value(names::VIPPS_REQUESTS, &drafts) >= 1.0,
        "{text}"
    );
    assert!(
        scrape.value(names::SMS_SENT, &[("provider", "outbox")]) >= 1.0,
        "{text}"
    );
    assert!(
        text.contains(names::JOBS),
        "job counts from the database: {text}"
    );
    assert!(!text.contains("90000101"), "no phone numbers");

    // Those series are the worker's own: the API process ran no job and called no Vipps.
    let api_text = scrape_url(&http, &api).await;
    let api_scrape = Scrape::parse(&api_text);
    assert_eq!(
        api_scrape.value(&count(names::JOB_DURATION), &[]),
        0.0,
        "{api_text}"
    );
    assert_eq!(
        api_scrape.value(names::VIPPS_REQUESTS, &[]),
        0.0,
        "{api_text}"
    );

    // Only the two routes; the wrong method is a 405 listing the right one.
    let resp = http.get(format!("{worker}/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = http.post(format!("{worker}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
}
