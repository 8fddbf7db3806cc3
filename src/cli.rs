//! The command line, in two stages (as ripgrep does): clap parses raw flags,
//! then `into_run_config` checks them and produces a config the rest trusts.

use crate::executor::{RunConfig, Strategy};
use crate::plan::PlanConfig;
use crate::report::Format;
use crate::transport::ssh::{HostKeyChecking, SshOptions};
use crate::vars::{Value, Vars};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
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
    /// Show what a migration would do (the clone chains, pool modes, renames,
    /// the cutover's proof, the phases) after reading the source; change nothing.
    Plan(PlanArgs),
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
    /// How to reach the hosts.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Seconds a single command may run (per task: `timeout:`).
    #[arg(long = "timeout", default_value_t = 3600.0)]
    pub timeout: f64,
    /// linear: a barrier after each task; free: each host at its own pace.
    #[arg(long, value_enum, default_value_t = Strategy::Linear)]
    pub strategy: Strategy,
}

/// How to reach the hosts: the flags `play` and `plan` share.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
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
    /// Remote user when the inventory names none.
    // Listed after the flags that follow the flatten point (`play`'s
    // --timeout, --strategy), as they were before these were shared.
    #[arg(short = 'u', long = "user", display_order = 900)]
    pub user: Option<String>,
    /// Private key when the inventory names none.
    #[arg(long = "private-key", alias = "key-file", display_order = 901)]
    pub private_key: Option<PathBuf>,
    /// Do not use ssh-agent.
    #[arg(long = "no-agent", display_order = 902)]
    pub no_agent: bool,
}

/// `ferry plan` flags.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The migration's playbook, whose phases are listed (default playbooks/site.yml,
    /// in the current dir, else in ferry's source tree).
    pub playbook: Option<PathBuf>,
    /// Inventory file, folder, or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", required = true)]
    pub inventory: Vec<PathBuf>,
    /// Extra variables: `k=v`, `@file.yml`, or a JSON/YAML mapping (repeatable; highest precedence).
    /// The migration vars file goes here: `-e @migration.yml`.
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Seconds a single read-only command on the source may run.
    #[arg(long = "timeout", default_value_t = 300.0)]
    pub timeout: f64,
    /// How to reach the source admin host.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `ferry plan --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Text for people.
    Human,
    /// One JSON document with the same content.
    Json,
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

/// `v` seconds as a duration: positive and at most a week.
fn seconds(what: &str, v: f64) -> Result<Duration, UsageError> {
    if v.is_finite() && v > 0.0 && v <= 86400.0 * 7.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(UsageError(format!("{what} must be a positive number of seconds, not {v}")))
    }
}

/// Every `-e` merged in order (a later one wins).
pub fn merge_extra_vars(args: &[String]) -> Result<Vars, UsageError> {
    let mut extra_vars = Vars::new();
    for e in args {
        crate::vars::overlay(&mut extra_vars, &parse_extra_vars(e)?);
    }
    Ok(extra_vars)
}

impl ConnectArgs {
    /// The SSH options these flags ask for.
    pub fn ssh_options(&self) -> Result<SshOptions, UsageError> {
        Ok(SshOptions {
            known_hosts: self.known_hosts.clone(),
            host_key_checking: match self.host_key_checking {
                HostKeyMode::Strict => HostKeyChecking::Strict,
                HostKeyMode::AcceptNew => HostKeyChecking::AcceptNew,
                HostKeyMode::Off => HostKeyChecking::Off,
            },
            ssh_config: self.ssh_config.clone(),
            connect_timeout: seconds("--connect-timeout", self.connect_timeout)?,
            use_agent: !self.no_agent,
            keepalive: Duration::from_secs(5),
        })
    }

