//! The Messages tab (`/portal/messages`): every SMS in and out, newest first, filtered by
//! dialogue, direction, status, phone and dates (kept in the URL), a page at a time. As the
//! seed says, a record is selected (a native radio per row) and **Details** shows its Status
//! and Date, here with the whole status history; without JavaScript Details opens a page, with
//! htmx it fills the details panel. `GET /portal/messages.csv` exports the same filter.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    web::{Data, Path, Query, Redirect},
};
use serde::Deserialize;

use crate::{
    db::messages::{Message, StatusEntry},
    portal::{
        download,
        errors::PortalError,
        format::{self, non_empty},
        htmx::HxRequest,
        layout::{Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        self,
        messages::{Direction, MessageDetail, MessageQuery},
        page::PageRequest,
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/messages", poem::get(list))
        .at("/messages.csv", poem::get(export))
        .at("/messages/details", poem::get(selected))
        .at("/messages/:id", poem::get(message_page))
}

/// The filter as it is in the URL; empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    dialogue: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    cursor: Option<String>,
}

impl Filter {
    fn query(&self) -> Result<MessageQuery, PortalError> {
        Ok(MessageQuery {
            dialogue_id: non_empty(&self.dialogue),
            direction: match self.direction.as_str() {
                "in" => Some(Direction::In),
                "out" => Some(Direction::Out),
                _ => None,
            },
            status: non_empty(&self.status),
            phone: non_empty(&self.phone),
            from: format::day(&self.from, "from")?,
            to: format::day(&self.to, "to")?,
        })
    }

    /// The filter's part of a URL (no cursor), for the next page and the export.
    fn url_query(&self) -> String {
        format::query_string(&[
            ("dialogue", &self.dialogue),
            ("direction", &self.direction),
            ("status", &self.status),
            ("phone", &self.phone),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }
}

/// A row of the table.
struct Row {
    id: String,
    at: String,
    direction: &'static str,
    from: String,
    to: String,
    text: String,
    status: String,
    outcome: String,
    segments: i32,
}

impl From<Message> for Row {
    fn from(m: Message) -> Self {
        Row {
            at: format::datetime(m.created_at),
            direction: if m.direction == "in" { "In" } else { "Out" },
            outcome: m
                .inbound_outcome
                .map(|o| o.as_str())
                .or(m.reply_purpose.map(|p| p.as_str()))
                .unwrap_or_default()
                .replace('_', " "),
            id: m.id,
            from: m.from_addr,
            to: m.to_addr,
            text: m.text,
            status: m.status,
            segments: m.segments,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "messages.html")]
struct MessagesPage {
    layout: Layout,
    filter: Filter,
    rows: Vec<Row>,
    next: Option<String>,
    export: String,
}

#[handler]
async fn list(
    user: PortalUser,
    parts: LayoutParts,
    state: Data<&AppState>,
    Query(filter): Query<Filter>,
) -> Result<MessagesPage, PortalError> {
    let page = PageRequest::new(Some(50), filter.cursor.clone())?;
    let rows = service::messages::list(&state, &user.actor(), &filter.query()?, &page).await?;
    let base = filter.url_query();
    let next = rows.next_cursor.as_ref().map(|c| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!(
            "/portal/messages?{base}{sep}cursor={}",
            format::url_encode(c)
        )
    });
    Ok(MessagesPage {
        layout: parts.for_user(&user, Nav::Messages),
        export: format!("/portal/messages.csv?{base}"),
        rows: rows.items.into_iter().map(Row::from).collect(),
        next,
        filter,
    })
}

#[derive(Deserialize)]
struct Selected {
    id: Option<String>,
}

/// The status history's rows.
struct HistoryRow {
    status: String,
    at: String,
    detail: String,
}

impl From<StatusEntry> for HistoryRow {
    fn from(h: StatusEntry) -> Self {
        HistoryRow {
            status: h.status,
            at: format::datetime(h.at),
            detail: h.detail.unwrap_or_default(),
        }
    }
}

/// What Details shows.
struct Details {
    message: Row,
    updated: String,
    error: String,
    agreement_id: String,
    in_reply_to: String,
    history: Vec<HistoryRow>,
}

impl From<MessageDetail> for Details {
    fn from(d: MessageDetail) -> Self {
        Details {
            updated: format::datetime(d.message.updated_at),
            error: d.message.error.clone().unwrap_or_default(),
            agreement_id: d.message.agreement_id.clone().unwrap_or_default(),
            in_reply_to: d.message.in_reply_to.clone().unwrap_or_default(),
            message: Row::from(d.message),
            history: d.history.into_iter().map(HistoryRow::from).collect(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "message_details_partial.html")]
struct DetailsPartial {
    details: Details,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage {
    layout: Layout,
    details: Details,
}

/// `GET /portal/messages/details?id=…`: the Details button. htmx gets the panel; a browser
/// without JavaScript is sent to the message's page.
#[handler]
async fn selected(
    user: PortalUser,
    state: Data<&AppState>,
    HxRequest(htmx): HxRequest,
    Query(selected): Query<Selected>,
) -> Result<Response, PortalError> {
    let Some(id) = selected.id.as_deref().and_then(non_empty) else {
        return Err(PortalError::BadRequest(
            "select a message first, then press Details".to_owned(),
        ));
    };
    if !htmx {
        return Ok(
            Redirect::see_other(format!("/portal/messages/{}", format::url_encode(&id)))
                .into_response(),
        );
    }
    let found = service::messages::get(&state, &user.actor(), &id).await?;
    Ok(DetailsPartial {
        details: found.into(),
    }
    .into_response())
}

/// `GET /portal/messages/{id}`: one message's details as a page.
#[handler]
async fn message_page(
    user: PortalUser,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path(id): Path<String>,
) -> Result<MessagePage, PortalError> {
    let found = service::messages::get(&state, &user.actor(), &id).await?;
    Ok(MessagePage {
        layout: parts.for_user(&user, Nav::Messages),
        details: found.into(),
    })
}

/// `GET /portal/messages.csv?…`: the filtered messages as CSV, streamed.
#[handler]
async fn export(
    user: PortalUser,
    state: Data<&AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, PortalError> {
    let query = filter.query()?;
    let rows = service::export::messages((*state).clone(), user.actor(), query);
    Ok(download::csv("messages.csv", rows))
}
