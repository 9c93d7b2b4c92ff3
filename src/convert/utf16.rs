//! UTF-16 positions, as Telegram counts entity offsets, and their mapping to
//! byte positions in Rust strings. Nothing here knows about entities' meaning.

use std::ops::Range;

/// Length of `s` in UTF-16 code units (what Telegram's offsets count).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The char boundaries of one text, each with its UTF-16 position, so that
/// Telegram offsets can be turned into byte ranges and back.
pub(crate) struct Utf16Map {
    /// `(utf16, byte)` for every char start, plus the end of the text;
    /// both columns strictly increase.
    points: Vec<(usize, usize)>,
}

impl Utf16Map {
    /// Indexes `text`.
    pub(crate) fn new(text: &str) -> Self {
        let mut points = Vec::with_capacity(text.len() + 1);
        let mut units = 0;
        for (byte, c) in text.char_indices() {
            points.push((units, byte));
            units += c.len_utf16();
        }
        points.push((units, text.len()));
        Self { points }
    }

    /// Total length in UTF-16 units.
    pub(crate) fn len16(&self) -> usize {
        self.points.last().map_or(0, |p| p.0)
    }

    /// Byte offset of the last char boundary at or before UTF-16 position `u`.
    pub(crate) fn floor_byte(&self, u: usize) -> usize {
        let i = self.points.partition_point(|p| p.0 <= u);
        // `points[0]` is (0, 0), so at least one point satisfies `p.0 <= u`.
        self.points[i.saturating_sub(1)].1
    }

    /// Byte offset of the first char boundary at or after UTF-16 position `u`
    /// (the end of the text when `u` is past it).
    pub(crate) fn ceil_byte(&self, u: usize) -> usize {
        let i = self.points.partition_point(|p| p.0 < u);
        self.points.get(i).or(self.points.last()).map_or(0, |p| p.1)
    }

    /// UTF-16 position of byte offset `b`, rounded down to a char boundary.
    pub(crate) fn units_at(&self, b: usize) -> usize {
        let i = self.points.partition_point(|p| p.1 <= b);
        self.points[i.saturating_sub(1)].0
    }

    /// Turns a Telegram `(offset, length)` into a byte range of the text.
    ///
    /// The range is clamped to the text and widened to whole chars when an
    /// end falls inside a surrogate pair, so the result can always be sliced.
    /// Negative, empty and entirely out-of-range entities give `None`.
    pub(crate) fn byte_range(&self, offset: i32, length: i32) -> Option<Range<usize>> {
        let start = usize::try_from(offset).ok()?;
        let length = usize::try_from(length).ok()?;
        let end = start.saturating_add(length).min(self.len16());
        if start >= end {
            return None;
        }
        let range = self.floor_byte(start)..self.ceil_byte(end);
        (!range.is_empty()).then_some(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_pairs_count_twice() {
        assert_eq!(utf16_len("a😀b"), 4);
        assert_eq!(utf16_len("é"), 1);
        assert_eq!(utf16_len("e\u{301}"), 2);
    }

    #[test]
    fn ranges_snap_outward_to_whole_chars() {
        let map = Utf16Map::new("a😀b");
        // Offset 2 is the middle of the emoji: the range grows to include it.
        assert_eq!(map.byte_range(2, 1), Some(1..5));
        assert_eq!(map.byte_range(1, 2), Some(1..5));
        assert_eq!(map.byte_range(3, 1), Some(5..6));
        assert_eq!(map.byte_range(0, 100), Some(0..6));
    }

    #[test]
    fn invalid_ranges_are_dropped() {
        let map = Utf16Map::new("abc");
        assert_eq!(map.byte_range(-1, 2), None);
        assert_eq!(map.byte_range(1, 0), None);
        assert_eq!(map.byte_range(1, -3), None);
        assert_eq!(map.byte_range(3, 1), None);
        assert_eq!(map.byte_range(i32::MAX, i32::MAX), None);
    }

    #[test]
    fn byte_and_unit_positions_agree() {
        let map = Utf16Map::new("x😀é");
        assert_eq!(map.units_at(0), 0);
        assert_eq!(map.units_at(1), 1);
        assert_eq!(map.units_at(5), 3);
        assert_eq!(map.units_at(7), 4);
        assert_eq!(map.len16(), 4);
    }
}
