//! [`CephCluster`]: a running single-node Ceph cluster inside one lab host.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::conf::{self, Layout, MGR_ID, MON_ID, OSD_ID, PRIVATE_ROOT};
use super::daemon::{self, Daemon, STOP_GRACE};
use super::host_exec::{last_lines, run_in, HostExec};
use super::packages::require_packages;
use super::sockets;
use super::spec::{is_name, CephClusterSpec};
use crate::ceph::CephStatus;
use crate::lab::LabError;

/// How long a step may take to become true (mon quorum, OSD up, mgr available,
/// rbd-mirror registered). Generous: the machine is shared and a loaded one is
/// 3-8 times slower (G18).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Polling interval for those waits; each poll runs the (Python) ceph tool.
const POLL: Duration = Duration::from_millis(500);

/// `--connect-timeout` of one poll, and of any other ceph command.
const POLL_CONNECT_TIMEOUT: &str = "10";
const CONNECT_TIMEOUT: &str = "60";

/// Runs inside the host: binds host-private dirs under `$2` (in the host's own
/// /run) over the machine's /var/lib/ceph and /var/log/ceph, in the host's mount
/// namespace only; `$1` is the caller's mount namespace, `$3` the `dev:inode` of
/// the machine's /etc/ceph. Idempotent: a marker file tells that a bind is in place.
const PREPARE: &str = r#"set -eu
here=$(readlink /proc/self/ns/mnt)
# The binds would hide the machine's own dirs if this were its mount namespace.
if [ "$here" = "$1" ] || [ "$here" = "$(readlink /proc/1/ns/mnt)" ]; then
  echo "not inside the host's private mount namespace" >&2; exit 1
fi
# The cluster's conf and keyrings go to /etc/ceph: it must be the host's own.
if [ "$(stat -c %d:%i /etc/ceph)" = "$3" ]; then
  echo "/etc/ceph is the machine's own here, not the host's" >&2; exit 1
fi
private_dir() {
  mkdir -p "$1"
  [ -e "$2/.ferrylab-private" ] && return 0
  [ -d "$2" ] || { echo "$2 is missing (Debian's ceph packages create it)" >&2; exit 1; }
  case "$(findmnt -n -o PROPAGATION --target "$2")" in
    *shared*) echo "$2 is on a shared mount: a bind there would show outside the host" >&2; exit 1 ;;
  esac
  : >"$1/.ferrylab-private"
  mount --bind "$1" "$2"
}
private_dir "$2/lib" /var/lib/ceph
private_dir "$2/log" /var/log/ceph
mkdir -p /var/lib/ceph/mon /var/lib/ceph/mgr /var/lib/ceph/osd /var/lib/ceph/tmp /var/lib/ceph/crash /run/ceph
"#;

/// Runs inside the host: writes `$2` to the file `$1` (replacing it whole).
const WRITE: &str = r#"umask 022; printf '%s' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1""#;

/// A daemon of a cluster, as [`CephCluster::pids`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonPid {
    /// `mon.a`, `mgr.x`, `osd.0` or `rbd-mirror.<id>`.
    pub name: String,
    /// Its PID (the machine's PID namespace).
    pub pid: u32,
}

/// A running cluster: mon `a`, mgr `x`, OSD `0` (and rbd-mirror daemons once
/// started) inside one lab host. Dropping it stops the daemons and removes the
/// cluster's files from the host (its logs stay until the lab goes);
/// [`CephCluster::down`] does the same and reports problems.
///
/// `L` is the lab, by reference or shared pointer (`&SshLab`, `Arc<SshLab>`), so
/// the cluster cannot outlive the hosts it runs in.
#[derive(Debug)]
pub struct CephCluster<L: HostExec> {
    lab: L,
    spec: CephClusterSpec,
    layout: Layout,
    fsid: String,
    /// Inode of the host's network namespace: every daemon must be in it.
    netns: u64,
    daemons: Mutex<Vec<Daemon>>,
    finished: bool,
}

