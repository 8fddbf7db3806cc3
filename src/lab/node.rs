//! One lab host at runtime: its private files, the keeper process that holds its
//! namespaces, and its sshd.
//!
//! Each host's view of the machine is made by a "keeper": `ip netns exec NS unshare
//! --uts --mount sh -c SCRIPT`, which configures the host's interfaces, mounts the
//! host's own `/etc` (an overlay over the machine's, writes go to the host's dir),
//! `/root`, `/run` and `/tmp` (bind mounts of the host's dirs), sets the hostname and
//! then sleeps. sshd, and `SshLab::exec`, enter the keeper's namespaces with
//! `nsenter`, so they see exactly what an SSH session sees, and sshd can be stopped
//! and started again without losing the host's state.

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::{describe, LabError};
use super::process::{new_session, run, stop_all, Proc, PATH};
use super::LabHost;

/// How long one host may take to mount its view or to start sshd.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// sshd's config inside the host (in the host's /etc overlay).
const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// sshd's PidFile inside the host; outside it is `<host dir>/run/sshd.pid`.
const SSHD_PIDFILE: &str = "sshd.pid";

/// The keeper's script. Arguments: $1 `ip -batch` file, $2 host dir, $3 hostname,
/// $4 the caller's mount namespace.
///
/// `$2/sysctl.lines` (`net/ipv4/conf/all/arp_ignore 1` per line) is written to
/// /proc/sys from inside the host's network namespace, where every `net/` key
/// belongs to that namespace alone. With `$2/sbin`, the host's /usr/local/sbin is
/// an overlay too (the lab's stand-in tools over the machine's).
const KEEPER_SCRIPT: &str = r#"set -eu
# The mounts below cover /etc, /root, /run and /tmp. Refuse unless this really is a
# new mount namespace: on the machine's own they would hide its files.
[ "$(readlink /proc/self/ns/mnt)" != "$4" ] || { echo "not in a private mount namespace" >&2; exit 1; }
ip -batch "$1"
if [ -s "$2/sysctl.lines" ]; then
  while read -r key value; do printf '%s\n' "$value" > "/proc/sys/$key"; done < "$2/sysctl.lines"
fi
mount -t overlay ferry-lab-etc -o "lowerdir=/etc,upperdir=$2/etc,workdir=$2/etc-work" /etc
if [ -d "$2/sbin" ]; then
  mount -t overlay ferry-lab-sbin -o "lowerdir=/usr/local/sbin,upperdir=$2/sbin,workdir=$2/sbin-work" /usr/local/sbin
fi
mount --bind "$2/root" /root
mount --bind "$2/run" /run
mount --bind "$2/tmp" /tmp
hostname "$3"
echo ready
exec sleep infinity >/dev/null
"#;

/// One host of the lab.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) host: LabHost,
    /// `<lab dir>/hosts/<name>`: the sources of the host's private mounts.
    pub(crate) dir: PathBuf,
    /// Interface setup run inside the namespace (`ip -batch` lines).
    pub(crate) net_batch: Vec<String>,
    /// Namespace-local sysctls (`net.ipv4.conf.all.arp_ignore`, `1`) set before sshd starts.
    pub(crate) sysctls: Vec<(String, String)>,
    /// Programs copied into the host's private /usr/local/sbin (stand-ins).
    pub(crate) tools: Vec<PathBuf>,
    pub(crate) keeper: Mutex<Option<Proc>>,
    pub(crate) sshd: Mutex<Option<Proc>>,
    /// The host's public key line (`ssh-ed25519 AAAA...`), once generated.
    pub(crate) host_key: Mutex<String>,
}

