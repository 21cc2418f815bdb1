//! Wiring: builds the shared state from settings and runs the HTTP server, the workers and the
//! maintenance loop, each optional, until a shutdown signal.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpListener};

use secrecy::{ExposeSecret, SecretString};

use crate::{
    clock::Clock,
    config::Settings,
    db::Db,
    sms::SmsGateway,
    vipps::{
        VippsClient, VippsMode,
        sim::{SimConfig, Simulator},
    },
    worker::{self, Enqueuer, JobContext, RuntimeParts, Wakers, WorkerSet},
};

/// Everything request handlers and jobs need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// `server.public_base_url`, or the listener's address when it is unset; no trailing `/`.
    pub public_base_url: Arc<str>,
    pub clock: Clock,
    pub enqueuer: Enqueuer,
    pub vipps: VippsClient,
    /// The embedded Vipps simulator (`vipps.mode = "simulator"`), mounted at `/vipps-sim`.
    pub simulator: Option<Simulator>,
    pub sms: SmsGateway,
}

/// Where the embedded simulator is mounted.
pub const SIMULATOR_PREFIX: &str = "/vipps-sim";

impl AppState {
    /// Connects to the database (migrating when configured, else checking the schema) and
    /// builds the state. `listener` is the address this process's HTTP server is bound to:
    /// links follow it when `server.public_base_url` is unset, and the embedded simulator is
    /// reached there (never through the public URL, which may be a proxy or another host).
    pub async fn build(settings: Settings, listener: Option<SocketAddr>) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database).await?;
        db.prepare(&settings.database).await?;
        Self::build_on(db, settings, listener).await
    }

    /// [`AppState::build`] on a database that is already connected and prepared.
    pub async fn build_on(
        db: Db,
        mut settings: Settings,
        listener: Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        let public_base_url = public_base_url(&settings, listener)?;
        if settings.server.metrics_enabled {
            crate::monitoring::install();
        }
        let (simulator, vipps) = if settings.vipps.mode == VippsMode::Simulator {
            let addr = listener.context(
                "vipps.mode = \"simulator\" runs the Vipps simulator inside this process's HTTP \
                 server, and this process has none",
            )?;
            settings.vipps.simulator.public_base_url =
                format!("{public_base_url}{SIMULATOR_PREFIX}");
            for secret in [
                &mut settings.vipps.client_secret,
                &mut settings.vipps.subscription_key,
            ] {
                if secret.expose_secret().is_empty() {
                    *secret = SecretString::from("simulator");
                }
            }
            if settings.vipps.client_id.is_empty() {
                settings.vipps.client_id = "simulator".to_owned();
            }
            let simulator = Simulator::new(SimConfig::from(&settings.vipps.simulator))
                .context("starting the Vipps simulator")?;
            let local = format!("http://{}{SIMULATOR_PREFIX}", loopback(addr));
            let client = VippsClient::with_base_url(&settings.vipps, &local)
                .context("building the Vipps client (vipps.*)")?;
            (Some(simulator), client)
        } else {
            let client =
                VippsClient::new(&settings.vipps).context("building the Vipps client (vipps.*)")?;
            (None, client)
        };
        let clock = simulator
            .clone()
            .map(Clock::following)
            .unwrap_or_else(Clock::system);
        let sms =
            SmsGateway::from_settings(&settings.sms).context("building the SMS gateway (sms.*)")?;
        Ok(Self {
            enqueuer: Enqueuer::new(db.clone(), Wakers::default()),
            db,
            settings: Arc::new(settings),
            public_base_url: Arc::from(public_base_url),
            clock,
            vipps,
            simulator,
            sms,
        })
    }

    pub fn job_context(&self) -> JobContext {
        JobContext::new(self.clone())
    }

    /// The URL Vipps posts webhooks to.
    pub fn vipps_webhook_url(&self) -> String {
        format!("{}/webhooks/vipps", self.public_base_url)
    }
}

/// `server.public_base_url`, else `http://` and the listener's address (loopback for a
/// wildcard bind); a process with neither cannot hand out links.
fn public_base_url(settings: &Settings, listener: Option<SocketAddr>) -> anyhow::Result<String> {
    match (&settings.server.public_base_url, listener) {
        (Some(url), _) => Ok(url.trim_end_matches('/').to_owned()),
        (None, Some(addr)) => Ok(format!("http://{}", loopback(addr))),
        (None, None) => anyhow::bail!(
            "server.public_base_url: must be set in a process without an HTTP listener \
             (`dialogpay worker`): the links in SMS and Vipps's merchantAgreementUrl point at \
             the API (e.g. DIALOGPAY__SERVER__PUBLIC_BASE_URL=https://pay.example.org)"
        ),
    }
}

/// The address to reach a listener bound to `addr` from this host (a wildcard bind is reached
/// on loopback).
pub fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// Which parts of the service this process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub http: bool,
    pub workers: bool,
    /// The billing scheduler (`billing.sweep_cron`, `billing.reconcile_cron`); with the workers
    /// in `serve` and `worker`. Off only where a test drives billing by hand.
    pub scheduler: bool,
}

