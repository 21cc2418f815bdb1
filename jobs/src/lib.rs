//! Job contracts: what is persisted in the queue and how it is retried.
//!
//! This crate does no I/O. Each job is a payload of ids with a stable queue name (never the Rust
//! type path, so a rename cannot orphan rows), a bounded number of attempts, and an idempotency
//! key built from ids only, so that enqueueing the same work twice keeps one job. Handlers live
//! in the service (`src/worker/handlers/`), which depends on this crate, never the reverse.

pub mod agreements;
pub mod billing;
pub mod maintenance;
pub mod refunds;
pub mod sms;
pub mod spec;
pub mod testing;
pub mod vipps;
pub mod webhooks;

pub use spec::JobSpec;
