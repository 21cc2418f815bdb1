//! A partner's object as operators see it: `GET /console/objects/{id}` shows the agreement,
//! charge, message or refund with that id (the job page links to those its payload names),
//! the partner and dialogue it belongs to, its main facts, the objects it is linked to, and the
//! jobs that concern it. On [`service::objects::lookup`].

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    Route, handler,
    web::{Data, Path},
};

use crate::{
    console::session::{ConsoleOperator, Nav},
    portal::{
        errors::PortalError,
        format,
        layout::{Layout, LayoutParts},
    },
    service::{
        self,
        objects::{Fact, ObjectSummary},
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route.at("/objects/:id", poem::get(object))
}

#[derive(Template, WebTemplate)]
#[template(path = "console_object.html")]
struct ObjectPage {
    layout: Layout,
    object: ObjectSummary,
    /// Its jobs, in any state and at any time: the job list searched by its id.
    jobs_href: String,
}

impl ObjectPage {
    fn value(&self, fact: &Fact) -> String {
        match fact {
            Fact::Text(text) => text.clone(),
            Fact::Time(ms) => format::datetime(*ms),
        }
    }
}

#[handler]
async fn object(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path(id): Path<String>,
) -> Result<ObjectPage, PortalError> {
    let object = service::objects::lookup(&state, &id).await?;
    let jobs_href = format!(
        "/console/jobs?{}",
        format::query_string(&[("state", "any"), ("window", "all"), ("q", &object.id)])
    );
    Ok(ObjectPage {
        layout: op.layout(parts, Nav::Jobs),
        object,
        jobs_href,
    })
}
