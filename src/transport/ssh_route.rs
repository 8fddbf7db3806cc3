//! Where an SSH connection goes: the inventory's settings, then
//! `~/.ssh/config`, then OpenSSH's defaults, resolved into the list of
//! servers to pass through (jump hosts first, the target last).

use super::known_hosts::HostKeyChecking;
use super::ssh::{SshOptions, SshTarget};
use super::ssh_config::{ConfigPath, HostConfig, Origin, SshConfig, Tokens};
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Jump chains longer than this are a loop between config entries.
const MAX_JUMPS: usize = 8;

/// One SSH server on the way to a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The name as given (inventory `ansible_host`, or a ProxyJump entry); ssh config is looked up by it.
    pub alias: String,
    /// Where to connect (after `HostName`).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Remote user.
    pub user: String,
    /// Private key files to offer, in order.
    pub identities: Vec<Identity>,
    /// Offer ssh-agent keys too (`use_agent` and not `IdentitiesOnly`).
    pub use_agent: bool,
    /// The name looked up in known_hosts (`HostKeyAlias`, else `host`).
    pub known_hosts_name: String,
    /// The user's known_hosts files (accept-new records into the first).
    pub known_hosts_files: Vec<PathBuf>,
    /// The system's known_hosts files; unreadable ones are skipped, as ssh does.
    pub global_known_hosts_files: Vec<PathBuf>,
    /// How the host key is checked.
    pub checking: HostKeyChecking,
    /// Limit for TCP connect, handshake and authentication, each.
    pub connect_timeout: Duration,
}

impl Hop {
    /// `host:port`, with IPv6 addresses in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A private key file to offer, and who asked for it (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The key file.
    pub path: PathBuf,
    /// Where it was configured.
    pub source: IdentitySource,
}

/// Where an identity file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// The inventory (`ansible_ssh_private_key_file`): it must exist.
    Inventory,
    /// An `IdentityFile` line: skipped when missing, as ssh does.
    Config(Origin),
    /// One of `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa` that exists.
    Default,
}

/// The local user: `%u`, `%d`, `~` and the default remote user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// Login name.
    pub name: String,
    /// Home directory.
    pub home: PathBuf,
}

impl LocalUser {
    /// `$USER`/`$HOME`, falling back to the password database (containers
    /// often run without `USER`).
    pub fn current() -> LocalUser {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut entry = None;
        let mut lookup = || entry.get_or_insert_with(passwd_entry).clone();
        let name = env("USER").or_else(|| env("LOGNAME")).or_else(|| lookup().map(|(n, _)| n));
        let home = env("HOME").map(PathBuf::from).or_else(|| lookup().map(|(_, h)| h));
        LocalUser { name: name.unwrap_or_else(|| "root".into()), home: home.unwrap_or_else(|| PathBuf::from("/")) }
    }
}

/// Name and home of the real user id, from the password database.
fn passwd_entry() -> Option<(String, PathBuf)> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero `passwd` is a valid value of this plain C struct.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, writable memory of the stated
    // size; getpwuid_r stores only into `pwd` and `buf` and sets `result`.
    let rc = unsafe { libc::getpwuid_r(libc::getuid(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: on success both fields point to NUL-terminated strings inside `buf`, which is still alive.
    let (name, dir) = unsafe { (CStr::from_ptr(pwd.pw_name), CStr::from_ptr(pwd.pw_dir)) };
    Some((name.to_string_lossy().into_owned(), PathBuf::from(dir.to_string_lossy().into_owned())))
}

/// The servers to pass through to reach `target`: jump hosts in order, the target last.
pub fn resolve(target: &SshTarget, opts: &SshOptions, config: &SshConfig, me: &LocalUser) -> Result<Vec<Hop>, String> {
    let r = Resolver { config, opts, me, inventory_keys: &target.identity_files };
    let hc = config.lookup(&target.alias);
    let want = Want { alias: &target.alias, host: target.host.as_deref(), port: target.port, user: target.user.as_deref() };
    let last = r.hop(&want, &hc)?;
    let mut hops = Vec::new();
    let jump = match &target.proxy_jump {
        Some(spec) => Some((spec.as_str(), "the inventory's proxy jump".to_string())),
        None => hc.proxy_jump.as_deref().map(|spec| (spec, "ProxyJump in ssh config".to_string())),
    };
    if let Some((spec, from)) = jump {
        r.jump_chain(spec, &from, &mut hops, 0)?;
    }
    hops.push(last);
    Ok(hops)
}

/// What the caller fixed for one hop; the rest comes from ssh config.
struct Want<'a> {
    alias: &'a str,
    host: Option<&'a str>,
    port: Option<u16>,
    user: Option<&'a str>,
}

struct Resolver<'a> {
    config: &'a SshConfig,
    opts: &'a SshOptions,
    me: &'a LocalUser,
    /// Offered to jump hosts too: the same key often opens the bastion.
    inventory_keys: &'a [PathBuf],
}

