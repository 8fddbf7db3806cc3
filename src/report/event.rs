//! Events: the only thing the executor produces for the outside world.
//! Reporters turn them into human lines or JSON Lines; nothing else prints.

use serde::Serialize;

/// How one task ended on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing needed doing.
    Ok,
    /// Something was (or, in check mode, would be) changed.
    Changed,
    /// The task failed on this host.
    Failed,
    /// `when:` was false, or the module had nothing to do in check mode.
    Skipped,
    /// The host could not be reached.
    Unreachable,
}

impl Status {
    /// The verb shown in the human output's status column.
    pub fn verb(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unreachable => "unreachable",
        }
    }
}

/// A unified diff of one file, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    /// The remote path.
    pub path: String,
    /// Content before (empty when the file did not exist).
    pub before: String,
    /// Content after (empty when the file is removed).
    pub after: String,
    /// `---`/`+++` unified diff text.
    pub unified: String,
}

/// The result of one task (one loop item) on one host.
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    /// Inventory host name.
    pub host: String,
    /// Where it really ran when delegated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated_to: Option<String>,
    /// Task display name.
    pub task: String,
    /// Module name.
    pub module: String,
    /// Outcome.
    pub status: Status,
    /// True when something changed (also true with status failed if a change happened before the failure).
    pub changed: bool,
    /// One line for humans.
    pub msg: String,
    /// Wall time of the task on this host, in milliseconds.
    pub elapsed_ms: u64,
    /// The loop item's label, for loop results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// File diffs (with `--diff`, or in check mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FileDiff>,
    /// Exit status of the command that decided the result, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc: Option<i32>,
    /// The (masked) command line that failed, if a command failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Standard output of command-like modules (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// Standard error of command-like modules (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// True when the failure was ignored (`ignore_errors`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
    /// True when the output was hidden by `no_log`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_log: bool,
    /// The playbook location of the task (`file:line:col`).
    pub location: String,
}

/// Per-host counters of the recap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HostStats {
    /// Tasks that were ok (changed ones included, as in Ansible).
    pub ok: u32,
    /// Tasks that changed something.
    pub changed: u32,
    /// 1 when the host became unreachable.
    pub unreachable: u32,
    /// Tasks that failed (not ignored).
    pub failed: u32,
    /// Tasks skipped.
    pub skipped: u32,
    /// Failures handled by a `rescue:` section.
    pub rescued: u32,
    /// Failures ignored by `ignore_errors`.
    pub ignored: u32,
    /// Commands run on this host's connection (its own tasks' and those
    /// delegated to it): one SSH session channel each. Not in the human recap,
    /// whose rows keep Ansible's form.
    pub commands: u64,
}

/// Everything the executor tells the world.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A play starts.
    PlayStart {
        /// Play name.
        play: String,
        /// Hosts it targets (after `--limit`).
        hosts: Vec<String>,
    },
    /// A task starts on `hosts` hosts.
    TaskStart {
        /// Play name.
        play: String,
        /// Task display name.
        task: String,
        /// Module name.
        module: String,
        /// `file:line:col` of the task.
        location: String,
        /// How many hosts run it.
        host_count: usize,
    },
    /// Handlers of a play start (the following task_start events are handlers).
    HandlerStart {
        /// Play name.
        play: String,
    },
    /// One task result on one host.
    TaskResult(TaskResult),
    /// Progress of a long task on one host (an image syncing, say).
    Progress {
        /// Inventory host name.
        host: String,
        /// Task display name.
        task: String,
        /// What is progressing (an image name).
        key: String,
        /// Units done so far.
        done: u64,
        /// Units in all (0 when unknown).
        total: u64,
        /// The current state in words.
        msg: String,
    },
    /// Something the operator should know that is not a failure.
    Warning {
        /// The message.
        msg: String,
    },
    /// A fatal error that ends the run before or between plays.
    Error {
        /// The message (may be a multi-line diagnostic).
        msg: String,
    },
    /// The end of the run.
    Recap {
        /// Counters per host, in inventory order.
        hosts: indexmap::IndexMap<String, HostStats>,
        /// Wall time of the whole run in milliseconds.
        elapsed_ms: u64,
    },
}
