//! `dialogpay bench portal`: the server time of the partner portal's heaviest pages with a
//! large partner: N dialogues and M messages (half keywords in, half replies out, spread over
//! the last 30 days), seeded set-based. Each page is requested one after another over loopback
//! with a logged-in session, and p50/p99/max are printed with the conditions. The seeder also
//! serves the test of a large CSV export.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Days;

use crate::{
    app::{AppState, Application},
    bench::{
        Running, SERVE_WITHOUT_SCHEDULER,
        conditions::{Conditions, Vipps, Workers},
    },
    config::Settings,
    db::{self, Db, crm, partners},
    domain::period::Period,
    service::sessions,
    with_pool,
};

#[derive(Debug, clap::Args)]
pub struct PortalBenchArgs {
    /// Dialogues of the one partner.
    #[arg(long, default_value_t = 1_000)]
    pub dialogues: u64,
    /// Messages, spread evenly over the dialogues.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Requests per page.
    #[arg(long, default_value_t = 200)]
    pub requests: u64,
}

/// What [`seed`] made.
pub struct Seeded {
    pub partner_id: String,
    pub dialogue_ids: Vec<String>,
    /// A portal user of the partner, without a password (open a session for it).
    pub user_id: String,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A partner with `dialogues` live monthly dialogues (keywords `K0`, `K1`, …) and `messages`
/// messages over them, a keyword in and a reply out in turn, the newest now and the oldest 30
/// days ago, each with a distinct phone number per dialogue and pair.
pub async fn seed(state: &AppState, dialogues: u64, messages: u64) -> anyhow::Result<Seeded> {
    let db = &state.db;
    let now = state.clock.now_ms();
    let today = state.clock.today_oslo();
    let partner = partners::create(db, "Portal bench", "223344", now)
        .await?
        .partner;
    let mut tx = db.begin().await?;
    let group = crm::create(&mut tx, &partner.id, "Donors", now).await?;
    crm::add_terms(&mut tx, &group, "Terms", "bench", now).await?;
    let mut dialogue_ids = Vec::with_capacity(dialogues as usize);
    for i in 0..dialogues {
        let fields = db::dialogues::DialogueFields {
            name: format!("Campaign {i}"),
            crm_group_id: group.clone(),
            start_date: today - Days::new(60),
            end_date: today + Days::new(300),
            module_type: "vipps_payments".into(),
            recurring: true,
            period: Period::Month,
            product_name: "Monthly gift".into(),
            product_description: "A monthly gift".into(),
            amount_ore: 10_000,
            sender: "2160".into(),
            reply_message: "Thank you! Become a monthly giver: {vipps_link}".into(),
            keyword: format!("K{i}"),
            receipt_message: None,
            failure_message: None,
        };
        dialogue_ids.push(db::dialogues::insert(&mut tx, &partner.id, &fields, now).await?);
    }
    let user = db::users::insert(&mut tx, &partner.id, "bench@example.org", now).await?;
    tx.commit().await?;
    let per_dialogue = messages / dialogues.max(1);
    let step_ms = (30 * DAY_MS / per_dialogue.max(1) as i64).max(1);
    for (n, id) in dialogue_ids.iter().enumerate() {
        let count = per_dialogue
            + if n == 0 {
                messages % dialogues.max(1)
            } else {
                0
            };
        insert_messages(db, &partner.id, id, n, count, now, step_ms).await?;
    }
    Ok(Seeded {
        partner_id: partner.id,
        dialogue_ids,
        user_id: user.id,
    })
}

/// `count` messages of dialogue number `n` in one statement: even rows are keywords in, odd
/// rows replies out, `step_ms` apart going back from `now`.
async fn insert_messages(
    db: &Db,
    partner_id: &str,
    dialogue_id: &str,
    n: usize,
    count: u64,
    now: i64,
    step_ms: i64,
) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    // The same row either way; only the number series and the zero-padding differ.
    let select = |series: &str, pad: &str, phone: &str| {
        format!(
            "SELECT $1 || {pad}, $2, $3, CASE WHEN i % 2 = 0 THEN 'in' ELSE 'out' END, 'bench', \
             $1 || {pad}, CASE WHEN i % 2 = 0 THEN {phone} ELSE '2160' END, \
             CASE WHEN i % 2 = 0 THEN '2160' ELSE {phone} END, \
             CASE WHEN i % 2 = 0 THEN $4 ELSE $5 END, \
             CASE WHEN i % 2 = 0 THEN 'received' ELSE 'delivered' END, 1, 'GSM-7', \
             $6 - i * $7, $6 - i * $7 FROM {series}"
        )
    };
    let columns = "INSERT INTO messages (id, partner_id, dialogue_id, direction, provider, \
                   gateway_message_id, from_addr, to_addr, text, status, segments, encoding, \
                   created_at, updated_at) ";
    let sql = if db.is_postgres() {
        format!(
            "{columns}{}",
            select(
                "generate_series(0, $8 - 1) AS g(i)",
                "lpad(i::text, 9, '0')",
                "'+474' || lpad((i / 2)::text, 7, '0')",
            )
        )
    } else {
        format!(
            "{columns}WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < $8) {}",
            select("g", "printf('%09d', i)", "printf('+474%07d', i / 2)")
        )
    };
    let prefix = format!("msg_bench{n:05}_");
    let reply = "Thank you! Become a monthly giver: https://example.org/v/abcdef";
    with_pool!(db, |p| sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(&prefix)
        .bind(partner_id)
        .bind(dialogue_id)
        .bind(format!("K{n}"))
        .bind(reply)
        .bind(now)
        .bind(step_ms)
        .bind(count as i64)
        .execute(p)
        .await
        .map(|done| done.rows_affected()))
    .with_context(|| format!("seeding the messages of dialogue {n}"))?;
    Ok(())
}

