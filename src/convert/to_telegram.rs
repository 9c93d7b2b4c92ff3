//! Matrix `body` + `org.matrix.custom.html` → Telegram text + entities.
//!
//! The HTML is parsed by html5ever (see `html_tree`) and walked without
//! recursion; tags become entities over the text written so far, counted in
//! UTF-16 units. Block elements become line breaks, lists become bullets,
//! reply fallbacks (`<mx-reply>`) disappear. This module decides what each
//! tag means and owns nothing else.

use url::Url;

use super::entity::{to_tl_int, Entity, EntityKind};
use super::html_tree::{Element, HtmlTree, NodeData, NodeId};
use super::mention::{pill_user, MentionResolver};
use super::utf16::utf16_len;

/// A message ready to be sent to Telegram.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TelegramText {
    /// The message text.
    pub text: String,
    /// Formatting, with offsets and lengths in UTF-16 units of `text`,
    /// sorted by offset.
    pub entities: Vec<Entity>,
}

/// A Matrix event carries at most 65 536 bytes, so a longer `formatted_body`
/// cannot be genuine; such input falls back to the plain body rather than
/// costing a parse.
pub const MAX_HTML_BYTES: usize = 65_536;

/// Deepest element nesting converted. Real messages nest a handful of
/// levels (the Matrix spec lets clients drop anything past 100); deeper
/// markup falls back to the plain body, as parsing it costs quadratic time.
pub const MAX_HTML_NESTING: usize = 500;

/// Converts a Matrix message into Telegram text.
///
/// Without `html` (or with one over [`MAX_HTML_BYTES`] or
/// [`MAX_HTML_NESTING`]) the plain `body` is sent as is.
/// Pills of users the resolver knows become Telegram mentions; other pills
/// stay as their text. For replies, pass the body through
/// [`strip_reply_fallback`] first; the HTML fallback is always removed.
pub fn matrix_to_telegram(
    body: &str,
    html: Option<&str>,
    resolver: &dyn MentionResolver,
) -> TelegramText {
    let converted = html
        .filter(|html| html.len() <= MAX_HTML_BYTES)
        .and_then(|html| HtmlTree::parse(html, MAX_HTML_NESTING))
        .map(|tree| Walker::new(&tree, resolver).run());
    match converted {
        // HTML that shows nothing (say, an image without alt text) must not
        // swallow a message whose body has text.
        Some(text) if !text.text.trim().is_empty() || body.trim().is_empty() => text,
        _ => TelegramText {
            text: body.to_owned(),
            entities: Vec::new(),
        },
    }
}

/// Removes the quoted reply fallback from the plain `body` of a reply:
/// leading `> <@user:server> …` lines and the blank line after them.
///
/// Only a fallback that names a user is removed, so a reply that merely
/// starts with a quote keeps it (current clients send no fallback at all).
pub fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> <@") && !body.starts_with("> * <@") {
        return body;
    }
    let mut rest = body;
    while rest.starts_with('>') {
        rest = rest.split_once('\n').map_or("", |(_, tail)| tail);
    }
    rest.strip_prefix('\n').unwrap_or(rest)
}

/// One step of the iterative walk.
enum Visit {
    Enter(NodeId),
    Leave(Closing),
}

/// What to undo when an element's subtree has been written.
struct Closing {
    /// Index into `Walker::open` of the element's entity, if it opened one.
    entity: Option<usize>,
    /// Line breaks the element wants after it (0 for inline elements).
    breaks_after: u8,
    /// For a code block: the text length when it opened.
    leaves_pre: Option<usize>,
    leaves_list: bool,
}

/// An entity whose element is still open. Its start is fixed by the first
/// character written inside it, so line breaks a block element asks for
/// before its content stay outside the entity.
struct Open {
    kind: EntityKind,
    start: Option<usize>,
}

/// A list being written: the number of its next item, if ordered.
struct List {
    next_number: Option<u64>,
}