impl<L: HostExec> CephCluster<L> {
    /// Creates the cluster in `spec.host` and waits until its OSD is up and its mgr
    /// available (and every daemon listens on `spec.addr` only). Fails when the
    /// ceph packages are missing (see [`super::ensure_packages`]), when the host
    /// lacks `spec.addr`, or when the host already has a cluster of that name. A
    /// failure part-way stops what was started.
    pub fn up(lab: L, spec: CephClusterSpec) -> Result<CephCluster<L>, LabError> {
        spec.validate()?;
        require_packages()?;
        let netns = host_netns(&lab, &spec.host)?;
        let addrs = run_in(&lab, &spec.host, &["ip", "-4", "-o", "addr", "show"])?;
        let wanted = format!("{}/", spec.addr);
        if !addrs.split_whitespace().any(|w| w.starts_with(&wanted)) {
            return Err(LabError::Config(format!(
                "Ceph cluster {}: host {} has no address {} (the daemons bind only to an address of their host)",
                spec.cluster, spec.host, spec.addr
            )));
        }
        let own_mnt = fs::read_link("/proc/self/ns/mnt").map_err(|e| LabError::io("reading /proc/self/ns/mnt", e))?;
        let machine_etc_ceph = fs::metadata("/etc/ceph").map(|m| format!("{}:{}", m.dev(), m.ino())).unwrap_or_else(|_| "none".into());
        run_in(&lab, &spec.host, &["sh", "-c", PREPARE, "ferry-lab-ceph", &own_mnt.to_string_lossy(), PRIVATE_ROOT, &machine_etc_ceph])?;
        let layout = Layout::new(&spec.cluster);
        let mon_data = layout.data_dir("mon", MON_ID);
        if lab.exec(&spec.host, &["test", "-e", &mon_data])?.status.success() {
            return Err(LabError::InUse(format!("host {} already has {mon_data}: a cluster {} is there (take it down first)", spec.host, spec.cluster)));
        }
        // The host's /etc is an overlay on the machine's, so files of this name on
        // the machine (ceph-pair.sh's /etc/ceph symlinks into the machine's /tmp)
        // show through; removing them here only hides them in this host.
        remove_conf_files(&lab, &spec.host, &layout)?;
        let cluster = CephCluster { lab, spec, layout, fsid: new_uuid()?, netns, daemons: Mutex::new(Vec::new()), finished: false };
        // From here on an early return drops `cluster`, which stops its daemons.
        cluster.bootstrap()?;
        Ok(cluster)
    }

