//! Test support: a real dialogpay server on 127.0.0.1:0 with its own database (a SQLite file in
//! a temp dir, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set), real workers,
//! and HTTP helpers.

#![allow(dead_code)]

pub mod checks;
pub mod console;
pub mod db;
pub mod drain;
pub mod jobs;
pub mod portal;
pub mod process;
pub mod receiver;

use std::time::Duration;

use dialogpay::{
    app::{self, AppState, Application, Roles},
    config::Settings,
    worker::{WorkerSet, register_workers},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const OPERATOR_KEY: &str = "test-operator-key-0123456789";
/// The bearer token the generic SMS gateway sends on inbound webhooks.
pub const INBOUND_TOKEN: &str = "test-inbound-token-0123456789";

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    /// The embedded Vipps simulator (every test app runs in simulator mode unless overridden).
    pub simulator: Option<dialogpay::vipps::sim::Simulator>,
    pub test_db: db::TestDb,
    /// Whether this app runs workers ([`Options::workers`]).
    workers: bool,
    /// Every queue of [`test_workers`].
    queues: Vec<&'static str>,
    /// One wake-up counter per queue: enqueues in this process, for [`drain`].
    enqueued: Vec<tokio::sync::watch::Receiver<u64>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Knobs for [`TestApp::spawn_with`].
pub struct Options {
    pub workers: bool,
    /// The billing scheduler on `billing.sweep_cron` / `billing.reconcile_cron` (the defaults
    /// unless overridden), as in `serve`. Tests that sweep and reconcile by hand switch it off
    /// ([`Options::manual_billing`]): a tick landing mid-test would bill behind their back.
    pub scheduler: bool,
    pub overrides: Vec<(&'static str, toml::Value)>,
    /// Replaces `[sms]` (e.g. a `FakeGateway`'s settings); the inbound token is kept.
    pub sms: Option<dialogpay::sms::SmsSettings>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: true,
            scheduler: true,
            overrides: Vec::new(),
            sms: None,
        }
    }
}

impl Options {
    /// Billing only when the test says so (no scheduler).
    pub fn manual_billing() -> Self {
        Self {
            scheduler: false,
            ..Self::default()
        }
    }
}

