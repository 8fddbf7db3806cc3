//! Why `ferry plan` could not make a plan, and the exit status each reason gives.

use std::fmt;

/// Why no plan was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    /// What kind of problem it is.
    pub kind: PlanErrorKind,
    /// Ready to print: what is wrong and what to do.
    pub message: String,
}

/// The kinds of [`PlanError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanErrorKind {
    /// A bad flag, inventory, playbook or migration value; nothing was connected to.
    Input,
    /// The source admin host could not be reached.
    Unreachable {
        /// The host.
        host: String,
    },
    /// The source answered, but its chains could not be read (a missing image,
    /// a cluster that does not answer).
    Source {
        /// The host the commands ran on.
        host: String,
    },
}

impl PlanError {
    /// A bad input.
    pub fn input(message: impl Into<String>) -> PlanError {
        PlanError { kind: PlanErrorKind::Input, message: message.into() }
    }

    /// The exit status: 1 bad input, 4 unreachable, 2 the source could not be read
    /// (as `ferry play`: a failed task is 2, an unreachable host 4).
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            PlanErrorKind::Input => crate::run::EXIT_INPUT,
            PlanErrorKind::Unreachable { .. } => super::EXIT_UNREACHABLE,
            PlanErrorKind::Source { .. } => super::EXIT_BLOCKED,
        }
    }
}

impl fmt::Display for PlanErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlanErrorKind::Input => "input",
            PlanErrorKind::Unreachable { .. } => "unreachable",
            PlanErrorKind::Source { .. } => "source",
        })
    }
}
