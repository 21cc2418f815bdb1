//! The `dialogpay` binary: one executable, several roles (see `dialogpay --help`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use dialogpay::{
    app::{self, AppState, Roles},
    config::{ConfigSource, LogFormat, Settings},
    db::{Db, partners},
    telemetry,
    worker::register_workers,
};

#[derive(Parser)]
#[command(
    name = "dialogpay",
    version,
    about = "Vipps recurring payments through SMS keyword dialogues"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One-command demo: SQLite, the Vipps simulator and the outbox SMS gateway in-process, a
    /// demo partner and a live GIVE dialogue on 2160; prints what to try.
    Demo,
    /// HTTP API, all job workers and the scheduler in one process (the embedded default).
    Serve,
    /// HTTP API only.
    Api,
    /// Job workers and the scheduler only.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Measurements (see README "Benchmarks"); use an empty database.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Run the Vipps simulator on its own port (tests, demos, load tests).
    VippsSim(dialogpay::vipps::cli::VippsSimArgs),
    /// Vipps operator tools.
    Vipps {
        #[command(subcommand)]
        command: VippsCommand,
    },
    /// Manage partners.
    Partner {
        #[command(subcommand)]
        command: PartnerCommand,
    },
}

#[derive(Subcommand)]
enum VippsCommand {
    /// Register, list or delete our webhook at Vipps.
    #[command(subcommand)]
    Webhooks(dialogpay::vipps::cli::WebhooksCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Drain no-op jobs through the job runtime (jobs/s).
    Queue(dialogpay::bench::QueueBenchArgs),
    /// Charge N agreements through the embedded simulator; statistics over a million charges.
    Billing(dialogpay::bench::billing::BillingBenchArgs),
    /// Keyword burst through the whole journey (webhook → draft → reply).
    Burst(dialogpay::bench::burst::BurstBenchArgs),
    /// Webhook ingest at a fixed rate (accepted/s, p50/p99).
    Ingest(dialogpay::bench::ingest::IngestBenchArgs),
}

#[derive(Subcommand)]
enum PartnerCommand {
    /// Create a partner and print its API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// The partner's Vipps Merchant Serial Number.
        #[arg(long, default_value = "123456")]
        vipps_msn: String,
        /// Print `{"id":…,"api_key":"…"}`.
        #[arg(long)]
        json: bool,
    },
    /// List partners.
    List,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(&ConfigSource::from_env())?;
    if matches!(cli.command, Command::Demo) && settings.log.level == "info" {
        // The demo prints its own story; keep the logs to warnings unless asked otherwise.
        settings.log.level = "warn".to_owned();
    }
    telemetry::init(&settings.log);
    match cli.command {
        Command::Demo => dialogpay::demo::run(settings).await,
        Command::Serve => {
            serve(
                settings,
                Roles {
                    http: true,
                    workers: true,
                },
            )
            .await
        }
        Command::Api => {
            serve(
                settings,
                Roles {
                    http: true,
                    workers: false,
                },
            )
            .await
        }
        Command::Worker => {
            serve(
                settings,
                Roles {
                    http: false,
                    workers: true,
                },
            )
            .await
        }
        Command::Migrate => {
            let db = Db::connect(&settings.database).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Partner { command } => partner(settings, command).await,
        Command::VippsSim(args) => dialogpay::vipps::cli::run_sim(args).await,
        Command::Vipps {
            command: VippsCommand::Webhooks(cmd),
        } => dialogpay::vipps::cli::run_webhooks(cmd, &settings.vipps).await,
        Command::Bench {
            command: BenchCommand::Queue(args),
        } => dialogpay::bench::queue(settings, args).await,
        Command::Bench {
            command: BenchCommand::Billing(args),
        } => dialogpay::bench::billing::run(settings, args).await,
        Command::Bench {
            command: BenchCommand::Burst(args),
        } => dialogpay::bench::burst::run(settings, args).await,
        Command::Bench {
            command: BenchCommand::Ingest(args),
        } => dialogpay::bench::ingest::run(settings, args).await,
    }
}

async fn serve(mut settings: Settings, roles: Roles) -> anyhow::Result<()> {
    let acceptor = if roles.http {
        let (acceptor, addr) = app::bind(&settings).await?;
        if settings.server.port == 0 {
            // An ephemeral port (tests, crash tests): links must carry the real one.
            settings.server.public_base_url = format!("http://{addr}");
        }
        tracing::info!(%addr, "listening");
        // JSON logs go to stdout too, where every line must be JSON for the log shipper.
        if settings.log.format == LogFormat::Pretty {
            println!("dialogpay listening on http://{addr}");
            println!("  API docs:       http://{addr}/docs");
            println!(
                "  create partner: cargo run --release -- partner create --name \"My charity\""
            );
        }
        Some(acceptor)
    } else {
        None
    };
    let metrics = app::bind_metrics(&settings).await?;
    match &metrics {
        Some((_, addr)) => {
            tracing::info!(%addr, "metrics listening");
            if settings.log.format == LogFormat::Pretty {
                println!("dialogpay metrics listening on http://{addr}");
            }
        }
        None if settings.server.metrics_enabled && !roles.http => tracing::info!(
            "this worker's metrics are not served: set server.metrics_port to scrape it"
        ),
        None => {}
    }
    let state = AppState::build(settings).await?;
    let mut workers = register_workers();
    if std::env::var("DIALOGPAY_TEST_JOBS").is_ok_and(|v| v == "1") {
        workers = dialogpay::worker::with_test_jobs(workers);
    }
    let shutdown = app::shutdown_signal();
    let service = app::run(state.clone(), roles, workers, acceptor, shutdown.clone());
    match metrics {
        Some((acceptor, _)) => {
            tokio::try_join!(service, app::serve_metrics(state, acceptor, shutdown))?;
            Ok(())
        }
        None => service.await,
    }
}

async fn partner(settings: Settings, command: PartnerCommand) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database).await?;
    db.migrate().await?;
    match command {
        PartnerCommand::Create {
            name,
            vipps_msn,
            json,
        } => {
            let errors = dialogpay::http::admin::partners::validate_partner(&name, &vipps_msn);
            if let Some(e) = errors.first() {
                anyhow::bail!("{}: {}", e.field, e.message);
            }
            let now = chrono::Utc::now().timestamp_millis();
            let created = partners::create(&db, name.trim(), &vipps_msn, now)
                .await
                .context("creating the partner")?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "id": created.partner.id, "api_key": created.api_key })
                );
            } else {
                println!("partner {} created", created.partner.id);
                println!("API key (shown once): {}", created.api_key);
            }
        }
        PartnerCommand::List => {
            for p in partners::list(&db).await? {
                println!(
                    "{}\t{}\tmsn={}\tkey={}",
                    p.id, p.name, p.vipps_msn, p.api_key_hint
                );
            }
        }
    }
    Ok(())
}
