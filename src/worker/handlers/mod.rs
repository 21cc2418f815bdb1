//! Job handlers, one file per `jobs/` contract file.

pub mod agreements;
pub mod billing;
pub mod maintenance;
pub mod refunds;
pub mod sms;
pub mod testing;
pub mod vipps;
pub mod webhooks;

use dialogpay_jobs::{JobSpec, sms::SendSms};

use crate::worker::JobContext;

/// Wakes the queues a change of an agreement's or a charge's status may have written to (the
/// partner's webhooks, the user's receipt or notice), after the commit.
pub fn wake_followers(ctx: &JobContext) {
    webhooks::wake(ctx);
    ctx.enqueuer.wake(SendSms::QUEUE);
}
