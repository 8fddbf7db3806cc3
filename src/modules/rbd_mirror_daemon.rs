//! `rbd_mirror_daemon`: the target's rbd-mirror daemon, started or stopped.
//!
//! - `mode: cephadm`: `ceph orch apply rbd-mirror` / `ceph orch rm rbd-mirror`
//!   (the runbook's commands), judged by `ceph orch ls rbd-mirror`.
//! - `mode: systemd`: unit `ceph-rbd-mirror@ID` (enabled and active). The
//!   packaged unit hard-codes `--cluster ceph`; for another cluster name a
//!   drop-in replaces its ExecStart.
//! - `mode: process` (hosts without an init system, like the lab):
//!   `setsid rbd-mirror --cluster C --id ID -f` with its pid in `pid_file`.
//!   Running means: the pid in that file is alive, is `rbd-mirror` and has
//!   our arguments. Stopping signals only that pid (TERM, KILL after 15 s).
//!   `CEPH_CONF` is set when `conf` is given, because rbd-mirror's per-pool
//!   connections ignore `-c` (G12). An rbd-mirror for the same cluster and id
//!   that ferry did not start is never touched: starting a second one is
//!   refused instead.
//! - `mode: auto` picks cephadm when `ceph orch status` answers, else systemd
//!   when it is the init system, else process.

use super::args::{self, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster};
use super::remote_file::{self, FileState, Kind};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::transport::RemoteCommand;
use crate::vars::Value;
use serde::Deserialize;

const MODULE: &str = "rbd_mirror_daemon";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    mode: Option<Text>,
    state: Option<Text>,
    daemon_id: Option<Text>,
    pid_file: Option<Text>,
    log_file: Option<Text>,
    placement: Option<Text>,
}

/// How the daemon is managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// Decided on the host.
    Auto,
    /// `ceph orch`.
    Cephadm,
    /// `systemctl`.
    Systemd,
    /// A process ferry starts and tracks by pid file.
    Process,
}

impl Manager {
    fn name(self) -> &'static str {
        match self {
            Manager::Auto => "auto",
            Manager::Cephadm => "cephadm",
            Manager::Systemd => "systemd",
            Manager::Process => "process",
        }
    }
}

/// The rbd-mirror daemon of one cluster on this host.
#[derive(Debug)]
pub struct RbdMirrorDaemonModule {
    cluster: Cluster,
    manager: Manager,
    started: bool,
    daemon_id: Option<String>,
    pid_file: Option<String>,
    log_file: Option<String>,
    placement: Option<String>,
}

/// An rbd-mirror process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Its pid.
    pub pid: u32,
    /// Its command line.
    pub argv: Vec<String>,
}

/// What `observe` learned, per manager.
#[derive(Debug, Clone)]
pub enum DaemonState {
    /// `ceph orch ls rbd-mirror`.
    Cephadm {
        /// rbd-mirror services deployed.
        services: usize,
    },
    /// `systemctl is-active` / `is-enabled` of the unit, and the drop-in.
    Systemd {
        /// `active`, `inactive`, `failed`, ...
        active: String,
        /// `enabled`, `disabled`, ...
        enabled: String,
        /// The drop-in file (only for a cluster other than `ceph`).
        dropin: Option<FileState>,
    },
    /// The process of our pid file, and any other rbd-mirror of this cluster and id.
    Process {
        /// Alive, `rbd-mirror`, from our pid file.
        ours: Option<Proc>,
        /// The pid file names a dead process.
        stale: bool,
        /// Same cluster and id, not ours.
        others: Vec<Proc>,
    },
}

