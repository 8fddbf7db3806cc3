//! What can go wrong while loading or querying an inventory.

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

/// An inventory that could not be loaded, or a host pattern that could not be
/// understood. Each variant's `Display` is a complete message for the user.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A YAML inventory, `group_vars/` or `host_vars/` file that is not valid
    /// YAML, or whose shape is wrong (`hosts:` given a list, an unknown key).
    #[error("{0}")]
    Yaml(Diagnostic),
    /// An INI inventory line that cannot be parsed.
    #[error("{0}")]
    Ini(Diagnostic),
    /// A problem with the inventory as a whole that points at the line that
    /// causes it (a group nested inside itself, an unsupported source kind).
    #[error("{0}")]
    Invalid(Diagnostic),
    /// An inventory source or vars file that could not be read.
    #[error("cannot read inventory source `{}`: {source}", path.display())]
    Io {
        /// The file or directory, as the user named it.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A host pattern (`web:&prod`, `~db[0-9]+`, `web[0]`) that cannot be
    /// evaluated, or a `--graph` root that is not a group.
    #[error("invalid host pattern `{pattern}`: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Why it was rejected, as one sentence.
        reason: String,
    },
}

impl InventoryError {
    /// The diagnostic pointing into the user's file, for errors that have one.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            InventoryError::Yaml(d) | InventoryError::Ini(d) | InventoryError::Invalid(d) => Some(d),
            InventoryError::Io { .. } | InventoryError::Pattern { .. } => None,
        }
    }
}
