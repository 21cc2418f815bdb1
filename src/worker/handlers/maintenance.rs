//! Handlers of `dialogpay_jobs::maintenance`.

use dialogpay_jobs::maintenance::Noop;

use crate::worker::{JobContext, JobError};

/// The reference job of the queue benchmark: it does nothing.
pub async fn noop(_job: Noop, _ctx: JobContext) -> Result<(), JobError> {
    Ok(())
}
