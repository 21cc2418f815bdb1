//! What the console's forms share: a [`Refusal`] (a service's "no" as the page shows it: field
//! problems next to their fields, or a message above the form) and the [`ShownOnce`] page that
//! shows a secret (an API key, a set-password link) the one time it exists in clear text.

use askama::Template;
use askama_web::WebTemplate;
use poem::http::StatusCode;

use crate::{
    portal::{errors::PortalError, forms::FieldErrors, layout::Layout},
    service::{FieldProblem, ServiceError},
};

/// A refused form: what to show and with which status.
pub struct Refusal {
    pub errors: FieldErrors,
    /// A refusal that is no field's (a read-only operator).
    pub message: Option<String>,
    pub status: StatusCode,
}

impl Refusal {
    /// A form not (yet) refused.
    pub fn none() -> Self {
        Self {
            errors: FieldErrors::none(),
            message: None,
            status: StatusCode::OK,
        }
    }

    /// The refusal in `err`, its fields named by `labels`: invalid fields and a taken email
    /// are 422 next to their fields, other conflicts 409 above the form; anything else is an
    /// error page.
    pub fn of(
        err: ServiceError,
        labels: &'static [(&'static str, &'static str)],
    ) -> Result<Self, PortalError> {
        let (problems, message, status) = match err {
            ServiceError::Invalid(problems) => (problems, None, StatusCode::UNPROCESSABLE_ENTITY),
            ServiceError::Conflict {
                code: "email_taken",
                message,
            } => (
                vec![FieldProblem::new("email", message)],
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            ServiceError::Conflict { message, .. } => (
                Vec::new(),
                Some(format!("Not done: {message}.")),
                StatusCode::CONFLICT,
            ),
            err => return Err(err.into()),
        };
        Ok(Self {
            errors: FieldErrors::from(problems).labelled(labels),
            message,
            status,
        })
    }
}

/// A link on a page: `(href, label)`.
pub type Link = (String, String);

/// The page after creating something that has a secret: shown once, never again (only its hash
/// is kept). `no-store` (every page's) keeps it out of the browser's cache.
#[derive(Template, WebTemplate)]
#[template(path = "console_shown_once.html")]
pub struct ShownOnce {
    pub layout: Layout,
    pub title: String,
    /// What was done, as a sentence.
    pub done: String,
    /// What was created: `(label, value)`.
    pub facts: Vec<(&'static str, String)>,
    /// What the secret is (`API key`, `Set-password link`).
    pub label: &'static str,
    pub secret: String,
    /// What to do with the secret.
    pub use_hint: String,
    pub back: Link,
    pub next: Link,
}
