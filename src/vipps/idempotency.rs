//! The `Idempotency-Key` header value. Every POST/PATCH/DELETE of the client takes one, so a
//! call without a key does not compile, and a malformed key cannot be built.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A validated idempotency key: 1–40 characters, none of `#`, `?`, `/`, `\`, no control
/// characters or whitespace (it travels in an HTTP header).
///
/// Derive it from your own ids (for example `format!("{charge_id}-create")`) so that a retry
/// sends the same value.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

/// Why a string is not a valid idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("idempotency key must not be empty")]
    Empty,
    #[error("idempotency key is {0} characters long; the maximum is 40")]
    TooLong(usize),
    #[error("idempotency key contains the forbidden character {0:?}")]
    ForbiddenChar(char),
}

impl IdempotencyKey {
    /// Maximum length accepted by Vipps.
    pub const MAX_LEN: usize = 40;

    /// Validates and wraps `value`.
    pub fn new(value: impl Into<String>) -> Result<Self, IdempotencyKeyError> {
        let value = value.into();
        let len = value.chars().count();
        if len == 0 {
            return Err(IdempotencyKeyError::Empty);
        }
        if len > Self::MAX_LEN {
            return Err(IdempotencyKeyError::TooLong(len));
        }
        if let Some(c) = value
            .chars()
            .find(|c| matches!(c, '#' | '?' | '/' | '\\') || c.is_whitespace() || c.is_control())
        {
            return Err(IdempotencyKeyError::ForbiddenChar(c));
        }
        Ok(Self(value))
    }

    /// A fresh random key (a ULID, 26 characters), for one-off operator actions.
    pub fn random() -> Self {
        Self(ulid::Ulid::new().to_string())
    }

    /// The key as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IdempotencyKey {
    type Err = IdempotencyKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for IdempotencyKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_shapes() {
        assert!(IdempotencyKey::new("chr-123-create").is_ok());
        assert!(IdempotencyKey::new("a".repeat(40)).is_ok());
        assert_eq!(IdempotencyKey::random().as_str().len(), 26);
    }

    #[test]
    fn rejects_empty_long_and_forbidden() {
        assert_eq!(IdempotencyKey::new(""), Err(IdempotencyKeyError::Empty));
        assert_eq!(
            IdempotencyKey::new("a".repeat(41)),
            Err(IdempotencyKeyError::TooLong(41))
        );
        for bad in ["a#b", "a?b", "a/b", "a\\b", "a b"] {
            assert!(
                matches!(
                    IdempotencyKey::new(bad),
                    Err(IdempotencyKeyError::ForbiddenChar(_))
                ),
                "{bad}"
            );
        }
        assert!("x/y".parse::<IdempotencyKey>().is_err());
        assert!(serde_json::from_str::<IdempotencyKey>("\"a?\"").is_err());
    }
}
