//! Modules: one file per module, dispatched by a closed enum.
//!
//! The contract (DESIGN.md): `observe` runs read-only commands and parses
//! them into typed state; `plan` compares state with the arguments and
//! returns the changes (empty = ok); the engine applies them (never in check
//! mode) and observes again: the plan must now be empty, or the task fails
//! with "did not converge". Check mode and idempotency cannot be faked.

pub mod args;
mod assert;
mod ceph_auth;
mod ceph_cli;
mod ceph_conf;
mod ceph_mon_info;
mod ceph_pool;
mod command;
pub use command::split_words;
mod copy;
mod debug;
mod fail;
mod file;
mod iptables;
mod iptables_dnat;
mod ipvs;
mod lineinfile;
pub mod netfilter;
mod rbd_chain;
mod rbd_feature;
mod rbd_image;
mod rbd_migration;
mod rbd_mirror_daemon;
mod rbd_mirror_image;
mod rbd_mirror_peer;
mod rbd_mirror_pool;
mod rbd_mirror_wait;
pub mod remote_file;
mod set_fact;
mod sysctl;
mod ufw;
mod wait_for;

use crate::report::FileDiff;
use crate::template::Templates;
use crate::transport::{CommandOutput, Connection, RemoteCommand, TransportError};
use crate::vars::{Value, Vars};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Every module ferry knows: canonical name first, then the names it also answers to.
const REGISTRY: &[(&str, &[&str])] = &[
    ("command", &["ansible.builtin.command", "ansible.legacy.command"]),
    ("shell", &["ansible.builtin.shell", "ansible.legacy.shell"]),
    ("copy", &["ansible.builtin.copy", "ansible.legacy.copy"]),
    ("template", &["ansible.builtin.template", "ansible.legacy.template"]),
    ("file", &["ansible.builtin.file", "ansible.legacy.file"]),
    ("lineinfile", &["ansible.builtin.lineinfile", "ansible.legacy.lineinfile"]),
    ("assert", &["ansible.builtin.assert", "ansible.legacy.assert"]),
    ("debug", &["ansible.builtin.debug", "ansible.legacy.debug"]),
    ("set_fact", &["ansible.builtin.set_fact", "ansible.legacy.set_fact"]),
    ("wait_for", &["ansible.builtin.wait_for", "ansible.legacy.wait_for"]),
    ("fail", &["ansible.builtin.fail", "ansible.legacy.fail"]),
    ("meta", &["ansible.builtin.meta"]),
    ("iptables", &["ansible.builtin.iptables", "ansible.legacy.iptables"]),
    ("iptables_dnat", &[]),
    ("ipvs", &[]),
    ("ufw", &["community.general.ufw"]),
    ("sysctl", &["ansible.posix.sysctl"]),
    ("ping", &["ansible.builtin.ping"]),
    ("ceph_pool", &[]),
    ("ceph_auth", &[]),
    ("rbd_mirror_pool", &[]),
    ("rbd_mirror_peer", &[]),
    ("rbd_feature", &[]),
    ("rbd_mirror_image", &[]),
    ("rbd_mirror_daemon", &[]),
    ("rbd_mirror_wait", &[]),
    ("rbd_image", &[]),
    ("rbd_migration", &[]),
    ("rbd_chain", &[]),
    ("ceph_mon_info", &[]),
    ("ceph_conf", &[]),
];

/// The modules (canonical names) whose observe [`ModuleCall::observe_commands`]
/// describes: the executor looks ahead only past tasks of these, and can tell
/// by name before it renders a task's arguments.
pub const OBSERVED_AHEAD: &[&str] = &["file", "copy", "template", "lineinfile", "iptables"];

/// Canonical module name for a task key: `copy`, `ansible.builtin.copy` -> `copy`.
pub fn canonical_name(key: &str) -> Option<&'static str> {
    REGISTRY.iter().find(|(name, aliases)| *name == key || aliases.contains(&key)).map(|(name, _)| *name)
}

/// All names a task key may use, for "did you mean" hints.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().flat_map(|(n, a)| std::iter::once(*n).chain(a.iter().copied()))
}

/// Modules whose free-form string is the command itself.
pub fn takes_raw_params(module: &str) -> bool {
    matches!(module, "command" | "shell")
}

