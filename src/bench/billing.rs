//! `dialogpay bench billing`: N ACTIVE agreements (drafted and approved in the Vipps simulator,
//! embedded or, with `--sim-url`, a standalone `dialogpay vipps-sim`; our rows inserted in
//! bulk) whose next period is due; measures the sweep, the time until every charge exists in
//! the simulator (at 0 ms and at a given Vipps latency), peak memory, and the statistics query
//! of a dialogue with a million charges.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Days, Utc};
use dialogpay_jobs::billing::Sweep;
use futures::StreamExt;

use crate::{
    app::{AppState, Application},
    bench::{
        Running, SERVE_WITHOUT_SCHEDULER,
        conditions::{self, Conditions, Workers},
    },
    config::Settings,
    db::{self, Db, crm, partners},
    domain::period::Period,
    vipps::{
        IdempotencyKey, VippsClient,
        operation::MerchantPool,
        settings::{RateLimits, VippsSettings},
        sim::{Faults, Simulator},
        wire::{
            DraftAgreementRequest, InitialCharge, IntervalUnit, PhoneNumber, PricingRequest,
            TimePeriod, TransactionType,
        },
    },
    with_pool,
};

#[derive(Debug, clap::Args)]
pub struct BillingBenchArgs {
    /// ACTIVE agreements to charge.
    #[arg(long, default_value_t = 100_000)]
    pub agreements: u64,
    /// Simulated Vipps latency for the second run, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Charges of one dialogue for the statistics query (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub stats_charges: u64,
    /// Instead of the two unlimited runs: one run with the client throttling itself to the
    /// configured limits and the simulator enforcing Vipps's documented ones, timed against
    /// the floor those limits set.
    #[arg(long)]
    pub rate_limited: bool,
    /// Talk to a standalone simulator (`dialogpay vipps-sim --clock frozen`) at this URL, as
    /// if it were Vipps, instead of the embedded one, so that the peak RSS printed is
    /// dialogpay's own. The benchmark moves its clock and sets its faults through `/_sim/`.
    #[arg(long, value_name = "URL")]
    pub sim_url: Option<String>,
}

/// One billing run: which period, at what Vipps latency, with or without rate limits.
struct Run {
    period: u32,
    latency_ms: u64,
    rate_limited: bool,
}

