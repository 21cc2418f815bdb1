//! Webhook request signing (HMAC-SHA256), exactly as Vipps documents it:
//!
//! ```text
//! content = base64(sha256(body))
//! string  = "POST\n" + path_and_query + "\n" + x-ms-date + ";" + host + ";" + content
//! sig     = base64(hmac_sha256(key = secret as UTF-8, not base64-decoded, string))
//! Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<sig>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const AUTH_PREFIX: &str = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=";

/// The three signature headers of a delivery, as received.
#[derive(Debug, Clone, Copy)]
pub struct WebhookHeaders<'a> {
    /// `x-ms-date`.
    pub date: &'a str,
    /// `x-ms-content-sha256`.
    pub content_sha256: &'a str,
    /// `Authorization` (or `X-Vipps-Authorization` when a proxy strips `Authorization`).
    pub authorization: &'a str,
}

/// Headers produced by [`sign_webhook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub date: String,
    pub content_sha256: String,
    pub authorization: String,
}

/// Why a delivery was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("x-ms-content-sha256 does not match the body")]
    ContentHashMismatch,
    #[error("Authorization header is not an HMAC-SHA256 signature")]
    MalformedAuthorization,
    #[error("signature does not match")]
    SignatureMismatch,
    #[error("webhook secret is empty")]
    EmptySecret,
    #[error("x-ms-date is missing or not an HTTP date")]
    BadDate,
    #[error("x-ms-date is more than {0} s away from our clock (a replay, or a clock that is off)")]
    StaleDate(u64),
}

/// `base64(sha256(body))`.
pub fn content_hash(body: &[u8]) -> String {
    B64.encode(Sha256::digest(body))
}

fn mac(
    secret: &str,
    method: &str,
    path_and_query: &str,
    host: &str,
    date: &str,
    hash: &str,
) -> HmacSha256 {
    let string_to_sign = format!("{method}\n{path_and_query}\n{date};{host};{hash}");
    let mut m = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    m.update(string_to_sign.as_bytes());
    m
}

/// Signs a delivery (used by the simulator). `host` is the authority of the registered URL
/// (with a non-default port), `date` an RFC 1123 date.
pub fn sign_webhook(
    secret: &str,
    method: &str,
    path_and_query: &str,
    host: &str,
    date: &str,
    body: &[u8],
) -> SignedHeaders {
    let hash = content_hash(body);
    let sig = B64.encode(
        mac(secret, method, path_and_query, host, date, &hash)
            .finalize()
            .into_bytes(),
    );
    SignedHeaders {
        date: date.to_owned(),
        content_sha256: hash,
        authorization: format!("{AUTH_PREFIX}{sig}"),
    }
}

/// Verifies a delivery against the secret returned at registration. `path_and_query` and
/// `host` are those of the registered URL; `body` the raw bytes. Constant-time comparison.
pub fn verify_webhook(
    secret: &str,
    method: &str,
    path_and_query: &str,
    host: &str,
    headers: &WebhookHeaders<'_>,
    body: &[u8],
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let hash = content_hash(body);
    if hash.as_bytes() != headers.content_sha256.trim().as_bytes() {
        return Err(SignatureError::ContentHashMismatch);
    }
    let sig_b64 = headers
        .authorization
        .trim()
        .strip_prefix(AUTH_PREFIX)
        .ok_or(SignatureError::MalformedAuthorization)?;
    let sig = B64
        .decode(sig_b64)
        .map_err(|_| SignatureError::MalformedAuthorization)?;
    mac(secret, method, path_and_query, host, headers.date, &hash)
        .verify_slice(&sig)
        .map_err(|_| SignatureError::SignatureMismatch)
}

