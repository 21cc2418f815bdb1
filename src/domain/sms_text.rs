//! SMS text: GSM-7 or UCS-2, length in the encoding's units, and the number of segments.
//!
//! GSM 03.38: the basic table is one septet per character (æ ø å Æ Ø Å included), the
//! extension table (€ [ ] { } | ^ ~ \ and form feed) two. A single character outside both makes
//! the whole message UCS-2, counted in UTF-16 code units (an emoji is 2). One segment holds 160
//! septets / 70 units; split messages carry a header and hold 153 / 67 per part.

/// The `{vipps_link}` placeholder the portal's "Add Vipps link" button inserts.
pub const VIPPS_LINK_PLACEHOLDER: &str = "{vipps_link}";

/// A realistic `vippsConfirmationUrl` length (Vipps returns
/// `https://pay.vipps.no/recurring/agreement/…/confirm?token=…`; measured links are 80–100
/// characters). Used to count a reply's segments before the real link exists.
pub const VIPPS_LINK_LENGTH: usize = 96;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// What a text costs to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub length: usize,
    pub encoding: Encoding,
    pub segments: usize,
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED: &str = "\u{000C}^{}\\[~]|€";

/// Septets of `c` in GSM-7, or `None` when it is not in the alphabet.
fn gsm_septets(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Encoding, length and segments of `text`.
pub fn analyze(text: &str) -> MessageInfo {
    let gsm: Option<usize> = text.chars().map(gsm_septets).sum();
    let (length, encoding, single, part) = match gsm {
        Some(septets) => (septets, Encoding::Gsm7, 160, 153),
        None => (text.encode_utf16().count(), Encoding::Ucs2, 70, 67),
    };
    let segments = match length {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(part),
    };
    MessageInfo {
        length,
        encoding,
        segments,
    }
}

/// [`analyze`] of a reply template with the placeholder replaced by a link of realistic length.
pub fn reply_info(template: &str) -> MessageInfo {
    let link = "x".repeat(VIPPS_LINK_LENGTH);
    analyze(&template.replace(VIPPS_LINK_PLACEHOLDER, &link))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norwegian_letters_are_gsm7() {
        let info = analyze("Blåbær og rømme");
        assert_eq!(info.encoding, Encoding::Gsm7);
        assert_eq!(info.length, 15);
        assert_eq!(info.segments, 1);
    }

    #[test]
    fn boundaries_of_segments() {
        assert_eq!(analyze(&"a".repeat(160)).segments, 1);
        assert_eq!(analyze(&"a".repeat(161)).segments, 2);
        assert_eq!(analyze(&"a".repeat(306)).segments, 2);
        assert_eq!(analyze(&"a".repeat(307)).segments, 3);
        assert_eq!(analyze("").segments, 0);
    }

    #[test]
    fn extension_characters_count_twice() {
        let info = analyze("Pris: 100€ {ok}");
        assert_eq!(info.encoding, Encoding::Gsm7);
        assert_eq!(info.length, 12 + 3 * 2);
        assert_eq!(analyze(&"€".repeat(80)).segments, 1);
        assert_eq!(analyze(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn one_emoji_makes_it_ucs2() {
        let info = analyze("Takk 🙏");
        assert_eq!(info.encoding, Encoding::Ucs2);
        assert_eq!(info.length, 7, "the emoji is two UTF-16 units");
        assert_eq!(analyze(&format!("{}🙏", "a".repeat(68))).segments, 1);
        assert_eq!(analyze(&format!("{}🙏", "a".repeat(69))).segments, 2);
        assert_eq!(analyze(&"ж".repeat(134)).segments, 2);
        assert_eq!(analyze(&"ж".repeat(135)).segments, 3);
    }

    #[test]
    fn the_link_placeholder_is_counted_at_link_length() {
        let info = reply_info("Takk! Bli fast giver: {vipps_link}");
        assert_eq!(info.length, 22 + VIPPS_LINK_LENGTH);
        assert_eq!(info.segments, 1);
    }
}
