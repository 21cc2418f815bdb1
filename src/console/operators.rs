//! The Operators screen: `GET /console/operators`, every operator (email, read-only, created,
//! last login) and the form that creates one (`POST`; the one-time set-password link is shown
//! once on the page after); `POST /console/operators/link`, a new link for an existing
//! operator (their older unused links stop working). On [`service::operators`], as the CLI's
//! `operator create` and `operator reset-link`.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Response, Route, handler,
    web::{Data, Form},
};
use serde::Deserialize;

use crate::{
    console::{
        forms::{Refusal, ShownOnce},
        session::{ConsoleOperator, Nav},
    },
    db::operators::{Operator, OperatorSummary},
    portal::{
        errors::PortalError,
        format,
        layout::{Layout, LayoutParts},
    },
    service::{self, users::NewAccount, users::UserContext},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/operators", poem::get(list).post(create))
        .at("/operators/link", poem::post(new_link))
}

const LABELS: &[(&str, &str)] = &[("email", "Email")];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewOperator {
    email: String,
    /// The checkbox: present (`yes`) when ticked.
    read_only: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LinkFor {
    email: String,
}

/// A row of the operators table.
struct OperatorRow {
    email: String,
    read_only: bool,
    created: String,
    password_set: bool,
    last_login: Option<String>,
    /// The signed-in operator's own row.
    me: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_operators.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<OperatorRow>,
    form: NewOperator,
    refusal: Refusal,
    read_only: Option<&'static str>,
}

async fn list_page(
    op: &ConsoleOperator,
    parts: LayoutParts,
    state: &AppState,
    form: NewOperator,
    refusal: Refusal,
) -> Result<Response, PortalError> {
    let rows = service::operators::list(&UserContext::of(state)).await?;
    let row = |s: OperatorSummary| OperatorRow {
        me: s.operator.id == op.operator.id,
        created: format::datetime(s.operator.created_at),
        password_set: s.operator.password_set_at.is_some(),
        last_login: s.last_login_at.map(format::datetime),
        read_only: s.operator.read_only,
        email: s.operator.email,
    };
    let status = refusal.status;
    Ok(ListPage {
        layout: op.layout(parts, Nav::Operators),
        rows: rows.into_iter().map(row).collect(),
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
    list_page(&op, parts, &state, NewOperator::default(), Refusal::none()).await
}

/// The page with an operator's new link, shown once.
fn link_page(
    op: &ConsoleOperator,
    parts: LayoutParts,
    made: NewAccount<Operator>,
    done: &str,
) -> Response {
    let email = made.account.email;
    let role = if made.account.read_only {
        "Read-only: sees everything, changes nothing"
    } else {
        "Full: may retry, cancel, create and run"
    };
    ShownOnce {
        layout: op.layout(parts, Nav::Operators),
        title: format!("Operator {email}"),
        done: format!("The operator {email} {done}."),
        facts: vec![
            ("Email", email),
            ("Rights", role.to_owned()),
            ("Link valid until", format::datetime(made.link_expires_at)),
        ],
        label: "Set-password link",
        secret: made.set_password_url,
        use_hint: "Send it to the operator: following it sets their password and logs them in \
                   to the console. It works once."
            .to_owned(),
        back: ("/console/operators".to_owned(), "Operators".to_owned()),
        next: (
            "/console/operators".to_owned(),
            "Back to the operators".to_owned(),
        ),
    }
    .into_response()
}

#[handler]
async fn create(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Form(form): Form<NewOperator>,
) -> Result<Response, PortalError> {
    let ctx = UserContext::of(&state);
    let read_only = form.read_only.is_some();
    match service::operators::create(&ctx, &op.actor(), &form.email, read_only).await {
        Ok(made) => Ok(link_page(&op, parts, made, "is created")),
        Err(err) => list_page(&op, parts, &state, form, Refusal::of(err, LABELS)?).await,
    }
}

#[handler]
async fn new_link(
    op: ConsoleOperator,
    parts: LayoutParts,
    state: Data<&AppState>,
    Form(form): Form<LinkFor>,
) -> Result<Response, PortalError> {
    let ctx = UserContext::of(&state);
    match service::operators::reset_link(&ctx, &op.actor(), &form.email).await {
        Ok(made) => Ok(link_page(
            &op,
            parts,
            made,
            "has a new link; older unused links stop working",
        )),
        Err(err) => {
            let refusal = Refusal::of(err, LABELS)?;
            list_page(&op, parts, &state, NewOperator::default(), refusal).await
        }
    }
}
