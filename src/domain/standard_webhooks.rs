//! Signing the webhooks we send to partners' systems as the Standard Webhooks specification
//! says (<https://www.standardwebhooks.com>):
//!
//! ```text
//! webhook-id:        the event's id (the same on every attempt and every resend)
//! webhook-timestamp: seconds since the Unix epoch, when this attempt was signed
//! webhook-signature: "v1," + base64(hmac_sha256(key = base64-decoded secret after "whsec_",
//!                                               id + "." + timestamp + "." + body))
//! ```
//!
//! A receiver recomputes the signature over the raw body, compares in constant time, and
//! refuses timestamps far from its clock (replays); duplicates are recognised by `webhook-id`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a signing secret as shown to the partner.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// How far a timestamp may be from the receiver's clock ([`verify`]).
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// An endpoint's signing secret: `whsec_` and the base64 of its key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

/// Why a secret or a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("a signing secret starts with whsec_ followed by base64")]
    MalformedSecret,
    #[error("the webhook-timestamp is not a number of seconds")]
    MalformedTimestamp,
    #[error("the webhook-timestamp is more than five minutes from now")]
    StaleTimestamp,
    #[error("no v1 signature in webhook-signature matches")]
    Mismatch,
}

impl SigningSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        Self {
            key: (0..SECRET_BYTES).map(|_| rand::random::<u8>()).collect(),
        }
    }

    /// Reads `whsec_…` as stored and shown.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SignatureError::MalformedSecret)?;
        let key = B64
            .decode(encoded)
            .map_err(|_| SignatureError::MalformedSecret)?;
        if key.is_empty() {
            return Err(SignatureError::MalformedSecret);
        }
        Ok(Self { key })
    }

    /// `whsec_…`, as stored and shown once to the partner.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", B64.encode(tag))
    }

    /// Checks the three headers of a delivery against the raw body, as a receiver does:
    /// the timestamp within [`TOLERANCE_SECS`] of `now_secs`, and one of the space-separated
    /// `v1,` signatures matching (compared in constant time).
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), SignatureError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::MalformedTimestamp)?;
        if (now_secs - ts).abs() > TOLERANCE_SECS {
            return Err(SignatureError::StaleTimestamp);
        }
        let matched = signatures
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| B64.decode(s).ok())
            .any(|tag| self.mac(id, ts, body).verify_slice(&tag).is_ok());
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries: this secret, id, timestamp and
    /// body sign to this value.
    #[test]
    fn the_specifications_example_signs_to_its_value() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        secret
            .verify(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                "v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                body,
                1614265330 + 60,
            )
            .unwrap();
    }

    #[test]
    fn a_changed_body_a_stale_timestamp_or_another_secret_is_refused() {
        let secret = SigningSecret::generate();
        let signature = secret.sign("msg_1", 1_000_000, b"{}");
        assert_eq!(
            secret.verify("msg_1", "1000000", &signature, b"{ }", 1_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            secret.verify("msg_2", "1000000", &signature, b"{}", 1_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            secret.verify("msg_1", "1000000", &signature, b"{}", 1_000_000 + 301),
            Err(SignatureError::StaleTimestamp)
        );
        assert_eq!(
            secret.verify("msg_1", "soon", &signature, b"{}", 1_000_000),
            Err(SignatureError::MalformedTimestamp)
        );
        assert_eq!(
            SigningSecret::generate().verify("msg_1", "1000000", &signature, b"{}", 1_000_000),
            Err(SignatureError::Mismatch)
        );
        assert!(
            secret
                .verify("msg_1", "1000000", &signature, b"{}", 1_000_000)
                .is_ok()
        );
    }

    #[test]
    fn a_secret_reads_back_from_what_is_shown() {
        let secret = SigningSecret::generate();
        let shown = secret.expose();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&shown).unwrap(), secret);
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningSecret::parse("whsec_").is_err());
        assert!(SigningSecret::parse("whsec_not base64!").is_err());
        assert!(!format!("{secret:?}").contains(&shown[6..]));
    }
}
