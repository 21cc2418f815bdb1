//! Fault tests: a billing run and a keyword burst while Vipps answers 20 % 5xx, bursts of 429
//! with `Retry-After`, 200 ms slow and drops connections (before and after doing the work); the
//! SMS gateway refusing connections and then answering 503 for a while; PostgreSQL restarted
//! in the middle (when `TEST_PG_CTL` says how). Everything completes, exactly once.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use dialogpay::{
    sms::{
        HttpGatewaySettings, SmsProvider, SmsSettings,
        fake::{FAKE_TOKEN, FakeGateway},
    },
    vipps::sim::Faults,
};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{
    INBOUND_TOKEN, OPERATOR_KEY, Options, TestApp, checks, db::TestDb, eventually,
};

const AGREEMENTS: usize = 300;
const MESSAGES: usize = 100;

/// The client-side Vipps throttle off: the faults, not our own limits, are under test.
fn no_rate_limits() -> Vec<(&'static str, toml::Value)> {
    [
        "vipps.rate_limits.draft_agreement",
        "vipps.rate_limits.list_agreements",
        "vipps.rate_limits.fetch_agreement",
        "vipps.rate_limits.update_agreement",
        "vipps.rate_limits.create_charge",
        "vipps.rate_limits.list_charges",
        "vipps.rate_limits.fetch_charge",
        "vipps.rate_limits.fetch_charge_by_id",
        "vipps.rate_limits.cancel_charge",
        "vipps.rate_limits.capture_charge",
        "vipps.rate_limits.refund_charge",
    ]
    .into_iter()
    .map(|k| (k, 0.into()))
    .collect()
}

fn sim(app: &TestApp) -> dialogpay::vipps::sim::Simulator {
    app.simulator.clone().expect("the embedded simulator")
}

