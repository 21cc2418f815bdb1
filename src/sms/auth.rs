//! Authentication of the gateways' posts to us: a bearer token (our generic protocol) or HTTP
//! Basic (LINK gates). Comparisons are constant-time (over SHA-256 digests, so neither the
//! position of the first difference nor the length leaks), and an empty configured secret
//! refuses everything: a webhook is never open by accident.

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Equality of two secrets in time independent of their contents.
pub fn secrets_equal(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The credentials part of an `Authorization` value whose scheme is `scheme` (case-insensitive).
fn credentials<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let header = header.trim();
    let (given_scheme, rest) = header.split_once(' ')?;
    given_scheme
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim())
}

/// `Authorization: Bearer <token>` equals `expected`. False when the header is missing or
/// malformed, or when `expected` is empty.
pub fn check_bearer(header_value: Option<&str>, expected: &SecretString) -> bool {
    let expected = expected.expose_secret();
    if expected.is_empty() {
        return false;
    }
    let Some(token) = header_value.and_then(|h| credentials(h, "Bearer")) else {
        return false;
    };
    secrets_equal(token.as_bytes(), expected.as_bytes())
}

/// `Authorization: Basic base64(user:password)` matches. False when the header is missing or
/// malformed, or when the expected username or password is empty. Both parts are always
/// compared, so timing does not tell which one was wrong.
pub fn check_basic(
    header_value: Option<&str>,
    expected_username: &str,
    expected_password: &SecretString,
) -> bool {
    let expected_password = expected_password.expose_secret();
    if expected_username.is_empty() || expected_password.is_empty() {
        return false;
    }
    let Some(encoded) = header_value.and_then(|h| credentials(h, "Basic")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|b| *b == b':') else {
        return false;
    };
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    let user_ok = secrets_equal(user, expected_username.as_bytes());
    let password_ok = secrets_equal(password, expected_password.as_bytes());
    user_ok & password_ok
}

/// The `Authorization` value for HTTP Basic (for clients and tests).
pub fn basic_header(username: &str, password: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    format!("Basic {encoded}")
}

/// The `Authorization` value for a bearer token.
pub fn bearer_header(token: &str) -> String {
    format!("Bearer {token}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn bearer() {
        let expected = secret("s3cret-token");
        assert!(check_bearer(Some("Bearer s3cret-token"), &expected));
        assert!(check_bearer(Some("bearer   s3cret-token "), &expected));
        assert!(!check_bearer(Some("Bearer s3cret-tokeN"), &expected));
        assert!(!check_bearer(Some("Bearer s3cret-token2"), &expected));
        assert!(!check_bearer(Some("Basic s3cret-token"), &expected));
        assert!(!check_bearer(Some("s3cret-token"), &expected));
        assert!(!check_bearer(Some("Bearer "), &expected));
        assert!(!check_bearer(None, &expected));
        // An empty configured token refuses everything, even an empty presented one.
        assert!(!check_bearer(Some("Bearer "), &secret("")));
        assert!(!check_bearer(Some("Bearer x"), &secret("")));
    }

    #[test]
    fn basic() {
        let pw = secret("pa:ss");
        let good = basic_header("link", "pa:ss");
        assert!(check_basic(Some(&good), "link", &pw));
        assert!(check_basic(
            Some(&good.replace("Basic", "BASIC")),
            "link",
            &pw
        ));
        assert!(!check_basic(
            Some(&basic_header("link", "pa:sx")),
            "link",
            &pw
        ));
        assert!(!check_basic(
            Some(&basic_header("lin", "pa:ss")),
            "link",
            &pw
        ));
        assert!(!check_basic(Some("Basic !!!notbase64"), "link", &pw));
        assert!(!check_basic(Some("Basic bGluaw=="), "link", &pw)); // "link", no colon
        assert!(!check_basic(
            Some(&good.replace("Basic", "Bearer")),
            "link",
            &pw
        ));
        assert!(!check_basic(None, "link", &pw));
        assert!(!check_basic(Some(&basic_header("", "")), "", &secret("")));
        assert!(!check_basic(
            Some(&basic_header("link", "")),
            "link",
            &secret("")
        ));
        assert!(!check_basic(Some(&basic_header("", "pa:ss")), "", &pw));
    }

    proptest! {
        #[test]
        fn arbitrary_headers_never_panic_or_pass(h in any::<String>()) {
            prop_assert!(!check_bearer(Some(&h), &secret("the-real-token-123")));
            prop_assert!(!check_basic(Some(&h), "user", &secret("the-real-password")));
        }
    }
}
