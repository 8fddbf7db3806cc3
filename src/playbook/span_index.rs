//! Where each node of a YAML document sits in its file.
//!
//! serde_yaml gives us values but forgets positions once parsing succeeds, so
//! a second pass over yaml-rust2's marked events records, for every node, the
//! line and column of its key and of its value, keyed by the node's path from
//! the document root (`[0, "tasks", 3, "copy", "mode"]`).

use std::collections::{HashMap, HashSet};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// A mapping entry, by its key's string form.
    Key(String),
    /// A sequence item.
    Index(usize),
}

impl From<&str> for Seg {
    fn from(key: &str) -> Self {
        Seg::Key(key.to_string())
    }
}

impl From<String> for Seg {
    fn from(key: String) -> Self {
        Seg::Key(key)
    }
}

impl From<usize> for Seg {
    fn from(index: usize) -> Self {
        Seg::Index(index)
    }
}

/// `path` with one more step.
pub fn child(path: &[Seg], seg: impl Into<Seg>) -> Vec<Seg> {
    let mut p = Vec::with_capacity(path.len() + 1);
    p.extend_from_slice(path);
    p.push(seg.into());
    p
}

/// A 1-based line and column, as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
}

impl Pos {
    const START: Pos = Pos { line: 1, col: 1 };

