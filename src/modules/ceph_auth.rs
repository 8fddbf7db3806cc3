//! `ceph_auth`: a CephX user with exactly the given caps
//! (`ceph auth get-or-create NAME mon '...' osd '...'`, `ceph auth caps` when
//! they differ), its keyring in `result.keyring` (the key is registered as a
//! secret, so the engine masks it everywhere), and optionally the keyring
//! file `dest`, written 0600 and atomically on the host itself: the key
//! goes from `ceph auth get` into the file without passing through argv or
//! the controller.

use super::args::{self, Mode, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster};
use super::remote_file::{self, FileState, Kind};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::ceph::CommandErrorKind;
use crate::transport::RemoteCommand;
use crate::vars::Value;
use indexmap::IndexMap;
use serde::Deserialize;

const MODULE: &str = "ceph_auth";
const CAP_TYPES: [&str; 4] = ["mon", "osd", "mgr", "mds"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "entity", alias = "user")]
    name: Text,
    caps: Option<IndexMap<String, Text>>,
    state: Option<Text>,
    dest: Option<Text>,
    mode: Option<Mode>,
}

/// A CephX user and, optionally, its keyring file.
#[derive(Debug)]
pub struct CephAuthModule {
    cluster: Cluster,
    name: String,
    caps: Option<IndexMap<String, String>>,
    present: bool,
    dest: Option<String>,
    mode: u32,
}

/// The user as the cluster has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The secret key.
    pub key: String,
    /// Caps by daemon type.
    pub caps: IndexMap<String, String>,
}

/// What `observe` learned.
#[derive(Debug, Clone, Default)]
pub struct AuthState {
    /// The user, when it exists.
    pub user: Option<AuthUser>,
    /// The keyring file at `dest`, when asked for.
    pub dest: Option<FileState>,
}

