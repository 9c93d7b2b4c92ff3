//! Property tests of the formatting converters and the splitter: arbitrary
//! input never panics and always yields valid ranges; well-formed Telegram
//! messages survive a round trip through Matrix HTML. The extremes are
//! covered too: entity offsets anywhere in `i32`, HTML nested around the
//! depth limit and sized around the byte limit, arbitrary plain bodies and
//! reply fallbacks, and channel signatures with any author name.

mod convert_support;

use std::collections::BTreeSet;

use convert_support::*;
use grammers_tl_types as tl;
use proptest::prelude::*;
use tgbridge::convert::utf16_len;
use tl::enums::MessageEntity;

/// Few enough cases that the suite stays fast, enough to cover the shapes.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Characters that stress offsets and escaping, mixed with anything at all.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            'a', 'b', ' ', '\n', '\r', '\t', '<', '>', '&', '"', '\'', '😀', '\u{301}',
            '\u{200d}', '👨', 'ש', '\u{feff}', '\0', '\u{85}', '\u{c}', '#', '@', '/',
        ]),
        1 => any::<char>(),
    ]
}

fn any_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..40).prop_map(String::from_iter)
}

/// Any entity, valid or not, roughly within `len` UTF-16 units.
fn any_entity(len: i32) -> impl Strategy<Value = MessageEntity> {
    let range = (-3..len + 3, -2..len + 5);
    let kind = 0..14u8;
    let links = prop::sample::select(vec![
        "https://example.org/a?b=\"c\"&d",
        "javascript:alert(1)",
        "tg://user?id=100",
        "tg://user?id=x",
        "mailto:a@b.c",
        "",
        "http://[::1",
    ]);
    let user = prop::sample::select(vec![ALICE, OWNER, 999, -1]);
    (range, kind, links, user).prop_map(|((offset, length), kind, link, user)| match kind {
        0 => bold(offset, length),
        1 => italic(offset, length),
        2 => underline(offset, length),
        3 => strike(offset, length),
        4 => spoiler(offset, length),
        5 => code(offset, length),
        6 => pre(offset, length, if user > 0 { "rust" } else { "x\"<" }),
        7 => blockquote(offset, length),
        8 => text_url(offset, length, link),
        9 => url(offset, length),
        10 => email(offset, length),
        11 => mention_name(offset, length, user),
        12 => mention(offset, length),
        _ => tl::types::MessageEntityHashtag { offset, length }.into(),
    })
}

fn any_message() -> impl Strategy<Value = (String, Vec<MessageEntity>)> {
    any_text().prop_flat_map(|text| {
        let len = i32::try_from(utf16_len(&text)).unwrap_or(i32::MAX);
        (Just(text), prop::collection::vec(any_entity(len), 0..8))
    })
}

