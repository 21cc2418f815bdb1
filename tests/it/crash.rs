//! Crash tests with the real binary: `kill -9` while a job runs, in the middle of a billing run,
//! in the middle of a keyword burst, between a Vipps refund and its record, and while a
//! partner's webhooks are being delivered; restart at once;
//! everything completes exactly once.
//!
//! The billing and keyword tests run the Vipps simulator as its own process (`dialogpay
//! vipps-sim --state FILE`) so that it outlives the killed service, which talks to it in live
//! mode as it would talk to Vipps. Sizes: `CRASH_AGREEMENTS` (default 5,000, as CI runs it) and
//! `CRASH_MESSAGES` (default 1,000).

use std::{
    collections::BTreeSet,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use dialogpay::{
    config::Settings,
    db::Db,
    sms::fake::{FAKE_TOKEN, FakeGateway},
    vipps::sim::AgreementDump,
    worker::Enqueuer,
};
use dialogpay_jobs::testing::Flaky;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    self, INBOUND_TOKEN, OPERATOR_KEY, checks,
    db::TestDb,
    eventually,
    process::{self, ChildGuard, live_vipps_env, spawn_listening, start_simulator},
};

/// `dialogpay serve` on the test database with short liveness timers, plus `extra` settings.
fn start_service(
    db: &TestDb,
    extra: &[(String, String)],
    log: Option<&Path>,
) -> (ChildGuard, String) {
    start_service_on(0, db, extra, log)
}

/// [`start_service`] on `port` (0: any). A restarted service must come back on the same
/// address, as it would in production: the links in Vipps drafts carry it
/// (`server.public_base_url`), and a re-run draft with another address is a different request
/// under the same Idempotency-Key.
fn start_service_on(
    port: u16,
    db: &TestDb,
    extra: &[(String, String)],
    log: Option<&Path>,
) -> (ChildGuard, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogpay"));
    cmd.arg("serve")
        .env("DIALOGPAY__DATABASE__URL", &db.url)
        .env("DIALOGPAY__SERVER__PORT", port.to_string())
        .env("DIALOGPAY__OPERATOR__API_KEY", OPERATOR_KEY)
        .env("DIALOGPAY__JOBS__HEARTBEAT_INTERVAL_SECS", "1")
        .env("DIALOGPAY__JOBS__MISSED_HEARTBEATS", "2")
        .env("DIALOGPAY__JOBS__MAINTENANCE_INTERVAL_SECS", "1")
        .env("DIALOGPAY__JOBS__POLL_INTERVAL_MS", "100")
        .env("DIALOGPAY__JOBS__BACKOFF_BASE_MS", "200")
        .env("DIALOGPAY__LOG__LEVEL", "warn")
        .env("DIALOGPAY_TEST_JOBS", "1");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    spawn_listening(cmd, log)
}

pub(crate) fn count_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Generous deadlines: debug builds on two shared cores.
pub(crate) fn budget(items: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(200) * items as u32
}

pub(crate) async fn sim_agreements(http: &reqwest::Client, sim: &str) -> Vec<AgreementDump> {
    http.get(format!("{sim}/_sim/agreements"))
        .send()
        .await
        .expect("simulator answers")
        .json()
        .await
        .expect("agreement dump")
}

/// `POST /api/v1/admin/billing/sweep`; returns the sweep job's id.
async fn sweep(http: &reqwest::Client, base: &str) -> String {
    let resp = http
        .post(format!("{base}/api/v1/admin/billing/sweep"))
        .bearer_auth(OPERATOR_KEY)
        .json(&json!({}))
        .send()
        .await
        .expect("sweep request");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let body: Value = resp.json().await.unwrap();
    body["job_id"].as_str().expect("a new sweep job").to_owned()
}

async fn job_state(db: &Db, id: &str) -> Option<(String, i64)> {
    dialogpay::db::jobs::get(db, id)
        .await
        .unwrap()
        .map(|r| (r.status.as_str().to_owned(), r.attempts))
}

