//! `GET /portal/`: the portal's home. For now a placeholder under the "Dialogues" heading; it
//! becomes the Dialogue list with its statistics.

use askama::Template;
use askama_web::WebTemplate;
use poem::{Route, handler};

use crate::portal::{
    layout::{Layout, LayoutParts, Nav},
    session::PortalUser,
};

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
}

pub fn routes(route: Route) -> Route {
    route.at("/", poem::get(home))
}

#[handler]
fn home(user: PortalUser, parts: LayoutParts) -> HomePage {
    HomePage {
        layout: parts.for_user(&user, Nav::Dialogues),
    }
}