    /// mkfs and start of mon, mgr and OSD, as CEPH-LAB-NOTES.md section 2 does it,
    /// with `--cluster` and the default paths instead of `-c`.
    fn bootstrap(&self) -> Result<(), LabError> {
        let (c, l) = (self.spec.cluster.as_str(), &self.layout);
        let (mon, mgr, osd) = (l.data_dir("mon", MON_ID), l.data_dir("mgr", MGR_ID), l.data_dir("osd", OSD_ID));
        let (mon_keyring, monmap, admin) = (l.bootstrap_file("mon.keyring"), l.bootstrap_file("monmap"), l.admin_keyring());
        self.write_file(&l.conf(), &conf::render(&self.spec, &self.fsid))?;
        self.run(&["mkdir", "-p", &mon, &mgr, &osd])?;
        self.run(&["ceph-authtool", "--create-keyring", &mon_keyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"])?;
        #[rustfmt::skip]
        self.run(&["ceph-authtool", "--create-keyring", &admin, "--gen-key", "-n", "client.admin",
            "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mds", "allow *", "--cap", "mgr", "allow *"])?;
        self.run(&["ceph-authtool", &mon_keyring, "--import-keyring", &admin])?;
        let mon_host = self.spec.mon_host();
        #[rustfmt::skip]
        self.run(&["monmaptool", "--create", "--fsid", &self.fsid, "--addv", MON_ID, &mon_host,
            "--enable-all-features", "--set-min-mon-release", "16", &monmap])?;
        self.run(&["ceph-mon", "--cluster", c, "--mkfs", "-i", MON_ID, "--monmap", &monmap, "--keyring", &mon_keyring])?;
        self.spawn(&format!("mon.{MON_ID}"), &["ceph-mon", "--cluster", c, "-i", MON_ID, "-f"])?;
        self.wait_until("the mon answering", || self.probe(&["mon", "stat"]).map(|o| o.map(drop)))?;

        let mgr_keyring = format!("{mgr}/keyring");
        #[rustfmt::skip]
        self.ceph(&["auth", "get-or-create", &format!("mgr.{MGR_ID}"),
            "mon", "allow profile mgr", "osd", "allow *", "mds", "allow *", "-o", &mgr_keyring])?;
        self.spawn(&format!("mgr.{MGR_ID}"), &["ceph-mgr", "--cluster", c, "-i", MGR_ID, "-f"])?;

        let osd_uuid = new_uuid()?;
        let id = self.ceph(&["osd", "new", &osd_uuid])?;
        if id.trim() != OSD_ID {
            return Err(LabError::Command {
                command: format!("on {}: ceph --cluster {c} osd new {osd_uuid}", self.spec.host),
                status: "unexpected output".into(),
                stderr: format!("expected OSD id {OSD_ID}, got {:?}", id.trim()),
            });
        }
        let osd_keyring = format!("{osd}/keyring");
        #[rustfmt::skip]
        self.ceph(&["auth", "get-or-create", &format!("osd.{OSD_ID}"),
            "mon", "allow profile osd", "mgr", "allow profile osd", "osd", "allow *", "-o", &osd_keyring])?;
        self.run(&["ceph-osd", "--cluster", c, "-i", OSD_ID, "--mkfs", "--osd-uuid", &osd_uuid])?;
        self.spawn(&format!("osd.{OSD_ID}"), &["ceph-osd", "--cluster", c, "-i", OSD_ID, "-f"])?;

        self.wait_until("the OSD up and the mgr available", || {
            let Some(text) = self.probe(&["-s", "--format", "json"])? else {
                return Ok(None);
            };
            let status = CephStatus::parse(&text).map_err(|e| LabError::io("parsing `ceph -s --format json`", std::io::Error::other(e)))?;
            let osd_up = status.osdmap.as_ref().and_then(|o| o.num_up_osds).is_some_and(|n| n >= 1);
            let mgr_up = status.mgrmap.as_ref().and_then(|m| m.available) == Some(true);
            Ok((osd_up && mgr_up).then_some(()))
        })?;
        // It would scrape SMART data of devices the lab does not have (G16).
        self.ceph(&["config", "set", "mgr", "mgr/devicehealth/enable_monitoring", "false"])?;
        self.check_listeners()
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &CephClusterSpec {
        &self.spec
    }

    /// The cluster's fsid.
    pub fn fsid(&self) -> &str {
        &self.fsid
    }

    /// The conf inside the host: `/etc/ceph/<cluster>.conf`.
    pub fn conf_path(&self) -> String {
        self.layout.conf()
    }

    /// The admin keyring inside the host: `/etc/ceph/<cluster>.client.admin.keyring`.
    pub fn admin_keyring_path(&self) -> String {
        self.layout.admin_keyring()
    }

    /// Runs `ceph --cluster <cluster> ARGS` in the host as client.admin and returns
    /// its stdout; a non-zero exit is an error with the command's stderr.
    pub fn ceph(&self, args: &[&str]) -> Result<String, LabError> {
        let mut argv = vec!["ceph", "--cluster", &self.spec.cluster, "--connect-timeout", CONNECT_TIMEOUT];
        argv.extend_from_slice(args);
        self.run(&argv)
    }

    /// Runs `rbd --cluster <cluster> ARGS` in the host, like [`CephCluster::ceph`].
    pub fn rbd(&self, args: &[&str]) -> Result<String, LabError> {
        let mut argv = vec!["rbd", "--cluster", &self.spec.cluster];
        argv.extend_from_slice(args);
        self.run(&argv)
    }

    /// `ceph -s --format json`, parsed.
    pub fn status(&self) -> Result<CephStatus, LabError> {
        let text = self.ceph(&["-s", "--format", "json"])?;
        CephStatus::parse(&text).map_err(|e| LabError::io(format!("parsing `ceph --cluster {} -s --format json`", self.spec.cluster), std::io::Error::other(e)))
    }

    /// Starts `rbd-mirror` as `client.rbd-mirror.<id>` (keyring
    /// `/etc/ceph/<cluster>.client.rbd-mirror.<id>.keyring`, created once) and waits
    /// until it has registered in the cluster's service map. Returns its PID; an
    /// rbd-mirror of that id that already runs is left alone.
    ///
    /// It finds `/etc/ceph/<cluster>.conf` by `--cluster`, which its per-pool
    /// connections need (G12). Its log is `/var/log/ceph/<cluster>-client.rbd-mirror.<id>.log`.
    pub fn start_rbd_mirror(&self, id: &str) -> Result<u32, LabError> {
        if !is_name(id, 64) {
            return Err(LabError::Config(format!("rbd-mirror id {id:?}: use letters, digits, '-' or '_'")));
        }
        let name = format!("rbd-mirror.{id}");
        if let Some(d) = self.locked().iter().find(|d| d.name == name && d.is_running()) {
            return Ok(d.pid);
        }
        let entity = format!("client.{name}");
        let keyring = self.layout.client_keyring(&entity);
        self.ceph(&["auth", "get-or-create", &entity, "mon", "profile rbd-mirror", "osd", "profile rbd", "-o", &keyring])?;
        let pid = self.spawn(&name, &["rbd-mirror", "--cluster", &self.spec.cluster, "--id", &name, "-f"])?;
        self.wait_until(&format!("{name} registering in the service map"), || {
            let Some(text) = self.probe(&["service", "dump", "--format", "json"])? else {
                return Ok(None);
            };
            Ok(rbd_mirror_registered(&text, id).then_some(()))
        })?;
        self.check_listeners()?;
        Ok(pid)
    }

    /// Stops the rbd-mirror started as `id` (TERM, KILL after 10 s). Its keyring
    /// stays, so it can be started again. Not running: nothing to do.
    pub fn stop_rbd_mirror(&self, id: &str) -> Result<(), LabError> {
        let name = format!("rbd-mirror.{id}");
        let stopping: Vec<Daemon> = {
            let mut daemons = self.locked();
            let (gone, keep): (Vec<Daemon>, Vec<Daemon>) = daemons.drain(..).partition(|d| d.name == name);
            *daemons = keep;
            gone
        };
        let problems = daemon::stop(&stopping, STOP_GRACE);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LabError::Teardown(problems))
        }
    }

    /// Every daemon the cluster started and has not stopped, in start order.
    pub fn pids(&self) -> Vec<DaemonPid> {
        self.locked().iter().map(|d| DaemonPid { name: d.name.clone(), pid: d.pid }).collect()
    }

    /// The TCP addresses each running daemon listens on, read from /proc.
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        let daemons = self.locked().clone();
        daemons.iter().filter(|d| d.is_running()).flat_map(|d| sockets::listening(d.pid).into_iter().map(|a| (d.name.clone(), a))).collect()
    }

