//! The SSH transport (russh) against real OpenSSH servers from the project's lab:
//! commands, stdin, exit codes and signals, output caps, timeouts, dead links, host
//! key checking, authentication (key files, passphrases, ssh-agent, RSA and ECDSA),
//! ssh_config and ProxyJump, and servers that refuse, are not SSH, or stay silent.
//!
//! Each test brings up its own small lab (`common::Lab`: a name and subnet no other
//! running test holds; torn down on drop, also when a check panics). These tests
//! need root and /usr/sbin/sshd: without them they FAIL, they never skip.

mod common;

use std::future::Future;
use std::net::Ipv4Addr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry::transport::command::{CommandOutput, RemoteCommand, OUTPUT_CAP};
use ferry::transport::ssh::{HostKeyChecking, SshConnection, SshOptions, SshTarget};
use ferry::transport::TransportError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::*;

const MINUTE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Runs `f` on a fresh multi-threaded runtime (what ferry itself uses).
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime").block_on(f)
}

/// `host` by address, as root with the lab key: what an inventory entry gives.
fn target(lab: &Lab, host: &str) -> SshTarget {
    let ip = lab.ip(host).to_string();
    SshTarget {
        name: host.into(),
        alias: ip.clone(),
        host: Some(ip),
        port: None,
        user: Some("root".into()),
        identity_files: vec![lab.ssh().client_key()],
        proxy_jump: None,
    }
}

/// Strict checking against the lab's known_hosts, no agent, and an empty ssh
/// config: the machine's own ~/.ssh/config and agent must not change the test.
fn options(lab: &Lab) -> SshOptions {
    let empty = lab.dir().join("empty_ssh_config");
    if !empty.exists() {
        std::fs::write(&empty, "").expect("writing an empty ssh config");
    }
    SshOptions {
        known_hosts: Some(lab.ssh().known_hosts()),
        host_key_checking: HostKeyChecking::Strict,
        ssh_config: Some(empty),
        connect_timeout: Duration::from_secs(5),
        use_agent: false,
        keepalive: Duration::from_secs(15),
    }
}

async fn connect(target: &SshTarget, opts: &SshOptions) -> SshConnection {
    SshConnection::connect(target, opts).await.unwrap_or_else(|e| panic!("connect to {}: {e}", target.name))
}

async fn connect_err(target: &SshTarget, opts: &SshOptions) -> TransportError {
    match SshConnection::connect(target, opts).await {
        Ok(_) => panic!("connecting to {} should have failed", target.name),
        Err(e) => e,
    }
}

