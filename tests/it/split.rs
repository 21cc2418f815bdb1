//! The split deployment as README describes it, with real processes in the production
//! environment: `dialogpay migrate`, a standalone `dialogpay vipps-sim` reached in live mode,
//! our webhook registered with `dialogpay vipps webhooks register` (its secret stored in the
//! database), one `api` and two `worker` processes. Keyword journeys go through the api;
//! billing is left to the workers' cron alone, and one worker is killed with `kill -9`
//! mid-run and restarted: every agreement is charged once for its period, no job fails.
//! `docker-compose.yml` runs the same shape.

use std::{
    collections::BTreeSet,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use dialogpay::{
    sms::fake::{FAKE_TOKEN, FakeGateway},
    with_pool,
};
use reqwest::StatusCode;

use crate::{
    crash::{budget, count_from_env, post_keywords, sim_agreements},
    support::{
        self, INBOUND_TOKEN, OPERATOR_KEY, checks,
        db::TestDb,
        eventually,
        process::{ChildGuard, free_port, start_simulator},
    },
};

/// The environment every process of the deployment shares: production, live Vipps at the
/// simulator, the fake SMS gateway, the api's public address.
fn deployment_env(
    db: &TestDb,
    sim: &str,
    public: &str,
    fake: &FakeGateway,
) -> Vec<(String, String)> {
    let mut env = vec![("DIALOGPAY_ENV".to_owned(), "production".to_owned())];
    for (k, v) in [
        ("DATABASE__URL", db.url.clone()),
        ("DATABASE__MAX_CONNECTIONS", "5".to_owned()),
        ("SERVER__PUBLIC_BASE_URL", public.to_owned()),
        ("OPERATOR__API_KEY", OPERATOR_KEY.to_owned()),
        ("VIPPS__BASE_URL", sim.to_owned()),
        ("VIPPS__CLIENT_ID", "simulator".to_owned()),
        ("VIPPS__CLIENT_SECRET", "simulator".to_owned()),
        ("VIPPS__SUBSCRIPTION_KEY", "simulator".to_owned()),
        ("SMS__PROVIDER", "http".to_owned()),
        ("SMS__HTTP__URL", fake.http_url()),
        ("SMS__HTTP__TOKEN", FAKE_TOKEN.to_owned()),
        ("SMS__INBOUND_TOKEN", INBOUND_TOKEN.to_owned()),
        // Short liveness timers, so the killed worker's jobs run again within seconds.
        ("JOBS__HEARTBEAT_INTERVAL_SECS", "1".to_owned()),
        ("JOBS__MISSED_HEARTBEATS", "2".to_owned()),
        ("JOBS__MAINTENANCE_INTERVAL_SECS", "1".to_owned()),
        ("JOBS__POLL_INTERVAL_MS", "100".to_owned()),
        ("JOBS__BACKOFF_BASE_MS", "200".to_owned()),
        // Billing by the cron alone, often enough for a test; several batch calls per run,
        // so that the kill lands mid-run.
        ("BILLING__SWEEP_CRON", "*/2 * * * * *".to_owned()),
        ("BILLING__RECONCILE_CRON", "*/5 * * * * *".to_owned()),
        ("BILLING__BATCH_SIZE", "100".to_owned()),
        ("LOG__LEVEL", "warn".to_owned()),
    ] {
        env.push((format!("DIALOGPAY__{k}"), v));
    }
    env
}

fn dialogpay(env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogpay"));
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // Started elsewhere than the checkout: the configuration is built in.
        .current_dir(std::env::temp_dir());
    cmd
}

/// Runs a one-shot command to its end; panics with its output when it fails.
fn run_to_end(env: &[(String, String)], args: &[&str]) -> String {
    let out = dialogpay(env, args).output().expect("runs dialogpay");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "dialogpay {args:?} failed:\n{text}");
    text
}

