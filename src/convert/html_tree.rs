//! A flat DOM for html5ever: every node lives in one `Vec` and refers to its
//! relatives by index. Rc-linked trees (ruma-html's, rcdom's) free nodes
//! recursively, and a few kilobytes of `<b><b><b>…` overflow the stack when
//! they are dropped; a flat arena has no recursion at all. This module only
//! builds the tree; what the elements mean is decided by the converter.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{ns, Attribute, ExpandedName, LocalName, ParseOpts, QualName};

/// Index of a node in its [`HtmlTree`].
pub(crate) type NodeId = usize;

/// A parsed HTML fragment.
pub(crate) struct HtmlTree {
    nodes: Vec<Node>,
}

/// One node of the tree.
pub(crate) struct Node {
    parent: Option<NodeId>,
    /// Children in document order.
    pub(crate) children: Vec<NodeId>,
    pub(crate) data: NodeData,
}

/// What a node is.
pub(crate) enum NodeData {
    Document,
    Element(Element),
    Text(StrTendril),
    /// Comments and processing instructions: never shown.
    Other,
}

/// An element with its (lower-case, HTML-namespace) name and attributes.
pub(crate) struct Element {
    name: QualName,
    attrs: Vec<Attribute>,
}

impl Element {
    /// The tag name, e.g. `"b"`.
    pub(crate) fn tag(&self) -> &str {
        &self.name.local
    }

    /// The value of attribute `name`, if present.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name.ns == ns!() && &*a.name.local == name)
            .map(|a| &*a.value)
    }
}

impl HtmlTree {
    /// Parses `html` as the body of a `<div>`, the way Matrix clients treat
    /// `formatted_body`. HTML5 defines a result for every input, so this only
    /// refuses (with `None`) markup nested deeper than `max_depth`: html5ever's
    /// tree construction is quadratic in the nesting depth.
    pub(crate) fn parse(html: &str, max_depth: usize) -> Option<Self> {
        if nesting_bound(html) > max_depth {
            return None;
        }
        let context = QualName::new(None, ns!(html), LocalName::from("div"));
        let opts = ParseOpts {
            // A leading U+FEFF is message text here, not a byte order mark.
            tokenizer: TokenizerOpts {
                discard_bom: false,
                ..TokenizerOpts::default()
            },
            ..ParseOpts::default()
        };
        Some(html5ever::parse_fragment(Sink::new(), opts, context, Vec::new(), true).one(html))
    }

    /// The node whose children are the fragment's top-level nodes.
    pub(crate) fn root(&self) -> NodeId {
        // html5ever puts a fragment under an `<html>` element that is the
        // document's only child.
        self.nodes
            .first()
            .and_then(|doc| doc.children.first().copied())
            .unwrap_or(DOCUMENT)
    }

    /// The node with index `id`; `None` only for ids not from this tree.
    pub(crate) fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }
}

const DOCUMENT: NodeId = 0;

/// An upper bound of the element nesting depth `html` produces, from its
/// tags alone (a linear pass of the tokenizer). Void elements and elements
/// that close their open predecessor of the same kind (`p`, `li`, table
/// cells…) cannot deepen the tree by repetition and are not counted.
fn nesting_bound(html: &str) -> usize {
    let tokenizer = Tokenizer::new(DepthCounter::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(html));
    // The counter never asks to pause for scripts, so one feed reads it all.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.deepest.get()
}

/// Counts open tags for [`nesting_bound`].
#[derive(Default)]
struct DepthCounter {
    depth: Cell<usize>,
    deepest: Cell<usize>,
}

impl TokenSink for DepthCounter {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let Token::TagToken(tag) = token {
            let shallow = tag.self_closing || is_void_or_self_closing_sibling(&tag.name);
            match tag.kind {
                TagKind::StartTag if !shallow => {
                    self.depth.set(self.depth.get() + 1);
                    self.deepest.set(self.deepest.get().max(self.depth.get()));
                }
                TagKind::EndTag if !shallow => self.depth.set(self.depth.get().saturating_sub(1)),
                _ => {}
            }
        }
        TokenSinkResult::Continue
    }
}

fn is_void_or_self_closing_sibling(name: &LocalName) -> bool {
    matches!(
        &**name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
            | "p"
            | "li"
            | "dt"
            | "dd"
            | "option"
            | "optgroup"
            | "tr"
            | "td"
            | "th"
            | "rb"
            | "rt"
            | "rtc"
            | "rp"
    )
}

/// Builds an [`HtmlTree`] for html5ever.
struct Sink {
    nodes: RefCell<Vec<Node>>,
    /// Placeholder name for nodes that are not elements.
    unnamed: QualName,
}