/// Checks literal (untemplated) arguments at parse time, so a wrong type is
/// reported with file:line:col before any host is touched.
pub fn check_args(module: &str, args: &Value) -> Result<(), (String, String)> {
    ModuleCall::from_args(module, args).map(|_| ())
}

/// Where modules find things on the controller and how they talk to a host.
pub struct ModuleContext<'a> {
    /// Inventory name of the host the task is for.
    pub host: &'a str,
    /// The connection the module's commands go to (the delegate's, if delegated).
    pub conn: &'a Connection,
    /// Per-command timeout.
    pub timeout: Duration,
    /// `environment:` of the task.
    pub env: &'a [(String, String)],
    /// Diff mode: modules read file contents to show unified diffs.
    pub diff: bool,
    /// Check mode: observe only.
    pub check: bool,
    /// The run's template environment and this host's context (for `template`).
    pub templates: &'a Templates,
    /// The render context of this host for this task.
    pub vars_ctx: &'a minijinja::Value,
    /// Folders `src:` of copy/template are looked up in, in order.
    pub search_dirs: &'a [PathBuf],
    /// Where long-running modules report progress (`key`, done, total, message);
    /// the engine turns it into progress events.
    pub progress: &'a (dyn Fn(&str, u64, u64, &str) + Send + Sync),
}

impl ModuleContext<'_> {
    /// Runs one command on the host with the task's environment.
    pub async fn run(&self, cmd: &RemoteCommand) -> Result<CommandOutput, ModuleError> {
        self.run_for(cmd, self.timeout).await
    }

    /// Like [`run`](Self::run), for a command that waits on purpose longer than
    /// the task's timeout (`wait_for`'s own deadline).
    pub async fn run_for(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<CommandOutput, ModuleError> {
        self.conn.run(&self.with_env(cmd), timeout).await.map_err(ModuleError::Transport)
    }

    /// `cmd` with the task's environment, as it goes to the host.
    fn with_env(&self, cmd: &RemoteCommand) -> RemoteCommand {
        let mut cmd = cmd.clone();
        cmd.env.extend(self.env.iter().cloned());
        cmd
    }

    /// Runs read-only `cmds` in one round trip (with the task's environment,
    /// as [`run`](Self::run) would); `run` of each then returns its own
    /// output and exit status without another round trip
    /// ([`Connection::observe_ahead`]). For modules that need many
    /// independent reads (one `rbd info` per image).
    pub async fn observe_ahead(&self, cmds: &[RemoteCommand]) -> Result<(), ModuleError> {
        let with_env = cmds.iter().map(|c| self.with_env(c)).collect();
        self.conn.observe_ahead(with_env, self.timeout).await.map_err(ModuleError::Transport)
    }

    /// Runs a read-only command that must succeed; a failure names the command.
    pub async fn observe_cmd(&self, cmd: &RemoteCommand) -> Result<CommandOutput, ModuleError> {
        let out = self.run(cmd).await?;
        if !out.success() {
            return Err(ModuleError::command_failed("could not observe the current state", cmd, &out));
        }
        Ok(out)
    }

    /// Finds a controller-side file for `src:`.
    pub fn find_file(&self, name: &str, subdir: &str) -> Result<PathBuf, ModuleError> {
        let p = PathBuf::from(name);
        if p.is_absolute() {
            return if p.exists() { Ok(p) } else { Err(ModuleError::Failed(Failure::msg(format!("source file {name} does not exist on the controller")))) };
        }
        let mut tried = Vec::new();
        for dir in self.search_dirs {
            for cand in [dir.join(subdir).join(name), dir.join(name)] {
                if cand.exists() {
                    return Ok(cand);
                }
                tried.push(cand.display().to_string());
            }
        }
        Err(ModuleError::Failed(Failure::msg(format!("could not find `{name}` on the controller (looked in: {})", tried.join(", ")))))
    }
}

/// A failure with everything an operator needs: message, command, exit status, stderr.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// One sentence.
    pub msg: String,
    /// The command line that failed.
    pub command: Option<String>,
    /// Its exit status.
    pub rc: Option<i32>,
    /// Its stderr.
    pub stderr: Option<String>,
    /// Its stdout.
    pub stdout: Option<String>,
}

impl Failure {
    /// A failure with only a message.
    pub fn msg(msg: impl Into<String>) -> Self {
        Failure { msg: msg.into(), ..Default::default() }
    }
}

