//! Vipps MobilePay Recurring API v3: a typed client, the webhook signature, and a simulator.
//!
//! Layout, one job per module:
//! - [`settings`] — the `[vipps]` configuration section;
//! - [`wire`] — request/response bodies exactly as Vipps sends them (shared by client and simulator);
//! - [`mapping`] — ours to Vipps's and back: the draft and charge request bodies, interval
//!   units, statuses and actors (`From`/`TryFrom`);
//! - [`validate`] — the documented limits, checked before sending and by the simulator;
//! - [`idempotency`] — the `Idempotency-Key` newtype every mutating call requires;
//! - [`operation`] — the catalogue of API operations and their documented rate limits;
//! - [`error`] — [`VippsError`] with retry classification;
//! - [`token`] — the single-flight access-token cache;
//! - [`throttle`] — client-side GCRA throttle per (merchant, operation, scope);
//! - [`client`] — [`VippsClient`];
//! - [`signature`] — webhook HMAC signing and verification;
//! - [`sim`] — the simulator (a poem app);
//! - [`cli`] — clap arguments and entry points for `vipps-sim` and `vipps webhooks`.

pub mod cli;
pub mod client;
pub mod error;
pub mod idempotency;
pub mod mapping;
pub mod operation;
pub mod settings;
pub mod signature;
pub mod sim;
pub mod throttle;
pub mod token;
pub mod validate;
pub mod wire;

pub use client::VippsClient;
pub use error::VippsError;
pub use idempotency::IdempotencyKey;
pub use operation::Operation;
pub use settings::{VippsMode, VippsSettings};
pub use signature::{SignatureError, SignedHeaders, WebhookHeaders, sign_webhook, verify_webhook};
