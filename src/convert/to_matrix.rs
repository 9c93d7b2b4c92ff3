//! Telegram text + entities → Matrix `body` + `org.matrix.custom.html`.
//!
//! Telegram entities are ranges that may overlap in ways HTML cannot nest;
//! the renderer cuts the text at every entity boundary and reopens tags
//! around each run. Block entities (code blocks, quotes) are always the
//! outermost tags so that inline tags never contain a block. This module
//! owns the HTML escaping of everything it emits and nothing else.

use std::cmp::Reverse;
use std::fmt::Write as _;
use std::ops::Range;

use ruma::OwnedUserId;
use url::Url;

use super::entity::{Entity, EntityKind};

use super::mention::{pill_href, tg_user_link, MentionResolver};
use super::utf16::Utf16Map;

/// A message ready for a Matrix `m.room.message` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixText {
    /// Plain text; what clients without HTML support show.
    pub body: String,
    /// `formatted_body` in `org.matrix.custom.html`, when the text carries
    /// any formatting at all.
    pub html: Option<String>,
    /// Users pilled in the message, for the event's `m.mentions`.
    pub mentions: Vec<OwnedUserId>,
}

/// Converts a Telegram message text and its entities (UTF-16 offsets, as
/// Telegram sends them) into Matrix text.
///
/// Entities with invalid ranges are clamped or ignored, never trusted.
/// Hashtags, cashtags, bot commands, phone numbers and custom emoji stay
/// plain text (a custom emoji's text is already its fallback emoji). Links
/// with schemes a Matrix client should not open become plain text.
pub fn telegram_to_matrix(
    text: &str,
    entities: &[Entity],
    resolver: &dyn MentionResolver,
) -> MatrixText {
    let map = Utf16Map::new(text);
    let spans = collect_spans(text, &map, entities, resolver);
    let mut mentions: Vec<OwnedUserId> = Vec::new();
    for span in &spans {
        if let Markup::Pill(user) = &span.markup {
            if !mentions.contains(user) {
                mentions.push(user.clone());
            }
        }
    }
    let html = (!spans.is_empty()).then(|| render(text, &spans));
    MatrixText {
        body: text.to_owned(),
        html,
        mentions,
    }
}

/// `text` with the signature a broadcast channel puts under a signed post:
/// the author's name on a line of its own, after the text (alone when the
/// post has no text, e.g. media without a caption).
pub fn with_signature(text: MatrixText, author: &str) -> MatrixText {
    let mut signature_html = String::from("<em>— ");
    escape_into(&mut signature_html, author, true);
    signature_html.push_str("</em>");
    if text.body.is_empty() {
        return MatrixText {
            body: format!("— {author}"),
            html: Some(signature_html),
            mentions: text.mentions,
        };
    }
    let html = match text.html {
        Some(html) => html,
        None => {
            let mut escaped = String::new();
            escape_into(&mut escaped, &text.body, true);
            escaped
        }
    };
    MatrixText {
        body: format!("{}\n— {author}", text.body),
        html: Some(format!("{html}<br>{signature_html}")),
        mentions: text.mentions,
    }
}

/// What an entity becomes in HTML.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Markup {
    Blockquote,
    /// A code block with an optional, already sanitised language.
    Pre(Option<String>),
    Link(String),
    Pill(OwnedUserId),
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Code,
}

impl Markup {
    fn is_block(&self) -> bool {
        matches!(self, Self::Blockquote | Self::Pre(_))
    }

    fn is_anchor(&self) -> bool {
        matches!(self, Self::Link(_) | Self::Pill(_))
    }

    /// Nesting order for entities covering the same range: outermost first.
    fn rank(&self) -> u8 {
        match self {
            Self::Blockquote => 0,
            Self::Pre(_) => 1,
            Self::Link(_) | Self::Pill(_) => 2,
            Self::Bold => 3,
            Self::Italic => 4,
            Self::Underline => 5,
            Self::Strike => 6,
            Self::Spoiler => 7,
            Self::Code => 8,
        }
    }

    fn write_open(&self, out: &mut String) {
        match self {
            Self::Blockquote => out.push_str("<blockquote>"),
            Self::Pre(None) => out.push_str("<pre><code>"),
            Self::Pre(Some(language)) => {
                let _ = write!(out, "<pre><code class=\"language-{language}\">");
            }
            Self::Link(href) => {
                out.push_str("<a href=\"");
                escape_into(out, href, false);
                out.push_str("\">");
            }
            Self::Pill(user) => {
                out.push_str("<a href=\"");
                escape_into(out, &pill_href(user), false);
                out.push_str("\">");
            }
            Self::Bold => out.push_str("<strong>"),
            Self::Italic => out.push_str("<em>"),
            Self::Underline => out.push_str("<u>"),
            Self::Strike => out.push_str("<del>"),
            Self::Spoiler => out.push_str("<span data-mx-spoiler>"),
            Self::Code => out.push_str("<code>"),
        }
    }

