//! The use cases, shared by every front end: the JSON API (`http`) and the portal call these
//! functions and only parse input and render output around them, so the same data gives the
//! same answer in both. A function here checks the rules, writes in one transaction with its
//! audit record, enqueues the jobs it causes, and answers with rows or a [`ServiceError`].
//!
//! Layers: `service` reads [`AppState`](crate::state::AppState) and calls `db` and `domain`;
//! it never names `http`, `worker` or `app`.

pub mod agreements;
pub mod crm;
pub mod dialogues;
pub mod export;
pub mod ingest;
pub mod jobs;
pub mod messages;
pub mod objects;
pub mod operations;
pub mod operators;
pub mod page;
pub mod partners;
pub mod passwords;
pub mod refunds;
pub mod sessions;
pub mod stats;
pub mod try_it;
pub mod users;
pub mod webhooks;

use crate::db::partners::Partner;

/// Why a use case refused or failed. Front ends map these to their own answers (the API to
/// 400/404/409/422/500, the portal to a message next to the field).
#[derive(Debug)]
pub enum ServiceError {
    /// Input that is not a request at all (a bad period, a bad page size).
    BadInput(String),
    /// No such object, or it belongs to another partner (the same answer, so ids leak nothing).
    NotFound(&'static str),
    /// The request conflicts with the current state; `code` is stable and machine-readable.
    Conflict { code: &'static str, message: String },
    /// Well-formed but breaks rules: every bad field at once.
    Invalid(Vec<FieldProblem>),
    /// Something on our side; details for the log, never for the user.
    Internal(anyhow::Error),
}

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl ServiceError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldProblem::new(field, message)])
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadInput(m) => write!(f, "bad input: {m}"),
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::Conflict { code, message } => write!(f, "{code}: {message}"),
            Self::Invalid(fields) => {
                let names: Vec<&str> = fields.iter().map(|p| p.field.as_str()).collect();
                write!(f, "invalid fields: {}", names.join(", "))
            }
            Self::Internal(err) => write!(f, "internal error: {err:#}"),
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(err: sqlx::Error) -> Self {
        if crate::db::is_unique_violation(&err) {
            return Self::conflict("conflict", "the request conflicts with existing data");
        }
        Self::Internal(err.into())
    }
}

impl From<crate::db::enqueue::EnqueueError> for ServiceError {
    fn from(err: crate::db::enqueue::EnqueueError) -> Self {
        Self::Internal(err.into())
    }
}

impl From<anyhow::Error> for ServiceError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// The partner a request acts for, and who it is in the audit log.
#[derive(Debug, Clone)]
pub struct PartnerActor {
    pub partner: Partner,
    /// The audit log's actor: `partner` for the API key, `user:{email}` for a portal user.
    pub actor: String,
}

impl PartnerActor {
    /// The partner's API key (the JSON API).
    pub fn api_key(partner: Partner) -> Self {
        Self {
            partner,
            actor: "partner".to_owned(),
        }
    }

    /// A portal user of the partner; the audit log's actor is [`user_actor`].
    pub fn portal_user(partner: Partner, email: &str) -> Self {
        Self {
            partner,
            actor: user_actor(email),
        }
    }

    pub fn partner_id(&self) -> &str {
        &self.partner.id
    }

    /// An audit record of this actor's action on one of the partner's objects.
    pub fn audit<'a>(
        &'a self,
        action: &'a str,
        target_type: &'a str,
        target_id: &'a str,
    ) -> crate::db::audit::NewAudit<'a> {
        crate::db::audit::NewAudit {
            actor: &self.actor,
            partner_id: Some(&self.partner.id),
            action,
            target_type,
            target_id,
            details: None,
        }
    }
}

/// The audit log's name for a portal user: `user:{email}`.
pub fn user_actor(email: &str) -> String {
    format!("user:{email}")
}

/// An operator acting through the admin API, the CLI or the console.
#[derive(Debug, Clone)]
pub struct OperatorActor {
    /// The audit log's actor: `operator` for the API's operator key, `operator:cli`,
    /// `operator:{email}` for an operator of the console.
    pub actor: String,
    /// A read-only operator of the console: every change is refused.
    pub read_only: bool,
}

impl OperatorActor {
    /// A holder of full rights known by `actor` (the API key, the CLI).
    pub fn named(actor: &str) -> Self {
        Self {
            actor: actor.to_owned(),
            read_only: false,
        }
    }

    /// An operator of the console; the audit log's actor is [`operator_actor`].
    pub fn console(email: &str, read_only: bool) -> Self {
        Self {
            actor: operator_actor(email),
            read_only,
        }
    }

    /// Refuses a change by a read-only operator.
    pub fn may_change(&self) -> ServiceResult<()> {
        if self.read_only {
            return Err(ServiceError::conflict(
                "read_only",
                "a read-only operator cannot change anything",
            ));
        }
        Ok(())
    }
}

/// The audit log's name for an operator of the console: `operator:{email}`.
pub fn operator_actor(email: &str) -> String {
    format!("operator:{email}")
}
