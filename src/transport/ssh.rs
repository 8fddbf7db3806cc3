//! SSH connections (russh): one per host, opened once and reused by every
//! command; each command is one session channel, so several can run at once.

use super::command::{CommandOutput, OutputBuffer, RemoteCommand};
use super::error::TransportError;
pub use super::known_hosts::HostKeyChecking;
use super::known_hosts::KnownHosts;
use super::ssh_auth;
use super::ssh_config::SshConfig;
use super::ssh_link::{Link, Prepared};
use super::ssh_route::{self, LocalUser};
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Run-wide SSH settings.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// known_hosts file; `None` = `UserKnownHostsFile` from ssh config, else `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// How host keys are checked.
    pub host_key_checking: HostKeyChecking,
    /// ssh config file; `None` = `~/.ssh/config` if it exists.
    pub ssh_config: Option<PathBuf>,
    /// Limit for TCP connect, SSH handshake and authentication, each
    /// (`ConnectTimeout` in ssh config wins for its hosts).
    pub connect_timeout: Duration,
    /// Offer the keys of the ssh-agent at `SSH_AUTH_SOCK`.
    pub use_agent: bool,
    /// Interval of keepalive probes; three unanswered ones end the connection.
    /// Zero disables them.
    pub keepalive: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            known_hosts: None,
            host_key_checking: HostKeyChecking::Strict,
            ssh_config: None,
            connect_timeout: Duration::from_secs(10),
            use_agent: true,
            keepalive: Duration::from_secs(15),
        }
    }
}

/// Where and how to connect, from the inventory. Fields left `None` (or
/// empty) are filled from ssh config for `alias`, then from OpenSSH's
/// defaults (port 22, the local user, `~/.ssh/id_{ed25519,ecdsa,rsa}`).
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// Inventory host name, for messages.
    pub name: String,
    /// Looked up in ssh config `Host` patterns (`ansible_host`, or the name).
    pub alias: String,
    /// Address to connect to (overrides `HostName`).
    pub host: Option<String>,
    /// Port (overrides `Port`).
    pub port: Option<u16>,
    /// Remote user (overrides `User`).
    pub user: Option<String>,
    /// Private key files (`ansible_ssh_private_key_file`), offered before those from ssh config.
    pub identity_files: Vec<PathBuf>,
    /// `[user@]host[:port][,next...]`; overrides `ProxyJump` (`none` disables it).
    pub proxy_jump: Option<String>,
}

impl SshTarget {
    /// `StrictHostKeyChecking` from ssh config for this host, if it sets
    /// one: for the caller to use when the command line did not choose.
    /// `ssh_config` as in [`SshOptions::ssh_config`].
    pub fn configured_host_key_checking(&self, ssh_config: Option<&std::path::Path>) -> Result<Option<HostKeyChecking>, TransportError> {
        let me = LocalUser::current();
        let config = load_config(ssh_config, &me).map_err(|reason| TransportError::Config { host: self.name.clone(), reason })?;
        Ok(config.lookup(&self.alias).strict_host_key_checking)
    }
}

/// sshd's default `MaxSessions`: more concurrent channels than this on one
/// connection are refused, so extra commands wait for a free one instead.
const MAX_SESSIONS: usize = 10;

/// After a command timed out: how long to wait for the server to answer a
/// ping before calling the connection dead.
const PROBE: Duration = Duration::from_secs(3);

/// An open, authenticated connection to one host. Clones share it.
#[derive(Clone)]
pub struct SshConnection {
    inner: Arc<Inner>,
}

struct Inner {
    target: SshTarget,
    opts: SshOptions,
    /// Replaced (see [`SshConnection::relink`]) when abandoned commands use up sshd's session slots.
    link: std::sync::Mutex<Arc<Link>>,
    relinking: tokio::sync::Mutex<()>,
    sessions: Semaphore,
    /// Commands started (one session channel each: a round trip at least).
    commands: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshConnection").field("host", &self.inner.target.name).field("address", &self.link().address).finish()
    }
}

impl SshConnection {
    /// Connects to `target` (through its jump hosts), checks host keys and
    /// authenticates.
    pub async fn connect(target: &SshTarget, opts: &SshOptions) -> Result<SshConnection, TransportError> {
        let link = open_link(target, opts).await?;
        Ok(SshConnection {
            inner: Arc::new(Inner {
                target: target.clone(),
                opts: opts.clone(),
                link: std::sync::Mutex::new(link),
                relinking: tokio::sync::Mutex::new(()),
                sessions: Semaphore::new(MAX_SESSIONS),
                commands: Default::default(),
            }),
        })
    }