    /// The flags as words that give the same settings again (those left at
    /// their defaults are left out), to print a command the user can paste.
    pub fn to_words(&self) -> Vec<String> {
        let mut words = Vec::new();
        let path = |p: &PathBuf| p.display().to_string();
        if let Some(p) = &self.known_hosts {
            words.extend(["--known-hosts".to_string(), path(p)]);
        }
        if self.host_key_checking != HostKeyMode::Strict {
            let mode = self.host_key_checking.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            words.extend(["--host-key-checking".to_string(), mode]);
        }
        if let Some(p) = &self.ssh_config {
            words.extend(["--ssh-config".to_string(), path(p)]);
        }
        if self.connect_timeout != 10.0 {
            words.extend(["--connect-timeout".to_string(), self.connect_timeout.to_string()]);
        }
        if let Some(u) = &self.user {
            words.extend(["--user".to_string(), u.clone()]);
        }
        if let Some(p) = &self.private_key {
            words.extend(["--private-key".to_string(), path(p)]);
        }
        if self.no_agent {
            words.push("--no-agent".to_string());
        }
        words
    }
}

impl PlayArgs {
    /// Checks the flags and builds the run configuration.
    pub fn into_run_config(self) -> Result<RunConfig, UsageError> {
        if self.forks == 0 {
            return Err(UsageError("--forks must be at least 1".into()));
        }
        let extra_vars = merge_extra_vars(&self.extra_vars)?;
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
            ssh: self.connect.ssh_options()?,
            command_timeout: seconds("--timeout", self.timeout)?,
            strategy: self.strategy,
            remote_user: self.connect.user,
            private_key: self.connect.private_key,
            template_dirs,
        })
    }
}

/// The migration playbook `ferry plan` reads when none is named.
pub const DEFAULT_PLAN_PLAYBOOK: &str = "playbooks/site.yml";

impl PlanArgs {
    /// Checks the flags and builds the plan configuration.
    pub fn into_plan_config(self) -> Result<PlanConfig, UsageError> {
        let playbook = match self.playbook {
            Some(p) if p.is_file() => p,
            Some(p) => return Err(UsageError(format!("playbook {} does not exist or is not a file", p.display()))),
            None => default_plan_playbook()?,
        };
        Ok(PlanConfig {
            extra_vars: merge_extra_vars(&self.extra_vars)?,
            extra_var_args: self.extra_vars,
            playbook,
            inventories: self.inventory,
            format: self.format,
            ssh: self.connect.ssh_options()?,
            command_timeout: seconds("--timeout", self.timeout)?,
            connect_words: self.connect.to_words(),
            remote_user: self.connect.user,
            private_key: self.connect.private_key,
        })
    }
}