    fn from_marker(m: Marker) -> Pos {
        // yaml-rust2 counts lines from 1 but columns from 0.
        Pos { line: m.line().max(1), col: m.col() + 1 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Span {
    /// The key of a mapping entry; `None` for sequence items and the root.
    key: Option<Pos>,
    value: Pos,
}

/// Positions of the nodes of one YAML document.
#[derive(Debug, Default)]
pub struct SpanIndex {
    spans: HashMap<Vec<Seg>, Span>,
    /// Keys repeated in one mapping, where the repetition is.
    duplicates: Vec<(String, Pos)>,
    /// Where a second document starts, if the text has one.
    second_document: Option<Pos>,
}

impl SpanIndex {
    /// Indexes the first document of `source`. A document that yaml-rust2
    /// cannot parse yields what was indexed before the error: lookups then
    /// fall back to the nearest indexed ancestor, which is still a useful place
    /// to point at.
    pub fn build(source: &str) -> SpanIndex {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(source);
        // Event by event rather than `Parser::load`, which recurses once per
        // nesting level: `? ? ? …` overflowed the stack (found by
        // tests/fuzz_parsers.rs). An error ends the walk: it means serde_yaml
        // and yaml-rust2 disagree about the syntax, and serde_yaml's verdict
        // is the one we report.
        while let Ok((ev, mark)) = parser.next_token() {
            let end = ev == Event::StreamEnd;
            builder.on_event(ev, mark);
            if end {
                break;
            }
        }
        SpanIndex { spans: builder.spans, duplicates: builder.duplicates, second_document: builder.second_document }
    }

    /// Where a second YAML document starts: serde_yaml rejects those without
    /// saying where.
    pub fn second_document(&self) -> Option<Pos> {
        self.second_document
    }

    /// The first key that a mapping repeats, and where it repeats it: serde_yaml
    /// rejects these but only knows where the mapping starts.
    pub fn first_duplicate(&self) -> Option<(&str, Pos)> {
        self.duplicates.first().map(|(k, p)| (k.as_str(), *p))
    }

    /// Whether `path` was indexed exactly.
    pub fn contains(&self, path: &[Seg]) -> bool {
        self.spans.contains_key(path)
    }

    /// Where the value at `path` starts, or its nearest indexed ancestor.
    pub fn value(&self, path: &[Seg]) -> Pos {
        self.nearest(path).map_or(Pos::START, |s| s.value)
    }

    /// Where the key of the entry at `path` is (the value's position for
    /// sequence items), or its nearest indexed ancestor's.
    pub fn key(&self, path: &[Seg]) -> Pos {
        self.nearest(path).map_or(Pos::START, |s| s.key.unwrap_or(s.value))
    }

    fn nearest(&self, path: &[Seg]) -> Option<&Span> {
        (0..=path.len()).rev().find_map(|n| self.spans.get(&path[..n]))
    }
}

/// Nodes deeper than this are not indexed. serde_yaml refuses documents
/// nested deeper (its recursion limit), so nothing asks where they are; and
/// each node's path is a copy of its parent's, which made a document of a
/// few thousand levels take seconds.
const MAX_DEPTH: usize = 128;

/// An open collection while walking the events.
enum Frame {
    Seq {
        /// `None` inside a complex (non-scalar) mapping key, which we do not index.
        path: Option<Vec<Seg>>,
        next: usize,
    },
    Map {
        path: Option<Vec<Seg>>,
        /// The key whose value comes next.
        key: Option<(String, Pos)>,
        awaiting_key: bool,
        seen: HashSet<String>,
    },
}

#[derive(Default)]
struct Builder {
    spans: HashMap<Vec<Seg>, Span>,
    duplicates: Vec<(String, Pos)>,
    second_document: Option<Pos>,
    frames: Vec<Frame>,
    root_seen: bool,
    done: bool,
}

impl Builder {
    /// Registers a node starting at `pos`; returns its path when it is a value
    /// we index (not a mapping key).
    fn node(&mut self, pos: Pos, scalar: Option<&str>) -> Option<Vec<Seg>> {
        let Some(frame) = self.frames.last_mut() else {
            self.root_seen = true;
            self.spans.insert(Vec::new(), Span { key: None, value: pos });
            return Some(Vec::new());
        };
        let (path, span) = match frame {
            Frame::Seq { path, next } => {
                let index = *next;
                *next += 1;
                (path.as_ref().map(|p| child(p, index)), Span { key: None, value: pos })
            }
            Frame::Map { path, key, awaiting_key, seen } => {
                if *awaiting_key {
                    *awaiting_key = false;
                    let name = scalar.unwrap_or("<complex key>").to_string();
                    if scalar.is_some() && !seen.insert(name.clone()) {
                        self.duplicates.push((name.clone(), pos));
                    }
                    *key = Some((name, pos));
                    // A block mapping's start event is marked after its first
                    // key, so the first key is the better place for the mapping.
                    if let Some(span) = path.as_ref().and_then(|p| self.spans.get_mut(p)) {
                        span.value = span.value.min(pos);
                    }
                    return None;
                }
                *awaiting_key = true;
                let (name, key_pos) = key.take()?;
                (path.as_ref().map(|p| child(p, name)), Span { key: Some(key_pos), value: pos })
            }
        };
        if let Some(p) = &path {
            self.spans.insert(p.clone(), span);
        }
        path
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from_marker(mark);
        if self.done {
            if ev == Event::DocumentStart && self.second_document.is_none() {
                self.second_document = Some(pos);
            }
            return;
        }
        match ev {
            Event::Scalar(text, ..) => {
                self.node(pos, Some(&text));
            }
            Event::Alias(_) => {
                self.node(pos, None);
            }
            Event::SequenceStart(..) => {
                let path = self.node(pos, None).filter(|p| p.len() < MAX_DEPTH);
                self.frames.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingStart(..) => {
                let path = self.node(pos, None).filter(|p| p.len() < MAX_DEPTH);
                self.frames.push(Frame::Map { path, key: None, awaiting_key: true, seen: HashSet::new() });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.frames.pop();
            }
            Event::DocumentEnd => self.done = self.root_seen,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segs: &[Seg]) -> Vec<Seg> {
        segs.to_vec()
    }

    const DOC: &str = "\
- hosts: all
  tasks:
    - name: x
      copy: {src: a, mode: \"0644\"}
    - é: &a 1
      b: *a
      copy:
        dest: /tmp/x
";

    #[test]
    fn positions_are_one_based() {
        let idx = SpanIndex::build(DOC);
        let task0 = path(&[0.into(), "tasks".into(), 0.into()]);
        assert_eq!(idx.value(&task0), Pos { line: 3, col: 7 });
        let mode = child(&child(&task0, "copy"), "mode");
        assert_eq!(idx.key(&mode), Pos { line: 4, col: 22 });
        assert_eq!(idx.value(&mode), Pos { line: 4, col: 28 });
    }

    #[test]
    fn columns_count_characters_and_block_maps_start_at_first_key() {
        let idx = SpanIndex::build(DOC);
        let task1 = path(&[0.into(), "tasks".into(), 1.into()]);
        assert_eq!(idx.key(&child(&task1, "b")), Pos { line: 6, col: 7 });
        assert_eq!(idx.value(&child(&task1, "b")), Pos { line: 6, col: 10 });
        assert_eq!(idx.value(&child(&task1, "copy")), Pos { line: 8, col: 9 });
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let idx = SpanIndex::build(DOC);
        let missing = path(&[0.into(), "tasks".into(), 0.into(), "nope".into(), 3.into()]);
        assert_eq!(idx.value(&missing), Pos { line: 3, col: 7 });
        assert_eq!(SpanIndex::build("").value(&missing), Pos { line: 1, col: 1 });
    }

    #[test]
    fn finds_repeated_keys() {
        let idx = SpanIndex::build("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n");
        assert_eq!(idx.first_duplicate(), Some(("c", Pos { line: 4, col: 3 })));
    }

    #[test]
    fn finds_a_second_document() {
        let idx = SpanIndex::build("---\na: 1\n---\nb: 2\n");
        assert_eq!(idx.second_document(), Some(Pos { line: 3, col: 1 }));
        assert_eq!(SpanIndex::build("# c\na: 1\n").second_document(), None);
    }

    #[test]
    fn broken_yaml_does_not_panic() {
        for src in ["- a: [", "{{{{", "- &a\n- *b", ":\n  - : :", "\t- x"] {
            let _ = SpanIndex::build(src).value(&[]);
        }
    }

    #[test]
    fn deep_nesting_neither_overflows_nor_crawls() {
        // Both found by tests/fuzz_parsers.rs: 4000 nested complex keys
        // overflowed the stack, 4000 nested sequences took seconds.
        let index = SpanIndex::build(&format!("- hosts: all\n  tasks:\n    {}x\n", "? ".repeat(4000)));
        assert!(index.contains(&path(&[Seg::Index(0), Seg::Key("hosts".into())])));
        let index = SpanIndex::build(&format!("tasks:\n  {}x\n", "- ".repeat(4000)));
        let shallow: Vec<Seg> = std::iter::once(Seg::Key("tasks".into())).chain((0..100).map(|_| Seg::Index(0))).collect();
        assert!(index.contains(&shallow));
        let deep: Vec<Seg> = std::iter::once(Seg::Key("tasks".into())).chain((0..1000).map(|_| Seg::Index(0))).collect();
        assert!(!index.contains(&deep));
    }
}