    /// Runs one command on a new session channel: `cmd.to_shell_line()` is
    /// executed, `cmd.stdin` written and closed, stdout and stderr collected
    /// (each capped at [`OUTPUT_CAP`](super::command::OUTPUT_CAP); the rest is read and dropped). On
    /// timeout the command is sent SIGTERM and its channel closed; the
    /// result is `Timeout`, or `Unreachable` when the connection itself died.
    /// (OpenSSH does not deliver signals to root's commands, and a quiet
    /// command outlives its closed channel: see `relink`.)
    pub async fn run(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<CommandOutput, TransportError> {
        if let Some(reason) = cmd.unsendable() {
            return Err(TransportError::BadCommand { host: self.inner.target.name.clone(), reason });
        }
        self.inner.commands.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let deadline = Instant::now() + timeout;
        let mut channel: Option<OpenChannel> = None;
        let outcome = tokio::time::timeout_at(deadline, self.exec(cmd, &mut channel)).await;
        match outcome {
            Ok(result) => {
                // A command that ended normally had its channel closed by the
                // server; anything else is closed by OpenChannel's drop.
                if let (Some(ch), true) = (channel.as_mut(), result.is_ok()) {
                    ch.finished = true;
                }
                result
            }
            Err(_) => {
                let link = match channel.take() {
                    Some(ch) => ch.abort().await,
                    None => self.link(),
                };
                if link_is_dead(&link).await {
                    Err(lost(&self.inner.target.name, &link, "the connection died while the command ran (keepalive unanswered)"))
                } else {
                    Err(TransportError::Timeout { host: self.inner.target.name.clone(), command: cmd.to_string(), after: timeout })
                }
            }
        }
    }

    /// Commands started on this connection (each one a session channel).
    pub fn commands(&self) -> u64 {
        self.inner.commands.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Disconnects. Commands still running fail with `Unreachable`.
    pub async fn close(&self) {
        let link = self.link();
        let bye = link.handle.disconnect(russh::Disconnect::ByApplication, "", "en");
        let _ = tokio::time::timeout(PROBE, bye).await;
    }

    fn link(&self) -> Arc<Link> {
        self.inner.link.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    async fn exec(&self, cmd: &RemoteCommand, slot: &mut Option<OpenChannel>) -> Result<CommandOutput, TransportError> {
        let name = self.inner.target.name.as_str();
        // The semaphore is never closed; Err cannot happen, but is not unwrapped.
        let _permit = self.inner.sessions.acquire().await.map_err(|_| lost(name, &self.link(), "connection closed"))?;
        let (link, channel) = self.open_session().await?;
        let (mut read, write) = channel.split();
        let ch = slot.insert(OpenChannel { link: link.clone(), write: Some(write), finished: false });
        let Some(write) = ch.write.as_ref() else {
            return Err(lost(name, &link, "channel closed"));
        };
        // want_reply: a refused exec comes back as ChannelMsg::Failure instead of a silent close.
        write.exec(true, cmd.to_shell_line()).await.map_err(|_| lost(name, &link, "the connection closed"))?;

        let feed = async {
            if let Some(data) = cmd.stdin.as_deref().filter(|d| !d.is_empty()) {
                write.data(data).await?;
            }
            write.eof().await
        };
        let collect = collect(&mut read);
        tokio::pin!(feed, collect);
        let mut fed = false;
        // Input is written while output is read: a command that prints
        // before it reads its stdin must not deadlock with us.
        let ended = loop {
            tokio::select! {
                // A command that exits without reading its input is not an error.
                _ = &mut feed, if !fed => fed = true,
                ended = &mut collect => break ended,
            }
        };
        let out = match ended {
            Ended::Refused => return Err(lost(name, &link, "the server refused to run a command on this connection (exec request denied)")),
            Ended::Gone => return Err(lost(name, &link, "the connection was lost while the command ran")),
            Ended::Closed(out) => out,
        };
        if out.status.is_none() && out.signal.is_none() && link.handle.is_closed() {
            return Err(lost(name, &link, "the connection was lost while the command ran"));
        }
        Ok(out.into_output())
    }

    /// Opens a session channel. sshd frees a finished session only after it
    /// has processed our close, and may allow fewer sessions than
    /// [`MAX_SESSIONS`]: while other commands run here, a refusal means
    /// "wait for one of them". The caller's timeout bounds the wait.
    async fn open_session(&self) -> Result<(Arc<Link>, russh::Channel<Msg>), TransportError> {
        let mut link = self.link();
        let mut pause = Duration::from_millis(5);
        let mut relinked = false;
        loop {
            let refusal = match link.handle.channel_open_session().await {
                Ok(channel) => return Ok((link, channel)),
                Err(e) => e,
            };
            let busy_here = self.inner.sessions.available_permits() + 1 < MAX_SESSIONS;
            match refusal {
                russh::Error::ChannelOpenFailure(_) if !link.handle.is_closed() => {
                    if !relinked && link.abandoned.load(Ordering::Relaxed) > 0 {
                        link = self.relink(&link).await?;
                        relinked = true;
                    } else if busy_here {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_millis(200));
                    } else {
                        let why = format!("the server refused a new session channel ({refusal})");
                        return Err(lost(&self.inner.target.name, &link, &why));
                    }
                }
                _ if link.handle.is_closed() => {
                    let why = "the connection is closed (the server went away or keepalives went unanswered)";
                    return Err(lost(&self.inner.target.name, &link, why));
                }
                e => return Err(lost(&self.inner.target.name, &link, &format!("cannot open a session channel: {e}"))),
            }
        }
    }

    /// Replaces a link whose session slots are held by processes of
    /// abandoned commands (sshd keeps a session until its process exits and
    /// refuses to signal root's): a new connection has all its slots free.
    /// Commands still running on the old link finish there.
    async fn relink(&self, stale: &Arc<Link>) -> Result<Arc<Link>, TransportError> {
        let _one_at_a_time = self.inner.relinking.lock().await;
        let current = self.link();
        if !Arc::ptr_eq(&current, stale) {
            return Ok(current);
        }
        let fresh = open_link(&self.inner.target, &self.inner.opts).await?;
        *self.inner.link.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh.clone();
        Ok(fresh)
    }
}

/// Reads the settings, then connects through each jump host to the target.
async fn open_link(target: &SshTarget, opts: &SshOptions) -> Result<Arc<Link>, TransportError> {
    let name = target.name.clone();
    let (t, o) = (target.clone(), opts.clone());
    // ssh config, known_hosts and key files are read off the async threads.
    let chain = tokio::task::spawn_blocking(move || prepare(&t, &o))
        .await
        .map_err(|e| TransportError::Config { host: name.clone(), reason: format!("reading SSH settings failed: {e}") })?
        .map_err(|reason| TransportError::Config { host: name.clone(), reason })?;

    let mut via: Option<Arc<Link>> = None;
    let last = chain.len().saturating_sub(1);
    for i in 0..last {
        via = Some(Link::shared(&chain[..=i], via.take(), &name, opts.keepalive).await?);
    }
    let Some(target_hop) = chain.get(last) else {
        return Err(TransportError::Config { host: name, reason: "no SSH hop to connect to".into() });
    };
    Ok(Arc::new(Link::open(target_hop, via, &name, opts.keepalive).await?))
}

/// Whether the link is gone or no longer answers.
async fn link_is_dead(link: &Link) -> bool {
    if link.handle.is_closed() {
        return true;
    }
    tokio::time::timeout(PROBE, link.handle.send_ping()).await.is_err() || link.handle.is_closed()
}

fn lost(host: &str, link: &Link, reason: &str) -> TransportError {
    TransportError::Unreachable { host: host.into(), address: link.address.clone(), reason: reason.into() }
}

/// Reads ssh config, resolves the jump chain, reads known_hosts and key files.
fn prepare(target: &SshTarget, opts: &SshOptions) -> Result<Vec<Prepared>, String> {
    let me = LocalUser::current();
    let config = load_config(opts.ssh_config.as_deref(), &me)?;
    let hops = ssh_route::resolve(target, opts, &config, &me)?;
    let last = hops.len().saturating_sub(1);
    hops.into_iter()
        .enumerate()
        .map(|(i, hop)| {
            let known = KnownHosts::read_shared(&hop.known_hosts_files, &hop.global_known_hosts_files)
                .map_err(|(file, e)| format!("cannot read known_hosts file {}: {e}", file.display()))?;
            let keys = ssh_auth::load_keys(&hop)?;
            let who = if i == last { target.name.clone() } else { format!("jump host {}", hop.alias) };
            Ok(Prepared { hop, keys, known, who })
        })
        .collect()
}

/// The given ssh config, else `~/.ssh/config` if there is one.
fn load_config(path: Option<&std::path::Path>, me: &LocalUser) -> Result<SshConfig, String> {
    let default = me.home.join(".ssh/config");
    match path {
        Some(path) => SshConfig::load(path, &me.home),
        None if default.is_file() => SshConfig::load(&default, &me.home),
        None => Ok(SshConfig::default()),
    }
    .map_err(|e| e.to_string())
}

/// A command's channel, closed (after SIGTERM) if the command is abandoned:
/// on timeout, or when the caller drops the `run` future.
struct OpenChannel {
    link: Arc<Link>,
    write: Option<ChannelWriteHalf<Msg>>,
    finished: bool,
}

impl OpenChannel {
    /// Stops the command as far as sshd allows; returns the link it ran on.
    async fn abort(mut self) -> Arc<Link> {
        self.finished = true;
        self.link.abandoned.fetch_add(1, Ordering::Relaxed);
        if let Some(write) = self.write.take() {
            let stop = async {
                // sshd signals the command's process group if it may (not
                // for root logins); closing alone leaves a quiet command running.
                let _ = write.signal(Sig::TERM).await;
                let _ = write.eof().await;
                let _ = write.close().await;
            };
            let _ = tokio::time::timeout(PROBE, stop).await;
        }
        self.link.clone()
    }
}

impl Drop for OpenChannel {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let abandoned = OpenChannel { link: self.link.clone(), write: self.write.take(), finished: false };
            runtime.spawn(abandoned.abort());
        }
    }
}

