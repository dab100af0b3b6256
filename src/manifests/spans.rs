//! Field paths and line numbers: where in its file each value of a document was written.

use std::{cell::OnceCell, fmt};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::*;

/// `parent.child`, `parent[0]`, or either alone when the other is empty.
pub(super) fn join_path(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_owned(),
        (false, true) => parent.to_owned(),
        (false, false) if child.starts_with('[') => format!("{parent}{child}"),
        (false, false) => format!("{parent}.{child}"),
    }
}

/// A serde_path_to_error path as a string; empty for the root.
pub(super) fn path_string(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." { String::new() } else { s }
}

/// A YAML node with the locations of its keys and elements, read only when an error needs a line.
#[derive(Debug)]
pub(super) enum Node {
    Leaf,
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

pub(super) struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

impl Node {
    /// The line (relative to the parsed text) of the field at `path`: the line of its key, or of
    /// the sequence element. Keys may contain dots (`aims.dev/system`); the longest key that
    /// matches wins.
    pub(super) fn line_of(&self, path: &str) -> Option<u64> {
        let mut node = self;
        let mut rest = path;
        let mut line = None;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let (index, after) = after.split_once(']')?;
                let index: usize = index.parse().ok()?;
                let Node::Seq(items) = node else { return None };
                let item = items.get(index)?;
                line = Some(item.referenced.line());
                node = &item.value;
                rest = after;
            } else {
                let Node::Map(entries) = node else {
                    return None;
                };
                let (key, value) = entries
                    .iter()
                    .filter(|(key, _)| {
                        let k = key.value.as_str();
                        !k.is_empty()
                            && rest.strip_prefix(k).is_some_and(|after| {
                                after.is_empty() || after.starts_with(['.', '['])
                            })
                    })
                    .max_by_key(|(key, _)| key.value.len())?;
                line = Some(key.referenced.line());
                node = value;
                rest = &rest[key.value.len()..];
            }
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        line.filter(|l| *l > 0)
    }
}

/// The text a document was parsed from, for finding the lines of fields. The spans are parsed at
/// most once, and only when an error needs them.
pub(super) struct Spans<'a> {
    pub(super) text: &'a str,
    pub(super) first_line: usize,
    pub(super) node: OnceCell<Option<Node>>,
}

impl<'a> Spans<'a> {
    pub(super) fn new(text: &'a str, first_line: usize) -> Self {
        Self {
            text,
            first_line,
            node: OnceCell::new(),
        }
    }

    /// The absolute line of the field at `path`, when it can be found.
    pub(super) fn line(&self, path: &str) -> Option<usize> {
        if path.is_empty() {
            return None;
        }
        let node = self
            .node
            .get_or_init(|| serde_saphyr::from_str_with_options(self.text, yaml_options()).ok());
        let relative = usize::try_from(node.as_ref()?.line_of(path)?).ok()?;
        self.first_line.checked_add(relative.checked_sub(1)?)
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(super) fn line_at(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
