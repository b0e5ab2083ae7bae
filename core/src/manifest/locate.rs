//! Lines of field paths in a manifest, for findings: the input parsed again with
//! positions, keeping keys and list items' names, never values.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::{Document, Segment, yaml_options};

/// A YAML node with the line it starts on, for pointing findings at lines.
///
/// Building this tree costs more than plain parsing, so [`parse_documents`]
/// does not; [`Locator`] builds it only for inputs that have something to report.
/// It keeps keys (names) and no values but the `name` of list items, which
/// selectors like `containers[api]` match: a Secret's values are never copied here.
#[derive(Debug)]
enum Node {
    /// A scalar: its text only for the `name` of a list item, and only if it is short.
    Scalar(Option<String>),
    Seq(Vec<Spanned<Node>>),
    /// Entries in input order, repeated keys included (the last one is in effect).
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

/// What may be kept of the strings of a node.
const PLAIN: u8 = 0;
/// A list item: a mapping whose `name` is kept.
const ITEM: u8 = 1;
/// The `name` of a list item.
const ITEM_NAME: u8 = 2;

/// A [`Node`] read in context `C` (one of [`PLAIN`], [`ITEM`], [`ITEM_NAME`]).
struct NodeIn<const C: u8>(Node);

impl<'de, const C: u8> Deserialize<'de> for NodeIn<C> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor::<C>).map(NodeIn)
    }
}

fn respan<T, U>(s: Spanned<T>, f: impl FnOnce(T) -> U) -> Spanned<U> {
    Spanned::new(f(s.value), s.referenced, s.defined)
}

struct NodeVisitor<const C: u8>;

impl<'de, const C: u8> Visitor<'de> for NodeVisitor<C> {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        // Only a list item's name is matched by selectors; Kubernetes names are short.
        Ok(Node::Scalar(
            (C == ITEM_NAME && v.len() <= 253).then(|| v.to_owned()),
        ))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<NodeIn<ITEM>>>()? {
            items.push(respan(item, |n| n.0));
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = if C == ITEM && key.value == "name" {
                respan(map.next_value::<Spanned<NodeIn<ITEM_NAME>>>()?, |n| n.0)
            } else {
                respan(map.next_value::<Spanned<NodeIn<PLAIN>>>()?, |n| n.0)
            };
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

impl Node {
    /// The value of `key` in effect (the last, if repeated).
    fn get(&self, key: &str) -> Option<&Spanned<Node>> {
        let Node::Map(entries) = self else { return None };
        entries.iter().rev().find(|(k, _)| k.value == key).map(|(_, v)| v)
    }
}

/// Splits a field path like `spec.containers[api].env[DB.PASS]` at dots outside brackets.
fn path_segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// Finds lines of field paths in one input, for findings. Parses the input once, keeping
/// positions; build it only for inputs that have something to report.
///
/// It holds the keys of the input and the `name` of each list item, never other
/// values: the values of a Secret's `data` and `stringData` are not copied.
pub struct Locator {
    docs: Vec<Spanned<Node>>,
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locator")
            .field("documents", &self.docs.len())
            .finish()
    }
}

impl Locator {
    /// Parses `bytes` again with positions; `None` if it does not parse.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        Self::from_text(text.strip_prefix('\u{feff}').unwrap_or(text))
    }

    pub(super) fn from_text(text: &str) -> Option<Self> {
        // Empty documents are skipped here as in `parse_documents`, so indices agree.
        let docs: Vec<Spanned<NodeIn<PLAIN>>> =
            serde_saphyr::from_multiple_with_options(text, yaml_options()).ok()?;
        Some(Locator {
            docs: docs.into_iter().map(|d| respan(d, |n| n.0)).collect(),
        })
    }

    /// Lines of each appearance of `key` in the mapping at `path` of document `index`.
    pub(super) fn key_lines(&self, index: usize, path: &[Segment], key: &str) -> Vec<usize> {
        let Some(mut node) = index.checked_sub(1).and_then(|i| self.docs.get(i)) else {
            return Vec::new();
        };
        for segment in path {
            let next = match (segment, &node.value) {
                (Segment::Key(k), n) => n.get(k),
                (Segment::Index(i), Node::Seq(items)) => items.get(*i),
                _ => None,
            };
            let Some(next) = next else { return Vec::new() };
            node = next;
        }
        let Node::Map(entries) = &node.value else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|(k, _)| k.value == key)
            .filter_map(|(k, _)| usize::try_from(k.referenced.line()).ok())
            .filter(|&l| l > 0)
            .collect()
    }

    /// The 1-based line of `path` in `doc`. Path segments are keys, and `key[selector]`
    /// picks a list element by its `name` field, or by position when the selector is a
    /// number. Falls back to the deepest part of the path that exists.
    pub fn line(&self, doc: &Document, path: &str) -> Option<usize> {
        self.line_at(doc.index, doc.item, path)
    }

    /// [`Locator::line`] for the document numbered `index` (and `List` item `item`).
    pub fn line_at(&self, index: usize, item: Option<usize>, path: &str) -> Option<usize> {
        let mut node = self.docs.get(index.checked_sub(1)?)?;
        let mut line = node.referenced.line();
        let item = item.map(|i| format!("items[{i}]"));
        for segment in item.iter().map(String::as_str).chain(path_segments(path)) {
            let (key, selector) = match segment.split_once('[') {
                Some((k, rest)) => (k, Some(rest.strip_suffix(']').unwrap_or(rest))),
                None => (segment, None),
            };
            if !key.is_empty() {
                let Some(child) = node.value.get(key) else {
                    break;
                };
                node = child;
                line = node.referenced.line();
            }
            if let Some(sel) = selector {
                let Node::Seq(items) = &node.value else { break };
                let by_name = items.iter().find(|item| {
                    matches!(item.value.get("name"), Some(n) if matches!(&n.value, Node::Scalar(Some(n)) if n == sel))
                });
                let Some(item) = by_name.or_else(|| sel.parse::<usize>().ok().and_then(|i| items.get(i)))
                else {
                    break;
                };
                node = item;
                line = node.referenced.line();
            }
        }
        usize::try_from(line).ok().filter(|&l| l > 0)
    }
}

#[cfg(test)]
impl Locator {
    /// Every string the locator kept, in document order.
    pub(super) fn kept_strings(&self) -> Vec<&str> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
            match node {
                Node::Scalar(Some(s)) => out.push(s),
                Node::Scalar(None) => {}
                Node::Seq(items) => items.iter().for_each(|i| walk(&i.value, out)),
                Node::Map(entries) => entries.iter().for_each(|(_, v)| walk(&v.value, out)),
            }
        }
        let mut out = Vec::new();
        self.docs.iter().for_each(|d| walk(&d.value, &mut out));
        out
    }
}