/// HTML-ish soup: real tags (with pills, odd links and attributes),
/// character references, comments and arbitrary text.
fn any_html() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "<b>",
            "</b>",
            "<i>",
            "</i>",
            "<u>",
            "<s>",
            "</s>",
            "<code>",
            "</code>",
            "<pre>",
            "</pre>",
            "<pre><code class=\"language-rust\">",
            "<blockquote>",
            "</blockquote>",
            "<p>",
            "</p>",
            "<br>",
            "<br/>",
            "<ul>",
            "<ol start=\"99999999999999999999\">",
            "<li>",
            "</li>",
            "</ul>",
            "<h1>",
            "</h1>",
            "<hr>",
            "<table><tr><td>",
            "<span data-mx-spoiler>",
            "</span>",
            "<mx-reply>",
            "</mx-reply>",
            "<a href=\"https://matrix.to/#/@telegram_100:example.org\">",
            "<a href=\"https://matrix.to/#/%40owner%3Aexample.org\">",
            "<a href=\"https://matrix.to/#///x\">",
            "<a href=\"matrix:u/\">",
            "<a href=\"javascript:alert(1)\">",
            "<a href=\"https://e.org\">",
            "<a>",
            "</a>",
            "<img alt=\"😀\">",
            "<script>x<b>",
            "</script>",
            "<!-- c -->",
            "&amp;",
            "&#0;",
            "&#xD800;",
            "&#x1F600;",
            "&#128;",
            "&bogus;",
            "<",
            ">",
            "\n",
            "\r\n",
            "😀",
            "<svg><b>",
            "</svg>",
            "<math>",
            "<template>",
            "<noscript>",
            "<textarea>",
            "<plaintext>",
            "<select><option>",
            "\u{301}",
            "\u{feff}",
        ])
        .prop_map(str::to_owned),
        any_text(),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn telegram_to_matrix_accepts_anything((text, entities) in any_message()) {
        let resolver = MapResolver::default();
        let matrix = telegram_to_matrix(&text, &entities, &resolver);
        prop_assert_eq!(&matrix.body, &text);
        if let Some(html) = &matrix.html {
            prop_assert!(!html.contains("<script"), "{}", html);
            for link in html.split("href=\"").skip(1) {
                let safe = ["http://", "https://", "mailto:"].iter().any(|s| link.starts_with(s));
                prop_assert!(safe, "unsafe link in {}", html);
            }
            let back = matrix_to_telegram(&matrix.body, Some(html), &resolver);
            assert_entities_valid(&back.text, &back.entities);
        }
    }

    #[test]
    fn matrix_to_telegram_accepts_any_html(html in any_html()) {
        let result = matrix_to_telegram("body", Some(&html), &MapResolver::default());
        assert_entities_valid(&result.text, &result.entities);
    }

    #[test]
    fn matrix_to_telegram_accepts_any_string(html in any::<String>()) {
        let result = matrix_to_telegram("body", Some(&html), &MapResolver::default());
        assert_entities_valid(&result.text, &result.entities);
    }

    #[test]
    fn split_accepts_anything((text, entities) in any_message(), limit in 0usize..30) {
        let parts = split_for_telegram(TelegramText { text: text.clone(), entities }, limit);
        for part in &parts {
            prop_assert!(utf16_len(&part.text) <= limit.max(2));
            assert_entities_valid(&part.text, &part.entities);
        }
        prop_assert!(!decompositions(&text, &parts).is_empty(), "{:?} → {:?}", text, parts);
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn well_formed_messages_round_trip((text, entities) in well_formed_message()) {
        let resolver = MapResolver::default();
        let matrix = telegram_to_matrix(&text, &entities, &resolver);
        let back = matrix_to_telegram(&matrix.body, matrix.html.as_deref(), &resolver);
        prop_assert_eq!(&back.text, &text, "html: {:?}", matrix.html);
        let len = utf16_len(&text);
        prop_assert_eq!(
            coverage(&back.entities, len),
            coverage(&entities, len),
            "html: {:?}", matrix.html
        );
        assert_entities_valid(&back.text, &back.entities);
    }

    #[test]
    fn split_keeps_every_formatted_unit((text, entities) in well_formed_message(), limit in 2usize..30) {
        let parts = split_for_telegram(TelegramText { text: text.clone(), entities: entities.clone() }, limit);
        let readings = decompositions(&text, &parts);
        prop_assert!(!readings.is_empty(), "{:?} → {:?}", text, parts);
        let len = utf16_len(&text);
        let consistent = readings.iter().any(|starts| {
            let mut rebuilt = BTreeSet::new();
            let mut kept = BTreeSet::new();
            for (part, start) in parts.iter().zip(starts) {
                let part_len = utf16_len(&part.text);
                kept.extend(*start..*start + part_len);
                for (kind, unit) in coverage(&part.entities, part_len) {
                    rebuilt.insert((kind, unit + start));
                }
            }
            let expected: BTreeSet<_> = coverage(&entities, len)
                .into_iter()
                .filter(|(_, unit)| kept.contains(unit))
                .collect();
            rebuilt == expected
        });
        prop_assert!(consistent, "{:?} {:?} → {:?}", text, entities, parts);
    }
}

