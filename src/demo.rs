//! `dialogpay demo`: the whole journey on one port with nothing to install. Embedded SQLite,
//! the Vipps simulator in-process (state kept in `data/vipps-sim.json`), the outbox SMS
//! gateway, a demo partner with a CRM group, terms and a live monthly dialogue (GIVE on 2160,
//! 100 NOK). It prints what to do next and keeps printing what happens.

use std::{collections::HashSet, path::Path, time::Duration};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::{
    app::{self, AppState, Application, Roles},
    config::Settings,
    db::{self, Db, crm, partners},
    domain::notices::NoticeKind,
    service::{
        OperatorActor, ServiceError,
        users::{self, UserContext},
    },
    with_pool,
};

const DEMO_PARTNER: &str = "Demo charity";
/// The demo partner's portal user, printed at start.
const DEMO_USER: &str = "demo@example.org";
const DEMO_PASSWORD: &str = "demo-password-2160";
const DEMO_INBOUND_TOKEN: &str = "demo-inbound-token";
const DEMO_OPERATOR_KEY: &str = "demo-operator-key-change-me";
/// The demo's billing sweep: every 10 seconds (unless `billing.sweep_cron` is set).
const DEMO_SWEEP_CRON: &str = "*/10 * * * * *";

/// Runs the demo until Ctrl-C; a second run continues with the same data.
pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    settings.vipps.mode = crate::vipps::VippsMode::Simulator;
    if settings.vipps.simulator.state_file.is_none() {
        settings.vipps.simulator.state_file = Some("data/vipps-sim.json".to_owned());
    }
    if settings.sms.inbound_token.expose_secret().is_empty() {
        settings.sms.inbound_token = SecretString::from(DEMO_INBOUND_TOKEN);
    }
    if settings.operator.api_key.expose_secret().is_empty() {
        settings.operator.api_key = SecretString::from(DEMO_OPERATOR_KEY);
    }
    if !settings.origin.is_explicit("billing.sweep_cron") {
        // A demo month passes in one request: let the scheduler notice within seconds.
        settings.billing.sweep_cron = DEMO_SWEEP_CRON.to_owned();
    }
    if !settings.origin.is_explicit("sms.quiet_hours") {
        // Demo months pass in minutes while the wall clock's night lasts: send at once.
        settings.sms.quiet_hours = crate::sms::QuietHoursSetting::OFF;
    }
    std::fs::create_dir_all("data").context("creating ./data")?;
    let db = db::Db::connect(&settings.database).await?;
    db.prepare(&settings.database).await?;
    for warning in crate::preflight::check(&settings, crate::preflight::Role::Demo, &db).await? {
        tracing::warn!("{warning}");
    }
    let app = Application::build_on(db, settings, Roles::SERVE).await?;
    let state = app.state().clone();
    let base = state.public_base_url.to_string();
    let key = ensure_demo_data(&state).await?;
    let inbound = state.settings.sms.inbound_token.expose_secret().to_owned();
    let operator = state.settings.operator.api_key.expose_secret().to_owned();
    println!("\ndialogpay demo listening on {base}");
    println!("  portal:           {base}/portal/ — log in as {DEMO_USER} / {DEMO_PASSWORD}");
    println!(
        "  try it:           in the portal, open the dialogue and press Try it: the keyword, the \
         reply and the Vipps app, all in the browser"
    );
    println!("  partner API key:  {key}");
    println!("  API docs:         {base}/docs");
    let text = |word: &str| {
        format!(
            "   curl -s -X POST {base}/webhooks/sms/inbound -H 'Authorization: Bearer {inbound}' -H 'Content-Type: application/json' \\\n     -d '{{\"message_id\":\"demo-'$RANDOM'\",\"from\":\"+4791234567\",\"to\":\"2160\",\"text\":\"{word}\"}}'"
        )
    };
    println!("\n1. Text the keyword GIVE to 2160:");
    println!("{}", text("GIVE"));
    println!(
        "2. Open the link in the reply printed below, enter any PIN, confirm and pay; the \
         dialogue's receipt follows by SMS (each payment gets one)."
    );
    println!(
        "3. Let a month pass in the simulator; the scheduler's next billing sweep (every 10 s in \
         the demo) creates the next charge:"
    );
    println!(
        "   curl -s -X POST {base}/vipps-sim/_sim/clock -H 'Content-Type: application/json' -d '{{\"advance_days\":31}}'"
    );
    println!(
        "   (or sweep now: curl -s -X POST {base}/api/v1/admin/billing/sweep -H 'Authorization: Bearer {operator}')"
    );
    println!("   curl -s {base}/api/v1/messages -H 'Authorization: Bearer {key}'");
    println!(
        "4. Keep your own systems in step: in the portal's Webhooks page (or the API) register an \
         endpoint for the events you want; each is posted signed (Standard Webhooks), e.g. to a \
         local receiver:"
    );
    println!(
        "   curl -s -X POST {base}/api/v1/webhook-endpoints -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n     -d '{{\"url\":\"http://127.0.0.1:9999/hook\",\"event_types\":[\"message.received\",\"agreement.activated\",\"charge.charged\"]}}'"
    );
    println!(
        "5. Pause: text PAUSE 2 from the same phone (the next two periods are skipped, no charge \
         is made), START to go on early:"
    );
    println!("{}\n", text("PAUSE 2"));
    let watcher = tokio::spawn(watch(state.db.clone()));
    let result = app.run_until_stopped(app::shutdown_signal()).await;
    watcher.abort();
    result
}

