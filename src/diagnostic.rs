//! A message that points into a user's file: `path:line:col`, the line, a caret.
//!
//! Every error about user input (inventory, playbook, vars files, templates)
//! ends up here so that a typo reads like a compiler error, never a serde dump.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a source file. Lines and columns are 1-based, as editors show them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as the user named it (relative paths stay relative).
    pub file: Arc<PathBuf>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Location {
    /// A location in `file` at `line`:`col` (both 1-based).
    pub fn new(file: Arc<PathBuf>, line: usize, col: usize) -> Self {
        Location { file, line, col }
    }

    /// The start of a file, for errors that concern the file as a whole.
    pub fn file_start(file: &Path) -> Self {
        Location { file: Arc::new(file.to_path_buf()), line: 1, col: 1 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// An error in a user's file, rendered as:
///
/// ```text
/// error: unknown task keyword `whn`
///   --> site.yml:12:7
///    |
/// 12 |       whn: x == 1
///    |       ^
///    = help: did you mean `when`?
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub location: Location,
    /// One sentence saying what is wrong.
    pub message: String,
    /// What to do about it, when we know.
    pub help: Option<String>,
    /// The offending source line, when the file could be read.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `location`; the source line is read from the file (best effort).
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        let source_line =
            std::fs::read_to_string(location.file.as_path()).ok().and_then(|text| text.lines().nth(location.line.saturating_sub(1)).map(str::to_owned));
        Diagnostic { location, message: message.into(), help: None, source_line }
    }

    /// A diagnostic whose source line is taken from `source` (already in memory).
    pub fn with_source(location: Location, message: impl Into<String>, source: &str) -> Self {
        let source_line = source.lines().nth(location.line.saturating_sub(1)).map(str::to_owned);
        Diagnostic { location, message: message.into(), help: None, source_line }
    }

    /// Adds the "what to do" sentence.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let line_no = self.location.line.to_string();
        let pad = " ".repeat(line_no.len());
        write!(f, "{pad}--> {}", self.location)?;
        if let Some(src) = &self.source_line {
            // Tabs would shift the caret; show them as single spaces.
            let shown: String = src.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
            let caret_pad = " ".repeat(self.location.col.saturating_sub(1));
            write!(f, "\n{pad} |\n{line_no} | {shown}\n{pad} | {caret_pad}^")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The closest candidate to `word` among `candidates`, for "did you mean" hints.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates.into_iter().map(|c| (levenshtein(word, c), c)).filter(|(d, c)| *d <= 2.max(c.len() / 4)).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_column() {
        let loc = Location::new(Arc::new(PathBuf::from("site.yml")), 2, 5);
        let d = Diagnostic::with_source(loc, "unknown task keyword `whn`", "- name: x\n    whn: 1\n").help("did you mean `when`?");
        let text = d.to_string();
        assert_eq!(text, "error: unknown task keyword `whn`\n --> site.yml:2:5\n  |\n2 |     whn: 1\n  |     ^\n  = help: did you mean `when`?");
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("whn", ["when", "name", "loop"]), Some("when"));
        assert_eq!(did_you_mean("zzzzzz", ["when", "name"]), None);
    }
}
