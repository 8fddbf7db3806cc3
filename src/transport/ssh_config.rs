//! The part of OpenSSH's client configuration (`~/.ssh/config`, see
//! ssh_config(5)) that ferry honours, read with OpenSSH's rules: the first
//! value obtained for a keyword wins, `Host` takes several patterns with `*`,
//! `?` and `!`, `Include` splices files in place (relative to `~/.ssh`, with
//! globs). `Match` blocks and keywords ferry does not use are skipped, so a
//! config written for `ssh` never stops a run.

use super::host_pattern::match_list;
use super::known_hosts::HostKeyChecking;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Nested `Include`s deeper than this are a loop (OpenSSH uses the same limit).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Where a setting was written: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The config file.
    pub file: Arc<Path>,
    /// 1-based line; 0 for problems with the file as a whole.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A mistake in an ssh config file, pointing at the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// Where.
    pub origin: Origin,
    /// What is wrong, and what to write instead.
    pub message: String,
}

/// A path-valued setting (`IdentityFile`, `UserKnownHostsFile`) as written;
/// `~` and `%` tokens are expanded once the remote user is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPath {
    /// The value as written in the file.
    pub raw: String,
    /// Where it was written.
    pub origin: Origin,
}

/// Values for the `%` tokens OpenSSH expands in paths.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    /// `%d` and `~`: the local home directory.
    pub home: &'a Path,
    /// `%u`: the local user.
    pub local_user: &'a str,
    /// `%r`: the remote user.
    pub remote_user: &'a str,
    /// `%h`: the remote host name (after `HostName`).
    pub host: &'a str,
    /// `%n`: the name as given (the alias).
    pub alias: &'a str,
    /// `%p`: the remote port.
    pub port: u16,
}

impl ConfigPath {
    /// The path with `~` and `%d %u %r %h %n %p %%` expanded.
    pub fn expand(&self, tokens: &Tokens<'_>) -> Result<PathBuf, ConfigError> {
        let raw = self.raw.as_str();
        let mut out = String::with_capacity(raw.len());
        let rest = if raw == "~" {
            out.push_str(&tokens.home.to_string_lossy());
            ""
        } else if let Some(rest) = raw.strip_prefix("~/") {
            out.push_str(&tokens.home.to_string_lossy());
            out.push('/');
            rest
        } else {
            raw
        };
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('d') => out.push_str(&tokens.home.to_string_lossy()),
                Some('u') => out.push_str(tokens.local_user),
                Some('r') => out.push_str(tokens.remote_user),
                Some('h') => out.push_str(tokens.host),
                Some('n') => out.push_str(tokens.alias),
                Some('p') => out.push_str(&tokens.port.to_string()),
                other => {
                    let shown = other.map(|c| format!("%{c}")).unwrap_or_else(|| "a lone %".into());
                    return Err(ConfigError {
                        origin: self.origin.clone(),
                        message: format!("{shown} in `{raw}` is not a token ferry expands (use %d %u %r %h %n %p, or %% for a literal %)"),
                    });
                }
            }
        }
        Ok(PathBuf::from(out))
    }
}

/// Everything the config says about one host (the first value of each keyword).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, with `%h` already replaced by the alias.
    pub hostname: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// Every matching `IdentityFile`, in order (this keyword accumulates).
    pub identity_files: Vec<ConfigPath>,
    /// `ProxyJump` as written; `none` means "no jump" and overrides later values.
    pub proxy_jump: Option<String>,
    /// `UserKnownHostsFile` (several files allowed; `none` gives an empty list).
    pub user_known_hosts_files: Option<Vec<ConfigPath>>,
    /// `GlobalKnownHostsFile`.
    pub global_known_hosts_files: Option<Vec<ConfigPath>>,
    /// `StrictHostKeyChecking` (`ask` reads as strict: ferry never asks).
    pub strict_host_key_checking: Option<HostKeyChecking>,
    /// `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// `HostKeyAlias`: the name to look up in known_hosts instead of the host name.
    pub host_key_alias: Option<String>,
    /// `IdentitiesOnly`: when yes, agent keys are not offered.
    pub identities_only: Option<bool>,
}

/// A parsed config: directives in file order, each with the `Host` blocks it sits in.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    directives: Vec<Directive>,
}

