//! Operator endpoints under `/api/v1/admin`, guarded by `operator.api_key`. Every change is
//! written to the audit log.

pub mod audit;
pub mod billing;
pub mod jobs;
pub mod partners;
pub mod users;
