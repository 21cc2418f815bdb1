//! Outgoing webhooks: partners' endpoints, the events written in the transaction of the change
//! they report (with one delivery and one `webhooks.deliver` job per subscribed endpoint), and
//! each delivery's attempts.

use dialogpay_jobs::webhooks::DeliverWebhook;

use crate::{
    db::{Db, Tx, enqueue::Enqueuer, ids},
    domain::partner_events::{DeliveryStatus, EventType},
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: String,
    pub partner_id: String,
    pub url: String,
    /// Space-separated event types (`partner_events::parse_subscriptions`).
    pub event_types: String,
    pub description: String,
    pub enabled: bool,
    pub secret: String,
    pub failing_since: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const ENDPOINT_COLUMNS: &str = "id, partner_id, url, event_types, description, enabled, secret, \
     failing_since, disabled_reason, created_at, updated_at";

/// An endpoint to make.
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    pub partner_id: &'a str,
    pub url: &'a str,
    pub event_types: &'a str,
    pub description: &'a str,
    pub enabled: bool,
    pub secret: &'a str,
}

/// What a change of an endpoint sets; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange<'a> {
    pub url: Option<&'a str>,
    pub event_types: Option<&'a str>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub resends: i32,
    pub last_attempt_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
    /// The status of the last attempt's answer, if it had one.
    pub last_status_code: Option<i32>,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.endpoint_id, d.event_id, e.event_type, d.status, \
       d.attempts, d.resends, d.last_attempt_at, d.next_attempt_at, d.delivered_at, d.created_at, \
       (SELECT a.status_code FROM webhook_attempts a WHERE a.delivery_id = d.id \
        ORDER BY a.attempt DESC LIMIT 1) AS last_status_code \
     FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: String,
    pub partner_id: String,
    pub event_type: EventType,
    pub body: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    pub attempt: i32,
    pub at: i64,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub detail: Option<String>,
}

pub async fn create_endpoint(
    tx: &mut Tx,
    new: &NewEndpoint<'_>,
    now_ms: i64,
) -> Result<String, sqlx::Error> {
    let id = ids::new_id("whe");
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, partner_id, url, event_types, description, enabled, \
               secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&id)
        .bind(new.partner_id)
        .bind(new.url)
        .bind(new.event_types)
        .bind(new.description)
        .bind(new.enabled)
        .bind(new.secret)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(id)
}

/// One of the partner's endpoints.
pub async fn get_endpoint(
    db: &Db,
    partner_id: &str,
    id: &str,
) -> Result<Option<Endpoint>, sqlx::Error> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND partner_id = $2"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(partner_id)
        .fetch_optional(p)
        .await)
}

/// Any partner's endpoint (for the delivery job).
pub async fn get_endpoint_any(db: &Db, id: &str) -> Result<Option<Endpoint>, sqlx::Error> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// How many endpoints the partner has.
pub async fn count_endpoints(db: &Db, partner_id: &str) -> Result<i64, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE partner_id = $1"
    )
    .bind(partner_id)
    .fetch_one(p)
    .await)
}

/// The partner's endpoints, newest first, after `cursor` (an id).
pub async fn list_endpoints(
    db: &Db,
    partner_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<Endpoint>, sqlx::Error> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE partner_id = $1 \
         AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner_id)
        .bind(cursor)
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// Changes an endpoint; enabling it clears why it was disabled and since when it failed.
/// Returns false when the partner has no such endpoint.
pub async fn update_endpoint(
    tx: &mut Tx,
    partner_id: &str,
    id: &str,
    change: &EndpointChange<'_>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let changed = with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE webhook_endpoints SET url = COALESCE($3, url), \
               event_types = COALESCE($4, event_types), description = COALESCE($5, description), \
               enabled = COALESCE($6, enabled), \
               disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END, \
               failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END, \
               updated_at = $7 \
             WHERE id = $1 AND partner_id = $2",
        )
        .bind(id)
        .bind(partner_id)
        .bind(change.url)
        .bind(change.event_types)
        .bind(change.description)
        .bind(change.enabled)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(changed > 0)
}