/// Prints `ours PID` + argv lines, `stale`, `none`, then `other PID ARGV...` lines.
/// Others count only in this shell's network namespace: an rbd-mirror in
/// another one (a container without host networking, or, in the lab, another
/// lab host: they share the machine's PID namespace) is not this host's.
const OBSERVE_PROCESS: &str = r#"pidf=$1
here=$(readlink /proc/self/ns/net)
alive() { [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = rbd-mirror ] && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
mine=
if [ -s "$pidf" ]; then
  mine=$(head -c 32 -- "$pidf" | tr -dc 0-9)
  if [ -n "$mine" ] && alive "$mine"; then echo "ours $mine $(tr '\0' '\037' < "/proc/$mine/cmdline")"; else echo stale; mine=; fi
else
  echo none
fi
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$pid" = "$mine" ] && continue
  alive "$pid" || continue
  [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$here" ] || continue
  echo "other $pid $(tr '\0' '\037' < "$p/cmdline" 2>/dev/null)"
done
exit 0"#;

const START_PROCESS: &str = r#"set -e
pidf=$1; out=$2; shift 2
mkdir -p -- "$(dirname -- "$pidf")" "$(dirname -- "$out")"
setsid "$@" </dev/null >>"$out" 2>&1 &
pid=$!
echo "$pid" > "$pidf"
sleep 1
if ! kill -0 "$pid" 2>/dev/null || grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
  echo "rbd-mirror exited at once; the last lines of $out:" >&2
  tail -n 15 -- "$out" >&2
  rm -f -- "$pidf"
  exit 1
fi"#;

const STOP_PROCESS: &str = r#"pidf=$1
pid=$(head -c 32 -- "$pidf" 2>/dev/null | tr -dc 0-9)
gone() { ! [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = rbd-mirror ] || grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null; }
if [ -n "$pid" ] && ! gone; then
  kill -TERM "$pid" 2>/dev/null || true
  i=0
  while [ $i -lt 150 ] && ! gone; do sleep 0.1; i=$((i+1)); done
  gone || kill -KILL "$pid" 2>/dev/null || true
fi
rm -f -- "$pidf""#;

/// Parses the output of [`OBSERVE_PROCESS`], keeping the other daemons of `cluster`/`id`.
fn parse_process(text: &str, cluster: &str, id: &str) -> DaemonState {
    let argv_of = |rest: &str| -> Vec<String> { rest.split('\u{1f}').filter(|s| !s.is_empty()).map(str::to_string).collect() };
    let mut ours = None;
    let mut stale = false;
    let mut others = Vec::new();
    for line in text.lines() {
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("ours"), Some(pid), rest) => ours = pid.parse().ok().map(|pid| Proc { pid, argv: argv_of(rest.unwrap_or_default()) }),
            (Some("stale"), ..) => stale = true,
            (Some("other"), Some(pid), rest) => {
                let argv = argv_of(rest.unwrap_or_default());
                if let Ok(pid) = pid.parse() {
                    if daemon_identity(&argv) == (cluster.to_string(), id.to_string()) {
                        others.push(Proc { pid, argv });
                    }
                }
            }
            _ => {}
        }
    }
    DaemonState::Process { ours, stale, others }
}

/// The `(cluster, id)` an rbd-mirror command line runs as.
fn daemon_identity(argv: &[String]) -> (String, String) {
    let mut cluster = "ceph".to_string();
    let mut id = "admin".to_string();
    let mut it = argv.iter().peekable();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Option<String> {
            if a == name {
                it.peek().map(|v| v.to_string())
            } else {
                a.strip_prefix(&format!("{name}=")).map(str::to_string)
            }
        };
        if let Some(v) = value("--cluster") {
            cluster = v;
        } else if let Some(v) = value("--id").or_else(|| value("-i")) {
            id = v;
        } else if let Some(v) = value("--name").or_else(|| value("-n")) {
            id = v.strip_prefix("client.").unwrap_or(&v).to_string();
        }
    }
    (cluster, id)
}

