//! `POST /accesstoken/get` response.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{de_opt_u64_flex, de_u64_flex};

/// `AuthorizationTokenResponse`. Vipps documents every value as a JSON string; numbers are
/// accepted too. `Debug` hides the token.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessTokenResponse {
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(deserialize_with = "de_u64_flex")]
    pub expires_in: u64,
    #[serde(default, deserialize_with = "de_opt_u64_flex")]
    pub ext_expires_in: Option<u64>,
    /// Unix epoch seconds.
    #[serde(default, deserialize_with = "de_opt_u64_flex")]
    pub expires_on: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64_flex")]
    pub not_before: Option<u64>,
    #[serde(default)]
    pub resource: Option<String>,
    pub access_token: String,
}

impl fmt::Debug for AccessTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenResponse")
            .field("expires_in", &self.expires_in)
            .field("expires_on", &self.expires_on)
            .field("access_token", &"[REDACTED]")
            .finish()
    }
}

/// The documented wire form: all values as strings.
#[derive(Debug, Clone, Serialize)]
pub struct AccessTokenWire {
    pub token_type: String,
    pub expires_in: String,
    pub ext_expires_in: String,
    pub expires_on: String,
    pub not_before: String,
    pub resource: String,
    pub access_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_and_number_forms_parse() {
        let s: AccessTokenResponse = serde_json::from_str(
            r#"{"token_type":"Bearer","expires_in":"86398","ext_expires_in":"0",
                "expires_on":"1547823408","not_before":"1547736708","resource":"x",
                "access_token":"eyJ0"}"#,
        )
        .unwrap();
        assert_eq!(s.expires_in, 86398);
        assert_eq!(s.expires_on, Some(1547823408));
        let n: AccessTokenResponse = serde_json::from_str(
            r#"{"token_type":"Bearer","expires_in":3600,"expires_on":1547823408,"access_token":"t"}"#,
        )
        .unwrap();
        assert_eq!(n.expires_in, 3600);
        assert_eq!(n.expires_on, Some(1547823408));
        assert_eq!(n.not_before, None);
        assert!(!format!("{n:?}").contains("\"t\""));
        assert!(
            serde_json::from_str::<AccessTokenResponse>(
                r#"{"expires_in":"soon","access_token":"t"}"#
            )
            .is_err()
        );
    }
}