async fn run(conn: &SshConnection, cmd: RemoteCommand) -> CommandOutput {
    conn.run(&cmd, MINUTE).await.unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

async fn hostname(conn: &SshConnection) -> String {
    run(conn, RemoteCommand::argv(["hostname"])).await.stdout
}

fn sh(script: &str) -> RemoteCommand {
    RemoteCommand::script(script)
}

/// A path in the test's dir, with nothing there yet.
fn scratch(lab: &Lab, name: &str) -> PathBuf {
    let p = lab.dir().join("scratch").join(name);
    let _ = std::fs::remove_file(&p);
    std::fs::create_dir_all(p.parent().expect("scratch has a parent")).expect("creating the scratch dir");
    p
}

/// `ssh-keygen -t KIND -b BITS -N PASSPHRASE -f PATH`.
fn keygen(path: &Path, kind: &str, bits: Option<&str>, passphrase: &str) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind]);
    if let Some(bits) = bits {
        cmd.args(["-b", bits]);
    }
    cmd.args(["-N", passphrase, "-C", "ferry-transport-test", "-f"]).arg(path).stdin(Stdio::null());
    let out = cmd.output().expect("running ssh-keygen");
    assert!(out.status.success(), "ssh-keygen -t {kind} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The host's key (`type base64`) as the lab's known_hosts (`ip,name key`) records it.
fn host_key(lab: &Lab, host: &str) -> String {
    let known = std::fs::read_to_string(lab.ssh().known_hosts()).expect("reading the lab's known_hosts");
    let prefix = format!("{},{host} ", lab.ip(host));
    let line = known.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{host} is not in the lab's known_hosts:\n{known}"));
    line.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
}

/// Sets the host's sshd `MaxSessions` (the lab raises it to 100; OpenSSH's
/// default is 10) and restarts its sshd.
fn set_max_sessions(lab: &Lab, host: &str, n: u32) {
    lab.sh(host, &format!("sed -i 's/^MaxSessions .*/MaxSessions {n}/' /etc/ssh/sshd_config && grep -qx 'MaxSessions {n}' /etc/ssh/sshd_config"));
    lab.ssh().stop_sshd(host).unwrap_or_else(|e| panic!("stopping sshd on {host}: {e}"));
    lab.ssh().start_sshd(host).unwrap_or_else(|e| panic!("starting sshd on {host}: {e}"));
}

/// The root-namespace end of the host's cable (`NAME-vNN`, see `SshLabConfig::name`).
fn veth(lab: &Lab, host: &str) -> String {
    let index = lab.hosts().iter().position(|h| h == host).unwrap_or_else(|| panic!("{host} is not a bridge host")) + 1;
    format!("{}-v{index:02}", lab.ssh().name())
}

/// `ip link set DEV up|down` on a link the lab created.
fn set_link(dev: &str, state: &str) {
    let out = Command::new("ip").args(["link", "set", dev, state]).output().expect("running ip");
    assert!(out.status.success(), "ip link set {dev} {state}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Established TCP connections to port 22 in the host's network namespace (its
/// own /proc/net/tcp, read without SSH).
fn ssh_connections_to(lab: &Lab, host: &str) -> usize {
    let tcp = lab.sh(host, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true");
    tcp.lines()
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT (22 = 0016); state 01 is ESTABLISHED.
            f.len() > 3 && f[1].ends_with(":0016") && f[3] == "01"
        })
        .count()
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

#[test]
fn commands_stdin_exit_codes_signals_and_output_caps() {
    let lab = Lab::start("cmd", 1);
    // OpenSSH's default, as on a real server: 25 concurrent commands exceed it.
    set_max_sessions(&lab, "node01", 10);
    let (t, opts) = (target(&lab, "node01"), options(&lab));
    block_on(async {
        let conn = connect(&t, &opts).await;

        let out = run(&conn, RemoteCommand::argv(["hostname"])).await;
        assert_eq!((out.rc, out.stdout.as_str(), out.truncated), (0, "node01\n", false));

        // stdin round trip, big enough to need many window adjustments both ways
        let input: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
        let out = run(&conn, RemoteCommand::argv(["cat"]).with_stdin(input.clone())).await;
        assert_eq!(out.stdout.len(), input.len());
        assert!(out.stdout == input, "stdin came back changed");
        // a command that exits without reading its stdin is fine
        let out = run(&conn, RemoteCommand::argv(["true"]).with_stdin(vec![b'x'; 4 << 20])).await;
        assert_eq!(out.rc, 0);
        // no stdin: the command sees EOF at once instead of hanging
        assert_eq!(run(&conn, RemoteCommand::argv(["wc", "-c"])).await.stdout.trim(), "0");

        // exit code, stdout and stderr apart
        let out = run(&conn, sh("echo out; echo err >&2; exit 7")).await;
        assert_eq!((out.rc, out.stdout.as_str(), out.stderr.as_str(), out.signal), (7, "out\n", "err\n", None));

        // death by signal
        let out = run(&conn, sh("kill -KILL $$")).await;
        assert_eq!((out.rc, out.signal.as_deref()), (-1, Some("SIGKILL")));

        // working dir and environment, quoted
        let mut cmd = RemoteCommand::argv(["sh", "-c", "pwd; echo \"$GREETING\""]).in_dir("/tmp");
        cmd.env.push(("GREETING".into(), "it's a b".into()));
        assert_eq!(run(&conn, cmd).await.stdout, "/tmp\nit's a b\n");

        // output cap: 20 MB of zeros keeps OUTPUT_CAP, is flagged, and the rest is drained
        let started = Instant::now();
        let out = run(&conn, RemoteCommand::argv(["head", "-c", "20000000", "/dev/zero"])).await;
        assert_eq!((out.rc, out.stdout.len(), out.truncated), (0, OUTPUT_CAP, true));
        eprintln!("20 MB of output read in {:?}", started.elapsed());
        // stderr is capped separately
        let out = run(&conn, sh("head -c 17000000 /dev/zero >&2; echo fine")).await;
        assert_eq!((out.stderr.len(), out.stdout.as_str(), out.truncated), (OUTPUT_CAP, "fine\n", true));

        // more concurrent commands than sshd's MaxSessions (10): they queue, none fails
        let started = Instant::now();
        let runs = (0..25).map(|i| {
            let conn = conn.clone();
            async move { conn.run(&sh(&format!("sleep 0.3; echo {i}")), MINUTE).await }
        });
        for (i, r) in futures::future::join_all(runs).await.into_iter().enumerate() {
            assert_eq!(r.expect("concurrent command").stdout, format!("{i}\n"));
        }
        eprintln!("25 concurrent `sleep 0.3` on one connection (MaxSessions 10): {:?}", started.elapsed());

        // closed: later commands are Unreachable, not a hang or a panic
        conn.close().await;
        let after = conn.run(&RemoteCommand::argv(["true"]), MINUTE).await;
        assert!(matches!(after, Err(TransportError::Unreachable { .. })), "{after:?}");
    });

    // A server that allows fewer sessions than the transport opens at once (10):
    // the refused ones wait for a free slot.
    set_max_sessions(&lab, "node01", 3);
    block_on(async {
        let conn = connect(&t, &opts).await;
        let started = Instant::now();
        let runs = (0..12).map(|i| {
            let conn = conn.clone();
            async move { conn.run(&sh(&format!("sleep 0.2; echo {i}")), MINUTE).await }
        });
        for (i, r) in futures::future::join_all(runs).await.into_iter().enumerate() {
            assert_eq!(r.expect("concurrent command under MaxSessions 3").stdout, format!("{i}\n"));
        }
        eprintln!("12 concurrent `sleep 0.2` on one connection (MaxSessions 3): {:?}", started.elapsed());
    });
}

#[test]
fn a_timed_out_command_leaves_the_connection_usable() {
    let lab = Lab::start("tmo", 1);
    // sshd's default: the abandoned commands below use up every slot.
    set_max_sessions(&lab, "node01", 10);
    block_on(async {
        let conn = connect(&target(&lab, "node01"), &options(&lab)).await;
        let started = Instant::now();
        let err = conn.run(&RemoteCommand::argv(["sleep", "31.7"]), Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(err, TransportError::Timeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "timeout took {:?}", started.elapsed());
        assert_eq!(err.to_string(), "node01: command timed out after 1s: sleep 31.7");
        // the connection is still good after a timeout
        assert_eq!(hostname(&conn).await, "node01\n");

        // sshd refuses to signal a root session's command, and keeps its session
        // slot (MaxSessions, 10) until the process exits: after more abandoned
        // commands than slots, new commands still run (on a fresh connection)
        for _ in 0..11 {
            let err = conn.run(&RemoteCommand::argv(["sleep", "31.7"]), Duration::from_millis(300)).await.unwrap_err();
            assert!(matches!(err, TransportError::Timeout { .. }), "{err:?}");
        }
        // (the lab has no PID namespaces: count only this host's network namespace)
        let out = run(&conn, sh("pgrep -c --ns $$ --nslist net -f 'sleep 3[1].7' || true")).await;
        eprintln!("abandoned `sleep` processes still running on node01 (root: sshd does not signal them): {}", out.stdout.trim());
        assert_eq!(hostname(&conn).await, "node01\n");
    });
    // The abandoned sleeps live in node01's namespaces: the lab's teardown ends them.
}

#[test]
fn a_dead_link_is_noticed_by_keepalive() {
    let lab = Lab::start("dead", 1);
    let cable = veth(&lab, "node01");
    let t = target(&lab, "node01");
    block_on(async {
        // the cable is pulled during a command
        let opts = SshOptions { keepalive: Duration::from_secs(1), ..options(&lab) };
        let conn = connect(&t, &opts).await;
        set_link(&cable, "down");
        let started = Instant::now();
        let err = conn.run(&RemoteCommand::argv(["sleep", "20"]), MINUTE).await.unwrap_err();
        let noticed = started.elapsed();
        // with a short command timeout the verdict comes from the liveness probe
        let err2 = conn.run(&RemoteCommand::argv(["true"]), Duration::from_secs(1)).await.unwrap_err();
        set_link(&cable, "up");
        assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");
        assert!(noticed < Duration::from_secs(10), "dead link noticed after {noticed:?}");
        assert!(matches!(err2, TransportError::Unreachable { .. }), "{err2:?}");
        eprintln!("dead link noticed by keepalive (1s interval) after {noticed:?}: {err}");

        // a command timeout on a dead link (keepalive 15s, not yet fired) is
        // reported as Unreachable, not as a task timeout
        let conn = connect(&t, &options(&lab)).await;
        set_link(&cable, "down");
        let err = conn.run(&RemoteCommand::argv(["true"]), Duration::from_secs(1)).await.unwrap_err();
        set_link(&cable, "up");
        assert!(matches!(err, TransportError::Unreachable { .. }), "timeout on a dead link: {err:?}");
    });
}

// ---------------------------------------------------------------------------
// Host keys
// ---------------------------------------------------------------------------

#[test]
fn host_keys_are_checked_learned_and_revoked() {
    let lab = Lab::start("hostkey", 3);
    let base = options(&lab);
    let (ip2, ip3) = (lab.ip("node02"), lab.ip("node03"));
    let dir = lab.dir().join("kh");
    std::fs::create_dir_all(&dir).unwrap();
    block_on(async {
        // node02's address with node01's key: refused under strict and accept-new,
        // naming file and line and the fix
        let kh = dir.join("mismatch_known_hosts");
        std::fs::write(&kh, format!("# first line\n{ip2} {}\n", host_key(&lab, "node01"))).unwrap();
        for checking in [HostKeyChecking::Strict, HostKeyChecking::AcceptNew] {
            let opts = SshOptions { known_hosts: Some(kh.clone()), host_key_checking: checking, ..base.clone() };
            let err = connect_err(&target(&lab, "node02"), &opts).await;
            let msg = err.to_string();
            assert!(matches!(err, TransportError::HostKey { .. }), "{msg}");
            assert!(msg.contains(&format!("{}:2 holds a different key", kh.display())), "{msg}");
            assert!(msg.contains(&format!("ssh-keygen -R {ip2} -f {}", kh.display())), "{msg}");
            eprintln!("mismatch ({checking:?}): {msg}");
        }
        assert_eq!(std::fs::read_to_string(&kh).unwrap().lines().count(), 2, "a mismatch must not write");

        // unknown under strict: refused, says how to add it
        let kh = dir.join("known_hosts");
        std::fs::write(&kh, "# kept").unwrap(); // no final newline
        let strict = SshOptions { known_hosts: Some(kh.clone()), ..base.clone() };
        let err = connect_err(&target(&lab, "node02"), &strict).await;
        assert!(matches!(err, TransportError::HostKey { .. }), "{err:?}");
        assert!(err.to_string().contains("is not in known_hosts"), "{err}");

        // accept-new: recorded by replacing the file whole (new inode, no temp
        // file left), keeping its lines and mode; then strict accepts it
        std::fs::set_permissions(&kh, std::fs::Permissions::from_mode(0o644)).unwrap();
        let inode_before = std::fs::metadata(&kh).unwrap().ino();
        let accept = SshOptions { host_key_checking: HostKeyChecking::AcceptNew, ..strict.clone() };
        let conn = connect(&target(&lab, "node02"), &accept).await;
        assert_eq!(hostname(&conn).await, "node02\n");
        assert_eq!(std::fs::read_to_string(&kh).unwrap(), format!("# kept\n{ip2} {}\n", host_key(&lab, "node02")));
        let meta = std::fs::metadata(&kh).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o644, "accept-new must keep the file's mode");
        assert_ne!(meta.ino(), inode_before, "accept-new must rename a complete file over known_hosts, not append in place");
        let leftovers: Vec<String> =
            std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".ferry-")).collect();
        assert!(leftovers.is_empty(), "temporary files left next to known_hosts: {leftovers:?}");
        connect(&target(&lab, "node02"), &strict).await;

        // accept-new from many connections at once records each host once, in a
        // new file created private (0600)
        let kh2 = dir.join("parallel_known_hosts");
        let accept = SshOptions { known_hosts: Some(kh2.clone()), ..accept };
        let hosts = lab.hosts();
        let conns = (0..6).map(|i| {
            let (t, accept) = (target(&lab, &hosts[i % 3]), accept.clone());
            async move { SshConnection::connect(&t, &accept).await }
        });
        for c in futures::future::join_all(conns).await {
            c.expect("accept-new connect");
        }
        let mut lines: Vec<String> = std::fs::read_to_string(&kh2).unwrap().lines().map(str::to_string).collect();
        lines.sort();
        assert_eq!(lines, hosts.iter().map(|h| format!("{} {}", lab.ip(h), host_key(&lab, h))).collect::<Vec<_>>());
        assert_eq!(std::fs::metadata(&kh2).unwrap().permissions().mode() & 0o777, 0o600);

        // off: anything goes, nothing is written
        let none = dir.join("none");
        let off = SshOptions { host_key_checking: HostKeyChecking::Off, known_hosts: Some(none.clone()), ..base.clone() };
        connect(&target(&lab, "node03"), &off).await;
        assert!(!none.exists(), "checking off must not record keys");

        // @revoked is refused even under accept-new
        let kh = dir.join("revoked_known_hosts");
        let key3 = host_key(&lab, "node03");
        std::fs::write(&kh, format!("{ip3} {key3}\n@revoked * {key3}\n")).unwrap();
        let opts = SshOptions { known_hosts: Some(kh.clone()), host_key_checking: HostKeyChecking::AcceptNew, ..base.clone() };
        let err = connect_err(&target(&lab, "node03"), &opts).await;
        assert!(matches!(err, TransportError::HostKey { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("{}:2 marks @revoked", kh.display())), "{err}");
    });

    // A host whose key really changed: the lab's own known_hosts (node03 is its
    // line 3) now holds the old key.
    lab.ssh().regenerate_host_key("node03").unwrap_or_else(|e| panic!("regenerating node03's host key: {e}"));
    block_on(async {
        let lab_kh = lab.ssh().known_hosts();
        for checking in [HostKeyChecking::Strict, HostKeyChecking::AcceptNew] {
            let opts = SshOptions { host_key_checking: checking, ..base.clone() };
            let err = connect_err(&target(&lab, "node03"), &opts).await;
            let msg = err.to_string();
            assert!(matches!(err, TransportError::HostKey { .. }), "{msg}");
            assert!(msg.starts_with("node03: host key verification failed"), "{msg}");
            assert!(msg.contains(&format!("{}:3 holds a different key", lab_kh.display())), "{msg}");
        }
        // the others are untouched
        connect(&target(&lab, "node01"), &base).await;
    });
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

#[test]
fn key_files_are_offered_in_order_and_their_problems_are_named() {
    let lab = Lab::start("keys", 1);
    let opts = options(&lab);
    let stranger = scratch(&lab, "stranger_key");
    keygen(&stranger, "ed25519", None, "");
    let stranger2 = scratch(&lab, "stranger2_key");
    keygen(&stranger2, "ed25519", None, "");
    let locked = scratch(&lab, "locked_key");
    keygen(&locked, "ed25519", None, "secret");
    let extra: Vec<(&str, PathBuf)> = [("rsa", "3072"), ("ecdsa", "256")]
        .into_iter()
        .map(|(kind, bits)| {
            let key = scratch(&lab, &format!("{kind}_key"));
            keygen(&key, kind, Some(bits), "");
            // authorised next to the lab key, in node01's own /root/.ssh
            let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
            let out = lab.exec("node01", &["sh", "-c", "printf '%s\\n' \"$1\" >> /root/.ssh/authorized_keys", "sh", public.trim()]);
            assert!(out.status.success(), "authorising the {kind} key: {}", String::from_utf8_lossy(&out.stderr));
            (kind, key)
        })
        .collect();

    block_on(async {
        let mut t = target(&lab, "node01");

        // keys the host does not know: Auth, every refused key listed
        t.identity_files = vec![stranger.clone(), stranger2.clone()];
        let err = connect_err(&t, &opts).await;
        let msg = err.to_string();
        assert!(matches!(err, TransportError::Auth { .. }), "{msg}");
        assert!(msg.contains("authentication failed for user root"), "{msg}");
        for key in [&stranger, &stranger2] {
            assert!(msg.contains(&format!("{} (ssh-ed25519 SHA256:", key.display())), "{} not listed: {msg}", key.display());
        }
        eprintln!("auth failure: {msg}");

        // the wrong key first, then the right one: the second is used
        t.identity_files = vec![stranger.clone(), lab.ssh().client_key()];
        assert_eq!(hostname(&connect(&t, &opts).await).await, "node01\n");

        // a missing key file names the inventory variable
        t.identity_files = vec![lab.dir().join("no-such-key")];
        let err = connect_err(&t, &opts).await;
        assert!(matches!(err, TransportError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-key (ansible_ssh_private_key_file): no such file"), "{err}");

        // a passphrase-protected key without an agent: a clear Config error
        t.identity_files = vec![locked.clone()];
        let err = connect_err(&t, &opts).await;
        assert!(matches!(err, TransportError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("protected by a passphrase"), "{err}");
        assert!(err.to_string().contains(&format!("ssh-add {}", locked.display())), "{err}");

        // RSA (rsa-sha2 signatures) and ECDSA client keys
        for (kind, key) in &extra {
            t.identity_files = vec![key.clone()];
            let conn = connect(&t, &opts).await;
            assert_eq!(hostname(&conn).await, "node01\n", "{kind}");
        }
    });
}

/// Set in the child process of the agent test: the check's inputs as JSON.
const AGENT_CHILD: &str = "FERRY_TRANSPORT_TEST_AGENT_CHILD";

/// An `ssh-agent -D -a SOCKET` of this test's own, stopped by its PID on drop.
struct Agent {
    child: Child,
    socket: PathBuf,
}

impl Agent {
    fn start(socket: &Path) -> Agent {
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ssh-agent (apt-get install openssh-client): {e}"));
        let agent = Agent { child, socket: socket.to_path_buf() };
        eprintln!("ssh-agent PID {} at {}", agent.child.id(), socket.display());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not create {}", socket.display());
            std::thread::sleep(Duration::from_millis(10));
        }
        agent
    }

    fn add(&self, key: &Path) {
        let out = Command::new("ssh-add").arg("-q").arg(key).env("SSH_AUTH_SOCK", &self.socket).stdin(Stdio::null()).output().expect("running ssh-add");
        assert!(out.status.success(), "ssh-add {}: {}", key.display(), String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Our own child, by its PID: SIGTERM lets it remove its socket.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the PID of a child we have not yet waited for.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The transport finds the agent through `SSH_AUTH_SOCK` only. Setting it while
/// other tests run in this process would race with their threads, so the checks run
/// in a child process (this same test, re-run) that starts with it set.
#[test]
fn ssh_agent_keys_are_offered_after_key_files() {
    if let Ok(spec) = std::env::var(AGENT_CHILD) {
        return agent_checks(&spec);
    }
    let lab = Lab::start("agent", 1);
    let agent = Agent::start(&lab.dir().join("agent.sock"));
    agent.add(&lab.ssh().client_key());
    let stranger = scratch(&lab, "stranger_key");
    keygen(&stranger, "ed25519", None, "");
    let locked = scratch(&lab, "locked_key");
    keygen(&locked, "ed25519", None, "secret");
    let opts = options(&lab);
    let spec = serde_json::json!({
        "ip": lab.ip("node01").to_string(),
        "known_hosts": opts.known_hosts.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "ssh_config": opts.ssh_config.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "stranger": stranger.to_string_lossy(),
        "locked": locked.to_string_lossy(),
    });

    let me = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(me)
        .args(["ssh_agent_keys_are_offered_after_key_files", "--exact", "--nocapture", "--test-threads=1"])
        .env(AGENT_CHILD, spec.to_string())
        .env("SSH_AUTH_SOCK", &agent.socket)
        .stdin(Stdio::null())
        .output()
        .expect("re-running the test binary for the agent checks");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprint!("{stderr}");
    assert!(out.status.success() && stdout.contains("1 passed"), "agent checks failed ({}):\n{stdout}\n{stderr}", out.status);

    let pid = agent.child.id();
    drop(agent);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "ssh-agent {pid} is still running");
}

/// The agent checks, in the child process (`SSH_AUTH_SOCK` set from its start).
fn agent_checks(spec: &str) {
    let v: serde_json::Value = serde_json::from_str(spec).expect("agent check spec");
    let field = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} missing in {spec}")).to_string();
    let ip = field("ip");
    let socket = std::env::var_os("SSH_AUTH_SOCK").expect("SSH_AUTH_SOCK in the child");
    let with_agent = SshOptions {
        known_hosts: Some(field("known_hosts").into()),
        host_key_checking: HostKeyChecking::Strict,
        ssh_config: Some(field("ssh_config").into()),
        connect_timeout: Duration::from_secs(5),
        use_agent: true,
        keepalive: Duration::from_secs(15),
    };
    let no_agent = SshOptions { use_agent: false, ..with_agent.clone() };
    let t = |key: String| SshTarget {
        name: "node01".into(),
        alias: ip.clone(),
        host: Some(ip.clone()),
        port: None,
        user: Some("root".into()),
        identity_files: vec![key.into()],
        proxy_jump: None,
    };
    let (stranger, locked) = (t(field("stranger")), t(field("locked")));
    block_on(async {
        // a key file the host refuses, then the agent's key: accepted
        assert_eq!(hostname(&connect(&stranger, &with_agent).await).await, "node01\n");
        // ...and without the agent the same key file is refused: the agent did it
        let err = connect_err(&stranger, &no_agent).await;
        assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");

        // an encrypted key file waits for the agent, which holds a working key
        assert_eq!(hostname(&connect(&locked, &with_agent).await).await, "node01\n");

        // with an empty agent, the encrypted key is what the user must fix
        let out = Command::new("ssh-add").args(["-D", "-q"]).env("SSH_AUTH_SOCK", &socket).stdin(Stdio::null()).output().expect("ssh-add -D");
        assert!(out.status.success(), "ssh-add -D: {}", String::from_utf8_lossy(&out.stderr));
        let err = connect_err(&locked, &with_agent).await;
        assert!(matches!(err, TransportError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("protected by a passphrase"), "{err}");
        // and a refused key file says the agent had nothing to offer
        let err = connect_err(&stranger, &with_agent).await;
        assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
        assert!(err.to_string().contains("ssh-agent holds no keys"), "{err}");
        eprintln!("empty agent: {err}");
    });
}

// ---------------------------------------------------------------------------
// ssh_config and ProxyJump
// ---------------------------------------------------------------------------

#[test]
fn ssh_config_and_proxy_jump_reach_the_host_behind_the_bastion() {
    let lab = Lab::start_with_bastion("jump", 1);
    let inner_ip = lab.ip("inner01");
    let jump_ip = lab.ip("node01");
    let base = options(&lab);
    let lab_known = std::fs::read_to_string(lab.ssh().known_hosts()).unwrap();
    let inner_line = lab_known.lines().find(|l| l.starts_with(&format!("{inner_ip},"))).expect("inner01 in the lab's known_hosts").to_string();
    let inventory_style = SshTarget {
        name: "inner01".into(),
        alias: inner_ip.to_string(),
        host: Some(inner_ip.to_string()),
        port: Some(22),
        user: Some("root".into()),
        identity_files: vec![lab.ssh().client_key()],
        proxy_jump: Some(format!("root@{jump_ip}:22")),
    };

    block_on(async {
        // through node01 (the inventory's proxy jump); each hop's key checked
        let started = Instant::now();
        let conn = connect(&inventory_style, &base).await;
        eprintln!("connect through a jump host: {:?}", started.elapsed());
        assert_eq!(hostname(&conn).await, "inner01\n");
        let input = "x".repeat(3 << 20);
        assert_eq!(run(&conn, RemoteCommand::argv(["wc", "-c"]).with_stdin(input)).await.stdout.trim(), "3145728");

        // two targets behind one jump host share one connection to it
        let second = connect(&inventory_style, &base).await;
        assert_eq!(hostname(&second).await, "inner01\n");
        assert_eq!(ssh_connections_to(&lab, "node01"), 1, "connections to the jump host");
        drop((conn, second));

        // the jump host's key is checked too
        let bad = scratch(&lab, "jump_bad_known_hosts");
        std::fs::write(&bad, format!("{inner_line}\n")).unwrap();
        let err = connect_err(&inventory_style, &SshOptions { known_hosts: Some(bad), ..base.clone() }).await;
        assert!(matches!(err, TransportError::HostKey { .. }), "{err:?}");
        assert!(err.to_string().contains("jump host"), "{err}");

        // the final host's key is checked too, over the tunnel
        let bad = scratch(&lab, "inner_bad_known_hosts");
        let others: String = lab_known.lines().filter(|l| *l != inner_line).map(|l| format!("{l}\n")).collect();
        std::fs::write(&bad, format!("{others}{inner_ip} {}\n", host_key(&lab, "node01"))).unwrap();
        let err = connect_err(&inventory_style, &SshOptions { known_hosts: Some(bad), ..base.clone() }).await;
        assert!(matches!(err, TransportError::HostKey { .. }), "{err:?}");
        assert!(err.to_string().starts_with("inner01: host key verification failed"), "{err}");
        assert!(!err.to_string().contains("jump host"), "the jump host was fine: {err}");

        // a jump host that cannot reach the target
        let nowhere = SshTarget { port: Some(2), ..inventory_style.clone() };
        let err = connect_err(&nowhere, &base).await;
        assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");
        eprintln!("jump to a closed port: {err}");

        // the lab's ssh_config: Host node01 -> HostName, User, IdentityFile,
        // UserKnownHostsFile, StrictHostKeyChecking
        let config = lab.ssh().ssh_config();
        let opts = SshOptions { known_hosts: None, ssh_config: Some(config.clone()), ..base.clone() };
        let by_alias = |name: &str, alias: &str| SshTarget {
            name: name.into(),
            alias: alias.into(),
            host: None,
            port: None,
            user: None,
            identity_files: vec![],
            proxy_jump: None,
        };
        let node = by_alias("node-a", "node01");
        assert_eq!(node.configured_host_key_checking(Some(&config)).expect("lab ssh_config"), Some(HostKeyChecking::Strict));
        let conn = connect(&node, &opts).await;
        assert_eq!(hostname(&conn).await, "node01\n");
        conn.close().await;

        // ...and Host inner01 -> ProxyJump node01, itself resolved through the config
        let conn = connect(&by_alias("inner-a", "inner01"), &opts).await;
        assert_eq!(hostname(&conn).await, "inner01\n");
    });
}

// ---------------------------------------------------------------------------
// Servers that are not there, or not SSH
// ---------------------------------------------------------------------------

#[test]
fn refused_non_ssh_and_silent_servers_fail_fast() {
    let lab = Lab::start("unreach", 1);
    let key = lab.ssh().client_key();
    let target = |host: &str, port: u16| SshTarget {
        name: "x".into(),
        alias: host.into(),
        host: Some(host.into()),
        port: Some(port),
        user: Some("root".into()),
        identity_files: vec![key.clone()],
        proxy_jump: None,
    };
    let opts = SshOptions { connect_timeout: Duration::from_secs(2), ..options(&lab) };
    let ip1 = lab.ip("node01");

    block_on(async {
        // nothing listens on that port of a live host
        let started = Instant::now();
        let err = connect_err(&target(&ip1.to_string(), 2), &opts).await;
        assert_eq!(err.to_string(), format!("x: cannot reach {ip1}:2: connection refused (is sshd running on that port?)"));
        assert!(started.elapsed() < Duration::from_secs(1), "refusal took {:?}", started.elapsed());

        // an HTTP server answers with its own banner: reported as such, at once
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = http.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = http.accept().await {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
            }
        });
        let started = Instant::now();
        let err = connect_err(&target("127.0.0.1", port), &opts).await;
        assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().ends_with("not an SSH server (banner: \"HTTP/1.1 400 Bad Request\")"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1), "banner check took {:?}", started.elapsed());

        // a server that accepts and says nothing: bounded by the connect timeout
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = silent.accept().await {
                held.push(s);
            }
        });
        let started = Instant::now();
        let err = connect_err(&target("127.0.0.1", port), &opts).await;
        let took = started.elapsed();
        assert!(err.to_string().ends_with("no SSH banner within 2s"), "{err}");
        assert!(took >= Duration::from_millis(1900) && took < Duration::from_secs(4), "silent server took {took:?} (connect timeout 2s)");

        // an address on the lab network where nobody lives
        let [a, b, c, _] = ip1.octets();
        let started = Instant::now();
        let err = connect_err(&target(&Ipv4Addr::new(a, b, c, 200).to_string(), 22), &opts).await;
        assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "nobody there took {:?}", started.elapsed());
        eprintln!("nobody there: {err}");
    });
}

// ---------------------------------------------------------------------------
// Timings
// ---------------------------------------------------------------------------

/// Prints what connecting and a round trip cost; the bounds only catch a
/// transport gone badly wrong (e.g. Nagle or a lost wakeup adding 40 ms+ per
/// command), not a slow machine.
#[test]
fn connect_and_round_trip_times() {
    let lab = Lab::start("timing", 3);
    let opts = options(&lab);
    block_on(async {
        let t = target(&lab, "node01");
        let n = 20;
        let started = Instant::now();
        for _ in 0..n {
            connect(&t, &opts).await.close().await;
        }
        let per_connect = started.elapsed() / n;

        let conn = connect(&t, &opts).await;
        let m = 200;
        let started = Instant::now();
        for _ in 0..m {
            run(&conn, RemoteCommand::argv(["true"])).await;
        }
        let per_command = started.elapsed() / m;

        let started = Instant::now();
        let all = lab.hosts().into_iter().map(|h| {
            let (t, opts) = (target(&lab, &h), opts.clone());
            async move { SshConnection::connect(&t, &opts).await }
        });
        for c in futures::future::join_all(all).await {
            c.expect("parallel connect");
        }
        let parallel = started.elapsed();
        eprintln!(
            "timing: connect+auth {per_connect:?} each ({n} sequential), `true` round trip {per_command:?} ({m} sequential), \
             3 hosts in parallel {parallel:?}"
        );
        assert!(per_connect < Duration::from_secs(2), "connect+auth takes {per_connect:?}");
        assert!(per_command < Duration::from_millis(500), "a `true` round trip takes {per_command:?}");
    });
}