impl Resolver<'_> {
    /// Adds the hops of a ProxyJump value. Like `ssh -J`, the first jump
    /// host's own ProxyJump (from ssh config) is honoured; the others' are not.
    fn jump_chain(&self, spec: &str, from: &str, out: &mut Vec<Hop>, depth: usize) -> Result<(), String> {
        if spec.eq_ignore_ascii_case("none") {
            return Ok(());
        }
        let jumps = parse_jumps(spec).map_err(|e| format!("{from} `{spec}`: {e}"))?;
        for (i, jump) in jumps.iter().enumerate() {
            if out.len() + depth >= MAX_JUMPS {
                return Err(format!("{from} `{spec}`: more than {MAX_JUMPS} jump hosts (do ProxyJump entries in ssh config refer to each other?)"));
            }
            let hc = self.config.lookup(&jump.host);
            if i == 0 {
                if let Some(own) = &hc.proxy_jump {
                    self.jump_chain(own, &format!("ProxyJump of {} in ssh config", jump.host), out, depth + 1)?;
                }
            }
            let want = Want { alias: &jump.host, host: None, port: jump.port, user: jump.user.as_deref() };
            out.push(self.hop(&want, &hc)?);
        }
        Ok(())
    }

    fn hop(&self, want: &Want<'_>, hc: &HostConfig) -> Result<Hop, String> {
        let (opts, me) = (self.opts, self.me);
        let host = want.host.map(str::to_string).or_else(|| hc.hostname.clone()).unwrap_or_else(|| want.alias.to_string());
        let port = want.port.or(hc.port).unwrap_or(22);
        let user = want.user.map(str::to_string).or_else(|| hc.user.clone()).unwrap_or_else(|| me.name.clone());
        let tokens = Tokens { home: &me.home, local_user: &me.name, remote_user: &user, host: &host, alias: want.alias, port };
        let expand = |paths: &[ConfigPath]| -> Result<Vec<PathBuf>, String> { paths.iter().map(|p| p.expand(&tokens).map_err(|e| e.to_string())).collect() };

        // Inventory keys first: they are the ones the user named for this run.
        let mut identities: Vec<Identity> =
            self.inventory_keys.iter().map(|path| Identity { path: expand_tilde(path, &me.home), source: IdentitySource::Inventory }).collect();
        for file in &hc.identity_files {
            let path = file.expand(&tokens).map_err(|e| e.to_string())?;
            if !identities.iter().any(|i| i.path == path) {
                identities.push(Identity { path, source: IdentitySource::Config(file.origin.clone()) });
            }
        }
        if identities.is_empty() {
            for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                let path = me.home.join(".ssh").join(name);
                if path.is_file() {
                    identities.push(Identity { path, source: IdentitySource::Default });
                }
            }
        }

        let user_files = match (&opts.known_hosts, &hc.user_known_hosts_files) {
            (Some(path), _) => vec![expand_tilde(path, &me.home)],
            (None, Some(files)) => expand(files)?,
            (None, None) => vec![me.home.join(".ssh/known_hosts"), me.home.join(".ssh/known_hosts2")],
        };
        let global_files = match &hc.global_known_hosts_files {
            Some(files) => expand(files)?,
            None => vec![PathBuf::from("/etc/ssh/ssh_known_hosts"), PathBuf::from("/etc/ssh/ssh_known_hosts2")],
        };

        Ok(Hop {
            alias: want.alias.to_string(),
            known_hosts_name: hc.host_key_alias.clone().unwrap_or_else(|| host.clone()),
            host,
            port,
            user,
            identities,
            use_agent: opts.use_agent && hc.identities_only != Some(true),
            known_hosts_files: user_files,
            global_known_hosts_files: global_files,
            checking: opts.host_key_checking,
            // a ConnectTimeout written for this host in ssh config is more
            // specific than the run-wide default
            connect_timeout: hc.connect_timeout.unwrap_or(opts.connect_timeout),
        })
    }
}

