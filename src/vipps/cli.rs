//! Command-line entry points for the binary to wire in: `dialogpay vipps-sim` and
//! `dialogpay vipps webhooks register|list|delete`.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};

use super::client::VippsClient;
use super::settings::{SimClockMode, SimulatorSettings, VippsSettings};
use super::sim::{SimConfig, Simulator};
use super::wire::{RegisterWebhookRequest, event_names};

/// `dialogpay vipps-sim`: run the Vipps simulator as its own server.
#[derive(Debug, Clone, clap::Args)]
pub struct VippsSimArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8099)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Keep the state in this JSON file across restarts.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Minimum days between today and a charge's due date.
    #[arg(long, default_value_t = 1)]
    pub lead_days: u32,
    /// Public URL of the simulator (for links); default http://BIND:PORT.
    #[arg(long)]
    pub public_base_url: Option<String>,
    /// Enforce the documented per-endpoint rate limits (429 + Retry-After).
    #[arg(long)]
    pub rate_limit: bool,
    /// Start the clock here (RFC 3339) instead of now (ignored when --state has a clock).
    #[arg(long)]
    pub start: Option<DateTime<Utc>>,
    /// `ticking`: real time plus an offset that /_sim/clock changes, due charges processed as
    /// time passes; `frozen`: the clock moves only when told.
    #[arg(long, value_enum, default_value_t = SimClockMode::Ticking)]
    pub clock: SimClockMode,
    /// First webhook redelivery delay in milliseconds (doubles per attempt).
    #[arg(long, default_value_t = 1000)]
    pub webhook_retry_base_ms: u64,
    /// Ignore Idempotency-Key on draft-agreement, as Vipps reportedly does.
    #[arg(long)]
    pub ignore_draft_idempotency: bool,
    /// With --state: write the file at most this often (and at shutdown) instead of after
    /// every change; needed for thousands of agreements (each write costs the whole state).
    #[arg(long, default_value_t = 0)]
    pub save_interval_ms: u64,
}

impl VippsSimArgs {
    /// The simulator configuration these arguments describe.
    pub fn config(&self) -> SimConfig {
        let settings = SimulatorSettings {
            public_base_url: self
                .public_base_url
                .clone()
                .unwrap_or_else(|| format!("http://{}:{}", self.bind, self.port)),
            lead_days: self.lead_days,
            state_file: self.state.as_ref().map(|p| p.display().to_string()),
            rate_limit: self.rate_limit,
            webhook_retry_base_ms: self.webhook_retry_base_ms,
            draft_idempotency: !self.ignore_draft_idempotency,
            clock: self.clock,
            ..SimulatorSettings::default()
        };
        SimConfig {
            start: self.start,
            save_interval: std::time::Duration::from_millis(self.save_interval_ms),
            ..SimConfig::from(&settings)
        }
    }
}

/// Runs the simulator until Ctrl-C or SIGTERM, then writes its state file. Prints
/// `vipps-sim listening on http://ADDR` first (with `--port 0`, the port it got).
pub async fn run_sim(args: VippsSimArgs) -> anyhow::Result<()> {
    let sim = Simulator::new(args.config()).context("starting the Vipps simulator")?;
    let addr = format!("{}:{}", args.bind, args.port);
    let acceptor = TcpListener::bind(addr.clone())
        .into_acceptor()
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("reading the bound address")?;
    if args.public_base_url.is_none() {
        sim.set_public_base_url(&format!("http://{local}"));
    }
    tracing::info!(addr = %local, public_base_url = %sim.public_base_url(), now = %sim.now(), clock = ?sim.clock_mode(), "Vipps simulator listening");
    println!("vipps-sim listening on http://{local}");
    let served = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(sim.endpoint(), stop_requested(), None)
        .await
        .context("serving the Vipps simulator");
    sim.flush();
    served
}