/// Why a module could not finish.
#[derive(Debug)]
pub enum ModuleError {
    /// The host could not be reached or the command timed out.
    Transport(TransportError),
    /// The module failed on the host.
    Failed(Failure),
}

impl ModuleError {
    /// A failure of command `cmd` that returned `out`.
    pub fn command_failed(what: &str, cmd: &RemoteCommand, out: &CommandOutput) -> Self {
        let detail = out.tail(1);
        let msg = if detail.is_empty() { format!("{what} (exit status {})", out.rc) } else { format!("{what}: {detail}") };
        ModuleError::Failed(Failure {
            msg,
            command: Some(cmd.to_string()),
            rc: Some(out.rc),
            stderr: Some(out.stderr.clone()),
            stdout: Some(out.stdout.clone()),
        })
    }
}

/// What a module reports.
#[derive(Debug, Clone, Default)]
pub struct ModuleOutput {
    /// Something changed (or would change, in check mode).
    pub changed: bool,
    /// The module failed (e.g. a command's non-zero exit): `failed_when` may overrule.
    pub failed: bool,
    /// Nothing was done because check mode cannot tell (command, shell).
    pub skipped: bool,
    /// One line for humans.
    pub msg: String,
    /// The registered result (`register:`): rc, stdout, stdout_lines, ...
    pub result: serde_json::Map<String, Value>,
    /// File diffs.
    pub diffs: Vec<FileDiff>,
    /// Facts set on the host (`set_fact`).
    pub facts: Vars,
    /// Values to mask in every output from now on.
    pub secrets: Vec<String>,
    /// The command that decided the result, for failure reports.
    pub command: Option<String>,
    /// Exit status of that command.
    pub rc: Option<i32>,
}

/// One change a module wants: a summary for humans, the commands that make it, a diff.
#[derive(Debug, Clone)]
pub struct Change {
    /// What changes, e.g. `create directory /etc/ceph (mode 0755)`.
    pub summary: String,
    /// Commands that apply it, in order; each must succeed.
    pub commands: Vec<RemoteCommand>,
    /// The file diff, when the change is to a file's content.
    pub diff: Option<FileDiff>,
}

