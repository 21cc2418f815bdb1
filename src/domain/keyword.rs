//! Keywords: what a mobile user texts to a short number.

/// Words with a fixed meaning on every short number; no dialogue may use them.
pub const RESERVED: [&str; 5] = ["STOPP", "STOP", "HJELP", "HELP", "START"];

/// A valid keyword, stored uppercase (matching is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keyword(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeywordError {
    #[error("must be 3–30 characters")]
    Length,
    #[error("only letters (A–Z, Æ, Ø, Å) and digits, no spaces")]
    Charset,
    #[error("{0} is reserved for stop and help messages")]
    Reserved(String),
}

impl Keyword {
    /// Letters A–Z, Æ Ø Å and digits, 3–30 characters; not a reserved word.
    pub fn parse(text: &str) -> Result<Self, KeywordError> {
        let upper = text.trim().to_uppercase();
        let len = upper.chars().count();
        if !(3..=30).contains(&len) {
            return Err(KeywordError::Length);
        }
        if !upper
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, 'Æ' | 'Ø' | 'Å'))
        {
            return Err(KeywordError::Charset);
        }
        if RESERVED.contains(&upper.as_str()) {
            return Err(KeywordError::Reserved(upper));
        }
        Ok(Keyword(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_uppercased_and_checked() {
        assert_eq!(Keyword::parse("give").unwrap().as_str(), "GIVE");
        assert_eq!(Keyword::parse(" Støtte2 ").unwrap().as_str(), "STØTTE2");
        assert_eq!(Keyword::parse("GI"), Err(KeywordError::Length));
        assert_eq!(Keyword::parse(&"K".repeat(31)), Err(KeywordError::Length));
        assert_eq!(Keyword::parse("GI VE"), Err(KeywordError::Charset));
        assert_eq!(Keyword::parse("GIVE!"), Err(KeywordError::Charset));
        for word in ["stopp", "Stop", "HJELP", "help", "start"] {
            assert!(
                matches!(Keyword::parse(word), Err(KeywordError::Reserved(_))),
                "{word}"
            );
        }
    }
}
