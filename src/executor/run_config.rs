//! The validated configuration of one `ferry play` run: what the CLI
//! produced after checking every flag. The executor trusts it.

use crate::report::Format;
use crate::transport::ssh::SshOptions;
use crate::vars::Vars;
use std::path::PathBuf;
use std::time::Duration;

/// How tasks are scheduled across hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Each task on every host, then the next task (a barrier between tasks).
    Linear,
    /// Each host goes through the play at its own pace.
    Free,
}

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Playbooks in order.
    pub playbooks: Vec<PathBuf>,
    /// Inventory sources.
    pub inventories: Vec<PathBuf>,
    /// `--limit` pattern.
    pub limit: Option<String>,
    /// `--tags` (empty = all).
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `--forks`: hosts worked on at once.
    pub forks: usize,
    /// `--check`.
    pub check: bool,
    /// `--diff`.
    pub diff: bool,
    /// `-e`, merged in order.
    pub extra_vars: Vars,
    /// Output format.
    pub format: Format,
    /// `-v` count.
    pub verbosity: u8,
    /// SSH settings.
    pub ssh: SshOptions,
    /// Per-command timeout.
    pub command_timeout: Duration,
    /// Scheduling.
    pub strategy: Strategy,
    /// `--user`: remote user when the inventory sets none.
    pub remote_user: Option<String>,
    /// `--private-key`: identity when the inventory sets none.
    pub private_key: Option<PathBuf>,
    /// Extra folders for `template`/`copy` sources (the project's `templates/`).
    pub template_dirs: Vec<PathBuf>,
}
