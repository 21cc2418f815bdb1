//! SMS text: GSM-7 or UCS-2, length in the encoding's units, and the number of segments.
//!
//! GSM 03.38: the basic table is one septet per character (æ ø å Æ Ø Å included), the
//! extension table (€ [ ] { } | ^ ~ \ and form feed) two: ESC and the character. A single
//! character outside both makes the whole message UCS-2, counted in UTF-16 code units (an emoji
//! outside the BMP is a surrogate pair, 2 units).
//!
//! # Segments
//!
//! A text that fits one SMS (160 septets / 70 units) is one segment. A longer one is sent
//! concatenated: every part carries a header and holds at most 153 septets / 67 units. Gateways
//! never split an escape sequence (ESC + character) or a surrogate pair across two parts: when
//! the next character's septets / units do not fit in the part being filled, that part is
//! closed short and the character starts the next one. So the count is not `length / 153`:
//! 152 × `a` + `€` + 152 × `a` (306 septets) is three parts (152, 153, 1), not two. [`analyze`]
//! fills parts character by character exactly that way, and it is the one place that counts
//! segments: the dialogue API's `reply_message_info` ([`reply_info`]), the `segments` stored on
//! a message row (and so the number of parts whose delivery reports make it delivered), the
//! outbox log and the fake gateway's per-part reports all come from it.
//!
//! Emoji sequences (ZWJ sequences such as 👨‍👩‍👧, flags made of two regional indicators,
//! skin-tone modifiers, variation selectors): we keep only the surrogate pair together, not the
//! grapheme cluster. That is what gateways and SMSCs do (they split on UTF-16 code-unit
//! boundaries that do not break a surrogate pair), so a flag or a ZWJ sequence may straddle
//! two parts; the phone joins the parts before it shows the message, so the reader still sees
//! one emoji. Counting clusters would under- or over-state what the gateway bills.
//!
//! We never split a text ourselves: LINK is sent `dcs` `TEXT` (the gateway encodes and
//! splits) and the generic gateway is given the whole text; [`analyze`] predicts what they do.
//! The per-part sizes assume the usual 8-bit concatenation reference (6-byte header); a gateway
//! using the 16-bit one would fit 152 / 66 per part.

use std::ops::Range;

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

/// Septets of a GSM-7 message sent as one SMS.
const GSM7_SINGLE: usize = 160;
/// UTF-16 units of a UCS-2 message sent as one SMS.
const UCS2_SINGLE: usize = 70;
/// Septets per part of a concatenated GSM-7 message (the header takes the rest of 140 bytes).
const GSM7_PART: usize = 153;
/// UTF-16 units per part of a concatenated UCS-2 message.
const UCS2_PART: usize = 67;

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

impl Encoding {
    /// The encoding `text` is sent in and its length in that encoding's units.
    fn of(text: &str) -> (Encoding, usize) {
        match text.chars().map(gsm_septets).sum::<Option<usize>>() {
            Some(septets) => (Encoding::Gsm7, septets),
            None => (Encoding::Ucs2, text.encode_utf16().count()),
        }
    }

    /// Units of a single SMS and of one part of a concatenated message.
    fn limits(self) -> (usize, usize) {
        match self {
            Encoding::Gsm7 => (GSM7_SINGLE, GSM7_PART),
            Encoding::Ucs2 => (UCS2_SINGLE, UCS2_PART),
        }
    }

    /// Units of `c`, which are never split across parts (ESC + character, a surrogate pair).
    fn units(self, c: char) -> usize {
        match self {
            // Only asked for characters of a text that `of` found to be GSM-7.
            Encoding::Gsm7 => gsm_septets(c).unwrap_or(2),
            Encoding::Ucs2 => c.len_utf16(),
        }
    }
}

