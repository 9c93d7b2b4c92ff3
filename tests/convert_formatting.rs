//! Formatting conversion between Telegram entities and Matrix HTML, example
//! by example, in both directions.

mod convert_support;

use convert_support::*;
use grammers_tl_types::enums::MessageEntity;
use tgbridge::convert::{strip_reply_fallback, MatrixText, NoMentions};

fn to_html(text: &str, entities: &[MessageEntity]) -> Option<String> {
    telegram_to_matrix(text, entities, &MapResolver::default()).html
}

fn from_html(html: &str) -> TelegramText {
    let result = matrix_to_telegram("unused body", Some(html), &MapResolver::default());
    assert_entities_valid(&result.text, &result.entities);
    result
}

fn tg(text: &str, entities: Vec<MessageEntity>) -> TelegramText {
    TelegramText {
        text: text.to_owned(),
        entities,
    }
}

// ---- Telegram → Matrix ----

#[test]
fn plain_text_has_no_html() {
    let result = telegram_to_matrix("hi\nthere #tag $USD /start", &[], &NoMentions);
    assert_eq!(
        result,
        MatrixText {
            body: "hi\nthere #tag $USD /start".into(),
            html: None,
            mentions: vec![],
        }
    );
}

#[test]
fn every_inline_style_after_an_emoji() {
    // "😀 " is three UTF-16 units: every entity starts at 3.
    let text = "😀 word";
    let cases = [
        (bold(3, 4), "<strong>word</strong>"),
        (italic(3, 4), "<em>word</em>"),
        (underline(3, 4), "<u>word</u>"),
        (strike(3, 4), "<del>word</del>"),
        (spoiler(3, 4), "<span data-mx-spoiler>word</span>"),
        (code(3, 4), "<code>word</code>"),
    ];
    for (entity, tagged) in cases {
        assert_eq!(
            to_html(text, &[entity]).as_deref(),
            Some(format!("😀 {tagged}").as_str())
        );
    }
}

#[test]
fn code_blocks_keep_language_and_newlines() {
    let text = "see:\nfn main() {\n}\nok";
    let html = to_html(text, &[pre(5, 13, "rust")]);
    assert_eq!(
        html.as_deref(),
        Some("see:<br><pre><code class=\"language-rust\">fn main() {\n}\n</code></pre><br>ok")
    );
    let without = to_html("x", &[pre(0, 1, "")]);
    assert_eq!(without.as_deref(), Some("<pre><code>x\n</code></pre>"));
}

#[test]
fn code_block_language_cannot_inject_attributes() {
    let html = to_html("x", &[pre(0, 1, "a\"><script>")]).unwrap();
    assert_eq!(html, "<pre><code>x\n</code></pre>");
}

#[test]
fn blockquotes() {
    let html = to_html("quote\nline\nafter", &[blockquote(0, 10)]);
    assert_eq!(
        html.as_deref(),
        Some("<blockquote>quote<br>line</blockquote><br>after")
    );
}

#[test]
fn links_with_safe_schemes_only() {
    let text = "click here";
    let html = to_html(text, &[text_url(6, 4, "https://example.org/a?b=1&c=2")]);
    assert_eq!(
        html.as_deref(),
        Some("click <a href=\"https://example.org/a?b=1&amp;c=2\">here</a>")
    );
    for unsafe_url in [
        "javascript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "nonsense",
    ] {
        let result = telegram_to_matrix(text, &[text_url(6, 4, unsafe_url)], &NoMentions);
        assert_eq!(result.html, None, "{unsafe_url}");
        assert_eq!(result.body, text);
    }
}

#[test]
fn link_attribute_quotes_are_escaped() {
    let html = to_html(
        "x",
        &[text_url(0, 1, "https://e.org/\"onmouseover=\"alert(1)")],
    )
    .unwrap();
    assert!(!html.contains("\"onmouseover"), "{html}");
    assert!(html.contains("&quot;onmouseover=&quot;"), "{html}");
}

#[test]
fn detected_urls_and_emails_link() {
    let text = "go example.org/x or https://e.org, mail me@e.org";
    let html = to_html(text, &[url(3, 13), url(20, 13), email(40, 8)]);
    assert_eq!(
        html.as_deref(),
        Some(
            "go <a href=\"http://example.org/x\">example.org/x</a> or \
             <a href=\"https://e.org\">https://e.org</a>, mail \
             <a href=\"mailto:me@e.org\">me@e.org</a>"
        )
    );
}