pub async fn run(mut settings: Settings, args: PortalBenchArgs) -> anyhow::Result<()> {
    settings.vipps.mode = crate::vipps::VippsMode::Simulator;
    settings.server.port = 0;
    let app = Application::build(settings, SERVE_WITHOUT_SCHEDULER).await?;
    let addr = app.address().context("the benchmark's listener")?;
    let state = app.state().clone();
    println!(
        "portal pages with {} dialogues and {} messages",
        args.dialogues, args.messages
    );
    let conditions = Conditions::read(&state, Workers::All, Vipps::InProcess)
        .await?
        .with("requests one at a time over loopback, 3 warm-up requests per page not counted");
    println!("  {conditions}");
    let started = Instant::now();
    let seeded = seed(&state, args.dialogues, args.messages).await?;
    println!("  seeded in {:.1} s", started.elapsed().as_secs_f64());
    let session = sessions::open(&state, crate::db::sessions::Realm::Portal, &seeded.user_id)
        .await
        .map_err(|e| anyhow::anyhow!("opening a session: {e}"))?;
    let running = Running::start(app);
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let middle = &seeded.dialogue_ids[seeded.dialogue_ids.len() / 2];
    let pages = [
        ("dialogue list (this month)", "/portal/".to_owned()),
        (
            "dialogue list (last 30 days)",
            "/portal/?period=last-30-days".to_owned(),
        ),
        (
            "dialogue page (by day)",
            format!("/portal/dialogues/{middle}"),
        ),
        ("messages (newest 50)", "/portal/messages".to_owned()),
        (
            "messages of one dialogue",
            format!("/portal/messages?dialogue={middle}"),
        ),
        (
            "messages of one phone",
            "/portal/messages?phone=%2B4740000007".to_owned(),
        ),
        (
            "messages of an unknown phone",
            "/portal/messages?phone=%2B4799999999".to_owned(),
        ),
    ];
    for (name, path) in pages {
        let mut times = Vec::with_capacity(args.requests as usize);
        // Three requests first, not counted: the first read of a page's rows from disk.
        for i in 0..args.requests + 3 {
            let t = Instant::now();
            let response = http
                .get(format!("{base}{path}"))
                .header("cookie", format!("portal_session={}", session.token))
                .send()
                .await?;
            let status = response.status();
            let body = response.bytes().await?;
            anyhow::ensure!(status.is_success(), "{path}: {status}");
            anyhow::ensure!(!body.is_empty(), "{path}: empty");
            if i >= 3 {
                times.push(t.elapsed());
            }
        }
        println!("  {name:<30} {}", summary(&mut times));
    }
    running.stop().await;
    Ok(())
}

/// `p50 … ms, p99 … ms, max … ms` of `times`.
fn summary(times: &mut [Duration]) -> String {
    times.sort_unstable();
    let ms = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    format!(
        "p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
        ms(0.5),
        ms(0.99),
        ms(1.0)
    )
}