/// The worker set used by tests: the real list plus the test-only flaky job.
pub fn test_workers() -> WorkerSet {
    dialogpay::worker::with_test_jobs(register_workers())
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let test_db = db::TestDb::create().await;
        Self::spawn_on(test_db, options).await
    }

    /// Starts a server on an existing test database (e.g. a second process' view).
    pub async fn spawn_on(test_db: db::TestDb, options: Options) -> Self {
        let mut overrides: Vec<(&str, toml::Value)> = vec![
            ("database.url", test_db.url.clone().into()),
            ("database.max_connections", 5.into()),
            ("server.port", 0.into()),
            ("operator.api_key", OPERATOR_KEY.into()),
            ("jobs.poll_interval_ms", 100.into()),
            ("jobs.backoff_base_ms", 200.into()),
            ("jobs.heartbeat_interval_secs", 1.into()),
            ("jobs.missed_heartbeats", 2.into()),
            ("jobs.maintenance_interval_secs", 1.into()),
            ("log.level", "warn".into()),
            ("sms.inbound_token", INBOUND_TOKEN.into()),
            ("vipps.simulator.webhook_retry_base_ms", 200.into()),
            // Tests walk agreements through periods by moving the simulator's clock.
            ("vipps.simulator.clock", "frozen".into()),
        ];
        overrides.extend(options.overrides);
        let mut settings = Settings::with_overrides(&overrides).expect("test settings are valid");
        if let Some(mut sms) = options.sms {
            sms.inbound_token = settings.sms.inbound_token.clone();
            settings.sms = sms;
        }
        dialogpay::telemetry::init(&settings.log);
        let roles = Roles {
            http: true,
            workers: options.workers,
            scheduler: options.workers && options.scheduler,
        };
        // Started as `serve` starts: build (binding port 0) → the bound address → run.
        let workers = test_workers();
        let queues = workers.queues();
        let app = Application::build(settings, roles)
            .await
            .expect("the app builds")
            .with_workers(workers);
        let addr = app.address().expect("an HTTP listener");
        let (state, simulator) = (app.state().clone(), app.simulator().cloned());
        let wakers = state.enqueuer.wakers();
        let enqueued = queues.iter().map(|q| wakers.subscribe(q)).collect();
        let (stop_tx, shutdown) = app::manual_shutdown();
        let handle = tokio::spawn(app.run_until_stopped(shutdown));
        let base = format!("http://{addr}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        // The HTTP server starts last: once it answers, the workers run and what start-up
        // enqueues (webhook registrations) is on the queue, where a drain sees it.
        let health = http.get(format!("{base}/healthz")).send().await;
        assert!(
            health.is_ok_and(|r| r.status().is_success()),
            "the app serves"
        );
        TestApp {
            base,
            http,
            state,
            simulator,
            test_db,
            workers: options.workers,
            queues,
            enqueued,
            stop: Some(stop_tx),
            handle: Some(handle),
        }
    }

    /// Stops gracefully and waits for running jobs to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
        }
    }

    /// Simulates `kill -9` inside the test process: the server and workers vanish without
    /// finishing anything (no acks, no heartbeats).
    pub fn crash(mut self) -> db::TestDb {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
        self.stop.take();
        self.test_db.clone()
    }

    /// Sends a request; `key` is the bearer token, `body` JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request is sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// Creates a partner through the admin API; returns (id, api_key).
    pub async fn partner(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .post(
                "/api/v1/admin/partners",
                OPERATOR_KEY,
                json!({ "name": name, "vipps_msn": "123456" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["api_key"].as_str().unwrap().to_owned(),
        )
    }

    /// A CRM group with terms; returns its id.
    pub async fn crm_group_with_terms(&self, key: &str, name: &str) -> String {
        let (status, group) = self
            .post("/api/v1/crm-groups", key, json!({ "name": name }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        let id = group["id"].as_str().unwrap().to_owned();
        let (status, body) = self
            .put(
                &format!("/api/v1/crm-groups/{id}/terms"),
                key,
                json!({ "text": "You agree to be charged every period until you stop." }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        id
    }
}

impl TestApp {
    /// A live monthly `GIVE` dialogue on 2160 (100 NOK, a year from today) in `group`, with
    /// `reply` as its reply text; returns its id.
    pub async fn monthly_give_dialogue(&self, key: &str, group: &str, reply: &str) -> String {
        let today = self.state.clock.today_oslo();
        let body = json!({
            "name": "Monthly giver", "crm_group_id": group,
            "start_date": today.to_string(), "end_date": (today + chrono::Days::new(365)).to_string(),
            "module_type": "vipps_payments", "recurring": true, "period": "month",
            "product_name": "Fast giver", "product_description": "Monthly support",
            "amount": "100", "sender": "2160", "reply_message": reply, "keyword": "GIVE"
        });
        let (status, d) = self.post("/api/v1/dialogues", key, body).await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        d["id"].as_str().unwrap().to_owned()
    }
}

/// An in-test state on `db` that talks to a standalone `dialogpay vipps-sim` at `sim` as if it
/// were Vipps, unthrottled: what seeds ACTIVE agreements (`bench::billing::seed`) for the
/// real-process tests. Its drafts carry `public` in their links.
pub async fn seeder_for(db: &db::TestDb, sim: &str, public: &str) -> AppState {
    let mut settings = Settings::with_overrides(&[
        ("database.url", db.url.clone().into()),
        ("vipps.mode", "live".into()),
        ("vipps.base_url", sim.into()),
        ("vipps.client_id", "simulator".into()),
        ("vipps.client_secret", "simulator".into()),
        ("vipps.subscription_key", "simulator".into()),
        ("server.public_base_url", public.into()),
        ("log.level", "warn".into()),
    ])
    .expect("seeder settings are valid");
    settings.vipps.rate_limits = dialogpay::vipps::settings::RateLimits::unlimited();
    app::state_without_server(settings)
        .await
        .expect("the seeder's state builds")
}

/// A partner with a live `GIVE` dialogue on 2160, created through the API of the server at
/// `base` (a child process; [`TestApp`] has its own helpers); returns the dialogue id.
pub async fn keyword_dialogue(http: &reqwest::Client, base: &str) -> String {
    keyword_partner(http, base).await.1
}

/// [`keyword_dialogue`], returning the partner's API key too: (key, dialogue id).
pub async fn keyword_partner(http: &reqwest::Client, base: &str) -> (String, String) {
    let call = |path: &str, key: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let partner: Value = call(
        "/api/v1/admin/partners",
        OPERATOR_KEY,
        json!({ "name": "Charity", "vipps_msn": "123456" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = partner["api_key"].as_str().expect("api key").to_owned();
    let group: Value = call("/api/v1/crm-groups", &key, json!({ "name": "Donors" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group = group["id"].as_str().unwrap();
    let terms = http
        .put(format!("{base}/api/v1/crm-groups/{group}/terms"))
        .bearer_auth(&key)
        .json(&json!({ "text": "You agree to be charged every month until you stop." }))
        .send()
        .await
        .unwrap();
    assert_eq!(terms.status(), StatusCode::CREATED);
    let today = chrono::Utc::now().date_naive();
    let dialogue: Value = call(
        "/api/v1/dialogues",
        &key,
        json!({
            "name": "Giver", "crm_group_id": group,
            "start_date": (today - chrono::Days::new(1)).to_string(),
            "end_date": (today + chrono::Days::new(60)).to_string(), "module_type": "vipps_payments",
            "recurring": true, "period": "month", "product_name": "Fast giver",
            "product_description": "Support", "amount": "50", "sender": "2160",
            "reply_message": "Bli med: {vipps_link}", "keyword": "GIVE"
        }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let dialogue = dialogue["id"]
        .as_str()
        .expect("dialogue created")
        .to_owned();
    (key, dialogue)
}

/// Polls `check` until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
