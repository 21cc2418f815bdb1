//! What a figure was measured under: the engine, its version and whether a commit is durable
//! (SQLite `synchronous`, PostgreSQL `fsync` and `synchronous_commit`), read from the database
//! itself, so that a figure on a non-durable cluster says so.

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