/// Writes the text and collects entities while walking the tree.
struct Walker<'a> {
    tree: &'a HtmlTree,
    resolver: &'a dyn MentionResolver,
    text: String,
    /// UTF-16 length of `text`.
    units: usize,
    /// Line breaks required before the next character (block boundaries).
    pending_breaks: u8,
    /// A space from source formatting, written only before more inline text.
    pending_space: bool,
    open: Vec<Option<Open>>,
    done: Vec<(EntityKind, usize, usize)>,
    pre_depth: usize,
    lists: Vec<List>,
    /// Where the last list bullet ended.
    bullet_end: Option<usize>,
}

impl<'a> Walker<'a> {
    fn new(tree: &'a HtmlTree, resolver: &'a dyn MentionResolver) -> Self {
        Self {
            tree,
            resolver,
            text: String::new(),
            units: 0,
            pending_breaks: 0,
            pending_space: false,
            open: Vec::new(),
            done: Vec::new(),
            pre_depth: 0,
            lists: Vec::new(),
            bullet_end: None,
        }
    }

    fn run(mut self) -> TelegramText {
        // The root is the fragment's container, not content.
        let mut stack = Vec::new();
        self.push_children(&mut stack, self.tree.root());
        while let Some(visit) = stack.pop() {
            match visit {
                Visit::Enter(id) => self.enter(&mut stack, id),
                Visit::Leave(closing) => self.leave(closing),
            }
        }
        TelegramText {
            text: self.text,
            entities: merge_entities(self.done),
        }
    }

    fn push_children(&self, stack: &mut Vec<Visit>, id: NodeId) {
        if let Some(node) = self.tree.node(id) {
            stack.extend(node.children.iter().rev().map(|&c| Visit::Enter(c)));
        }
    }

    fn enter(&mut self, stack: &mut Vec<Visit>, id: NodeId) {
        let Some(node) = self.tree.node(id) else {
            return;
        };
        match &node.data {
            // Code blocks keep their text verbatim.
            NodeData::Text(text) if self.pre_depth > 0 => self.write(text),
            NodeData::Text(text) => self.write_inline(text),
            NodeData::Element(element) => self.enter_element(stack, id, element),
            NodeData::Document | NodeData::Other => {}
        }
    }

    fn enter_element(&mut self, stack: &mut Vec<Visit>, id: NodeId, element: &Element) {
        let tag = element.tag();
        match tag {
            // Reply fallbacks, and elements whose text is never displayed.
            "mx-reply" | "script" | "style" | "template" | "head" | "title" | "noscript" => return,
            "br" => return self.write_break(),
            "img" => return self.write(element.attr("alt").unwrap_or_default()),
            "hr" => {
                self.want_breaks(1);
                self.write("———");
                return self.want_breaks(1);
            }
            _ => {}
        }
        let breaks = block_breaks(tag);
        // A paragraph opening a list item starts on the bullet's line.
        let opens_item = self.bullet_end == Some(self.units) && !matches!(tag, "li" | "ul" | "ol");
        if !opens_item {
            self.want_breaks(breaks);
        }
        let mut closing = Closing {
            entity: None,
            breaks_after: breaks,
            leaves_pre: None,
            leaves_list: false,
        };
        match tag {
            "pre" => {
                let kind = EntityKind::Pre(pre_language(self.tree, id));
                closing.entity = Some(self.open_entity(kind));
                self.pre_depth += 1;
                closing.leaves_pre = Some(self.units);
            }
            "ul" | "ol" => {
                let next_number = (tag == "ol").then(|| list_start(element));
                self.lists.push(List { next_number });
                closing.leaves_list = true;
            }
            "li" => self.write_bullet(),
            "a" => {
                if let Some(replacement) = self.enter_link(element, id, &mut closing) {
                    self.write(&replacement);
                    stack.push(Visit::Leave(closing));
                    return;
                }
            }
            _ => {
                closing.entity =
                    inline_kind(tag, element, self.pre_depth > 0).map(|kind| self.open_entity(kind))
            }
        }
        stack.push(Visit::Leave(closing));
        self.push_children(stack, id);
    }

