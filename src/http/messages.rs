//! `/api/v1/messages`: every SMS in and out with its status; details with the status history
//! (the seed's Messages tab and its "Details: Status and Date"), through
//! [`service::messages`](crate::service::messages).

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::messages::Message,
    http::{
        auth::PartnerAuth,
        error::{ApiError, ApiResult},
        health::ApiTags,
        time::ts,
    },
    service::{
        self,
        messages::{self as use_case, MessageQuery},
        page::PageRequest,
    },
    state::AppState,
};

pub struct MessagesApi;

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
enum Direction {
    In,
    Out,
}

impl From<Direction> for use_case::Direction {
    fn from(d: Direction) -> Self {
        match d {
            Direction::In => use_case::Direction::In,
            Direction::Out => use_case::Direction::Out,
        }
    }
}

#[derive(Object)]
struct MessageView {
    id: String,
    /// `in` (from a mobile user) or `out` (our reply).
    direction: String,
    from: String,
    to: String,
    text: String,
    #[oai(nullable)]
    dialogue_id: Option<String>,
    /// In: `received`, `processed`. Out: `pending`, `queued`, `sent`, `delivered`, `failed`, `expired`.
    status: String,
    /// In: what the keyword led to (`agreement_drafted`, `link_resent`, `already_member`,
    /// `not_live`, `unknown_keyword`, `stop`, `help`). Out: why it is sent (`vipps_link`,
    /// `not_live`, `already_member`, `stop_confirmation`, `help`, `receipt`, `payment_failed`).
    #[oai(nullable)]
    outcome: Option<String>,
    #[oai(nullable)]
    error: Option<String>,
    segments: i32,
    /// `GSM-7` or `UCS-2`.
    encoding: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Message> for MessageView {
    type Error = ApiError;

    fn try_from(m: Message) -> ApiResult<Self> {
        Ok(MessageView {
            id: m.id,
            direction: m.direction,
            from: m.from_addr,
            to: m.to_addr,
            text: m.text,
            dialogue_id: m.dialogue_id,
            status: m.status,
            outcome: m
                .inbound_outcome
                .map(|o| o.as_str())
                .or(m.reply_purpose.map(|p| p.as_str()))
                .map(str::to_owned),
            error: m.error,
            segments: m.segments,
            encoding: m.encoding,
            created_at: ts(m.created_at)?,
            updated_at: ts(m.updated_at)?,
        })
    }
}

#[derive(Object)]
struct StatusView {
    status: String,
    at: DateTime<Utc>,
    #[oai(nullable)]
    detail: Option<String>,
}

#[derive(Object)]
struct MessageDetails {
    #[oai(flatten)]
    message: MessageView,
    /// Every status with its date, oldest first.
    history: Vec<StatusView>,
    /// The agreement this message started, carries the link of, or is a receipt or notice for.
    #[oai(nullable)]
    agreement_id: Option<String>,
    /// For a receipt or a failed-payment notice: the charge it is about.
    #[oai(nullable)]
    charge_id: Option<String>,
    /// For a reply: the inbound message it answers.
    #[oai(nullable)]
    in_reply_to: Option<String>,
}

#[derive(Object)]
struct MessagePage {
    items: Vec<MessageView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dialogues")]
impl MessagesApi {
    /// Messages, newest first. `from`/`to` are Oslo calendar dates (inclusive).
    #[oai(path = "/messages", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        dialogue_id: Query<Option<String>>,
        direction: Query<Option<Direction>>,
        status: Query<Option<String>>,
        /// A phone number (E.164) or short number, sender or recipient.
        phone: Query<Option<String>>,
        from: Query<Option<NaiveDate>>,
        to: Query<Option<NaiveDate>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<MessagePage>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let query = MessageQuery {
            dialogue_id: dialogue_id.0,
            direction: direction.0.map(Into::into),
            status: status.0,
            phone: phone.0,
            from: from.0,
            to: to.0,
        };
        let rows = service::messages::list(&state, &auth.actor(), &query, &page)
            .await?
            .map(MessageView::try_from)?;
        Ok(Json(MessagePage {
            items: rows.items,
            next_cursor: rows.next_cursor,
        }))
    }

    /// One message with its status history.
    #[oai(path = "/messages/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<MessageDetails>> {
        let detail = service::messages::get(&state, &auth.actor(), &id).await?;
        let m = detail.message;
        let history = detail
            .history
            .into_iter()
            .map(|h| {
                Ok(StatusView {
                    status: h.status,
                    at: ts(h.at)?,
                    detail: h.detail,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Json(MessageDetails {
            agreement_id: m.agreement_id.clone(),
            charge_id: m.charge_id.clone(),
            in_reply_to: m.in_reply_to.clone(),
            message: m.try_into()?,
            history,
        }))
    }
}
