//! [`HostExec`]: the one thing a Ceph cluster needs from a lab.

use std::process::{Command, Output};
use std::sync::Arc;

use crate::lab::error::describe;
use crate::lab::{LabError, SshLab, TwoSiteLab};

/// Runs commands inside a lab host's own view (network namespace, private mounts),
/// as an SSH session there would, but without SSH. [`SshLab`] and [`TwoSiteLab`]
/// are; another lab topology only has to provide `exec` to host Ceph clusters.
pub trait HostExec {
    /// Runs `argv` inside `host`; a non-zero exit is in the `Output`, not an error.
    /// stdin is empty.
    fn exec(&self, host: &str, argv: &[&str]) -> Result<Output, LabError>;
}

impl HostExec for SshLab {
    fn exec(&self, host: &str, argv: &[&str]) -> Result<Output, LabError> {
        SshLab::exec(self, host, argv)
    }
}

impl HostExec for TwoSiteLab {
    fn exec(&self, host: &str, argv: &[&str]) -> Result<Output, LabError> {
        TwoSiteLab::exec(self, host, argv)
    }
}

impl<T: HostExec + ?Sized> HostExec for &T {
    fn exec(&self, host: &str, argv: &[&str]) -> Result<Output, LabError> {
        (**self).exec(host, argv)
    }
}

impl<T: HostExec + ?Sized> HostExec for Arc<T> {
    fn exec(&self, host: &str, argv: &[&str]) -> Result<Output, LabError> {
        (**self).exec(host, argv)
    }
}

/// Runs `argv` in `host` and returns its stdout; a non-zero exit is an error naming
/// the host and the command, with its stderr.
pub(crate) fn run_in(lab: &dyn HostExec, host: &str, argv: &[&str]) -> Result<String, LabError> {
    let out = lab.exec(host, argv)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = if stderr.trim().is_empty() { String::from_utf8_lossy(&out.stdout) } else { stderr };
    Err(LabError::Command { command: format!("on {host}: {}", argv_text(argv)), status: out.status.to_string(), stderr: last_lines(&text, 8) })
}

/// `argv` as a quoted line, for messages only.
pub(crate) fn argv_text(argv: &[&str]) -> String {
    let Some((program, args)) = argv.split_first() else {
        return String::new();
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    describe(&cmd)
}

/// The last `n` non-empty lines of `text`, joined with ` | `.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_the_end_of_long_output() {
        assert_eq!(last_lines("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(last_lines("", 2), "");
        assert_eq!(argv_text(&["ceph", "auth", "get-or-create", "mon 'allow *'"]), r#"ceph auth get-or-create 'mon '\''allow *'\'''"#);
    }
}
