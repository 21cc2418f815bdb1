//! The Messages tab: every SMS in and out, newest first, filtered; one message with its whole
//! status history (the seed's "Details: Status and Date").

use chrono::NaiveDate;

use crate::{
    clock::oslo_midnight_ms,
    db::messages::{self, Message, MessageFilter, StatusEntry},
    domain::msisdn::Msisdn,
    service::{
        PartnerActor, ServiceError, ServiceResult,
        page::{Page, PageRequest},
    },
    state::AppState,
};

/// In or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// Which messages to list. `from`/`to` are Oslo calendar dates, inclusive.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub dialogue_id: Option<String>,
    pub direction: Option<Direction>,
    pub status: Option<String>,
    /// A phone number (any form [`Msisdn`] reads, compared as E.164) or a short number, sender
    /// or recipient.
    pub phone: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// A message, its status history (oldest first), and what it belongs to.
#[derive(Debug, Clone)]
pub struct MessageDetail {
    pub message: Message,
    pub history: Vec<StatusEntry>,
}

pub async fn list(
    state: &AppState,
    actor: &PartnerActor,
    query: &MessageQuery,
    page: &PageRequest,
) -> ServiceResult<Page<Message>> {
    let rows = batch(state, actor, query, page.cursor(), page.fetch_limit()).await?;
    Ok(page.finish(rows, |m| m.id.clone()))
}

/// Up to `limit` messages matching `query` below the id `before`, newest first (a page, or a
/// batch of an export).
pub(crate) async fn batch(
    state: &AppState,
    actor: &PartnerActor,
    query: &MessageQuery,
    before: Option<&str>,
    limit: i64,
) -> ServiceResult<Vec<Message>> {
    if let (Some(f), Some(t)) = (query.from, query.to)
        && f > t
    {
        return Err(ServiceError::BadInput(
            "from must be on or before to".to_owned(),
        ));
    }
    let phone = query.phone.as_deref().map(|p| match Msisdn::parse(p) {
        Ok(m) => m.as_str().to_owned(),
        Err(_) => p.to_owned(),
    });
    let filter = MessageFilter {
        dialogue_id: query.dialogue_id.as_deref(),
        direction: query.direction.map(Direction::as_str),
        status: query.status.as_deref(),
        phone: phone.as_deref(),
        from_ms: query.from.map(oslo_midnight_ms),
        to_ms: query.to.and_then(|d| d.succ_opt()).map(oslo_midnight_ms),
        before_id: before,
        limit,
    };
    Ok(messages::list(&state.db, actor.partner_id(), &filter).await?)
}

pub async fn get(state: &AppState, actor: &PartnerActor, id: &str) -> ServiceResult<MessageDetail> {
    let message = messages::get_for_partner(&state.db, actor.partner_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("message"))?;
    let history = messages::history(&state.db, &message.id).await?;
    Ok(MessageDetail { message, history })
}