pub async fn run(mut settings: Settings, args: BillingBenchArgs) -> anyhow::Result<()> {
    match &args.sim_url {
        // Another process's simulator, talked to as if it were Vipps: this process's memory
        // is dialogpay's own.
        Some(url) => {
            settings.vipps.mode = crate::vipps::VippsMode::Live;
            settings.vipps.base_url = url.trim_end_matches('/').to_owned();
            settings.vipps.client_id = "simulator".to_owned();
            settings.vipps.client_secret = "simulator".to_owned().into();
            settings.vipps.subscription_key = "simulator".to_owned().into();
        }
        None => settings.vipps.mode = crate::vipps::VippsMode::Simulator,
    }
    if !args.rate_limited {
        settings.vipps.rate_limits = RateLimits::unlimited();
    }
    // The run walks agreements through periods by moving the simulator's clock itself.
    settings.vipps.simulator.clock = crate::vipps::settings::SimClockMode::Frozen;
    settings.server.port = 0;
    let app = Application::build(settings, SERVE_WITHOUT_SCHEDULER).await?;
    let state = app.state().clone();
    let sim = SimControl::new(&state, app.simulator())?;
    println!("billing benchmark: {} agreements", args.agreements);
    let billing = &state.settings.billing;
    let conditions = Conditions::read(&state, Workers::All, sim.location())
        .await?
        .with(format!(
            "Vipps batch endpoint over {} due periods ({}), {} charges per call",
            billing.batch_threshold,
            if billing.batches(args.agreements) {
                "this run uses it"
            } else {
                "not this run"
            },
            billing.batch_size
        ))
        .with(if args.rate_limited {
            "rate limits on (our client throttled, the simulator enforcing Vipps's)"
        } else {
            "rate limits off"
        });
    println!("  {conditions}");

    sim.align(&state).await?;
    let running = Running::start(app);

    let t = Instant::now();
    let dialogue = seed(&state, sim.embedded(), args.agreements).await?;
    println!(
        "  seeded {} ACTIVE agreements in {:.1} s (RSS now {} MiB{})",
        args.agreements,
        t.elapsed().as_secs_f64(),
        rss_mib("VmRSS:"),
        if sim.embedded().is_some() {
            ", most of it the embedded simulator's state"
        } else {
            ""
        }
    );

    let anchor = state.clock.today_oslo() - Days::new(28);
    let runs = if args.rate_limited {
        vec![Run {
            period: 1,
            latency_ms: 0,
            rate_limited: true,
        }]
    } else {
        vec![
            Run {
                period: 1,
                latency_ms: 0,
                rate_limited: false,
            },
            Run {
                period: 2,
                latency_ms: args.latency_ms,
                rate_limited: false,
            },
        ]
    };
    for run in runs {
        let due = Period::Month.due_date(anchor, run.period);
        sim.set_now(
            &state,
            (due - Days::new(2))
                .and_hms_opt(9, 0, 0)
                .context("time")?
                .and_utc(),
        )
        .await?;
        sim.add_faults(Faults {
            latency_ms: Some(run.latency_ms),
            rate_limit: Some(run.rate_limited),
            ..Default::default()
        })
        .await?;
        let t = Instant::now();
        let sweep_id = state
            .enqueuer
            .enqueue(&Sweep {
                tick: format!("bench-{}", run.period),
            })
            .await?
            .context("sweep queued")?;
        wait(|| async {
            let job = crate::db::jobs::get(&state.db, &sweep_id).await?;
            Ok(job.is_some_and(|j| j.status.as_str() == "done"))
        })
        .await?;
        let sweep_secs = t.elapsed().as_secs_f64();
        wait(|| async { Ok(created(&state.db, run.period).await? >= args.agreements as i64) })
            .await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  period {} (Vipps latency {} ms, rate limits {}): sweep {sweep_secs:.2} s; all {} charges in the simulator after {secs:.1} s ({:.0} charges/s)",
            run.period,
            run.latency_ms,
            if run.rate_limited { "on" } else { "off" },
            args.agreements,
            args.agreements as f64 / secs
        );
        if run.rate_limited {
            print_floor(&state.settings, args.agreements, secs);
        }
    }
    println!(
        "  peak RSS {} MiB ({})",
        peak_rss_mib(),
        if sim.embedded().is_some() {
            "this process, the embedded simulator's state included"
        } else {
            "dialogpay's own: the simulator is another process"
        }
    );

    if args.stats_charges > 0 {
        let t = Instant::now();
        bulk_charges(&state.db, &dialogue, args.stats_charges).await?;
        println!(
            "  inserted {} charges for one dialogue in {:.1} s",
            args.stats_charges,
            t.elapsed().as_secs_f64()
        );
        let today = state.clock.today_oslo();
        let (from, to) = (today - Days::new(400), today + Days::new(400));
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            // What `GET /dialogues/{id}/stats?bucket=day` reads: every day of 800.
            let s =
                db::stats::daily(&state.db, &dialogue, db::stats::DayRange { from, to }).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(s);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  stats of a dialogue with {} charges: median {:.0} ms, max {:.0} ms",
            args.stats_charges, times[2], times[4]
        );
    }
    running.stop().await;
    Ok(())
}

/// The least time Vipps's charge-creation limit allows for `n` charges: through the batch
/// endpoint as configured, and one create call each (for comparison).
fn print_floor(settings: &Settings, n: u64, secs: f64) {
    let per_minute = f64::from(
        settings
            .vipps
            .rate_limits
            .pool_per_minute(MerchantPool::ChargeCreation)
            .unwrap_or(MerchantPool::ChargeCreation.documented_limit_per_minute()),
    );
    let billing = &settings.billing;
    let calls = if billing.batches(n) {
        n.div_ceil(u64::from(billing.batch_size.max(1)))
    } else {
        n
    };
    let floor = calls as f64 / per_minute * 60.0;
    let singles = n as f64 / per_minute * 60.0;
    println!(
        "  floor at {per_minute:.0} creation calls/min: {calls} calls = {floor:.1} s (measured {secs:.1} s, {:.1}x); one call per charge would need {singles:.0} s",
        secs / floor.max(f64::EPSILON)
    );
}

pub(crate) async fn wait<F, Fut>(mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    while !done().await? {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "gave up after an hour"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn created(db: &Db, period: u32) -> Result<i64, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM charges WHERE period_index = $1 AND vipps_charge_id IS NOT NULL"
    )
    .bind(period as i32)
    .fetch_one(p)
    .await)
}

