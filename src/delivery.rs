//! Delivery reports meet the outbound messages they are about, whichever comes first: the
//! gateway's report (webhook) or the send job's record of the gateway's id for the message.
//!
//! - A report applies to a message whose send is recorded: found by the gateway id, or by our
//!   own id when the gateway mirrors it (LINK `refId`, generic `client_message_id`; a LINK
//!   resend after a crash has a new gateway id).
//! - Otherwise it is parked ([`crate::db::parked_reports`]), and [`record_send`] applies it, in
//!   arrival order, in the transaction that stores the gateway id. Parked reports that never
//!   match are deleted after `sms.unmatched_report_retention_hours` ([`expire_parked`]).
//!
//! Either way the same rules hold: statuses only move forward ([`DeliveryStatus::merge`]),
//! reports per part are kept per part and the message is delivered only when every part is
//! ([`combine_parts`]), and a repeated report changes nothing. Both sides take
//! [`parked_reports::lock_gateway_id`] on the gateway id (and on our id when known) before
//! looking, so a report can never be parked after the send record has looked for it.

use crate::{
    db::{
        Db, Tx, messages,
        parked_reports::{self, NewParkedReport, ParkedReport, WHOLE_MESSAGE},
    },
    sms::{DeliveryReport, DeliveryStatus, combine_parts},
};

/// What became of a received report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Applied to its message; `changed` is the message's new status if it moved.
    Applied { changed: Option<DeliveryStatus> },
    /// Parked until its send is recorded; `duplicate` when the same report was parked already.
    Parked { duplicate: bool },
}

/// The lock key of our own message id (reports that mirror it), beside the gateway ids.
const OUR_ID: &str = "ours";

/// Applies `report` to its message if the send is recorded, else parks it, in a transaction
/// of its own (webhooks go through [`receive_in`] in a shared one).
pub async fn receive(
    db: &Db,
    provider: &str,
    report: &DeliveryReport,
    now_ms: i64,
) -> Result<Received, sqlx::Error> {
    let mut tx = db.begin().await?;
    let received = receive_in(&mut tx, provider, report, now_ms).await?;
    tx.commit().await?;
    log_parked(provider, report, received);
    Ok(received)
}

/// [`receive`] inside the caller's transaction.
pub async fn receive_in(
    tx: &mut Tx,
    provider: &str,
    report: &DeliveryReport,
    now_ms: i64,
) -> Result<Received, sqlx::Error> {
    parked_reports::lock_gateway_id(tx, provider, &report.gateway_message_id).await?;
    if let Some(ours) = &report.client_reference {
        parked_reports::lock_gateway_id(tx, OUR_ID, ours).await?;
    }
    let mut found =
        messages::find_outbound_by_gateway_id(tx, provider, &report.gateway_message_id).await?;
    if found.is_none()
        && let Some(ours) = &report.client_reference
    {
        found = messages::get_in(tx, ours)
            .await?
            .filter(|m| m.direction == "out" && m.gateway_message_id.is_some());
    }
    Ok(match found {
        Some(msg) => Received::Applied {
            changed: apply(tx, &msg, report, now_ms).await?,
        },
        None => {
            let parked = parked_reports::park(tx, &to_parked(provider, report), now_ms).await?;
            Received::Parked { duplicate: !parked }
        }
    })
}

/// Logs a report that was parked (once it is committed).
pub fn log_parked(provider: &str, report: &DeliveryReport, received: Received) {
    if let Received::Parked { duplicate } = received {
        tracing::info!(
            sms.provider = provider,
            sms.gateway_id = %report.gateway_message_id,
            sms.part = ?report.part,
            sms.status = %report.status,
            duplicate,
            "delivery report for a message whose send is not recorded yet: parked"
        );
    }
}

