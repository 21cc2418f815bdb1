//! The handler of `dialogpay_jobs::testing::Flaky`: registered only by the test suite (and by
//! the binary when `DIALOGPAY_TEST_JOBS=1`, for crash tests of the real process).

use std::time::Duration;

use dialogpay_jobs::testing::Flaky;

use crate::worker::{JobContext, JobError};

/// Sleeps `sleep_ms`, snoozes its first attempt when `snooze_first_ms` says so, then fails
/// while `attempt <= fail_times`, then succeeds.
pub async fn flaky(job: Flaky, ctx: JobContext) -> Result<(), JobError> {
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
    }
    if job.snooze_first_ms > 0 && ctx.attempt == 1 {
        return Err(JobError::Snooze(Duration::from_millis(job.snooze_first_ms)));
    }
    if ctx.attempt <= job.fail_times {
        let error = anyhow::anyhow!("flaky job {} failing on attempt {}", job.name, ctx.attempt);
        return Err(if job.permanent {
            JobError::permanent(error)
        } else {
            JobError::retry(error)
        });
    }
    Ok(())
}
