//! The attempt history (`job_attempts`, written by triggers in the statement that changes a
//! job's state): one row per attempt with its outcome, times and error, on both engines.

use dialogpay::{db::queue::attempts, domain::status::AttemptOutcome};
use dialogpay_jobs::testing::Flaky;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{OPERATOR_KEY, TestApp};

fn flaky(name: &str, fail_times: u32, permanent: bool, snooze_first_ms: u64) -> Flaky {
    Flaky {
        name: name.into(),
        fail_times,
        permanent,
        sleep_ms: 0,
        snooze_first_ms,
    }
}

async fn outcomes(app: &TestApp, id: &str) -> Vec<(i64, AttemptOutcome)> {
    attempts::for_job(&app.state.db, id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.attempt, a.outcome))
        .collect()
}

#[tokio::test]
async fn each_attempt_is_recorded_once_with_its_outcome_times_and_error() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&flaky("twice", 2, false, 0)).await;
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "done");

    let history = attempts::for_job(&app.state.db, &id).await.unwrap();
    let seen: Vec<_> = history.iter().map(|a| (a.attempt, a.outcome)).collect();
    assert_eq!(
        seen,
        [
            (1, AttemptOutcome::Retry),
            (2, AttemptOutcome::Retry),
            (3, AttemptOutcome::Done)
        ]
    );
    for a in &history {
        let (started, finished) = (a.started_at.unwrap(), a.finished_at.unwrap());
        assert!(finished >= started, "{a:?}");
        assert!(
            a.worker.as_deref().unwrap().starts_with("test.flaky@"),
            "{a:?}"
        );
    }
    assert_eq!(
        history[0].error.as_deref(),
        Some("flaky job twice failing on attempt 1")
    );
    assert_eq!(history[2].error, None, "a done attempt has no error");
    app.stop().await;
}

#[tokio::test]
async fn permanent_and_snoozed_attempts_say_so() {
    let app = TestApp::spawn().await;
    let permanent = app.enqueue(&flaky("hopeless", 1, true, 0)).await;
    let snoozed = app.enqueue(&flaky("sleepy", 0, false, 50)).await;
    assert_eq!(app.settled_job(&permanent).await.status.as_str(), "failed");
    assert_eq!(app.settled_job(&snoozed).await.status.as_str(), "done");
    assert_eq!(
        outcomes(&app, &permanent).await,
        [(1, AttemptOutcome::Permanent)]
    );
    assert_eq!(
        outcomes(&app, &snoozed).await,
        [(1, AttemptOutcome::Snoozed), (2, AttemptOutcome::Done)]
    );
    app.stop().await;
}

#[tokio::test]
async fn the_last_failure_then_an_operators_retry_adds_an_attempt() {
    let app = TestApp::spawn().await;
    // Flaky has 4 attempts: all fail, then the operator's retry runs a fifth that succeeds.
    let id = app.enqueue(&flaky("stubborn", 4, false, 0)).await;
    assert_eq!(app.settled_job(&id).await.status.as_str(), "failed");
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/jobs/{id}/retry"),
            OPERATOR_KEY,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.settled_job(&id).await.status.as_str(), "done");
    assert_eq!(
        outcomes(&app, &id).await,
        [
            (1, AttemptOutcome::Retry),
            (2, AttemptOutcome::Retry),
            (3, AttemptOutcome::Retry),
            (4, AttemptOutcome::Failed),
            (5, AttemptOutcome::Done)
        ]
    );
    let minutes = attempts::per_minute(&app.state.db, 0).await.unwrap();
    let (done, failed) = minutes
        .iter()
        .fold((0, 0), |(d, f), m| (d + m.done, f + m.failed));
    assert_eq!((done, failed), (1, 4), "{minutes:?}");
    app.stop().await;
}
