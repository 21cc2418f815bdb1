//! What a figure was measured under: the engine, its version and whether a commit is durable
//! (SQLite `synchronous`, PostgreSQL `fsync` and `synchronous_commit`), read from the database
//! itself, so that a figure on a non-durable cluster says so; and [`Conditions`], the line every
//! `dialogpay bench` prints before its figures (that, the batch size and concurrency, which
//! workers ran and where the Vipps simulator ran).

use crate::{db::Db, with_pool};

/// One line such as `PostgreSQL 15.8, fsync on, synchronous_commit on (durable)`.
pub async fn describe(db: &Db) -> anyhow::Result<String> {
    if db.is_postgres() {
        let show = |name: &'static str| async move {
            let sql = format!("SHOW {name}");
            let value: String = with_pool!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await)?;
            anyhow::Ok(value)
        };
        let (version, fsync, commit) = (
            show("server_version").await?,
            show("fsync").await?,
            show("synchronous_commit").await?,
        );
        let durable = fsync == "on" && commit != "off";
        Ok(format!(
            "PostgreSQL {version}, fsync {fsync}, synchronous_commit {commit} ({})",
            label(durable)
        ))
    } else {
        let version: String = with_pool!(db, |p| sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(p)
            .await)?;
        let synchronous: i64 = with_pool!(db, |p| sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(p)
            .await)?;
        let journal: String = with_pool!(db, |p| sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(p)
            .await)?;
        let name = match synchronous {
            0 => "OFF",
            1 => "NORMAL",
            2 => "FULL",
            _ => "EXTRA",
        };
        Ok(format!(
            "SQLite {version}, journal_mode {journal}, synchronous {name} ({})",
            label(synchronous >= 2)
        ))
    }
}

fn label(durable: bool) -> &'static str {
    if durable {
        "durable"
    } else {
        "NOT durable: a figure for comparison only"
    }
}

/// Which workers a benchmark's process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workers {
    /// `register_workers()`, every queue, as `serve` runs them (the scheduler off: the
    /// benchmark starts billing itself).
    All,
    /// Only this queue's worker.
    One(&'static str),
}

/// Where the Vipps simulator the benchmark talks to runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vipps {
    /// Inside this process (its state and work count in this process's memory and CPU).
    InProcess,
    /// A separate process (`dialogpay vipps-sim`) at this URL.
    At(String),
    /// Not called at all.
    Unused,
}

/// Everything a benchmark's figures depend on besides the machine, printed before them.
#[derive(Debug, Clone)]
pub struct Conditions {
    /// [`describe`]'s line: engine, version, durability.
    pub database: String,
    /// `jobs.batch_size`: jobs fetched per round trip.
    pub batch_size: usize,
    /// `jobs.concurrency`: jobs one worker runs at once.
    pub concurrency: usize,
    /// The database-only queues' fetch batch and streams ([`dialogpay_jobs::JobSpec::BATCH`],
    /// [`crate::worker::runtime::streams`]).
    pub database_only: (usize, usize),
    pub workers: Workers,
    pub vipps: Vipps,
    /// Settings particular to one benchmark (billing's batch endpoint, rate limits, …).
    pub extra: Vec<String>,
}

impl Conditions {
    /// The conditions of a benchmark running on `state` (its database and settings).
    pub async fn read(
        state: &crate::app::AppState,
        workers: Workers,
        vipps: Vipps,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            database: describe(&state.db).await?,
            batch_size: state.settings.jobs.batch_size,
            concurrency: state.settings.jobs.concurrency,
            database_only: (
                dialogpay_jobs::spec::DATABASE_ONLY_BATCH,
                crate::worker::runtime::database_only_streams(&state.db, &state.settings.jobs),
            ),
            workers,
            vipps,
            extra: Vec::new(),
        })
    }

    /// Adds a benchmark's own condition.
    pub fn with(mut self, extra: impl Into<String>) -> Self {
        self.extra.push(extra.into());
        self
    }
}

impl std::fmt::Display for Conditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "conditions: {}; jobs batch {}, concurrency {} (database-only queues: batch {}, {} stream(s)); workers: ",
            self.database,
            self.batch_size,
            self.concurrency,
            self.database_only.0,
            self.database_only.1
        )?;
        match &self.workers {
            Workers::All => f.write_str("all, as in serve (scheduler off)")?,
            Workers::One(queue) => write!(f, "{queue} only")?,
        }
        match &self.vipps {
            Vipps::InProcess => f.write_str("; Vipps simulator in-process")?,
            Vipps::At(url) => write!(f, "; Vipps simulator at {url} (another process)")?,
            Vipps::Unused => f.write_str("; no Vipps calls")?,
        }
        for extra in &self.extra {
            write!(f, "; {extra}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_condition() {
        let c = Conditions {
            database: "SQLite 3.46.0, journal_mode wal, synchronous FULL (durable)".into(),
            batch_size: 50,
            concurrency: 8,
            database_only: (200, 3),
            workers: Workers::All,
            vipps: Vipps::At("http://127.0.0.1:8099".into()),
            extra: vec!["rate limits on".into()],
        };
        assert_eq!(
            c.to_string(),
            "conditions: SQLite 3.46.0, journal_mode wal, synchronous FULL (durable); jobs batch 50, \
             concurrency 8 (database-only queues: batch 200, 3 stream(s)); workers: all, as in serve (scheduler off); Vipps simulator at \
             http://127.0.0.1:8099 (another process); rate limits on"
        );
        let c = Conditions {
            workers: Workers::One("bench.noop"),
            vipps: Vipps::Unused,
            extra: vec![],
            ..c
        };
        assert!(
            c.to_string()
                .ends_with("workers: bench.noop only; no Vipps calls")
        );
    }
}