#[derive(Debug, Clone)]
struct Directive {
    /// All must match: the block in the file, plus the blocks of the files
    /// that included it (an `Include` inside `Host a` only applies to `a`).
    when: Vec<Arc<Condition>>,
    setting: Setting,
    origin: Origin,
}

#[derive(Debug)]
enum Condition {
    Host(Vec<String>),
    /// Inside a `Match` block, which ferry does not evaluate.
    Never,
}

#[derive(Debug, Clone)]
enum Setting {
    HostName(String),
    User(String),
    Port(u16),
    IdentityFile(String),
    ProxyJump(String),
    UserKnownHostsFile(Vec<String>),
    GlobalKnownHostsFile(Vec<String>),
    StrictHostKeyChecking(HostKeyChecking),
    ConnectTimeout(Duration),
    HostKeyAlias(String),
    IdentitiesOnly(bool),
}

impl SshConfig {
    /// Reads `path` and the files it includes. `home` anchors `~` and
    /// relative `Include`s (`~/.ssh/...`).
    pub fn load(path: &Path, home: &Path) -> Result<SshConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { origin: Origin { file: path.into(), line: 0 }, message: format!("cannot read ssh config: {e}") })?;
        Self::parse(&text, path, home)
    }

    /// Parses `text` as if read from `file`.
    pub fn parse(text: &str, file: &Path, home: &Path) -> Result<SshConfig, ConfigError> {
        let mut config = SshConfig::default();
        config.read(text, file.into(), &[], home, 0)?;
        Ok(config)
    }

    fn read(&mut self, text: &str, file: Arc<Path>, enclosing: &[Arc<Condition>], home: &Path, depth: usize) -> Result<(), ConfigError> {
        let mut when: Vec<Arc<Condition>> = enclosing.to_vec();
        for (index, raw_line) in text.lines().enumerate() {
            let origin = Origin { file: file.clone(), line: index + 1 };
            let fail = |message: String| ConfigError { origin: origin.clone(), message };
            let Some((keyword, args)) = split_line(raw_line).map_err(fail)? else {
                continue;
            };
            let keyword = keyword.to_ascii_lowercase();
            match keyword.as_str() {
                "host" => {
                    if args.is_empty() {
                        return Err(fail("`Host` needs at least one pattern".into()));
                    }
                    when = enclosing.to_vec();
                    when.push(Arc::new(Condition::Host(args)));
                }
                "match" => {
                    when = enclosing.to_vec();
                    when.push(Arc::new(Condition::Never));
                }
                "include" => {
                    if args.is_empty() {
                        return Err(fail("`Include` needs a file name".into()));
                    }
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(fail(format!("`Include` nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)")));
                    }
                    for pattern in &args {
                        for path in include_paths(pattern, home).map_err(fail)? {
                            let text = match std::fs::read_to_string(&path) {
                                Ok(text) => text,
                                // OpenSSH skips includes that do not exist.
                                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                                Err(e) => return Err(fail(format!("cannot read included file {}: {e}", path.display()))),
                            };
                            self.read(&text, path.as_path().into(), &when, home, depth + 1)?;
                        }
                    }
                }
                _ => {
                    if let Some(setting) = parse_setting(&keyword, &args).map_err(fail)? {
                        self.directives.push(Directive { when: when.clone(), setting, origin });
                    }
                }
            }
        }
        Ok(())
    }

    /// The settings that apply to `alias` (the name as given, before `HostName`).
    pub fn lookup(&self, alias: &str) -> HostConfig {
        let mut out = HostConfig::default();
        for d in &self.directives {
            let applies = d.when.iter().all(|c| match c.as_ref() {
                Condition::Host(patterns) => match_list(patterns.iter().map(String::as_str), alias),
                Condition::Never => false,
            });
            if !applies {
                continue;
            }
            let path = |raw: &String| ConfigPath { raw: raw.clone(), origin: d.origin.clone() };
            match &d.setting {
                Setting::HostName(v) => set_once(&mut out.hostname, || expand_hostname(v, alias)),
                Setting::User(v) => set_once(&mut out.user, || v.clone()),
                Setting::Port(v) => set_once(&mut out.port, || *v),
                Setting::IdentityFile(v) => out.identity_files.push(path(v)),
                Setting::ProxyJump(v) => set_once(&mut out.proxy_jump, || v.clone()),
                Setting::UserKnownHostsFile(v) => set_once(&mut out.user_known_hosts_files, || v.iter().map(path).collect()),
                Setting::GlobalKnownHostsFile(v) => set_once(&mut out.global_known_hosts_files, || v.iter().map(path).collect()),
                Setting::StrictHostKeyChecking(v) => set_once(&mut out.strict_host_key_checking, || *v),
                Setting::ConnectTimeout(v) => set_once(&mut out.connect_timeout, || *v),
                Setting::HostKeyAlias(v) => set_once(&mut out.host_key_alias, || v.clone()),
                Setting::IdentitiesOnly(v) => set_once(&mut out.identities_only, || *v),
            }
        }
        out
    }
}

