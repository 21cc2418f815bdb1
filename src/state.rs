//! The state every front end and job shares: the database, settings, clock and the clients of
//! the external systems. A leaf: it names only the lower layers (`db`, `vipps`, `sms`, `clock`,
//! `config`); `app` builds it, `service`, `worker` and `http` read it.

use std::sync::Arc;

use crate::{
    clock::Clock,
    config::Settings,
    db::{Db, enqueue::Enqueuer, group_commit::GroupCommit},
    sms::SmsGateway,
    vipps::VippsClient,
};

/// Everything request handlers and jobs need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// `server.public_base_url`, or the listener's address when it is unset; no trailing `/`.
    pub public_base_url: Arc<str>,
    pub clock: Clock,
    /// Real time, for security rules (portal sessions, one-time links, login limits): never
    /// follows the Vipps simulator, whose clock a demo moves by a month at a time. Tests move
    /// it to expire a session.
    pub wall_clock: Clock,
    pub enqueuer: Enqueuer,
    /// Webhook writes share transactions through it (`db::group_commit`).
    pub group_commit: GroupCommit,
    pub vipps: VippsClient,
    pub sms: SmsGateway,
}

impl AppState {
    /// The URL Vipps posts webhooks to.
    pub fn vipps_webhook_url(&self) -> String {
        format!("{}/webhooks/vipps", self.public_base_url)
    }

    /// Whether payments go to the built-in Vipps simulator (`vipps.mode = "simulator"`).
    pub fn simulated_vipps(&self) -> bool {
        self.settings.vipps.mode == crate::vipps::VippsMode::Simulator
    }
}

/// A future that resolves once shutdown was requested; clonable so every part can wait on it.
pub type Shutdown = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;
