//! `ceph_conf`: the runbook's "network configuration" step. Writes
//! `/etc/ceph/<cluster>.conf` (fsid, mon_host, optional extra keys) rendered
//! from `templates/ceph.conf.j2`, and optionally
//! `/etc/ceph/<cluster>.<name>.keyring` (mode 0600, the key registered as a
//! secret), so `rbd --cluster <cluster>` and rbd-mirror reach that cluster
//! (G12, G13). Converges like `copy`: sha256 compare, atomic writes.

use super::args::{self, Mode, Text};
use super::ceph_cli::{self, arg_err, CephModule};
use super::remote_file::{self, FileState, Kind};
use super::{Change, Failure, ModuleContext, ModuleError, ModuleOutput, StatefulModule};
use crate::transport::RemoteCommand;
use crate::vars::Value;
use indexmap::IndexMap;
use serde::Deserialize;

const MODULE: &str = "ceph_conf";

/// The template shipped with ferry, used when no `templates/ceph.conf.j2` is found.
const BUILTIN_TEMPLATE: &str = include_str!("../../templates/ceph.conf.j2");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringArgs {
    name: Text,
    key: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    cluster: Option<Text>,
    fsid: Text,
    mon_host: Text,
    #[serde(alias = "extra")]
    options: Option<IndexMap<String, Text>>,
    keyring: Option<KeyringArgs>,
    dir: Option<Text>,
    template: Option<Text>,
    mode: Option<Mode>,
}

/// A keyring to write next to the conf.
#[derive(Clone)]
struct Keyring {
    name: String,
    key: String,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The conf (and keyring) of one cluster on this host.
#[derive(Debug)]
pub struct CephConfModule {
    cluster: String,
    fsid: String,
    mon_host: String,
    options: Vec<(String, String)>,
    keyring: Option<Keyring>,
    dir: String,
    template: Option<String>,
    mode: u32,
}

fn one_line(at: &str, v: &str) -> Result<String, (String, String)> {
    let v = v.trim();
    if v.is_empty() || v.chars().any(|c| c.is_control()) {
        return Err(arg_err(MODULE, at, format!("`{at}` must be one non-empty line")));
    }
    Ok(v.to_string())
}

impl CephConfModule {
    /// From `ceph_conf:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: Args = args::parse(MODULE, raw)?;
        let cluster = a.cluster.map(|t| t.0.trim().to_string()).unwrap_or_else(|| "ceph".into());
        if cluster.is_empty() || cluster.starts_with('-') || !cluster.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(arg_err(MODULE, "cluster", format!("`cluster` must be a cluster name (letters, digits, `.`, `_`, `-`), not `{cluster}`")));
        }
        let fsid = a.fsid.0.trim().to_string();
        if fsid.len() != 36 || !fsid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(arg_err(MODULE, "fsid", format!("`fsid` must be a cluster fsid (a UUID), not `{fsid}`")));
        }
        let mon_host = one_line("mon_host", &a.mon_host.0)?;
        let mut options = Vec::new();
        for (k, v) in a.options.unwrap_or_default() {
            let at = format!("options.{k}");
            let key = k.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "_ .-".contains(c)) || ["fsid", "mon_host", "mon host"].contains(&key) {
                return Err(arg_err(
                    MODULE,
                    &at,
                    format!("`{key}` is not a ceph.conf option name this module writes (fsid and mon_host have their own arguments)"),
                ));
            }
            options.push((key.to_string(), one_line(&at, &v.0)?));
        }
        let keyring = match a.keyring {
            Some(k) => {
                let name = k.name.0.trim().to_string();
                let valid = name.split_once('.').is_some_and(|(kind, id)| {
                    ["client", "mgr", "osd", "mds", "mon"].contains(&kind)
                        && !id.is_empty()
                        && id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                });
                if !valid {
                    return Err(arg_err(MODULE, "keyring.name", format!("`keyring.name` must be TYPE.ID such as client.rbd-mirror-peer, not `{name}`")));
                }
                let key = k.key.0.trim().to_string();
                if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)) {
                    return Err(arg_err(MODULE, "keyring.key", "`keyring.key` must be a CephX key (base64)"));
                }
                Some(Keyring { name, key })
            }
            None => None,
        };
        let dir = a.dir.map(|t| t.0.trim_end_matches('/').to_string()).unwrap_or_else(|| "/etc/ceph".into());
        if !dir.starts_with('/') {
            return Err(arg_err(MODULE, "dir", format!("`dir` must be an absolute path, not `{dir}`")));
        }
        Ok(CephConfModule { cluster, fsid, mon_host, options, keyring, dir, template: a.template.map(|t| t.0), mode: a.mode.map_or(0o644, |m| m.0) })
    }

    fn conf_path(&self) -> String {
        format!("{}/{}.conf", self.dir, self.cluster)
    }

    fn keyring_path(&self, k: &Keyring) -> String {
        format!("{}/{}.{}.keyring", self.dir, self.cluster, k.name)
    }

    /// Renders the conf from the template.
    fn render(&self, cx: &ModuleContext<'_>) -> Result<String, ModuleError> {
        let ctx = minijinja::Value::from_serialize(serde_json::json!({
            "cluster": self.cluster,
            "fsid": self.fsid,
            "mon_host": self.mon_host,
            "options": self.options.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect::<Vec<_>>(),
        }));
        let fail = |e: crate::template::TemplateError| ModuleError::Failed(Failure::msg(format!("could not render the ceph.conf template: {e}")));
        match &self.template {
            Some(name) => {
                let path = cx.find_file(name, "templates")?;
                cx.templates.render_file(&path.to_string_lossy(), &ctx).map_err(fail)
            }
            None => match cx.find_file("ceph.conf.j2", "templates") {
                Ok(path) => cx.templates.render_file(&path.to_string_lossy(), &ctx).map_err(fail),
                Err(_) => cx.templates.render_str(BUILTIN_TEMPLATE, &ctx).map_err(fail),
            },
        }
    }

    /// Renders, then converges the files.
    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        let conf = self.render(cx)?;
        let files = ConfFiles {
            dir: self.dir.clone(),
            conf: (self.conf_path(), conf.into_bytes(), self.mode),
            keyring: self.keyring.as_ref().map(|k| (self.keyring_path(k), super::ceph_auth::keyring_text(&k.name, &k.key).into_bytes())),
            key: self.keyring.as_ref().map(|k| k.key.clone()),
        };
        let mut out = ceph_cli::run(&files, cx).await?;
        out.result.insert("cluster".into(), self.cluster.clone().into());
        out.result.insert("fsid".into(), self.fsid.clone().into());
        out.result.insert("mon_host".into(), self.mon_host.clone().into());
        Ok(out)
    }
}