/// The demo partner's key is kept in `data/demo-partner-key` (it is stored only as a hash).
async fn ensure_demo_data(state: &AppState) -> anyhow::Result<String> {
    let key_file = Path::new("data/demo-partner-key");
    let existing = partners::list(&state.db)
        .await?
        .into_iter()
        .find(|p| p.name == DEMO_PARTNER);
    let (partner, key) = match (existing, std::fs::read_to_string(key_file).ok()) {
        (Some(p), Some(key)) => (p, key.trim().to_owned()),
        _ => {
            let created =
                partners::create(&state.db, DEMO_PARTNER, "123456", state.clock.now_ms()).await?;
            std::fs::write(key_file, &created.api_key).context("saving the demo key")?;
            (created.partner, created.api_key)
        }
    };
    state
        .enqueuer
        .enqueue(&dialogpay_jobs::vipps::RegisterWebhook {
            msn: partner.vipps_msn.clone(),
        })
        .await?;
    ensure_demo_user(state, &partner.id).await?;
    let groups = crm::list(&state.db, &partner.id, Some(true), None, 10).await?;
    let group = match groups.into_iter().next() {
        Some(g) => g.id,
        None => {
            let now = state.clock.now_ms();
            let mut tx = state.db.begin().await?;
            let id = crm::create(&mut tx, &partner.id, "Demo donors", now).await?;
            crm::add_terms(
                &mut tx,
                &id,
                "You give 100 NOK a month until you stop (send STOPP to 2160).",
                "demo",
                now,
            )
            .await?;
            tx.commit().await?;
            id
        }
    };
    if db::dialogues::list(&state.db, &partner.id, false, None, 1)
        .await?
        .is_empty()
    {
        let today = state.clock.today_oslo();
        let fields = db::dialogues::DialogueFields {
            name: "Monthly giver (demo)".into(),
            crm_group_id: group,
            start_date: today,
            end_date: today + chrono::Days::new(365),
            module_type: "vipps_payments".into(),
            recurring: true,
            period: crate::domain::period::Period::Month,
            product_name: "Fast giver".into(),
            product_description: "100 kr i måneden til vårt arbeid".into(),
            amount_ore: 10_000,
            sender: "2160".into(),
            reply_message:
                "Takk! Bli fast giver her: {vipps_link} Send STOPP til 2160 for å avslutte.".into(),
            keyword: "GIVE".into(),
            receipt_message: Some(NoticeKind::Receipt.suggested_text().into()),
            failure_message: Some(NoticeKind::PaymentFailed.suggested_text().into()),
        };
        let mut tx = state.db.begin().await?;
        db::dialogues::insert(&mut tx, &partner.id, &fields, state.clock.now_ms()).await?;
        tx.commit().await?;
    }
    Ok(key)
}

/// The demo partner's portal user with the printed password (kept as it is when it exists).
async fn ensure_demo_user(state: &AppState, partner_id: &str) -> anyhow::Result<()> {
    let demo = OperatorActor::named("demo");
    let ctx = UserContext::of(state);
    match users::create_with_password(&ctx, &demo, partner_id, DEMO_USER, DEMO_PASSWORD).await {
        Ok(_) | Err(ServiceError::Conflict { .. }) => Ok(()),
        Err(err) => Err(anyhow::anyhow!("creating the demo's portal user: {err}")),
    }
}

/// Prints every new outbound SMS (masked phone) and agreement status as it happens.
async fn watch(db: Db) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut first = true;
    loop {
        let rows: Result<Vec<(String, String, String, String)>, sqlx::Error> = with_pool!(
            &db,
            |p| {
                sqlx::query_as(
                "SELECT id, to_addr, text, status FROM messages WHERE direction = 'out' \
                 UNION ALL SELECT id || status, phone, status, 'agreement' FROM agreements \
                 UNION ALL SELECT c.id || c.status, a.phone, \
                   'period ' || c.period_index || ', due ' || c.due_date || ': ' || c.status, 'charge' \
                   FROM charges c JOIN agreements a ON a.id = c.agreement_id ORDER BY 1",
            )
            .fetch_all(p)
            .await
            }
        );
        for (id, to, text, status) in rows.unwrap_or_default() {
            if seen.insert(id) && !first {
                let masked = crate::domain::msisdn::Msisdn::parse(&to)
                    .map(|m| m.masked())
                    .unwrap_or(to);
                if status == "agreement" || status == "charge" {
                    println!("[{status}] {masked}: {text}");
                } else {
                    println!("[sms to {masked}] {text}");
                }
            }
        }
        first = false;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