    /// Stops every daemon (rbd-mirror, OSD and mgr together, then the mon; TERM,
    /// KILL after 10 s) and removes the cluster's conf, keyrings and data from the
    /// host. Its logs stay in the host's `/var/log/ceph` until the lab goes.
    pub fn down(mut self) -> Result<(), LabError> {
        self.shutdown()
    }

    /// Leaves the daemons running when this value goes (for a lab that outlives
    /// the command that built it); the lab's own teardown ends them later, as it
    /// ends every process in its namespaces. Returns them.
    pub fn persist(mut self) -> Vec<DaemonPid> {
        self.finished = true;
        self.pids()
    }

    fn shutdown(&mut self) -> Result<(), LabError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let daemons = std::mem::take(&mut *self.locked());
        let mon = format!("mon.{MON_ID}");
        // The mon last: the others report to it while they shut down.
        let (mons, others): (Vec<Daemon>, Vec<Daemon>) = daemons.into_iter().partition(|d| d.name == mon);
        let mut problems = daemon::stop(&others, STOP_GRACE);
        problems.extend(daemon::stop(&mons, STOP_GRACE));
        let mut rm = vec!["rm", "-rf", "--"];
        let paths = self.layout.removable();
        rm.extend(paths.iter().map(String::as_str));
        if let Err(e) = self.run(&rm).and_then(|_| remove_conf_files(&self.lab, &self.spec.host, &self.layout)) {
            problems.push(e.to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LabError::Teardown(problems))
        }
    }

    fn locked(&self) -> MutexGuard<'_, Vec<Daemon>> {
        // A panicking test must not keep the daemons from being stopped.
        self.daemons.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn run(&self, argv: &[&str]) -> Result<String, LabError> {
        run_in(&self.lab, &self.spec.host, argv)
    }

    fn write_file(&self, path: &str, text: &str) -> Result<(), LabError> {
        self.run(&["sh", "-c", WRITE, "ferry-lab-ceph", path, text]).map(drop)
    }

    /// Starts a daemon in the host and records it; its stdout and stderr go to
    /// `/var/log/ceph/<cluster>-<name>.stdout`.
    fn spawn(&self, name: &str, argv: &[&str]) -> Result<u32, LabError> {
        let out = self.layout.stdout_log(name);
        let d = Daemon::spawn(&self.lab, &self.spec.host, self.netns, name, &out, argv)?;
        let pid = d.pid;
        self.locked().push(d);
        Ok(pid)
    }

    /// One poll: `ceph ARGS` with a short connect timeout; `None` when it fails.
    fn probe(&self, args: &[&str]) -> Result<Option<String>, LabError> {
        let mut argv = vec!["ceph", "--cluster", &self.spec.cluster, "--connect-timeout", POLL_CONNECT_TIMEOUT];
        argv.extend_from_slice(args);
        let out = self.lab.exec(&self.spec.host, &argv)?;
        Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// Polls `probe` until it gives a value; fails early when a daemon died, and
    /// after [`READY_TIMEOUT`] with the last error seen.
    fn wait_until<T>(&self, what: &str, mut probe: impl FnMut() -> Result<Option<T>, LabError>) -> Result<T, LabError> {
        let what = format!("{what} (Ceph cluster {} on {})", self.spec.cluster, self.spec.host);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::new();
        loop {
            let dead = self.locked().iter().find(|d| !d.is_running()).cloned();
            if let Some(d) = dead {
                let log = self.layout.log(&log_name(&d.name));
                let tail = self.lab.exec(&self.spec.host, &["tail", "-n", "4", &d.stdout, &log]).map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
                return Err(LabError::Command {
                    command: format!("{} of Ceph cluster {} on {} (PID {})", d.name, self.spec.cluster, self.spec.host, d.pid),
                    status: format!("exited while waiting for {what}"),
                    stderr: last_lines(&tail.unwrap_or_default(), 10),
                });
            }
            match probe() {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout { what, secs: READY_TIMEOUT.as_secs(), detail: last });
            }
            thread::sleep(POLL);
        }
    }

    /// Refuses a cluster with any daemon listening anywhere but `spec.addr`.
    fn check_listeners(&self) -> Result<(), LabError> {
        let stray: Vec<String> = self.listeners().into_iter().filter(|(_, a)| a.ip() != self.spec.addr).map(|(n, a)| format!("{n} on {a}")).collect();
        if stray.is_empty() {
            return Ok(());
        }
        Err(LabError::Config(format!(
            "Ceph cluster {} on {}: daemons listen outside {} ({}); check the conf",
            self.spec.cluster,
            self.spec.host,
            self.spec.addr,
            stray.join(", ")
        )))
    }
}