fn set_once<T>(slot: &mut Option<T>, value: impl FnOnce() -> T) {
    if slot.is_none() {
        *slot = Some(value());
    }
}

/// `HostName` knows `%h` (the alias) and `%%`.
fn expand_hostname(value: &str, alias: &str) -> String {
    value.replace("%%", "\u{0}").replace("%h", alias).replace('\u{0}', "%")
}

/// The files an `Include` argument names: `~` expanded, relative to `~/.ssh`, globbed, sorted.
fn include_paths(pattern: &str, home: &Path) -> Result<Vec<PathBuf>, String> {
    let path = if let Some(rest) = pattern.strip_prefix("~/") {
        home.join(rest)
    } else if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        home.join(".ssh").join(pattern)
    };
    let text = path.to_string_lossy();
    let entries = glob::glob(&text).map_err(|e| format!("bad pattern in `Include {pattern}`: {e}"))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).filter(|p| !p.is_dir()).collect();
    paths.sort();
    Ok(paths)
}

/// Splits a config line into keyword and arguments. `Keyword value`,
/// `Keyword=value` and `"quoted values"` are accepted; `#` starts a comment.
fn split_line(line: &str) -> Result<Option<(&str, Vec<String>)>, String> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);

    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => quoted = !quoted,
                '\\' if matches!(chars.peek(), Some('"' | '\\')) => arg.extend(chars.next()),
                c if c.is_whitespace() && !quoted => break,
                c => arg.push(c),
            }
        }
        if quoted {
            return Err(format!("unterminated quote after `{keyword}`"));
        }
        args.push(arg);
    }
    Ok(Some((keyword, args)))
}