    /// Opens the entity of an `<a>`; returns text to write instead of the
    /// children when the link is a pill without readable text.
    fn enter_link(
        &mut self,
        element: &Element,
        id: NodeId,
        closing: &mut Closing,
    ) -> Option<String> {
        let href = element.attr("href")?;
        let shown = text_content(self.tree, id);
        if let Some(user) = pill_user(href) {
            let mention = self.resolver.telegram_user(&user);
            // Some clients write the bare user id, or nothing, as pill text.
            let empty = self.tree.node(id).is_none_or(|n| n.children.is_empty());
            let unreadable = empty || shown.trim() == user.as_str();
            let replacement = unreadable.then(|| match &mention {
                Some(m) if !m.display_name.is_empty() => m.display_name.clone(),
                _ => user.to_string(),
            });
            if let Some(mention) = mention {
                closing.entity = Some(self.open_entity(EntityKind::MentionName(mention.user_id)));
            }
            return replacement;
        }
        closing.entity = link_kind(href, &shown).map(|kind| self.open_entity(kind));
        None
    }

    fn leave(&mut self, closing: Closing) {
        if let Some(index) = closing.entity {
            self.close_entity(index);
        }
        if let Some(opened_at) = closing.leaves_pre {
            self.pre_depth = self.pre_depth.saturating_sub(1);
            self.drop_final_newline(opened_at);
        }
        if closing.leaves_list {
            self.lists.pop();
        }
        self.want_breaks(closing.breaks_after);
    }

    /// Opens an entity; returns its index in `open` for [`Closing`].
    fn open_entity(&mut self, kind: EntityKind) -> usize {
        self.open.push(Some(Open { kind, start: None }));
        self.open.len() - 1
    }

    fn close_entity(&mut self, index: usize) {
        let Some(Open { kind, start }) = self.open.get_mut(index).and_then(Option::take) else {
            return;
        };
        if let Some(start) = start.filter(|&s| s < self.units) {
            self.done.push((kind, start, self.units));
        }
        while matches!(self.open.last(), Some(None)) {
            self.open.pop();
        }
    }

    fn want_breaks(&mut self, breaks: u8) {
        self.pending_breaks = self.pending_breaks.max(breaks);
    }

    /// Writes a list item's bullet or number, indented by list depth.
    fn write_bullet(&mut self) {
        let depth = self.lists.len().saturating_sub(1);
        let marker = match self.lists.last_mut() {
            Some(List {
                next_number: Some(n),
            }) => {
                let marker = format!("{n}. ");
                *n = n.saturating_add(1);
                marker
            }
            _ => "• ".to_owned(),
        };
        self.write(&format!("{}{marker}", "    ".repeat(depth)));
        self.bullet_end = Some(self.units);
    }

    /// Text outside code blocks. Newlines in HTML source are spaces; a text
    /// node that is only whitespace around a newline is source indentation:
    /// one space between inline content, nothing next to a line break.
    fn write_inline(&mut self, text: &str) {
        if text.contains('\n') && text.chars().all(char::is_whitespace) {
            self.pending_space = true;
            return;
        }
        self.write(&text.replace('\n', " "));
    }

    /// Removes the newline that ends a code block's content, if the block
    /// (opened at `opened_at` units) wrote one: Matrix clients end code with
    /// a newline that is markup, not content. Entities are clipped to match.
    fn drop_final_newline(&mut self, opened_at: usize) {
        if self.units <= opened_at || !self.text.ends_with('\n') {
            return;
        }
        self.text.pop();
        self.units -= 1;
        let units = self.units;
        for (_, _, end) in &mut self.done {
            *end = (*end).min(units);
        }
        self.done.retain(|(_, start, end)| start < end);
    }

