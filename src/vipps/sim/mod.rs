//! The Vipps simulator: a poem app that behaves like Vipps Recurring v3 (plus the
//! access-token and Webhooks APIs) for everything dialogpay uses, with a clock that ticks in
//! real time plus an offset (or, frozen, moves only when told), a control API under `/_sim/`,
//! a landing page, signed webhook delivery, fault injection, optional rate limiting and
//! optional persistence.
//!
//! - [`model`] — the state; [`engine`] — the rules and state machines;
//! - [`http`] — reply/auth/idempotency plumbing; [`gate`] — request log, faults, rate limits;
//! - [`accepted`] — refunds and cancels answered 202 and applied later;
//! - [`api`] — the Vipps paths; [`control`] — `/_sim/`; [`landing`] — the HTML page;
//! - [`delivery`] — webhook sending; [`persist`] — `--state FILE`; [`ticker`] — the ticking
//!   clock.
//!
//! Mounting under a prefix works (`Route::nest("/vipps-sim", sim_routes(sim))`) as long
//! as `public_base_url` includes the prefix: links and form actions are built from it.

pub mod accepted;
pub mod api;
pub mod control;
pub mod delivery;
pub mod engine;
pub mod gate;
pub mod http;
pub mod landing;
pub mod model;
pub mod persist;
pub mod ticker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Route, Server, delete, get, patch, post};
use tokio::sync::Notify;

pub use control::AgreementDump;
pub use delivery::DeliveryAttempt;
pub use engine::ApiError;
use engine::Rules;
pub use gate::{Faults, RecordedRequest};
use model::State;

use super::settings::{SimClockMode, SimulatorSettings};
use super::wire::AgreementStatus;

/// Credentials the simulator accepts on `/accesstoken/get` (any non-empty ones when unset).
#[derive(Debug, Clone)]
pub struct SimCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub subscription_key: String,
}

/// Simulator configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Public URL including any mount prefix; `vippsConfirmationUrl` and forms use it.
    pub public_base_url: String,
    /// Minimum days from today to a charge's `due`.
    pub lead_days: u32,
    /// How long a draft stays PENDING (Vipps: 10 minutes).
    pub draft_ttl: chrono::Duration,
    pub state_file: Option<PathBuf>,
    /// Enforce the documented rate limits (also switchable with `/_sim/faults`).
    pub rate_limit: bool,
    pub webhook_retry_base: Duration,
    pub webhook_max_attempts: u32,
    /// Access-token lifetime in simulator seconds (test environment: 1 hour).
    pub token_lifetime_secs: u64,
    pub credentials: Option<SimCredentials>,
    /// Honour `Idempotency-Key` on draft-agreement (Vipps reportedly does not).
    pub draft_idempotency: bool,
    /// Clock start; the real current time when unset.
    pub start: Option<DateTime<Utc>>,
    /// Ticking (real time plus an offset, rules applied every second) or frozen.
    pub clock: SimClockMode,
    /// With a state file: zero writes the snapshot after every change (each write costs the
    /// whole state, so thousands of agreements make that quadratic); otherwise changes are
    /// written at most this often by a background task, and [`Simulator::flush`] writes now.
    pub save_interval: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::from(&SimulatorSettings::default())
    }
}

impl From<&SimulatorSettings> for SimConfig {
    fn from(s: &SimulatorSettings) -> Self {
        Self {
            public_base_url: s.public_base_url.clone(),
            lead_days: s.lead_days,
            draft_ttl: chrono::Duration::minutes(10),
            state_file: s.state_file.as_ref().map(PathBuf::from),
            rate_limit: s.rate_limit,
            webhook_retry_base: Duration::from_millis(s.webhook_retry_base_ms),
            webhook_max_attempts: s.webhook_max_attempts,
            token_lifetime_secs: 3600,
            credentials: None,
            draft_idempotency: s.draft_idempotency,
            start: None,
            clock: s.clock,
            save_interval: Duration::ZERO,
        }
    }
}