/// The parser's handle to a node: its index, plus the element name so that
/// [`TreeSink::elem_name`] can lend it without borrowing the arena.
#[derive(Clone)]
struct Handle {
    id: NodeId,
    name: QualName,
}

impl Sink {
    fn new() -> Self {
        let document = Node {
            parent: None,
            children: Vec::new(),
            data: NodeData::Document,
        };
        Self {
            nodes: RefCell::new(vec![document]),
            unnamed: QualName::new(None, ns!(), LocalName::from("")),
        }
    }

    fn create(&self, data: NodeData, name: QualName) -> Handle {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            parent: None,
            children: Vec::new(),
            data,
        });
        Handle {
            id: nodes.len() - 1,
            name,
        }
    }

    /// Removes `id` from its parent's children.
    fn detach(nodes: &mut [Node], id: NodeId) {
        let Some(parent) = nodes.get_mut(id).and_then(|n| n.parent.take()) else {
            return;
        };
        if let Some(p) = nodes.get_mut(parent) {
            p.children.retain(|&c| c != id);
        }
    }

    /// Inserts `child` into `parent`'s children at `index` (or last).
    fn attach(nodes: &mut [Node], parent: NodeId, child: NodeId, index: Option<usize>) {
        Self::detach(nodes, child);
        if let Some(c) = nodes.get_mut(child) {
            c.parent = Some(parent);
        }
        if let Some(p) = nodes.get_mut(parent) {
            let at = index.unwrap_or(p.children.len()).min(p.children.len());
            p.children.insert(at, child);
        }
    }

    /// Appends text to the text node `id` if it is one.
    fn extend_text(nodes: &mut [Node], id: Option<NodeId>, text: &StrTendril) -> bool {
        match id.and_then(|id| nodes.get_mut(id)).map(|n| &mut n.data) {
            Some(NodeData::Text(existing)) => {
                existing.push_tendril(text);
                true
            }
            _ => false,
        }
    }

    fn new_text(&self, text: StrTendril) -> NodeId {
        self.create(NodeData::Text(text), self.unnamed.clone()).id
    }
}

impl TreeSink for Sink {
    type Handle = Handle;
    type Output = HtmlTree;
    type ElemName<'a> = ExpandedName<'a>;

    fn finish(self) -> HtmlTree {
        HtmlTree {
            nodes: self.nodes.into_inner(),
        }
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {
        // Malformed HTML is normal input here; html5ever recovers from it.
    }

    fn get_document(&self) -> Handle {
        Handle {
            id: DOCUMENT,
            name: self.unnamed.clone(),
        }
    }

    fn elem_name<'a>(&'a self, target: &'a Handle) -> ExpandedName<'a> {
        target.name.expanded()
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, _: ElementFlags) -> Handle {
        let element = Element {
            name: name.clone(),
            attrs,
        };
        self.create(NodeData::Element(element), name)
    }

    fn create_comment(&self, _text: StrTendril) -> Handle {
        self.create(NodeData::Other, self.unnamed.clone())
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> Handle {
        self.create(NodeData::Other, self.unnamed.clone())
    }

    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        let child = match child {
            NodeOrText::AppendNode(node) => node.id,
            NodeOrText::AppendText(text) => {
                let last = self
                    .nodes
                    .borrow()
                    .get(parent.id)
                    .and_then(|p| p.children.last().copied());
                if Self::extend_text(&mut self.nodes.borrow_mut(), last, &text) {
                    return;
                }
                self.new_text(text)
            }
        };
        Self::attach(&mut self.nodes.borrow_mut(), parent.id, child, None);
    }

    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        let has_parent = self
            .nodes
            .borrow()
            .get(element.id)
            .is_some_and(|n| n.parent.is_some());
        if has_parent {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(&self, _: StrTendril, _: StrTendril, _: StrTendril) {}

    fn get_template_contents(&self, target: &Handle) -> Handle {
        target.clone()
    }

    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        x.id == y.id
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &Handle, new_node: NodeOrText<Handle>) {
        let (parent, index) = {
            let nodes = self.nodes.borrow();
            let Some(parent) = nodes.get(sibling.id).and_then(|n| n.parent) else {
                return;
            };
            let index = nodes
                .get(parent)
                .and_then(|p| p.children.iter().position(|&c| c == sibling.id));
            (parent, index)
        };
        let child = match new_node {
            NodeOrText::AppendNode(node) => node.id,
            NodeOrText::AppendText(text) => {
                let previous = index
                    .and_then(|i| i.checked_sub(1))
                    .and_then(|i| self.nodes.borrow().get(parent)?.children.get(i).copied());
                if Self::extend_text(&mut self.nodes.borrow_mut(), previous, &text) {
                    return;
                }
                self.new_text(text)
            }
        };
        let mut nodes = self.nodes.borrow_mut();
        Self::detach(&mut nodes, child);
        // Detaching may have shifted the sibling; look its index up again.
        let index = nodes
            .get(parent)
            .and_then(|p| p.children.iter().position(|&c| c == sibling.id));
        Self::attach(&mut nodes, parent, child, index);
    }

    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        let mut nodes = self.nodes.borrow_mut();
        if let Some(NodeData::Element(element)) = nodes.get_mut(target.id).map(|n| &mut n.data) {
            for attr in attrs {
                if !element.attrs.iter().any(|a| a.name == attr.name) {
                    element.attrs.push(attr);
                }
            }
        }
    }