fn expand_tilde(path: &Path, home: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => home.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// One entry of a ProxyJump list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Jump {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

/// `[user@]host[:port][,...]`, also `ssh://[user@]host[:port]` and `[v6addr]:port`.
fn parse_jumps(spec: &str) -> Result<Vec<Jump>, String> {
    spec.split(',').map(|entry| parse_jump(entry.trim())).collect()
}

fn parse_jump(entry: &str) -> Result<Jump, String> {
    let rest = entry.strip_prefix("ssh://").unwrap_or(entry);
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((user, hostport)) if !user.is_empty() => (Some(user.to_string()), hostport),
        Some(_) => return Err(format!("empty user in `{entry}`")),
        None => (None, rest),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| format!("missing `]` in `{entry}`"))?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or_else(|| format!("expected `:port` after `]` in `{entry}`"))?)),
        }
    } else if hostport.matches(':').count() == 1 {
        let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
        (host, Some(port))
    } else {
        // no colon, or a bare IPv6 address
        (hostport, None)
    };
    if host.is_empty() {
        return Err(format!("no host in `{entry}`"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("bad port `{p}` in `{entry}`")),
        },
    };
    Ok(Jump { user, host: host.to_string(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(home: &Path) -> LocalUser {
        LocalUser { name: "me".into(), home: home.to_path_buf() }
    }

    fn opts() -> SshOptions {
        SshOptions { known_hosts: Some(PathBuf::from("/lab/known_hosts")), ..SshOptions::default() }
    }

    fn target(alias: &str) -> SshTarget {
        SshTarget { name: alias.into(), alias: alias.into(), host: None, port: None, user: None, identity_files: Vec::new(), proxy_jump: None }
    }

    fn config(text: &str) -> SshConfig {
        SshConfig::parse(text, Path::new("/home/me/.ssh/config"), Path::new("/home/me")).expect("config")
    }

    #[test]
    fn jump_entries() {
        let j = |user: Option<&str>, host: &str, port: Option<u16>| Jump { user: user.map(Into::into), host: host.into(), port };
        assert_eq!(
            parse_jumps("admin@bastion:2200,b2,ssh://u@[fe80::1]:22,[::1],::1").unwrap(),
            vec![j(Some("admin"), "bastion", Some(2200)), j(None, "b2", None), j(Some("u"), "fe80::1", Some(22)), j(None, "::1", None), j(None, "::1", None),]
        );
        assert_eq!(parse_jumps("h:http").unwrap_err(), "bad port `http` in `h:http`");
        assert_eq!(parse_jumps("a,,b").unwrap_err(), "no host in ``");
        assert_eq!(parse_jumps("@h").unwrap_err(), "empty user in `@h`");
    }

    #[test]
    fn inventory_beats_config_beats_defaults() {
        let cfg = config("Host db1\n  HostName 10.0.0.5\n  User admin\n  Port 2222\n  IdentityFile ~/.ssh/db_%r\n");
        let mut t = target("db1");
        let hops = resolve(&t, &opts(), &cfg, &me(Path::new("/home/me"))).unwrap();
        let h = &hops[0];
        assert_eq!((h.host.as_str(), h.port, h.user.as_str()), ("10.0.0.5", 2222, "admin"));
        assert_eq!(h.identities[0].path, Path::new("/home/me/.ssh/db_admin"));
        assert!(matches!(h.identities[0].source, IdentitySource::Config(_)));
        assert_eq!(h.known_hosts_files, [Path::new("/lab/known_hosts")]);

        t.host = Some("192.0.2.1".into());
        t.port = Some(22);
        t.user = Some("root".into());
        t.identity_files = vec![PathBuf::from("~/keys/lab")];
        let hops = resolve(&t, &opts(), &cfg, &me(Path::new("/home/me"))).unwrap();
        let h = &hops[0];
        assert_eq!((h.host.as_str(), h.port, h.user.as_str()), ("192.0.2.1", 22, "root"));
        assert_eq!(h.identities[0], Identity { path: PathBuf::from("/home/me/keys/lab"), source: IdentitySource::Inventory });
        assert_eq!(h.identities[1].path, Path::new("/home/me/.ssh/db_root"));
        assert_eq!(h.known_hosts_name, "192.0.2.1");
    }

    #[test]
    fn defaults_are_only_existing_keys_and_the_local_user() {
        let home = std::env::temp_dir().join(format!("ferry-route-{}", std::process::id()));
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_ecdsa"), "x").unwrap();
        let o = SshOptions { known_hosts: None, ..SshOptions::default() };
        let hops = resolve(&target("web1"), &o, &config(""), &me(&home)).unwrap();
        let h = &hops[0];
        assert_eq!((h.host.as_str(), h.port, h.user.as_str()), ("web1", 22, "me"));
        assert_eq!(h.identities, vec![Identity { path: home.join(".ssh/id_ecdsa"), source: IdentitySource::Default }]);
        assert_eq!(h.known_hosts_files, [home.join(".ssh/known_hosts"), home.join(".ssh/known_hosts2")]);
        assert_eq!(h.global_known_hosts_files[0], Path::new("/etc/ssh/ssh_known_hosts"));
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn config_known_hosts_alias_and_identities_only() {
        let cfg = config("Host t\n  UserKnownHostsFile ~/kh/%h\n  GlobalKnownHostsFile none\n  HostKeyAlias t-key\n  IdentitiesOnly yes\n  ConnectTimeout 3\n");
        let o = SshOptions { known_hosts: None, ..SshOptions::default() };
        let h = &resolve(&target("t"), &o, &cfg, &me(Path::new("/home/me"))).unwrap()[0];
        assert_eq!(h.known_hosts_files, vec![PathBuf::from("/home/me/kh/t")]);
        assert!(h.global_known_hosts_files.is_empty());
        assert_eq!(h.known_hosts_name, "t-key");
        assert!(!h.use_agent);
        assert_eq!(h.connect_timeout, Duration::from_secs(3));
    }

    #[test]
    fn jump_hosts_resolve_through_config_and_chain() {
        let cfg = config(
            "Host target\n  HostName 127.0.0.1\n  ProxyJump ops@bastion\n\
             Host bastion\n  HostName 198.51.100.1\n  Port 2200\n  ProxyJump outer\n\
             Host outer\n  HostName 203.0.113.9\n",
        );
        let hops = resolve(&target("target"), &opts(), &cfg, &me(Path::new("/home/me"))).unwrap();
        let got: Vec<(String, String)> = hops.iter().map(|h| (h.user.clone(), h.address())).collect();
        let want = [("me", "203.0.113.9:22"), ("ops", "198.51.100.1:2200"), ("me", "127.0.0.1:22")];
        assert_eq!(got, want.map(|(u, a)| (u.to_string(), a.to_string())));

        // the inventory's jump list replaces the config's, and `none` disables it
        let mut t = target("target");
        t.proxy_jump = Some("10.9.9.9:2022".into());
        let hops = resolve(&t, &opts(), &cfg, &me(Path::new("/home/me"))).unwrap();
        assert_eq!(hops.iter().map(Hop::address).collect::<Vec<_>>(), ["10.9.9.9:2022", "127.0.0.1:22"]);
        t.proxy_jump = Some("none".into());
        assert_eq!(resolve(&t, &opts(), &cfg, &me(Path::new("/home/me"))).unwrap().len(), 1);
    }

    #[test]
    fn jump_loops_are_reported() {
        let cfg = config("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n");
        let err = resolve(&target("a"), &opts(), &cfg, &me(Path::new("/home/me"))).unwrap_err();
        assert!(err.contains("more than 8 jump hosts"), "{err}");
    }
}
