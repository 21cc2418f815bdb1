//! Job handlers, one file per `jobs/` contract file.

pub mod agreements;
pub mod billing;
pub mod maintenance;
pub mod refunds;
pub mod sms;
pub mod testing;
pub mod vipps;
pub mod webhooks;