/// Ctrl-C or SIGTERM.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// `dialogpay vipps webhooks …`: manage webhook registrations (a deploy-time task).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum WebhooksCommand {
    /// Register a URL; prints the id and the secret (shown once: store it as
    /// `vipps.webhook_secret`).
    Register {
        /// Merchant serial number.
        #[arg(long)]
        msn: String,
        /// HTTPS URL that receives the events.
        #[arg(long)]
        url: String,
        /// Event names (repeatable); all recurring events when omitted.
        #[arg(long = "event")]
        events: Vec<String>,
    },
    /// List registrations.
    List {
        #[arg(long)]
        msn: String,
    },
    /// Delete a registration.
    Delete {
        #[arg(long)]
        msn: String,
        /// Registration id (uuid).
        id: String,
    },
}

/// A webhook registration Vipps made: its id and the secret that signs its deliveries.
#[derive(Debug)]
pub struct Registered {
    pub id: String,
    pub msn: String,
    pub url: String,
    pub secret: String,
}

/// Runs a webhooks command against the configured Vipps (or simulator). `Register` returns
/// the registration, for the caller to store (the binary keeps it in the database, where
/// every `api` process finds the secret) and print.
pub async fn run_webhooks(
    cmd: WebhooksCommand,
    settings: &VippsSettings,
) -> anyhow::Result<Option<Registered>> {
    let client = VippsClient::new(settings)?;
    match cmd {
        WebhooksCommand::Register { msn, url, events } => {
            let events = if events.is_empty() {
                event_names::ALL_RECURRING
                    .iter()
                    .map(|e| (*e).to_owned())
                    .collect()
            } else {
                events
            };
            let r = client
                .register_webhook(
                    &msn,
                    &RegisterWebhookRequest {
                        url: url.clone(),
                        events,
                    },
                )
                .await?;
            return Ok(Some(Registered {
                id: r.id,
                msn,
                url,
                secret: r.secret,
            }));
        }
        WebhooksCommand::List { msn } => {
            let list = client.list_webhooks(&msn).await?;
            if list.webhooks.is_empty() {
                println!("no webhooks registered for {msn}");
            }
            for w in list.webhooks {
                println!("{}  {}  {}", w.id, w.url, w.events.join(","));
            }
        }
        WebhooksCommand::Delete { msn, id } => {
            client.delete_webhook(&msn, &id).await?;
            println!("deleted {id}");
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(clap::Subcommand)]
    enum Cmd {
        VippsSim(VippsSimArgs),
        #[command(subcommand)]
        Webhooks(WebhooksCommand),
    }

    #[test]
    fn arguments_parse_with_defaults() {
        let Cmd::VippsSim(a) = Cli::parse_from(["x", "vipps-sim"]).cmd else {
            panic!()
        };
        assert_eq!(
            (a.port, a.bind.as_str(), a.lead_days),
            (8099, "127.0.0.1", 1)
        );
        assert_eq!(a.config().public_base_url, "http://127.0.0.1:8099");
        let Cmd::VippsSim(a) = Cli::parse_from([
            "x",
            "vipps-sim",
            "--port",
            "9000",
            "--state",
            "/tmp/s.json",
            "--start",
            "2027-01-01T00:00:00Z",
            "--public-base-url",
            "http://demo/vipps-sim",
        ])
        .cmd
        else {
            panic!()
        };
        let c = a.config();
        assert_eq!(c.public_base_url, "http://demo/vipps-sim");
        assert_eq!(c.state_file, Some(PathBuf::from("/tmp/s.json")));
        assert_eq!(
            c.start.map(|t| t.to_rfc3339()),
            Some("2027-01-01T00:00:00+00:00".into())
        );
        let Cmd::Webhooks(WebhooksCommand::Register { events, .. }) = Cli::parse_from([
            "x",
            "webhooks",
            "register",
            "--msn",
            "123456",
            "--url",
            "https://e.x/h",
            "--event",
            "a",
            "--event",
            "b",
        ])
        .cmd
        else {
            panic!()
        };
        assert_eq!(events, ["a", "b"]);
    }
}