    fn remove_from_parent(&self, target: &Handle) {
        Self::detach(&mut self.nodes.borrow_mut(), target.id);
    }

    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        let mut nodes = self.nodes.borrow_mut();
        let children = nodes
            .get_mut(node.id)
            .map(|n| std::mem::take(&mut n.children))
            .unwrap_or_default();
        for child in children {
            if let Some(c) = nodes.get_mut(child) {
                c.parent = None;
            }
            Self::attach(&mut nodes, new_parent.id, child, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serialises a tree back into a compact form, to check its shape.
    fn shape(tree: &HtmlTree, id: NodeId, out: &mut String) {
        let Some(node) = tree.node(id) else { return };
        match &node.data {
            NodeData::Text(t) => out.push_str(t),
            NodeData::Element(e) => {
                out.push('<');
                out.push_str(e.tag());
                out.push('>');
                for &c in &node.children {
                    shape(tree, c, out);
                }
                out.push_str("</");
                out.push_str(e.tag());
                out.push('>');
            }
            NodeData::Document | NodeData::Other => {}
        }
    }

    fn reshape(html: &str) -> String {
        let tree = HtmlTree::parse(html, 1000).unwrap();
        let root = tree.root();
        let mut out = String::new();
        for &c in &tree.node(root).unwrap().children {
            shape(&tree, c, &mut out);
        }
        out
    }

    #[test]
    fn well_formed_fragment_keeps_its_shape() {
        assert_eq!(reshape("a<b>b<i>c</i></b>d"), "a<b>b<i>c</i></b>d");
    }

    #[test]
    fn misnested_formatting_is_repaired() {
        // The adoption agency algorithm reparents and clones nodes.
        assert_eq!(reshape("<b>1<i>2</b>3</i>"), "<b>1<i>2</i></b><i>3</i>");
        assert_eq!(reshape("<b>1<p>2</b>3</p>"), "<b>1</b><p><b>2</b>3</p>");
    }

    #[test]
    fn attributes_and_entities_are_decoded() {
        let tree =
            HtmlTree::parse(r#"<a href="x?a=1&amp;b=&quot;2">&lt;&#128512;</a>"#, 10).unwrap();
        let root = tree.node(tree.root()).unwrap();
        let a = tree.node(root.children[0]).unwrap();
        let NodeData::Element(e) = &a.data else {
            panic!("not an element")
        };
        assert_eq!(e.attr("href"), Some("x?a=1&b=\"2"));
        let NodeData::Text(t) = &tree.node(a.children[0]).unwrap().data else {
            panic!("not text")
        };
        assert_eq!(&**t, "<😀");
    }

    #[test]
    fn very_deep_nesting_drops_without_recursion() {
        let html = "<b>".repeat(30_000);
        let tree = HtmlTree::parse(&html, usize::MAX).unwrap();
        assert!(tree.nodes.len() > 30_000);
        drop(tree);
    }

    #[test]
    fn nesting_is_bounded_from_tags() {
        assert_eq!(nesting_bound("<b><i>x</i></b><u>y</u>"), 2);
        assert_eq!(nesting_bound("<p>a<p>b<li>c<br><img src=x>"), 0);
        assert_eq!(nesting_bound(&"<div>".repeat(50)), 50);
        assert!(HtmlTree::parse(&"<div>".repeat(50), 49).is_none());
        assert!(HtmlTree::parse(&"<div>".repeat(50), 50).is_some());
    }

    #[test]
    fn leading_byte_order_mark_is_text() {
        let tree = HtmlTree::parse("\u{feff}x", 1).unwrap();
        let root = tree.node(tree.root()).unwrap();
        let NodeData::Text(t) = &tree.node(root.children[0]).unwrap().data else {
            panic!("not text")
        };
        assert_eq!(&**t, "\u{feff}x");
    }
}