/// Ferry's source tree, the folder holding `playbooks/site.yml`: `given`, else
/// the current dir (returned as the empty path, so paths shown stay relative),
/// else the tree this binary was built from (`cargo run` from anywhere). Used by
/// `ferry plan` and `ferry lab` to find the project's playbooks.
pub fn source_tree(given: Option<&Path>) -> Result<PathBuf, UsageError> {
    let has_playbooks = |dir: &Path| dir.join(DEFAULT_PLAN_PLAYBOOK).is_file();
    if let Some(dir) = given {
        return if has_playbooks(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(UsageError(format!("{}: no {DEFAULT_PLAN_PLAYBOOK} there (give ferry's source tree)", dir.display())))
        };
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"));
    [Path::new(""), built].into_iter().find(|d| has_playbooks(d)).map(Path::to_path_buf).ok_or_else(|| {
        UsageError(format!("there is no {DEFAULT_PLAN_PLAYBOOK} here or in {}: run from ferry's source tree, or name the playbook / project", built.display()))
    })
}

/// `playbooks/site.yml` of [`source_tree`].
fn default_plan_playbook() -> Result<PathBuf, UsageError> {
    source_tree(None).map(|tree| tree.join(DEFAULT_PLAN_PLAYBOOK))
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

    fn parse(words: &str) -> Command {
        Cli::try_parse_from(std::iter::once("ferry").chain(words.split_whitespace())).map(|c| c.command).unwrap_or_else(|e| panic!("{words}: {e}"))
    }

    #[test]
    fn play_keeps_its_connection_flags() {
        let Command::Play(args) =
            parse("play site.yml -i inv --known-hosts kh --host-key-checking accept-new -u admin --key-file k --no-agent --connect-timeout 3")
        else {
            panic!("not play")
        };
        let c = &args.connect;
        assert_eq!((c.known_hosts.as_deref(), c.user.as_deref(), c.private_key.as_deref()), (Some("kh".as_ref()), Some("admin"), Some("k".as_ref())));
        assert!(c.no_agent && c.host_key_checking == HostKeyMode::AcceptNew && c.connect_timeout == 3.0);
        let ssh = c.ssh_options().unwrap();
        assert!(!ssh.use_agent && ssh.host_key_checking == HostKeyChecking::AcceptNew && ssh.connect_timeout == Duration::from_secs(3));
    }

    #[test]
    fn plan_flags() {
        let Command::Plan(args) = parse("plan -i a.yml -i b.yml -e @m.yml -e x=1 --known-hosts kh --format json") else { panic!("not plan") };
        assert_eq!(args.inventory, [PathBuf::from("a.yml"), PathBuf::from("b.yml")]);
        assert_eq!(args.extra_vars, ["@m.yml", "x=1"]);
        assert_eq!((args.playbook, args.format, args.timeout), (None, PlanFormat::Json, 300.0));
        let Command::Plan(args) = parse("plan other.yml -i a.yml") else { panic!("not plan") };
        assert_eq!((args.playbook, args.format), (Some(PathBuf::from("other.yml")), PlanFormat::Human));
        assert!(Cli::try_parse_from(["ferry", "plan", "-e", "x=1"]).is_err(), "-i is required");
        assert!(Cli::try_parse_from(["ferry", "plan", "-i", "a", "--forks", "3"]).is_err(), "play's run flags are not plan's");
    }

    #[test]
    fn plan_config_checks_the_playbook_and_the_extra_vars() {
        let plan = |words: &[&str]| match Cli::try_parse_from(["ferry", "plan"].iter().chain(words)).map(|c| c.command) {
            Ok(Command::Plan(args)) => args.into_plan_config(),
            other => panic!("{other:?}"),
        };
        let cfg = plan(&["-i", "inv", "-e", "a=1", "-e", "a=2 b=3"]).unwrap();
        assert!(cfg.playbook.ends_with(DEFAULT_PLAN_PLAYBOOK) && cfg.playbook.is_file(), "{}", cfg.playbook.display());
        assert_eq!((cfg.extra_vars["a"].as_str(), cfg.extra_vars["b"].as_str()), (Some("2"), Some("3")));
        assert_eq!(cfg.extra_var_args, ["a=1", "a=2 b=3"]);
        let e = plan(&["no-such.yml", "-i", "inv"]).unwrap_err();
        assert_eq!(e.to_string(), "playbook no-such.yml does not exist or is not a file");
        assert!(plan(&["-i", "inv", "-e", "novalue"]).unwrap_err().to_string().contains("expected key=value"));
        assert!(plan(&["-i", "inv", "--connect-timeout", "0"]).is_err());
    }

    #[test]
    fn connection_words_give_the_same_settings_again() {
        let words = "--known-hosts /lab/kh --host-key-checking off --ssh-config /lab/cfg --connect-timeout 2.5 -u root --private-key /lab/id --no-agent";
        let Command::Plan(args) = parse(&format!("plan -i inv {words}")) else { panic!("not plan") };
        let again = args.connect.to_words();
        assert_eq!(
            again.join(" "),
            "--known-hosts /lab/kh --host-key-checking off --ssh-config /lab/cfg --connect-timeout 2.5 --user root --private-key /lab/id --no-agent"
        );
        let Command::Plan(reparsed) = parse(&format!("plan -i inv {}", again.join(" "))) else { panic!("not plan") };
        assert_eq!(reparsed.connect.to_words(), again);
        let Command::Plan(defaults) = parse("plan -i inv") else { panic!("not plan") };
        assert!(defaults.connect.to_words().is_empty());
    }
}
