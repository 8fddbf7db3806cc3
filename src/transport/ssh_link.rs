//! One authenticated SSH connection (a "link"): over TCP, or through a jump
//! host's direct-tcpip channel. Host keys are checked during the handshake;
//! links to jump hosts are shared by every target behind them.

use super::error::TransportError;
use super::known_hosts::{self, HostKeyChecking, KnownHosts, Verdict};
use super::ssh_auth::{self, AuthFailure, Keys};
use super::ssh_route::Hop;
use russh::client::{self, Handle, Handler};
use russh::keys::{Algorithm, HashAlg, PublicKey, PublicKeyOrCertificate};
use russh::ChannelOpenFailure;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A hop with everything read from disk, ready to connect.
#[derive(Debug)]
pub struct Prepared {
    /// Where and as whom.
    pub hop: Hop,
    /// Its key files, decoded.
    pub keys: Keys,
    /// Its known_hosts lines.
    pub known: Arc<KnownHosts>,
    /// `jump host NAME` for jump hosts, the inventory name for the target: how messages name it.
    pub who: String,
}

/// An authenticated connection.
pub struct Link {
    /// russh's handle: opens channels; cheap to share (`&self` methods).
    pub handle: Handle<HostKeyCheck>,
    /// `addr:port`, or the path through jump hosts (`bastion:22 -> 10.0.0.5:22`).
    pub address: String,
    /// Commands given up on (timed out, or dropped by the caller) on this
    /// link. Their processes may live on: sshd keeps a session slot
    /// (MaxSessions) until the process exits, and refuses to signal root's.
    pub abandoned: AtomicUsize,
    /// The jump host's link, kept alive while this one is.
    _via: Option<Arc<Link>>,
}

impl Link {
    /// Connects, checks the host key and authenticates. `host` is the
    /// inventory name that errors are reported under.
    pub async fn open(p: &Prepared, via: Option<Arc<Link>>, host: &str, keepalive: Duration) -> Result<Link, TransportError> {
        let hop = &p.hop;
        let address = match &via {
            Some(v) => format!("{} -> {}", v.address, hop.address()),
            None => hop.address(),
        };
        let tag = |reason: String| {
            if p.who == host {
                reason
            } else {
                format!("{}: {reason}", p.who)
            }
        };
        let unreachable = |reason: String| TransportError::Unreachable { host: host.into(), address: address.clone(), reason: tag(reason) };
        let limit = hop.connect_timeout;
        let config = client_config(p, keepalive);
        let check = HostKeyCheck::new(p);

        let mut handle = match &via {
            None => {
                let tcp = tcp_connect(hop).await.map_err(unreachable)?;
                handshake(tcp, config, check, limit).await
            }
            Some(v) => {
                let channel = tokio::time::timeout(limit, v.handle.channel_open_direct_tcpip(hop.host.as_str(), u32::from(hop.port), "127.0.0.1", 0))
                    .await
                    .map_err(|_| unreachable(format!("the jump host did not open a channel within {}s", limit.as_secs_f64())))?
                    .map_err(|e| unreachable(forward_failure(&e, &v.handle)))?;
                handshake(channel.into_stream(), config, check, limit).await
            }
        }
        .map_err(|e| match e {
            Handshake::HostKey(reason) => TransportError::HostKey { host: host.into(), reason },
            Handshake::Failed(reason) => unreachable(reason),
        })?;

        let auth = tokio::time::timeout(limit, ssh_auth::authenticate(&mut handle, hop, &p.keys)).await;
        let failure = match auth {
            Ok(Ok(())) => return Ok(Link { handle, address, abandoned: AtomicUsize::new(0), _via: via }),
            Ok(Err(failure)) => failure,
            Err(_) => return Err(unreachable(format!("authentication did not finish within {}s", limit.as_secs_f64()))),
        };
        // Leave politely; the handle would otherwise linger until dropped.
        let _ = handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
        Err(match failure {
            AuthFailure::Rejected(reason) | AuthFailure::Lost(reason) => {
                TransportError::Auth { host: host.into(), user: hop.user.clone(), reason: tag(reason) }
            }
            AuthFailure::Encrypted(reason) => TransportError::Config { host: host.into(), reason: tag(reason) },
        })
    }

