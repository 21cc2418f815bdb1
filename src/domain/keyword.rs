//! Keywords: what a mobile user texts to a short number.

/// Words with a fixed meaning on every short number; no dialogue may use them.
pub const RESERVED: [&str; 6] = ["STOPP", "STOP", "HJELP", "HELP", "START", "PAUSE"];

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
        for word in ["stopp", "Stop", "HJELP", "help", "start", "Pause"] {
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
    /// `PAUSE`, optionally followed by how many periods (1 when none is given).
    Pause(PausePeriods),
    /// `START`: an early end to a pause.
    Start,
    /// A dialogue keyword (uppercased), possibly unknown.
    Keyword(String),
    /// Nothing but whitespace.
    Empty,
}

/// Trims, turns control characters and no-break spaces into spaces, collapses runs of spaces,
/// and classifies the first word.
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
    let mut words = normalised.split_whitespace();
    let Some(first) = words.next() else {
        return InboundCommand::Empty;
    };
    let word = first.to_uppercase();
    match word.as_str() {
        "STOPP" | "STOP" => InboundCommand::Stop,
        "HJELP" | "HELP" => InboundCommand::Help,
        "PAUSE" => InboundCommand::Pause(PausePeriods::of(words.next())),
        "START" => InboundCommand::Start,
        _ => InboundCommand::Keyword(word),
    }
}

/// A pause asks for at most this many periods.
pub const MAX_PAUSE_PERIODS: u32 = 12;

/// How many periods `PAUSE` asks to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePeriods {
    /// 1 to [`MAX_PAUSE_PERIODS`].
    Periods(u32),
    /// Not a number in that range (`PAUSE 0`, `PAUSE 99`, `PAUSE mai`): nothing is paused.
    OutOfRange,
}

impl PausePeriods {
    fn of(word: Option<&str>) -> Self {
        match word.map(str::parse::<u32>) {
            None => Self::Periods(1),
            Some(Ok(n)) if (1..=MAX_PAUSE_PERIODS).contains(&n) => Self::Periods(n),
            Some(_) => Self::OutOfRange,
        }
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
        assert_eq!(parse_inbound("start"), InboundCommand::Start);
    }

    #[test]
    fn pause_takes_an_optional_number_of_periods() {
        let pause = |n| InboundCommand::Pause(PausePeriods::Periods(n));
        assert_eq!(parse_inbound("pause"), pause(1));
        assert_eq!(parse_inbound("Pause 3 takk"), pause(3));
        assert_eq!(parse_inbound("PAUSE 12"), pause(12));
        for text in ["pause 0", "pause 13", "pause mai", "pause -1"] {
            assert_eq!(
                parse_inbound(text),
                InboundCommand::Pause(PausePeriods::OutOfRange),
                "{text}"
            );
        }
    }
}