/// Every way `parts` can be `text` cut at separators (nothing, a blank
/// line, a newline or one whitespace char, also after the last part), as
/// the UTF-16 start of each part. Usually one; whitespace-rich texts can be
/// read several ways.
fn decompositions(text: &str, parts: &[TelegramText]) -> Vec<Vec<usize>> {
    let mut found = Vec::new();
    decompose(text, 0, parts, &mut Vec::new(), &mut found);
    found
}

fn decompose(
    text: &str,
    at: usize,
    parts: &[TelegramText],
    starts: &mut Vec<usize>,
    found: &mut Vec<Vec<usize>>,
) {
    let rest = &text[at..];
    let Some((part, later)) = parts.split_first() else {
        if separator_lengths(rest).contains(&rest.len()) {
            found.push(starts.clone());
        }
        return;
    };
    let skips = if starts.is_empty() {
        vec![0]
    } else {
        separator_lengths(rest)
    };
    for skip in skips {
        if rest[skip..].starts_with(part.text.as_str()) {
            starts.push(utf16_len(&text[..at + skip]));
            decompose(text, at + skip + part.text.len(), later, starts, found);
            starts.pop();
        }
    }
}

/// Byte lengths of the separators `rest` can start with.
fn separator_lengths(rest: &str) -> Vec<usize> {
    let mut lengths = vec![0];
    if rest.starts_with("\n\n") {
        lengths.push(2);
    }
    if let Some(c) = rest.chars().next().filter(|c| c.is_whitespace()) {
        lengths.push(c.len_utf8());
    }
    lengths
}

/// A message as Telegram clients produce it: code blocks and quotes cover
/// whole lines and do not overlap; links do not nest; mentions show text.
fn well_formed_message() -> impl Strategy<Value = (String, Vec<MessageEntity>)> {
    let line_char = any_char().prop_filter("one line, no NUL", |c| !matches!(c, '\n' | '\0'));
    let line = prop::collection::vec(line_char, 0..12).prop_map(String::from_iter);
    let block = prop::sample::select(vec![0u8, 0, 0, 1, 2, 3]);
    prop::collection::vec((line, block, 1usize..4), 1..6).prop_flat_map(|lines| {
        let (text, blocks) = lay_out_lines(&lines);
        let len = i32::try_from(utf16_len(&text)).unwrap_or(i32::MAX);
        let inline = prop::collection::vec(inline_entity(len), 0..6);
        (Just(text), Just(blocks), inline).prop_map(|(text, blocks, inline)| {
            let inline = well_formed_inline(&text, &blocks, inline);
            let entities = blocks.into_iter().chain(inline).collect();
            (text, entities)
        })
    })
}