async fn jobs_done(db: &Db, queue: &str) -> i64 {
    let table = jobs_table(db);
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE job_type = $1 AND status = 'Done'");
    dialogpay::with_pool!(db, |p| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(
        sql
    ))
    .bind(queue)
    .fetch_one(p)
    .await)
    .unwrap()
}

#[tokio::test]
async fn kill_minus_nine_mid_job_then_an_immediate_restart_reruns_the_job() {
    let test_db = TestDb::create().await;
    let settings =
        Settings::with_overrides(&[("database.url", test_db.url.clone().into())]).unwrap();
    let db = Db::connect(&settings.database).await.unwrap();
    db.migrate().await.unwrap();
    let enqueuer = Enqueuer::new(db.clone(), Default::default());

    let (mut first, _) = start_service(&test_db, &[], None);
    let job = Flaky {
        name: "crash".into(),
        fail_times: 0,
        permanent: false,
        sleep_ms: 3000,
        snooze_first_ms: 0,
    };
    let id = enqueuer.enqueue(&job).await.unwrap().unwrap();
    eventually(
        Duration::from_secs(10),
        "the job to start running",
        || async { (job_state(&db, &id).await?.0 == "running").then_some(()) },
    )
    .await;

    first.kill9();
    let killed_at = Instant::now();
    let second = start_service(&test_db, &[], None);

    let restarted_after = eventually(
        Duration::from_secs(30),
        "the orphan to run again",
        || async {
            let (status, attempts) = job_state(&db, &id).await?;
            (status == "running" && attempts >= 1).then(|| killed_at.elapsed())
        },
    )
    .await;
    eprintln!("orphaned job picked up again {restarted_after:?} after kill -9");
    eventually(Duration::from_secs(15), "the job to finish", || async {
        (job_state(&db, &id).await?.0 == "done").then_some(())
    })
    .await;
    // The history says what happened: the killed attempt orphaned, the rerun done.
    let history = dialogpay::db::queue::attempts::for_job(&db, &id)
        .await
        .unwrap();
    let outcomes: Vec<_> = history.iter().map(|a| (a.attempt, a.outcome)).collect();
    use dialogpay::domain::status::AttemptOutcome;
    assert_eq!(
        outcomes,
        [(1, AttemptOutcome::Orphaned), (2, AttemptOutcome::Done)],
        "{history:?}"
    );
    assert!(history[0].error.as_deref().unwrap().contains("heartbeat"));
    drop(second);
}