pub(crate) fn peak_rss_mib() -> u64 {
    rss_mib("VmHWM:")
}

/// A memory figure of this process from `/proc/self/status` (`VmHWM:` peak, `VmRSS:` now).
fn rss_mib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

fn draft_request(base: &str, phone: &str) -> DraftAgreementRequest {
    DraftAgreementRequest {
        pricing: PricingRequest::legacy_nok(10_000),
        interval: TimePeriod::new(IntervalUnit::Month, 1),
        merchant_agreement_url: format!("{base}/my/agreements/bench"),
        merchant_redirect_url: format!("{base}/my/agreements/bench"),
        product_name: "Bench".into(),
        product_description: None,
        phone_number: Some(PhoneNumber::new(phone)),
        initial_charge: Some(InitialCharge {
            amount: 10_000,
            description: "Bench".into(),
            transaction_type: TransactionType::DirectCapture,
            order_id: None,
            external_id: None,
        }),
        campaign: None,
        external_id: None,
        country_code: None,
        scope: None,
        is_app: None,
        skip_landing_page: None,
    }
}

/// The simulator the benchmark drives (confirms the drafts as the user, moves the clock,
/// injects latency and rate limits): the embedded one, or, with `vipps.mode = "live"` pointed
/// at a standalone simulator (`dialogpay vipps-sim`), its `/_sim/` control API.
#[derive(Clone)]
enum SimControl {
    Embedded(Simulator),
    Remote { http: reqwest::Client, base: String },
}

impl SimControl {
    fn new(state: &AppState, simulator: Option<&Simulator>) -> anyhow::Result<Self> {
        Ok(match simulator {
            Some(sim) => Self::Embedded(sim.clone()),
            None => Self::Remote {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()?,
                base: state
                    .settings
                    .vipps
                    .base_url
                    .trim_end_matches('/')
                    .to_owned(),
            },
        })
    }

    fn embedded(&self) -> Option<&Simulator> {
        match self {
            Self::Embedded(sim) => Some(sim),
            Self::Remote { .. } => None,
        }
    }