/// State that is not persisted.
#[derive(Default)]
pub struct Volatile {
    pub requests: Vec<RecordedRequest>,
    pub faults: Faults,
    /// Rate-limit windows: key → (window start, count).
    pub rate: HashMap<String, (Instant, u32)>,
    pub deliveries: Vec<DeliveryAttempt>,
}

/// The simulator. Cheap to clone; all clones share the state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    state: Mutex<State>,
    volatile: Mutex<Volatile>,
    config: SimConfig,
    public_base_url: RwLock<String>,
    http: reqwest::Client,
    wake: Arc<Notify>,
    /// Delayed saving (`save_interval` > 0 inside a runtime): changes not yet written, and the
    /// saver to wake.
    save_later: Option<Arc<Notify>>,
    dirty: AtomicBool,
    /// One snapshot write at a time (the saver and `flush` share the temp file).
    saving: Mutex<()>,
}

impl Simulator {
    /// A simulator with fresh state, or the state in `config.state_file` if it exists.
    /// Inside a tokio runtime this also starts webhook delivery.
    /// A ticking clock goes on from real time plus the saved offset (never backwards), and
    /// applies what fell due while the simulator was not running.
    pub fn new(config: SimConfig) -> anyhow::Result<Self> {
        let loaded = match &config.state_file {
            Some(p) => persist::load(p)?,
            None => None,
        };
        let fresh = loaded.is_none();
        let mut state = loaded.unwrap_or_else(|| State::new(config.start.unwrap_or_else(Utc::now)));
        let ticking = config.clock == SimClockMode::Ticking;
        if ticking {
            ticker::start(&mut state, fresh);
        }
        let wake = Arc::new(Notify::new());
        let in_runtime = tokio::runtime::Handle::try_current().is_ok();
        let save_later =
            (in_runtime && config.state_file.is_some() && !config.save_interval.is_zero())
                .then(|| Arc::new(Notify::new()));
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            volatile: Mutex::new(Volatile::default()),
            public_base_url: RwLock::new(config.public_base_url.clone()),
            config,
            http: reqwest::Client::builder().build()?,
            wake: wake.clone(),
            save_later: save_later.clone(),
            dirty: AtomicBool::new(false),
            saving: Mutex::new(()),
        });
        if in_runtime {
            delivery::spawn(Arc::downgrade(&inner), wake);
        }
        if let Some(notify) = save_later {
            persist::spawn_saver(Arc::downgrade(&inner), notify);
        }
        if ticking && in_runtime {
            ticker::spawn(Arc::downgrade(&inner));
        }
        let sim = Self { inner };
        if ticking {
            sim.tick();
        }
        Ok(sim)
    }

    fn ticking(&self) -> bool {
        self.inner.config.clock == SimClockMode::Ticking
    }

    /// Writes the state file now if changes are pending (delayed saving); a no-op otherwise.
    pub fn flush(&self) {
        self.inner.save_if_dirty();
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The poem endpoint serving the Vipps paths, `/_sim/` and `/landing/`.
    pub fn endpoint(&self) -> BoxEndpoint<'static> {
        sim_routes(self.clone())
    }

    pub fn public_base_url(&self) -> String {
        self.inner
            .public_base_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the public URL (e.g. after binding port 0).
    pub fn set_public_base_url(&self, url: &str) {
        *self
            .inner
            .public_base_url
            .write()
            .unwrap_or_else(|e| e.into_inner()) = url.trim_end_matches('/').to_owned();
    }

    fn rules(&self) -> Rules {
        Rules {
            lead_days: self.inner.config.lead_days,
            draft_ttl: self.inner.config.draft_ttl,
            public_base_url: self.public_base_url(),
        }
    }

    /// Reads the state.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.inner.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Changes the state, then persists it and wakes webhook delivery.
    pub(crate) fn mutate<T>(&self, f: impl FnOnce(&mut State, &Rules) -> T) -> T {
        let rules = self.rules();
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut state, &rules);
        match (&self.inner.config.state_file, &self.inner.save_later) {
            (Some(_), Some(saver)) => {
                self.inner.dirty.store(true, Ordering::Release);
                saver.notify_one();
            }
            (Some(path), None) => {
                if let Err(e) = persist::save(path, &state) {
                    tracing::error!(error = %e, "vipps-sim: could not save state");
                }
            }
            (None, _) => {}
        }
        drop(state);
        self.inner.wake.notify_one();
        out
    }

    pub(crate) fn volatile<T>(&self, f: impl FnOnce(&mut Volatile) -> T) -> T {
        f(&mut self
            .inner
            .volatile
            .lock()
            .unwrap_or_else(|e| e.into_inner()))
    }

    /// A refund or cancel on `path` is answered 202 and applied later: the reads it waits for.
    pub(crate) fn take_accept_later(&self, path: &str) -> Option<u32> {
        self.volatile(|v| v.faults.take_accept_later(path))
    }

    /// A read of an agreement's charges (or of one, `charge_id`; the agreement looked up when
    /// `agreement_id` is `None`): it counts for the accepted changes waiting on them. The state
    /// is changed (and written) only when one is waiting.
    pub(crate) fn count_read(
        &self,
        msn: &str,
        agreement_id: Option<&str>,
        charge_id: Option<&str>,
    ) {
        let target = self.read(|s| {
            let aid = match agreement_id {
                Some(a) => a.to_owned(),
                None => s
                    .charge_index
                    .get(&State::charge_key(msn, charge_id.unwrap_or_default()))?
                    .clone(),
            };
            accepted::waiting(s, &aid, charge_id).then_some(aid)
        });
        if let Some(aid) = target {
            self.mutate(|s, _| accepted::on_read(s, msn, &aid, charge_id));
        }
    }

    pub(crate) fn token_valid(&self, token: &str) -> bool {
        self.read(|s| s.tokens.get(token).is_some_and(|exp| *exp > s.now))
    }

    // ---- clock ----------------------------------------------------------------------------

    /// The simulator clock (ticking: real time plus the offset).
    pub fn now(&self) -> DateTime<Utc> {
        let ticking = self.ticking();
        self.read(|s| if ticking { ticker::now(s) } else { s.now })
    }

    /// How the clock moves.
    pub fn clock_mode(&self) -> SimClockMode {
        self.inner.config.clock
    }

    /// Ticking clock: simulator time minus real time (zero for a frozen clock).
    pub fn clock_offset(&self) -> chrono::Duration {
        let ticking = self.ticking();
        self.read(|s| chrono::Duration::milliseconds(if ticking { s.offset_ms } else { 0 }))
    }

    /// Moves the clock `days` forward, processing expiries and charges on the way.
    pub fn advance(&self, days: i64) {
        self.advance_by(chrono::Duration::days(days));
    }

    /// Moves the clock forward by `d` (ticking: adds `d` to the offset, and it ticks on from
    /// there).
    pub fn advance_by(&self, d: chrono::Duration) {
        let ticking = self.ticking();
        self.mutate(|s, rules| {
            let target = if ticking { ticker::now(s) } else { s.now } + d;
            self.move_clock(s, rules, target);
        });
    }

    /// Sets the clock (forward: processes on the way; backward: just sets it). Ticking: the
    /// clock ticks on from `t`.
    pub fn set_now(&self, t: DateTime<Utc>) {
        self.mutate(|s, rules| self.move_clock(s, rules, t));
    }

    fn move_clock(&self, s: &mut State, rules: &Rules, target: DateTime<Utc>) {
        if self.ticking() {
            ticker::set_offset(s, target);
        }
        engine::advance_to(s, rules, target);
    }

    /// Ticking clock: applies what has fallen due by now. When nothing has, only the clock
    /// moves, and that is not persisted (a restart recomputes it from the offset).
    fn tick(&self) {
        let rules = self.rules();
        {
            let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            if !ticker::due(&state, &rules) {
                state.now = ticker::now(&state);
                return;
            }
        }
        self.mutate(ticker::catch_up);
    }

    // ---- acting as the user ---------------------------------------------------------------

    /// The user confirms and pays; returns ACTIVE, or EXPIRED when the initial payment failed.
    pub fn approve(
        &self,
        agreement_id: &str,
        phone: Option<&str>,
    ) -> Result<AgreementStatus, ApiError> {
        self.mutate(|s, _| engine::approve(s, None, agreement_id, phone.map(str::to_owned)))
    }

    /// The user rejects a pending agreement.
    pub fn reject(&self, agreement_id: &str) -> Result<(), ApiError> {
        self.mutate(|s, _| engine::reject(s, None, agreement_id))
    }

    /// The user stops an active agreement in the app.
    pub fn user_stop(&self, agreement_id: &str) -> Result<(), ApiError> {
        self.mutate(|s, _| engine::stop(s, None, agreement_id, true))
    }

    /// Makes the user's future payment attempts fail (`false`) or succeed (`true`).
    pub fn set_funding(&self, phone: &str, ok: bool) {
        self.mutate(|s, _| {
            s.funding.insert(phone.to_owned(), ok);
        });
    }

    // ---- inspection and control -----------------------------------------------------------

    /// Every agreement with its charges.
    pub fn agreements(&self) -> Vec<AgreementDump> {
        self.read(|s| {
            s.agreements
                .values()
                .map(|a| AgreementDump {
                    agreement_id: a.id.clone(),
                    msn: a.msn.clone(),
                    status: a.status.clone(),
                    phone_number: a.phone_number.clone(),
                    product_name: a.draft.product_name.clone(),
                    amount: a.amount,
                    created: a.created,
                    start: a.start,
                    stop: a.stop,
                    charges: a
                        .charges
                        .iter()
                        .map(|c| c.to_wire(a.draft.external_id.as_deref()))
                        .collect(),
                })
                .collect()
        })
    }

    /// Every request received on the Vipps paths.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.volatile(|v| v.requests.clone())
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.volatile(|v| v.requests.clear());
    }

    /// Every webhook delivery attempt.
    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.volatile(|v| v.deliveries.clone())
    }

    /// Number of deliveries still queued.
    pub fn pending_deliveries(&self) -> usize {
        self.read(|s| s.outbox.len())
    }

    /// Adds faults (fields merge); returns the resulting set.
    pub fn add_faults(&self, f: Faults) -> Faults {
        self.volatile(|v| {
            v.faults.merge(f);
            v.faults.clone()
        })
    }

    pub fn clear_faults(&self) {
        self.volatile(|v| {
            v.faults = Faults::default();
            v.rate.clear();
        });
    }

    /// Forgets everything (the clock restarts at the configured start or the real current
    /// time).
    pub fn reset(&self) {
        let start = self.inner.config.start.unwrap_or_else(Utc::now);
        let ticking = self.ticking();
        self.mutate(|s, _| {
            *s = State::new(start);
            if ticking {
                ticker::set_offset(s, start);
            }
        });
        self.volatile(|v| *v = Volatile::default());
    }

    // ---- serving --------------------------------------------------------------------------

    /// Binds `addr` (port 0 allowed), points `public_base_url` at it if it was left at the
    /// default, and serves in a background task. Returns the bound address.
    pub async fn spawn(&self, addr: &str) -> anyhow::Result<SocketAddr> {
        let acceptor = TcpListener::bind(addr.to_owned()).into_acceptor().await?;
        let local = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("no local address"))?;
        if self.public_base_url() == SimulatorSettings::default().public_base_url {
            self.set_public_base_url(&format!("http://{local}"));
        }
        let app = self.endpoint();
        tokio::spawn(async move {
            if let Err(e) = Server::new_with_acceptor(acceptor).run(app).await {
                tracing::error!(error = %e, "vipps-sim server stopped");
            }
        });
        Ok(local)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.save_if_dirty();
    }
}

