//! How a job attempt ended, and the durable backoff between attempts.

use std::time::Duration;

/// A failed attempt, classified: transient failures run again later, permanent ones stop.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Try again after the backoff (or at least `after`, e.g. a 429's `Retry-After`).
    #[error("{error:#}")]
    Retry {
        error: anyhow::Error,
        after: Option<Duration>,
    },
    /// Retrying cannot help (validation error, resource gone): stop now.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
    /// Not a failure: run again after this long without using up an attempt (a rate limit
    /// that would otherwise keep a worker slot waiting; Oban's "snooze").
    #[error("snoozed for {0:?}")]
    Snooze(Duration),
}

impl JobError {
    pub fn retry(error: impl Into<anyhow::Error>) -> Self {
        JobError::Retry {
            error: error.into(),
            after: None,
        }
    }

    pub fn retry_after(error: impl Into<anyhow::Error>, after: Duration) -> Self {
        JobError::Retry {
            error: error.into(),
            after: Some(after),
        }
    }

    pub fn permanent(error: impl Into<anyhow::Error>) -> Self {
        JobError::Permanent(error.into())
    }
}

/// Database errors are transient from a job's point of view: the attempt runs again. Except a
/// row that cannot be read (a status outside its set, a timestamp out of range): reading it
/// again gives the same answer, so the job stops at once and says which value it met.
impl From<sqlx::Error> for JobError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            // One message (not a context chain): the job's stored result shows only the
            // outermost text, and it must name the value.
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                JobError::permanent(anyhow::anyhow!(
                    "a stored row cannot be read (fix the row, then retry the job): {err}"
                ))
            }
            err => JobError::retry(err),
        }
    }
}

/// Exponential backoff with ±20% jitter: `base * 2^(attempt-1)`, capped at `max`.
/// `attempt` is the attempt that just failed (1 for the first run).
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exp.min(20)).min(max);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    raw.mul_f64(jitter).min(max).max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_row_stops_the_job_and_names_the_value() {
        let decode = sqlx::Error::ColumnDecode {
            index: "\"status\"".into(),
            source: Box::new(
                "HALTED"
                    .parse::<crate::domain::status::AgreementStatus>()
                    .unwrap_err(),
            ),
        };
        let err = JobError::from(decode);
        assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("cannot be read"), "{text}");
        assert!(text.contains("\"HALTED\""), "{text}");
        let broken_time = sqlx::Error::from(crate::db::BadTimestamp(i64::MAX));
        assert!(matches!(
            JobError::from(broken_time),
            JobError::Permanent(_)
        ));
        // Everything else is worth another attempt.
        assert!(matches!(
            JobError::from(sqlx::Error::PoolTimedOut),
            JobError::Retry { .. }
        ));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let first = backoff(1, base, max);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        let fourth = backoff(4, base, max);
        assert!(fourth >= Duration::from_millis(6400) && fourth <= Duration::from_millis(9600));
        for attempt in 1..100 {
            assert!(backoff(attempt, base, max) <= max);
        }
    }
}
