//! What `base.html` shows around every page: the partner's name and the user's email with a
//! Log out button, the navigation, a flash message, and the CSRF token its forms and htmx
//! requests carry. A page template has a field `layout: Layout`; its handler takes the
//! [`LayoutParts`] extractor and turns it into one with [`LayoutParts::for_user`].

use poem::{FromRequest, Request, RequestBody, web::cookie::CookieJar};

use crate::{
    portal::{
        assets,
        cookies::CookiePolicy,
        csrf::CsrfToken,
        session::PortalUser,
        site::{self, Site},
    },
    state::AppState,
};

/// The header's account part.
#[derive(Debug, Clone)]
pub struct UserBar {
    /// Whom the account acts for: the partner's name, or the operator's role on the console.
    pub partner_name: String,
    pub email: String,
}

/// The sections of the portal, in the navigation's order. A new screen adds its entry here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dialogues,
    Messages,
    CrmGroups,
    Webhooks,
}

impl Nav {
    const ALL: [Nav; 4] = [Nav::Dialogues, Nav::Messages, Nav::CrmGroups, Nav::Webhooks];

    pub fn label(self) -> &'static str {
        match self {
            Nav::Dialogues => "Dialogues",
            Nav::Messages => "Messages",
            Nav::CrmGroups => "CRM groups",
            Nav::Webhooks => "Webhooks",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Nav::Dialogues => "/portal/",
            Nav::Messages => "/portal/messages",
            Nav::CrmGroups => "/portal/crm-groups",
            Nav::Webhooks => "/portal/webhooks",
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

impl NavLink {
    /// The links of a site's sections, in order, `current` marked: `(label, href)` of each.
    pub fn list<N: Copy + PartialEq>(
        all: &[N],
        current: N,
        link: impl Fn(N) -> (&'static str, &'static str),
    ) -> Vec<NavLink> {
        all.iter()
            .map(|&nav| {
                let (label, href) = link(nav);
                NavLink {
                    label,
                    href,
                    current: nav == current,
                }
            })
            .collect()
    }
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
    EndpointRemoved,
    ResendQueued,
    Paused,
    Resumed,
}

impl Flash {
    const ALL: [Flash; 13] = [
        Flash::LoggedOut,
        Flash::PasswordSet,
        Flash::SessionEnded,
        Flash::Saved,
        Flash::StopRequested,
        Flash::GroupCreated,
        Flash::TermsAdded,
        Flash::RefundRequested,
        Flash::CancelRequested,
        Flash::EndpointRemoved,
        Flash::ResendQueued,
        Flash::Paused,
        Flash::Resumed,
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
            Flash::EndpointRemoved => "endpoint_removed",
            Flash::ResendQueued => "resend_queued",
            Flash::Paused => "paused",
            Flash::Resumed => "resumed",
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
            Flash::EndpointRemoved => "The endpoint is removed. Events are no longer sent to it.",
            Flash::ResendQueued => {
                "Sent again: the delivery log shows the new attempts in a moment."
            }
            Flash::Paused => {
                "Paused. No payment is created for the skipped periods; the agreement stays active in Vipps."
            }
            Flash::Resumed => "Resumed. The next period is charged as usual.",
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
            | Flash::CancelRequested
            | Flash::EndpointRemoved
            | Flash::ResendQueued
            | Flash::Paused
            | Flash::Resumed => "success",
            Flash::LoggedOut | Flash::SessionEnded => "info",
        }
    }

    /// Shows this message on the next page this browser opens.
    pub fn set(self, jar: &CookieJar, policy: CookiePolicy) {
        jar.add(policy.cookie(policy.site().flash_cookie, self.code()));
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
    /// The portal or the console: the brand's link, the logout form, the navigation's name.
    pub site: &'static Site,
    /// A webhook endpoint of the partner's was switched off for failing (shown on every page).
    pub endpoints_switched_off: bool,
}

impl Layout {
    /// A page of `site` with only the brand (error pages, which have no forms).
    pub fn bare_of(site: &'static Site) -> Self {
        Self {
            user: None,
            nav: Vec::new(),
            flash: None,
            csrf_token: String::new(),
            site,
            endpoints_switched_off: false,
        }
    }

    pub fn stylesheet(&self) -> &'static str {
        assets::STYLESHEET
    }

    pub fn htmx(&self) -> &'static str {
        assets::HTMX
    }

    /// Our own script (the behaviours htmx does not give), for pages that need it.
    pub fn script(&self) -> &'static str {
        assets::SCRIPT
    }
}

/// The request's part of the layout: the CSRF token and the flash message (taken from its
/// cookie, so it shows once). An extractor.
#[derive(Debug, Clone)]
pub struct LayoutParts {
    pub csrf: CsrfToken,
    pub flash: Option<Flash>,
    pub site: &'static Site,
}

impl LayoutParts {
    /// A page for someone not logged in (login, set password).
    pub fn anonymous(self) -> Layout {
        Layout {
            user: None,
            nav: Vec::new(),
            flash: self.flash,
            csrf_token: self.csrf.as_str().to_owned(),
            site: self.site,
            endpoints_switched_off: false,
        }
    }

    /// A page of a logged-in account: its bar and the site's navigation links.
    pub fn logged_in(self, user: UserBar, nav: Vec<NavLink>) -> Layout {
        Layout {
            user: Some(user),
            nav,
            flash: self.flash,
            csrf_token: self.csrf.as_str().to_owned(),
            site: self.site,
            endpoints_switched_off: false,
        }
    }

    /// A page of `user`'s, in the section `current`.
    pub fn for_user(self, user: &PortalUser, current: Nav) -> Layout {
        let bar = UserBar {
            partner_name: user.partner.name.clone(),
            email: user.email.clone(),
        };
        let nav = NavLink::list(&Nav::ALL, current, |nav| (nav.label(), nav.href()));
        Layout {
            endpoints_switched_off: user.endpoints_switched_off,
            ..self.logged_in(bar, nav)
        }
    }
}

impl<'a> FromRequest<'a> for LayoutParts {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let csrf = CsrfToken::from_request(req, body).await?;
        let site = site::of(req);
        let jar = req.cookie();
        let flash = jar
            .get(site.flash_cookie)
            .and_then(|c| Flash::from_code(c.value_str()));
        if flash.is_some()
            && let Some(state) = req.data::<AppState>()
        {
            jar.add(CookiePolicy::for_site(state, site).removal(site.flash_cookie));
        }
        Ok(Self { csrf, flash, site })
    }
}
