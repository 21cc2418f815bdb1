//! Wiring, in the shape of zero-to-production's startup: [`Application::build`] connects the
//! database, binds the listeners the roles need and builds the shared state around the bound
//! address; [`Application::address`] tells tests where it listens;
//! [`Application::run_until_stopped`] runs the HTTP server, the workers, the scheduler and the
//! maintenance loop until shutdown. `main`, `demo`, the benchmarks and the tests all start the
//! service this way. This is the one module that names the embedded Vipps simulator.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use secrecy::{ExposeSecret, SecretString};

pub use crate::state::{AppState, Shutdown};
use crate::{
    clock::Clock,
    config::Settings,
    db::{Db, enqueue::Enqueuer, group_commit::GroupCommit},
    sms::SmsGateway,
    vipps::{
        VippsClient, VippsMode,
        sim::{SimConfig, Simulator},
    },
    worker::{self, JobContext, RuntimeParts, Wakers, WorkerSet},
};

/// Where the embedded simulator is mounted.
pub const SIMULATOR_PREFIX: &str = "/vipps-sim";

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

/// A built, bound, not yet running service.
pub struct Application {
    state: AppState,
    /// The embedded Vipps simulator (`vipps.mode = "simulator"`), mounted at `/vipps-sim`.
    simulator: Option<Simulator>,
    roles: Roles,
    workers: WorkerSet,
    http: Option<(TcpAcceptor, SocketAddr)>,
    metrics: Option<(TcpAcceptor, SocketAddr)>,
}

impl Application {
    /// Connects to the database (migrating when configured, else checking the schema), then
    /// [`Application::build_on`].
    pub async fn build(settings: Settings, roles: Roles) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database).await?;
        db.prepare(&settings.database).await?;
        Self::build_on(db, settings, roles).await
    }

    /// Binds the HTTP listener (when the roles serve HTTP) and the metrics listener (when
    /// `server.metrics_port` is set), then builds the state around the bound address: links
    /// follow it when `server.public_base_url` is unset, and the embedded simulator is reached
    /// there (never through the public URL, which may be a proxy or another host). The workers
    /// are [`worker::register_workers`] unless replaced with [`Application::with_workers`].
    pub async fn build_on(db: Db, settings: Settings, roles: Roles) -> anyhow::Result<Self> {
        let http = if roles.http {
            Some(bind(&settings).await?)
        } else {
            None
        };
        let metrics = bind_metrics(&settings).await?;
        let (state, simulator) = build_state(db, settings, http.as_ref().map(|h| h.1)).await?;
        Ok(Self {
            state,
            simulator,
            roles,
            workers: worker::register_workers(),
            http,
            metrics,
        })
    }

    /// Runs this set of queues instead of the registered one (tests add test-only queues,
    /// benchmarks run one queue).
    pub fn with_workers(mut self, workers: WorkerSet) -> Self {
        self.workers = workers;
        self
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn simulator(&self) -> Option<&Simulator> {
        self.simulator.as_ref()
    }

    /// The bound HTTP address (port 0 in the settings is resolved here).
    pub fn address(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|h| h.1)
    }

    /// The bound metrics address (`server.metrics_port`).
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.1)
    }

    /// Runs the chosen roles until `shutdown` resolves, then stops gracefully.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let Self {
            state,
            simulator,
            roles,
            workers,
            http,
            metrics,
        } = self;
        let mut tasks = tokio::task::JoinSet::new();
        if roles.workers {
            spawn_workers(&mut tasks, &state, workers, &shutdown).await?;
        }
        if roles.scheduler {
            let (enqueuer, billing, stop) = (
                state.enqueuer.clone(),
                state.settings.billing.clone(),
                shutdown.clone(),
            );
            tasks.spawn(async move { worker::scheduler::run(enqueuer, billing, stop).await });
        }
        if simulator.is_some() {
            register_simulator_webhooks(&state).await?;
        }
        if let Some((acceptor, _)) = http {
            let grace = Duration::from_secs(state.settings.server.shutdown_timeout_secs);
            let mounted = simulator.map(|sim| crate::http::Mounted {
                prefix: SIMULATOR_PREFIX,
                endpoint: sim.endpoint(),
            });
            let portal = crate::http::Mounted {
                prefix: crate::portal::PREFIX,
                endpoint: crate::portal::routes(),
            };
            let console = crate::http::Mounted {
                prefix: crate::console::PREFIX,
                endpoint: crate::console::routes(),
            };
            let app = crate::http::routes(state.clone(), vec![portal, console], mounted);
            let stop = shutdown.clone();
            tasks.spawn(async move {
                poem::Server::new_with_acceptor(acceptor)
                    .run_with_graceful_shutdown(app, stop, Some(grace))
                    .await
                    .context("HTTP server")
            });
        }
        if let Some((acceptor, _)) = metrics {
            let (state, stop) = (state.clone(), shutdown.clone());
            tasks.spawn(async move { serve_metrics(state, acceptor, stop).await });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.context("a service task panicked")??;
        }
        Ok(())
    }
}