impl RbdMirrorDaemonModule {
    /// From `rbd_mirror_daemon:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let manager = match a.mode.as_ref().map(|m| m.0.trim()) {
            None | Some("auto") => Manager::Auto,
            Some("cephadm" | "orch") => Manager::Cephadm,
            Some("systemd") => Manager::Systemd,
            Some("process") => Manager::Process,
            Some(other) => return Err(arg_err(MODULE, "mode", format!("`mode` must be auto, cephadm, systemd or process, not `{other}`"))),
        };
        let started = match a.state.as_ref().map(|s| s.0.trim()) {
            None | Some("started" | "present" | "running") => true,
            Some("stopped" | "absent") => false,
            Some(other) => return Err(arg_err(MODULE, "state", format!("`state` must be started or stopped, not `{other}`"))),
        };
        let daemon_id = match a.daemon_id.map(|t| t.0.trim().strip_prefix("client.").unwrap_or(t.0.trim()).to_string()).or_else(|| cluster.id.clone()) {
            Some(id) if id.is_empty() || id.starts_with('-') || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) => {
                return Err(arg_err(MODULE, "daemon_id", format!("`daemon_id` must be a CephX id such as rbd-mirror.site-b, not `{id}`")));
            }
            other => other,
        };
        let path = |t: Option<Text>, at: &str| -> Result<Option<String>, (String, String)> {
            match t {
                Some(t) if !t.0.starts_with('/') => Err(arg_err(MODULE, at, format!("`{at}` must be an absolute path, not `{}`", t.0))),
                other => Ok(other.map(|t| t.0)),
            }
        };
        if a.placement.is_some() && !matches!(manager, Manager::Cephadm | Manager::Auto) {
            return Err(arg_err(MODULE, "placement", "`placement` is for `mode: cephadm`"));
        }
        Ok(RbdMirrorDaemonModule {
            manager,
            started,
            daemon_id,
            pid_file: path(a.pid_file, "pid_file")?,
            log_file: path(a.log_file, "log_file")?,
            placement: a.placement.map(|t| t.0.trim().to_string()),
            cluster,
        })
    }

    fn id(&self) -> Result<&str, Failure> {
        self.daemon_id.as_deref().ok_or_else(|| Failure::msg("give `daemon_id` (the daemon's CephX id, e.g. rbd-mirror.site-b)".to_string()))
    }

    fn pid_file(&self, id: &str) -> String {
        self.pid_file.clone().unwrap_or_else(|| format!("/run/ferry/rbd-mirror.{}.{id}.pid", self.cluster.name))
    }

    fn log_file(&self, id: &str) -> String {
        self.log_file.clone().unwrap_or_else(|| format!("/var/log/ferry/rbd-mirror.{}.{id}.out", self.cluster.name))
    }

    fn unit(id: &str) -> String {
        format!("ceph-rbd-mirror@{id}")
    }

    fn dropin_path(id: &str) -> String {
        format!("/etc/systemd/system/ceph-rbd-mirror@{id}.service.d/ferry-cluster.conf")
    }

    fn dropin_text(&self) -> String {
        format!(
            "# Written by ferry: the packaged unit runs --cluster ceph.\n[Service]\nExecStart=\nExecStart=/usr/bin/rbd-mirror -f --cluster {} --id %i --setuser ceph --setgroup ceph\n",
            self.cluster.name
        )
    }

    /// `rbd-mirror --cluster C [--conf ..] [--keyring ..] --id ID -f`.
    fn daemon_argv(&self, id: &str) -> Vec<String> {
        let mut argv = vec!["rbd-mirror".to_string(), "--cluster".into(), self.cluster.name.clone()];
        if let Some(c) = &self.cluster.conf {
            argv.extend(["--conf".to_string(), c.clone()]);
        }
        if let Some(k) = &self.cluster.keyring {
            argv.extend(["--keyring".to_string(), k.clone()]);
        }
        argv.extend(["--id".to_string(), id.to_string(), "-f".into()]);
        argv
    }

    fn start_process(&self, id: &str) -> RemoteCommand {
        let mut argv = vec!["/bin/sh".to_string(), "-c".into(), START_PROCESS.into(), "sh".into(), self.pid_file(id), self.log_file(id)];
        argv.extend(self.daemon_argv(id));
        let mut cmd = RemoteCommand::argv(argv);
        if let Some(c) = &self.cluster.conf {
            cmd.env.push(("CEPH_CONF".into(), c.clone()));
        }
        cmd
    }

    fn stop_process(&self, id: &str) -> RemoteCommand {
        RemoteCommand::argv(["/bin/sh".to_string(), "-c".into(), STOP_PROCESS.into(), "sh".into(), self.pid_file(id)])
    }

    fn systemctl(args: &[&str]) -> RemoteCommand {
        let mut argv = vec!["systemctl".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        RemoteCommand::argv(argv)
    }

    async fn resolve(&self, cx: &ModuleContext<'_>) -> Result<Manager, ModuleError> {
        if self.manager != Manager::Auto {
            return Ok(self.manager);
        }
        if let Ok(out) = ceph_cli::query(cx, &self.cluster.ceph(["orch", "status", "--format", "json"])).await? {
            let available = serde_json::from_str::<serde_json::Value>(&out.stdout).ok().and_then(|v| v.get("available").and_then(serde_json::Value::as_bool));
            if available != Some(false) {
                return Ok(Manager::Cephadm);
            }
        }
        let probe = RemoteCommand::argv(["/bin/sh", "-c", "[ -d /run/systemd/system ] && command -v systemctl >/dev/null"]);
        Ok(if cx.run(&probe).await?.success() { Manager::Systemd } else { Manager::Process })
    }
}