    fn write_close(&self, out: &mut String) {
        out.push_str(match self {
            Self::Blockquote => "</blockquote>",
            // HTML drops nothing at the end of a `<pre>`, but Matrix clients
            // end code blocks with a newline and the reverse converter strips
            // exactly one; adding it keeps a trailing newline of the content.
            Self::Pre(_) => "\n</code></pre>",
            Self::Link(_) | Self::Pill(_) => "</a>",
            Self::Bold => "</strong>",
            Self::Italic => "</em>",
            Self::Underline => "</u>",
            Self::Strike => "</del>",
            Self::Spoiler => "</span>",
            Self::Code => "</code>",
        });
    }
}

/// An entity resolved to markup over a byte range of the text.
struct Span {
    range: Range<usize>,
    markup: Markup,
}

impl Span {
    /// Stack order: blocks outside inline markup, then earlier and longer
    /// spans outside later and shorter ones. An entity's key never changes,
    /// so a tag that stays open keeps its place on the stack.
    fn key(&self) -> (bool, usize, Reverse<usize>, u8) {
        (
            !self.markup.is_block(),
            self.range.start,
            Reverse(self.range.end),
            self.markup.rank(),
        )
    }
}

/// Resolves every entity that has an HTML form, dropping links nested in
/// links (HTML cannot nest anchors; the first, longest one wins).
fn collect_spans(
    text: &str,
    map: &Utf16Map,
    entities: &[Entity],
    resolver: &dyn MentionResolver,
) -> Vec<Span> {
    let mut spans: Vec<Span> = entities
        .iter()
        .filter_map(|entity| {
            let range = map.byte_range(entity.offset, entity.length)?;
            let markup = markup_for(entity, &text[range.clone()], resolver)?;
            Some(Span { range, markup })
        })
        .collect();
    spans.sort_by_key(|s| (s.range.start, Reverse(s.range.end), s.markup.rank()));
    let mut anchor_end = 0;
    spans.retain(|span| {
        if !span.markup.is_anchor() {
            return true;
        }
        let free = span.range.start >= anchor_end;
        if free {
            anchor_end = span.range.end;
        }
        free
    });
    spans
}

/// The markup for one entity covering `covered` text, if it has any.
fn markup_for(entity: &Entity, covered: &str, resolver: &dyn MentionResolver) -> Option<Markup> {
    use EntityKind as E;
    match &entity.kind {
        E::Bold => Some(Markup::Bold),
        E::Italic => Some(Markup::Italic),
        E::Underline => Some(Markup::Underline),
        E::Strike => Some(Markup::Strike),
        E::Spoiler => Some(Markup::Spoiler),
        E::Code => Some(Markup::Code),
        E::Pre(language) => Some(Markup::Pre(code_language(language))),
        E::Blockquote => Some(Markup::Blockquote),
        E::TextUrl(url) => match tg_user_link(url) {
            Some(user_id) => pill(resolver, user_id),
            None => safe_link(url).map(Markup::Link),
        },
        E::Url => url_entity_href(covered).map(Markup::Link),
        E::Email => safe_link(&format!("mailto:{covered}")).map(Markup::Link),
        E::MentionName(user_id) | E::MentionUser { user_id, .. } => pill(resolver, *user_id),
        E::Mention => {
            let username = covered.strip_prefix('@')?;
            pill(resolver, resolver.telegram_user_by_username(username)?)
        }
        E::Other => None,
    }
}

fn pill(resolver: &dyn MentionResolver, telegram_user_id: i64) -> Option<Markup> {
    resolver.matrix_user(telegram_user_id).map(Markup::Pill)
}

/// Schemes a Matrix client may be asked to open: the ones the Matrix
/// specification allows in `a href`.
const SAFE_SCHEMES: [&str; 5] = ["http", "https", "ftp", "mailto", "magnet"];

/// `url` itself when it parses and its scheme is safe to open.
fn safe_link(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    SAFE_SCHEMES
        .contains(&parsed.scheme())
        .then(|| url.to_owned())
}

/// The target of a URL Telegram detected in the text: the text itself when
/// it has a safe scheme, else the text as an `http://` address, as Telegram
/// clients open scheme-less links.
fn url_entity_href(covered: &str) -> Option<String> {
    safe_link(covered).or_else(|| {
        let has_scheme = Url::parse(covered).is_ok();
        (!has_scheme)
            .then(|| safe_link(&format!("http://{covered}")))
            .flatten()
    })
}

