//! The CRM groups screen: `GET/POST /portal/crm-groups` lists the partner's groups (current
//! Terms and Conditions version, members, created) a page at a time and creates one by name;
//! `GET /portal/crm-groups/{id}` shows a group's current terms, every terms version and its
//! members with their consent (terms version, time, the keyword message that started it, the
//! agreement); `POST /portal/crm-groups/{id}/terms` adds the next terms version. Only groups
//! with terms are offered in the Create Dialogue form, whose CRM Group hint links here.

use askama::Template;
use askama_web::WebTemplate;
use poem::{
    IntoResponse, Request, Response, Route, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query, Redirect},
};
use serde::Deserialize;

use crate::{
    db::crm::{CrmGroup, Member, TermsVersion},
    portal::{
        cookies::CookiePolicy,
        errors::PortalError,
        format,
        forms::FieldErrors,
        layout::{Flash, Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        self, FieldProblem, ServiceError,
        crm::{MAX_NAME_CHARS, MAX_TERMS_CHARS},
        page::PageRequest,
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/crm-groups", poem::get(list).post(create))
        .at("/crm-groups/:id", poem::get(group))
        .at("/crm-groups/:id/terms", poem::post(add_terms))
}

/// The forms' fields and their labels, for the error summary.
const LABELS: &[(&str, &str)] = &[("name", "Name"), ("text", "Terms and Conditions")];

/// Rows per page of groups and of members.
const PAGE_ROWS: u32 = 50;

#[derive(Debug, Default, Deserialize)]
struct Cursor {
    cursor: Option<String>,
}

impl Cursor {
    fn page(&self) -> Result<PageRequest, PortalError> {
        let cursor = self.cursor.clone().filter(|c| !c.trim().is_empty());
        Ok(PageRequest::new(Some(PAGE_ROWS), cursor)?)
    }

    fn first(&self) -> bool {
        self.cursor.as_deref().is_none_or(|c| c.trim().is_empty())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewGroup {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewTerms {
    text: String,
}

/// A refusal shown next to its field (what was typed stays); any other error is a page.
fn field_errors(err: ServiceError) -> Result<FieldErrors, PortalError> {
    let problems = match err {
        ServiceError::Invalid(problems) => problems,
        ServiceError::Conflict {
            code: "name_taken",
            message,
        } => vec![FieldProblem::new("name", message)],
        err => return Err(err.into()),
    };
    Ok(FieldErrors::from(problems).labelled(LABELS))
}

/// A page shown again with its field errors: 422.
fn again(page: impl IntoResponse) -> Response {
    page.with_status(StatusCode::UNPROCESSABLE_ENTITY)
        .into_response()
}

/// After a change: to the group's page, with `flash` shown there.
fn to_group(req: &Request, state: &AppState, id: &str, flash: Flash) -> Response {
    flash.set(req.cookie(), CookiePolicy::of(state));
    Redirect::see_other(format!("/portal/crm-groups/{}", format::url_encode(id))).into_response()
}

/// `Version 2 of 02.12.2026 13:45:00`, or `None` for a group without terms.
fn terms_label(g: &CrmGroup) -> Option<String> {
    let version = g.terms_version?;
    let at = g.terms_created_at.map(format::datetime).unwrap_or_default();
    Some(format!("Version {version} of {at}"))
}

/// A row of the groups table.
struct GroupRow {
    id: String,
    name: String,
    terms: Option<String>,
    members: i64,
    created: String,
}

impl From<CrmGroup> for GroupRow {
    fn from(g: CrmGroup) -> Self {
        GroupRow {
            terms: terms_label(&g),
            created: format::datetime(g.created_at),
            members: g.member_count,
            id: g.id,
            name: g.name,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "crm_groups.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<GroupRow>,
    first_page: bool,
    next: Option<String>,
    /// The create form: what was typed and what is wrong with it.
    name: String,
    errors: FieldErrors,
    max_name: usize,
}

async fn list_page(
    state: &AppState,
    user: &PortalUser,
    parts: LayoutParts,
    at: &Cursor,
    name: String,
    errors: FieldErrors,
) -> Result<ListPage, PortalError> {
    let groups = service::crm::list(state, &user.actor(), None, &at.page()?).await?;
    let next = groups
        .next_cursor
        .map(|c| format!("/portal/crm-groups?cursor={}", format::url_encode(&c)));
    Ok(ListPage {
        layout: parts.for_user(user, Nav::CrmGroups),
        rows: groups.items.into_iter().map(GroupRow::from).collect(),
        first_page: at.first(),
        next,
        name,
        errors,
        max_name: MAX_NAME_CHARS,
    })
}

#[handler]
async fn list(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Query(at): Query<Cursor>,
) -> Result<ListPage, PortalError> {
    list_page(
        &state,
        &user,
        parts,
        &at,
        String::new(),
        FieldErrors::none(),
    )
    .await
}

#[handler]
async fn create(
    req: &Request,
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Form(form): Form<NewGroup>,
) -> Result<Response, PortalError> {
    match service::crm::create(&state, &user.actor(), &form.name).await {
        Ok(g) => Ok(to_group(req, &state, &g.id, Flash::GroupCreated)),
        Err(err) => {
            let errors = field_errors(err)?;
            let at = Cursor::default();
            Ok(again(
                list_page(&state, &user, parts, &at, form.name, errors).await?,
            ))
        }
    }
}

/// The current terms, shown above the versions.
struct Current {
    version: i32,
    at: String,
    text: String,
}

/// A row of the versions list.
struct VersionRow {
    version: i32,
    at: String,
    author: String,
    text: String,
}

/// Who wrote a terms version: the portal user's email, or the API key.
fn author(created_by: &str) -> String {
    match created_by.strip_prefix("user:") {
        Some(email) => email.to_owned(),
        None => "API key".to_owned(),
    }
}

impl From<TermsVersion> for VersionRow {
    fn from(t: TermsVersion) -> Self {
        VersionRow {
            version: t.version,
            at: format::datetime(t.created_at),
            author: author(&t.created_by),
            text: t.text,
        }
    }
}

/// A member's agreement, linked to its card on its dialogue's page when the dialogue is known.
struct AgreementLink {
    id: String,
    href: Option<String>,
}

/// A row of the members table: the consent record.
struct MemberRow {
    phone: String,
    terms_version: i32,
    joined: String,
    left: String,
    left_reason: String,
    message_id: Option<String>,
    agreement: Option<AgreementLink>,
}

impl From<Member> for MemberRow {
    fn from(m: Member) -> Self {
        let dialogue = m.dialogue_id;
        let agreement = m.agreement_id.map(|id| AgreementLink {
            href: dialogue
                .as_deref()
                .map(|d| format!("/portal/dialogues/{d}#agreement-{id}")),
            id,
        });
        MemberRow {
            phone: m.phone,
            terms_version: m.terms_version,
            joined: format::datetime(m.joined_at),
            left: m.left_at.map(format::datetime).unwrap_or_default(),
            left_reason: m.left_reason.unwrap_or_default().replace('_', " "),
            message_id: m.inbound_message_id,
            agreement,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "crm_group.html")]
struct GroupPage {
    layout: Layout,
    id: String,
    name: String,
    created: String,
    member_count: i64,
    current: Option<Current>,
    versions: Vec<VersionRow>,
    /// The new version's text: the current one, or what was typed.
    draft: String,
    errors: FieldErrors,
    max_terms: usize,
    members: Vec<MemberRow>,
    first_page: bool,
    next: Option<String>,
}

async fn group_page(
    state: &AppState,
    user: &PortalUser,
    parts: LayoutParts,
    id: &str,
    at: &Cursor,
    typed: Option<String>,
    errors: FieldErrors,
) -> Result<GroupPage, PortalError> {
    let o = service::crm::overview(state, &user.actor(), id, &at.page()?).await?;
    let g = o.group;
    let current = g.terms_version.map(|version| Current {
        version,
        at: g.terms_created_at.map(format::datetime).unwrap_or_default(),
        text: g.terms_text.clone().unwrap_or_default(),
    });
    let next = o.members.next_cursor.map(|c| {
        format!(
            "/portal/crm-groups/{}?cursor={}#members",
            format::url_encode(&g.id),
            format::url_encode(&c)
        )
    });
    Ok(GroupPage {
        layout: parts.for_user(user, Nav::CrmGroups),
        draft: typed.unwrap_or_else(|| g.terms_text.clone().unwrap_or_default()),
        created: format::datetime(g.created_at),
        member_count: g.member_count,
        versions: o.terms.into_iter().map(VersionRow::from).collect(),
        members: o.members.items.into_iter().map(MemberRow::from).collect(),
        first_page: at.first(),
        max_terms: MAX_TERMS_CHARS,
        id: g.id,
        name: g.name,
        current,
        errors,
        next,
    })
}

#[handler]
async fn group(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    Query(at): Query<Cursor>,
) -> Result<GroupPage, PortalError> {
    group_page(&state, &user, parts, &id, &at, None, FieldErrors::none()).await
}

#[handler]
async fn add_terms(
    req: &Request,
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    Path(id): Path<String>,
    Form(form): Form<NewTerms>,
) -> Result<Response, PortalError> {
    match service::crm::add_terms(&state, &user.actor(), &id, &form.text).await {
        Ok(_) => Ok(to_group(req, &state, &id, Flash::TermsAdded)),
        Err(err) => {
            let errors = field_errors(err)?;
            let at = Cursor::default();
            let page = group_page(&state, &user, parts, &id, &at, Some(form.text), errors);
            Ok(again(page.await?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versions_author_is_the_users_email_or_the_api_key() {
        assert_eq!(author("user:ann@example.org"), "ann@example.org");
        assert_eq!(author("partner"), "API key");
        assert_eq!(author("partner:01HX"), "API key");
    }
}
