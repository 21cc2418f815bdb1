//! The logged-in operator: [`ConsoleOperator`] is the extractor every console screen takes,
//! on the portal's session functions with the console's cookie. Without an operator session a
//! page is sent to the console's login; a partner user's session (even one sent on purpose)
//! gets 404: the console does not exist for partners.

use poem::{FromRequest, Request, RequestBody};

use crate::{
    db::operators::Operator,
    portal::{
        errors::PortalError,
        layout::{Layout, LayoutParts, NavLink, UserBar},
        session,
        site::PORTAL,
    },
    service::{self, OperatorActor},
    state::AppState,
};

/// An operator with a valid console session.
#[derive(Debug, Clone)]
pub struct ConsoleOperator {
    pub operator: Operator,
}

impl ConsoleOperator {
    /// Who acts, for the service layer and its audit log (`operator:{email}`).
    pub fn actor(&self) -> OperatorActor {
        OperatorActor::console(&self.operator.email, self.operator.read_only)
    }

    /// Why a control is disabled, for a read-only operator; `None` when it is not.
    pub fn read_only_reason(&self) -> Option<&'static str> {
        self.operator.read_only.then_some(
            "You are a read-only operator: you can look at everything and change nothing.",
        )
    }

    /// A console page in the section `current`.
    pub fn layout(&self, parts: LayoutParts, current: Nav) -> Layout {
        let role = if self.operator.read_only {
            "Operator (read-only)"
        } else {
            "Operator"
        };
        let bar = UserBar {
            partner_name: role.to_owned(),
            email: self.operator.email.clone(),
        };
        let nav = NavLink::list(&Nav::ALL, current, |nav| (nav.label(), nav.href()));
        parts.logged_in(bar, nav)
    }
}

/// The console's sections, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Jobs,
    Partners,
    Billing,
    Audit,
    Operators,
}

impl Nav {
    const ALL: [Nav; 6] = [
        Nav::Overview,
        Nav::Jobs,
        Nav::Partners,
        Nav::Billing,
        Nav::Audit,
        Nav::Operators,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Nav::Overview => "Overview",
            Nav::Jobs => "Jobs",
            Nav::Partners => "Partners",
            Nav::Billing => "Billing",
            Nav::Audit => "Audit log",
            Nav::Operators => "Operators",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Nav::Overview => "/console/",
            Nav::Jobs => "/console/jobs",
            Nav::Partners => "/console/partners",
            Nav::Billing => "/console/billing",
            Nav::Audit => "/console/audit",
            Nav::Operators => "/console/operators",
        }
    }
}

/// Whether the request carries a partner user's valid portal session.
async fn is_partner_user(req: &Request, state: &AppState) -> Result<bool, PortalError> {
    let Some(cookie) = req.cookie().get(PORTAL.session_cookie) else {
        return Ok(false);
    };
    let found = service::sessions::resolve(state, cookie.value_str()).await?;
    Ok(found.is_some())
}

impl<'a> FromRequest<'a> for ConsoleOperator {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = session::state(req)?;
        if let Some(token) = session::cookie_token(req) {
            return match service::sessions::resolve_operator(state, &token).await {
                Ok(Some(operator)) => Ok(ConsoleOperator { operator }),
                Ok(None) => Err(session::ended(req, state)),
                Err(err) => Err(PortalError::from(err).into()),
            };
        }
        if is_partner_user(req, state).await? {
            return Err(PortalError::NotFound.into());
        }
        Err(session::to_login(req))
    }
}
