//! What `base.html` shows around every page: the partner's name and the user's email with a
//! Log out button, the navigation, a flash message, and the CSRF token its forms and htmx
//! requests carry. A page template has a field `layout: Layout`; its handler takes the
//! [`LayoutParts`] extractor and turns it into one with [`LayoutParts::for_user`].

use poem::{FromRequest, Request, RequestBody, web::cookie::CookieJar};

use crate::{
    portal::{assets, cookies::CookiePolicy, csrf::CsrfToken, session::PortalUser},
    state::AppState,
};

/// The header's account part.
#[derive(Debug, Clone)]
pub struct UserBar {
    pub partner_name: String,
    pub email: String,
}

/// The sections of the portal, in the navigation's order. A new screen adds its entry here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dialogues,
    Messages,
    CrmGroups,
}

impl Nav {
    const ALL: [Nav; 3] = [Nav::Dialogues, Nav::Messages, Nav::CrmGroups];

    pub fn label(self) -> &'static str {
        match self {
            Nav::Dialogues => "Dialogues",
            Nav::Messages => "Messages",
            Nav::CrmGroups => "CRM groups",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Nav::Dialogues => "/portal/",
            Nav::Messages => "/portal/messages",
            Nav::CrmGroups => "/portal/crm-groups",
        }
    }
}

/// One navigation link; `current` is marked `aria-current="page"`.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// A message shown once on the next page (after a redirect). A fixed list: the cookie carries
/// only a code, so nobody can make the portal show a text of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flash {
    LoggedOut,
    PasswordSet,
    SessionEnded,
    Saved,
    StopRequested,
    GroupCreated,
    TermsAdded,
    RefundRequested,
    CancelRequested,
}

/// The flash cookie.
pub const FLASH_COOKIE: &str = "portal_flash";

impl Flash {
    const ALL: [Flash; 9] = [
        Flash::LoggedOut,
        Flash::PasswordSet,
        Flash::SessionEnded,
        Flash::Saved,
        Flash::StopRequested,
        Flash::GroupCreated,
        Flash::TermsAdded,
        Flash::RefundRequested,
        Flash::CancelRequested,
    ];

    fn code(self) -> &'static str {
        match self {
            Flash::LoggedOut => "logged_out",
            Flash::PasswordSet => "password_set",
            Flash::SessionEnded => "session_ended",
            Flash::Saved => "saved",
            Flash::StopRequested => "stop_requested",
            Flash::GroupCreated => "group_created",
            Flash::TermsAdded => "terms_added",
            Flash::RefundRequested => "refund_requested",
            Flash::CancelRequested => "cancel_requested",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Flash::LoggedOut => "You are logged out.",
            Flash::PasswordSet => "Your password is set, and you are logged in.",
            Flash::SessionEnded => "Your session ended. Log in again to go on.",
            Flash::Saved => "Saved.",
            Flash::StopRequested => {
                "Stop requested. The agreement stops at Vipps in a moment; payments not yet taken are cancelled."
            }
            Flash::GroupCreated => {
                "The CRM group is created. Add its Terms and Conditions to offer it in a dialogue."
            }
            Flash::TermsAdded => {
                "The new terms version is saved. New members consent to it; members keep the \
                 version they consented to."
            }
            Flash::RefundRequested => {
                "Refund requested. Vipps carries it out in a moment; the payment history shows its progress."
            }
            Flash::CancelRequested => {
                "Cancel requested. The payment is cancelled in Vipps in a moment and is not taken."
            }
        }
    }

    /// `success` or `info`: the CSS class `flash-{kind}`.
    pub fn kind(self) -> &'static str {
        match self {
            Flash::PasswordSet
            | Flash::Saved
            | Flash::StopRequested
            | Flash::GroupCreated
            | Flash::TermsAdded
            | Flash::RefundRequested
            | Flash::CancelRequested => "success",
            Flash::LoggedOut | Flash::SessionEnded => "info",
        }
    }

    /// Shows this message on the next page this browser opens.
    pub fn set(self, jar: &CookieJar, policy: CookiePolicy) {
        jar.add(policy.cookie(FLASH_COOKIE, self.code()));
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// Everything `base.html` reads.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `None` on the login pages and error pages: no account bar, no navigation.
    pub user: Option<UserBar>,
    pub nav: Vec<NavLink>,
    pub flash: Option<Flash>,
    pub csrf_token: String,
}

impl Layout {
    /// A page with only the brand (error pages, which have no forms).
    pub fn bare() -> Self {
        Self {
            user: None,
            nav: Vec::new(),
            flash: None,
            csrf_token: String::new(),
        }
    }

    pub fn stylesheet(&self) -> &'static str {
        assets::STYLESHEET
    }

    pub fn htmx(&self) -> &'static str {
        assets::HTMX
    }
}

/// The request's part of the layout: the CSRF token and the flash message (taken from its
/// cookie, so it shows once). An extractor.
#[derive(Debug, Clone)]
pub struct LayoutParts {
    pub csrf: CsrfToken,
    pub flash: Option<Flash>,
}

impl LayoutParts {
    /// A page for someone not logged in (login, set password).
    pub fn anonymous(self) -> Layout {
        Layout {
            user: None,
            nav: Vec::new(),
            flash: self.flash,
            csrf_token: self.csrf.as_str().to_owned(),
        }
    }

    /// A page of `user`'s, in the section `current`.
    pub fn for_user(self, user: &PortalUser, current: Nav) -> Layout {
        Layout {
            user: Some(UserBar {
                partner_name: user.partner.name.clone(),
                email: user.email.clone(),
            }),
            nav: Nav::ALL
                .into_iter()
                .map(|nav| NavLink {
                    label: nav.label(),
                    href: nav.href(),
                    current: nav == current,
                })
                .collect(),
            flash: self.flash,
            csrf_token: self.csrf.as_str().to_owned(),
        }
    }
}

impl<'a> FromRequest<'a> for LayoutParts {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let csrf = CsrfToken::from_request(req, body).await?;
        let jar = req.cookie();
        let flash = jar
            .get(FLASH_COOKIE)
            .and_then(|c| Flash::from_code(c.value_str()));
        if flash.is_some()
            && let Some(state) = req.data::<AppState>()
        {
            jar.add(CookiePolicy::of(state).removal(FLASH_COOKIE));
        }
        Ok(Self { csrf, flash })
    }
}