#[tokio::test]
async fn kill_minus_nine_mid_billing_run_charges_every_agreement_exactly_once() {
    let n = count_from_env("CRASH_AGREEMENTS", 5_000);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create().await;
    let sim_state = dir.path().join("sim.json");
    let (mut sim_proc, sim) = start_simulator(&sim_state, &dir.path().join("sim.log"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    // n ACTIVE agreements in the simulator and our database, period 1 due (seeded from here).
    let seeder = support::seeder_for(&test_db, &sim, "http://127.0.0.1:9").await;
    let dialogue = dialogpay::bench::billing::seed(&seeder, None, n as u64)
        .await
        .expect("seeds ACTIVE agreements");
    let db = seeder.db.clone();
    eprintln!("seeded {n} agreements in {:?}", started.elapsed());

    let env = live_vipps_env(&sim);
    let log = |i: u32| dir.path().join(format!("service-{i}.log"));
    let port = process::free_port();
    let (mut first, base) = start_service_on(port, &test_db, &env, Some(&log(1)));
    let run = Instant::now();
    sweep(&http, &base).await;
    eventually(budget(n), "a third of the charges", || async {
        (checks::charges_sent(&db, &dialogue).await >= (n / 3) as i64).then_some(())
    })
    .await;
    first.kill9();
    let at_kill = checks::charges_sent(&db, &dialogue).await;
    eprintln!(
        "kill -9 after {:?} with {at_kill} of {n} charges sent",
        run.elapsed()
    );

    // The restart finishes the queued and the orphaned jobs without another sweep.
    let (_second, base) = start_service_on(port, &test_db, &env, Some(&log(2)));
    let restarted = Instant::now();
    eventually(
        budget(n),
        "every charge after the restart, without a new sweep",
        || async { (checks::charges_sent(&db, &dialogue).await == n as i64).then_some(()) },
    )
    .await;
    eprintln!(
        "the remaining {} charges {:?} after the restart",
        n as i64 - at_kill,
        restarted.elapsed()
    );
    // A sweep now finds nothing due.
    let sweep_job = sweep(&http, &base).await;
    eventually(Duration::from_secs(60), "the second sweep", || async {
        (job_state(&db, &sweep_job).await?.0 == "done").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    checks::assert_one_charge_per_agreement(&db, &dialogue, n, &sim_agreements(&http, &sim).await)
        .await;
    // Runs over billing.batch_threshold (500) go through the batch endpoint, 2,000 a call.
    checks::wait_create_jobs_done(&db).await;
    assert!(
        jobs_done(&db, "billing.create_charge_batch").await >= 1,
        "the run was batched"
    );
    checks::assert_no_failed_jobs(&db).await;

    // The simulator's state file, written on its graceful stop, says the same.
    sim_proc.terminate();
    let state = dialogpay::vipps::sim::persist::load(&sim_state)
        .unwrap()
        .expect("a state file");
    let recurring: Vec<usize> = state
        .agreements
        .values()
        .map(|a| {
            a.charges
                .iter()
                .filter(|c| c.charge_type.as_str() == "RECURRING")
                .count()
        })
        .collect();
    assert_eq!(recurring.len(), n);
    assert!(
        recurring.iter().all(|&c| c == 1),
        "one RECURRING charge each in the state file"
    );
    eprintln!(
        "billing crash test with {n} agreements: {:?}",
        started.elapsed()
    );
}

/// Posts a keyword from every phone (16 at a time); returns how many were answered 200.
pub(crate) async fn post_keywords(
    http: reqwest::Client,
    base: String,
    phones: Vec<String>,
) -> usize {
    let url = format!("{base}/webhooks/sms/inbound");
    futures::stream::iter(phones.into_iter().enumerate())
        .map(move |(i, phone)| {
            let body = json!({ "message_id": format!("gw-{i}"), "from": phone, "to": "2160", "text": "GIVE" });
            let req = http.post(&url).bearer_auth(INBOUND_TOKEN).json(&body);
            async move { req.send().await.is_ok_and(|r| r.status() == StatusCode::OK) }
        })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

/// What the keyword crash tests run the service against: the Vipps simulator as its own
/// process (it outlives the killed service), the fake SMS gateway, the service's settings for
/// both (live Vipps mode, the `http` gateway, the inbound token), and a patient HTTP client.
struct Journey {
    sim_proc: ChildGuard,
    sim: String,
    fake: FakeGateway,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Journey {
    async fn start(dir: &Path) -> Journey {
        let (sim_proc, sim) = start_simulator(&dir.join("sim.json"), &dir.join("sim.log"));
        let fake = FakeGateway::spawn().await;
        let mut env = live_vipps_env(&sim);
        for (k, v) in [
            ("SMS__PROVIDER", "http".to_owned()),
            ("SMS__HTTP__URL", fake.http_url()),
            ("SMS__HTTP__TOKEN", FAKE_TOKEN.to_owned()),
            ("SMS__INBOUND_TOKEN", INBOUND_TOKEN.to_owned()),
        ] {
            env.push((format!("DIALOGPAY__{k}"), v));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Journey {
            sim_proc,
            sim,
            fake,
            env,
            http,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_mid_keyword_burst_answers_every_message_exactly_once() {
    let n = count_from_env("CRASH_MESSAGES", 1_000);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create().await;
    let Journey {
        sim_proc: _sim_proc,
        sim,
        fake,
        env,
        http,
    } = Journey::start(dir.path()).await;
    let log = |i: u32| dir.path().join(format!("service-{i}.log"));
    let port = process::free_port();
    let (mut first, base) = start_service_on(port, &test_db, &env, Some(&log(1)));
    let dialogue = support::keyword_dialogue(&http, &base).await;
    let db = test_db.connect().await;

    let phones: Vec<String> = (0..n).map(|i| format!("+4791{i:06}")).collect();
    let poster = {
        let (http, base, phones) = (http.clone(), base.clone(), phones.clone());
        tokio::spawn(post_keywords(http, base, phones))
    };
    eventually(budget(n), "a third of the replies", || async {
        (fake.sent().len() >= n / 3).then_some(())
    })
    .await;
    first.kill9();
    let accepted = poster.await.unwrap();
    eprintln!(
        "kill -9 after {:?}: {accepted} of {n} messages accepted, {} replies sent",
        started.elapsed(),
        fake.sent().len()
    );

    // Restart; the gateway posts again every message (as it does when our 200 never came).
    let (_second, base) = start_service_on(port, &test_db, &env, Some(&log(2)));
    let restarted = Instant::now();
    assert_eq!(
        post_keywords(http.clone(), base, phones.clone()).await,
        n,
        "redeliveries accepted"
    );
    eventually(budget(n), "every reply", || async {
        (fake.sent().len() >= n && checks::replies_sent(&db).await >= n as i64).then_some(())
    })
    .await;
    eprintln!("all replies {:?} after the restart", restarted.elapsed());
    tokio::time::sleep(Duration::from_secs(2)).await;

    let phones: BTreeSet<String> = phones.into_iter().collect();
    checks::assert_one_agreement_and_reply_per_message(
        &db,
        &dialogue,
        &phones,
        &sim_agreements(&http, &sim).await,
        Some(&fake.sent()),
    )
    .await;
    checks::assert_no_failed_jobs(&db).await;
    eprintln!(
        "keyword crash test with {n} messages: {:?}",
        started.elapsed()
    );
}

/// Webhooks are answered 200 only once they are durable, also when they share a transaction
/// (group commit): the service is killed in the middle of a burst of inbound SMS and delivery
/// reports (32 in flight at once), and every webhook it answered 200 is in the database once,
/// each inbound SMS with its handling job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_mid_ingest_burst_keeps_every_webhook_it_answered() {
    let target = count_from_env("CRASH_WEBHOOKS", 2_000);
    let test_db = TestDb::create().await;
    let env = [(
        "DIALOGPAY__SMS__INBOUND_TOKEN".to_owned(),
        INBOUND_TOKEN.to_owned(),
    )];
    let (mut service, base) = start_service(&test_db, &env, None);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(bool, String)>::new()));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let posters: Vec<_> = (0..32)
        .map(|_| {
            let (http, base) = (http.clone(), base.clone());
            let (answered, next) = (answered.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let inbound = i % 2 == 0;
                    let id = format!("burst-{i}");
                    let (path, body) = if inbound {
                        let from = format!("+4792{i:06}");
                        (
                            "inbound",
                            json!({ "message_id": id, "from": from, "to": "2160", "text": "INFO" }),
                        )
                    } else {
                        ("status", json!({ "message_id": id, "status": "delivered" }))
                    };
                    let sent = http
                        .post(format!("{base}/webhooks/sms/{path}"))
                        .bearer_auth(INBOUND_TOKEN)
                        .json(&body)
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == StatusCode::OK => {
                            answered.lock().unwrap().push((inbound, id));
                        }
                        Ok(r) => panic!("webhook answered {} before the kill", r.status()),
                        // The service is gone: this one was never answered.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    eventually(budget(target), "webhooks answered", || async {
        (answered.lock().unwrap().len() >= target).then_some(())
    })
    .await;
    service.kill9();
    for poster in posters {
        poster.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    eprintln!(
        "kill -9 with {} webhooks answered 200 of {} sent",
        answered.len(),
        next.load(std::sync::atomic::Ordering::Relaxed)
    );

    let db = test_db.connect().await;
    let (inbound, reports): (Vec<_>, Vec<_>) =
        answered.into_iter().partition(|(inbound, _)| *inbound);
    let with_job = format!(
        "SELECT COUNT(*) FROM messages m JOIN {} j ON j.job_type = 'sms.inbound' \
         AND j.idempotency_key = 'inbound:' || m.id \
         WHERE m.direction = 'in' AND m.gateway_message_id = $1",
        jobs_table(&db)
    );
    for (_, id) in &inbound {
        let jobs = dialogpay::with_pool!(&db, |p| sqlx::query_scalar::<_, i64>(
            sqlx::AssertSqlSafe(with_job.clone())
        )
        .bind(id)
        .fetch_one(p)
        .await)
        .unwrap();
        assert_eq!(
            jobs, 1,
            "inbound SMS {id} was answered 200: stored once, with its job"
        );
    }
    for (_, id) in &reports {
        let parked = dialogpay::with_pool!(&db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM parked_delivery_reports WHERE gateway_message_id = $1"
        )
        .bind(id)
        .fetch_one(p)
        .await)
        .unwrap();
        assert_eq!(
            parked, 1,
            "delivery report {id} was answered 200: parked once"
        );
    }
}

fn jobs_table(db: &Db) -> &'static str {
    if db.is_postgres() {
        "apalis.jobs"
    } else {
        "Jobs"
    }
}

/// The refund job is killed after Vipps made the refund and before its answer is recorded:
/// the simulator applies the refund and drops the connection (as a crash right after the call
/// would lose the answer), the service is killed with the refund still PENDING, and the
/// restarted service replays the call under the same Idempotency-Key: refunded once.
#[tokio::test]
async fn kill_minus_nine_between_the_vipps_refund_and_its_record_refunds_once() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create().await;
    let (_sim_proc, sim) =
        start_simulator(&dir.path().join("sim.json"), &dir.path().join("sim.log"));
    let http = reqwest::Client::new();
    let seeder = support::seeder_for(&test_db, &sim, "http://127.0.0.1:9").await;
    let dialogue = dialogpay::bench::billing::seed(&seeder, None, 1)
        .await
        .expect("seeds an ACTIVE agreement");
    let db = seeder.db.clone();
    let agreement = dialogpay::db::agreements::list_for_dialogue(&db, &dialogue, None, None, 1)
        .await
        .unwrap()
        .remove(0);
    let in_vipps = sim_agreements(&http, &sim).await.remove(0);
    let initial = in_vipps.charges[0].clone();
    assert_eq!(
        initial.summary.captured, 10_000,
        "the initial charge is taken"
    );
    let today = seeder.clock.today_oslo();
    let mut tx = db.begin().await.unwrap();
    dialogpay::db::charges::record_initial(
        &mut tx,
        &agreement.id,
        &agreement.partner_id,
        &dialogue,
        today,
        10_000,
        None,
        seeder.clock.now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let charge = dialogpay::db::charges::for_agreement(&db, &agreement.id)
        .await
        .unwrap()
        .remove(0);

    // Vipps makes the refund, and its answer never arrives.
    let refund_path = format!(
        "/recurring/v3/agreements/{}/charges/{}/refund",
        in_vipps.agreement_id, initial.id
    );
    let faults = json!({ "lost_reply_rate": 1.0, "path": refund_path });
    let resp = http
        .post(format!("{sim}/_sim/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let env = live_vipps_env(&sim);
    let port = process::free_port();
    let (mut first, _) = start_service_on(port, &test_db, &env, Some(&dir.path().join("1.log")));
    let partner = dialogpay::db::partners::get(&db, &agreement.partner_id)
        .await
        .unwrap()
        .unwrap();
    let actor = dialogpay::service::PartnerActor::api_key(partner);
    let input = dialogpay::service::refunds::RefundInput {
        amount: "50.00".into(),
        reason: Some("Donor called".into()),
    };
    let refund = dialogpay::service::refunds::refund(&seeder, &actor, &charge.id, &input)
        .await
        .expect("the refund is recorded");
    let refunded = || async {
        sim_agreements(&http, &sim).await[0].charges[0]
            .summary
            .refunded
    };
    eventually(
        Duration::from_secs(60),
        "Vipps to make the refund",
        || async { (refunded().await > 0).then_some(()) },
    )
    .await;
    first.kill9();
    let row = dialogpay::db::refunds::get(&db, &refund.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.status.as_str(),
        "PENDING",
        "killed before the answer was recorded"
    );

    let resp = http
        .delete(format!("{sim}/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let _second = start_service_on(port, &test_db, &env, Some(&dir.path().join("2.log")));
    eventually(
        Duration::from_secs(90),
        "the refund recorded DONE",
        || async {
            let row = dialogpay::db::refunds::get(&db, &refund.id).await.ok()??;
            (row.status.as_str() == "DONE").then_some(())
        },
    )
    .await;
    assert_eq!(refunded().await, 5_000, "refunded once");
    let charge = dialogpay::db::charges::get(&db, &charge.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charge.status.as_str(), "PARTIALLY_REFUNDED");
    let requests: Vec<Value> = http
        .get(format!("{sim}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = requests
        .iter()
        .filter(|r| r["path"] == refund_path.as_str())
        .count();
    assert!(
        calls >= 2,
        "the call was made again after the restart ({calls})"
    );
    checks::assert_no_failed_jobs(&db).await;
}

/// Outgoing webhooks through a crash: the service is killed while the events of a keyword
/// burst are being delivered to a partner's receiver, restarted, and the gateway posts every
/// keyword again. Every message's event arrives, each under one `webhook-id` (a delivery the
/// crash interrupted may arrive twice, with the same id and body), every request signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_mid_webhook_deliveries_loses_no_event_and_keeps_each_webhook_id() {
    let n = count_from_env("CRASH_WEBHOOK_MESSAGES", 300);
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create().await;
    let Journey {
        sim_proc: _sim_proc,
        sim: _sim,
        fake: _fake,
        env,
        http,
    } = Journey::start(dir.path()).await;
    let receiver = support::receiver::Receiver::start().await;
    let log = |i: u32| dir.path().join(format!("service-{i}.log"));
    let port = process::free_port();
    let (mut first, base) = start_service_on(port, &test_db, &env, Some(&log(1)));
    let (key, _dialogue) = support::keyword_partner(&http, &base).await;
    let endpoint: Value = http
        .post(format!("{base}/api/v1/webhook-endpoints"))
        .bearer_auth(&key)
        .json(&json!({ "url": receiver.url, "event_types": ["message.received"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = endpoint["secret"].as_str().expect("the secret").to_owned();

    let phones: Vec<String> = (0..n).map(|i| format!("+4792{i:06}")).collect();
    let poster = {
        let (http, base, phones) = (http.clone(), base.clone(), phones.clone());
        tokio::spawn(post_keywords(http, base, phones))
    };
    eventually(budget(n), "a third of the events delivered", || async {
        (receiver.got().len() >= n / 3).then_some(())
    })
    .await;
    first.kill9();
    let accepted = poster.await.unwrap();
    eprintln!(
        "kill -9 with {accepted} of {n} keywords accepted, {} events delivered",
        receiver.got().len()
    );

    let (_second, base) = start_service_on(port, &test_db, &env, Some(&log(2)));
    assert_eq!(
        post_keywords(http.clone(), base, phones.clone()).await,
        n,
        "redeliveries accepted"
    );
    let by_message = |got: &[support::receiver::Received]| {
        let mut ids: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        for r in got {
            let message = r.json()["data"]["message_id"].as_str().unwrap().to_owned();
            ids.entry(message).or_default().insert(r.id.clone());
        }
        ids
    };
    let ids = eventually(budget(n), "every message's event", || async {
        let ids = by_message(&receiver.got());
        (ids.len() >= n).then_some(ids)
    })
    .await;
    let got = receiver.verified(&secret);
    assert_eq!(ids.len(), n, "one event per message");
    for (message, webhook_ids) in &ids {
        assert_eq!(webhook_ids.len(), 1, "message {message}: {webhook_ids:?}");
    }
    let phones_seen: BTreeSet<String> = got
        .iter()
        .map(|r| r.json()["data"]["phone"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(phones_seen, phones.iter().cloned().collect::<BTreeSet<_>>());
    eprintln!(
        "{} requests for {n} events ({} repeats after the crash)",
        got.len(),
        got.len() - n
    );
    let db = test_db.connect().await;
    checks::assert_no_failed_jobs(&db).await;
}