/// The language of a code block if it is a plausible language name; it is
/// written into a class attribute, so nothing but a safe charset passes.
fn code_language(language: &str) -> Option<String> {
    let plausible = !language.is_empty()
        && language.len() <= 32
        && language
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_' | '.'));
    plausible.then(|| language.to_owned())
}

/// Renders `text` with `spans` (sorted by start) as HTML.
fn render(text: &str, spans: &[Span]) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut cuts: Vec<usize> = spans
        .iter()
        .flat_map(|s| [s.range.start, s.range.end])
        .chain([0, text.len()])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut open: Vec<usize> = Vec::new();
    let mut active: Vec<usize> = Vec::new();
    let mut next = 0;
    for run in cuts.windows(2) {
        let (start, end) = (run[0], run[1]);
        active.retain(|&i| spans[i].range.end > start);
        while next < spans.len() && spans[next].range.start <= start {
            if spans[next].range.end > start {
                active.push(next);
            }
            next += 1;
        }
        active.sort_by_key(|&i| spans[i].key());
        reopen(&mut out, spans, &mut open, &active);
        let in_pre = open
            .iter()
            .any(|&i| matches!(spans[i].markup, Markup::Pre(_)));
        escape_into(&mut out, &text[start..end], !in_pre);
    }
    reopen(&mut out, spans, &mut open, &[]);
    out
}

/// Closes the open tags that are not a prefix of `wanted` and opens the
/// rest of `wanted`, so that the open stack equals `wanted` afterwards.
fn reopen(out: &mut String, spans: &[Span], open: &mut Vec<usize>, wanted: &[usize]) {
    let keep = open.iter().zip(wanted).take_while(|(a, b)| a == b).count();
    for &i in open[keep..].iter().rev() {
        spans[i].markup.write_close(out);
    }
    open.truncate(keep);
    for &i in &wanted[keep..] {
        spans[i].markup.write_open(out);
        open.push(i);
    }
}

/// Appends `text` HTML-escaped. Outside code blocks newlines become `<br>`.
/// Carriage returns are written as references because HTML parsers turn a
/// literal CR into LF; NUL is dropped because parsers drop it too.
fn escape_into(out: &mut String, text: &str, break_lines: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\r' => out.push_str("&#13;"),
            '\0' => {}
            '\n' if break_lines => out.push_str("<br>"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_text_on_their_own_line() {
        let plain = MatrixText {
            body: "a < b\nc".into(),
            html: None,
            mentions: Vec::new(),
        };
        let signed = with_signature(plain, "Bob & Co");
        assert_eq!(signed.body, "a < b\nc\n— Bob & Co");
        assert_eq!(
            signed.html.as_deref(),
            Some("a &lt; b<br>c<br><em>— Bob &amp; Co</em>")
        );
        let formatted = MatrixText {
            body: "hi".into(),
            html: Some("<strong>hi</strong>".into()),
            mentions: Vec::new(),
        };
        assert_eq!(
            with_signature(formatted, "Bob").html.as_deref(),
            Some("<strong>hi</strong><br><em>— Bob</em>")
        );
        let empty = MatrixText {
            body: String::new(),
            html: None,
            mentions: Vec::new(),
        };
        let signed = with_signature(empty, "Bob");
        assert_eq!(signed.body, "— Bob");
        assert_eq!(signed.html.as_deref(), Some("<em>— Bob</em>"));
    }

    #[test]
    fn languages_are_sanitised() {
        assert_eq!(code_language("rust"), Some("rust".into()));
        assert_eq!(code_language("c++"), Some("c++".into()));
        assert_eq!(code_language(""), None);
        assert_eq!(code_language("x\" onclick=\"y"), None);
        assert_eq!(code_language(&"a".repeat(40)), None);
    }

    #[test]
    fn only_safe_schemes_link() {
        assert!(safe_link("https://example.org/a?b=c").is_some());
        assert!(safe_link("mailto:a@example.org").is_some());
        assert!(safe_link("javascript:alert(1)").is_none());
        assert!(safe_link("data:text/html,<script>").is_none());
        assert!(safe_link("tg://resolve?domain=x").is_none());
        assert!(safe_link("no scheme").is_none());
    }

    #[test]
    fn detected_urls_get_a_scheme() {
        assert_eq!(
            url_entity_href("example.org/x"),
            Some("http://example.org/x".into())
        );
        assert_eq!(
            url_entity_href("https://example.org"),
            Some("https://example.org".into())
        );
        assert_eq!(url_entity_href("javascript:alert(1)"), None);
    }
}
