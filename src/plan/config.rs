//! The validated configuration of one `ferry plan`: what the CLI produced
//! after checking every flag.

use crate::cli::PlanFormat;
use crate::transport::ssh::SshOptions;
use crate::vars::Vars;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a plan needs to know.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// The migration's playbook (its phases are listed).
    pub playbook: PathBuf,
    /// Inventory sources.
    pub inventories: Vec<PathBuf>,
    /// `-e` as given, in order: to point into `@file` arguments and to print
    /// the commands of the phases.
    pub extra_var_args: Vec<String>,
    /// `-e`, merged in order.
    pub extra_vars: Vars,
    /// Output format.
    pub format: PlanFormat,
    /// SSH settings.
    pub ssh: SshOptions,
    /// Limit for one read-only command on the source.
    pub command_timeout: Duration,
    /// `--user`: remote user when the inventory sets none.
    pub remote_user: Option<String>,
    /// `--private-key`: identity when the inventory sets none.
    pub private_key: Option<PathBuf>,
    /// The connection flags as given (defaults left out), for the printed commands.
    pub connect_words: Vec<String>,
}

impl PlanConfig {
    /// `ferry play PLAYBOOK -i ... -e ... [connection flags] --tags TAG`: the
    /// command that runs one phase with the inputs of this plan.
    pub fn phase_command(&self, tag: &str) -> String {
        let mut words = vec!["ferry".to_string(), "play".to_string(), self.playbook.display().to_string()];
        for inv in &self.inventories {
            words.extend(["-i".to_string(), inv.display().to_string()]);
        }
        for e in &self.extra_var_args {
            words.extend(["-e".to_string(), e.clone()]);
        }
        words.extend(self.connect_words.iter().cloned());
        words.extend(["--tags".to_string(), tag.to_string()]);
        words.iter().map(|w| crate::transport::command::shell_quote(w)).collect::<Vec<_>>().join(" ")
    }
}