/// Locks `m`, recovering the data if a panicking thread poisoned it: the lab must
/// still be able to tear down after a test panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Node {
    pub(crate) fn new(host: LabHost, dir: PathBuf, net_batch: Vec<String>) -> Node {
        Node {
            host,
            dir,
            net_batch,
            sysctls: Vec::new(),
            tools: Vec::new(),
            keeper: Mutex::new(None),
            sshd: Mutex::new(None),
            host_key: Mutex::new(String::new()),
        }
    }

    /// Sets these sysctls inside the host. Only `net.` keys: they are per network
    /// namespace, so the machine's own values stay untouched.
    pub(crate) fn with_sysctls(mut self, sysctls: &[(&str, &str)]) -> Result<Node, LabError> {
        for (key, value) in sysctls {
            let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !key.starts_with("net.") || !plain(key) || !plain(value) {
                return Err(LabError::Config(format!("lab sysctl {key}={value}: only net.* keys with plain values are per host")));
            }
            self.sysctls.push((key.to_string(), value.to_string()));
        }
        Ok(self)
    }

    /// Copies these programs into the host's private /usr/local/sbin.
    pub(crate) fn with_tools(mut self, tools: &[PathBuf]) -> Node {
        self.tools = tools.to_vec();
        self
    }

    fn etc(&self) -> PathBuf {
        self.dir.join("etc")
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.join("run").join(SSHD_PIDFILE)
    }

    /// Writes the host's private tree: /etc overlay upper dir (sshd config, host key,
    /// hostname, empty /etc/ceph and /etc/ferrylab), a root home with Debian's stock
    /// dot files and the client's key, /run with sshd's privilege-separation dir, and
    /// an empty /tmp.
    pub(crate) fn prepare(&self, authorized_key: &str) -> Result<(), LabError> {
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir).map_err(|e| LabError::path("removing", &self.dir, e))?;
        }
        let etc = self.etc();
        for (sub, mode) in [
            ("etc/ssh", 0o755),
            ("etc/ceph", 0o755),
            ("etc/ferrylab", 0o755),
            ("etc-work", 0o700),
            ("root", 0o700),
            ("root/.ssh", 0o700),
            ("run", 0o755),
            ("run/sshd", 0o755),
            ("run/lock", 0o1777),
            ("tmp", 0o1777),
        ] {
            let path = self.dir.join(sub);
            fs::create_dir_all(&path).map_err(|e| LabError::path("creating", &path, e))?;
            set_mode(&path, mode)?;
        }
        // The upper dir's own mode becomes /etc's mode inside the host.
        set_mode(&etc, 0o755)?;

        let root = self.dir.join("root");
        for (src, dst) in [("/usr/share/base-files/dot.bashrc", ".bashrc"), ("/usr/share/base-files/dot.profile", ".profile")] {
            let dst = root.join(dst);
            // Debian's stock files, like a fresh install; elsewhere an empty file still
            // keeps the controller's own dot files (pyenv init) out of every command.
            let text = fs::read(src).unwrap_or_default();
            write_file(&dst, &text, 0o644)?;
        }
        write_file(&root.join(".ssh/authorized_keys"), authorized_key.as_bytes(), 0o600)?;

        let name = &self.host.name;
        write_file(&etc.join("hostname"), format!("{name}\n").as_bytes(), 0o644)?;
        let mut hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
        hosts.push_str(&format!("{}\t{name}\n", self.host.ip));
        write_file(&etc.join("hosts"), hosts.as_bytes(), 0o644)?;
        write_file(&etc.join("ssh/sshd_config"), sshd_config(name).as_bytes(), 0o644)?;
        let key = etc.join("ssh/ssh_host_ed25519_key");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("{name}-host-key"))
            .arg("-f")
            .arg(&key)
            .env_clear()
            .env("PATH", PATH))?;
        let public = key.with_extension("pub");
        let text = fs::read_to_string(&public).map_err(|e| LabError::path("reading", &public, e))?;
        *lock(&self.host_key) = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");

        // `ufw enable` applies /etc/ufw/sysctl.conf; the host's copy is empty so that
        // enabling a host's firewall sets nothing at all.
        fs::create_dir_all(etc.join("ufw")).map_err(|e| LabError::path("creating", &etc.join("ufw"), e))?;
        set_mode(&etc.join("ufw"), 0o755)?;
        write_file(&etc.join("ufw/sysctl.conf"), b"# ferry lab: empty, so ufw sets no sysctl\n", 0o644)?;

        let mut batch = self.net_batch.join("\n");
        batch.push('\n');
        write_file(&self.dir.join("net.batch"), batch.as_bytes(), 0o644)?;
        let lines: String = self.sysctls.iter().map(|(k, v)| format!("{} {v}\n", k.replace('.', "/"))).collect();
        write_file(&self.dir.join("sysctl.lines"), lines.as_bytes(), 0o644)?;
        if !self.tools.is_empty() {
            if !Path::new("/usr/local/sbin").is_dir() {
                return Err(LabError::Prerequisite("stand-in tools go into each host's /usr/local/sbin, which this machine lacks".into()));
            }
            for sub in ["sbin", "sbin-work"] {
                let path = self.dir.join(sub);
                fs::create_dir_all(&path).map_err(|e| LabError::path("creating", &path, e))?;
                set_mode(&path, 0o755)?;
            }
            for tool in &self.tools {
                let name = tool.file_name().ok_or_else(|| LabError::Config(format!("tool {} has no file name", tool.display())))?;
                let text = fs::read(tool).map_err(|e| LabError::path("reading", tool, e))?;
                write_file(&self.dir.join("sbin").join(name), &text, 0o755)?;
            }
        }
        Ok(())
    }

    /// Starts the keeper and waits until the host's view is mounted.
    pub(crate) fn start_keeper(&self) -> Result<(), LabError> {
        let own_mnt = fs::read_link("/proc/self/ns/mnt").map_err(|e| LabError::path("reading", Path::new("/proc/self/ns/mnt"), e))?;
        let log = self.dir.join("keeper.log");
        let log_file = fs::File::create(&log).map_err(|e| LabError::path("creating", &log, e))?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.host.netns])
            .args(["unshare", "--uts", "--mount", "--propagation", "private"])
            .args(["/bin/sh", "-c", KEEPER_SCRIPT, "ferry-lab-keeper"])
            .arg(self.dir.join("net.batch"))
            .arg(&self.dir)
            .arg(&self.host.name)
            .arg(own_mnt)
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        new_session(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| LabError::io(format!("cannot run `{}`", describe(&cmd)), e))?;
        let stdout = child.stdout.take();
        // Recorded before waiting, so a failure below still ends it.
        *lock(&self.keeper) = Some(Proc::child(child));
        let said = match stdout {
            Some(out) => read_until_eof(out, READY_TIMEOUT),
            None => Ok(String::new()),
        };
        match said {
            Ok(text) if text.trim() == "ready" => Ok(()),
            Ok(_) => Err(LabError::Command {
                command: format!("{} (keeper of {})", describe(&cmd), self.host.name),
                status: "exited before its view was ready".into(),
                stderr: tail(&log),
            }),
            Err(()) => {
                Err(LabError::Timeout { what: format!("mounting the private view of {}", self.host.name), secs: READY_TIMEOUT.as_secs(), detail: tail(&log) })
            }
        }
    }

    /// The keeper's PID, if it is running.
    pub(crate) fn keeper_pid(&self) -> Result<u32, LabError> {
        let mut guard = lock(&self.keeper);
        let running = guard.as_mut().and_then(|p| (!p.exited()).then_some(p.pid));
        match running {
            Some(pid) => Ok(pid),
            None => {
                Err(LabError::InUse(format!("host {}: its namespace keeper is not running (see {})", self.host.name, self.dir.join("keeper.log").display())))
            }
        }
    }

    /// `nsenter` into the host's network, mount and UTS namespaces.
    fn enter(&self) -> Result<Command, LabError> {
        let pid = self.keeper_pid()?;
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(pid.to_string())
            .args(["-n", "-m", "-u", "--"])
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", "/root")
            .env("USER", "root")
            .env("LOGNAME", "root")
            .env("LANG", "C.UTF-8");
        Ok(cmd)
    }

    /// Runs `argv` inside the host; a non-zero exit is returned, not an error.
    pub(crate) fn exec(&self, argv: &[&str]) -> Result<Output, LabError> {
        if argv.is_empty() {
            return Err(LabError::Config("exec needs a command".into()));
        }
        let mut cmd = self.enter()?;
        cmd.args(argv).stdin(Stdio::null());
        cmd.output().map_err(|e| LabError::io(format!("cannot run `{}`", describe(&cmd)), e))
    }

    /// Starts sshd inside the host (no wait; see [`Node::wait_sshd`]). A running
    /// sshd is left alone.
    pub(crate) fn spawn_sshd(&self) -> Result<(), LabError> {
        let mut guard = lock(&self.sshd);
        if let Some(p) = guard.as_mut() {
            if !p.exited() {
                return Ok(());
            }
        }
        let pidfile = self.pidfile();
        if let Err(e) = fs::remove_file(&pidfile) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(LabError::path("removing", &pidfile, e));
            }
        }
        let log = self.dir.join("sshd.stderr");
        let log_file = fs::File::create(&log).map_err(|e| LabError::path("creating", &log, e))?;
        let mut cmd = self.enter()?;
        cmd.args(["/usr/sbin/sshd", "-D", "-f", SSHD_CONFIG, "-E", "/run/sshd.log"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file);
        new_session(&mut cmd);
        let child = cmd.spawn().map_err(|e| LabError::io(format!("cannot run `{}`", describe(&cmd)), e))?;
        *guard = Some(Proc::child(child));
        Ok(())
    }

    /// `Ok(true)` once sshd wrote its PidFile (it does so after binding its socket),
    /// `Ok(false)` while it is still starting; an error when it died.
    pub(crate) fn sshd_ready(&self) -> Result<bool, LabError> {
        let mut guard = lock(&self.sshd);
        let Some(p) = guard.as_mut() else {
            return Err(LabError::InUse(format!("host {}: sshd was not started", self.host.name)));
        };
        if p.exited() {
            return Err(LabError::Command {
                command: format!("sshd of {}", self.host.name),
                status: "exited while starting".into(),
                stderr: format!("{} {}", tail(&self.dir.join("sshd.stderr")), tail(&self.dir.join("run/sshd.log"))),
            });
        }
        match fs::read_to_string(self.pidfile()) {
            // sshd may have created the file but not yet written it.
            Ok(text) if text.ends_with('\n') => {
                if text.trim() == p.pid.to_string() {
                    Ok(true)
                } else {
                    Err(LabError::InUse(format!("host {}: sshd PidFile says {} but the lab started PID {}", self.host.name, text.trim(), p.pid)))
                }
            }
            _ => Ok(false),
        }
    }

    pub(crate) fn sshd_timeout(&self) -> LabError {
        LabError::Timeout {
            what: format!("sshd of {} writing its PidFile", self.host.name),
            secs: READY_TIMEOUT.as_secs(),
            detail: tail(&self.dir.join("run/sshd.log")),
        }
    }

    /// Waits for this host's sshd alone.
    pub(crate) fn wait_sshd(&self) -> Result<(), LabError> {
        wait_all_sshd(std::slice::from_ref(self))
    }

    /// Stops sshd (by its recorded PID) and waits until it is gone.
    pub(crate) fn stop_sshd(&self) -> Result<(), LabError> {
        let taken = lock(&self.sshd).take();
        if let Some(p) = taken {
            let problems = stop_all(vec![p], Duration::from_secs(5));
            if !problems.is_empty() {
                return Err(LabError::Teardown(problems));
            }
        }
        let _ = fs::remove_file(self.pidfile());
        // A connection's child forked just before the listener died still holds the
        // listening socket until it closes it: only when no socket listens on port 22
        // is the host really unreachable.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.listening_on_ssh_port() {
            if Instant::now() >= deadline {
                return Err(LabError::Timeout { what: format!("port 22 of {} closing after sshd stopped", self.host.name), secs: 5, detail: String::new() });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Whether a TCP socket listens on port 22 in the host's namespace (read from
    /// the keeper's view of /proc/net/tcp, no process started).
    fn listening_on_ssh_port(&self) -> bool {
        let Ok(pid) = self.keeper_pid() else {
            return false;
        };
        ["tcp", "tcp6"].iter().any(|t| {
            fs::read_to_string(format!("/proc/{pid}/net/{t}")).unwrap_or_default().lines().skip(1).any(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                // local_address is HEXIP:HEXPORT; state 0A is LISTEN.
                f.len() > 3 && f[1].ends_with(":0016") && f[3] == "0A"
            })
        })
    }

    /// Generates a new host key inside the host, then restarts sshd with it.
    pub(crate) fn regenerate_host_key(&self) -> Result<(), LabError> {
        let key = "/etc/ssh/ssh_host_ed25519_key";
        let pubkey = "/etc/ssh/ssh_host_ed25519_key.pub";
        for argv in [vec!["rm", "-f", key, pubkey], vec!["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "regenerated", "-f", key]] {
            let out = self.exec(&argv)?;
            if !out.status.success() {
                let mut cmd = Command::new(argv[0]);
                cmd.args(&argv[1..]);
                return Err(LabError::command(&cmd, &out));
            }
        }
        let out = self.exec(&["cat", pubkey])?;
        *lock(&self.host_key) = String::from_utf8_lossy(&out.stdout).split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        self.stop_sshd()?;
        self.spawn_sshd()?;
        self.wait_sshd()
    }

    /// Hands out the processes for teardown.
    pub(crate) fn take_procs(&self) -> Vec<Proc> {
        let mut procs = Vec::new();
        procs.extend(lock(&self.sshd).take());
        procs.extend(lock(&self.keeper).take());
        procs
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        pids.extend(lock(&self.sshd).as_ref().map(|p| p.pid));
        pids.extend(lock(&self.keeper).as_ref().map(|p| p.pid));
        pids
    }
}

/// Waits until every node's sshd wrote its PidFile. One loop for all hosts: polling
/// files is the only readiness signal sshd gives without systemd.
pub(crate) fn wait_all_sshd(nodes: &[Node]) -> Result<(), LabError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut pending: Vec<&Node> = nodes.iter().collect();
    loop {
        let mut still = Vec::new();
        for node in pending {
            if !node.sshd_ready()? {
                still.push(node);
            }
        }
        pending = still;
        match pending.first() {
            None => return Ok(()),
            Some(node) if Instant::now() >= deadline => return Err(node.sshd_timeout()),
            Some(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The sshd_config of every lab host: key-only root login, no PAM, no DNS, limits
/// raised so a controller with many forks and channels is not throttled.
fn sshd_config(name: &str) -> String {
    format!(
        "# ferry lab host {name}\n\
         ListenAddress 0.0.0.0:22\n\
         HostKey /etc/ssh/ssh_host_ed25519_key\n\
         PidFile /run/{SSHD_PIDFILE}\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         UseDNS no\n\
         X11Forwarding no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         AllowTcpForwarding yes\n\
         MaxStartups 200:30:400\n\
         MaxSessions 100\n\
         LogLevel INFO\n\
         AcceptEnv LANG LC_*\n\
         Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )
}

fn set_mode(path: &Path, mode: u32) -> Result<(), LabError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| LabError::path("setting the mode of", path, e))
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), LabError> {
    fs::write(path, bytes).map_err(|e| LabError::path("writing", path, e))?;
    set_mode(path, mode)
}

/// The last lines of a log file, for error messages.
pub(crate) fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(5);
    let joined = lines[start..].join(" | ");
    if joined.is_empty() {
        format!("({} is empty)", path.display())
    } else {
        format!("{joined} (from {})", path.display())
    }
}

/// Reads `out` to EOF, giving up after `limit`. `Err(())` on timeout.
fn read_until_eof(mut out: ChildStdout, limit: Duration) -> Result<String, ()> {
    let deadline = Instant::now() + limit;
    let mut text = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(());
        }
        let mut pfd = libc::pollfd { fd: out.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd for a descriptor `out` owns, for the call only.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(());
        }
        if rc == 0 {
            continue;
        }
        match out.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&text).into_owned()),
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(String::from_utf8_lossy(&text).into_owned()),
        }
    }
}