enum Ended {
    /// The server closed the channel: the command is over.
    Closed(Collected),
    /// The exec request was refused.
    Refused,
    /// The channel vanished without a close: the connection died.
    Gone,
}

#[derive(Default)]
struct Collected {
    stdout: OutputBuffer,
    stderr: OutputBuffer,
    status: Option<u32>,
    signal: Option<String>,
}

impl Collected {
    fn into_output(self) -> CommandOutput {
        let truncated = self.stdout.truncated() || self.stderr.truncated();
        let mut stderr = self.stderr.into_string();
        let rc = match (self.status, &self.signal) {
            (_, Some(_)) => -1,
            (Some(status), None) => i32::try_from(status).unwrap_or(i32::MAX),
            (None, None) => {
                // ssh(1) reports 255 when the server gives no exit status.
                if !stderr.is_empty() && !stderr.ends_with('\n') {
                    stderr.push('\n');
                }
                stderr.push_str("ferry: the server closed the channel without an exit status\n");
                255
            }
        };
        CommandOutput { rc, stdout: self.stdout.into_string(), stderr, signal: self.signal, truncated }
    }
}

async fn collect(read: &mut ChannelReadHalf) -> Ended {
    let mut out = Collected::default();
    loop {
        match read.wait().await {
            Some(ChannelMsg::Data { data }) => out.stdout.push(&data),
            // extended data type 1 is stderr (RFC 4254 5.2)
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) => out.stderr.push(&data),
            Some(ChannelMsg::ExitStatus { exit_status }) => out.status = Some(exit_status),
            Some(ChannelMsg::ExitSignal { signal_name, .. }) => out.signal = Some(signal_label(&signal_name)),
            Some(ChannelMsg::Failure) => return Ended::Refused,
            Some(ChannelMsg::Close) => return Ended::Closed(out),
            Some(_) => {}
            None => return Ended::Gone,
        }
    }
}

fn signal_label(sig: &Sig) -> String {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name.as_str(),
    };
    format!("SIG{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_signal_and_none() {
        let done = |status, signal: Option<&str>| Collected { status, signal: signal.map(Into::into), ..Default::default() }.into_output();
        assert_eq!(done(Some(3), None).rc, 3);
        let killed = done(None, Some("SIGKILL"));
        assert_eq!((killed.rc, killed.signal.as_deref()), (-1, Some("SIGKILL")));
        let silent = done(None, None);
        assert_eq!(silent.rc, 255);
        assert!(silent.stderr.contains("without an exit status"));
    }
}
