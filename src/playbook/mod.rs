//! Playbooks: the AST and the parser that builds it from YAML files.
//!
//! Parsing reports every problem it finds in a file as a [`Diagnostic`]
//! pointing into the file, so that a typo reads like a compiler error.
//!
//! [`Diagnostic`]: crate::diagnostic::Diagnostic

pub mod ast;
mod convert;
mod error;
mod free_form;
pub mod parse;
mod source;
mod span_index;
mod task;

pub use ast::*;
pub use parse::{load_playbook, load_task_file, PlaybookError};
/// Positions inside YAML files, for other inputs that must point into theirs
/// (`ferry plan`'s `-e @file`).
pub(crate) use span_index::{Seg, SpanIndex};

#[cfg(test)]
mod tests;