#[test]
fn mentions_become_pills_for_ghosts_and_the_owner() {
    let text = "hi Alice and me, @alice @nobody";
    let entities = [
        mention_name(3, 5, ALICE),
        mention_name(13, 2, OWNER),
        mention(17, 6),
        mention(24, 7),
    ];
    let result = telegram_to_matrix(text, &entities, &MapResolver::default());
    assert_eq!(
        result.html.as_deref(),
        Some(
            "hi <a href=\"https://matrix.to/#/@telegram_100:example.org\">Alice</a> and \
             <a href=\"https://matrix.to/#/@owner:example.org\">me</a>, \
             <a href=\"https://matrix.to/#/@telegram_100:example.org\">@alice</a> @nobody"
        )
    );
    let mentioned: Vec<&str> = result.mentions.iter().map(|u| u.as_str()).collect();
    assert_eq!(
        mentioned,
        ["@telegram_100:example.org", "@owner:example.org"]
    );
}

#[test]
fn unknown_mentions_stay_plain_text() {
    let result = telegram_to_matrix(
        "hi Bob",
        &[mention_name(3, 3, 999)],
        &MapResolver::default(),
    );
    assert_eq!(result.html, None);
    assert!(result.mentions.is_empty());
}

#[test]
fn old_style_user_links_are_mentions() {
    let html = to_html("hey you", &[text_url(4, 3, "tg://user?id=100")]);
    assert_eq!(
        html.as_deref(),
        Some("hey <a href=\"https://matrix.to/#/@telegram_100:example.org\">you</a>")
    );
}

#[test]
fn plain_text_entities_stay_plain() {
    use grammers_tl_types::types as t;
    let text = "#tag $USD /start 👍";
    let entities: Vec<MessageEntity> = vec![
        t::MessageEntityHashtag {
            offset: 0,
            length: 4,
        }
        .into(),
        t::MessageEntityCashtag {
            offset: 5,
            length: 4,
        }
        .into(),
        t::MessageEntityBotCommand {
            offset: 10,
            length: 6,
        }
        .into(),
        t::MessageEntityCustomEmoji {
            offset: 17,
            length: 2,
            document_id: 5,
        }
        .into(),
    ];
    let result = telegram_to_matrix(text, &entities, &NoMentions);
    assert_eq!((result.body.as_str(), result.html), (text, None));
}

#[test]
fn html_special_characters_are_escaped() {
    let text = "<script>alert(\"x\")</script> & 'q'";
    let html = to_html(text, &[italic(0, 35)]).unwrap();
    assert_eq!(
        html,
        "<em>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;</em>"
    );
}

#[test]
fn combining_marks_zwj_sequences_and_rtl() {
    // e + combining acute is two units; the family is 8 units.
    assert_eq!(
        to_html("e\u{301}x", &[bold(0, 2)]).as_deref(),
        Some("<strong>e\u{301}</strong>x")
    );
    let family = "👨\u{200d}👩\u{200d}👧";
    assert_eq!(
        to_html(&format!("{family} hi"), &[bold(9, 2), italic(0, 8)]).as_deref(),
        Some(format!("<em>{family}</em> <strong>hi</strong>").as_str())
    );
    assert_eq!(
        to_html("שלום world", &[bold(0, 4)]).as_deref(),
        Some("<strong>שלום</strong> world")
    );
}

#[test]
fn overlapping_entities_are_split_into_nested_runs() {
    let html = to_html("abcdef", &[bold(0, 4), italic(2, 4)]);
    assert_eq!(
        html.as_deref(),
        Some("<strong>ab<em>cd</em></strong><em>ef</em>")
    );
    let nested = to_html("abcdef", &[italic(2, 2), bold(0, 6)]);
    assert_eq!(nested.as_deref(), Some("<strong>ab<em>cd</em>ef</strong>"));
}

#[test]
fn links_never_nest() {
    let html = to_html(
        "see alice here",
        &[text_url(0, 14, "https://e.org"), mention(4, 5)],
    );
    assert_eq!(
        html.as_deref(),
        Some("<a href=\"https://e.org\">see alice here</a>")
    );
}

#[test]
fn invalid_entities_are_clamped_or_ignored() {
    let entities = [
        bold(-1, 3),
        italic(1, 0),
        underline(2, 100),
        strike(50, 2),
        code(1, -4),
    ];
    let html = to_html("abc", &entities);
    assert_eq!(html.as_deref(), Some("ab<u>c</u>"));
}

