//! Wiring: builds the shared state from settings and runs the HTTP server, the workers and the
//! maintenance loop, each optional, until a shutdown signal.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpListener};

use crate::{
    clock::Clock,
    config::Settings,
    db::Db,
    worker::{self, Enqueuer, JobContext, RuntimeParts, Wakers, WorkerSet},
};

/// Everything request handlers need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub enqueuer: Enqueuer,
    pub wakers: Wakers,
}

impl AppState {
    /// Connects to the database (migrating when configured) and builds the state.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            db.migrate().await?;
        }
        let wakers = Wakers::default();
        Ok(Self {
            enqueuer: Enqueuer::new(db.clone(), wakers.clone()),
            db,
            settings: Arc::new(settings),
            clock: Clock::system(),
            wakers,
        })
    }

    pub fn job_context(&self) -> JobContext {
        JobContext::new(self.db.clone(), self.wakers.clone(), self.settings.clone())
    }
}

/// Which parts of the service this process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub http: bool,
    pub workers: bool,
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
    let addr = format!("{}:{}", settings.server.host, settings.server.port);
    let acceptor = TcpListener::bind(addr.clone())
        .into_acceptor()
        .await
        .with_context(|| format!("binding {addr} (server.host / server.port)"))?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("reading the bound address")?;
    Ok((acceptor, local))
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
        let (db, jobs, stop) = (
            state.db.clone(),
            state.settings.jobs.clone(),
            shutdown.clone(),
        );
        tasks.spawn(async move {
            worker::maintenance::run_loop(db, jobs, stop).await;
            Ok(())
        });
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