/// Joins lines with `\n`; each `(line, block, span)` may open a block entity
/// (1 = quote, 2 = code, 3 = code with language) over `span` lines, skipped
/// when it would overlap the previous block.
fn lay_out_lines(lines: &[(String, u8, usize)]) -> (String, Vec<MessageEntity>) {
    let text = lines
        .iter()
        .map(|l| l.0.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut starts = Vec::new();
    let mut unit = 0;
    for (line, _, _) in lines {
        starts.push(unit);
        unit += utf16_len(line) + 1;
    }
    let mut blocks = Vec::new();
    let mut free_from = 0;
    for (i, (_, block, span)) in lines.iter().enumerate() {
        let last = (i + span - 1).min(lines.len() - 1);
        if *block == 0 || i < free_from {
            continue;
        }
        let start = starts[i];
        let end = starts[last] + utf16_len(&lines[last].0);
        if end > start {
            let (s, l) = (start as i32, (end - start) as i32);
            blocks.push(match block {
                1 => blockquote(s, l),
                2 => pre(s, l, ""),
                _ => pre(s, l, "python"),
            });
            free_from = last + 1;
        }
    }
    (text, blocks)
}

fn inline_entity(len: i32) -> impl Strategy<Value = MessageEntity> {
    let range = (0..len.max(1), 1..len.max(1) + 1);
    let user = prop::sample::select(vec![ALICE, OWNER]);
    (range, 0..8u8, user).prop_map(|((offset, length), kind, user)| match kind {
        0 => bold(offset, length),
        1 => italic(offset, length),
        2 => underline(offset, length),
        3 => strike(offset, length),
        4 => spoiler(offset, length),
        5 => code(offset, length),
        6 => text_url(offset, length, "https://example.org/p?q=1&r=\"2\""),
        _ => mention_name(offset, length, user),
    })
}

/// Keeps inline entities the way Telegram would send them: inside the
/// text, on char boundaries, links not nested in links, mentions with
/// visible text, and no inline code inside code blocks.
fn well_formed_inline(
    text: &str,
    blocks: &[MessageEntity],
    inline: Vec<MessageEntity>,
) -> Vec<MessageEntity> {
    let in_code_block = |start: usize, end: usize| {
        blocks.iter().any(|b| {
            let (s, e) = (b.offset() as usize, (b.offset() + b.length()) as usize);
            matches!(b, MessageEntity::Pre(_)) && start < e && s < end
        })
    };
    let units: Vec<u16> = text.encode_utf16().collect();
    let boundary = |at: usize| {
        at <= units.len() && (at == units.len() || !(0xDC00..0xE000).contains(&units[at]))
    };
    let mut kept: Vec<MessageEntity> = Vec::new();
    let mut sorted = inline;
    sorted.sort_by_key(|e| (e.offset(), -e.length()));
    let mut link_end = 0;
    for entity in sorted {
        let start = entity.offset() as usize;
        let end = (start + entity.length() as usize).min(units.len());
        if start >= end || !boundary(start) || !boundary(end) {
            continue;
        }
        let covered = String::from_utf16_lossy(&units[start..end]);
        let is_link = matches!(
            entity,
            MessageEntity::TextUrl(_) | MessageEntity::MentionName(_)
        );
        if is_link && start < link_end {
            continue;
        }
        if matches!(entity, MessageEntity::MentionName(_)) && covered.trim().is_empty() {
            continue;
        }
        if matches!(entity, MessageEntity::Code(_)) && in_code_block(start, end) {
            continue;
        }
        if is_link {
            link_end = end;
        }
        kept.push(with_range(&entity, start as i32, (end - start) as i32));
    }
    kept
}

// ---- extremes the properties above do not reach ---------------------------

/// Any entity kind with offsets and lengths anywhere in `i32`: a forged or
/// corrupt update may carry anything, and `offset + length` must not
/// overflow.
fn extreme_entity() -> impl Strategy<Value = MessageEntity> {
    let edge = prop_oneof![
        Just(i32::MIN),
        Just(i32::MIN + 1),
        Just(-1),
        Just(0),
        Just(1),
        Just(i32::MAX - 1),
        Just(i32::MAX),
        any::<i32>(),
    ];
    (edge.clone(), edge, 0..6u8).prop_map(|(offset, length, kind)| match kind {
        0 => bold(offset, length),
        1 => pre(offset, length, "rust"),
        2 => blockquote(offset, length),
        3 => text_url(offset, length, "https://example.org"),
        4 => mention_name(offset, length, ALICE),
        _ => url(offset, length),
    })
}

/// Markup nested `depth` levels deep with `tag`, around some text.
fn nested_html(tag: &str, depth: usize, text: &str) -> String {
    format!(
        "{}{text}{}",
        format!("<{tag}>").repeat(depth),
        format!("</{tag}>").repeat(depth)
    )
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn telegram_to_matrix_survives_entities_at_the_ends_of_i32(
        text in any_text(),
        entities in prop::collection::vec(extreme_entity(), 0..6),
    ) {
        let resolver = MapResolver::default();
        let matrix = telegram_to_matrix(&text, &entities, &resolver);
        prop_assert_eq!(&matrix.body, &text);
        let parts = split_for_telegram(TelegramText { text: text.clone(), entities }, 10);
        for part in &parts {
            assert_entities_valid(&part.text, &part.entities);
        }
    }

    /// Nesting around the converter's depth limit: below it the text is
    /// converted, above it the plain body is sent; never a panic or a stack
    /// overflow.
    #[test]
    fn deeply_nested_html_converts_or_falls_back_to_the_body(
        tag in prop::sample::select(vec!["b", "blockquote", "ul><li", "span data-mx-spoiler", "a href=\"https://e.org\"", "div", "table"]),
        depth in prop_oneof![1usize..20, 480usize..520, 2_000usize..4_000],
        text in "[a-z]{1,8}",
    ) {
        let html = nested_html(tag, depth, &text);
        let result = matrix_to_telegram("plain body", Some(&html), &MapResolver::default());
        assert_entities_valid(&result.text, &result.entities);
        if html.len() > tgbridge::convert::MAX_HTML_BYTES {
            prop_assert_eq!(&result.text, "plain body");
        }
        if depth > 2 * tgbridge::convert::MAX_HTML_NESTING {
            prop_assert_eq!(&result.text, "plain body");
        }
        if depth < 20 {
            prop_assert!(result.text.contains(&text), "{:?}", result.text);
        }
    }

}

proptest! {
    // Each case parses 64 KiB of HTML; a few dozen cover the six pieces on
    // both sides of the limit.
    #![proptest_config(config(24))]

    /// HTML around the size limit, from many small elements.
    #[test]
    fn html_around_the_size_limit_never_fails(
        piece in prop::sample::select(vec!["<b>x</b>", "<p>é</p>", "&amp;", "a<br>", "😀", "<a href=\"https://e.org\">l</a>"]),
        extra in 0usize..64,
    ) {
        let copies = tgbridge::convert::MAX_HTML_BYTES / piece.len() - 32 + extra;
        let html = piece.repeat(copies);
        let result = matrix_to_telegram("plain body", Some(&html), &MapResolver::default());
        assert_entities_valid(&result.text, &result.entities);
        if html.len() > tgbridge::convert::MAX_HTML_BYTES {
            prop_assert_eq!(&result.text, "plain body");
        } else {
            prop_assert_ne!(&result.text, "plain body");
        }
    }

}

proptest! {
    #![proptest_config(config(200))]

    /// Any body, with or without HTML, and reply fallbacks of any shape.
    #[test]
    fn any_body_and_reply_fallback_is_accepted(body in any_text(), html in prop::option::of(any_html()), quoted in any_text()) {
        let result = matrix_to_telegram(&body, html.as_deref(), &MapResolver::default());
        assert_entities_valid(&result.text, &result.entities);
        if html.is_none() {
            prop_assert_eq!(&result.text, &body);
            prop_assert!(result.entities.is_empty());
        }
        let reply = format!("> <@alice:example.org> {quoted}\n\n{body}");
        let stripped = tgbridge::convert::strip_reply_fallback(&reply);
        prop_assert!(reply.ends_with(stripped));
        // A one-line fallback is removed whole, and nothing of the reply.
        if !quoted.contains(['\n', '\r']) && !body.starts_with(['>', '\n']) {
            prop_assert_eq!(stripped, body.as_str());
        }
        let stripped = tgbridge::convert::strip_reply_fallback(&body);
        prop_assert!(body.ends_with(stripped));
    }

    /// A channel signature never lets the author's name inject markup.
    #[test]
    fn signatures_escape_any_author(
        (text, entities) in any_message(),
        author in any_text(),
    ) {
        let resolver = MapResolver::default();
        let signed = tgbridge::convert::with_signature(telegram_to_matrix(&text, &entities, &resolver), &author);
        prop_assert!(signed.body.contains(&author));
        let html = signed.html.expect("a signed post has HTML");
        prop_assert!(!html.contains("<script"), "{}", html);
        let back = matrix_to_telegram(&signed.body, Some(&html), &resolver);
        assert_entities_valid(&back.text, &back.entities);
        // The name reads back as it was (line breaks and other control
        // characters may be turned into spaces by HTML, so those are left out).
        if !author.chars().any(char::is_control) {
            prop_assert!(back.text.contains(author.trim()), "{:?} lost the author {:?}", back.text, author);
        }
    }
}