    fn location(&self) -> conditions::Vipps {
        match self {
            Self::Embedded(_) => conditions::Vipps::InProcess,
            Self::Remote { base, .. } => conditions::Vipps::At(base.clone()),
        }
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<()> {
        if let Self::Remote { http, base } = self {
            http.post(format!("{base}/_sim/{path}"))
                .json(&body)
                .send()
                .await?
                .error_for_status()
                .with_context(|| format!("POST /_sim/{path} (is {base} a dialogpay vipps-sim?)"))?;
        }
        Ok(())
    }

    async fn approve(&self, agreement_id: &str) -> anyhow::Result<()> {
        match self {
            Self::Embedded(sim) => {
                sim.approve(agreement_id, None)
                    .map_err(|e| anyhow::anyhow!("approve: {e:?}"))?;
            }
            Self::Remote { .. } => {
                self.post(
                    &format!("agreements/{agreement_id}/approve"),
                    serde_json::json!({}),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Moves the simulator's clock to `t`, and with a standalone one also this process's
    /// business clock (which the embedded simulator's clock drives by itself).
    async fn set_now(&self, state: &AppState, t: DateTime<Utc>) -> anyhow::Result<()> {
        match self {
            Self::Embedded(sim) => sim.set_now(t),
            Self::Remote { .. } => {
                self.post("clock", serde_json::json!({ "set": t })).await?;
                state.clock.advance(t - state.clock.now());
            }
        }
        Ok(())
    }

    /// Puts this process's business clock on a standalone simulator's time (the embedded
    /// one's drives it already), as a second process talking to it would be, and clears the
    /// faults an earlier run left in it (its rate limits would refuse the seeding's drafts).
    async fn align(&self, state: &AppState) -> anyhow::Result<()> {
        if let Self::Remote { http, base } = self {
            http.delete(format!("{base}/_sim/faults"))
                .send()
                .await?
                .error_for_status()
                .with_context(|| {
                    format!("DELETE /_sim/faults (is {base} a dialogpay vipps-sim?)")
                })?;
            #[derive(serde::Deserialize)]
            struct SimClock {
                now: DateTime<Utc>,
            }
            let clock: SimClock = http
                .get(format!("{base}/_sim/clock"))
                .send()
                .await?
                .error_for_status()
                .with_context(|| format!("GET /_sim/clock (is {base} a dialogpay vipps-sim?)"))?
                .json()
                .await?;
            state.clock.advance(clock.now - state.clock.now());
        }
        Ok(())
    }

    async fn add_faults(&self, faults: Faults) -> anyhow::Result<()> {
        match self {
            Self::Embedded(sim) => {
                sim.add_faults(faults);
            }
            Self::Remote { .. } => self.post("faults", serde_json::to_value(faults)?).await?,
        }
        Ok(())
    }
}

/// A partner (MSN 123456), a CRM group with terms and a live monthly dialogue (100 NOK) for
/// `keyword` on 2160; returns the partner and the dialogue.
pub async fn seed_dialogue(
    state: &AppState,
    keyword: &str,
) -> anyhow::Result<(partners::Partner, String)> {
    let now = state.clock.now_ms();
    let partner = partners::create(&state.db, "Bench", "123456", now)
        .await?
        .partner;
    let mut tx = state.db.begin().await?;
    let group = crm::create(&mut tx, &partner.id, "Bench", now).await?;
    crm::add_terms(&mut tx, &group, "terms", "bench", now).await?;
    let today = state.clock.today_oslo();
    let fields = db::dialogues::DialogueFields {
        name: "Bench".into(),
        crm_group_id: group,
        start_date: today - Days::new(60),
        end_date: today + Days::new(400),
        module_type: "vipps_payments".into(),
        recurring: true,
        period: Period::Month,
        product_name: "Bench".into(),
        product_description: "Bench".into(),
        amount_ore: 10_000,
        sender: "2160".into(),
        reply_message: "{vipps_link}".into(),
        keyword: keyword.into(),
        receipt_message: None,
        failure_message: None,
    };
    let dialogue = db::dialogues::insert(&mut tx, &partner.id, &fields, now).await?;
    tx.commit().await?;
    Ok((partner, dialogue))
}

/// N agreements drafted in the simulator (64 at a time), approved, and inserted as ACTIVE rows
/// whose period 1 is due in 2 days. Used by the benchmark and by tests that need many; works
/// with the embedded `simulator` or, in live mode (`None`), against a standalone
/// `dialogpay vipps-sim`.
pub async fn seed(
    state: &AppState,
    simulator: Option<&Simulator>,
    n: u64,
) -> anyhow::Result<String> {
    let (partner, dialogue) = seed_dialogue(state, "BENCH").await?;
    let now = state.clock.now_ms();
    let today = state.clock.today_oslo();
    let approver = SimControl::new(state, simulator)?;
    let base = state.public_base_url.to_string();
    // The agreements exist already as far as the run is concerned: drafted without the
    // client-side throttle, whatever the service's own client is limited to.
    let client = VippsClient::new(&VippsSettings {
        rate_limits: RateLimits::unlimited(),
        ..state.settings.vipps.clone()
    })?;
    let drafted: Vec<anyhow::Result<(u64, String)>> = futures::stream::iter(0..n)
        .map(|i| {
            let (client, approver, msn, dialogue) = (
                client.clone(),
                approver.clone(),
                partner.vipps_msn.clone(),
                // The run's own keys (its dialogue's ULID, 26 characters): a second run
                // against the same standalone simulator drafts anew.
                dialogue.rsplit('_').next().unwrap_or_default().to_owned(),
            );
            let request = draft_request(&base, &format!("47{:08}", 90_000_000 + i));
            async move {
                let key = IdempotencyKey::new(format!("bench-{dialogue}-{i}"))?;
                let drafted = client.draft_agreement(&msn, &request, key).await?;
                approver.approve(&drafted.agreement_id).await?;
                anyhow::Ok((i, drafted.agreement_id))
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let vipps_ids: Vec<(u64, String)> = drafted.into_iter().collect::<Result<_, _>>()?;
    let anchor = today - Days::new(28);
    let next_due = Period::Month.due_date(anchor, 1);
    for chunk in vipps_ids.chunks(5000) {
        let rows: Vec<SeededAgreement> = chunk
            .iter()
            .map(|(i, vipps_id)| SeededAgreement {
                id: db::ids::new_id("agr"),
                phone: format!("+47{:08}", 90_000_000 + i),
                vipps_agreement_id: vipps_id.clone(),
                manage_token: db::ids::secret_token(24),
            })
            .collect();
        insert_active(
            &state.db,
            &partner.id,
            &dialogue,
            &rows,
            now,
            (anchor, next_due),
        )
        .await?;
    }
    Ok(dialogue)
}

/// One ACTIVE agreement the benchmark seeds.
struct SeededAgreement {
    id: String,
    phone: String,
    vipps_agreement_id: String,
    manage_token: String,
}

/// Inserts the rows as ACTIVE agreements of `dialogue`, activated at `now`, billed from
/// `anchor` with the next period due `next_due`, in one statement (`unnest` on PostgreSQL,
/// `json_each` on SQLite): seeding takes one short write instead of two statements per
/// agreement, which on SQLite held the write lock long enough to starve the workers' fetches.
async fn insert_active(
    db: &Db,
    partner: &str,
    dialogue: &str,
    rows: &[SeededAgreement],
    now: i64,
    (anchor, next_due): (chrono::NaiveDate, chrono::NaiveDate),
) -> anyhow::Result<()> {
    const COLUMNS: &str = "id, partner_id, dialogue_id, phone, status, vipps_agreement_id, inbound_message_id, \
        manage_token, created_at, updated_at, activated_at, anchor_date, next_period_index, next_due_date";
    let mut tx = db.begin().await?;
    match &mut tx {
        db::Tx::Postgres(c) => {
            let sql = format!(
                "INSERT INTO agreements ({COLUMNS}) \
                 SELECT id, $4, $5, phone, 'ACTIVE', vipps_id, 'bench', token, $6, $6, $6, $7, 1, $8 \
                 FROM unnest($1::text[], $2::text[], $3::text[], $9::text[]) AS u(id, phone, vipps_id, token)"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.phone.as_str()).collect::<Vec<_>>())
                .bind(
                    rows.iter()
                        .map(|r| r.vipps_agreement_id.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(partner)
                .bind(dialogue)
                .bind(now)
                .bind(anchor)
                .bind(next_due)
                .bind(
                    rows.iter()
                        .map(|r| r.manage_token.as_str())
                        .collect::<Vec<_>>(),
                )
                .execute(&mut **c)
                .await?;
        }
        db::Tx::Sqlite(c, _) => {
            let sql = format!(
                "INSERT INTO agreements ({COLUMNS}) \
                 SELECT value ->> 0, $2, $3, value ->> 1, 'ACTIVE', value ->> 2, 'bench', value ->> 3, \
                   $4, $4, $4, $5, 1, $6 FROM json_each($1)"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(db::bulk::json_rows(rows.iter().map(|r| {
                    (&r.id, &r.phone, &r.vipps_agreement_id, &r.manage_token)
                }))?)
                .bind(partner)
                .bind(dialogue)
                .bind(now)
                .bind(anchor)
                .bind(next_due)
                .execute(&mut **c)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `n` charge rows for one dialogue (statistics benchmark), spread over the last two years.
async fn bulk_charges(db: &Db, dialogue: &str, n: u64) -> Result<(), sqlx::Error> {
    let agreement: String = with_pool!(db, |p| sqlx::query_scalar(
        "SELECT id FROM agreements WHERE dialogue_id = $1 LIMIT 1"
    )
    .bind(dialogue)
    .fetch_one(p)
    .await)?;
    let sql = if db.is_postgres() {
        "INSERT INTO charges (id, agreement_id, partner_id, dialogue_id, period_index, charge_type, due_date, amount_ore, status, order_id, created_at, updated_at) \
         SELECT 'bulk-' || ($3 + g), $1, a.partner_id, $2, 100000 + $3 + g, 'RECURRING', CURRENT_DATE - ((g % 730)::int), 10000, \
           CASE WHEN g % 10 = 0 THEN 'FAILED' ELSE 'CHARGED' END, 'bulk-' || ($3 + g), 0, 0 \
         FROM generate_series(1, $4) g, agreements a WHERE a.id = $1"
    } else {
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $4) \
         INSERT INTO charges (id, agreement_id, partner_id, dialogue_id, period_index, charge_type, due_date, amount_ore, status, order_id, created_at, updated_at) \
         SELECT 'bulk-' || ($3 + i), $1, a.partner_id, $2, 100000 + $3 + i, 'RECURRING', date('now', '-' || (i % 730) || ' days'), 10000, \
           CASE WHEN i % 10 = 0 THEN 'FAILED' ELSE 'CHARGED' END, 'bulk-' || ($3 + i), 0, 0 FROM g, agreements a WHERE a.id = $1"
    };
    db::insert_generated_rows(db, sql, &[&agreement, dialogue], n).await
}
