//! Senders: the short number (or full MSISDN) a dialogue's keyword is texted to and replies
//! come from. Alphanumeric senders cannot receive messages, so they are refused.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenderError {
    #[error("is required")]
    Empty,
    #[error(
        "an alphanumeric sender cannot receive the keyword; use a short number such as 2160 or a phone number"
    )]
    Alphanumeric,
    #[error("must be a short number of 3–8 digits or a phone number in international format")]
    Format,
}

impl Sender {
    /// `"2160"` (3–8 digits) or `"+4791234567"` / `"4791234567"` (9–15 digits, stored with `+`).
    pub fn parse(text: &str) -> Result<Self, SenderError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SenderError::Empty);
        }
        let digits = text.strip_prefix('+').unwrap_or(text);
        if digits.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(SenderError::Alphanumeric);
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(SenderError::Format);
        }
        match digits.len() {
            3..=8 if !text.starts_with('+') => Ok(Sender(digits.to_owned())),
            9..=15 => Ok(Sender(format!("+{digits}"))),
            _ => Err(SenderError::Format),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers_and_msisdns() {
        assert_eq!(Sender::parse("2160").unwrap().as_str(), "2160");
        assert_eq!(
            Sender::parse("+4791234567").unwrap().as_str(),
            "+4791234567"
        );
        assert_eq!(Sender::parse("4791234567").unwrap().as_str(), "+4791234567");
        assert_eq!(Sender::parse("ACME"), Err(SenderError::Alphanumeric));
        assert_eq!(Sender::parse("21a0"), Err(SenderError::Alphanumeric));
        assert_eq!(Sender::parse("21"), Err(SenderError::Format));
        assert_eq!(Sender::parse("21-60"), Err(SenderError::Format));
        assert_eq!(Sender::parse(" "), Err(SenderError::Empty));
    }
}
