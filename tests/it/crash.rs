//! Crash tests with the real binary: `kill -9` while a job runs, restart at once under the same
//! host name, and the orphaned job runs again within a bounded time.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use dialogpay::{config::Settings, db::Db, worker::Enqueuer};
use dialogpay_jobs::testing::Flaky;

use crate::support::{db::TestDb, eventually};

/// Kills the child process when dropped, so a failing test leaves no server behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dialogpay serve` on the test database with short liveness timers.
fn start_binary(db: &TestDb) -> ChildGuard {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialogpay"))
        .arg("serve")
        .env("DIALOGPAY__DATABASE__URL", &db.url)
        .env("DIALOGPAY__SERVER__PORT", "0")
        .env("DIALOGPAY__JOBS__HEARTBEAT_INTERVAL_SECS", "1")
        .env("DIALOGPAY__JOBS__MISSED_HEARTBEATS", "2")
        .env("DIALOGPAY__JOBS__MAINTENANCE_INTERVAL_SECS", "1")
        .env("DIALOGPAY__JOBS__POLL_INTERVAL_MS", "100")
        .env("DIALOGPAY__LOG__LEVEL", "warn")
        .env("DIALOGPAY_TEST_JOBS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts the dialogpay binary");
    // Wait for the "listening" line: the process is up.
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("readable");
    assert!(
        first.contains("listening on"),
        "unexpected first line: {first}"
    );
    std::thread::spawn(move || for _ in lines {});
    ChildGuard(child)
}

async fn job_state(db: &Db, id: &str) -> Option<(String, i64)> {
    dialogpay::db::jobs::get(db, id)
        .await
        .unwrap()
        .map(|r| (r.status.as_str().to_owned(), r.attempts))
}

#[tokio::test]
async fn kill_minus_nine_mid_job_then_an_immediate_restart_reruns_the_job() {
    let test_db = TestDb::create().await;
    let settings =
        Settings::with_overrides(&[("database.url", test_db.url.clone().into())]).unwrap();
    let db = Db::connect(&settings.database).await.unwrap();
    db.migrate().await.unwrap();
    let enqueuer = Enqueuer::new(db.clone(), Default::default());

    let mut first = start_binary(&test_db);
    let job = Flaky {
        name: "crash".into(),
        fail_times: 0,
        permanent: false,
        sleep_ms: 3000,
    };
    let id = enqueuer.enqueue(&job).await.unwrap().unwrap();
    eventually(
        Duration::from_secs(10),
        "the job to start running",
        || async { (job_state(&db, &id).await?.0 == "running").then_some(()) },
    )
    .await;

    first.0.kill().expect("kill -9");
    first.0.wait().unwrap();
    let killed_at = Instant::now();
    let second = start_binary(&test_db);

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
    drop(second);
}
