//! `dialogpay bench burst`: N inbound keyword messages from distinct phones posted to the SMS
//! webhook as fast as they are accepted, through the whole journey (inbound job, Vipps draft in
//! the embedded simulator, reply through the `outbox` gateway). Measures the webhook's
//! acceptance rate, keyword-to-reply throughput, p50/p99 latency and jobs/s; with
//! `--draft-limit` the simulator enforces that many drafts a minute (and so does our client),
//! and the drain time is compared with the floor (messages ÷ limit).

use std::time::Instant;

use anyhow::Context;
use dialogpay_jobs::JobSpec;
use futures::StreamExt;

use crate::{
    app::Application,
    bench::{Running, SERVE_WITHOUT_SCHEDULER},
    bench::{
        billing::{peak_rss_mib, seed_dialogue, wait},
        conditions::{Conditions, Vipps, Workers},
        noop_ceiling,
    },
    config::Settings,
    db::{Db, queue},
    vipps::settings::RateLimits,
    with_pool,
};

#[derive(Debug, clap::Args)]
pub struct BurstBenchArgs {
    /// Inbound keyword messages, one per phone.
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// Concurrent webhook posts.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Drafts per minute the simulator allows (and our client keeps to); 0: unlimited.
    #[arg(long, default_value_t = 0)]
    pub draft_limit: u32,
    /// No-op jobs drained first through the same workers and database, as the reference the
    /// journey's jobs/s is compared with (0 skips it).
    #[arg(long, default_value_t = 20_000)]
    pub ceiling_jobs: u64,
}

pub async fn run(mut settings: Settings, args: BurstBenchArgs) -> anyhow::Result<()> {
    settings.vipps.mode = crate::vipps::VippsMode::Simulator;
    // The business clock follows the simulator's: it must tick in real time so that the
    // stored timestamps give the latencies.
    settings.vipps.simulator.clock = crate::vipps::settings::SimClockMode::Ticking;
    settings.vipps.rate_limits = RateLimits::unlimited();
    settings.vipps.rate_limits.draft_agreement = args.draft_limit;
    settings.vipps.simulator.rate_limit = args.draft_limit > 0;
    settings.server.port = 0;
    let token = "bench-inbound-token";
    settings.sms.inbound_token = token.to_owned().into();
    let app = Application::build(settings, SERVE_WITHOUT_SCHEDULER).await?;
    let addr = app.address().context("the benchmark's listener")?;
    let state = app.state().clone();
    println!(
        "keyword burst: {} messages, draft limit {}",
        args.messages,
        match args.draft_limit {
            0 => "none".to_owned(),
            n => format!("{n}/min"),
        }
    );
    let conditions = Conditions::read(&state, Workers::All, Vipps::InProcess)
        .await?
        .with(format!("{} concurrent webhook posts", args.concurrency));
    println!("  {conditions}");
    let running = Running::start(app);
    seed_dialogue(&state, "GIVE").await?;
    let ceiling = if args.ceiling_jobs > 0 {
        let jobs_per_sec = noop_ceiling(&state, 0, args.ceiling_jobs).await?;
        println!(
            "  queue ceiling in this run: {} no-op jobs at {jobs_per_sec:.0} jobs/s",
            args.ceiling_jobs
        );
        Some(jobs_per_sec)
    } else {
        None
    };
    let jobs_before = queue::count_all(&state.db).await?;

    let http = reqwest::Client::new();
    let url = format!("http://{addr}/webhooks/sms/inbound");
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..args.messages)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body = serde_json::json!({
                    "message_id": format!("burst-{i}"),
                    "from": format!("+479{:07}", i),
                    "to": "2160",
                    "text": "GIVE",
                });
                let answer = http
                    .post(&url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await?;
                anyhow::ensure!(
                    answer.status().is_success(),
                    "webhook answered {}",
                    answer.status()
                );
                Ok(())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let accept_secs = started.elapsed().as_secs_f64();
    let rejected = results.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        println!("  first rejection: {e:#}");
    }
    println!(
        "  webhook accepted {} messages in {accept_secs:.1} s ({:.0}/s), {rejected} rejected",
        args.messages as usize - rejected,
        (args.messages as usize - rejected) as f64 / accept_secs
    );

    let expected = args.messages as i64 - rejected as i64;
    wait(|| journey_drained(&state.db)).await?;
    let drain_secs = started.elapsed().as_secs_f64();
    let sent = count(&state.db, REPLIES_SENT).await?;
    if sent < expected {
        println!("  only {sent} of {expected} replies were handed to the gateway");
    }
    let jobs = queue::count_all(&state.db).await? - jobs_before;
    let failed = queue::count_failed_for_good(&state.db).await?;
    let mut latencies: Vec<i64> = with_pool!(&state.db, |p| sqlx::query_scalar(LATENCIES)
        .fetch_all(p)
        .await)?;
    latencies.sort_unstable();
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "  every reply sent after {drain_secs:.1} s: {:.0} keywords/s; latency p50 {} ms, p99 {} ms",
        expected as f64 / drain_secs,
        pct(0.5),
        pct(0.99)
    );
    let jobs_per_sec = jobs as f64 / drain_secs;
    println!(
        "  {jobs} jobs ({:.1} per keyword) at {jobs_per_sec:.0} jobs/s; {failed} failed",
        jobs as f64 / expected.max(1) as f64,
    );
    if let Some(ceiling) = ceiling {
        println!(
            "  journey jobs/s vs queue ceiling: {:.1}% ({jobs_per_sec:.0} / {ceiling:.0})",
            jobs_per_sec / ceiling * 100.0
        );
    }
    if args.draft_limit > 0 {
        let floor = expected as f64 / f64::from(args.draft_limit) * 60.0;
        println!(
            "  drain {drain_secs:.1} s vs floor {floor:.1} s ({:+.1}%)",
            (drain_secs / floor - 1.0) * 100.0
        );
    }
    println!("  peak RSS {} MiB", peak_rss_mib());
    running.stop().await;
    Ok(())
}

/// The journey's queues, in the order a keyword passes them: each job queues the next one in
/// the transaction that finishes it.
const JOURNEY: [&str; 3] = [
    dialogpay_jobs::sms::HandleInbound::QUEUE,
    dialogpay_jobs::agreements::DraftAgreement::QUEUE,
    dialogpay_jobs::sms::SendSms::QUEUE,
];

/// Whether every keyword has been through the journey: no queue of it has an unfinished job.
/// The queues are probed in the journey's order, so a job that queues the next one after its
/// queue was probed is found in the next queue's probe. An index probe per queue, where
/// counting the replies read every outbound message (the benchmark measured its own polling).
async fn journey_drained(db: &Db) -> anyhow::Result<bool> {
    for queue in JOURNEY {
        if queue::has_unfinished(db, queue).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Replies with the Vipps link handed to the gateway.
const REPLIES_SENT: &str = "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND in_reply_to IS NOT NULL \
     AND status NOT IN ('pending', 'failed')";

/// Inbound message → its reply handed to the gateway, in milliseconds.
const LATENCIES: &str = "SELECT o.updated_at - i.created_at FROM messages o JOIN messages i ON i.id = o.in_reply_to \
     WHERE o.direction = 'out' AND o.status NOT IN ('pending', 'failed')";

async fn count(db: &Db, sql: &'static str) -> anyhow::Result<i64> {
    with_pool!(db, |p| sqlx::query_scalar(sql).fetch_one(p).await).context("counting")
}
