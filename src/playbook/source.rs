//! One YAML file read from disk: its text, its parsed value, and where each
//! node is, so that any later complaint can point into it.

use super::span_index::{child, Seg, SpanIndex};
use crate::diagnostic::{Diagnostic, Location};
use crate::vars::yaml_key_string;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A parsed YAML file.
pub(crate) struct Source {
    /// The file as named (relative paths stay relative), shared by its locations.
    pub path: Arc<PathBuf>,
    /// The folder relative names inside this file are resolved against.
    pub dir: PathBuf,
    text: String,
    spans: SpanIndex,
}

/// Why a file could not be turned into a [`Source`].
pub(crate) enum ReadError {
    /// The file could not be read at all.
    Io(std::io::Error),
    /// It was read but is not valid YAML (or not UTF-8).
    Invalid(Diagnostic),
}

impl Source {
    /// Reads and parses `path`. The document's `<<` merge keys are applied, as
    /// Ansible's YAML 1.1 loader does.
    pub fn read(path: &Path) -> Result<(Source, serde_yaml::Value), ReadError> {
        let bytes = std::fs::read(path).map_err(ReadError::Io)?;
        Source::parse(path, bytes).map_err(ReadError::Invalid)
    }

    /// Parses `bytes` as the content of `path`.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<(Source, serde_yaml::Value), Diagnostic> {
        let file = Arc::new(path.to_path_buf());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let valid = String::from_utf8_lossy(valid);
                let line = valid.matches('\n').count() + 1;
                let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                let d = Diagnostic::with_source(Location::new(file, line, col), "this file is not valid UTF-8 text", &valid).help("save the file as UTF-8");
                return Err(d);
            }
        };
        let mut value: serde_yaml::Value = match serde_yaml::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                let spans = SpanIndex::build(&text);
                let message = e.to_string();
                let d = match (spans.first_duplicate(), spans.second_document()) {
                    (Some((key, pos)), _) if message.contains("duplicate entry") => {
                        Diagnostic::with_source(Location::new(file, pos.line, pos.col), format!("duplicate key `{key}`"), &text)
                            .help("a mapping keeps one value per key: remove or rename one of them")
                    }
                    (_, Some(pos)) if message.contains("more than one document") => {
                        Diagnostic::with_source(Location::new(file, pos.line, pos.col), "a second YAML document starts here", &text)
                            .help("keep one YAML document per file: remove this `---`")
                    }
                    _ => yaml_error(&file, &text, &e),
                };
                return Err(d);
            }
        };
        if let Err(e) = value.apply_merge() {
            let d = Diagnostic::with_source(Location::new(file, 1, 1), format!("invalid YAML merge key `<<`: {e}"), &text);
            return Err(d);
        }
        let spans = SpanIndex::build(&text);
        let src = Source { path: file, dir, text, spans };
        if let Some(path) = unquoted_template(&value) {
            let d = src
                .error(src.at(&path), "a value that starts with `{{` must be quoted")
                .help("YAML reads an unquoted `{{ x }}` as a mapping: write `\"{{ x }}\"`");
            return Err(d);
        }
        Ok((src, value))
    }

    /// Where the value at `path` is.
    pub fn at(&self, path: &[Seg]) -> Location {
        let p = self.spans.value(path);
        Location::new(self.path.clone(), p.line, p.col)
    }

    /// Where the key of the entry at `path` is.
    pub fn at_key(&self, path: &[Seg]) -> Location {
        let p = self.spans.key(path);
        Location::new(self.path.clone(), p.line, p.col)
    }

    /// Whether `path` is a node of this file (not merged in or aliased).
    pub fn has(&self, path: &[Seg]) -> bool {
        self.spans.contains(path)
    }

    /// A diagnostic at `location`, with the offending line taken from this file.
    pub fn error(&self, location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic::with_source(location, message, &self.text)
    }
}

/// The first mapping with a mapping as a key: what YAML makes of an unquoted
/// `msg: {{ x }}`, and never what the user meant.
fn unquoted_template(doc: &serde_yaml::Value) -> Option<Vec<Seg>> {
    use serde_yaml::Value as Y;
    let mut stack = vec![(Vec::new(), doc)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Y::Mapping(m) => {
                if m.keys().any(Y::is_mapping) {
                    return Some(path);
                }
                let entries: Vec<_> = m.iter().collect();
                for (k, v) in entries.into_iter().rev() {
                    stack.push((child(&path, yaml_key_string(k)), v));
                }
            }
            Y::Sequence(items) => {
                for (i, v) in items.iter().enumerate().rev() {
                    stack.push((child(&path, i), v));
                }
            }
            Y::Tagged(t) => stack.push((path, &t.value)),
            Y::Null | Y::Bool(_) | Y::Number(_) | Y::String(_) => {}
        }
    }
    None
}

/// A YAML syntax error as a diagnostic: libyaml's message without the
/// position it repeats, plus a hint for the usual indentation mistakes.
fn yaml_error(file: &Arc<PathBuf>, text: &str, e: &serde_yaml::Error) -> Diagnostic {
    let (line, col) = e.location().map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
    let full = e.to_string();
    let message = full.replacen(&format!(" at line {line} column {col}"), "", 1);
    // serde's path to the node (`.[0].tasks: `) means nothing to the user.
    let message = match message.split_once(": ") {
        Some((path, rest)) if path.starts_with('.') && !path.contains(' ') => rest.to_string(),
        _ => message,
    };
    let source_line = text.lines().nth(line - 1).unwrap_or("");
    let help = if source_line.contains(": {{") || source_line.trim_start().starts_with("- {{") {
        Some("quote values that start with `{{`: YAML reads the braces as a mapping")
    } else if source_line.contains('\t') && message.contains("cannot start any token") {
        Some("indent with spaces: YAML does not allow tabs")
    } else if message.contains("mapping values are not allowed") {
        Some("quote a value that contains `: `, or check that this line is not indented deeper than its siblings")
    } else if message.contains("did not find expected key") || message.contains("did not find expected '-'") {
        Some("check this line's indentation against the lines above it")
    } else if message.contains("while scanning a quoted scalar") {
        Some("a quoted string is not closed")
    } else if message.contains("more than one document") {
        Some("keep one YAML document (one `---`) per file")
    } else {
        None
    };
    let d = Diagnostic::with_source(Location::new(file.clone(), line, col), format!("invalid YAML: {message}"), text);
    match help {
        Some(h) => d.help(h),
        None => d,
    }
}