impl StatefulModule for RbdMirrorDaemonModule {
    type State = DaemonState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<DaemonState, ModuleError> {
        match self.resolve(cx).await? {
            Manager::Cephadm | Manager::Auto => {
                let cmd = self.cluster.ceph(["orch", "ls", "rbd-mirror", "--format", "json"]);
                let text = ceph_cli::observe_text(cx, &cmd).await?;
                // `ceph orch ls` prints "No services reported" (not JSON) when there are none.
                let services = ceph_cli::json_array("ceph orch ls", &text).map(|v| v.len()).unwrap_or(0);
                Ok(DaemonState::Cephadm { services })
            }
            Manager::Systemd => {
                let id = self.id().map_err(ModuleError::Failed)?;
                let unit = Self::unit(id);
                let active = cx.run(&Self::systemctl(&["is-active", &unit])).await?.stdout.trim().to_string();
                let enabled = cx.run(&Self::systemctl(&["is-enabled", &unit])).await?.stdout.trim().to_string();
                let dropin = if self.cluster.name == "ceph" { None } else { Some(remote_file::observe(cx, &Self::dropin_path(id), false).await?) };
                Ok(DaemonState::Systemd { active, enabled, dropin })
            }
            Manager::Process => {
                let id = self.id().map_err(ModuleError::Failed)?;
                let cmd = RemoteCommand::argv(["/bin/sh".to_string(), "-c".into(), OBSERVE_PROCESS.into(), "sh".into(), self.pid_file(id)]);
                let text = ceph_cli::observe_text(cx, &cmd).await?;
                Ok(parse_process(&text, &self.cluster.name, id))
            }
        }
    }

    fn plan(&self, st: &DaemonState) -> Result<Vec<Change>, Failure> {
        let cluster = &self.cluster.name;
        let one = |summary: String, commands: Vec<RemoteCommand>| vec![Change { summary, commands, diff: None }];
        match st {
            DaemonState::Cephadm { services } => Ok(match (self.started, *services > 0) {
                (true, false) => {
                    let mut argv = vec!["orch".to_string(), "apply".into(), "rbd-mirror".into()];
                    if let Some(p) = &self.placement {
                        argv.push(format!("--placement={p}"));
                    }
                    one(format!("deploy rbd-mirror with cephadm on cluster {cluster}"), vec![self.cluster.ceph(argv)])
                }
                (false, true) => {
                    one(format!("remove the rbd-mirror service of cluster {cluster} (ceph orch rm)"), vec![self.cluster.ceph(["orch", "rm", "rbd-mirror"])])
                }
                _ => Vec::new(),
            }),
            DaemonState::Systemd { active, enabled, dropin } => {
                let id = self.id()?;
                let unit = Self::unit(id);
                let mut changes = Vec::new();
                if self.started {
                    if let Some(file) = dropin {
                        let want = self.dropin_text();
                        if file.kind != Kind::File || file.sha256.as_deref() != Some(remote_file::sha256_hex(want.as_bytes()).as_str()) {
                            let path = Self::dropin_path(id);
                            let dir = path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
                            changes.extend(one(
                                format!("make {unit} run --cluster {cluster} (systemd drop-in)"),
                                vec![
                                    RemoteCommand::argv(["mkdir".to_string(), "-p".into(), "--".into(), dir]),
                                    remote_file::write_command(&path, want.as_bytes(), Some(0o644), None, None),
                                    Self::systemctl(&["daemon-reload"]),
                                ],
                            ));
                        }
                    }
                    if enabled != "enabled" {
                        changes.extend(one(format!("enable {unit}"), vec![Self::systemctl(&["enable", &unit])]));
                    }
                    if active != "active" || !changes.is_empty() {
                        let verb = if active == "active" { "restart" } else { "start" };
                        changes.extend(one(format!("{verb} {unit}"), vec![Self::systemctl(&[verb, &unit])]));
                    }
                } else {
                    if active == "active" || active == "activating" {
                        changes.extend(one(format!("stop {unit}"), vec![Self::systemctl(&["stop", &unit])]));
                    }
                    if enabled == "enabled" {
                        changes.extend(one(format!("disable {unit}"), vec![Self::systemctl(&["disable", &unit])]));
                    }
                }
                Ok(changes)
            }
            DaemonState::Process { ours, stale, others } => {
                let id = self.id()?;
                let pid_file = self.pid_file(id);
                let want = self.daemon_argv(id);
                if !self.started {
                    return Ok(match (ours, stale) {
                        (Some(p), _) => one(format!("stop rbd-mirror (pid {}, from {pid_file})", p.pid), vec![self.stop_process(id)]),
                        (None, true) => one(format!("remove the stale pid file {pid_file}"), vec![RemoteCommand::argv(["rm", "-f", "--", pid_file.as_str()])]),
                        (None, false) => Vec::new(),
                    });
                }
                match ours {
                    Some(p) if p.argv == want => Ok(Vec::new()),
                    Some(p) => Ok(one(
                        format!("restart rbd-mirror (pid {} runs `{}`, wanted `{}`)", p.pid, p.argv.join(" "), want.join(" ")),
                        vec![self.stop_process(id), self.start_process(id)],
                    )),
                    None => {
                        if let Some(o) = others.first() {
                            return Err(Failure::msg(format!(
                                "an rbd-mirror for cluster {cluster} as client.{id} already runs (pid {}: `{}`) but ferry did not start it \
                                 (it is not in {pid_file}); ferry will not start a second one nor stop it: stop it yourself, or write its pid to {pid_file} to hand it over",
                                o.pid,
                                o.argv.join(" ")
                            )));
                        }
                        Ok(one(format!("start `{}` (pid in {pid_file}, output in {})", want.join(" "), self.log_file(id)), vec![self.start_process(id)]))
                    }
                }
            }
        }
    }
}