impl CephAuthModule {
    /// From `ceph_auth:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let name = a.name.0.trim().to_string();
        let valid = name.split_once('.').is_some_and(|(kind, id)| {
            ["client", "mgr", "osd", "mds", "mon"].contains(&kind) && !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
        if !valid {
            return Err(arg_err(MODULE, "name", format!("`name` must be TYPE.ID such as client.rbd-mirror-peer, not `{name}`")));
        }
        let present = match a.state.as_ref().map(|s| s.0.trim()) {
            None | Some("present") => true,
            Some("absent") => false,
            Some(other) => return Err(arg_err(MODULE, "state", format!("`state` must be present or absent, not `{other}`"))),
        };
        let caps = match a.caps {
            None => None,
            Some(map) => {
                let mut caps = IndexMap::new();
                for (kind, cap) in map {
                    if !CAP_TYPES.contains(&kind.as_str()) {
                        return Err(arg_err(
                            MODULE,
                            &format!("caps.{kind}"),
                            format!("caps are given per daemon type ({}), not `{kind}`", CAP_TYPES.join(", ")),
                        ));
                    }
                    caps.insert(kind, cap.0.trim().to_string());
                }
                Some(caps)
            }
        };
        if !present && (caps.is_some() || a.dest.is_some()) {
            return Err(arg_err(MODULE, "state", "`state: absent` removes the user; it takes no `caps` or `dest`"));
        }
        let dest = match a.dest {
            Some(t) if t.0.starts_with('/') => Some(t.0),
            Some(t) => return Err(arg_err(MODULE, "dest", format!("`dest` must be an absolute path, not `{}`", t.0))),
            None => None,
        };
        Ok(CephAuthModule { cluster, name, caps, present, dest, mode: a.mode.map_or(0o600, |m| m.0) })
    }

    /// `ceph ... auth get NAME` written to `dest` through a 0600 temp file in
    /// the same folder, then renamed: no reader sees half a file and the key
    /// is never world-readable.
    fn write_dest(&self, dest: &str) -> RemoteCommand {
        const SCRIPT: &str = r#"set -e
dest=$1; mode=$2; name=$3; shift 3
umask 077
t=$(mktemp -- "$(dirname -- "$dest")/.ferry.XXXXXXXX")
trap 'rm -f -- "$t"' EXIT
"$@" auth get "$name" > "$t"
chmod -- "$mode" "$t"
mv -f -- "$t" "$dest"
trap - EXIT"#;
        let mut argv = vec!["/bin/sh".to_string(), "-c".into(), SCRIPT.into(), "sh".into(), dest.to_string(), format!("{:o}", self.mode), self.name.clone()];
        argv.push("ceph".into());
        argv.extend(self.cluster.global_args());
        RemoteCommand::argv(argv)
    }

    fn caps_words(&self, caps: &IndexMap<String, String>) -> Vec<String> {
        caps.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect()
    }
}

/// Parses `ceph auth get NAME --format json`: `[{"entity","key","caps":{...}}]`.
pub fn parse_auth_get(text: &str) -> Result<Option<AuthUser>, String> {
    let items = ceph_cli::json_array("ceph auth get", text)?;
    let Some(entry) = items.first() else { return Ok(None) };
    let key = ceph_cli::str_field(entry, "key").unwrap_or_default().to_string();
    let caps = entry
        .get("caps")
        .and_then(serde_json::Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default();
    Ok(Some(AuthUser { key, caps }))
}

/// The `key = ...` of section `[name]` in a keyring file.
pub fn keyring_key(content: &str, name: &str) -> Option<String> {
    let mut in_section = false;
    for line in content.lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = section.trim() == name;
        } else if in_section {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "key" {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// The minimal keyring a client needs.
pub fn keyring_text(name: &str, key: &str) -> String {
    format!("[{name}]\n\tkey = {key}\n")
}

fn describe_caps(caps: &IndexMap<String, String>) -> String {
    caps.iter().map(|(k, v)| format!("{k} '{v}'")).collect::<Vec<_>>().join(", ")
}

impl StatefulModule for CephAuthModule {
    type State = AuthState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<AuthState, ModuleError> {
        let cmd = self.cluster.ceph(["auth", "get", self.name.as_str(), "--format", "json"]);
        let user = match ceph_cli::query(cx, &cmd).await? {
            Ok(out) => parse_auth_get(&out.stdout).map_err(|e| ceph_cli::parse_failure(&cmd, "(not shown: it holds the key)", &e))?,
            // `Error ENOENT: failed to find client.x in keyring`
            Err((_, out)) if out.rc == 2 => None,
            Err((err, out)) => {
                let hint = if err.kind == CommandErrorKind::PermissionDenied {
                    Some(ceph_cli::with_remedy(&err, "reading and creating users needs `mon 'allow *'` caps: run this with the admin keyring"))
                } else {
                    None
                };
                return Err(ceph_cli::failure("could not observe the current state", &cmd, &out, &err, hint));
            }
        };
        let dest = match &self.dest {
            Some(d) => Some(remote_file::observe(cx, d, true).await?),
            None => None,
        };
        Ok(AuthState { user, dest })
    }

    fn plan(&self, st: &AuthState) -> Result<Vec<Change>, Failure> {
        let name = &self.name;
        let mut changes = Vec::new();
        if !self.present {
            if st.user.is_some() {
                changes.push(Change {
                    summary: format!("remove CephX user {name}"),
                    commands: vec![self.cluster.ceph(["auth", "del", name.as_str()])],
                    diff: None,
                });
            }
            return Ok(changes);
        }
        match (&st.user, &self.caps) {
            (None, None) => {
                return Err(Failure::msg(format!("CephX user {name} does not exist on cluster {} and no `caps` were given to create it", self.cluster.name)))
            }
            (None, Some(caps)) => {
                let mut argv = vec!["auth".to_string(), "get-or-create".into(), name.clone()];
                argv.extend(self.caps_words(caps));
                changes.push(Change {
                    summary: format!("create CephX user {name} ({})", describe_caps(caps)),
                    commands: vec![self.cluster.ceph(argv)],
                    diff: None,
                });
            }
            (Some(user), Some(caps)) if &user.caps != caps => {
                let mut what: Vec<String> = caps
                    .iter()
                    .filter(|(k, v)| user.caps.get(*k) != Some(*v))
                    .map(|(k, v)| match user.caps.get(k) {
                        Some(old) => format!("{k} '{v}' (was '{old}')"),
                        None => format!("{k} '{v}' (new)"),
                    })
                    .collect();
                what.extend(user.caps.keys().filter(|k| !caps.contains_key(*k)).map(|k| format!("drop {k}")));
                let mut argv = vec!["auth".to_string(), "caps".into(), name.clone()];
                argv.extend(self.caps_words(caps));
                changes.push(Change { summary: format!("set caps of {name}: {}", what.join(", ")), commands: vec![self.cluster.ceph(argv)], diff: None });
            }
            _ => {}
        }
        if let (Some(dest), Some(file)) = (&self.dest, &st.dest) {
            let key_in_file = file.content.as_deref().and_then(|c| keyring_key(&String::from_utf8_lossy(c), name));
            let key_now = st.user.as_ref().map(|u| u.key.as_str());
            match file.kind {
                Kind::Directory | Kind::Other => return Err(Failure::msg(format!("{dest} exists and is not a regular file"))),
                _ => {}
            }
            if file.kind != Kind::File || key_now.is_none() || key_in_file.as_deref() != key_now {
                let verb = if file.kind == Kind::Absent { "write" } else { "rewrite" };
                changes.push(Change {
                    summary: format!("{verb} the keyring of {name} to {dest} (mode {:o})", self.mode),
                    commands: vec![self.write_dest(dest)],
                    diff: None,
                });
            } else if file.mode != Some(self.mode) {
                changes.push(Change {
                    summary: format!("chmod {:o} {dest}", self.mode),
                    commands: vec![RemoteCommand::argv(["chmod".to_string(), format!("{:o}", self.mode), "--".into(), dest.clone()])],
                    diff: None,
                });
            }
        }
        Ok(changes)
    }
}

impl CephModule for CephAuthModule {
    fn secrets(&self, before: &AuthState, after: Option<&AuthState>) -> Vec<String> {
        after.unwrap_or(before).user.iter().map(|u| u.key.clone()).filter(|k| !k.is_empty()).collect()
    }

    fn report(&self, before: &AuthState, after: Option<&AuthState>) -> serde_json::Map<String, Value> {
        let st = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.name.clone().into());
        m.insert("exists".into(), st.user.is_some().into());
        if let Some(user) = &st.user {
            m.insert("key".into(), user.key.clone().into());
            m.insert("keyring".into(), keyring_text(&self.name, &user.key).into());
            m.insert("caps".into(), serde_json::to_value(&user.caps).unwrap_or_default());
        }
        if let Some(d) = &self.dest {
            m.insert("dest".into(), d.clone().into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `ceph auth get client.admin --format json` on the lab (key replaced).
    const ADMIN: &str = include_str!("../../tests/fixtures/ceph/cli/site-a.auth-get.client-admin.json");

    fn module(args: Value) -> CephAuthModule {
        CephAuthModule::from_args(&args).unwrap()
    }

    fn user(mon: &str, osd: &str) -> AuthUser {
        AuthUser { key: "AQBkey==".into(), caps: [("mon".to_string(), mon.to_string()), ("osd".to_string(), osd.to_string())].into_iter().collect() }
    }

    fn file(kind: Kind, content: Option<&str>, mode: u32) -> FileState {
        FileState {
            mode: Some(mode),
            content: content.map(|c| c.as_bytes().to_vec()),
            ..FileState::bare("/etc/ceph/site-b.client.rbd-mirror.site-b.keyring", kind)
        }
    }

    #[test]
    fn real_auth_get_parses() {
        let u = parse_auth_get(ADMIN).unwrap().unwrap();
        assert!(u.key.starts_with("AQ"));
        assert_eq!(u.caps.get("mon").map(String::as_str), Some("allow *"));
        assert_eq!(u.caps.len(), 4);
        assert_eq!(parse_auth_get("[]").unwrap(), None);
        assert!(parse_auth_get("{}").is_err());
    }

    #[test]
    fn creates_a_missing_user_with_its_caps() {
        let m = module(json!({"name": "client.rbd-mirror.site-b", "caps": {"mon": "profile rbd-mirror", "osd": "profile rbd"}, "cluster": "site-b"}));
        let changes = m.plan(&AuthState::default()).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].summary, "create CephX user client.rbd-mirror.site-b (mon 'profile rbd-mirror', osd 'profile rbd')");
        assert_eq!(
            changes[0].commands[0].to_string(),
            "ceph --cluster site-b auth get-or-create client.rbd-mirror.site-b mon 'profile rbd-mirror' osd 'profile rbd'"
        );
        let same = AuthState { user: Some(user("profile rbd-mirror", "profile rbd")), dest: None };
        assert!(m.plan(&same).unwrap().is_empty());
    }

    #[test]
    fn different_caps_are_replaced_and_named() {
        let m = module(json!({"name": "client.x", "caps": {"mon": "profile rbd-mirror", "osd": "profile rbd"}}));
        let mut u = user("allow r", "profile rbd");
        u.caps.insert("mds".into(), "allow".into());
        let changes = m.plan(&AuthState { user: Some(u), dest: None }).unwrap();
        assert_eq!(changes[0].summary, "set caps of client.x: mon 'profile rbd-mirror' (was 'allow r'), drop mds");
        assert!(changes[0].commands[0].to_string().starts_with("ceph --cluster ceph auth caps client.x mon"));
    }

    #[test]
    fn keyring_file_is_written_when_absent_or_stale_and_chmodded_when_only_the_mode_differs() {
        let m = module(json!({"name": "client.x", "dest": "/etc/ceph/ceph.client.x.keyring"}));
        let u = Some(user("a", "b"));
        let w = m.plan(&AuthState { user: u.clone(), dest: Some(file(Kind::Absent, None, 0)) }).unwrap();
        assert_eq!(w[0].summary, "write the keyring of client.x to /etc/ceph/ceph.client.x.keyring (mode 600)");
        let cmd = w[0].commands[0].to_string();
        assert!(!cmd.contains("AQBkey"), "the key never travels in argv: {cmd}");
        let good = "[client.x]\n\tkey = AQBkey==\n\tcaps mon = \"a\"\n";
        assert!(m.plan(&AuthState { user: u.clone(), dest: Some(file(Kind::File, Some(good), 0o600)) }).unwrap().is_empty());
        let chmod = m.plan(&AuthState { user: u.clone(), dest: Some(file(Kind::File, Some(good), 0o644)) }).unwrap();
        assert_eq!(chmod[0].summary, "chmod 600 /etc/ceph/ceph.client.x.keyring");
        let stale = m.plan(&AuthState { user: u, dest: Some(file(Kind::File, Some("[client.x]\nkey = old\n"), 0o600)) }).unwrap();
        assert!(stale[0].summary.starts_with("rewrite"));
    }

    #[test]
    fn fetching_an_unknown_user_without_caps_fails() {
        let m = module(json!({"name": "client.nobody"}));
        assert!(m.plan(&AuthState::default()).unwrap_err().msg.contains("no `caps`"));
    }

    #[test]
    fn key_is_a_secret_and_the_keyring_is_in_the_result() {
        let m = module(json!({"name": "client.x"}));
        let st = AuthState { user: Some(user("a", "b")), dest: None };
        assert_eq!(m.secrets(&st, None), ["AQBkey=="]);
        assert_eq!(m.report(&st, None)["keyring"], "[client.x]\n\tkey = AQBkey==\n");
    }

    #[test]
    fn keyring_key_reads_the_right_section() {
        let k = "[client.a]\n\tkey = A1\n[client.b]\n key=B2\n";
        assert_eq!(keyring_key(k, "client.b").as_deref(), Some("B2"));
        assert_eq!(keyring_key(k, "client.c"), None);
    }

    #[test]
    fn absent_removes() {
        let m = module(json!({"name": "client.rbd-mirror-peer", "state": "absent"}));
        let c = m.plan(&AuthState { user: Some(user("a", "b")), dest: None }).unwrap();
        assert_eq!(c[0].commands[0].to_string(), "ceph --cluster ceph auth del client.rbd-mirror-peer");
        assert!(m.plan(&AuthState::default()).unwrap().is_empty());
        assert!(CephAuthModule::from_args(&json!({"name": "client.x", "state": "absent", "caps": {"mon": "x"}})).is_err());
        assert!(CephAuthModule::from_args(&json!({"name": "x"})).is_err());
        assert!(CephAuthModule::from_args(&json!({"name": "client.x", "caps": {"rgw": "x"}})).is_err());
    }
}
