//! The command line, in two stages (as ripgrep does): clap parses raw flags,
//! then `into_run_config` checks them and produces a config the rest trusts.

use crate::executor::{RunConfig, Strategy};
use crate::report::Format;
use crate::transport::ssh::{HostKeyChecking, SshOptions};
use crate::vars::{Value, Vars};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// ferry: move Ceph RBD volumes between clusters; runs Ansible-style playbooks over SSH.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run playbooks against an inventory.
    Play(PlayArgs),
    /// Show an inventory as ansible-inventory does.
    Inventory(InventoryArgs),
    /// The local rehearsal lab (network namespaces with real sshd; run as root).
    Lab(LabArgs),
}

/// `--host-key-checking` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostKeyMode {
    /// Refuse unknown and changed keys.
    Strict,
    /// Add unknown keys to known_hosts; refuse changed ones.
    AcceptNew,
    /// Accept any key (lab use only).
    Off,
}

/// `ferry play` flags.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Playbook files, run in order.
    #[arg(required = true)]
    pub playbooks: Vec<PathBuf>,
    /// Inventory file, folder, or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", required = true)]
    pub inventory: Vec<PathBuf>,
    /// Further limit the hosts with a pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long = "tags", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long = "skip-tags", value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// Hosts worked on at once.
    #[arg(short = 'f', long, default_value_t = 50)]
    pub forks: usize,
    /// Observe and report what would change; change nothing.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show unified diffs of file changes.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Extra variables: `k=v`, `@file.yml`, or a JSON/YAML mapping (repeatable; highest precedence).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// More output (repeat for more).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// known_hosts file (default ~/.ssh/known_hosts).
    #[arg(long = "known-hosts")]
    pub known_hosts: Option<PathBuf>,
    /// Host key checking.
    #[arg(long = "host-key-checking", value_enum, default_value_t = HostKeyMode::Strict)]
    pub host_key_checking: HostKeyMode,
    /// OpenSSH client config to read (default ~/.ssh/config).
    #[arg(long = "ssh-config")]
    pub ssh_config: Option<PathBuf>,
    /// Seconds to wait for a TCP/SSH connection.
    #[arg(long = "connect-timeout", default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Seconds a single command may run (per task: `timeout:`).
    #[arg(long = "timeout", default_value_t = 3600.0)]
    pub timeout: f64,
    /// linear: a barrier after each task; free: each host at its own pace.
    #[arg(long, value_enum, default_value_t = Strategy::Linear)]
    pub strategy: Strategy,
    /// Remote user when the inventory names none.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Private key when the inventory names none.
    #[arg(long = "private-key", alias = "key-file")]
    pub private_key: Option<PathBuf>,
    /// Do not use ssh-agent.
    #[arg(long = "no-agent")]
    pub no_agent: bool,
}

/// `ferry inventory` flags.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Inventory file, folder, or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", required = true)]
    pub inventory: Vec<PathBuf>,
    /// Print every group and host as JSON (like `ansible-inventory --list`).
    #[arg(long, conflicts_with_all = ["graph", "host"])]
    pub list: bool,
    /// Print the group tree, optionally from GROUP.
    #[arg(long, num_args = 0..=1, default_missing_value = "all", conflicts_with = "host")]
    pub graph: Option<String>,
    /// Print the merged variables of HOST and where each came from.
    #[arg(long)]
    pub host: Option<String>,
}

/// `ferry lab` subcommands.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// Lab command and its arguments (`hosts up|down ...`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// A usage error found while validating flags.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl PlayArgs {
    /// Checks the flags and builds the run configuration.
    pub fn into_run_config(self) -> Result<RunConfig, UsageError> {
        if self.forks == 0 {
            return Err(UsageError("--forks must be at least 1".into()));
        }
        let secs = |what: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 86400.0 * 7.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(UsageError(format!("{what} must be a positive number of seconds, not {v}")))
            }
        };
        let mut extra_vars = Vars::new();
        for e in &self.extra_vars {
            crate::vars::overlay(&mut extra_vars, &parse_extra_vars(e)?);
        }
        for p in &self.playbooks {
            if !p.is_file() {
                return Err(UsageError(format!("playbook {} does not exist or is not a file", p.display())));
            }
        }
        let template_dirs = crate::executor::default_template_dirs(&self.playbooks);
        Ok(RunConfig {
            playbooks: self.playbooks,
            inventories: self.inventory,
            limit: self.limit,
            tags: self.tags.into_iter().filter(|t| !t.is_empty()).collect(),
            skip_tags: self.skip_tags.into_iter().filter(|t| !t.is_empty()).collect(),
            forks: self.forks,
            check: self.check,
            diff: self.diff,
            extra_vars,
            format: self.format,
            verbosity: self.verbose,
            ssh: SshOptions {
                known_hosts: self.known_hosts,
                host_key_checking: match self.host_key_checking {
                    HostKeyMode::Strict => HostKeyChecking::Strict,
                    HostKeyMode::AcceptNew => HostKeyChecking::AcceptNew,
                    HostKeyMode::Off => HostKeyChecking::Off,
                },
                ssh_config: self.ssh_config,
                connect_timeout: secs("--connect-timeout", self.connect_timeout)?,
                use_agent: !self.no_agent,
                keepalive: Duration::from_secs(5),
            },
            command_timeout: secs("--timeout", self.timeout)?,
            strategy: self.strategy,
            remote_user: self.user,
            private_key: self.private_key,
            template_dirs,
        })
    }
}

/// `-e` forms: `@file.yml`, a JSON/YAML mapping, or `k=v k2='v 2'`.
pub fn parse_extra_vars(arg: &str) -> Result<Vars, UsageError> {
    if let Some(path) = arg.strip_prefix('@') {
        return crate::executor::load_vars_file(std::path::Path::new(path)).map_err(UsageError);
    }
    let trimmed = arg.trim_start();
    if trimmed.starts_with('{') {
        let v: serde_yaml::Value = serde_yaml::from_str(arg).map_err(|e| UsageError(format!("-e {arg}: not a valid JSON/YAML mapping: {e}")))?;
        return match crate::vars::from_yaml(v) {
            Value::Object(m) => Ok(m.into_iter().collect()),
            _ => Err(UsageError(format!("-e {arg}: expected a mapping"))),
        };
    }
    let words = crate::modules::split_words(arg).map_err(|e| UsageError(format!("-e {arg}: {e}")))?;
    let mut vars = Vars::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(UsageError(format!("-e `{w}`: expected key=value, @file.yml or a JSON mapping")));
        };
        if k.is_empty() {
            return Err(UsageError(format!("-e `{w}`: empty variable name")));
        }
        vars.insert(k.to_string(), Value::from(v));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_vars_forms() {
        let v = parse_extra_vars("a=1 b='x y'").unwrap();
        assert_eq!(v["a"], Value::from("1"));
        assert_eq!(v["b"], Value::from("x y"));
        let j = parse_extra_vars(r#"{"n": 2, "l": [1]}"#).unwrap();
        assert_eq!(j["n"], Value::from(2));
        assert!(parse_extra_vars("novalue").is_err());
    }
}