/// Removes an endpoint with its deliveries and their attempts (the events stay: other
/// endpoints may have them). Returns false when the partner has no such endpoint.
pub async fn delete_endpoint(tx: &mut Tx, partner_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
               (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id \
                WHERE w.id = $1 AND w.partner_id = $2)",
        )
        .bind(id)
        .bind(partner_id)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE endpoint_id IN \
               (SELECT id FROM webhook_endpoints WHERE id = $1 AND partner_id = $2)",
        )
        .bind(id)
        .bind(partner_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    let deleted = with_tx!(tx, |c| {
        sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND partner_id = $2")
            .bind(id)
            .bind(partner_id)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(deleted > 0)
}

/// The partner's enabled endpoints subscribed to `event_type`, in the caller's transaction.
pub async fn subscribers(
    tx: &mut Tx,
    partner_id: &str,
    event_type: EventType,
) -> Result<Vec<String>, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT id FROM webhook_endpoints WHERE partner_id = $1 AND enabled \
             AND (' ' || event_types || ' ') LIKE $2 ORDER BY id",
        )
        .bind(partner_id)
        .bind(format!("% {} %", event_type.as_str()))
        .fetch_all(c)
        .await
    })
}

/// Records an event in the caller's transaction, with a delivery and a `webhooks.deliver` job
/// for every enabled endpoint of the partner subscribed to its type: they exist if and only
/// if the change that caused them commits. Returns how many deliveries were made (the caller
/// wakes the queue after its commit when there are some).
pub async fn emit(
    tx: &mut Tx,
    enqueuer: &Enqueuer,
    partner_id: &str,
    event_type: EventType,
    body: &serde_json::Value,
    now_ms: i64,
) -> Result<usize, EmitError> {
    let endpoints = subscribers(tx, partner_id, event_type).await?;
    record(
        tx, enqueuer, partner_id, &endpoints, event_type, body, now_ms,
    )
    .await?;
    Ok(endpoints.len())
}

/// [`emit`] to `endpoints` found by [`subscribers`] (a bulk writer asks once for many events
/// of one partner and type); nothing is written when there are none.
pub async fn record(
    tx: &mut Tx,
    enqueuer: &Enqueuer,
    partner_id: &str,
    endpoints: &[String],
    event_type: EventType,
    body: &serde_json::Value,
    now_ms: i64,
) -> Result<(), EmitError> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let event_id = ids::new_id("msg");
    let body = serde_json::to_string(body).map_err(|e| EmitError::Body(e.to_string()))?;
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO webhook_events (id, partner_id, event_type, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&event_id)
        .bind(partner_id)
        .bind(event_type)
        .bind(&body)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    for endpoint_id in endpoints {
        let delivery_id = ids::new_id("whd");
        with_tx!(tx, |c| {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, next_attempt_at, \
                   created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5, $5)",
            )
            .bind(&delivery_id)
            .bind(endpoint_id)
            .bind(&event_id)
            .bind(DeliveryStatus::Pending)
            .bind(now_ms)
            .execute(c)
            .await?
            .rows_affected()
        });
        let job = DeliverWebhook {
            delivery_id,
            round: 0,
        };
        enqueuer
            .enqueue_tx(tx, &job)
            .await
            .map_err(|e| EmitError::Enqueue(e.to_string()))?;
    }
    Ok(())
}

/// Why an event could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("the event's body: {0}")]
    Body(String),
    #[error("queueing its delivery: {0}")]
    Enqueue(String),
}

pub async fn get_delivery(db: &Db, id: &str) -> Result<Option<Delivery>, sqlx::Error> {
    let sql = format!("{DELIVERY_SELECT} WHERE d.id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn get_event(db: &Db, id: &str) -> Result<Option<Event>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT id, partner_id, event_type, body, created_at FROM webhook_events WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)
}

/// An endpoint's deliveries, newest first, after `cursor` (an id), optionally of one status.
pub async fn list_deliveries(
    db: &Db,
    endpoint_id: &str,
    status: Option<DeliveryStatus>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    let sql = format!(
        "{DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND ($2 IS NULL OR d.status = $2) \
         AND ($3 IS NULL OR d.id < $3) ORDER BY d.id DESC LIMIT $4"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(endpoint_id)
        .bind(status)
        .bind(cursor)
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// A delivery's attempts, in order.
pub async fn attempts(db: &Db, delivery_id: &str) -> Result<Vec<Attempt>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT attempt, at, status_code, duration_ms, detail FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY attempt"
    )
    .bind(delivery_id)
    .fetch_all(p)
    .await)
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct AttemptResult<'a> {
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub detail: Option<&'a str>,
}

