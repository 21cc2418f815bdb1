//! The ticking simulator clock (`vipps.simulator.clock = "ticking"`, what `serve`, `demo` and
//! `dialogpay vipps-sim` run): real time plus an offset that advancing adds to, rules applied
//! as time passes, the offset kept across restarts, and the business clock following it.

use std::time::Duration;

use chrono::Utc;
use dialogpay::clock::Clock;
use dialogpay::vipps::settings::SimClockMode;
use dialogpay::vipps::sim::{SimConfig, Simulator};
use dialogpay::vipps::wire::AgreementStatus;

use crate::support::{MSN, draft, env_with, key};

fn ticking() -> SimConfig {
    SimConfig {
        clock: SimClockMode::Ticking,
        ..SimConfig::default()
    }
}

/// `a - b` in milliseconds.
fn ms(a: chrono::DateTime<Utc>, b: chrono::DateTime<Utc>) -> i64 {
    (a - b).num_milliseconds()
}

const DAYS_30_MS: i64 = 30 * 24 * 3600 * 1000;
/// Slack for a slow machine; the lower bounds are exact.
const SLACK_MS: i64 = 10_000;

#[tokio::test]
async fn a_ticking_clock_follows_real_time_and_keeps_an_advance_on_top() {
    let sim = Simulator::new(ticking()).unwrap();
    let business = Clock::following(std::sync::Arc::new(sim.clone()));
    let t0 = sim.now();
    assert!(ms(t0, Utc::now()).abs() < SLACK_MS, "starts at real time");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let t1 = sim.now();
    assert!(ms(t1, t0) >= 1_500, "moved with real time: {t0} → {t1}");
    assert!(ms(t1, t0) < 1_500 + SLACK_MS);

    sim.advance(30);
    let t2 = sim.now();
    assert!(ms(t2, t1) >= DAYS_30_MS && ms(t2, t1) < DAYS_30_MS + SLACK_MS);
    assert!((sim.clock_offset().num_milliseconds() - DAYS_30_MS).abs() < SLACK_MS);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let t3 = sim.now();
    assert!(
        ms(t3, t2) >= 1_200,
        "still ticking after the advance: {t2} → {t3}"
    );
    assert!(
        ms(t3, Utc::now()) >= DAYS_30_MS - SLACK_MS,
        "the 30 days are kept"
    );

    let b = business.now();
    assert!(
        b >= t3 && ms(b, sim.now()) <= 0,
        "the business clock follows"
    );
    assert_eq!(
        business.today_oslo(),
        dialogpay::vipps::sim::engine::oslo_date(sim.now())
    );
}

#[tokio::test]
async fn a_ticking_clock_applies_expiries_as_real_time_passes() {
    let env = env_with(SimConfig {
        draft_ttl: chrono::Duration::seconds(2),
        ..ticking()
    })
    .await;
    let d = env
        .client
        .draft_agreement(MSN, &draft(9900), key("tick-1"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    // Nobody advances the clock: the ticker expires the draft once its 2 s are up.
    loop {
        let status = env
            .sim
            .agreements()
            .into_iter()
            .find(|a| a.agreement_id == d.agreement_id)
            .map(|a| a.status);
        if status == Some(AgreementStatus::Expired) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the draft never expired: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_ticking_clock_keeps_its_offset_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        state_file: Some(dir.path().join("sim.json")),
        ..ticking()
    };
    let env = env_with(cfg.clone()).await;
    let resp = env
        .http
        .post(format!("{}/_sim/clock", env.base))
        .json(&serde_json::json!({ "advance_days": 30 }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let clock: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(clock["mode"], "ticking", "{clock}");
    let offset = clock["offset_seconds"].as_i64().unwrap();
    assert!(
        (offset - DAYS_30_MS / 1000).abs() < SLACK_MS / 1000,
        "{clock}"
    );
    let saved = env.sim.now();
    drop(env);
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let sim = Simulator::new(cfg).unwrap();
    let now = sim.now();
    assert!(
        ms(now, saved) >= 1_100,
        "goes on from real time, not from the saved instant: {saved} → {now}"
    );
    assert!((ms(now, Utc::now()) - DAYS_30_MS).abs() < SLACK_MS, "{now}");
}