impl Inner {
    /// Delayed saving: writes a snapshot when changes are pending.
    fn save_if_dirty(&self) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let _one_writer = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        // Copy under the lock, write outside it: requests are not held up by the disk.
        let snapshot = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Err(e) = persist::save(path, &snapshot) {
            self.dirty.store(true, Ordering::Release);
            tracing::error!(error = %e, "vipps-sim: could not save state");
        }
    }
}

/// The simulator's routes as one endpoint (mount it with `Route::nest`).
pub fn sim_routes(sim: Simulator) -> BoxEndpoint<'static> {
    let gated = |sim: &Simulator| {
        let vipps = Route::new()
            .at("/accesstoken/get", post(api::access_token))
            .at(
                "/recurring/v3/agreements",
                get(api::list_agreements).post(api::draft_agreement),
            )
            .at(
                "/recurring/v3/agreements/charges",
                post(api::create_charges_batch),
            )
            .at(
                "/recurring/v3/agreements/:id",
                get(api::fetch_agreement).patch(api::update_agreement),
            )
            .at(
                "/recurring/v3/agreements/:id/accept",
                patch(api::force_accept),
            )
            .at(
                "/recurring/v3/agreements/:id/charges",
                get(api::list_charges).post(api::create_charge),
            )
            .at(
                "/recurring/v3/agreements/:id/charges/:cid",
                get(api::fetch_charge).delete(api::cancel_charge),
            )
            .at(
                "/recurring/v3/agreements/:id/charges/:cid/capture",
                post(api::capture_charge),
            )
            .at(
                "/recurring/v3/agreements/:id/charges/:cid/refund",
                post(api::refund_charge),
            )
            .at("/recurring/v3/charges/:cid", get(api::fetch_charge_by_id))
            .at(
                "/webhooks/v1/webhooks",
                get(api::list_webhooks).post(api::register_webhook),
            )
            .at("/webhooks/v1/webhooks/:id", delete(api::delete_webhook));
        let sim = sim.clone();
        vipps.around(move |ep, req| gate::gate(sim.clone(), ep, req))
    };
    Route::new()
        .nest_no_strip("/accesstoken", gated(&sim))
        .nest_no_strip("/recurring", gated(&sim))
        .nest_no_strip("/webhooks", gated(&sim))
        .at("/_sim/agreements", get(control::agreements))
        .at("/_sim/agreements/:id/approve", post(control::approve))
        .at("/_sim/agreements/:id/reject", post(control::reject))
        .at("/_sim/agreements/:id/stop", post(control::user_stop))
        .at("/_sim/users/:phone/funding", post(control::funding))
        .at(
            "/_sim/clock",
            get(control::get_clock).post(control::set_clock),
        )
        .at(
            "/_sim/faults",
            get(control::get_faults)
                .post(control::set_faults)
                .delete(control::clear_faults),
        )
        .at(
            "/_sim/requests",
            get(control::requests).delete(control::clear_requests),
        )
        .at("/_sim/webhooks/deliveries", get(control::deliveries))
        .at("/_sim/reset", post(control::reset))
        .at("/landing/:id", get(landing::show))
        .at("/landing/:id/app", get(landing::confirmation))
        .at("/landing/:id/pin", get(landing::pin))
        .at("/app/:phone/recurring", get(landing::recurring))
        .at("/app/:phone/recurring/:id", get(landing::payments))
        .at("/landing/:id/confirm", post(landing::confirm))
        .at("/landing/:id/reject", post(landing::reject))
        .data(sim)
        .boxed()
}

/// The business clock follows the simulator's in simulator mode.
impl crate::clock::TimeSource for Simulator {
    fn now(&self) -> DateTime<Utc> {
        Simulator::now(self)
    }
}