    /// A `<br>`: a newline that also counts toward pending block breaks.
    fn write_break(&mut self) {
        if self.pre_depth > 0 {
            return self.write("\n");
        }
        let pending = std::mem::take(&mut self.pending_breaks);
        self.pending_space = false;
        self.flush_breaks(pending.saturating_sub(1));
        self.append("\n");
    }

    /// Writes content, first honouring pending block breaks.
    fn write(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending_breaks);
        let space = std::mem::take(&mut self.pending_space);
        if pending > 0 {
            self.flush_breaks(pending);
        } else if space && !self.text.ends_with(char::is_whitespace) && !self.text.is_empty() {
            self.push_unowned(' ');
        }
        self.append(text);
    }

    /// Ends the text with at least `breaks` newlines, except at the very
    /// start of the message. These newlines belong to no entity.
    fn flush_breaks(&mut self, breaks: u8) {
        if self.text.is_empty() {
            return;
        }
        let trailing = self.text.chars().rev().take_while(|&c| c == '\n').count();
        for _ in trailing..usize::from(breaks) {
            self.push_unowned('\n');
        }
    }

    /// Appends layout whitespace that belongs to no entity.
    fn push_unowned(&mut self, c: char) {
        self.text.push(c);
        self.units += c.len_utf16();
    }

    /// Appends `text` and starts the entities waiting for their first char.
    fn append(&mut self, text: &str) {
        for open in self.open.iter_mut().flatten() {
            open.start.get_or_insert(self.units);
        }
        self.text.push_str(text);
        self.units += utf16_len(text);
    }
}

/// Line breaks a block element wants around it; 0 for inline elements.
fn block_breaks(tag: &str) -> u8 {
    match tag {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => 2,
        "div" | "blockquote" | "pre" | "ul" | "ol" | "li" | "table" | "tr" | "dl" | "dt" | "dd"
        | "details" | "summary" | "figure" | "figcaption" | "section" | "article" | "aside"
        | "header" | "footer" | "nav" | "main" | "address" | "fieldset" => 1,
        _ => 0,
    }
}

/// The entity of a formatting element; `None` for elements that only carry
/// text (and for inline code inside a code block, already monospace).
fn inline_kind(tag: &str, element: &Element, in_pre: bool) -> Option<EntityKind> {
    Some(match tag {
        "b" | "strong" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => EntityKind::Bold,
        "i" | "em" | "cite" => EntityKind::Italic,
        "u" | "ins" => EntityKind::Underline,
        "s" | "del" | "strike" => EntityKind::Strike,
        "code" if !in_pre => EntityKind::Code,
        "blockquote" => EntityKind::Blockquote,
        "span" if element.attr("data-mx-spoiler").is_some() => EntityKind::Spoiler,
        _ => return None,
    })
}

/// Schemes Telegram accepts in text links.
const LINK_SCHEMES: [&str; 6] = ["http", "https", "ftp", "mailto", "magnet", "tg"];

/// The entity of a non-pill link, by how its text relates to its target.
fn link_kind(href: &str, shown: &str) -> Option<EntityKind> {
    let url = Url::parse(href).ok()?;
    if !LINK_SCHEMES.contains(&url.scheme()) {
        return None;
    }
    let without_scheme = href
        .strip_prefix(url.scheme())
        .and_then(|rest| rest.strip_prefix(':'))
        .map(|rest| rest.trim_start_matches('/'));
    Some(match url.scheme() {
        _ if shown == href => EntityKind::Url,
        "http" | "https" if without_scheme == Some(shown) => EntityKind::Url,
        "mailto" if without_scheme == Some(shown) => EntityKind::Email,
        _ => EntityKind::TextUrl(href.to_owned()),
    })
}