#[test]
fn entity_ending_inside_a_surrogate_pair_covers_the_whole_emoji() {
    let html = to_html("a😀b", &[bold(0, 2)]);
    assert_eq!(html.as_deref(), Some("<strong>a😀</strong>b"));
}

// ---- Matrix → Telegram ----

#[test]
fn without_html_the_body_is_sent() {
    let result = matrix_to_telegram("*not bold*", None, &NoMentions);
    assert_eq!(result, tg("*not bold*", vec![]));
}

#[test]
fn every_inline_tag_maps_to_its_entity() {
    let cases: [(&str, MessageEntity); 12] = [
        ("<b>word</b>", bold(3, 4)),
        ("<strong>word</strong>", bold(3, 4)),
        ("<i>word</i>", italic(3, 4)),
        ("<em>word</em>", italic(3, 4)),
        ("<u>word</u>", underline(3, 4)),
        ("<s>word</s>", strike(3, 4)),
        ("<del>word</del>", strike(3, 4)),
        ("<strike>word</strike>", strike(3, 4)),
        ("<code>word</code>", code(3, 4)),
        ("<span data-mx-spoiler>word</span>", spoiler(3, 4)),
        (
            "<span data-mx-spoiler=\"reason\">word</span>",
            spoiler(3, 4),
        ),
        (
            "<a href=\"https://e.org/\">word</a>",
            text_url(3, 4, "https://e.org/"),
        ),
    ];
    for (tagged, entity) in cases {
        let result = from_html(&format!("😀 {tagged}"));
        assert_eq!(result, tg("😀 word", vec![entity]), "{tagged}");
    }
}

#[test]
fn code_blocks_from_matrix_clients() {
    let result = from_html("<p>run:</p>\n<pre><code class=\"language-rust\">fn main() {\n}\n</code></pre>\n<p>done</p>\n");
    assert_eq!(
        result,
        tg("run:\n\nfn main() {\n}\n\ndone", vec![pre(6, 13, "rust")])
    );
    let plain = from_html("<pre>a &lt; b</pre>");
    assert_eq!(plain, tg("a < b", vec![pre(0, 5, "")]));
}

#[test]
fn blockquotes_and_paragraphs() {
    let result = from_html("<blockquote>\n<p>quoted</p>\n</blockquote>\n<p>reply</p>\n");
    assert_eq!(result, tg("quoted\n\nreply", vec![blockquote(0, 6)]));
}

#[test]
fn line_breaks_lists_and_headings_become_readable_text() {
    let result = from_html(
        "<h1>Title</h1><p>a<br>b</p><ul>\n<li>one</li>\n<li>two<ol start=\"3\"><li>x</li></ol></li>\n</ul>end",
    );
    assert_eq!(
        result,
        tg(
            "Title\n\na\nb\n\n• one\n• two\n    3. x\nend",
            vec![bold(0, 5)]
        )
    );
}

#[test]
fn loose_list_items_keep_their_text_on_the_bullet_line() {
    let result = from_html("<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p><b>b</b></p>\n</li>\n</ul>\n");
    assert_eq!(result, tg("• a\n\n• b", vec![bold(7, 1)]));
}

#[test]
fn pills_become_mentions_of_known_telegram_users() {
    let html = "hi <a href=\"https://matrix.to/#/@telegram_100:example.org\">Alice</a> and \
                <a href=\"https://matrix.to/#/%40owner%3Aexample.org\">me</a>";
    let result = from_html(html);
    assert_eq!(
        result,
        tg(
            "hi Alice and me",
            vec![mention_name(3, 5, ALICE), mention_name(13, 2, OWNER)]
        )
    );
}

#[test]
fn pills_of_unknown_users_stay_text() {
    let result = from_html("hi <a href=\"https://matrix.to/#/@bob:elsewhere.org\">Bob</a>");
    assert_eq!(result, tg("hi Bob", vec![]));
}

#[test]
fn pills_without_readable_text_show_the_display_name() {
    let result = from_html("<a href=\"https://matrix.to/#/@telegram_100:example.org\">@telegram_100:example.org</a>: hi");
    assert_eq!(result, tg("Alice: hi", vec![mention_name(0, 5, ALICE)]));
}