/// Records an attempt and where the delivery now is: DELIVERED (and the endpoint no longer
/// failing), PENDING with its next attempt's time, or FAILED (gave up). The endpoint's
/// `failing_since` is set by the first failure after a success.
pub async fn record_attempt(
    tx: &mut Tx,
    delivery: &Delivery,
    result: &AttemptResult<'_>,
    status: DeliveryStatus,
    next_attempt_at: Option<i64>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let attempt = delivery.attempts + 1;
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, duration_ms, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&delivery.id)
        .bind(attempt)
        .bind(now_ms)
        .bind(result.status_code)
        .bind(result.duration_ms)
        .bind(result.detail)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = $2, status = $3, last_attempt_at = $4, \
               next_attempt_at = $5, delivered_at = CASE WHEN $3 = 'DELIVERED' THEN $4 ELSE delivered_at END, \
               updated_at = $4 WHERE id = $1",
        )
        .bind(&delivery.id)
        .bind(attempt)
        .bind(status)
        .bind(now_ms)
        .bind(next_attempt_at)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = \
               CASE WHEN $2 THEN NULL ELSE COALESCE(failing_since, $3) END WHERE id = $1",
        )
        .bind(&delivery.endpoint_id)
        .bind(status == DeliveryStatus::Delivered)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Disables an endpoint that has failed every delivery since before `cutoff_ms`, with `reason`.
/// Returns whether it was disabled now.
pub async fn disable_if_failing_since(
    tx: &mut Tx,
    endpoint_id: &str,
    cutoff_ms: i64,
    reason: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let changed = with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = $4 \
             WHERE id = $1 AND enabled AND failing_since IS NOT NULL AND failing_since < $2",
        )
        .bind(endpoint_id)
        .bind(cutoff_ms)
        .bind(reason)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(changed > 0)
}

/// Marks a delivery FAILED without an attempt (its endpoint was disabled or removed).
pub async fn give_up(tx: &mut Tx, delivery_id: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, next_attempt_at = NULL, updated_at = $3 \
             WHERE id = $1 AND status = 'PENDING'",
        )
        .bind(delivery_id)
        .bind(DeliveryStatus::Failed)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Sends a delivery again: PENDING, one more resend, and a job of that round, in the caller's
/// transaction. Returns false when the delivery is not the partner's.
pub async fn resend(
    tx: &mut Tx,
    enqueuer: &Enqueuer,
    partner_id: &str,
    delivery_id: &str,
    now_ms: i64,
) -> Result<bool, EmitError> {
    let round: Option<i32> = with_tx!(tx, |c| {
        sqlx::query_scalar(
            "UPDATE webhook_deliveries SET status = $3, resends = resends + 1, next_attempt_at = $4, \
               updated_at = $4 \
             WHERE id = $1 AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE partner_id = $2) \
             RETURNING resends",
        )
        .bind(delivery_id)
        .bind(partner_id)
        .bind(DeliveryStatus::Pending)
        .bind(now_ms)
        .fetch_optional(c)
        .await?
    });
    let Some(round) = round else {
        return Ok(false);
    };
    let job = DeliverWebhook {
        delivery_id: delivery_id.to_owned(),
        round: u32::try_from(round).unwrap_or(0),
    };
    enqueuer
        .enqueue_tx(tx, &job)
        .await
        .map_err(|e| EmitError::Enqueue(e.to_string()))?;
    Ok(true)
}

/// The endpoint's FAILED deliveries made at or after `since_ms`, oldest first (at most `limit`).
pub async fn failed_since(
    db: &Db,
    endpoint_id: &str,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'FAILED' \
         AND created_at >= $2 ORDER BY created_at, id LIMIT $3"
    )
    .bind(endpoint_id)
    .bind(since_ms)
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// What a charge event says about the charge, read in the transaction that changed it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChargeFacts {
    pub charge_id: String,
    pub partner_id: String,
    pub agreement_id: String,
    pub dialogue_id: String,
    pub period_index: i32,
    pub due_date: chrono::NaiveDate,
    pub amount_ore: i64,
    pub status: crate::domain::status::ChargeStatus,
    pub failure_reason: Option<String>,
    pub failure_description: Option<String>,
    pub refunded_ore: i64,
}

pub async fn charge_facts(
    tx: &mut Tx,
    charge_id: &str,
) -> Result<Option<ChargeFacts>, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT c.id AS charge_id, c.partner_id, c.agreement_id, c.dialogue_id, c.period_index, \
               c.due_date, c.amount_ore, c.status, c.failure_reason, c.failure_description, \
               CAST(COALESCE((SELECT SUM(r.amount_ore) FROM refunds r \
                 WHERE r.charge_id = c.id AND r.status = 'DONE'), 0) AS BIGINT) AS refunded_ore \
             FROM charges c WHERE c.id = $1",
        )
        .bind(charge_id)
        .fetch_optional(c)
        .await
    })
}
