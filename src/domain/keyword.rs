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

/// What an inbound SMS asks for, by its first word (case-insensitive, whitespace-normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundCommand {
    /// `STOPP`/`STOP`, optionally followed by a keyword.
    Stop,
    /// `HJELP`/`HELP`.
    Help,
    /// A dialogue keyword (uppercased), possibly unknown.
    Keyword(String),
    /// Nothing but whitespace.
    Empty,
}

/// Trims, turns control characters and no-break spaces into spaces, collapses runs of spaces,
/// and classifies the first word. `START` is treated as a keyword lookup (it is reserved, so it
/// matches no dialogue).
pub fn parse_inbound(text: &str) -> InboundCommand {
    let normalised: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let Some(first) = normalised.split_whitespace().next() else {
        return InboundCommand::Empty;
    };
    let word = first.to_uppercase();
    match word.as_str() {
        "STOPP" | "STOP" => InboundCommand::Stop,
        "HJELP" | "HELP" => InboundCommand::Help,
        _ => InboundCommand::Keyword(word),
    }
}

#[cfg(test)]
mod inbound_tests {
    use super::*;

    #[test]
    fn first_word_decides() {
        assert_eq!(
            parse_inbound("  give\u{a0} 100 "),
            InboundCommand::Keyword("GIVE".into())
        );
        assert_eq!(parse_inbound("Stopp give"), InboundCommand::Stop);
        assert_eq!(parse_inbound("STOP"), InboundCommand::Stop);
        assert_eq!(
            parse_inbound("stoppe"),
            InboundCommand::Keyword("STOPPE".into())
        );
        assert_eq!(parse_inbound("hjelp"), InboundCommand::Help);
        assert_eq!(parse_inbound("\t\n "), InboundCommand::Empty);
        assert_eq!(
            parse_inbound("støtte"),
            InboundCommand::Keyword("STØTTE".into())
        );
    }
}
