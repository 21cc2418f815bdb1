//! Many rows in one SQLite statement: the rows travel as one JSON array of arrays, read in
//! SQL with `json_each` (`value ->> 0`, `value ->> 1`, …), SQLite's counterpart of PostgreSQL's
//! `unnest` over one array per column. A statement crosses to the connection's thread once
//! per chunk instead of once per row, and its row triggers run inside that one statement.

use serde::Serialize;

/// The rows as the JSON text a `json_each($n)` parameter reads: each row a JSON array
/// (a tuple serializes as one), in the given order (`json_each`'s `key`).
pub fn json_rows<R: Serialize>(rows: impl IntoIterator<Item = R>) -> Result<String, sqlx::Error> {
    let rows: Vec<R> = rows.into_iter().collect();
    serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_reads_each_row_back_with_its_types() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let rows = json_rows([("a", 1_i64, date), ("b'\"", -2, date)]).unwrap();
        let read: Vec<(String, i64, chrono::NaiveDate)> = sqlx::query_as(
            "SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1) ORDER BY key",
        )
        .bind(rows)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(read, vec![("a".into(), 1, date), ("b'\"".into(), -2, date)]);
    }
}
