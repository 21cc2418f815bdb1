//! The Vipps confirmation link a keyword reply exists to carry. A reply with an empty link
//! costs the user an SMS and can never lead to an agreement, so the only way to write that
//! reply is [`link_reply`], which needs a [`ConfirmationUrl`]: a link that is there.

use super::sms_text::VIPPS_LINK_PLACEHOLDER;

/// Why a link reply cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Vipps gave no link, or an empty one.
    #[error("no Vipps confirmation URL (Vipps returned none or an empty one)")]
    Missing,
    /// Vipps gave something that is not a link.
    #[error("the Vipps confirmation URL {0:?} is not a URL")]
    NotAUrl(String),
    /// The reply template has no place for the link.
    #[error("the reply message has no {VIPPS_LINK_PLACEHOLDER} placeholder")]
    NoPlaceholder,
}

/// A non-empty `scheme://…` link without spaces (`https://…`, or the app's `vipps…://…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationUrl(String);

impl ConfirmationUrl {
    /// The link, if `url` is one.
    pub fn parse(url: Option<&str>) -> Result<Self, LinkError> {
        let url = url.map(str::trim).filter(|u| !u.is_empty());
        let Some(url) = url else {
            return Err(LinkError::Missing);
        };
        let scheme_ok = url.split_once("://").is_some_and(|(scheme, rest)| {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        if !scheme_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(LinkError::NotAUrl(url.to_owned()));
        }
        Ok(Self(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The dialogue's reply with its placeholder replaced by the link.
pub fn link_reply(template: &str, url: &ConfirmationUrl) -> Result<String, LinkError> {
    if !template.contains(VIPPS_LINK_PLACEHOLDER) {
        return Err(LinkError::NoPlaceholder);
    }
    Ok(template.replace(VIPPS_LINK_PLACEHOLDER, url.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_required() {
        assert_eq!(ConfirmationUrl::parse(None), Err(LinkError::Missing));
        assert_eq!(ConfirmationUrl::parse(Some("")), Err(LinkError::Missing));
        assert_eq!(ConfirmationUrl::parse(Some("  ")), Err(LinkError::Missing));
        for bad in [
            "landing/agr_1",
            "://x",
            "https://",
            "https://a b",
            "1http://x",
        ] {
            assert!(
                matches!(
                    ConfirmationUrl::parse(Some(bad)),
                    Err(LinkError::NotAUrl(_))
                ),
                "{bad}"
            );
        }
        for good in [
            "https://api.vipps.no/dwo-api-application/v1/deeplink/vippsgateway?v=2&token=x",
            "http://127.0.0.1:8080/landing/agr_1",
            "vippsMT://recurring?agreementId=agr_1",
        ] {
            assert_eq!(ConfirmationUrl::parse(Some(good)).unwrap().as_str(), good);
        }
    }

    #[test]
    fn the_reply_carries_the_link() {
        let url = ConfirmationUrl::parse(Some("https://vipps.no/c/1")).unwrap();
        assert_eq!(
            link_reply("Takk! {vipps_link} Send STOPP", &url).unwrap(),
            "Takk! https://vipps.no/c/1 Send STOPP"
        );
        assert_eq!(
            link_reply("Takk! Send STOPP", &url),
            Err(LinkError::NoPlaceholder)
        );
    }
}
