//! The scheduler as `serve` and `worker` run it: `billing.sweep_cron` and
//! `billing.reconcile_cron` firing every second, and no sweep or reconcile asked for by hand.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use dialogpay::domain::period::Period;
use serde_json::Value;

use crate::{
    billing::active_agreement_with,
    support::{OPERATOR_KEY, Options, TestApp, eventually},
};

const EVERY_SECOND: &str = "* * * * * *";

fn cron_every_second() -> Options {
    Options {
        overrides: vec![
            ("billing.sweep_cron", EVERY_SECOND.into()),
            ("billing.reconcile_cron", EVERY_SECOND.into()),
        ],
        ..Options::default()
    }
}

fn charge(a: &Value, period: u32) -> Option<&Value> {
    a["charges"]
        .as_array()?
        .iter()
        .find(|c| c["period_index"] == period)
}

#[tokio::test]
async fn the_scheduler_alone_creates_the_next_charge_and_collects_its_status() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement_with("month", anchor, 400, cron_every_second()).await;
    let due = Period::Month.due_date(anchor, 1);
    b.set_day(due - chrono::Days::new(2));
    let a = b
        .agreement_where("charge 1 created by the scheduler's sweep", |a| {
            charge(a, 1).is_some_and(|c| c["vipps_charge_id"].is_string())
        })
        .await;
    assert_eq!(charge(&a, 1).unwrap()["due_date"], due.to_string());
    b.set_day(due + chrono::Days::new(1));
    b.agreement_where(
        "charge 1 CHARGED, collected without a manual reconcile",
        |a| charge(a, 1).is_some_and(|c| c["status"] == "CHARGED"),
    )
    .await;
    // Nobody asked: the admin sweep and reconcile endpoints are audited, and were not called.
    let (_, audit) = b.app.get("/api/v1/admin/audit", OPERATOR_KEY).await;
    let manual = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let action = e["action"].as_str().unwrap_or_default();
            action.contains("sweep") || action.contains("reconcile")
        })
        .count();
    assert_eq!(manual, 0, "{audit}");
    b.app.stop().await;
}

#[tokio::test]
async fn two_processes_ticking_at_once_enqueue_one_sweep_per_tick() {
    let one = TestApp::spawn_with(cron_every_second()).await;
    let two = TestApp::spawn_on(one.test_db.clone(), cron_every_second()).await;
    let started = Instant::now();
    let sweeps = |app: &TestApp| {
        let (http, base) = (app.http.clone(), app.base.clone());
        async move {
            let page: Value = http
                .get(format!(
                    "{base}/api/v1/admin/jobs?queue=billing.sweep&status=done&limit=100"
                ))
                .bearer_auth(OPERATOR_KEY)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            Some(page["items"].as_array()?.clone())
        }
    };
    let done = eventually(Duration::from_secs(30), "three sweeps done", || async {
        sweeps(&one).await.filter(|items| items.len() >= 3)
    })
    .await;
    let elapsed = started.elapsed().as_secs() + 1;
    let mut ticks: Vec<&str> = done
        .iter()
        .map(|j| j["payload"]["tick"].as_str().expect("a tick"))
        .collect();
    let jobs = ticks.len();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), jobs, "one job per tick: {done:?}");
    assert!(
        jobs as u64 <= elapsed + 1,
        "{jobs} sweeps in {elapsed} s: two processes made a job each per tick"
    );
    two.stop().await;
    one.stop().await;
}