/// The observe -> plan part of a module; the engine does apply and verify.
pub trait StatefulModule: Sync {
    /// What `observe` learns about the host.
    type State: Send;
    /// False for modules whose effect cannot be observed (command, shell):
    /// they are not re-observed after apply.
    const CONVERGES: bool = true;
    /// Reads the current state; runs only read-only commands.
    fn observe(&self, cx: &ModuleContext<'_>) -> impl Future<Output = Result<Self::State, ModuleError>> + Send;
    /// The changes needed to reach the arguments' state. Pure.
    fn plan(&self, state: &Self::State) -> Result<Vec<Change>, Failure>;
    /// The registered result after the run (`applied` holds the outputs of the commands run).
    fn result(&self, _state: &Self::State, _applied: &[CommandOutput]) -> serde_json::Map<String, Value> {
        serde_json::Map::new()
    }
}

/// Runs observe -> plan -> apply -> verify for one module.
pub async fn run_stateful<M: StatefulModule>(m: &M, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
    let state = m.observe(cx).await?;
    let changes = m.plan(&state).map_err(ModuleError::Failed)?;
    if changes.is_empty() {
        let result = m.result(&state, &[]);
        return Ok(ModuleOutput { msg: String::new(), result, ..Default::default() });
    }
    let summary = changes.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ");
    let diffs: Vec<FileDiff> = if cx.diff { changes.iter().filter_map(|c| c.diff.clone()).collect() } else { Vec::new() };
    if cx.check {
        let result = m.result(&state, &[]);
        return Ok(ModuleOutput { changed: true, msg: format!("would {summary}"), result, diffs, ..Default::default() });
    }
    let mut applied = Vec::new();
    for change in &changes {
        for cmd in &change.commands {
            let out = cx.run(cmd).await?;
            if !out.success() {
                return Err(ModuleError::command_failed(&format!("could not {}", change.summary), cmd, &out));
            }
            applied.push(out);
        }
    }
    if M::CONVERGES {
        let after = m.observe(cx).await?;
        let left = m.plan(&after).map_err(ModuleError::Failed)?;
        if !left.is_empty() {
            let still = left.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ");
            return Err(ModuleError::Failed(Failure::msg(format!("did not converge: after applying, the host still needs: {still}"))));
        }
    }
    let result = m.result(&state, &applied);
    Ok(ModuleOutput { changed: true, msg: summary, result, diffs, ..Default::default() })
}

/// A module with its typed arguments: the closed set ferry can run.
#[derive(Debug)]
pub enum ModuleCall {
    /// `command`
    Command(command::CommandModule),
    /// `shell`
    Shell(command::CommandModule),
    /// `copy`
    Copy(copy::CopyModule),
    /// `template`
    Template(copy::CopyModule),
    /// `file`
    File(file::FileModule),
    /// `lineinfile`
    LineInFile(lineinfile::LineInFileModule),
    /// `assert`
    Assert(assert::AssertModule),
    /// `debug`
    Debug(debug::DebugModule),
    /// `set_fact`
    SetFact(set_fact::SetFactModule),
    /// `wait_for`
    WaitFor(wait_for::WaitForModule),
    /// `fail`
    Fail(fail::FailModule),
    /// `ping`
    Ping,
    /// `iptables` (Ansible's arguments)
    Iptables(iptables::IptablesModule),
    /// `iptables_dnat` (ferry's own: tagged DNAT port forwarding)
    IptablesDnat(iptables_dnat::IptablesDnatModule),
    /// `ipvs` (one IPVS virtual service and its real servers)
    Ipvs(ipvs::IpvsModule),
    /// `ufw` (community.general.ufw's arguments)
    Ufw(ufw::UfwModule),
    /// `sysctl` (ansible.posix.sysctl's arguments; live only unless `persist`)
    Sysctl(sysctl::SysctlModule),
    /// `meta` (only `noop`, `flush_handlers` and `end_host`/`end_play` are understood by the executor)
    Meta(String),
    /// `ceph_pool` (a pool that must exist on the cluster; created on request)
    CephPool(ceph_pool::CephPoolModule),
    /// `ceph_auth` (a CephX user with caps, its keyring)
    CephAuth(ceph_auth::CephAuthModule),
    /// `rbd_mirror_pool` (a pool's mirror mode and site name)
    RbdMirrorPool(rbd_mirror_pool::RbdMirrorPoolModule),
    /// `rbd_mirror_peer` (bootstrap create/import, peer removal)
    RbdMirrorPeer(rbd_mirror_peer::RbdMirrorPeerModule),
    /// `rbd_feature` (image features on or off)
    RbdFeature(rbd_feature::RbdFeatureModule),
    /// `rbd_mirror_image` (mirroring of one image; demote, promote, resync, snapshot)
    RbdMirrorImage(rbd_mirror_image::RbdMirrorImageModule),
    /// `rbd_mirror_daemon` (the rbd-mirror daemon: cephadm, systemd or a tracked process)
    RbdMirrorDaemon(rbd_mirror_daemon::RbdMirrorDaemonModule),
    /// `rbd_mirror_wait` (wait on the target until images are in sync)
    RbdMirrorWait(rbd_mirror_wait::RbdMirrorWaitModule),
    /// `rbd_image` (rename, trash, restore)
    RbdImage(rbd_image::RbdImageModule),
    /// `rbd_migration` (prepare, execute, commit, abort)
    RbdMigration(rbd_migration::RbdMigrationModule),
    /// `rbd_chain` (read-only: clone chains, root first, and pool modes)
    RbdChain(rbd_chain::RbdChainModule),
    /// `ceph_mon_info` (read-only: fsid and mon_host of a cluster)
    CephMonInfo(ceph_mon_info::CephMonInfoModule),
    /// `ceph_conf` (a cluster's conf and keyring under /etc/ceph)
    CephConf(ceph_conf::CephConfModule),
}

impl ModuleCall {
    /// Builds the typed call from (rendered) arguments. Errors are (argument path, message).
    pub fn from_args(module: &str, args: &Value) -> Result<ModuleCall, (String, String)> {
        Ok(match module {
            "command" => ModuleCall::Command(command::CommandModule::from_args("command", args, false)?),
            "shell" => ModuleCall::Shell(command::CommandModule::from_args("shell", args, true)?),
            "copy" => ModuleCall::Copy(copy::CopyModule::from_copy_args(args)?),
            "template" => ModuleCall::Template(copy::CopyModule::from_template_args(args)?),
            "file" => ModuleCall::File(args::parse("file", args)?),
            "lineinfile" => ModuleCall::LineInFile(lineinfile::LineInFileModule::from_args(args)?),
            "assert" => ModuleCall::Assert(args::parse("assert", args)?),
            "debug" => ModuleCall::Debug(args::parse("debug", args)?),
            "set_fact" => ModuleCall::SetFact(set_fact::SetFactModule::from_args(args)?),
            "wait_for" => ModuleCall::WaitFor(args::parse("wait_for", args)?),
            "fail" => ModuleCall::Fail(args::parse("fail", args)?),
            "ping" => ModuleCall::Ping,
            "iptables" => ModuleCall::Iptables(iptables::IptablesModule::from_args(args)?),
            "iptables_dnat" => ModuleCall::IptablesDnat(iptables_dnat::IptablesDnatModule::from_args(args)?),
            "ipvs" => ModuleCall::Ipvs(ipvs::IpvsModule::from_args(args)?),
            "ufw" => ModuleCall::Ufw(ufw::UfwModule::from_args(args)?),
            "sysctl" => ModuleCall::Sysctl(sysctl::SysctlModule::from_args(args)?),
            "ceph_pool" => ModuleCall::CephPool(ceph_pool::CephPoolModule::from_args(args)?),
            "ceph_auth" => ModuleCall::CephAuth(ceph_auth::CephAuthModule::from_args(args)?),
            "rbd_mirror_pool" => ModuleCall::RbdMirrorPool(rbd_mirror_pool::RbdMirrorPoolModule::from_args(args)?),
            "rbd_mirror_peer" => ModuleCall::RbdMirrorPeer(rbd_mirror_peer::RbdMirrorPeerModule::from_args(args)?),
            "rbd_feature" => ModuleCall::RbdFeature(rbd_feature::RbdFeatureModule::from_args(args)?),
            "rbd_mirror_image" => ModuleCall::RbdMirrorImage(rbd_mirror_image::RbdMirrorImageModule::from_args(args)?),
            "rbd_mirror_daemon" => ModuleCall::RbdMirrorDaemon(rbd_mirror_daemon::RbdMirrorDaemonModule::from_args(args)?),
            "rbd_mirror_wait" => ModuleCall::RbdMirrorWait(rbd_mirror_wait::RbdMirrorWaitModule::from_args(args)?),
            "rbd_image" => ModuleCall::RbdImage(rbd_image::RbdImageModule::from_args(args)?),
            "rbd_migration" => ModuleCall::RbdMigration(rbd_migration::RbdMigrationModule::from_args(args)?),
            "rbd_chain" => ModuleCall::RbdChain(rbd_chain::RbdChainModule::from_args(args)?),
            "ceph_mon_info" => ModuleCall::CephMonInfo(ceph_mon_info::CephMonInfoModule::from_args(args)?),
            "ceph_conf" => ModuleCall::CephConf(ceph_conf::CephConfModule::from_args(args)?),
            "meta" => {
                let action = args.get("_raw_params").and_then(Value::as_str).or_else(|| args.as_str()).unwrap_or("").trim().to_string();
                if !matches!(action.as_str(), "noop" | "flush_handlers" | "end_host" | "end_play" | "clear_host_errors") {
                    return Err((
                        String::new(),
                        format!("meta action `{action}` is not supported (use noop, flush_handlers, end_host, end_play or clear_host_errors)"),
                    ));
                }
                ModuleCall::Meta(action)
            }
            other => return Err((String::new(), format!("unknown module `{other}`"))),
        })
    }