impl CephModule for RbdMirrorDaemonModule {
    fn report(&self, before: &DaemonState, after: Option<&DaemonState>) -> serde_json::Map<String, Value> {
        let st = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("cluster".into(), self.cluster.name.clone().into());
        let (mode, running) = match st {
            DaemonState::Cephadm { services } => (Manager::Cephadm, *services > 0),
            DaemonState::Systemd { active, .. } => (Manager::Systemd, active == "active"),
            DaemonState::Process { ours, .. } => {
                if let Some(p) = ours {
                    m.insert("pid".into(), p.pid.into());
                }
                if let Some(id) = &self.daemon_id {
                    m.insert("pid_file".into(), self.pid_file(id).into());
                    m.insert("log_file".into(), self.log_file(id).into());
                }
                (Manager::Process, ours.is_some())
            }
        };
        m.insert("mode".into(), mode.name().into());
        m.insert("running".into(), running.into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module(args: Value) -> RbdMirrorDaemonModule {
        RbdMirrorDaemonModule::from_args(&args).unwrap()
    }

    fn process() -> RbdMirrorDaemonModule {
        module(json!({"mode": "process", "cluster": "site-b", "daemon_id": "rbd-mirror.site-b", "pid_file": "/tmp/rm.pid", "log_file": "/tmp/rm.out"}))
    }

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn observed_processes_are_ours_stale_or_others_of_the_same_identity() {
        let text = "ours 4242 rbd-mirror\u{1f}--cluster\u{1f}site-b\u{1f}--id\u{1f}rbd-mirror.site-b\u{1f}-f\u{1f}\n\
                    other 11986 rbd-mirror\u{1f}--cluster\u{1f}site-b\u{1f}-c\u{1f}/tmp/cephlab/site-b.conf\u{1f}--id\u{1f}rbd-mirror.site-b\u{1f}-f\u{1f}\n\
                    other 777 rbd-mirror\u{1f}--cluster\u{1f}site-x\u{1f}--id\u{1f}rbd-mirror.site-b\u{1f}\n";
        let DaemonState::Process { ours, stale, others } = parse_process(text, "site-b", "rbd-mirror.site-b") else { panic!() };
        assert_eq!(ours.unwrap().pid, 4242);
        assert!(!stale);
        assert_eq!(others.iter().map(|p| p.pid).collect::<Vec<_>>(), [11986]);
        assert_eq!(daemon_identity(&argv("rbd-mirror --name=client.x -f")), ("ceph".into(), "x".into()));
    }

    #[test]
    fn starts_when_absent_and_is_ok_when_ours_runs_with_our_arguments() {
        let m = process();
        let none = DaemonState::Process { ours: None, stale: false, others: vec![] };
        let c = m.plan(&none).unwrap();
        assert_eq!(c[0].summary, "start `rbd-mirror --cluster site-b --id rbd-mirror.site-b -f` (pid in /tmp/rm.pid, output in /tmp/rm.out)");
        let line = c[0].commands[0].to_shell_line();
        assert!(line.contains("/tmp/rm.pid /tmp/rm.out rbd-mirror --cluster site-b --id rbd-mirror.site-b -f"), "{line}");
        let running = DaemonState::Process { ours: Some(Proc { pid: 7, argv: m.daemon_argv("rbd-mirror.site-b") }), stale: false, others: vec![] };
        assert!(m.plan(&running).unwrap().is_empty());
        let odd = DaemonState::Process { ours: Some(Proc { pid: 7, argv: argv("rbd-mirror --cluster site-b -f") }), stale: false, others: vec![] };
        assert!(m.plan(&odd).unwrap()[0].summary.starts_with("restart rbd-mirror (pid 7"));
    }

    #[test]
    fn a_daemon_ferry_did_not_start_is_never_doubled_nor_stopped() {
        let m = process();
        let foreign = DaemonState::Process {
            ours: None,
            stale: false,
            others: vec![Proc { pid: 11986, argv: argv("rbd-mirror --cluster site-b --id rbd-mirror.site-b -f") }],
        };
        assert!(m.plan(&foreign).unwrap_err().msg.contains("ferry did not start it"));
        let stop = module(json!({"mode": "process", "state": "stopped", "cluster": "site-b", "daemon_id": "rbd-mirror.site-b"}));
        assert!(stop.plan(&foreign).unwrap().is_empty(), "not ours: left alone");
        let ours = DaemonState::Process { ours: Some(Proc { pid: 9, argv: vec![] }), stale: false, others: vec![] };
        let c = stop.plan(&ours).unwrap();
        assert_eq!(c[0].summary, "stop rbd-mirror (pid 9, from /run/ferry/rbd-mirror.site-b.rbd-mirror.site-b.pid)");
        assert!(c[0].commands[0].to_shell_line().ends_with("sh /run/ferry/rbd-mirror.site-b.rbd-mirror.site-b.pid"));
        let stale = DaemonState::Process { ours: None, stale: true, others: vec![] };
        assert!(stop.plan(&stale).unwrap()[0].summary.starts_with("remove the stale pid file"));
    }

    #[test]
    fn conf_goes_to_ceph_conf_for_the_per_pool_connections_g12() {
        let m = module(json!({"mode": "process", "cluster": "site-b", "conf": "/tmp/cephlab/site-b.conf", "daemon_id": "rbd-mirror.site-b"}));
        let cmd = m.start_process("rbd-mirror.site-b");
        assert_eq!(cmd.env, [("CEPH_CONF".to_string(), "/tmp/cephlab/site-b.conf".to_string())]);
    }

    #[test]
    fn cephadm_and_systemd() {
        let m = module(json!({"mode": "cephadm", "cluster": "site-dst", "placement": "2"}));
        let c = m.plan(&DaemonState::Cephadm { services: 0 }).unwrap();
        assert_eq!(c[0].commands[0].to_string(), "ceph --cluster site-dst orch apply rbd-mirror --placement=2");
        assert!(m.plan(&DaemonState::Cephadm { services: 1 }).unwrap().is_empty());
        let rm = module(json!({"mode": "cephadm", "state": "stopped"}));
        assert_eq!(rm.plan(&DaemonState::Cephadm { services: 1 }).unwrap()[0].commands[0].to_string(), "ceph --cluster ceph orch rm rbd-mirror");
        let s = module(json!({"mode": "systemd", "daemon_id": "admin"}));
        let st = DaemonState::Systemd { active: "inactive".into(), enabled: "disabled".into(), dropin: None };
        let cmds: Vec<String> = s.plan(&st).unwrap().iter().flat_map(|c| c.commands.iter().map(ToString::to_string)).collect();
        assert_eq!(cmds, ["systemctl enable ceph-rbd-mirror@admin", "systemctl start ceph-rbd-mirror@admin"]);
        let other = module(json!({"mode": "systemd", "daemon_id": "admin", "cluster": "site-b"}));
        let absent = FileState::bare("", Kind::Absent);
        let st = DaemonState::Systemd { active: "active".into(), enabled: "enabled".into(), dropin: Some(absent) };
        let summaries: Vec<String> = other.plan(&st).unwrap().iter().map(|c| c.summary.clone()).collect();
        assert_eq!(summaries, ["make ceph-rbd-mirror@admin run --cluster site-b (systemd drop-in)", "restart ceph-rbd-mirror@admin"]);
        assert!(module(json!({"mode": "process"}))
            .plan(&DaemonState::Process { ours: None, stale: false, others: vec![] })
            .unwrap_err()
            .msg
            .contains("daemon_id"));
    }
}
