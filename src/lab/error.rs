//! The one error type of the lab.

use std::io;
use std::path::Path;
use std::process::{Command, Output};

/// What went wrong while building, using or removing a lab.
///
/// Every message names the thing that failed (a command with its stderr, a file, a
/// host) so that a failing test or `ferry lab` run says what to look at.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The configuration or a command-line argument cannot work.
    #[error("invalid lab configuration: {0}")]
    Config(String),
    /// This machine lacks something the lab needs (root, a program).
    #[error("the lab cannot run here: {0}")]
    Prerequisite(String),
    /// A name, subnet or lock is held by something that is not this lab.
    #[error("{0}")]
    InUse(String),
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The argv, shell-quoted for reading.
        command: String,
        /// How it ended (`exit status: 1`, `signal: 9`).
        status: String,
        /// Its stderr (trimmed), or stdout when stderr was empty.
        stderr: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path or command.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Something did not become ready in time.
    #[error("{what} did not happen within {secs} s{}", detail_suffix(.detail))]
    Timeout {
        /// What was awaited.
        what: String,
        /// The deadline in seconds.
        secs: u64,
        /// Extra evidence (a log tail), possibly empty.
        detail: String,
    },
    /// A host name that is not part of this lab.
    #[error("no host named {0:?} in this lab")]
    UnknownHost(String),
    /// Tearing down left some things behind; each entry names one.
    #[error("lab teardown incomplete: {}", .0.join("; "))]
    Teardown(Vec<String>),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl LabError {
    /// An [`LabError::Io`] whose message names `what`.
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> LabError {
        LabError::Io { what: what.into(), source }
    }

    /// An [`LabError::Io`] about `path`.
    pub(crate) fn path(verb: &str, path: &Path, source: io::Error) -> LabError {
        LabError::io(format!("{verb} {}", path.display()), source)
    }

    /// A failed command, from its output.
    pub(crate) fn command(cmd: &Command, output: &Output) -> LabError {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let text = if stderr.trim().is_empty() { String::from_utf8_lossy(&output.stdout).trim().to_string() } else { stderr.trim().to_string() };
        LabError::Command { command: describe(cmd), status: output.status.to_string(), stderr: text }
    }
}

/// `cmd` as a shell-quoted line, for messages only (never executed).
pub(crate) fn describe(cmd: &Command) -> String {
    let mut words = vec![quote_for_message(&cmd.get_program().to_string_lossy())];
    words.extend(cmd.get_args().map(|a| quote_for_message(&a.to_string_lossy())));
    words.join(" ")
}

fn quote_for_message(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
