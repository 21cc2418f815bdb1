//! The job runtime and job admin over HTTP, with the test-only `test.flaky` job.

use std::time::{Duration, Instant};

use dialogpay_jobs::{maintenance::Noop, testing::Flaky};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{OPERATOR_KEY, Options, TestApp};

fn flaky(name: &str, fail_times: u32, permanent: bool) -> Flaky {
    Flaky {
        name: name.into(),
        fail_times,
        permanent,
        sleep_ms: 0,
        snooze_first_ms: 0,
    }
}

#[tokio::test]
async fn a_job_pushed_by_the_api_process_starts_within_a_second() {
    let app = TestApp::spawn().await;
    // Let the workers settle into their idle wait first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let id = app.enqueue(&Noop { n: 1 }).await;
    app.wait_job(&id, "done", Duration::from_secs(5)).await;
    // Typically milliseconds; the bound is loose so a loaded CI machine does not flake, and
    // still far below the 10-30 s of apalis's heartbeat-only wake-up.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "picked up after {:?}",
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_job_from_another_process_is_picked_up_by_polling() {
    // An API-only server enqueues; a separate worker-only app on the same database runs it.
    let api = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    let worker = TestApp::spawn_on(api.test_db.clone(), Options::manual_billing()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let id = api.enqueue(&Noop { n: 2 }).await;
    worker.wait_job(&id, "done", Duration::from_secs(5)).await;
    // Typically milliseconds; the bound is loose so a loaded CI machine does not flake, and
    // still far below the 10-30 s of apalis's heartbeat-only wake-up.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "picked up after {:?}",
        started.elapsed()
    );
    worker.stop().await;
    api.stop().await;
}

#[tokio::test]
async fn transient_failures_retry_with_a_durable_backoff_then_succeed() {
    let app = TestApp::spawn_with(Options {
        workers: true,
        overrides: vec![("jobs.backoff_base_ms", 1000.into())],
        ..Options::manual_billing()
    })
    .await;
    let started = Instant::now();
    let id = app.enqueue(&flaky("twice", 2, false)).await;
    let row = app.wait_job(&id, "done", Duration::from_secs(20)).await;
    assert_eq!(row.attempts, 3, "two failures, then success");
    // The retries waited their backoff (≥ 0.8 s, then ≥ 1.6 s with jitter) instead of re-running at once.
    assert!(
        started.elapsed() >= Duration::from_millis(2400),
        "retried too fast: {:?}",
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn attempts_are_bounded_by_the_contract() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&flaky("always", 100, false)).await;
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "failed", "{row:?}");
    assert_eq!(row.attempts, 4, "Flaky::MAX_ATTEMPTS");
    assert_eq!(row.max_attempts, 4);
    // It stays failed: nothing picks it up again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, body) = app
        .get(&format!("/api/v1/admin/jobs/{id}"), OPERATOR_KEY)
        .await;
    assert_eq!(body["status"], "failed");
    assert_eq!(body["attempts"], 4);
    assert!(
        body["last_error"]
            .as_str()
            .unwrap()
            .contains("failing on attempt 4"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_permanent_failure_stops_at_once() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&flaky("fatal", 5, true)).await;
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "failed", "{row:?}");
    assert_eq!(row.attempts, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_same_idempotency_key_keeps_one_job() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    let first = app
        .state
        .enqueuer
        .enqueue(&flaky("once", 0, false))
        .await
        .unwrap();
    let second = app
        .state
        .enqueuer
        .enqueue(&flaky("once", 0, false))
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(second, None);
    let (_, page) = app
        .get("/api/v1/admin/jobs?queue=test.flaky", OPERATOR_KEY)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn operators_retry_a_failed_job_and_it_runs_again() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&flaky("fatal-once", 1, true)).await;
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "failed", "{row:?}");

    let (status, body) = app
        .post(
            &format!("/api/v1/admin/jobs/{id}/retry"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "done", "it ran again: {row:?}");
    assert_eq!(row.attempts, 2);

    // Done jobs cannot be retried or cancelled.
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/jobs/{id}/retry"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "job_state");
    let (status, _) = app
        .post(
            &format!("/api/v1/admin/jobs/{id}/cancel"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The retry is in the audit log.
    let entry = app.audit_entry("job.retry").await;
    assert_eq!(entry["target_id"], id.as_str());
    assert_eq!(entry["actor"], "operator");
    app.stop().await;
}

#[tokio::test]
async fn operators_cancel_a_pending_job_and_it_never_runs() {
    // No workers: the job stays pending until cancelled; then a worker starts and skips it.
    let api = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    let id = api.enqueue(&flaky("never", 0, false)).await;
    let (status, body) = api
        .post(
            &format!("/api/v1/admin/jobs/{id}/cancel"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "killed");
    let (status, _) = api
        .post(
            &format!("/api/v1/admin/jobs/{id}/cancel"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "killed jobs cannot be cancelled again"
    );

    let worker = TestApp::spawn_on(api.test_db.clone(), Options::manual_billing()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, body) = worker
        .get(&format!("/api/v1/admin/jobs/{id}"), OPERATOR_KEY)
        .await;
    assert_eq!(body["status"], "killed");
    assert_eq!(body["attempts"], 0, "never ran");

    // A killed job can be retried, and then it runs.
    let (status, _) = worker
        .post(
            &format!("/api/v1/admin/jobs/{id}/retry"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let row = worker.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "done", "it ran: {row:?}");
    worker.stop().await;
    api.stop().await;
}

#[tokio::test]
async fn a_running_job_cannot_be_retried_or_cancelled() {
    let app = TestApp::spawn().await;
    let id = app
        .enqueue(&Flaky {
            name: "slow".into(),
            fail_times: 0,
            permanent: false,
            sleep_ms: 3000,
            snooze_first_ms: 0,
        })
        .await;
    app.wait_job(&id, "running", Duration::from_secs(5)).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/jobs/{id}/retry"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/jobs/{id}/cancel"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "done", "it ran to the end: {row:?}");
    app.stop().await;
}

#[tokio::test]
async fn job_list_filters_by_status_and_queue_and_paginates() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.enqueue(&flaky(&format!("page-{i}"), 0, false)).await);
    }
    app.enqueue(&Noop { n: 9 }).await;
    let (status, page1) = app
        .get(
            "/api/v1/admin/jobs?status=pending&queue=test.flaky&limit=2",
            OPERATOR_KEY,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page1}");
    let items = page1["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], ids[4].as_str(), "newest first");
    assert_eq!(items[0]["queue"], "test.flaky");
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["max_attempts"], 4);
    assert_eq!(items[0]["payload"]["name"], "page-4");
    let cursor = page1["next_cursor"].as_str().expect("more pages");
    let mut seen: Vec<Value> = items.clone();
    let mut cursor = cursor.to_owned();
    loop {
        let (_, page) = app
            .get(
                &format!(
                    "/api/v1/admin/jobs?status=pending&queue=test.flaky&limit=2&cursor={cursor}"
                ),
                OPERATOR_KEY,
            )
            .await;
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let (_, done) = app
        .get("/api/v1/admin/jobs?status=done", OPERATOR_KEY)
        .await;
    assert!(done["items"].as_array().unwrap().is_empty());
    let (status, body) = app
        .get("/api/v1/admin/jobs?status=bogus", OPERATOR_KEY)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .get(
            "/api/v1/admin/jobs/01JXXXXXXXXXXXXXXXXXXXXXXX",
            OPERATOR_KEY,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn job_admin_requires_the_operator_key() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    let (_, partner_key) = app.partner("Not an operator").await;
    for key in [None, Some("wrong-key"), Some(partner_key.as_str())] {
        let (status, body) = app
            .call(reqwest::Method::GET, "/api/v1/admin/jobs", key, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}: {body}");
        assert_eq!(body["code"], "unauthorized");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_job_orphaned_by_a_crash_runs_again_in_bounded_time() {
    let app = TestApp::spawn().await;
    let id = app
        .enqueue(&Flaky {
            name: "orphan".into(),
            fail_times: 0,
            permanent: false,
            sleep_ms: 2000,
            snooze_first_ms: 0,
        })
        .await;
    app.wait_job(&id, "running", Duration::from_secs(5)).await;
    let db = app.crash();
    let crashed_at = Instant::now();
    // A new process on the same host (new worker names) takes over.
    let next = TestApp::spawn_on(db, Options::manual_billing()).await;
    let row = next.wait_job(&id, "done", Duration::from_secs(30)).await;
    let took = crashed_at.elapsed();
    eprintln!("orphaned job finished {took:?} after the crash (includes its 2 s run)");
    assert!(row.attempts >= 2, "it ran again: {row:?}");
    next.stop().await;
}

#[tokio::test]
async fn finished_jobs_are_deleted_after_the_retention_only() {
    let app = TestApp::spawn_with(Options {
        workers: true,
        overrides: vec![("jobs.retention_hours", 1.into())],
        ..Options::manual_billing()
    })
    .await;
    let id = app.enqueue(&Noop { n: 3 }).await;
    assert_eq!(app.settled_job(&id).await.status.as_str(), "done");
    // A fresh done job survives maintenance passes…
    dialogpay::worker::maintenance::run_pass(
        &app.state.db,
        &dialogpay::worker::maintenance::MaintenanceSettings::from_state(&app.state),
    )
    .await
    .unwrap();
    assert!(
        dialogpay::db::jobs::get(&app.state.db, &id)
            .await
            .unwrap()
            .is_some()
    );
    // …and goes once it is older than the retention.
    crate::support::db::age_job(&app.state.db, &id, 2 * 3600).await;
    let report = dialogpay::worker::maintenance::run_pass(
        &app.state.db,
        &dialogpay::worker::maintenance::MaintenanceSettings::from_state(&app.state),
    )
    .await
    .unwrap();
    assert!(report.deleted_jobs >= 1, "{report:?}");
    assert!(
        dialogpay::db::jobs::get(&app.state.db, &id)
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_drain_returns_once_the_job_and_its_retries_are_done() {
    let app = TestApp::spawn_with(Options::manual_billing()).await;
    let id = app.enqueue(&flaky("drained", 2, false)).await;
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "done", "{row:?}");
    assert_eq!(row.attempts, 3, "two failures, then success");
    app.stop().await;
}

#[tokio::test]
async fn a_drain_that_runs_out_of_time_names_the_open_jobs() {
    use futures::FutureExt;
    let app = TestApp::spawn_with(Options::manual_billing()).await;
    let id = app
        .enqueue(&Flaky {
            name: "too-slow".into(),
            fail_times: 0,
            permanent: false,
            sleep_ms: 5000,
            snooze_first_ms: 0,
        })
        .await;
    let drain =
        std::panic::AssertUnwindSafe(app.run_pending_jobs_within(Duration::from_millis(500)));
    let panic = drain.catch_unwind().await.expect_err("the drain gives up");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("test.flaky") && message.contains(&id),
        "names the queue and the job: {message}"
    );
    app.stop().await;
}

/// With `jobs.postgres_streams` 3, a database-only queue runs three workers in one process on
/// PostgreSQL (one on SQLite), each under its own name, and each of its jobs runs once.
#[tokio::test]
async fn a_database_only_queue_runs_its_streams_and_each_job_once() {
    let app = TestApp::spawn_with(Options {
        overrides: vec![("jobs.postgres_streams", 3.into())],
        ..Options::manual_billing()
    })
    .await;
    let db = &app.state.db;
    let jobs: Vec<Noop> = (0..600).map(|n| Noop { n }).collect();
    app.state.enqueuer.enqueue_many(&jobs).await.unwrap();
    app.run_pending_jobs().await;
    let streams = if db.is_postgres() { 3 } else { 1 };
    let names: Vec<String> = crate::support::eventually(
        Duration::from_secs(10),
        "the queue's workers registered",
        || async {
            let names: Vec<String> = dialogpay::db::jobs::workers(db)
                .await
                .unwrap()
                .into_iter()
                .filter(|w| w.worker_type == "bench.noop")
                .map(|w| w.id)
                .collect();
            (names.len() == streams).then_some(names)
        },
    )
    .await;
    let instances: std::collections::BTreeSet<&str> = names
        .iter()
        .map(|n| n.split_once('@').unwrap().1.split_once('#').unwrap().0)
        .collect();
    assert_eq!(instances.len(), 1, "one process: {names:?}");
    let attempts: Vec<(String, String, Option<String>)> = dialogpay::with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT job_id, outcome, worker FROM job_attempts WHERE queue = 'bench.noop'",
        )
        .fetch_all(p)
        .await
    })
    .unwrap();
    assert_eq!(attempts.len(), 600, "one attempt per job");
    let ids: std::collections::HashSet<&str> = attempts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(ids.len(), 600);
    assert!(attempts.iter().all(|a| a.1 == "done"), "every attempt done");
    assert!(
        attempts
            .iter()
            .all(|a| a.2.as_ref().is_some_and(|w| names.contains(w))),
        "run by the queue's registered workers"
    );
    app.stop().await;
}

/// PostgreSQL's fetch (`apalis.get_jobs`, replaced by migration 0015 with one index range per
/// priority): the due jobs by priority (NULL first, then highest), oldest first within one,
/// failed jobs with attempts left among them; jobs scheduled for later, failed jobs without
/// attempts, and finished ones are never taken, however many wait for later. SQLite's fetch is
/// apalis-sqlite's own statement, compiled into the crate.
#[tokio::test]
async fn the_postgres_fetch_takes_due_jobs_by_priority_past_those_scheduled_for_later() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let dialogpay::db::Db::Postgres(pool) = &app.state.db else {
        app.stop().await;
        return;
    };
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen) \
         VALUES ('fetch-test', 'test.fetch', 'test', '', now())",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority) \
         SELECT '\\x7b7d', 'later-' || g, 'test.fetch', 'Pending', 0, 3, now() + interval '1 hour', 0 \
         FROM generate_series(1, 300) AS g",
    )
    .execute(pool)
    .await
    .unwrap();
    for (id, status, attempts, seconds_ago, priority) in [
        ("null", "Pending", 0, 1, None),
        ("five", "Pending", 0, 2, Some(5)),
        ("five-failed", "Failed", 1, 3, Some(5)),
        ("five-spent", "Failed", 3, 9, Some(5)),
        ("nine-killed", "Killed", 1, 9, Some(9)),
        ("zero", "Pending", 0, 5, Some(0)),
        ("minus-one", "Pending", 0, 9, Some(-1)),
    ] {
        sqlx::query(
            "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority) \
             VALUES ('\\x7b7d', $1, 'test.fetch', $2, $3, 3, now() - make_interval(secs => $4), $5)",
        )
        .bind(id)
        .bind(status)
        .bind(attempts)
        .bind(f64::from(seconds_ago))
        .bind(priority)
        .execute(pool)
        .await
        .unwrap();
    }
    let fetch = |n: i32| async move {
        let mut ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM apalis.get_jobs('fetch-test', 'test.fetch', $1)")
                .bind(n)
                .fetch_all(pool)
                .await
                .unwrap();
        ids.sort();
        ids
    };
    assert_eq!(fetch(3).await, ["five", "five-failed", "null"]);
    assert_eq!(fetch(10).await, ["minus-one", "zero"]);
    assert!(fetch(10).await.is_empty(), "nothing else is due");
    let later: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM apalis.jobs WHERE job_type = 'test.fetch' AND status = 'Pending' AND lock_by IS NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(later, 300, "the jobs scheduled for later were left alone");
    app.stop().await;
}
