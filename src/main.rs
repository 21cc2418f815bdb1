//! The `dialogpay` binary: one executable, several roles (see `dialogpay --help`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use dialogpay::{
    app::{self, Application, Roles},
    config::{ConfigSource, LogFormat, Settings},
    db::{Db, partners},
    preflight::Role,
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
    /// The folder with `default.toml` and `$DIALOGPAY_ENV.toml` overrides (default: ./config
    /// when it exists; the committed files are built in).
    #[arg(long, global = true, env = "DIALOGPAY_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<std::path::PathBuf>,
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
    /// Manage partners' portal users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage operators of the console at /console.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Enqueue the test-only job `test.flaky` (the browser suite's job that fails) and print
    /// its id. Refused unless DIALOGPAY_TEST_JOBS=1, which is also what registers its worker.
    #[command(hide = true)]
    TestJob {
        /// Its identity (and idempotency key); searchable in the console.
        #[arg(long)]
        name: String,
        /// Attempts that fail before one succeeds.
        #[arg(long, default_value_t = 1)]
        fail_times: u32,
        /// Its failures are permanent (no retry on its own).
        #[arg(long)]
        permanent: bool,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator and print the one-time link that sets the password (valid for
    /// portal.password_link_days; shown once).
    Create {
        /// What the operator logs in with.
        #[arg(long)]
        email: String,
        /// Sees everything in the console and changes nothing.
        #[arg(long)]
        read_only: bool,
        /// Print `{"id":…,"email":…,"set_password_url":…}`.
        #[arg(long)]
        json: bool,
    },
    /// Print a new one-time link for an existing operator (a forgotten password, a lost or
    /// expired link); the operator's older unused links stop working.
    ResetLink {
        /// The operator's email.
        #[arg(long)]
        email: String,
        /// Print `{"id":…,"email":…,"set_password_url":…}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a portal user of a partner and print the one-time link that sets the password
    /// (valid for portal.password_link_days; shown once).
    Create {
        /// The partner's id (`dialogpay partner list`).
        #[arg(long)]
        partner: String,
        /// What the user logs in with.
        #[arg(long)]
        email: String,
        /// Print `{"id":…,"email":…,"set_password_url":…}`.
        #[arg(long)]
        json: bool,
    },
    /// Print a new one-time link for an existing user (a forgotten password, a lost or expired
    /// link); the user's older unused links stop working.
    ResetLink {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Print `{"id":…,"email":…,"set_password_url":…}`.
        #[arg(long)]
        json: bool,
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
    /// Server time of the portal's dialogue list, dialogue page and Messages tab with a large
    /// partner (default 1,000 dialogues, 1,000,000 messages).
    Portal(dialogpay::bench::portal::PortalBenchArgs),
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
    let mut settings = Settings::load(&ConfigSource::from_env(cli.config_dir.clone()))?;
    if matches!(cli.command, Command::Demo) && settings.log.level == "info" {
        // The demo prints its own story; keep the logs to warnings unless asked otherwise.
        settings.log.level = "warn".to_owned();
    }
    telemetry::init(&settings.log);
    match cli.command {
        Command::Demo => dialogpay::demo::run(settings).await,
        Command::Serve => serve(settings, Role::Serve).await,
        Command::Api => serve(settings, Role::Api).await,
        Command::Worker => serve(settings, Role::Worker).await,
        Command::Migrate => {
            let db = Db::connect(&settings.database).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Partner { command } => partner(settings, command).await,
        Command::User { command } => user(settings, command).await,
        Command::Operator { command } => operator(settings, command).await,
        Command::TestJob {
            name,
            fail_times,
            permanent,
        } => test_job(settings, name, fail_times, permanent).await,
        Command::VippsSim(args) => dialogpay::vipps::cli::run_sim(args).await,
        Command::Vipps {
            command: VippsCommand::Webhooks(cmd),
        } => webhooks(settings, cmd).await,
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
        Command::Bench {
            command: BenchCommand::Portal(args),
        } => dialogpay::bench::portal::run(settings, args).await,
    }
}

async fn serve(settings: Settings, role: Role) -> anyhow::Result<()> {
    tracing::info!(role = role.name(), layers = ?settings.origin.layers, "configuration read");
    let roles = match role {
        Role::Serve | Role::Demo => Roles::SERVE,
        Role::Api => Roles::API,
        Role::Worker => Roles::WORKER,
    };
    let db = Db::connect(&settings.database).await?;
    db.prepare(&settings.database).await?;
    for warning in dialogpay::preflight::check(&settings, role, &db).await? {
        tracing::warn!("{warning}");
    }
    let mut app = Application::build_on(db, settings, roles).await?;
    let state = app.state();
    let pretty = state.settings.log.format == LogFormat::Pretty;
    if let Some(addr) = app.address() {
        tracing::info!(%addr, public_base_url = %state.public_base_url, "listening");
        // JSON logs go to stdout too, where every line must be JSON for the log shipper.
        if pretty {
            println!("dialogpay listening on http://{addr}");
            println!("  public address: {}", state.public_base_url);
            println!("  API docs:       {}/docs", state.public_base_url);
            println!("  portal:         {}/portal/", state.public_base_url);
            println!(
                "  create partner: cargo run --release -- partner create --name \"My charity\""
            );
            println!(
                "  portal user:    cargo run --release -- user create --partner ID --email you@example.org"
            );
        }
    }
    match app.metrics_address() {
        Some(addr) => {
            tracing::info!(%addr, "metrics listening");
            if pretty {
                println!("dialogpay metrics listening on http://{addr}");
            }
        }
        None if state.settings.server.metrics_enabled && !roles.http => tracing::info!(
            "this worker's metrics are not served: set server.metrics_port to scrape it"
        ),
        None => {}
    }
    if test_jobs_on() {
        app = app.with_workers(dialogpay::worker::with_test_jobs(register_workers()));
    }
    app.run_until_stopped(app::shutdown_signal()).await
}

/// Whether the test-only job is switched on (`DIALOGPAY_TEST_JOBS=1`).
fn test_jobs_on() -> bool {
    std::env::var("DIALOGPAY_TEST_JOBS").is_ok_and(|v| v == "1")
}

/// `dialogpay test-job`: one `test.flaky` job, for the browser suite to find in the console.
async fn test_job(
    settings: Settings,
    name: String,
    fail_times: u32,
    permanent: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        test_jobs_on(),
        "test-job needs DIALOGPAY_TEST_JOBS=1 (the test-only worker is registered only then)"
    );
    let db = Db::connect(&settings.database).await?;
    let job = dialogpay_jobs::testing::Flaky {
        name,
        fail_times,
        permanent,
        sleep_ms: 0,
        snooze_first_ms: 0,
    };
    let id = dialogpay::db::enqueue::Enqueuer::new(db, Default::default())
        .enqueue(&job)
        .await?
        .context("a test job with that name exists already")?;
    println!("{id}");
    Ok(())
}

/// `dialogpay vipps webhooks …`; a new registration is stored in the database, so every `api`
/// process verifies deliveries with its secret (no `vipps.webhook_secret` to distribute).
async fn webhooks(
    settings: Settings,
    cmd: dialogpay::vipps::cli::WebhooksCommand,
) -> anyhow::Result<()> {
    let Some(r) = dialogpay::vipps::cli::run_webhooks(cmd, &settings.vipps).await? else {
        return Ok(());
    };
    println!("id:     {}", r.id);
    println!("secret: {}", r.secret);
    let stored = async {
        let db = Db::connect(&settings.database).await?;
        db.check_schema().await?;
        let now = chrono::Utc::now().timestamp_millis();
        dialogpay::db::vipps_events::save_registration(&db, &r.id, &r.msn, &r.url, &r.secret, now)
            .await
            .context("storing the registration")
    };
    match stored.await {
        Ok(()) => {
            println!("Stored in the database: every api process verifies deliveries with it.");
            Ok(())
        }
        Err(err) => {
            println!("Store the secret now (vipps.webhook_secret); Vipps shows it only once.");
            Err(err.context("the webhook is registered, but its secret is not stored"))
        }
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
            let errors = dialogpay::service::partners::validate(&name, &vipps_msn);
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

/// Where links printed here point: `server.public_base_url`, else (outside production) the
/// address `serve` listens on with these settings. In production a loopback link would be
/// handed to a user who cannot open it: refused instead.
fn link_base(settings: &Settings) -> anyhow::Result<String> {
    if let Some(url) = &settings.server.public_base_url {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    anyhow::ensure!(
        !settings.origin.is_production(),
        "server.public_base_url: required in production to print a link users can open \
         (set DIALOGPAY__SERVER__PUBLIC_BASE_URL=https://…)"
    );
    let (host, port) = (&settings.server.host, settings.server.port);
    Ok(
        match format!("{host}:{port}").parse::<std::net::SocketAddr>() {
            Ok(addr) => format!("http://{}", app::loopback(addr)),
            Err(_) => format!("http://{host}:{port}"),
        },
    )
}

/// A service refusal as one line per problem; `taken` says what to do about a taken email.
fn refusal(err: dialogpay::service::ServiceError, taken: &str) -> anyhow::Error {
    match err {
        dialogpay::service::ServiceError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        dialogpay::service::ServiceError::Conflict {
            code: "email_taken",
            message,
        } => anyhow::anyhow!("{message}{taken}"),
        other => anyhow::anyhow!("{other}"),
    }
}

/// What creating accounts from the CLI needs: the database (migrated) and where links point.
struct LinkSetup {
    db: Db,
    base: String,
    settings: Settings,
}

impl LinkSetup {
    async fn open(settings: Settings) -> anyhow::Result<Self> {
        let base = link_base(&settings)?;
        let db = Db::connect(&settings.database).await?;
        db.migrate().await?;
        Ok(Self { db, base, settings })
    }

    fn ctx(&self) -> dialogpay::service::users::UserContext<'_> {
        dialogpay::service::users::UserContext {
            db: &self.db,
            portal: &self.settings.portal,
            public_base_url: &self.base,
            now_ms: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Prints an account's new set-password link, as JSON or as two lines.
    fn print(&self, json: bool, what: &str, (id, email): (&str, &str), url: &str, done: &str) {
        if json {
            println!(
                "{}",
                serde_json::json!({ "id": id, "email": email, "set_password_url": url })
            );
        } else {
            println!("{what} {id} ({email}) {done}");
            println!(
                "set-password link (single use, valid {} days): {url}",
                self.settings.portal.password_link_days
            );
        }
    }
}

/// The CLI's identity in the audit log.
fn cli_operator() -> dialogpay::service::OperatorActor {
    dialogpay::service::OperatorActor::named("operator:cli")
}

async fn user(settings: Settings, command: UserCommand) -> anyhow::Result<()> {
    let setup = LinkSetup::open(settings).await?;
    let (ctx, operator) = (setup.ctx(), cli_operator());
    let (made, json, done) = match command {
        UserCommand::Create {
            partner,
            email,
            json,
        } => (
            dialogpay::service::users::create(&ctx, &operator, &partner, &email).await,
            json,
            "created",
        ),
        UserCommand::ResetLink { email, json } => (
            dialogpay::service::users::reset_link(&ctx, &operator, &email).await,
            json,
            "given a new link",
        ),
    };
    let hint = "; `dialogpay user reset-link --email …` gives that user a new set-password link";
    let made = made.map_err(|e| refusal(e, hint))?;
    let who = (made.account.id.as_str(), made.account.email.as_str());
    setup.print(json, "user", who, &made.set_password_url, done);
    Ok(())
}

async fn operator(settings: Settings, command: OperatorCommand) -> anyhow::Result<()> {
    let setup = LinkSetup::open(settings).await?;
    let (ctx, by) = (setup.ctx(), cli_operator());
    let (made, json, done) = match command {
        OperatorCommand::Create {
            email,
            read_only,
            json,
        } => (
            dialogpay::service::operators::create(&ctx, &by, &email, read_only).await,
            json,
            if read_only {
                "created (read-only)"
            } else {
                "created"
            },
        ),
        OperatorCommand::ResetLink { email, json } => (
            dialogpay::service::operators::reset_link(&ctx, &by, &email).await,
            json,
            "given a new link",
        ),
    };
    let hint =
        "; `dialogpay operator reset-link --email …` gives that operator a new set-password link";
    let made = made.map_err(|e| refusal(e, hint))?;
    let who = (made.account.id.as_str(), made.account.email.as_str());
    setup.print(json, "operator", who, &made.set_password_url, done);
    Ok(())
}
