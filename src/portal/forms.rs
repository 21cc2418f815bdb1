//! Form helpers: [`FieldErrors`] holds a service's field problems for the template, which
//! shows each next to its field (`forms.html`'s `input` macro) and all of them in a summary at
//! the top, with what was typed kept in the fields.

use crate::service::FieldProblem;

/// The invalid fields of a form, by field name, and the labels the summary names them by.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors {
    problems: Vec<FieldProblem>,
    labels: &'static [(&'static str, &'static str)],
}

impl FieldErrors {
    pub fn none() -> Self {
        Self::default()
    }

    /// Names the fields in the summary by their labels, `(field, label)`, as the form shows them.
    pub fn labelled(mut self, labels: &'static [(&'static str, &'static str)]) -> Self {
        self.labels = labels;
        self
    }

    /// The label of `field` (its name when it has none).
    pub fn label<'a>(&self, field: &'a str) -> &'a str {
        self.labels
            .iter()
            .find(|(name, _)| *name == field)
            .map_or(field, |(_, label)| label)
    }

    /// The message for `field`, if it is invalid.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldProblem> {
        self.problems.iter()
    }
}

impl From<Vec<FieldProblem>> for FieldErrors {
    fn from(problems: Vec<FieldProblem>) -> Self {
        Self {
            problems,
            labels: &[],
        }
    }
}
