//! `dialogpay bench ingest`: webhook ingest at a fixed rate (open loop: requests are sent on
//! schedule whether or not earlier ones have answered, so a slow server shows up as latency,
//! not as a lower offered rate). Inbound SMS (`/webhooks/sms/inbound`) or signed Vipps events
//! (`/webhooks/vipps`), each body distinct; workers run as in production. Prints accepted
//! requests/s and the p50/p99 latency.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;

use crate::{
    app::Application,
    bench::billing::peak_rss_mib,
    bench::conditions::{Conditions, Vipps, Workers},
    bench::{Running, SERVE_WITHOUT_SCHEDULER},
    config::Settings,
    vipps::{settings::RateLimits, sign_webhook},
};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum IngestKind {
    Sms,
    Vipps,
}

#[derive(Debug, clap::Args)]
pub struct IngestBenchArgs {
    /// Which webhook to load.
    #[arg(long, value_enum, default_value_t = IngestKind::Sms)]
    pub kind: IngestKind,
    /// Offered requests per second.
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// How long to offer them.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

const SECRET: &str = "bench-webhook-secret";
const TOKEN: &str = "bench-inbound-token";

pub async fn run(mut settings: Settings, args: IngestBenchArgs) -> anyhow::Result<()> {
    settings.vipps.mode = crate::vipps::VippsMode::Simulator;
    settings.vipps.rate_limits = RateLimits::unlimited();
    settings.vipps.webhook_secret = SECRET.to_owned().into();
    settings.sms.inbound_token = TOKEN.to_owned().into();
    settings.server.port = 0;
    let app = Application::build(settings, SERVE_WITHOUT_SCHEDULER).await?;
    let addr = app.address().context("the benchmark's listener")?;
    let state = app.state().clone();
    println!(
        "webhook ingest: {:?} at {}/s for {} s",
        args.kind, args.rate, args.seconds
    );
    let conditions = Conditions::read(&state, Workers::All, Vipps::InProcess)
        .await?
        .with("open loop: requests sent on schedule whatever the answers");
    println!("  {conditions}");
    let running = Running::start(app);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let host = addr.to_string();
    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let started = tokio::time::Instant::now();
    #[allow(clippy::async_yields_async)] // each step yields the spawned request's handle
    let requests = futures::stream::iter(0..total).then(|i| {
        let (http, host) = (http.clone(), host.clone());
        async move {
            tokio::time::sleep_until(started + interval * i as u32).await;
            tokio::spawn(send(http, host, args.kind, i))
        }
    });
    let results: Vec<(bool, Duration)> = requests
        .buffer_unordered(usize::MAX)
        .filter_map(|r| async move { r.ok() })
        .collect()
        .await;
    let offered_secs = started.elapsed().as_secs_f64();
    let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    latencies.sort_unstable();
    let accepted = results.iter().filter(|(ok, _)| *ok).count();
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "  {accepted} of {total} accepted in {offered_secs:.1} s ({:.0}/s); latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        accepted as f64 / offered_secs,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!("  peak RSS {} MiB", peak_rss_mib());
    running.stop().await;
    Ok(())
}

/// One request; `(accepted, latency)`.
async fn send(http: reqwest::Client, host: String, kind: IngestKind, i: u64) -> (bool, Duration) {
    let t = Instant::now();
    let answer = match kind {
        IngestKind::Sms => {
            let body = serde_json::json!({
                "message_id": format!("ingest-{i}"),
                "from": format!("+479{:07}", i % 10_000_000),
                "to": "2160",
                "text": "INFO",
            });
            http.post(format!("http://{host}/webhooks/sms/inbound"))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
        }
        IngestKind::Vipps => {
            let body = serde_json::json!({
                "eventType": "recurring.charge-captured.v1",
                "msn": "123456",
                "agreementId": format!("agr-ingest-{i}"),
                "chargeId": format!("chr-ingest-{i}"),
                "amount": 10000,
                "occurred": chrono::Utc::now().to_rfc3339(),
            })
            .to_string();
            let date = chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            let signed = sign_webhook(
                SECRET,
                "POST",
                "/webhooks/vipps",
                &host,
                &date,
                body.as_bytes(),
            );
            http.post(format!("http://{host}/webhooks/vipps"))
                .header("content-type", "application/json")
                .header("x-ms-date", signed.date)
                .header("x-ms-content-sha256", signed.content_sha256)
                .header("authorization", signed.authorization)
                .body(body)
                .send()
                .await
        }
    };
    let ok = answer.map(|a| a.status().is_success()).unwrap_or(false);
    (ok, t.elapsed())
}