/// A partner with a live `GIVE` dialogue on 2160; returns its id.
async fn keyword_dialogue(app: &TestApp) -> String {
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let today = app.state.clock.today_oslo();
    let body = json!({
        "name": "Giver", "crm_group_id": group, "start_date": today.to_string(),
        "end_date": (today + chrono::Days::new(60)).to_string(), "module_type": "vipps_payments",
        "recurring": true, "period": "month", "product_name": "Fast giver",
        "product_description": "Support", "amount": "50", "sender": "2160",
        "reply_message": "Bli med: {vipps_link}", "keyword": "GIVE"
    });
    let (status, d) = app.post("/api/v1/dialogues", &key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    d["id"].as_str().unwrap().to_owned()
}

fn phones(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+4792{i:06}")).collect()
}

/// Posts `GIVE` from every phone, 8 at a time; like a gateway, posts again whatever was not
/// answered 200 (e.g. while the database restarts) until everything was.
async fn post_keywords(app: &TestApp, phones: &[String]) {
    let mut left: Vec<usize> = (0..phones.len()).collect();
    let started = Instant::now();
    while !left.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "inbound webhooks still refused"
        );
        left = futures::stream::iter(left)
            .map(|i| async move {
                let body = json!({ "message_id": format!("gw-{i}"), "from": phones[i], "to": "2160", "text": "GIVE" });
                let (status, _) = app
                    .call(
                        Method::POST,
                        "/webhooks/sms/inbound",
                        Some(INBOUND_TOKEN),
                        Some(body),
                    )
                    .await;
                (status != StatusCode::OK).then_some(i)
            })
            .buffer_unordered(8)
            .filter_map(std::future::ready)
            .collect()
            .await;
        if !left.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn sweep(app: &TestApp) {
    let (status, body) = app
        .post("/api/v1/admin/billing/sweep", OPERATOR_KEY, json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

/// Runs every job to its end (retrying through the faults, within `within`); then all
/// `AGREEMENTS` charges reached Vipps and all `MESSAGES` replies were sent.
async fn run_everything(app: &TestApp, dialogue: &str, within: Duration) {
    app.run_pending_jobs_within(within).await;
    let db = &app.state.db;
    let charges = checks::charges_sent(db, dialogue).await;
    let replies = checks::replies_sent(db).await;
    assert!(
        charges == AGREEMENTS as i64 && replies == MESSAGES as i64,
        "{charges} of {AGREEMENTS} charges, {replies} of {MESSAGES} replies; jobs: {:?}",
        checks::job_summary(db).await
    );
}

async fn assert_everything_once(
    app: &TestApp,
    billing: &str,
    keyword: &str,
    phones: &[String],
    fake: &FakeGateway,
) {
    let sim = sim(app).agreements();
    let db = &app.state.db;
    checks::assert_one_charge_per_agreement(db, billing, AGREEMENTS, &sim).await;
    let phones: BTreeSet<String> = phones.iter().cloned().collect();
    checks::assert_one_agreement_and_reply_per_message(
        db,
        keyword,
        &phones,
        &sim,
        Some(&fake.sent()),
    )
    .await;
    checks::assert_no_failed_jobs(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vipps_faults_during_a_billing_run_and_a_keyword_burst_lose_and_double_nothing() {
    let fake = FakeGateway::spawn().await;
    let app = TestApp::spawn_with(Options {
        overrides: no_rate_limits(),
        sms: Some(fake.http_settings()),
        ..Options::manual_billing()
    })
    .await;
    let billing =
        dialogpay::bench::billing::seed(&app.state, app.simulator.as_ref(), AGREEMENTS as u64)
            .await
            .expect("seeds ACTIVE agreements");
    let keyword = keyword_dialogue(&app).await;
    let sim = sim(&app);
    // 20 % 503, every request 200 ms slow, 1 % of connections dropped unanswered and 2 %
    // dropped after the work was done; every 4 s, 300 ms of 429 with Retry-After: 1.
    //
    // Faults are independent per request, so a job fails for good when all its attempts fail:
    // with about 30 % of requests failing, a draft (8 attempts) does so once in ~15,000 runs
    // (p^8). More of every fault at once turns that into a flaky test, not a finding.
    sim.add_faults(Faults {
        error_rate: Some(0.2),
        error_status: Some(503),
        latency_ms: Some(200),
        drop_rate: Some(0.01),
        lost_reply_rate: Some(0.02),
        burst_every_ms: Some(4_000),
        burst_ms: Some(300),
        retry_after_secs: Some(1),
        ..Default::default()
    });
    let started = Instant::now();
    let phones = phones(MESSAGES);
    sweep(&app).await;
    post_keywords(&app, &phones).await;
    run_everything(&app, &billing, Duration::from_secs(300)).await;
    sim.clear_faults();
    eprintln!(
        "{AGREEMENTS} charges and {MESSAGES} replies through Vipps faults in {:?}; {} Vipps requests",
        started.elapsed(),
        sim.requests().len()
    );
    assert_everything_once(&app, &billing, &keyword, &phones, &fake).await;
    app.stop().await;
}

/// `[sms]` for the generic HTTP gateway at `url`.
fn http_gateway(url: String) -> SmsSettings {
    SmsSettings {
        provider: SmsProvider::Http,
        http: HttpGatewaySettings {
            url,
            token: FAKE_TOKEN.to_owned().into(),
            timeout_ms: 2_000,
        },
        ..SmsSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_wait_out_an_sms_gateway_outage_and_go_out_exactly_once() {
    // The gateway's address, with nothing listening yet: connections are refused.
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let app = TestApp::spawn_with(Options {
        sms: Some(http_gateway(format!("http://{addr}/send"))),
        ..Options::manual_billing()
    })
    .await;
    let keyword = keyword_dialogue(&app).await;
    let phones = phones(50);
    post_keywords(&app, &phones).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(checks::replies_sent(&app.state.db).await, 0);

    // Up, but answering 503 for a while.
    let fake = FakeGateway::try_spawn(&addr.to_string())
        .await
        .expect("binds the gateway's port again");
    fake.set_down(u32::MAX);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let refused = fake.requests();
    assert!(refused > 0, "send attempts during the 503 phase");
    fake.set_down(0);
    let recovered = Instant::now();

    app.run_pending_jobs().await;
    assert_eq!(
        checks::replies_sent(&app.state.db).await,
        phones.len() as i64,
        "every reply"
    );
    eprintln!(
        "{} replies sent {:?} after the gateway recovered ({refused} requests answered 503)",
        phones.len(),
        recovered.elapsed()
    );
    let phones: BTreeSet<String> = phones.into_iter().collect();
    checks::assert_one_agreement_and_reply_per_message(
        &app.state.db,
        &keyword,
        &phones,
        &sim(&app).agreements(),
        Some(&fake.sent()),
    )
    .await;
    checks::assert_no_failed_jobs(&app.state.db).await;
    app.stop().await;
}

/// Restarts PostgreSQL mid-run. Needs `TEST_PG_CTL`, a shell command that restarts the cluster
/// at `TEST_PG_CTL_URL` (default: `TEST_DATABASE_URL`); skipped without it. Use a cluster no
/// other test is using at the time (`.ci/run` starts a second one for this).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_run_loses_and_doubles_nothing() {
    let Some(restart) = std::env::var("TEST_PG_CTL").ok().filter(|s| !s.is_empty()) else {
        eprintln!(
            "skipped: set TEST_PG_CTL to a command that restarts the PostgreSQL cluster at \
             TEST_PG_CTL_URL (or TEST_DATABASE_URL)"
        );
        return;
    };
    let server = std::env::var("TEST_PG_CTL_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .ok()
        .filter(|s| s.starts_with("postgres"))
        .expect("TEST_PG_CTL needs TEST_PG_CTL_URL or TEST_DATABASE_URL (postgres://…)");
    let test_db = TestDb::create_on(Some(server)).await;
    let fake = FakeGateway::spawn().await;
    let app = TestApp::spawn_on(
        test_db,
        Options {
            overrides: no_rate_limits(),
            sms: Some(fake.http_settings()),
            ..Options::manual_billing()
        },
    )
    .await;
    let billing =
        dialogpay::bench::billing::seed(&app.state, app.simulator.as_ref(), AGREEMENTS as u64)
            .await
            .expect("seeds ACTIVE agreements");
    let keyword = keyword_dialogue(&app).await;
    // Vipps slow enough that the run is still going when the database goes away.
    sim(&app).add_faults(Faults {
        latency_ms: Some(100),
        ..Default::default()
    });
    let phones = phones(MESSAGES);
    let started = Instant::now();
    sweep(&app).await;
    let restarter = {
        let db = app.state.db.clone();
        let billing = billing.clone();
        tokio::spawn(async move {
            eventually(Duration::from_secs(120), "the run under way", || async {
                (checks::charges_sent(&db, &billing).await >= (AGREEMENTS / 4) as i64).then_some(())
            })
            .await;
            let at = Instant::now();
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&restart)
                    .output()
                    .expect("runs TEST_PG_CTL")
            })
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "TEST_PG_CTL failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            at.elapsed()
        })
    };
    post_keywords(&app, &phones).await;
    let took = restarter.await.expect("PostgreSQL restarted");
    eprintln!(
        "PostgreSQL restarted in {took:?}, {} charges sent at that point",
        checks::charges_sent(&app.state.db, &billing).await
    );
    run_everything(&app, &billing, Duration::from_secs(300)).await;
    eprintln!(
        "{AGREEMENTS} charges and {MESSAGES} replies across a PostgreSQL restart in {:?}",
        started.elapsed()
    );
    sim(&app).clear_faults();
    assert_everything_once(&app, &billing, &keyword, &phones, &fake).await;
    app.stop().await;
}