    /// The link to a jump host, shared by every target behind it: 200 hosts
    /// behind one bastion make one connection to it, not 200 (sshd's
    /// MaxStartups would drop most of those). `chain` ends with the jump host.
    pub async fn shared(chain: &[Prepared], via: Option<Arc<Link>>, host: &str, keepalive: Duration) -> Result<Arc<Link>, TransportError> {
        let Some(last) = chain.last() else {
            return Err(TransportError::Config { host: host.into(), reason: "empty jump chain".into() });
        };
        let key = chain_key(chain);
        let slot = {
            let mut slots = JUMP_LINKS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            slots.entry(key).or_default().clone()
        };
        // Held across the connect so concurrent targets wait for one attempt.
        let mut slot = slot.lock().await;
        if let Some(link) = slot.link.upgrade().filter(|l| !l.handle.is_closed()) {
            return Ok(link);
        }
        if let Some((when, err)) = &slot.failure {
            if when.elapsed() < FAILURE_MEMORY {
                return Err(for_host(err.clone(), host));
            }
        }
        match Link::open(last, via, host, keepalive).await {
            Ok(link) => {
                let link = Arc::new(link);
                slot.link = Arc::downgrade(&link);
                slot.failure = None;
                Ok(link)
            }
            Err(err) => {
                slot.failure = Some((Instant::now(), err.clone()));
                Err(err)
            }
        }
    }
}

/// A failed jump host is not retried for this long: the targets queued
/// behind it get the same answer at once instead of one timeout each.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);

#[derive(Default)]
struct JumpSlot {
    link: Weak<Link>,
    failure: Option<(Instant, TransportError)>,
}

/// One slot per distinct jump chain (a handful per run).
static JUMP_LINKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<JumpSlot>>>>> = LazyLock::new(Default::default);

/// Two chains share a link only if everything that decides who we are and
/// whom we trust is the same.
fn chain_key(chain: &[Prepared]) -> String {
    let parts: Vec<String> = chain
        .iter()
        .map(|p| {
            let h = &p.hop;
            format!(
                "{}@{}|{:?}|{:?}|{:?}|{:?}|{}|{}",
                h.user,
                h.address(),
                h.identities,
                h.known_hosts_files,
                h.global_known_hosts_files,
                h.checking,
                h.known_hosts_name,
                h.use_agent
            )
        })
        .collect();
    parts.join(" -> ")
}

/// The same failure, reported under another inventory host.
fn for_host(err: TransportError, name: &str) -> TransportError {
    let host = name.to_string();
    match err {
        TransportError::Unreachable { address, reason, .. } => TransportError::Unreachable { host, address, reason },
        TransportError::HostKey { reason, .. } => TransportError::HostKey { host, reason },
        TransportError::Auth { user, reason, .. } => TransportError::Auth { host, user, reason },
        TransportError::Config { reason, .. } => TransportError::Config { host, reason },
        TransportError::BadCommand { reason, .. } => TransportError::BadCommand { host, reason },
        TransportError::Timeout { command, after, .. } => TransportError::Timeout { host, command, after },
    }
}

/// russh settings for one hop: keepalives to notice a dead link, and the
/// host key types known_hosts already has asked for first.
fn client_config(p: &Prepared, keepalive: Duration) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    if p.hop.checking != HostKeyChecking::Off {
        let known = p.known.key_types(&p.hop.known_hosts_name, p.hop.port);
        if !known.is_empty() {
            preferred.key = Cow::Owned(known_first(&known, &preferred.key));
        }
    }
    Arc::new(client::Config {
        keepalive_interval: (!keepalive.is_zero()).then_some(keepalive),
        keepalive_max: 3,
        inactivity_timeout: None,
        preferred,
        nodelay: true,
        ..Default::default()
    })
}

/// `supported`, reordered so the `known` types come first (what OpenSSH
/// does): a host with several keys must not look "unknown" just because the
/// type we prefer is not the one recorded.
fn known_first(known: &[Algorithm], supported: &[Algorithm]) -> Vec<Algorithm> {
    let mut order: Vec<Algorithm> = Vec::new();
    for alg in known {
        if matches!(alg, Algorithm::Rsa { .. }) {
            // known_hosts says "ssh-rsa"; the signature hash is a separate choice
            order.extend([Some(HashAlg::Sha512), Some(HashAlg::Sha256), None].map(|hash| Algorithm::Rsa { hash }));
        } else {
            order.push(alg.clone());
        }
    }
    order.retain(|a| supported.contains(a));
    let rest: Vec<Algorithm> = supported.iter().filter(|a| !order.contains(a)).cloned().collect();
    order.extend(rest);
    order
}