#[test]
fn links_equal_to_their_text_are_urls() {
    let result = from_html(
        "<a href=\"https://e.org\">https://e.org</a> <a href=\"mailto:a@e.org\">a@e.org</a>",
    );
    assert_eq!(
        result,
        tg("https://e.org a@e.org", vec![url(0, 13), email(14, 7)])
    );
}

#[test]
fn reply_fallbacks_are_removed() {
    let html = "<mx-reply><blockquote><a href=\"https://matrix.to/#/!r:e.org/$ev\">In reply to</a> \
                <a href=\"https://matrix.to/#/@bob:e.org\">@bob:e.org</a><br>original</blockquote></mx-reply>\
                my <b>answer</b>";
    assert_eq!(from_html(html), tg("my answer", vec![bold(3, 6)]));
    let body = "> <@bob:e.org> original\n\nmy answer";
    let stripped = strip_reply_fallback(body);
    assert_eq!(
        matrix_to_telegram(stripped, None, &NoMentions),
        tg("my answer", vec![])
    );
}

#[test]
fn scripts_and_unsafe_links_are_dropped() {
    let result = from_html(
        "<script>alert(1)</script><style>b{}</style><a href=\"javascript:alert(1)\">x</a>",
    );
    assert_eq!(result, tg("x", vec![]));
}

#[test]
fn misnested_html_is_repaired_before_conversion() {
    let result = from_html("<b>1<i>2</b>3</i>");
    assert_eq!(result, tg("123", vec![bold(0, 2), italic(1, 2)]));
}

#[test]
fn entities_are_counted_in_utf16_units() {
    let family = "👨\u{200d}👩\u{200d}👧";
    let result = from_html(&format!("e\u{301} {family} <b>שלום</b>"));
    assert_eq!(result.entities, vec![bold(12, 4)]);
}

#[test]
fn source_newlines_between_inline_elements_are_spaces() {
    let result = from_html("<b>a</b>\n<i>b</i>\n<p>c</p>\n");
    assert_eq!(result, tg("a b\n\nc", vec![bold(0, 1), italic(2, 1)]));
}

#[test]
fn html_showing_nothing_falls_back_to_the_body() {
    let result = matrix_to_telegram(
        "image.png",
        Some("<img src=\"mxc://e.org/x\">"),
        &NoMentions,
    );
    assert_eq!(result, tg("image.png", vec![]));
}

#[test]
fn custom_emoji_images_become_their_alt_text() {
    let result = from_html("nice <img data-mx-emoticon src=\"mxc://e.org/x\" alt=\":party:\">");
    assert_eq!(result, tg("nice :party:", vec![]));
}

#[test]
fn overlong_html_falls_back_to_the_body() {
    let html = "<b>x</b>".repeat(10_000);
    let result = matrix_to_telegram("body", Some(&html), &NoMentions);
    assert_eq!(result, tg("body", vec![]));
}

#[test]
fn nested_html_converts_up_to_the_nesting_limit() {
    let html = format!("{}deep", "<blockquote><b>".repeat(200));
    let result = from_html(&html);
    assert_eq!(result, tg("deep", vec![blockquote(0, 4), bold(0, 4)]));
}

#[test]
fn absurdly_nested_html_falls_back_to_the_body() {
    let html = format!("{}deep", "<blockquote><b>".repeat(4_000));
    let result = matrix_to_telegram("deep body", Some(&html), &NoMentions);
    assert_eq!(result, tg("deep body", vec![]));
}

// ---- Both ways ----

#[test]
fn a_rich_message_survives_a_round_trip() {
    let text = "Hi Alice 😀!\nbold italic both\nlet x = 1;\nquoted\nhttps://e.org and e\u{301}nd";
    let entities = vec![
        mention_name(3, 5, ALICE),
        bold(13, 11),
        italic(18, 11),
        pre(30, 10, "rust"),
        blockquote(41, 6),
        url(48, 13),
        text_url(66, 4, "https://example.org/p?q=1&r=\"2\""),
        spoiler(66, 2),
    ];
    let resolver = MapResolver::default();
    let matrix = telegram_to_matrix(text, &entities, &resolver);
    let back = matrix_to_telegram(&matrix.body, matrix.html.as_deref(), &resolver);
    assert_eq!(back.text, text);
    let len = text.encode_utf16().count();
    assert_eq!(coverage(&back.entities, len), coverage(&entities, len));
}