    /// True when the module runs entirely on the controller (no connection needed).
    pub fn is_controller_only(&self) -> bool {
        matches!(self, ModuleCall::Assert(_) | ModuleCall::Debug(_) | ModuleCall::SetFact(_) | ModuleCall::Fail(_) | ModuleCall::Meta(_))
    }

    /// The read-only commands this module's observe will run, for modules
    /// whose observe is a fixed, quick look at the host's own files or
    /// tables: the executor runs those of several tasks in one round trip
    /// ([`Connection::observe_ahead`]). `None` for every other module (Ceph
    /// commands can wait on a cluster; commands are not observes).
    pub fn observe_commands(&self, diff: bool) -> Option<Vec<RemoteCommand>> {
        match self {
            ModuleCall::File(m) => Some(vec![remote_file::observe_command(m.path(), false)]),
            ModuleCall::Copy(m) | ModuleCall::Template(m) => Some(vec![remote_file::observe_command(m.dest(), diff)]),
            ModuleCall::LineInFile(m) => Some(vec![remote_file::observe_command(m.path(), true)]),
            ModuleCall::Iptables(m) => {
                let (list, check) = m.observe_commands();
                Some(std::iter::once(list).chain(check).collect())
            }
            _ => None,
        }
    }

    /// Runs the module.
    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        match self {
            ModuleCall::Command(m) | ModuleCall::Shell(m) => m.run(cx).await,
            ModuleCall::Copy(m) => m.run(cx, false).await,
            ModuleCall::Template(m) => m.run(cx, true).await,
            ModuleCall::File(m) => run_stateful(m, cx).await,
            ModuleCall::LineInFile(m) => run_stateful(m, cx).await,
            ModuleCall::Assert(m) => m.run(cx),
            ModuleCall::Debug(m) => m.run(cx),
            ModuleCall::SetFact(m) => Ok(m.run()),
            ModuleCall::WaitFor(m) => m.run(cx).await,
            ModuleCall::Fail(m) => Ok(m.run()),
            ModuleCall::Ping => {
                let cmd = RemoteCommand::argv(["true"]);
                cx.observe_cmd(&cmd).await?;
                let mut result = serde_json::Map::new();
                result.insert("ping".into(), Value::from("pong"));
                Ok(ModuleOutput { result, ..Default::default() })
            }
            ModuleCall::Meta(_) => Ok(ModuleOutput::default()),
            ModuleCall::Iptables(m) => run_stateful(m, cx).await,
            ModuleCall::IptablesDnat(m) => run_stateful(m, cx).await,
            ModuleCall::Ipvs(m) => run_stateful(m, cx).await,
            ModuleCall::Ufw(m) => run_stateful(m, cx).await,
            ModuleCall::Sysctl(m) => run_stateful(m, cx).await,
            ModuleCall::CephPool(m) => ceph_cli::run(m, cx).await,
            ModuleCall::CephAuth(m) => ceph_cli::run(m, cx).await,
            ModuleCall::RbdMirrorPool(m) => ceph_cli::run(m, cx).await,
            ModuleCall::RbdMirrorPeer(m) => m.run(cx).await,
            ModuleCall::RbdFeature(m) => ceph_cli::run(m, cx).await,
            ModuleCall::RbdMirrorImage(m) => ceph_cli::run(m, cx).await,
            ModuleCall::RbdMirrorDaemon(m) => ceph_cli::run(m, cx).await,
            ModuleCall::RbdMirrorWait(m) => m.run(cx).await,
            ModuleCall::RbdImage(m) => ceph_cli::run(m, cx).await,
            ModuleCall::RbdMigration(m) => ceph_cli::run(m, cx).await,
            ModuleCall::RbdChain(m) => m.run(cx).await,
            ModuleCall::CephMonInfo(m) => m.run(cx).await,
            ModuleCall::CephConf(m) => m.run(cx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exactly_the_modules_named_for_looking_ahead_describe_their_observe() {
        let calls = [
            ("file", json!({"path": "/x", "state": "directory"})),
            ("copy", json!({"content": "a", "dest": "/x"})),
            ("template", json!({"src": "a.j2", "dest": "/x"})),
            ("lineinfile", json!({"path": "/x", "line": "a"})),
            ("iptables", json!({"chain": "INPUT", "source": "198.51.100.7", "jump": "ACCEPT"})),
            ("command", json!({"_raw_params": "true"})),
            ("sysctl", json!({"name": "net.ipv4.ip_forward", "value": "1"})),
        ];
        for (name, args) in calls {
            let call = ModuleCall::from_args(name, &args).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(call.observe_commands(false).is_some(), OBSERVED_AHEAD.contains(&name), "{name}");
        }
        for name in OBSERVED_AHEAD {
            assert_eq!(canonical_name(name), Some(*name), "{name} is a canonical name");
        }
    }
}