impl<L: HostExec> Drop for CephCluster<L> {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("ferry lab: Ceph cluster {} on {}: {e}", self.spec.cluster, self.spec.host);
        }
    }
}

/// The log name of a daemon: rbd-mirror runs as `client.rbd-mirror.<id>`.
fn log_name(daemon: &str) -> String {
    if daemon.starts_with("rbd-mirror.") {
        format!("client.{daemon}")
    } else {
        daemon.to_string()
    }
}

/// The inode of `host`'s network namespace; an error when it is the caller's own.
fn host_netns(lab: &dyn HostExec, host: &str) -> Result<u64, LabError> {
    let inode = |link: &str| link.trim().strip_prefix("net:[")?.strip_suffix(']')?.parse::<u64>().ok();
    let theirs = run_in(lab, host, &["readlink", "/proc/self/ns/net"])?;
    let ours = fs::read_link("/proc/self/ns/net").map_err(|e| LabError::io("reading /proc/self/ns/net", e))?;
    match (inode(&theirs), inode(&ours.to_string_lossy())) {
        (Some(t), Some(o)) if t != o => Ok(t),
        (Some(_), Some(_)) => {
            Err(LabError::Config(format!("host {host} shares this machine's network namespace: Ceph daemons run only inside lab namespaces")))
        }
        _ => Err(LabError::io(format!("reading the network namespace of {host}"), std::io::Error::other(theirs.trim().to_string()))),
    }
}

