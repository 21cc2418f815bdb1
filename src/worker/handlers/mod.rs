//! Job handlers, one file per `jobs/` contract file.

pub mod maintenance;
pub mod testing;