fn parse_setting(keyword: &str, args: &[String]) -> Result<Option<Setting>, String> {
    let one = |name: &str| match args {
        [value] => Ok(value.clone()),
        [] => Err(format!("`{name}` needs a value")),
        _ => Err(format!("`{name}` takes one value, got {}", args.len())),
    };
    let yes_no = |name: &str| match one(name)?.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        other => Err(format!("`{name}` must be yes or no, got `{other}`")),
    };
    Ok(Some(match keyword {
        "hostname" => Setting::HostName(one("HostName")?),
        "user" => Setting::User(one("User")?),
        "port" => {
            let value = one("Port")?;
            match value.parse::<u16>() {
                Ok(port) if port > 0 => Setting::Port(port),
                _ => return Err(format!("`Port` must be a number from 1 to 65535, got `{value}`")),
            }
        }
        "identityfile" => Setting::IdentityFile(one("IdentityFile")?),
        "proxyjump" => Setting::ProxyJump(one("ProxyJump")?),
        "userknownhostsfile" | "globalknownhostsfile" => {
            if args.is_empty() {
                return Err(format!("`{keyword}` needs at least one file"));
            }
            let files = if args.len() == 1 && args[0].eq_ignore_ascii_case("none") { Vec::new() } else { args.to_vec() };
            if keyword == "userknownhostsfile" {
                Setting::UserKnownHostsFile(files)
            } else {
                Setting::GlobalKnownHostsFile(files)
            }
        }
        "stricthostkeychecking" => {
            let value = one("StrictHostKeyChecking")?;
            Setting::StrictHostKeyChecking(match value.to_ascii_lowercase().as_str() {
                "yes" | "true" | "ask" => HostKeyChecking::Strict,
                "accept-new" => HostKeyChecking::AcceptNew,
                "no" | "false" | "off" => HostKeyChecking::Off,
                _ => return Err(format!("`StrictHostKeyChecking` must be yes, accept-new, no or ask, got `{value}`")),
            })
        }
        "connecttimeout" => {
            let value = one("ConnectTimeout")?;
            match value.parse::<u64>() {
                Ok(secs) if secs > 0 => Setting::ConnectTimeout(Duration::from_secs(secs)),
                _ => return Err(format!("`ConnectTimeout` must be a whole number of seconds above 0, got `{value}`")),
            }
        }
        "hostkeyalias" => Setting::HostKeyAlias(one("HostKeyAlias")?),
        "identitiesonly" => Setting::IdentitiesOnly(yes_no("IdentitiesOnly")?),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SshConfig {
        SshConfig::parse(text, Path::new("/home/u/.ssh/config"), Path::new("/home/u")).expect("config parses")
    }

    fn tokens<'a>(home: &'a Path) -> Tokens<'a> {
        Tokens { home, local_user: "me", remote_user: "root", host: "10.0.0.5", alias: "db1", port: 2222 }
    }

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let cfg = parse(
            "Host db1\n  User admin\n  IdentityFile ~/.ssh/db\n\
             Host *\n  User root\n  Port 2222\n  IdentityFile ~/.ssh/id_ed25519\n",
        );
        let h = cfg.lookup("db1");
        assert_eq!(h.user.as_deref(), Some("admin"));
        assert_eq!(h.port, Some(2222));
        let files: Vec<&str> = h.identity_files.iter().map(|p| p.raw.as_str()).collect();
        assert_eq!(files, ["~/.ssh/db", "~/.ssh/id_ed25519"]);
        assert_eq!(cfg.lookup("web1").user.as_deref(), Some("root"));
    }

    #[test]
    fn several_patterns_wildcards_and_negation() {
        let cfg = parse("Host web? *.lab !db*.lab\n  User web\nHost db*\n  User db\n");
        assert_eq!(cfg.lookup("web1").user.as_deref(), Some("web"));
        assert_eq!(cfg.lookup("x.lab").user.as_deref(), Some("web"));
        assert_eq!(cfg.lookup("db1.lab").user.as_deref(), Some("db"));
        assert_eq!(cfg.lookup("web10").user, None);
    }

    #[test]
    fn match_blocks_are_skipped_until_the_next_host() {
        let cfg = parse("Match host db1 exec \"true\"\n  User matched\nHost db1\n  User plain\n");
        assert_eq!(cfg.lookup("db1").user.as_deref(), Some("plain"));
    }

    #[test]
    fn lines_before_any_host_apply_to_all() {
        let cfg = parse("User everyone\nHost a\n  User a\n");
        assert_eq!(cfg.lookup("a").user.as_deref(), Some("everyone"));
    }

    #[test]
    fn equals_quotes_comments_and_case() {
        let cfg = parse("# comment\n\n  HOSTNAME=10.0.0.9\nuser = \"ad min\" # trailing\nIdentityFile \"/k/with space\"\n");
        let h = cfg.lookup("anything");
        assert_eq!(h.hostname.as_deref(), Some("10.0.0.9"));
        assert_eq!(h.user.as_deref(), Some("ad min"));
        assert_eq!(h.identity_files[0].raw, "/k/with space");
    }

    #[test]
    fn hostname_expands_percent_h() {
        let cfg = parse("Host *.lab\n  HostName %h.example.com\n");
        assert_eq!(cfg.lookup("db1.lab").hostname.as_deref(), Some("db1.lab.example.com"));
    }

    #[test]
    fn proxy_jump_known_hosts_and_checking() {
        let cfg = parse(
            "Host t\n  ProxyJump admin@bastion:2200,b2\n  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2\n\
             StrictHostKeyChecking accept-new\n  ConnectTimeout 7\n  HostKeyAlias t-key\n  IdentitiesOnly yes\n\
             Host *\n  StrictHostKeyChecking no\n  GlobalKnownHostsFile none\n",
        );
        let h = cfg.lookup("t");
        assert_eq!(h.proxy_jump.as_deref(), Some("admin@bastion:2200,b2"));
        let kh: Vec<&str> = h.user_known_hosts_files.iter().flatten().map(|p| p.raw.as_str()).collect();
        assert_eq!(kh, ["~/.ssh/kh1", "/etc/kh2"]);
        assert_eq!(h.global_known_hosts_files, Some(vec![]));
        assert_eq!(h.strict_host_key_checking, Some(HostKeyChecking::AcceptNew));
        assert_eq!(h.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(h.host_key_alias.as_deref(), Some("t-key"));
        assert_eq!(h.identities_only, Some(true));
        assert_eq!(cfg.lookup("other").strict_host_key_checking, Some(HostKeyChecking::Off));
    }

    #[test]
    fn bad_values_point_at_the_line() {
        let err = SshConfig::parse("Host a\n  Port http\n", Path::new("/c"), Path::new("/h")).unwrap_err();
        assert_eq!(err.to_string(), "/c:2: `Port` must be a number from 1 to 65535, got `http`");
        let err = SshConfig::parse("StrictHostKeyChecking maybe\n", Path::new("/c"), Path::new("/h")).unwrap_err();
        assert!(err.to_string().starts_with("/c:1: `StrictHostKeyChecking` must be"), "{err}");
        let err = SshConfig::parse("User \"open\n", Path::new("/c"), Path::new("/h")).unwrap_err();
        assert_eq!(err.to_string(), "/c:1: unterminated quote after `User`");
        let err = SshConfig::parse("Host\n", Path::new("/c"), Path::new("/h")).unwrap_err();
        assert_eq!(err.to_string(), "/c:1: `Host` needs at least one pattern");
    }

    #[test]
    fn unknown_keywords_are_ignored() {
        let cfg = parse("ForwardAgent yes\nControlMaster auto\nUser u\n");
        assert_eq!(cfg.lookup("x").user.as_deref(), Some("u"));
    }

    #[test]
    fn path_tokens() {
        let home = Path::new("/home/me");
        let p = |raw: &str| ConfigPath { raw: raw.into(), origin: Origin { file: Path::new("/c").into(), line: 3 } };
        assert_eq!(p("~/.ssh/id_%r@%h:%p").expand(&tokens(home)).unwrap(), Path::new("/home/me/.ssh/id_root@10.0.0.5:2222"));
        assert_eq!(p("%d/%u/%n/100%%").expand(&tokens(home)).unwrap(), Path::new("/home/me/me/db1/100%"));
        assert_eq!(p("~").expand(&tokens(home)).unwrap(), Path::new("/home/me"));
        let err = p("/k/%C").expand(&tokens(home)).unwrap_err();
        assert!(err.to_string().starts_with("/c:3: %C in `/k/%C` is not a token"), "{err}");
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferry-ssh-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".ssh/conf.d")).expect("temp dir");
        dir
    }

    #[test]
    fn include_is_relative_to_dot_ssh_globbed_and_scoped_to_its_block() {
        let home = scratch_dir("include");
        let ssh = home.join(".ssh");
        std::fs::write(ssh.join("conf.d/10-db.conf"), "Host db*\n  User db\n  Port 2201\n").unwrap();
        std::fs::write(ssh.join("conf.d/20-rest.conf"), "Port 2299\nUser rest\n").unwrap();
        std::fs::write(ssh.join("only-web"), "IdentityFile ~/.ssh/web\n").unwrap();
        let main = "Include conf.d/*.conf missing-file\nHost web*\n  Include only-web\nHost *\n  User fallback\n";
        let cfg = SshConfig::parse(main, &ssh.join("config"), &home).expect("parses");

        let db = cfg.lookup("db1");
        assert_eq!((db.user.as_deref(), db.port), (Some("db"), Some(2201)));
        // 20-rest.conf has no Host line: it applies to every host, like the
        // top of the file that included it
        let web = cfg.lookup("web1");
        assert_eq!((web.user.as_deref(), web.port), (Some("rest"), Some(2299)));
        assert_eq!(web.identity_files.len(), 1);
        assert!(web.identity_files[0].origin.file.ends_with("only-web"));
        // the include under `Host web*` does not leak to other hosts
        assert!(cfg.lookup("db1").identity_files.is_empty());
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn include_loop_is_an_error() {
        let home = scratch_dir("loop");
        std::fs::write(home.join(".ssh/config"), "Include config\n").unwrap();
        let err = SshConfig::load(&home.join(".ssh/config"), &home).unwrap_err();
        assert!(err.message.contains("nested more than 16 deep"), "{err}");
        let _ = std::fs::remove_dir_all(&home);
    }
}
