//! JSON logs of the real binary: every line is JSON, lines written while a job runs name the
//! job, and phone numbers and secrets never appear.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use dialogpay::{config::Settings, db::Db, worker::Enqueuer};
use dialogpay_jobs::testing::Flaky;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{db::TestDb, eventually, process::ChildGuard};

type Lines = Arc<Mutex<Vec<String>>>;

fn collect(stream: impl Read + Send + 'static) -> Lines {
    let lines = Lines::default();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn snapshot(lines: &Lines) -> Vec<String> {
    lines.lock().unwrap().clone()
}

struct Secrets {
    operator: String,
    inbound: String,
    client_secret: String,
    subscription_key: String,
    webhook_secret: String,
}

impl Secrets {
    fn new() -> Self {
        let n = || ulid::Ulid::new().to_string().to_lowercase();
        Self {
            operator: format!("op-secret-{}", n()),
            inbound: format!("inbound-secret-{}", n()),
            client_secret: format!("client-secret-{}", n()),
            subscription_key: format!("subscription-key-{}", n()),
            webhook_secret: format!("webhook-secret-{}", n()),
        }
    }
}

/// `dialogpay serve` on the test database, JSON logs at debug level, the test-only queue on.
fn start(db: &TestDb, s: &Secrets) -> (ChildGuard, Lines, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialogpay"))
        .arg("serve")
        .env_remove("RUST_LOG")
        .env("DIALOGPAY__DATABASE__URL", &db.url)
        .env("DIALOGPAY__SERVER__PORT", "0")
        .env("DIALOGPAY__LOG__FORMAT", "json")
        .env("DIALOGPAY__LOG__LEVEL", "debug")
        .env("DIALOGPAY__JOBS__POLL_INTERVAL_MS", "100")
        .env("DIALOGPAY__JOBS__BACKOFF_BASE_MS", "200")
        .env("DIALOGPAY__OPERATOR__API_KEY", &s.operator)
        .env("DIALOGPAY__SMS__INBOUND_TOKEN", &s.inbound)
        .env("DIALOGPAY__VIPPS__CLIENT_SECRET", &s.client_secret)
        .env("DIALOGPAY__VIPPS__SUBSCRIPTION_KEY", &s.subscription_key)
        .env("DIALOGPAY__VIPPS__WEBHOOK_SECRET", &s.webhook_secret)
        .env("DIALOGPAY_TEST_JOBS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts the dialogpay binary");
    let stdout = collect(child.stdout.take().expect("stdout"));
    let stderr = collect(child.stderr.take().expect("stderr"));
    (ChildGuard::new(child, None), stdout, stderr)
}

/// A line is written inside a job when its code only runs in jobs.
fn written_in_a_job(line: &Value) -> bool {
    let target = line["target"].as_str().unwrap_or_default();
    let message = line["fields"]["message"].as_str().unwrap_or_default();
    target.starts_with("dialogpay::worker::handlers")
        || target.starts_with("dialogpay::sms")
        || target.starts_with("dialogpay::vipps::client")
        || (target == "dialogpay::worker::runtime" && message.starts_with("job "))
}

#[tokio::test]
async fn json_logs_name_the_job_and_never_show_phone_numbers_or_secrets() {
    let test_db = TestDb::create().await;
    let secrets = Secrets::new();
    let (_child, stdout, stderr) = start(&test_db, &secrets);
    let base = eventually(Duration::from_secs(30), "the listening line", || async {
        snapshot(&stdout).iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["fields"]["message"] == "listening")
                .then(|| format!("http://{}", v["fields"]["addr"].as_str().unwrap()))
        })
    })
    .await;
    let http = reqwest::Client::new();
    let call = |method: Method, path: &str, key: &str, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let resp = req.send().await.expect("request is sent");
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or_default())
        }
    };

    // A partner with a live GIVE dialogue on 2160.
    let (status, partner) = call(
        Method::POST,
        "/api/v1/admin/partners",
        &secrets.operator,
        Some(json!({ "name": "Charity", "vipps_msn": "123456" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{partner}");
    let key = partner["api_key"].as_str().unwrap().to_owned();
    let (status, group) = call(
        Method::POST,
        "/api/v1/crm-groups",
        &key,
        Some(json!({ "name": "Donors" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group = group["id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        Method::PUT,
        &format!("/api/v1/crm-groups/{group}/terms"),
        &key,
        Some(json!({ "text": "You agree to be charged every period until you stop." })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Oslo)
        .date_naive();
    let (status, body) = call(
        Method::POST,
        "/api/v1/dialogues",
        &key,
        Some(json!({
            "name": "Giver", "crm_group_id": group, "start_date": today.to_string(),
            "end_date": (today + chrono::Days::new(30)).to_string(), "module_type": "vipps_payments",
            "recurring": true, "period": "month", "product_name": "P", "product_description": "D",
            "amount": "50", "sender": "2160", "reply_message": "Bli med: {vipps_link}", "keyword": "GIVE"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A user texts the keyword; a wrong key is refused; a job fails once, then succeeds.
    let phone = "+4798765432";
    let (status, body) = call(
        Method::POST,
        "/webhooks/sms/inbound",
        &secrets.inbound,
        Some(json!({ "message_id": "log-1", "from": phone, "to": "2160", "text": "GIVE" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let wrong_key = format!("wrong-{}", secrets.operator);
    let (status, _) = call(Method::GET, "/api/v1/admin/jobs", &wrong_key, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let settings =
        Settings::with_overrides(&[("database.url", test_db.url.clone().into())]).unwrap();
    let db = Db::connect(&settings.database).await.unwrap();
    let flaky = Enqueuer::new(db.clone(), Default::default())
        .enqueue(&Flaky {
            name: "logs".into(),
            fail_times: 1,
            permanent: false,
            sleep_ms: 0,
            snooze_first_ms: 0,
        })
        .await
        .unwrap()
        .unwrap();

    eventually(
        Duration::from_secs(30),
        "the reply and the retried job",
        || {
            let (db, flaky, call, key) = (db.clone(), flaky.clone(), &call, key.clone());
            async move {
                let (_, page) =
                    call(Method::GET, "/api/v1/messages?direction=out", &key, None).await;
                let replied = page["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|m| m["status"] == "delivered"));
                let job = dialogpay::db::jobs::get(&db, &flaky).await.ok()??;
                (replied && job.status.as_str() == "done").then_some(())
            }
        },
    )
    .await;
    // Lines are written as they happen; give the last ones a moment to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let out = snapshot(&stdout);
    let err = snapshot(&stderr);
    let mut in_jobs = Vec::new();
    for line in out.iter().chain(&err) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string() && v["target"].is_string(),
            "{line}"
        );
        if written_in_a_job(&v) {
            let span = &v["span"];
            assert!(
                span["name"] == "job"
                    && span["job.id"].as_str().is_some_and(|id| !id.is_empty())
                    && span["job.queue"].is_string()
                    && span["job.attempt"].as_u64().is_some_and(|n| n >= 1),
                "a line written in a job names the job: {line}"
            );
            in_jobs.push(v);
        }
    }
    let seen = |queue: &str, message: &str| {
        in_jobs
            .iter()
            .any(|v| v["span"]["job.queue"] == queue && v["fields"]["message"] == message)
    };
    assert!(seen("sms.send", "SMS kept in the outbox (not sent)"));
    assert!(seen("test.flaky", "job attempt failed; will retry"));
    assert!(seen("sms.inbound", "job done"));
    assert!(seen("agreements.draft", "Vipps call"));

    let all = [out.join("\n"), err.join("\n")].join("\n");
    assert!(
        all.contains("+47****5432"),
        "the outbox logs the recipient masked"
    );
    for (what, value) in [
        ("the phone number", "4798765432"),
        ("the national number", "98765432"),
        ("the operator key", secrets.operator.as_str()),
        ("the SMS inbound token", secrets.inbound.as_str()),
        ("the partner's API key", key.as_str()),
        ("the Vipps client secret", secrets.client_secret.as_str()),
        (
            "the Vipps subscription key",
            secrets.subscription_key.as_str(),
        ),
        ("the Vipps webhook secret", secrets.webhook_secret.as_str()),
        ("an Authorization header", "Bearer"),
    ] {
        assert!(!all.contains(value), "{what} appears in the logs");
    }
}