/// The parts a gateway sends `text` (of `length` units in `encoding`) in, as byte ranges of
/// `text` that cover it in order: one part when it fits a single SMS, otherwise parts filled
/// character by character, a part closed early when the next character's units do not fit.
fn part_ranges(text: &str, encoding: Encoding, length: usize) -> Vec<Range<usize>> {
    let (single, per_part) = encoding.limits();
    if length == 0 {
        return Vec::new();
    }
    if length <= single {
        #[allow(clippy::single_range_in_vec_init)] // one part: the whole text
        return vec![0..text.len()];
    }
    let mut parts = Vec::with_capacity(length.div_ceil(per_part) + 1);
    let (mut start, mut filled) = (0, 0);
    for (i, c) in text.char_indices() {
        let units = encoding.units(c);
        if filled + units > per_part {
            parts.push(start..i);
            (start, filled) = (i, 0);
        }
        filled += units;
    }
    parts.push(start..text.len());
    parts
}

/// Encoding, length and segments of `text`: the one segment count of the service (see the
/// module documentation for the rules).
pub fn analyze(text: &str) -> MessageInfo {
    let (encoding, length) = Encoding::of(text);
    MessageInfo {
        length,
        encoding,
        segments: part_ranges(text, encoding, length).len(),
    }
}