/// The language of a `<pre>`: from its `<code class="language-…">` child.
fn pre_language(tree: &HtmlTree, pre: NodeId) -> String {
    let children = tree
        .node(pre)
        .map(|n| n.children.as_slice())
        .unwrap_or_default();
    children
        .iter()
        .filter_map(|&c| match &tree.node(c)?.data {
            NodeData::Element(e) if e.tag() == "code" => e.attr("class"),
            _ => None,
        })
        .flat_map(str::split_ascii_whitespace)
        .find_map(|class| class.strip_prefix("language-"))
        .unwrap_or_default()
        .to_owned()
}

/// The number of an ordered list's first item.
fn list_start(element: &Element) -> u64 {
    element
        .attr("start")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1)
}

/// All text under `id`, in document order, without recursion.
fn text_content(tree: &HtmlTree, id: NodeId) -> String {
    let mut out = String::new();
    let mut stack = vec![id];
    while let Some(id) = stack.pop() {
        let Some(node) = tree.node(id) else { continue };
        if let NodeData::Text(text) = &node.data {
            out.push_str(text);
        }
        stack.extend(node.children.iter().rev());
    }
    out
}

/// Merges runs of the same entity that touch or overlap (HTML often splits
/// one Telegram entity into several tags) and sorts by offset.
fn merge_entities(mut runs: Vec<(EntityKind, usize, usize)>) -> Vec<Entity> {
    runs.sort_by_key(|(kind, start, end)| (*start, std::cmp::Reverse(*end), kind.rank()));
    let mut merged: Vec<(EntityKind, usize, usize)> = Vec::with_capacity(runs.len());
    for (kind, start, end) in runs {
        let previous = merged
            .iter_mut()
            .rev()
            .find(|(k, _, e)| *k == kind && *e >= start);
        match previous {
            Some((_, _, e)) => *e = (*e).max(end),
            None => merged.push((kind, start, end)),
        }
    }
    merged
        .into_iter()
        .map(|(kind, start, end)| kind.to_entity(to_tl_int(start), to_tl_int(end - start)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_fallback_lines_are_removed() {
        let body = "> <@alice:example.org> original\n> second line\n\nmy answer";
        assert_eq!(strip_reply_fallback(body), "my answer");
        let emote = "> * <@alice:example.org> waves\n\nhi";
        assert_eq!(strip_reply_fallback(emote), "hi");
    }

    #[test]
    fn genuine_quotes_are_kept() {
        assert_eq!(
            strip_reply_fallback("> a quote\n\ntext"),
            "> a quote\n\ntext"
        );
        assert_eq!(strip_reply_fallback("plain"), "plain");
        assert_eq!(strip_reply_fallback("> <@a:b> only"), "");
    }

    #[test]
    fn link_kinds() {
        assert_eq!(
            link_kind("https://a.org", "https://a.org"),
            Some(EntityKind::Url)
        );
        assert_eq!(
            link_kind("http://a.org/x", "a.org/x"),
            Some(EntityKind::Url)
        );
        assert_eq!(
            link_kind("mailto:me@a.org", "me@a.org"),
            Some(EntityKind::Email)
        );
        assert_eq!(
            link_kind("https://a.org", "here"),
            Some(EntityKind::TextUrl("https://a.org".into()))
        );
        assert_eq!(link_kind("javascript:alert(1)", "x"), None);
        assert_eq!(link_kind("/relative", "x"), None);
    }

    #[test]
    fn merging_joins_touching_runs_of_the_same_kind() {
        let merged = merge_entities(vec![
            (EntityKind::Bold, 0, 2),
            (EntityKind::Italic, 1, 3),
            (EntityKind::Bold, 2, 4),
            (EntityKind::Bold, 6, 7),
        ]);
        assert_eq!(
            merged,
            vec![
                EntityKind::Bold.to_entity(0, 4),
                EntityKind::Italic.to_entity(1, 2),
                EntityKind::Bold.to_entity(6, 1),
            ]
        );
    }
}
