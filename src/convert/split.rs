//! Cutting a Telegram text that exceeds the message length limit into
//! several messages. Cuts prefer paragraph, then line, then word, then
//! grapheme boundaries; entities crossing a cut continue in the next part.
//! Nothing is ever dropped except the whitespace a cut replaces.

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use super::entity::{to_tl_int, with_range};
use super::to_telegram::TelegramText;
use super::utf16::Utf16Map;

/// Telegram's length limit for a text message, in UTF-16 units.
pub const TELEGRAM_TEXT_LIMIT: usize = 4096;

/// The smallest limit that always makes progress: one surrogate pair.
const MIN_LIMIT: usize = 2;

/// Splits `message` into parts of at most `limit` UTF-16 units each
/// (limits below 2 are raised to 2 so a surrogate pair always fits).
///
/// The whitespace at a cut (a blank line, a newline or a space) is dropped;
/// every other character appears in exactly one part, in order. Entities
/// are clipped to each part and rebased; entities with invalid ranges are
/// clamped to the text or dropped, so every output range is valid.
pub fn split_for_telegram(message: TelegramText, limit: usize) -> Vec<TelegramText> {
    let limit = limit.max(MIN_LIMIT);
    let text = message.text.as_str();
    let map = Utf16Map::new(text);
    let entities: Vec<_> = message
        .entities
        .iter()
        .filter_map(|e| Some((map.byte_range(e.offset, e.length)?, e)))
        .collect();
    cut_ranges(text, &map, limit)
        .into_iter()
        .map(|part| {
            let base = map.units_at(part.start);
            let clipped = entities.iter().filter_map(|(range, entity)| {
                let start = range.start.max(part.start);
                let end = range.end.min(part.end);
                let (s, e) = (map.units_at(start), map.units_at(end));
                (s < e).then(|| with_range(entity, to_tl_int(s - base), to_tl_int(e - s)))
            });
            TelegramText {
                entities: clipped.collect(),
                text: text[part].to_owned(),
            }
        })
        .collect()
}

/// Byte ranges of the parts, in order.
fn cut_ranges(text: &str, map: &Utf16Map, limit: usize) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut start = 0;
    loop {
        let window_end = map.floor_byte(map.units_at(start).saturating_add(limit));
        if window_end >= text.len() {
            parts.push(start..text.len());
            return parts;
        }
        let cut = best_cut(text, start, window_end);
        parts.push(start..cut.end);
        // A separator that ends the text is dropped rather than left as an
        // empty last message.
        if cut.resume >= text.len() {
            return parts;
        }
        start = cut.resume;
    }
}

/// Where a part ends and where the next one begins (after the dropped
/// separator, if any).
struct Cut {
    end: usize,
    resume: usize,
}

/// The best cut of `text[start..]` that leaves at most `text[start..end]`
/// in the part. `end > start` and both are char boundaries.
fn best_cut(text: &str, start: usize, end: usize) -> Cut {
    let max_p = end - start;
    let half = max_p / 2;
    let window = &text[start..];
    // Separators may start at `end` itself: their own bytes may lie past it.
    let last = |separator: &str| {
        let hay = window
            .get(..max_p + separator.len())
            .unwrap_or(&window[..max_p]);
        hay.rfind(separator).filter(|&p| p > 0 && p >= half)
    };
    let cut_at = |p: usize, len: usize| Cut {
        end: start + p,
        resume: start + p + len,
    };
    if let Some(p) = last("\n\n") {
        return cut_at(p, 2);
    }
    if let Some(p) = last("\n") {
        return cut_at(p, 1);
    }
    let space = window
        .char_indices()
        .take_while(|&(p, _)| p <= max_p)
        .filter(|&(p, c)| c.is_whitespace() && p > 0 && p >= half)
        .last();
    if let Some((p, c)) = space {
        return cut_at(p, c.len_utf8());
    }
    let grapheme = text[start..]
        .grapheme_indices(true)
        .map(|(p, _)| p)
        .take_while(|&p| start + p <= end)
        .filter(|&p| p > 0)
        .last();
    let end = grapheme.map_or(end, |p| start + p);
    Cut { end, resume: end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> TelegramText {
        TelegramText {
            text: text.to_owned(),
            entities: Vec::new(),
        }
    }

    fn texts(parts: &[TelegramText]) -> Vec<&str> {
        parts.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn short_text_stays_whole() {
        assert_eq!(texts(&split_for_telegram(plain("hello"), 10)), ["hello"]);
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_words() {
        let parts = split_for_telegram(plain("aaaa bbbb\n\ncccc"), 12);
        assert_eq!(texts(&parts), ["aaaa bbbb", "cccc"]);
        let parts = split_for_telegram(plain("aaaa bbbb\ncccc dd"), 12);
        assert_eq!(texts(&parts), ["aaaa bbbb", "cccc dd"]);
        let parts = split_for_telegram(plain("aaaa bbbb cccc"), 12);
        assert_eq!(texts(&parts), ["aaaa bbbb", "cccc"]);
    }

    #[test]
    fn separator_right_after_the_window_is_used() {
        let parts = split_for_telegram(plain("abcd\nef"), 4);
        assert_eq!(texts(&parts), ["abcd", "ef"]);
    }

    #[test]
    fn long_words_break_between_graphemes() {
        // Each family emoji is one grapheme of 11 UTF-16 units.
        let family = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
        let text = family.repeat(3);
        let parts = split_for_telegram(plain(&text), 25);
        assert_eq!(texts(&parts), [family.repeat(2), family.to_owned()]);
    }

    #[test]
    fn graphemes_longer_than_the_limit_break_between_chars() {
        let text = "👨\u{200d}👩\u{200d}👧";
        let parts = split_for_telegram(plain(text), 3);
        assert_eq!(parts.concat_text(), text);
        assert!(parts.iter().all(|p| p.text.encode_utf16().count() <= 3));
    }

    #[test]
    fn tiny_limits_never_split_surrogate_pairs() {
        let parts = split_for_telegram(plain("😀😀"), 1);
        assert_eq!(texts(&parts), ["😀", "😀"]);
    }

    trait Concat {
        fn concat_text(&self) -> String;
    }

    impl Concat for Vec<TelegramText> {
        fn concat_text(&self) -> String {
            self.iter().map(|p| p.text.as_str()).collect()
        }
    }
}
