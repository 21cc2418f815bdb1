//! Closed sets of values that are stored and sent as text (statuses, actors, outcomes,
//! periods): [`text_enum!`] declares one with its exact spelling, and reading any other text is
//! an [`UnknownValue`] error naming it, never a fallback value.

/// A text that is not one of the values of a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected one of {expected})")]
pub struct UnknownValue {
    /// What was being read, e.g. `agreement status`.
    pub kind: &'static str,
    /// The text as found.
    pub value: String,
    /// The known values, comma-separated.
    pub expected: String,
}

/// Declares a `Copy` enum whose values are written as fixed texts: `as_str()`, `ALL`,
/// `FromStr`/`TryFrom<&str>` (an [`UnknownValue`] for anything else) and `Display`. No
/// `Default`: there is no value to fall back on.
///
/// ```ignore
/// text_enum! {
///     /// Doc.
///     pub enum Colour as "colour" { Red => "RED", Blue => "BLUE" }
/// }
/// ```
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $kind:literal {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The text this value is stored and sent as.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::text_enum::UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::domain::text_enum::UnknownValue {
                        kind: $kind,
                        value: other.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::domain::text_enum::UnknownValue;

            fn try_from(text: &str) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    text_enum! {
        /// A test set.
        enum Colour as "colour" { Red => "RED", DarkBlue => "DARK_BLUE" }
    }

    #[test]
    fn values_round_trip_and_others_are_named_in_the_error() {
        for c in Colour::ALL {
            assert_eq!(c.as_str().parse::<Colour>(), Ok(*c));
            assert_eq!(Colour::try_from(c.as_str()), Ok(*c));
            assert_eq!(c.to_string(), c.as_str());
        }
        let err = "red".parse::<Colour>().unwrap_err();
        assert_eq!(err.value, "red");
        assert_eq!(
            err.to_string(),
            "unknown colour \"red\" (expected one of RED, DARK_BLUE)"
        );
        assert!(Colour::try_from("").is_err());
    }
}