/// The shared state, and the embedded simulator in simulator mode.
async fn build_state(
    db: Db,
    mut settings: Settings,
    listener: Option<SocketAddr>,
) -> anyhow::Result<(AppState, Option<Simulator>)> {
    let public_base_url = public_base_url(&settings, listener)?;
    if settings.server.metrics_enabled {
        crate::monitoring::install();
    }
    let (simulator, vipps) = if settings.vipps.mode == VippsMode::Simulator {
        let addr = listener.context(
            "vipps.mode = \"simulator\" runs the Vipps simulator inside this process's HTTP \
             server, and this process has none",
        )?;
        settings.vipps.simulator.public_base_url = format!("{public_base_url}{SIMULATOR_PREFIX}");
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
    let clock = match &simulator {
        Some(sim) => Clock::following(Arc::new(sim.clone())),
        None => Clock::system(),
    };
    let sms =
        SmsGateway::from_settings(&settings.sms).context("building the SMS gateway (sms.*)")?;
    let state = AppState {
        enqueuer: Enqueuer::new(db.clone(), Wakers::default()),
        group_commit: GroupCommit::start(
            &db,
            Duration::from_millis(settings.database.busy_timeout_ms),
        ),
        db,
        settings: Arc::new(settings),
        public_base_url: Arc::from(public_base_url),
        clock,
        wall_clock: Clock::system(),
        vipps,
        sms,
    };
    Ok((state, simulator))
}

/// A state for tools that run no server: no listener, so no embedded simulator
/// (`vipps.mode = "live"`) and links only with `server.public_base_url` set.
pub async fn state_without_server(settings: Settings) -> anyhow::Result<AppState> {
    let db = Db::connect(&settings.database).await?;
    db.prepare(&settings.database).await?;
    Ok(build_state(db, settings, None).await?.0)
}

async fn spawn_workers(
    tasks: &mut tokio::task::JoinSet<anyhow::Result<()>>,
    state: &AppState,
    workers: WorkerSet,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    worker::maintenance::analyze(&state.db)
        .await
        .context("analyzing the job tables")?;
    let parts = RuntimeParts {
        db: state.db.clone(),
        shutdown_timeout: Duration::from_secs(state.settings.server.shutdown_timeout_secs),
        settings: state.settings.jobs.clone(),
        ctx: JobContext::from_state(state),
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
        worker::maintenance::MaintenanceSettings::from_state(state),
        shutdown.clone(),
    );
    tasks.spawn(async move {
        worker::maintenance::run_loop(db, maintenance, stop).await;
        Ok(())
    });
    Ok(())
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

/// A shutdown that resolves when the returned sender is used or dropped (tests, benchmarks).
pub fn manual_shutdown() -> (tokio::sync::oneshot::Sender<()>, Shutdown) {
    use futures::FutureExt;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    }
    .boxed()
    .shared();
    (tx, shutdown)
}

async fn bind(settings: &Settings) -> anyhow::Result<(TcpAcceptor, SocketAddr)> {
    listen(
        &settings.server.host,
        settings.server.port,
        "server.host / server.port",
    )
    .await
}

/// The metrics listener's socket (`server.metrics_port`), bound; `None` when the key is unset.
async fn bind_metrics(settings: &Settings) -> anyhow::Result<Option<(TcpAcceptor, SocketAddr)>> {
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

async fn listen(host: &str, port: u16, keys: &str) -> anyhow::Result<(TcpAcceptor, SocketAddr)> {
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
async fn serve_metrics(
    state: AppState,
    acceptor: TcpAcceptor,
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
