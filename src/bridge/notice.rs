//! Formatted notices the bot sends: one builder producing the plain-text body
//! and the HTML `formatted_body` together, so both always say the same thing.
//! Pure: no I/O.

use std::fmt::Write as _;

/// A bot answer with a plain-text and an HTML rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    /// The `body`: what clients without HTML support show.
    pub plain: String,
    /// The `formatted_body` (`org.matrix.custom.html`).
    pub html: String,
}

impl Notice {
    /// An empty notice.
    pub fn new() -> Self {
        Self::default()
    }

    /// A one-paragraph notice.
    pub fn text(text: &str) -> Self {
        Self::new().paragraph(text)
    }

    /// Appends a paragraph. `` `code` `` spans become `<code>`.
    pub fn paragraph(mut self, text: &str) -> Self {
        self.separate();
        self.plain.push_str(text);
        self.html.push_str("<p>");
        push_inline_html(&mut self.html, text);
        self.html.push_str("</p>");
        self
    }

    /// Appends a bold heading line.
    pub fn heading(mut self, text: &str) -> Self {
        self.separate();
        self.plain.push_str(text);
        self.html.push_str("<p><strong>");
        push_escaped(&mut self.html, text);
        self.html.push_str("</strong></p>");
        self
    }

    /// Appends a definition list: a code-formatted term and its description,
    /// aligned in plain text.
    pub fn definitions(mut self, items: &[(&str, &str)]) -> Self {
        self.separate();
        let width = items.iter().map(|(term, _)| term.len()).max().unwrap_or(0);
        self.html.push_str("<ul>");
        for (index, (term, description)) in items.iter().enumerate() {
            if index > 0 {
                self.plain.push('\n');
            }
            // Writing to a String cannot fail.
            let _ = write!(self.plain, "  {term:<width$}  {description}");
            self.html.push_str("<li><code>");
            push_escaped(&mut self.html, term);
            self.html.push_str("</code> — ");
            push_inline_html(&mut self.html, description);
            self.html.push_str("</li>");
        }
        self.html.push_str("</ul>");
        self
    }

    /// Appends a preformatted block (usage lines, shell commands).
    pub fn code_block(mut self, text: &str) -> Self {
        self.separate();
        for line in text.lines() {
            self.plain.push_str("    ");
            self.plain.push_str(line);
            self.plain.push('\n');
        }
        self.plain.truncate(self.plain.trim_end_matches('\n').len());
        self.html.push_str("<pre><code>");
        push_escaped(&mut self.html, text);
        self.html.push_str("</code></pre>");
        self
    }

    fn separate(&mut self) {
        if !self.plain.is_empty() {
            self.plain.push_str("\n\n");
        }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// Escapes `text`, turning `` `spans` `` into `<code>` elements. A last,
/// unmatched backtick stays a literal backtick.
fn push_inline_html(out: &mut String, text: &str) {
    let pieces: Vec<&str> = text.split('`').collect();
    for (index, piece) in pieces.iter().enumerate() {
        let inside_span = index % 2 == 1;
        let closed = index + 1 < pieces.len();
        if inside_span && closed {
            out.push_str("<code>");
            push_escaped(out, piece);
            out.push_str("</code>");
        } else {
            if inside_span {
                out.push('`');
            }
            push_escaped(out, piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_html_say_the_same_thing() {
        let notice = Notice::new()
            .heading("Commands")
            .definitions(&[("help", "this text"), ("ping", "am I `logged in`?")])
            .paragraph("Run `tgbridge login` & come back <soon>.");
        assert_eq!(
            notice.plain,
            "Commands\n\n  help  this text\n  ping  am I `logged in`?\n\nRun `tgbridge login` & come back <soon>."
        );
        assert_eq!(
            notice.html,
            "<p><strong>Commands</strong></p><ul><li><code>help</code> — this text</li>\
             <li><code>ping</code> — am I <code>logged in</code>?</li></ul>\
             <p>Run <code>tgbridge login</code> &amp; come back &lt;soon&gt;.</p>"
        );
    }

    #[test]
    fn code_blocks_are_indented_in_plain_text_and_escaped_in_html() {
        let notice = Notice::text("Usage:").code_block("tgbridge login\ntgbridge run <x>");
        assert_eq!(
            notice.plain,
            "Usage:\n\n    tgbridge login\n    tgbridge run <x>"
        );
        assert_eq!(
            notice.html,
            "<p>Usage:</p><pre><code>tgbridge login\ntgbridge run &lt;x&gt;</code></pre>"
        );
    }

    #[test]
    fn unmatched_backticks_stay_literal() {
        let notice = Notice::text("a `b");
        assert_eq!(notice.html, "<p>a `b</p>");
    }
}