/// Removes `/etc/ceph/<cluster>.conf` and `/etc/ceph/<cluster>.client.*.keyring`
/// (files or symlinks) inside `host`.
fn remove_conf_files(lab: &dyn HostExec, host: &str, layout: &Layout) -> Result<(), LabError> {
    let (conf, keyrings) = (layout.conf(), layout.client_keyring("client.*"));
    let name = |path: &str| path.rsplit('/').next().unwrap_or_default().to_string();
    let (conf, keyrings) = (name(&conf), name(&keyrings));
    run_in(lab, host, &["find", "/etc/ceph", "-maxdepth", "1", "(", "-name", &conf, "-o", "-name", &keyrings, ")", "-delete"])?;
    Ok(())
}

/// A random UUID from the kernel.
fn new_uuid() -> Result<String, LabError> {
    let path = "/proc/sys/kernel/random/uuid";
    fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|e| LabError::io(format!("reading {path}"), e))
}

/// Whether `ceph service dump --format json` lists the rbd-mirror daemon
/// `client.rbd-mirror.<id>` (it registers with `rbd-mirror.` cut off its id).
fn rbd_mirror_registered(dump: &str, id: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(dump) else {
        return false;
    };
    let Some(daemons) = v.pointer("/services/rbd-mirror/daemons").and_then(|d| d.as_object()) else {
        return false;
    };
    daemons.values().any(|d| d.pointer("/metadata/id").and_then(|i| i.as_str()) == Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ceph service dump --format json` of a cluster running
    /// `rbd-mirror --id rbd-mirror.site-b` (captured here; metadata trimmed).
    const SERVICE_DUMP: &str = r#"{"epoch":3,"modified":"2026-11-25T22:48:18.760345+0000","services":{"rbd-mirror":{"daemons":{"summary":"","4125":{"start_epoch":2,"start_stamp":"2026-11-25T22:47:19.755406+0000","gid":4125,"addr":"127.0.2.1:0/3587434366","metadata":{"arch":"x86_64","ceph_release":"pacific","ceph_version_short":"16.2.15","hostname":"vm","id":"site-b","instance_id":"4125"},"task_status":{}}}}}}"#;

    #[test]
    fn rbd_mirror_registers_under_its_id_without_the_prefix() {
        assert!(rbd_mirror_registered(SERVICE_DUMP, "site-b"));
        assert!(!rbd_mirror_registered(SERVICE_DUMP, "site-a"));
        assert!(!rbd_mirror_registered(r#"{"epoch":1,"services":{}}"#, "site-b"));
        assert!(!rbd_mirror_registered("not json", "site-b"));
    }

    #[test]
    fn rbd_mirror_logs_as_a_client() {
        assert_eq!(log_name("rbd-mirror.b1"), "client.rbd-mirror.b1");
        assert_eq!(log_name("mon.a"), "mon.a");
    }
}