/// In the send job's transaction: stores the gateway's id for message `id`, merges the
/// gateway's first status (forward only), and applies the reports parked for that id or for
/// our id, in arrival order. Returns the message's status if it moved from what it was.
pub async fn record_send(
    tx: &mut Tx,
    id: &str,
    gateway_id: &str,
    first_status: DeliveryStatus,
    now_ms: i64,
) -> Result<Option<DeliveryStatus>, sqlx::Error> {
    let Some(mut msg) = messages::get_in(tx, id).await? else {
        return Ok(None);
    };
    parked_reports::lock_gateway_id(tx, &msg.provider, gateway_id).await?;
    parked_reports::lock_gateway_id(tx, OUR_ID, id).await?;
    // Re-read under the locks: a report may have moved the status since the caller looked.
    msg = messages::get_in(tx, id).await?.unwrap_or(msg);
    let before = DeliveryStatus::parse(&msg.status);
    messages::set_gateway_id(tx, id, gateway_id).await?;
    msg.gateway_message_id = Some(gateway_id.to_owned());
    let first = before.map_or(first_status, |b| b.merge(first_status));
    if Some(first) != before {
        messages::set_status(tx, id, first.as_str(), None, now_ms).await?;
        msg.status = first.as_str().to_owned();
    }
    let mut parked = parked_reports::take(tx, &msg.provider, gateway_id).await?;
    parked.extend(parked_reports::take_for_reference(tx, id).await?);
    parked.sort_by_key(|p| p.id);
    parked.dedup_by_key(|p| p.id);
    for p in &parked {
        if let Some(next) = apply(tx, &msg, &to_report(p)?, now_ms).await? {
            msg.status = next.as_str().to_owned();
        }
    }
    if !parked.is_empty() {
        tracing::info!(
            message.id = id,
            reports = parked.len(),
            sms.status = %msg.status,
            "applied delivery reports that arrived before the send was recorded"
        );
    }
    let after = DeliveryStatus::parse(&msg.status);
    Ok(after.filter(|a| Some(*a) != before))
}

/// Deletes the reports parked longer than the retention (they never found their message) and
/// logs each one. Returns how many went.
pub async fn expire_parked(db: &Db, cutoff_ms: i64) -> Result<usize, sqlx::Error> {
    let expired = parked_reports::expire(db, cutoff_ms).await?;
    for p in &expired {
        tracing::warn!(
            sms.provider = %p.provider,
            sms.gateway_id = %p.gateway_message_id,
            sms.part = p.part,
            sms.status = %p.status,
            received_at = %crate::db::from_millis(p.received_at)
                .map_or_else(|e| e.to_string(), |t| t.to_string()),
            "delivery report never matched a sent message: deleted after the retention"
        );
    }
    Ok(expired.len())
}

/// Applies one report to `msg` (forward only, per part); returns the new status if it moved.
async fn apply(
    tx: &mut Tx,
    msg: &messages::Message,
    report: &DeliveryReport,
    now_ms: i64,
) -> Result<Option<DeliveryStatus>, sqlx::Error> {
    let reported = match report.part {
        Some(part) => {
            let part = part as i32;
            let previous = messages::part_status(tx, &msg.id, part)
                .await?
                .and_then(|s| DeliveryStatus::parse(&s));
            let merged = previous.map_or(report.status, |p| p.merge(report.status));
            let parts: Vec<DeliveryStatus> =
                messages::upsert_part(tx, &msg.id, part, merged.as_str(), now_ms)
                    .await?
                    .iter()
                    .filter_map(|s| DeliveryStatus::parse(s))
                    .collect();
            let expected = report
                .segments
                .map(|n| n as usize)
                .unwrap_or(msg.segments.max(0) as usize);
            combine_parts(&parts, expected)
        }
        None => report.status,
    };
    let current = DeliveryStatus::parse(&msg.status);
    let next = current.map_or(reported, |c| c.merge(reported));
    if Some(next) == current {
        return Ok(None);
    }
    messages::set_status(tx, &msg.id, next.as_str(), report.reason.as_deref(), now_ms).await?;
    Ok(Some(next))
}

fn to_parked<'a>(provider: &'a str, r: &'a DeliveryReport) -> NewParkedReport<'a> {
    NewParkedReport {
        provider,
        gateway_message_id: &r.gateway_message_id,
        part: r
            .part
            .map_or(WHOLE_MESSAGE, |p| i32::try_from(p).unwrap_or(i32::MAX)),
        status: r.status.as_str(),
        reason: r.reason.as_deref(),
        segments: r.segments.map(|n| n as i32),
        client_reference: r.client_reference.as_deref(),
        reported_at: r.at.map(|t| t.timestamp_millis()),
    }
}

/// The parked report as it arrived; one whose time cannot be read is an error (decode).
fn to_report(p: &ParkedReport) -> Result<DeliveryReport, crate::db::BadTimestamp> {
    Ok(DeliveryReport {
        gateway_message_id: p.gateway_message_id.clone(),
        part: u32::try_from(p.part).ok(),
        // Only valid statuses are parked; an unreadable one would count as queued (no effect).
        status: DeliveryStatus::parse(&p.status).unwrap_or(DeliveryStatus::Queued),
        at: p.reported_at.map(crate::db::from_millis).transpose()?,
        reason: p.reason.clone(),
        client_reference: p.client_reference.clone(),
        segments: p.segments.and_then(|n| u32::try_from(n).ok()),
    })
}
