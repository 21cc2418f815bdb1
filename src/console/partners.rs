//! The Partners screens: `GET /console/partners`, every partner (name, Vipps MSN, our webhook's
//! registration, created, users) and the form that creates one (`POST`; its API key is shown
//! once on the page after); `GET /console/partners/{id}`, a partner's portal users and the
//! form that invites one (`POST …/users`; the one-time set-password link is shown once), and a
//! new link for one of them (`POST …/users/link`: their older unused links stop working). On
//! [`service::partners`] and [`service::users`], as the admin API.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use crate::{
    console::{
        forms::{Refusal, ShownOnce},
        session::{ConsoleOperator, Nav},
    },
    db::{partners::PartnerSummary, users::User},
    portal::{
        errors::PortalError,
        format,
        layout::{Layout, LayoutParts},
    },
    service::{
        self,
        users::{NewUser, UserContext},
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/partners", poem::get(list).post(create))
        .at("/partners/:id", poem::get(partner))
        .at("/partners/:id/users", poem::post(invite))
        .at("/partners/:id/users/link", poem::post(new_link))
}

/// The forms' fields and their labels, for the error summary.
const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("vipps_msn", "Vipps MSN"),
    ("email", "Email"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewPartner {
    name: String,
    vipps_msn: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Invite {
    email: String,
}

/// A row of the partners table.
struct PartnerRow {
    id: String,
    name: String,
    vipps_msn: String,
    webhook: Option<String>,
    created: String,
    users: i64,
}

impl From<PartnerSummary> for PartnerRow {
    fn from(p: PartnerSummary) -> Self {
        PartnerRow {
            webhook: p.webhook_registered_at.map(format::datetime),
            created: format::datetime(p.created_at),
            users: p.user_count,
            id: p.id,
            name: p.name,
            vipps_msn: p.vipps_msn,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_partners.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<PartnerRow>,
    form: NewPartner,
    refusal: Refusal,
    read_only: Option<&'static str>,
}

async fn list_page(
    op: &ConsoleOperator,
    parts: LayoutParts,
    state: &AppState,
    form: NewPartner,
    refusal: Refusal,
) -> Result<Response, PortalError> {
    let rows = service::partners::summaries(state).await?;
    let status = refusal.status;
    Ok(ListPage {
        layout: op.layout(parts, Nav::Partners),
        rows: rows.into_iter().map(PartnerRow::from).collect(),
        read_only: op.read_only_reason(),
        form,
        refusal,
    }
    .with_status(status)
    .into_response())
}

#[handler]
async fn list(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
) -> Result<Response, PortalError> {
    list_page(&op, parts, &state, NewPartner::default(), Refusal::none()).await
}

#[handler]
async fn create(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Form(form): Form<NewPartner>,
) -> Result<Response, PortalError> {
    match service::partners::create(&state, &op.actor(), &form.name, &form.vipps_msn).await {
        Ok(created) => {
            let p = &created.partner;
            let page = format!("/console/partners/{}", format::url_encode(&p.id));
            Ok(ShownOnce {
                layout: op.layout(parts, Nav::Partners),
                title: format!("Partner {}", p.name),
                done: format!("The partner {} is created.", p.name),
                facts: vec![
                    ("Id", p.id.clone()),
                    ("Vipps MSN", p.vipps_msn.clone()),
                    ("Key begins", p.api_key_hint.clone()),
                ],
                label: "API key",
                secret: created.api_key,
                use_hint: "Give it to the partner over a safe channel; its systems send it as \
                           the Bearer token of every API request."
                    .to_owned(),
                back: ("/console/partners".to_owned(), "Partners".to_owned()),
                next: (page, "Invite the partner's first user".to_owned()),
            }
            .into_response())
        }
        Err(err) => list_page(&op, parts, &state, form, Refusal::of(err, LABELS)?).await,
    }
}

/// A row of a partner's users.
struct UserRow {
    email: String,
    created: String,
    password_set: Option<String>,
}

impl From<User> for UserRow {
    fn from(u: User) -> Self {
        UserRow {
            created: format::datetime(u.created_at),
            password_set: u.password_set_at.map(format::datetime),
            email: u.email,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_partner.html")]
struct PartnerPage {
    layout: Layout,
    id: String,
    name: String,
    vipps_msn: String,
    created: String,
    users: Vec<UserRow>,
    email: String,
    refusal: Refusal,
    read_only: Option<&'static str>,
}

impl PartnerPage {
    /// Where a user's New link button posts.
    fn relink(&self) -> String {
        format!("/console/partners/{}/users/link", self.id)
    }
}

async fn partner_page(
    op: &ConsoleOperator,
    parts: LayoutParts,
    state: &AppState,
    id: &str,
    email: String,
    refusal: Refusal,
) -> Result<Response, PortalError> {
    let (p, users) = service::partners::with_users(state, id).await?;
    let status = refusal.status;
    Ok(PartnerPage {
        layout: op.layout(parts, Nav::Partners),
        created: format::datetime(p.created_at),
        users: users.into_iter().map(UserRow::from).collect(),
        read_only: op.read_only_reason(),
        id: p.id,
        name: p.name,
        vipps_msn: p.vipps_msn,
        email,
        refusal,
    }
    .with_status(status)
    .into_response())
}

#[handler]
async fn partner(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    partner_page(&op, parts, &state, &id, String::new(), Refusal::none()).await
}

#[handler]
async fn invite(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<Invite>,
) -> Result<Response, PortalError> {
    let ctx = UserContext::of(&state);
    match service::users::create(&ctx, &op.actor(), &id, &form.email).await {
        Ok(made) => Ok(user_link_page(&op, parts, &id, made, "is created")),
        Err(err) => {
            let refusal = Refusal::of(err, LABELS)?;
            partner_page(&op, parts, &state, &id, form.email, refusal).await
        }
    }
}

/// `POST /console/partners/{id}/users/link`: a new link for one of the partner's users.
#[handler]
async fn new_link(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<Invite>,
) -> Result<Response, PortalError> {
    let ctx = UserContext::of(&state);
    match service::users::reset_link_of(&ctx, &op.actor(), Some(&id), &form.email).await {
        Ok(made) => Ok(user_link_page(
            &op,
            parts,
            &id,
            made,
            "has a new link; older unused links stop working",
        )),
        Err(err) => {
            let refusal = Refusal::of(err, LABELS)?;
            partner_page(&op, parts, &state, &id, String::new(), refusal).await
        }
    }
}

/// The page with a portal user's new link, shown once.
fn user_link_page(
    op: &ConsoleOperator,
    parts: LayoutParts,
    partner_id: &str,
    made: NewUser,
    done: &str,
) -> Response {
    let page = format!("/console/partners/{}", format::url_encode(partner_id));
    let email = made.account.email;
    ShownOnce {
        layout: op.layout(parts, Nav::Partners),
        title: format!("User {email}"),
        done: format!("The portal user {email} {done}."),
        facts: vec![
            ("Email", email),
            ("Link valid until", format::datetime(made.link_expires_at)),
        ],
        label: "Set-password link",
        secret: made.set_password_url,
        use_hint: "Send it to the user: following it sets their password and logs them in to \
                   the portal. It works once."
            .to_owned(),
        back: (page.clone(), "The partner".to_owned()),
        next: (page, "Back to the partner".to_owned()),
    }
    .into_response()
}