/// Resolves the name, then tries each address in turn, all within ConnectTimeout.
async fn tcp_connect(hop: &Hop) -> Result<TcpStream, String> {
    let limit = hop.connect_timeout;
    let attempt = async {
        let addrs: Vec<_> = tokio::net::lookup_host((hop.host.as_str(), hop.port)).await.map_err(|e| format!("cannot resolve {}: {e}", hop.host))?.collect();
        let mut last = format!("{} resolves to no address", hop.host);
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = describe_io(&e),
            }
        }
        Err(last)
    };
    let stream = tokio::time::timeout(limit, attempt).await.map_err(|_| format!("TCP connect timed out after {}s", limit.as_secs_f64()))??;
    // Commands are small request/response exchanges: Nagle would add delay to each.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (is sshd running on that port?)".into(),
        io::ErrorKind::HostUnreachable => "no route to host".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        io::ErrorKind::TimedOut => "connection timed out".into(),
        _ => e.to_string(),
    }
}

fn forward_failure(e: &russh::Error, jump: &Handle<HostKeyCheck>) -> String {
    match e {
        russh::Error::ChannelOpenFailure(f) => match f {
            ChannelOpenFailure::ConnectFailed => "the jump host could not connect to it".into(),
            ChannelOpenFailure::AdministrativelyProhibited => "the jump host refused to forward (AllowTcpForwarding or PermitOpen in its sshd_config)".into(),
            ChannelOpenFailure::ResourceShortage => "the jump host is out of resources".into(),
            ChannelOpenFailure::UnknownChannelType => "the jump host does not support forwarding".into(),
            ChannelOpenFailure::Other { reason, .. } => format!("the jump host refused to forward: {reason}"),
        },
        _ if jump.is_closed() => "the connection to the jump host was lost".into(),
        e => format!("cannot open a channel through the jump host: {e}"),
    }
}

enum Handshake {
    HostKey(String),
    Failed(String),
}

/// SSH banner exchange and key exchange, bounded by `limit`. A peer that is
/// not an SSH server is recognised from the first bytes it sent.
async fn handshake<S>(stream: S, config: Arc<client::Config>, check: HostKeyCheck, limit: Duration) -> Result<Handle<HostKeyCheck>, Handshake>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stream = Sniffer { inner: stream, seen: Some(seen.clone()) };
    let result = tokio::time::timeout(limit, client::connect_stream(config, stream, check)).await;
    let first_bytes = || seen.lock().map(|s| s.clone()).unwrap_or_default();
    match result {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(LinkError::HostKey(reason))) => Err(Handshake::HostKey(reason)),
        Ok(Err(LinkError::Ssh(e))) => {
            let bytes = first_bytes();
            Err(Handshake::Failed(match not_ssh(&bytes) {
                Some(reason) => reason,
                None if bytes.is_empty() => "the server closed the connection before sending an SSH banner".into(),
                None => format!("SSH handshake failed: {e}"),
            }))
        }
        Err(_) => {
            let bytes = first_bytes();
            Err(Handshake::Failed(match not_ssh(&bytes) {
                Some(reason) => reason,
                None if bytes.is_empty() => {
                    format!("no SSH banner within {}s", limit.as_secs_f64())
                }
                None => format!("SSH handshake did not finish within {}s", limit.as_secs_f64()),
            }))
        }
    }
}

/// `Some(reason)` when the peer's first bytes are not an SSH banner.
fn not_ssh(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() || bytes.split(|&b| b == b'\n').any(|line| line.starts_with(b"SSH-")) {
        return None;
    }
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let shown: String = String::from_utf8_lossy(first).trim_end().chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect();
    Some(format!("not an SSH server (banner: {shown:?})"))
}

/// How much of the peer's first output is kept for `not_ssh`.
const SNIFF_LIMIT: usize = 256;