impl Roles {
    /// `dialogpay serve` and `demo`: everything.
    pub const SERVE: Self = Self {
        http: true,
        workers: true,
        scheduler: true,
    };
    /// `dialogpay api`.
    pub const API: Self = Self {
        http: true,
        workers: false,
        scheduler: false,
    };
    /// `dialogpay worker`.
    pub const WORKER: Self = Self {
        http: false,
        workers: true,
        scheduler: true,
    };
}

/// A future that resolves once shutdown was requested; clonable so every part can wait on it.
pub type Shutdown = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// Resolves on SIGTERM or Ctrl-C.
pub fn shutdown_signal() -> Shutdown {
    use futures::FutureExt;
    async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested; letting running jobs finish");
    }
    .boxed()
    .shared()
}

/// A bound, not yet serving HTTP listener, so callers (tests) can learn the port first.
pub async fn bind(
    settings: &Settings,
) -> anyhow::Result<(poem::listener::TcpAcceptor, std::net::SocketAddr)> {
    listen(
        &settings.server.host,
        settings.server.port,
        "server.host / server.port",
    )
    .await
}

/// The metrics listener's socket (`server.metrics_port`), bound; `None` when the key is unset.
pub async fn bind_metrics(
    settings: &Settings,
) -> anyhow::Result<Option<(poem::listener::TcpAcceptor, std::net::SocketAddr)>> {
    match settings.server.metrics_port {
        Some(port) => Ok(Some(
            listen(
                &settings.server.host,
                port,
                "server.host / server.metrics_port",
            )
            .await?,
        )),
        None => Ok(None),
    }
}

async fn listen(
    host: &str,
    port: u16,
    keys: &str,
) -> anyhow::Result<(poem::listener::TcpAcceptor, std::net::SocketAddr)> {
    let addr = format!("{host}:{port}");
    let acceptor = TcpListener::bind(addr.clone())
        .into_acceptor()
        .await
        .with_context(|| format!("binding {addr} ({keys})"))?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("reading the bound address")?;
    Ok((acceptor, local))
}

/// Serves `GET /metrics` and `GET /healthz` on the metrics listener until `shutdown`.
pub async fn serve_metrics(
    state: AppState,
    acceptor: poem::listener::TcpAcceptor,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            crate::http::ops::routes(state),
            shutdown,
            Some(Duration::from_secs(1)),
        )
        .await
        .context("metrics listener")
}

/// Runs the chosen roles until `shutdown` resolves, then stops gracefully.
pub async fn run(
    state: AppState,
    roles: Roles,
    workers: WorkerSet,
    acceptor: Option<poem::listener::TcpAcceptor>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    if roles.workers {
        worker::maintenance::analyze(&state.db)
            .await
            .context("analyzing the job tables")?;
        let parts = RuntimeParts {
            db: state.db.clone(),
            shutdown_timeout: Duration::from_secs(state.settings.server.shutdown_timeout_secs),
            settings: state.settings.jobs.clone(),
            ctx: state.job_context(),
            instance: worker::runtime::instance_name(),
        };
        tracing::info!(instance = %parts.instance, queues = ?workers.queues(), "starting job workers");
        let monitor = workers.into_monitor(&parts);
        let stop = shutdown.clone();
        tasks.spawn(async move {
            monitor
                .run_with_signal(async move {
                    stop.await;
                    Ok(())
                })
                .await
                .context("job workers")
        });
        let (db, maintenance, stop) = (
            state.db.clone(),
            worker::maintenance::MaintenanceSettings::from_state(&state),
            shutdown.clone(),
        );
        tasks.spawn(async move {
            worker::maintenance::run_loop(db, maintenance, stop).await;
            Ok(())
        });
    }
    if roles.scheduler {
        let (scheduler, stop) = (state.clone(), shutdown.clone());
        tasks.spawn(async move { worker::scheduler::run(scheduler, stop).await });
    }
    if state.simulator.is_some() {
        register_simulator_webhooks(&state).await?;
    }
    if roles.http {
        let acceptor = match acceptor {
            Some(a) => a,
            None => bind(&state.settings).await?.0,
        };
        let grace = Duration::from_secs(state.settings.server.shutdown_timeout_secs);
        let app = crate::http::routes(state.clone());
        let stop = shutdown.clone();
        tasks.spawn(async move {
            poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(app, stop, Some(grace))
                .await
                .context("HTTP server")
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a service task panicked")??;
    }
    Ok(())
}

/// Simulator mode: our webhook is registered for every partner's MSN (jobs, so a restart or a
/// second process changes nothing).
async fn register_simulator_webhooks(state: &AppState) -> anyhow::Result<()> {
    let mut msns: Vec<String> = crate::db::partners::list(&state.db)
        .await?
        .into_iter()
        .map(|p| p.vipps_msn)
        .collect();
    msns.sort();
    msns.dedup();
    for msn in msns {
        state
            .enqueuer
            .enqueue(&dialogpay_jobs::vipps::RegisterWebhook { msn })
            .await?;
    }
    Ok(())
}
