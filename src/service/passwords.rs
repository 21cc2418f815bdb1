//! Portal passwords: the rules a new one must meet, and Argon2id (the `argon2` crate's default
//! parameters) to hash and verify them, on the blocking pool: one hash takes tens of
//! milliseconds of CPU, too long for an async worker thread.

use std::sync::LazyLock;

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::service::FieldProblem;

/// Shortest accepted password, in characters.
pub const MIN_CHARS: usize = 12;
/// Longest accepted password, in characters (a bound on the work one login costs).
pub const MAX_CHARS: usize = 1000;

/// What is wrong with a new password and its confirmation; all problems at once, on the
/// fields `password` and `password_confirm`.
pub fn problems(password: &str, confirm: &str) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        problems.push(FieldProblem::new(
            "password",
            format!("must be at least {MIN_CHARS} characters"),
        ));
    } else if chars > MAX_CHARS {
        problems.push(FieldProblem::new(
            "password",
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    if password != confirm {
        problems.push(FieldProblem::new(
            "password_confirm",
            "does not match the password",
        ));
    }
    problems
}

/// The Argon2id PHC string (`$argon2id$v=19$…`) of `password`, with a random salt.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// A hash of no one's password: checking a login for an unknown user against it costs the
/// same time as for a known one, so the answer's timing does not tell which emails exist.
static NOBODY: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"no user has this password")
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Whether `password` matches `stored` (`None`: no password set, never a match, checked as
/// long as a real one).
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let (phc, real) = match &stored {
            Some(phc) => (phc.as_str(), true),
            None => (NOBODY.as_str(), false),
        };
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("a stored hash: {e}"))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(
            verify("correct horse battery".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".into(), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            !verify("no user has this password".into(), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn rules_name_every_field() {
        assert!(problems("twelve chars", "twelve chars").is_empty());
        let fields: Vec<String> = problems("short", "other")
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["password", "password_confirm"]);
        // Characters, not bytes: twelve letters æ count as twelve.
        assert!(problems(&"æ".repeat(12), &"æ".repeat(12)).is_empty());
    }
}
