//! The Audit log screen: `GET /console/audit`, who did what to which object and when, newest
//! first, a page at a time by cursor, filtered by actor, action (`job.` for every job action)
//! and Oslo dates, the filter kept in the URL. On [`service::operations::audit_log`], as the
//! admin API's audit endpoint.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    Route, handler,
    web::{Data, Query},
};
use serde::Deserialize;

use crate::{
    console::session::{ConsoleOperator, Nav},
    db::audit::AuditEntry,
    portal::{
        errors::PortalError,
        format::{self, non_empty},
        layout::{Layout, LayoutParts},
    },
    service::{self, operations::AuditQuery, page::PageRequest},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route.at("/audit", poem::get(list))
}

/// Entries per page.
const PAGE_ROWS: u32 = 50;

/// The filter as it is in the URL; blank fields match any.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Filter {
    actor: String,
    action: String,
    from: String,
    to: String,
    cursor: Option<String>,
}

impl Filter {
    fn query(&self) -> Result<AuditQuery, PortalError> {
        Ok(AuditQuery {
            partner_id: None,
            actor: non_empty(&self.actor),
            action: non_empty(&self.action),
            from: format::day(&self.from, "from")?,
            to: format::day(&self.to, "to")?,
        })
    }

    /// The filter's part of a URL (no cursor).
    fn url_query(&self) -> String {
        format::query_string(&[
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }

    fn page(&self) -> Result<PageRequest, PortalError> {
        let cursor = self.cursor.clone().filter(|c| !c.trim().is_empty());
        Ok(PageRequest::new(Some(PAGE_ROWS), cursor)?)
    }
}

/// A row of the log.
struct Row {
    at: String,
    actor: String,
    action: String,
    target: String,
    partner: String,
    details: String,
}

impl From<AuditEntry> for Row {
    fn from(e: AuditEntry) -> Self {
        Row {
            at: format::datetime(e.at),
            target: format!("{} {}", e.target_type, e.target_id),
            partner: e.partner_id.unwrap_or_default(),
            details: e.details.unwrap_or_default(),
            actor: e.actor,
            action: e.action,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_audit.html")]
struct AuditPage {
    layout: Layout,
    filter: Filter,
    rows: Vec<Row>,
    next: Option<String>,
}

#[handler]
async fn list(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Query(filter): Query<Filter>,
) -> Result<AuditPage, PortalError> {
    let entries = service::operations::audit_log(&state, &filter.query()?, &filter.page()?).await?;
    let next = entries.next_cursor.map(|c| {
        format!(
            "/console/audit?{}&cursor={}",
            filter.url_query(),
            format::url_encode(&c)
        )
    });
    Ok(AuditPage {
        layout: op.layout(parts, Nav::Audit),
        rows: entries.items.into_iter().map(Row::from).collect(),
        next,
        filter,
    })
}