/// The files with their desired bytes.
struct ConfFiles {
    dir: String,
    conf: (String, Vec<u8>, u32),
    keyring: Option<(String, Vec<u8>)>,
    key: Option<String>,
}

/// The folder, the conf and the keyring as they are on the host.
#[derive(Debug, Clone)]
pub struct ConfState {
    dir: FileState,
    conf: FileState,
    keyring: Option<FileState>,
}

fn file_changes(path: &str, want: &[u8], mode: u32, st: &FileState, show_diff: bool, what: &str) -> Result<Vec<Change>, Failure> {
    match st.kind {
        Kind::Directory | Kind::Other => return Err(Failure::msg(format!("{path} exists and is not a regular file"))),
        _ => {}
    }
    let same = st.kind == Kind::File && st.sha256.as_deref() == Some(remote_file::sha256_hex(want).as_str());
    if !same {
        let verb = if st.kind == Kind::Absent { "write" } else { "update" };
        let diff = show_diff.then(|| remote_file::diff(path, st.content.as_deref().unwrap_or_default(), want));
        return Ok(vec![Change {
            summary: format!("{verb} {what} {path}"),
            commands: vec![remote_file::write_command(path, want, Some(mode), None, None)],
            diff,
        }]);
    }
    if st.mode != Some(mode) {
        return Ok(vec![Change {
            summary: format!("chmod {mode:o} {path}"),
            commands: vec![RemoteCommand::argv(["chmod".to_string(), format!("{mode:o}"), "--".into(), path.to_string()])],
            diff: None,
        }]);
    }
    Ok(Vec::new())
}

impl StatefulModule for ConfFiles {
    type State = ConfState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<ConfState, ModuleError> {
        Ok(ConfState {
            dir: remote_file::observe(cx, &self.dir, false).await?,
            conf: remote_file::observe(cx, &self.conf.0, cx.diff).await?,
            // Never fetch the keyring's bytes: the sha256 is enough and the key stays put.
            keyring: match &self.keyring {
                Some((path, _)) => Some(remote_file::observe(cx, path, false).await?),
                None => None,
            },
        })
    }

    fn plan(&self, st: &ConfState) -> Result<Vec<Change>, Failure> {
        let mut changes = Vec::new();
        match st.dir.kind {
            Kind::Directory => {}
            Kind::Absent => changes.push(Change {
                summary: format!("create directory {}", self.dir),
                commands: vec![RemoteCommand::argv(["mkdir", "-p", "-m", "755", "--", self.dir.as_str()])],
                diff: None,
            }),
            _ => return Err(Failure::msg(format!("{} exists and is not a directory", self.dir))),
        }
        let (path, bytes, mode) = &self.conf;
        changes.extend(file_changes(path, bytes, *mode, &st.conf, true, "ceph.conf")?);
        if let (Some((path, bytes)), Some(kst)) = (&self.keyring, &st.keyring) {
            changes.extend(file_changes(path, bytes, 0o600, kst, false, "keyring")?);
        }
        Ok(changes)
    }
}