fn start(env: &[(String, String)], role: &str, log: &Path) -> ChildGuard {
    let child = dialogpay(env, &[role])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("starts dialogpay");
    ChildGuard::new(child, Some(log.to_path_buf()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_two_workers_in_production_bill_by_cron_alone_through_a_kill_minus_nine() {
    let keywords = count_from_env("SPLIT_MESSAGES", 30);
    let n = count_from_env("SPLIT_AGREEMENTS", 1_000);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create().await;
    let (_sim_proc, sim) =
        start_simulator(&dir.path().join("sim.json"), &dir.path().join("sim.log"));
    let fake = FakeGateway::spawn().await;
    let api_port = free_port();
    let public = format!("http://127.0.0.1:{api_port}");
    let env = deployment_env(&test_db, &sim, &public, &fake);
    let log = |name: &str| dir.path().join(format!("{name}.log"));

    // Before migrating, every role refuses the empty database and says what to run.
    let refused = dialogpay(&env, &["worker"]).output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("run dialogpay migrate"), "{stderr}");

    run_to_end(&env, &["migrate"]);
    let registered = run_to_end(
        &env,
        &[
            "vipps",
            "webhooks",
            "register",
            "--msn",
            "123456",
            "--url",
            &format!("{public}/webhooks/vipps"),
        ],
    );
    assert!(
        registered.contains("Stored in the database"),
        "{registered}"
    );

    let mut api_env = env.clone();
    api_env.push(("DIALOGPAY__SERVER__HOST".into(), "127.0.0.1".into()));
    api_env.push(("DIALOGPAY__SERVER__PORT".into(), api_port.to_string()));
    let _api = start(&api_env, "api", &log("api"));
    let mut worker_one = start(&env, "worker", &log("worker-1"));
    let _worker_two = start(&env, "worker", &log("worker-2"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    eventually(Duration::from_secs(60), "the api to be ready", || async {
        let r = http.get(format!("{public}/readyz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
    let db = test_db.connect().await;

    // Keyword journeys: webhook at the api, draft and reply by the workers, confirmation in
    // the "app", activation through the simulator's webhook to the api.
    let dialogue = support::keyword_dialogue(&http, &public).await;
    let phones: Vec<String> = (0..keywords).map(|i| format!("+4792{i:06}")).collect();
    let accepted = post_keywords(http.clone(), public.clone(), phones.clone()).await;
    assert_eq!(accepted, keywords);
    eventually(budget(keywords), "every reply with its link", || async {
        (checks::replies_sent(&db).await >= keywords as i64).then_some(())
    })
    .await;
    for a in sim_agreements(&http, &sim).await {
        let r = http
            .post(format!("{sim}/_sim/agreements/{}/approve", a.agreement_id))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "approve: {}", r.status());
    }
    eventually(budget(keywords), "every agreement ACTIVE", || async {
        let active: i64 = with_pool!(&db, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND status = 'ACTIVE'"
        )
        .bind(&dialogue)
        .fetch_one(p)
        .await)
        .unwrap();
        (active == keywords as i64).then_some(())
    })
    .await;
    let phone_set: BTreeSet<String> = phones.into_iter().collect();
    checks::assert_one_agreement_and_reply_per_message(
        &db,
        &dialogue,
        &phone_set,
        &sim_agreements(&http, &sim).await,
        Some(&fake.sent()),
    )
    .await;
    let replies = fake.sent();
    assert!(
        replies.iter().all(|s| s.text.contains(&sim)),
        "every reply carries the Vipps link: {replies:?}"
    );

    // Billing: n ACTIVE agreements whose period 1 is due, seeded here; nobody sweeps.
    let seeder = support::seeder_for(&test_db, &sim, &public).await;
    let billed = dialogpay::bench::billing::seed(&seeder, None, n as u64)
        .await
        .expect("seeds ACTIVE agreements");
    eventually(budget(n), "a third of the charges, by the cron", || async {
        (checks::charges_sent(&db, &billed).await >= (n / 3) as i64).then_some(())
    })
    .await;
    worker_one.kill9();
    let at_kill = checks::charges_sent(&db, &billed).await;
    let _worker_one_again = start(&env, "worker", &log("worker-1-again"));
    eventually(budget(n), "every charge", || async {
        (checks::charges_sent(&db, &billed).await == n as i64).then_some(())
    })
    .await;
    checks::wait_create_jobs_done(&db).await;
    checks::assert_one_charge_per_agreement(&db, &billed, n, &sim_agreements(&http, &sim).await)
        .await;
    checks::assert_no_failed_jobs(&db).await;
    let sweeps: i64 = with_pool!(&db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'billing.sweep'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(sweeps, 0, "no sweep was asked for by hand");
    eprintln!(
        "split deployment: {keywords} keyword journeys, {n} agreements billed by cron \
         (worker killed with {at_kill} charges sent) in {:?}",
        started.elapsed()
    );
}
