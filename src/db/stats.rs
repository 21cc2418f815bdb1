//! Statistics of a dialogue for a time range: keyword messages, agreements drafted /
//! activated / expired / stopped, active agreements at the end, charges created / charged /
//! failed and the amount collected. One round trip per dialogue and range, on indexes.

use chrono::NaiveDate;

use crate::{db::Db, with_pool};

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct DialogueStats {
    pub keyword_messages: i64,
    pub agreements_drafted: i64,
    pub agreements_activated: i64,
    pub agreements_expired: i64,
    pub agreements_stopped: i64,
    pub active_agreements: i64,
    pub charges_created: i64,
    pub charges_charged: i64,
    pub charges_failed: i64,
    pub amount_charged_ore: i64,
}

/// Figures for `[from_ms, to_ms)` (events) and due dates in `[from_date, to_date]` (charges).
pub async fn for_dialogue(
    db: &Db,
    dialogue_id: &str,
    from_ms: i64,
    to_ms: i64,
    from_date: NaiveDate,
    to_date: NaiveDate,
) -> Result<DialogueStats, sqlx::Error> {
    const SQL: &str = "SELECT \
        (SELECT COUNT(*) FROM messages WHERE dialogue_id = $1 AND direction = 'in' AND created_at >= $2 AND created_at < $3) AS keyword_messages, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND created_at >= $2 AND created_at < $3) AS agreements_drafted, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND activated_at >= $2 AND activated_at < $3) AS agreements_activated, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND expired_at >= $2 AND expired_at < $3) AS agreements_expired, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND stopped_at >= $2 AND stopped_at < $3) AS agreements_stopped, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND activated_at < $3 AND (stopped_at IS NULL OR stopped_at >= $3)) AS active_agreements, \
        (SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND created_at >= $2 AND created_at < $3) AS charges_created, \
        (SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND due_date >= $4 AND due_date <= $5 AND status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')) AS charges_charged, \
        (SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND due_date >= $4 AND due_date <= $5 AND status = 'FAILED') AS charges_failed, \
        (SELECT CAST(COALESCE(SUM(amount_ore), 0) AS BIGINT) FROM charges WHERE dialogue_id = $1 AND due_date >= $4 AND due_date <= $5 AND status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')) AS amount_charged_ore";
    with_pool!(db, |p| {
        sqlx::query_as(SQL)
            .bind(dialogue_id)
            .bind(from_ms)
            .bind(to_ms)
            .bind(from_date)
            .bind(to_date)
            .fetch_one(p)
            .await
    })
}
