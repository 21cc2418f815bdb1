//! Form helpers: [`FieldErrors`] holds a service's field problems for the template, which
//! shows each next to its field (`forms.html`'s `input` macro) and all of them in a summary at
//! the top, with what was typed kept in the fields.

use crate::service::FieldProblem;

/// The invalid fields of a form, by field name.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(Vec<FieldProblem>);

impl FieldErrors {
    pub fn none() -> Self {
        Self::default()
    }

    /// The message for `field`, if it is invalid.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldProblem> {
        self.0.iter()
    }
}

impl From<Vec<FieldProblem>> for FieldErrors {
    fn from(problems: Vec<FieldProblem>) -> Self {
        Self(problems)
    }
}