/// Checks that a delivery's signed `x-ms-date` lies within `max_skew` of `now`, either way.
/// The date is part of the signed string, so an old delivery replayed as-is fails here. Vipps
/// does not document a window; each (re)delivery is signed anew, so a generous one (minutes)
/// costs nothing. A zero `max_skew` turns the check off.
pub fn check_date(
    date: &str,
    now: std::time::SystemTime,
    max_skew: std::time::Duration,
) -> Result<(), SignatureError> {
    if max_skew.is_zero() {
        return Ok(());
    }
    let at = httpdate::parse_http_date(date.trim()).map_err(|_| SignatureError::BadDate)?;
    let skew = match now.duration_since(at) {
        Ok(behind) => behind,
        Err(ahead) => ahead.duration(),
    };
    if skew > max_skew {
        return Err(SignatureError::StaleDate(max_skew.as_secs()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The official test vector (vipps-recurring.md §11.4).
    const SECRET: &str =
        "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A==";
    const HOST: &str = "webhook.site";
    const PATH: &str = "/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63";
    const DATE: &str = "Thu, 30 Mar 2023 08:38:32 GMT";
    const BODY: &[u8] =
        br#"{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}"#;
    const HASH: &str = "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4=";
    const AUTH: &str = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U=";

    fn headers() -> WebhookHeaders<'static> {
        WebhookHeaders {
            date: DATE,
            content_sha256: HASH,
            authorization: AUTH,
        }
    }

    #[test]
    fn official_vector_signs_and_verifies() {
        let s = sign_webhook(SECRET, "POST", PATH, HOST, DATE, BODY);
        assert_eq!(s.content_sha256, HASH);
        assert_eq!(s.authorization, AUTH);
        assert_eq!(
            verify_webhook(SECRET, "POST", PATH, HOST, &headers(), BODY),
            Ok(())
        );
    }

    #[test]
    fn tampering_is_detected() {
        let tampered =
            br#"{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-worle"}"#;
        assert_eq!(
            verify_webhook(SECRET, "POST", PATH, HOST, &headers(), tampered),
            Err(SignatureError::ContentHashMismatch)
        );
        // Body tampered and hash recomputed by the attacker: the signature still fails.
        let h = content_hash(tampered);
        let forged = WebhookHeaders {
            content_sha256: &h,
            ..headers()
        };
        assert_eq!(
            verify_webhook(SECRET, "POST", PATH, HOST, &forged, tampered),
            Err(SignatureError::SignatureMismatch)
        );
        let wrong_date = WebhookHeaders {
            date: "Thu, 30 Mar 2023 08:38:33 GMT",
            ..headers()
        };
        assert_eq!(
            verify_webhook(SECRET, "POST", PATH, HOST, &wrong_date, BODY),
            Err(SignatureError::SignatureMismatch)
        );
        assert_eq!(
            verify_webhook(SECRET, "POST", PATH, "evil.example", &headers(), BODY),
            Err(SignatureError::SignatureMismatch)
        );
        assert_eq!(
            verify_webhook(SECRET, "POST", "/other", HOST, &headers(), BODY),
            Err(SignatureError::SignatureMismatch)
        );
        assert_eq!(
            verify_webhook("not-the-secret", "POST", PATH, HOST, &headers(), BODY),
            Err(SignatureError::SignatureMismatch)
        );
        assert_eq!(
            verify_webhook("", "POST", PATH, HOST, &headers(), BODY),
            Err(SignatureError::EmptySecret)
        );
    }

    #[test]
    fn base64_decoded_key_gives_the_wrong_signature() {
        let decoded = B64.decode(SECRET).unwrap();
        let mut m = HmacSha256::new_from_slice(&decoded).unwrap();
        m.update(format!("POST\n{PATH}\n{DATE};{HOST};{HASH}").as_bytes());
        let sig = B64.encode(m.finalize().into_bytes());
        assert!(sig.starts_with("T3+NXHMm"), "{sig}");
    }

    #[test]
    fn malformed_authorization() {
        let bad = WebhookHeaders {
            authorization: "Bearer abc",
            ..headers()
        };
        assert_eq!(
            verify_webhook(SECRET, "POST", PATH, HOST, &bad, BODY),
            Err(SignatureError::MalformedAuthorization)
        );
        let bad = WebhookHeaders {
            authorization: "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=!!!",
            ..headers()
        };
        assert_eq!(
            verify_webhook(SECRET, "POST", PATH, HOST, &bad, BODY),
            Err(SignatureError::MalformedAuthorization)
        );
    }

    #[test]
    fn dates_outside_the_window_are_refused() {
        use std::time::{Duration, SystemTime};
        let now = httpdate::parse_http_date(DATE).unwrap();
        let window = Duration::from_secs(900);
        assert_eq!(check_date(DATE, now, window), Ok(()));
        let later = |s| httpdate::fmt_http_date(now + Duration::from_secs(s));
        let earlier = |s| httpdate::fmt_http_date(now - Duration::from_secs(s));
        assert_eq!(check_date(&earlier(900), now, window), Ok(()));
        assert_eq!(check_date(&later(899), now, window), Ok(()));
        assert_eq!(
            check_date(&earlier(901), now, window),
            Err(SignatureError::StaleDate(900))
        );
        assert_eq!(
            check_date(&later(3600), now, window),
            Err(SignatureError::StaleDate(900))
        );
        assert_eq!(check_date("", now, window), Err(SignatureError::BadDate));
        assert_eq!(
            check_date("yesterday", now, window),
            Err(SignatureError::BadDate)
        );
        assert_eq!(
            check_date("", SystemTime::UNIX_EPOCH, Duration::ZERO),
            Ok(()),
            "a zero window turns the check off"
        );
    }
}