/// [`analyze`] of a reply template with the placeholder replaced by a link of realistic length.
pub fn reply_info(template: &str) -> MessageInfo {
    let link = "x".repeat(VIPPS_LINK_LENGTH);
    analyze(&template.replace(VIPPS_LINK_PLACEHOLDER, &link))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The units (septets / UTF-16 units) of each part `analyze` counts.
    fn part_units(text: &str) -> Vec<usize> {
        let (encoding, length) = Encoding::of(text);
        part_ranges(text, encoding, length)
            .into_iter()
            .map(|r| text[r].chars().map(|c| encoding.units(c)).sum())
            .collect()
    }

    /// `n` × `s`.
    fn r(s: &str, n: usize) -> String {
        s.repeat(n)
    }

    /// Checks encoding, length, segments and the units of every part.
    #[track_caller]
    fn check(text: &str, encoding: Encoding, length: usize, parts: &[usize]) {
        let info = analyze(text);
        assert_eq!(info.encoding, encoding, "encoding");
        assert_eq!(info.length, length, "length");
        assert_eq!(part_units(text), parts, "units per part");
        assert_eq!(info.segments, parts.len(), "segments");
    }

    #[test]
    fn norwegian_letters_are_gsm7() {
        let info = analyze("Blåbær og rømme");
        assert_eq!(info.encoding, Encoding::Gsm7);
        assert_eq!(info.length, 15);
        assert_eq!(info.segments, 1);
    }

    #[test]
    fn empty_text_is_no_segment() {
        check("", Encoding::Gsm7, 0, &[]);
    }

    #[test]
    fn gsm7_single_sms_and_part_boundaries() {
        check(&r("a", 1), Encoding::Gsm7, 1, &[1]);
        check(&r("a", 153), Encoding::Gsm7, 153, &[153]);
        check(&r("a", 160), Encoding::Gsm7, 160, &[160]);
        check(&r("a", 161), Encoding::Gsm7, 161, &[153, 8]);
        for k in 2..=7 {
            assert_eq!(analyze(&r("a", 153 * k)).segments, k, "153 × {k}");
            assert_eq!(
                analyze(&r("a", 153 * k + 1)).segments,
                k + 1,
                "153 × {k} + 1"
            );
            assert_eq!(analyze(&r("a", 153 * k - 1)).segments, k, "153 × {k} - 1");
        }
        check(&r("a", 306), Encoding::Gsm7, 306, &[153, 153]);
        check(&r("a", 307), Encoding::Gsm7, 307, &[153, 153, 1]);
    }

    #[test]
    fn extension_characters_count_twice() {
        let info = analyze("Pris: 100€ {ok}");
        assert_eq!(info.encoding, Encoding::Gsm7);
        assert_eq!(info.length, 12 + 3 * 2);
        check(&r("€", 80), Encoding::Gsm7, 160, &[160]);
        // 76 escapes fill 152 septets; the 77th's two septets do not fit in the part.
        check(&r("€", 81), Encoding::Gsm7, 162, &[152, 10]);
        check(&r("€", 153), Encoding::Gsm7, 306, &[152, 152, 2]);
    }

    #[test]
    fn an_escape_is_never_split_across_parts() {
        // ESC at septet 153 of part 1: the part closes at 152 and the escape opens part 2.
        let text = format!("{}€{}", r("a", 152), r("a", 152));
        check(&text, Encoding::Gsm7, 306, &[152, 153, 1]);
        assert_eq!(analyze(&text).segments, 3, "306 septets, but 3 parts");
        // The escape at septets 152–153 fits exactly.
        check(
            &format!("{}€{}", r("a", 151), r("a", 153)),
            Encoding::Gsm7,
            306,
            &[153, 153],
        );
        // At the first septets of part 2.
        check(
            &format!("{}€{}", r("a", 153), r("a", 151)),
            Encoding::Gsm7,
            306,
            &[153, 153],
        );
        // At septet 153 of part 2.
        check(
            &format!("{}€a", r("a", 305)),
            Encoding::Gsm7,
            308,
            &[153, 152, 3],
        );
        // A single SMS holds an escape at septets 159–160; one more septet splits it.
        check(&format!("{}€", r("a", 158)), Encoding::Gsm7, 160, &[160]);
        check(&format!("{}€", r("a", 159)), Encoding::Gsm7, 161, &[153, 8]);
        // Every extension character, form feed included.
        for c in GSM_EXTENDED.chars() {
            let text = format!("{}{c}{}", r("a", 152), r("a", 152));
            assert_eq!(part_units(&text), [152, 153, 1], "{c:?}");
        }
    }

    #[test]
    fn one_emoji_makes_it_ucs2() {
        let info = analyze("Takk 🙏");
        assert_eq!(info.encoding, Encoding::Ucs2);
        assert_eq!(info.length, 7, "the emoji is two UTF-16 units");
        // A BMP character outside GSM-7 (a curly quote) is one unit.
        check("Takk’", Encoding::Ucs2, 5, &[5]);
        check(&format!("{}🙏", r("a", 68)), Encoding::Ucs2, 70, &[70]);
        check(&format!("{}🙏", r("a", 69)), Encoding::Ucs2, 71, &[67, 4]);
    }

    #[test]
    fn ucs2_single_sms_and_part_boundaries() {
        check(&r("ж", 70), Encoding::Ucs2, 70, &[70]);
        check(&r("ж", 71), Encoding::Ucs2, 71, &[67, 4]);
        for k in 2..=7 {
            assert_eq!(analyze(&r("ж", 67 * k)).segments, k, "67 × {k}");
            assert_eq!(analyze(&r("ж", 67 * k + 1)).segments, k + 1, "67 × {k} + 1");
            assert_eq!(analyze(&r("ж", 67 * k - 1)).segments, k, "67 × {k} - 1");
        }
        check(&r("ж", 134), Encoding::Ucs2, 134, &[67, 67]);
        check(&r("ж", 135), Encoding::Ucs2, 135, &[67, 67, 1]);
    }

    #[test]
    fn a_surrogate_pair_is_never_split_across_parts() {
        // The pair at units 67–68: part 1 closes at 66.
        let text = format!("{}🙏{}", r("ж", 66), r("ж", 66));
        check(&text, Encoding::Ucs2, 134, &[66, 67, 1]);
        // At units 66–67 it fits exactly.
        check(
            &format!("{}🙏{}", r("ж", 65), r("ж", 67)),
            Encoding::Ucs2,
            134,
            &[67, 67],
        );
        check(&r("🙏", 35), Encoding::Ucs2, 70, &[70]);
        check(&r("🙏", 36), Encoding::Ucs2, 72, &[66, 6]);
        check(&r("🙏", 67), Encoding::Ucs2, 134, &[66, 66, 2]);
    }

    /// The text of each part.
    fn part_texts(text: &str) -> Vec<&str> {
        let (encoding, length) = Encoding::of(text);
        part_ranges(text, encoding, length)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn emoji_sequences_may_straddle_parts_but_not_their_surrogate_pairs() {
        // A flag is two regional indicators (2 units each); the part ends between them.
        let flag = format!("{}🇳🇴{}", r("ж", 64), r("ж", 10));
        check(&flag, Encoding::Ucs2, 78, &[66, 12]);
        assert!(part_texts(&flag)[0].ends_with('🇳'));
        assert!(part_texts(&flag)[1].starts_with('🇴'));
        // A ZWJ family (4 emoji, 3 joiners: 11 units) is cut after a joiner.
        let family = format!(
            "{}👨\u{200D}👩\u{200D}👧\u{200D}👦{}",
            r("ж", 60),
            r("ж", 10)
        );
        check(&family, Encoding::Ucs2, 81, &[66, 15]);
        assert!(part_texts(&family)[0].ends_with("👩\u{200D}"));
        // A skin-tone modifier can land in the next part.
        let thumb = format!("{}👍🏽{}", r("ж", 65), r("ж", 10));
        check(&thumb, Encoding::Ucs2, 79, &[67, 12]);
        assert!(part_texts(&thumb)[1].starts_with('🏽'));
        // A whole sequence that fits stays in one SMS.
        check("Takk ❤️🇳🇴", Encoding::Ucs2, 11, &[11]);
    }

    #[test]
    fn the_link_placeholder_is_counted_at_link_length() {
        let info = reply_info("Takk! Bli fast giver: {vipps_link}");
        assert_eq!(info.length, 22 + VIPPS_LINK_LENGTH);
        assert_eq!(info.segments, 1);
    }

    // The reference: encode as a gateway does (GSM 03.38 septets with ESC = 0x1B, or UTF-16),
    // then cut every `per_part` units, one unit earlier when the cut would leave an ESC or a
    // high surrogate at the end of a part.

    const ESC: u8 = 0x1B;
    const EXTENSION: [(char, u8); 10] = [
        ('\u{000C}', 0x0A),
        ('^', 0x14),
        ('{', 0x28),
        ('}', 0x29),
        ('\\', 0x2F),
        ('[', 0x3C),
        ('~', 0x3D),
        (']', 0x3E),
        ('|', 0x40),
        ('€', 0x65),
    ];

    /// GSM 03.38 septets of `text`, or `None` when a character is not in the alphabet.
    fn gsm7_encode(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for c in text.chars() {
            // The basic table in code order, 0x1B (ESC) left out.
            if let Some(i) = GSM_BASIC.chars().position(|b| b == c) {
                let code = u8::try_from(i).unwrap();
                out.push(if code < ESC { code } else { code + 1 });
            } else {
                let &(_, code) = EXTENSION.iter().find(|(e, _)| *e == c)?;
                out.extend([ESC, code]);
            }
        }
        Some(out)
    }

    fn reference_split<T: Copy>(
        units: &[T],
        single: usize,
        per_part: usize,
        needs_next: impl Fn(T) -> bool,
    ) -> Vec<&[T]> {
        if units.is_empty() {
            return Vec::new();
        }
        if units.len() <= single {
            return vec![units];
        }
        let mut parts = Vec::new();
        let mut rest = units;
        while !rest.is_empty() {
            let mut n = rest.len().min(per_part);
            if n < rest.len() && needs_next(rest[n - 1]) {
                n -= 1;
            }
            let (part, tail) = rest.split_at(n);
            parts.push(part);
            rest = tail;
        }
        parts
    }

    /// Encoding and units per part as a gateway splits `text`.
    fn reference_parts(text: &str) -> (Encoding, Vec<usize>) {
        match gsm7_encode(text) {
            Some(septets) => {
                let parts = reference_split(&septets, 160, 153, |s| s == ESC);
                assert!(parts.iter().all(|p| p.last() != Some(&ESC)));
                (Encoding::Gsm7, parts.iter().map(|p| p.len()).collect())
            }
            None => {
                let units: Vec<u16> = text.encode_utf16().collect();
                let high = |u: u16| (0xD800..0xDC00).contains(&u);
                let parts = reference_split(&units, 70, 67, high);
                assert!(parts.iter().all(|p| !p.last().is_some_and(|&u| high(u))));
                (Encoding::Ucs2, parts.iter().map(|p| p.len()).collect())
            }
        }
    }

    #[test]
    fn the_reference_encoder_follows_gsm_03_38() {
        assert_eq!(GSM_BASIC.chars().count(), 127);
        assert_eq!(
            gsm7_encode("@Æ ¡aà").unwrap(),
            [0x00, 0x1C, 0x20, 0x40, 0x61, 0x7F]
        );
        assert_eq!(gsm7_encode("€\u{000C}").unwrap(), [ESC, 0x65, ESC, 0x0A]);
        assert_eq!(
            EXTENSION.iter().map(|(c, _)| *c).collect::<String>(),
            GSM_EXTENDED
        );
        assert_eq!(gsm7_encode("ж"), None);
    }

    #[test]
    fn the_vectors_agree_with_the_reference() {
        let vectors = [
            String::new(),
            r("a", 160),
            r("a", 161),
            r("a", 459),
            r("a", 460),
            format!("{}€{}", r("a", 152), r("a", 152)),
            format!("{}€{}", r("a", 151), r("a", 153)),
            format!("{}€a", r("a", 305)),
            r("€", 81),
            r("€", 153),
            r("ж", 70),
            r("ж", 71),
            r("ж", 201),
            format!("{}🙏{}", r("ж", 66), r("ж", 66)),
            format!("{}🙏{}", r("ж", 65), r("ж", 67)),
            r("🙏", 67),
            format!("{}🇳🇴{}", r("ж", 64), r("ж", 10)),
            format!(
                "{}👨\u{200D}👩\u{200D}👧\u{200D}👦{}",
                r("ж", 60),
                r("ж", 10)
            ),
        ];
        for text in &vectors {
            let (encoding, parts) = reference_parts(text);
            let info = analyze(text);
            assert_eq!(info.encoding, encoding, "{text}");
            assert_eq!(info.segments, parts.len(), "{text}");
            assert_eq!(part_units(text), parts, "{text}");
        }
    }

    /// Strings of up to `max` characters from `alphabet`.
    fn text_from(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(alphabet), 0..max)
            .prop_map(|cs| cs.into_iter().collect())
    }

    const GSM_ALPHABET: &[char] = &[
        'a', 'Z', '0', ' ', '\n', 'æ', 'Ø', 'å', '@', 'à', '€', '{', '}', '[', ']', '~', '\\', '^',
        '|', '\u{000C}',
    ];
    const MIXED_ALPHABET: &[char] = &[
        'a',
        ' ',
        'å',
        '€',
        '{',
        '|',
        'ж',
        '’',
        '🙏',
        '🙂',
        '🇳',
        '🇴',
        '\u{200D}',
        '👍',
        '\u{1F3FD}',
        '\u{FE0F}',
        '❤',
    ];

    fn check_against_reference(text: &str) -> Result<(), TestCaseError> {
        let info = analyze(text);
        let (encoding, reference) = reference_parts(text);
        prop_assert_eq!(info.encoding, encoding);
        prop_assert_eq!(info.length, reference.iter().sum::<usize>());
        prop_assert_eq!(info.segments, reference.len());
        let parts = part_units(text);
        prop_assert_eq!(&parts, &reference);
        let (single, per_part) = encoding.limits();
        let limit = if parts.len() > 1 { per_part } else { single };
        prop_assert!(parts.iter().all(|&n| 0 < n && n <= limit), "{:?}", parts);
        prop_assert_eq!(part_texts(text).concat(), text);
        Ok(())
    }

    proptest! {
        #[test]
        fn gsm7_parts_match_a_reference_splitter(text in text_from(GSM_ALPHABET, 700)) {
            check_against_reference(&text)?;
        }

        #[test]
        fn mixed_parts_match_a_reference_splitter(text in text_from(MIXED_ALPHABET, 300)) {
            check_against_reference(&text)?;
        }
    }
}