/// Passes a stream through, keeping a copy of its first bytes.
struct Sniffer<S> {
    inner: S,
    /// Dropped once full, so later reads cost nothing.
    seen: Option<Arc<Mutex<Vec<u8>>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniffer<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(seen)) = (&poll, &self.seen) {
            let full = match seen.lock() {
                Ok(mut kept) => {
                    let new = &buf.filled()[before..];
                    let room = SNIFF_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&new[..new.len().min(room)]);
                    kept.len() >= SNIFF_LIMIT
                }
                Err(_) => true,
            };
            if full {
                self.seen = None;
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniffer<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What ends a handshake early: russh's errors, or our host key verdict.
#[derive(Debug)]
pub enum LinkError {
    /// From russh.
    Ssh(russh::Error),
    /// The host key was refused; the message says why and what to do.
    HostKey(String),
}

impl From<russh::Error> for LinkError {
    fn from(e: russh::Error) -> Self {
        LinkError::Ssh(e)
    }
}

/// russh's client handler: decides whether to trust the server's host key.
pub struct HostKeyCheck {
    who: String,
    name: String,
    port: u16,
    policy: HostKeyChecking,
    /// The user's known_hosts files; accept-new records into the first.
    files: Vec<PathBuf>,
    /// Taken at the check: a connection must not carry known_hosts around for its lifetime.
    known: Option<Arc<KnownHosts>>,
}

impl HostKeyCheck {
    fn new(p: &Prepared) -> Self {
        HostKeyCheck {
            who: p.who.clone(),
            name: p.hop.known_hosts_name.clone(),
            port: p.hop.port,
            policy: p.hop.checking,
            files: p.hop.known_hosts_files.clone(),
            known: Some(p.known.clone()),
        }
    }

    fn verdict(&mut self, key: &PublicKey) -> Verdict {
        match self.known.take() {
            Some(known) => known.check(&self.name, self.port, key),
            // a second check on one connection (russh does not do this): read again
            None => match KnownHosts::read(&self.files) {
                Ok(known) => known.check(&self.name, self.port, key),
                Err(_) => Verdict::Unknown,
            },
        }
    }
}

impl Handler for HostKeyCheck {
    type Error = LinkError;

    async fn check_server_key(&mut self, offered: &PublicKeyOrCertificate) -> Result<bool, LinkError> {
        if self.policy == HostKeyChecking::Off {
            return Ok(true);
        }
        // Certificates are not requested; if one arrives anyway, its key is
        // checked like a plain key.
        let key = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => PublicKey::from(cert.public_key().clone()),
        };
        let mut verdict = self.verdict(&key);
        if verdict == Verdict::Unknown && self.policy == HostKeyChecking::AcceptNew {
            let Some(learn_to) = self.files.first().cloned() else {
                // `UserKnownHostsFile none`: nowhere to record, as with /dev/null in ssh
                return Ok(true);
            };
            let (files, name, port, k) = (self.files.clone(), self.name.clone(), self.port, key.clone());
            let learned = tokio::task::spawn_blocking(move || known_hosts::learn(&files, &learn_to, &name, port, &k))
                .await
                .map_err(|e| LinkError::HostKey(format!("recording the host key failed: {e}")))?;
            match learned {
                Ok(Verdict::Unknown | Verdict::Known) => return Ok(true),
                Ok(other) => verdict = other,
                Err(reason) => return Err(LinkError::HostKey(reason)),
            }
        }
        if verdict == Verdict::Known {
            return Ok(true);
        }
        Err(LinkError::HostKey(known_hosts::refusal(&verdict, &self.who, &self.name, self.port, &key, &self.files)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_not_ssh() {
        assert_eq!(not_ssh(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n").as_deref(), Some("not an SSH server (banner: \"HTTP/1.1 400 Bad Request\")"));
        assert_eq!(not_ssh(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), None);
        // RFC 4253 allows text lines before the banner
        assert_eq!(not_ssh(b"welcome\r\nSSH-2.0-x\r\n"), None);
        assert_eq!(not_ssh(b""), None);
        assert_eq!(not_ssh(b"\x00\x01\x02").as_deref(), Some("not an SSH server (banner: \"???\")"));
    }

    #[test]
    fn known_host_key_types_are_asked_for_first() {
        let supported = russh::Preferred::default().key.to_vec();
        let ecdsa = Algorithm::Ecdsa { curve: russh::keys::EcdsaCurve::NistP256 };
        let order = known_first(&[Algorithm::Rsa { hash: None }, ecdsa.clone()], &supported);
        assert_eq!(
            order[..4],
            [Algorithm::Rsa { hash: Some(HashAlg::Sha512) }, Algorithm::Rsa { hash: Some(HashAlg::Sha256) }, Algorithm::Rsa { hash: None }, ecdsa,]
        );
        assert_eq!(order.len(), supported.len());
        assert_eq!(order[4], Algorithm::Ed25519);
    }

    #[test]
    fn errors_move_to_another_host() {
        let err = TransportError::Unreachable { host: "a".into(), address: "j:22".into(), reason: "r".into() };
        assert_eq!(for_host(err, "b").to_string(), "b: cannot reach j:22: r");
    }
}