impl CephModule for ConfFiles {
    fn redactions(&self) -> Vec<String> {
        self.key.iter().cloned().collect()
    }

    fn report(&self, _before: &ConfState, _after: Option<&ConfState>) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("dest".into(), self.conf.0.clone().into());
        m.insert("checksum".into(), remote_file::sha256_hex(&self.conf.1).into());
        if let Some((path, _)) = &self.keyring {
            m.insert("keyring".into(), path.clone().into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(kind: Kind, sha: Option<String>, mode: u32) -> FileState {
        FileState { mode: Some(mode), sha256: sha, ..FileState::bare("", kind) }
    }

    fn files() -> ConfFiles {
        ConfFiles {
            dir: "/etc/ceph".into(),
            conf: ("/etc/ceph/site-src.conf".into(), b"[global]\n".to_vec(), 0o644),
            keyring: Some(("/etc/ceph/site-src.client.rbd-mirror-peer.keyring".into(), b"[client.rbd-mirror-peer]\n\tkey = AQBx==\n".to_vec())),
            key: Some("AQBx==".into()),
        }
    }

    #[test]
    fn builtin_template_renders_the_runbook_conf() {
        let t = crate::template::Templates::new(vec![]);
        let ctx = minijinja::Value::from_serialize(json!({
            "cluster": "site-src", "fsid": "2a4e1392-0abd-11f0-95f6-e7d0a414706b",
            "mon_host": "[v2:192.168.7.10:3300/0,v1:192.168.7.10:6789/0]", "options": [["rbd_default_features", "61"]],
        }));
        let text = t.render_str(BUILTIN_TEMPLATE, &ctx).unwrap();
        assert!(text.contains("[global]\n\tfsid = 2a4e1392-0abd-11f0-95f6-e7d0a414706b\n\tmon_host = [v2:192.168.7.10:3300/0,v1:192.168.7.10:6789/0]\n\trbd_default_features = 61\n"), "{text}");
    }

    #[test]
    fn writes_what_is_missing_and_nothing_when_equal() {
        let f = files();
        let absent = ConfState { dir: state(Kind::Absent, None, 0), conf: state(Kind::Absent, None, 0), keyring: Some(state(Kind::Absent, None, 0)) };
        let c = f.plan(&absent).unwrap();
        let summaries: Vec<&str> = c.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            ["create directory /etc/ceph", "write ceph.conf /etc/ceph/site-src.conf", "write keyring /etc/ceph/site-src.client.rbd-mirror-peer.keyring"]
        );
        assert!(c[2].diff.is_none(), "no diff of a keyring");
        assert!(!c[2].commands[0].to_string().contains("AQBx"), "the key travels on stdin");
        let same = ConfState {
            dir: state(Kind::Directory, None, 0o755),
            conf: state(Kind::File, Some(remote_file::sha256_hex(b"[global]\n")), 0o644),
            keyring: Some(state(Kind::File, Some(remote_file::sha256_hex(&f.keyring.as_ref().unwrap().1)), 0o600)),
        };
        assert!(f.plan(&same).unwrap().is_empty());
        let loose = ConfState { keyring: Some(state(Kind::File, Some(remote_file::sha256_hex(&f.keyring.as_ref().unwrap().1)), 0o644)), ..same };
        assert_eq!(f.plan(&loose).unwrap()[0].summary, "chmod 600 /etc/ceph/site-src.client.rbd-mirror-peer.keyring");
        assert_eq!(f.redactions(), ["AQBx=="]);
    }

    #[test]
    fn arguments() {
        let ok = json!({"cluster": "site-src", "fsid": "2a4e1392-0abd-11f0-95f6-e7d0a414706b", "mon_host": "[v2:1.2.3.4:3300/0]", "keyring": {"name": "client.rbd-mirror-peer", "key": "AQBx=="}});
        let m = CephConfModule::from_args(&ok).unwrap();
        assert_eq!(m.conf_path(), "/etc/ceph/site-src.conf");
        assert!(!format!("{m:?}").contains("AQBx"));
        for (k, v) in [("fsid", json!("nope")), ("mon_host", json!("a\nb")), ("keyring", json!({"name": "x", "key": "k"})), ("options", json!({"fsid": "x"}))] {
            let mut bad = ok.clone();
            bad[k] = v;
            assert!(CephConfModule::from_args(&bad).is_err(), "{k}");
        }
        let mut inject = ok.clone();
        inject["keyring"]["key"] = json!("AQ==\n[client.admin]");
        assert!(CephConfModule::from_args(&inject).is_err());
    }
}
