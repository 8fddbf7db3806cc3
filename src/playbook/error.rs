//! The one error type of playbook loading.

use crate::diagnostic::Diagnostic;
use std::fmt;
use std::path::PathBuf;

/// How many diagnostics one load reports at most; past that, the rest is
/// usually fallout from the first ones.
pub(crate) const MAX_DIAGNOSTICS: usize = 20;

/// Why a playbook or task file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    /// One problem in the user's files.
    #[error("{0}")]
    Diagnostic(Diagnostic),
    /// Several problems, in file order (files in the order they were read).
    #[error("{}", Several(.diagnostics, *.omitted))]
    Several {
        /// The first 20 diagnostics.
        diagnostics: Vec<Diagnostic>,
        /// How many more were found but not kept.
        omitted: usize,
    },
    /// The file the user named could not be read (imported files that cannot
    /// be read are diagnostics at the import line instead).
    #[error("cannot read `{}`: {source}", .path.display())]
    Io {
        /// The file as the user named it.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
}

impl PlaybookError {
    /// Every diagnostic this error carries (none for [`PlaybookError::Io`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PlaybookError::Diagnostic(d) => std::slice::from_ref(d),
            PlaybookError::Several { diagnostics, .. } => diagnostics,
            PlaybookError::Io { .. } => &[],
        }
    }

    /// Builds the error from what a load collected: sorted by file, then
    /// position, and capped. `None` when nothing went wrong.
    pub(crate) fn from_collected(mut found: Vec<Diagnostic>) -> Option<PlaybookError> {
        // Files keep the order in which they first reported something, which
        // follows the order they were read: an imported file's errors come
        // after the importing file's errors above the import.
        let mut files: Vec<std::sync::Arc<PathBuf>> = Vec::new();
        for d in &found {
            if !files.contains(&d.location.file) {
                files.push(d.location.file.clone());
            }
        }
        let file_rank = |d: &Diagnostic| files.iter().position(|f| *f == d.location.file);
        found.sort_by_key(|d| (file_rank(d), d.location.line, d.location.col));
        found.dedup();
        match found.len() {
            0 => None,
            1 => found.pop().map(PlaybookError::Diagnostic),
            n => {
                found.truncate(MAX_DIAGNOSTICS);
                Some(PlaybookError::Several { diagnostics: found, omitted: n.saturating_sub(MAX_DIAGNOSTICS) })
            }
        }
    }
}

impl From<Diagnostic> for PlaybookError {
    fn from(d: Diagnostic) -> Self {
        PlaybookError::Diagnostic(d)
    }
}

/// Renders several diagnostics as a compiler does: blank lines between them,
/// then a count of what was left out.
struct Several<'a>(&'a [Diagnostic], usize);

impl fmt::Display for Several<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        match self.1 {
            0 => Ok(()),
            1 => f.write_str("\n\n... and 1 more error"),
            n => write!(f, "\n\n... and {n} more errors"),
        }
    }
}
