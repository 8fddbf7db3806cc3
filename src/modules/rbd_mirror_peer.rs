//! `rbd_mirror_peer`: bootstrap peering and peer removal.
//!
//! - `action: bootstrap_create` (on the source): `rbd mirror pool peer
//!   bootstrap create [--site-name S] POOL`; the token goes to
//!   `result.token` and to the run's secrets. Ceph's command is a
//!   get-or-create of `client.rbd-mirror-peer` plus the site name, so it runs
//!   even when nothing changes (that is how the token is obtained); in check
//!   mode it runs only if observe shows that it would change nothing.
//! - `action: bootstrap_import` (on the target): the token travels on STDIN
//!   (`... bootstrap import ... POOL -`), never in argv. A peer already
//!   registered for the token's cluster (same mon_host and client, read with
//!   `mirror pool info --all`), or for `peer_site_name`, means done; a
//!   different direction is fixed with `peer set ... direction`.
//! - `state: absent`: removes every peer of the pool, or those matching
//!   `site_name` (the peer's site name) / `uuid`. On the source this
//!   includes the tx-only peer the target's rbd-mirror registered by itself
//!   (G4); if it comes back after removal, the daemon is still running.
//!
//! The token, and the key inside it, never appear in a message, a diff, a
//! log line or an error: they are scrubbed from failures here, because the
//! engine masks secrets only once a module has succeeded.

use super::args::{self, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster};
use super::{Change, Failure, ModuleContext, ModuleError, ModuleOutput, StatefulModule};
use crate::ceph::{MirrorPeer, MirrorPoolInfo, PeerDirection, PoolMirrorMode};
use crate::vars::Value;
use base64::Engine;
use serde::Deserialize;
use std::fmt;

const MODULE: &str = "rbd_mirror_peer";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    pool: Text,
    action: Option<Text>,
    state: Option<Text>,
    site_name: Option<Text>,
    peer_site_name: Option<Text>,
    direction: Option<Text>,
    token: Option<Text>,
    uuid: Option<Text>,
}

/// The decoded bootstrap token: base64 of `{"fsid","client_id","key","mon_host"}`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Token {
    /// The token as given.
    pub raw: String,
    /// The source cluster's fsid.
    pub fsid: String,
    /// `rbd-mirror-peer`.
    pub client_id: String,
    /// The CephX key of that user (a secret too).
    pub key: String,
    /// The source's mon_host as its conf has it.
    pub mon_host: String,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("fsid", &self.fsid).field("client_id", &self.client_id).field("mon_host", &self.mon_host).finish_non_exhaustive()
    }
}

impl Token {
    /// Decodes a token; the error never quotes it.
    pub fn decode(raw: &str) -> Result<Token, String> {
        let raw = raw.trim();
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(raw).map_err(|_| "the token is not base64 (copy it whole from `bootstrap_create`)".to_string())?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| "the token does not decode to JSON; is it a bootstrap token?".to_string())?;
        let field = |k: &str| ceph_cli::str_field(&v, k).unwrap_or_default().to_string();
        let t = Token { raw: raw.to_string(), fsid: field("fsid"), client_id: field("client_id"), key: field("key"), mon_host: field("mon_host") };
        if t.key.is_empty() || t.mon_host.is_empty() {
            return Err("the token lacks `key` or `mon_host`; is it a bootstrap token?".into());
        }
        Ok(t)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Create,
    Import { token: Option<Token>, direction: PeerDirection, peer_site_name: Option<String> },
    Remove { site_name: Option<String>, uuid: Option<String> },
}

/// Peering of one pool.
#[derive(Debug)]
pub struct RbdMirrorPeerModule {
    cluster: Cluster,
    pool: String,
    site_name: Option<String>,
    action: Action,
}

/// A peer with the attributes `--all` adds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerEntry {
    /// What the typed parser reads.
    pub peer: MirrorPeer,
    /// The peer's mon_host (only with `--all`).
    pub mon_host: Option<String>,
}

/// What `observe` learned.
#[derive(Debug, Clone, Default)]
pub struct PeerState {
    /// `rbd mirror pool info` (peers without the `--all` extras).
    pub info: MirrorPoolInfo,
    /// Peers with their mon_host.
    pub peers: Vec<PeerEntry>,
    /// Whether `client.rbd-mirror-peer` exists (bootstrap_create only).
    pub bootstrap_user: Option<bool>,
    /// This cluster's fsid (bootstrap_import only).
    pub fsid: Option<String>,
}

fn word(at: &str, t: Text) -> Result<String, (String, String)> {
    let s = t.0.trim().to_string();
    if s.is_empty() || s.starts_with('-') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(arg_err(MODULE, at, format!("`{at}` must be one word, not `{s}`")));
    }
    Ok(s)
}

impl RbdMirrorPeerModule {
    /// From `rbd_mirror_peer:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let pool = ceph_cli::pool_name(MODULE, "pool", &a.pool)?;
        let state = a.state.as_ref().map(|s| s.0.trim().to_string());
        let action = a.action.as_ref().map(|s| s.0.trim().to_string());
        let only = |allowed: &[&str], what: &str| -> Result<(), (String, String)> {
            let given = [
                ("site_name", a.site_name.is_some()),
                ("peer_site_name", a.peer_site_name.is_some()),
                ("direction", a.direction.is_some()),
                ("token", a.token.is_some()),
                ("uuid", a.uuid.is_some()),
            ];
            match given.iter().find(|(k, set)| *set && !allowed.contains(k)) {
                Some((k, _)) => Err(arg_err(MODULE, k, format!("`{k}` is not used by {what}"))),
                None => Ok(()),
            }
        };
        let site_name = a.site_name.clone().map(|t| word("site_name", t)).transpose()?;
        let built = match (state.as_deref(), action.as_deref()) {
            (Some("absent"), None) => {
                only(&["site_name", "peer_site_name", "uuid"], "`state: absent`")?;
                let by_site = match (site_name.clone(), a.peer_site_name.clone().map(|t| word("peer_site_name", t)).transpose()?) {
                    (Some(_), Some(_)) => return Err(arg_err(MODULE, "peer_site_name", "give the peer's site name once (`site_name` or `peer_site_name`)")),
                    (x, y) => x.or(y),
                };
                let uuid = a.uuid.clone().map(|t| word("uuid", t)).transpose()?;
                return Ok(RbdMirrorPeerModule { cluster, pool, site_name: None, action: Action::Remove { site_name: by_site, uuid } });
            }
            (Some("absent"), Some(_)) => return Err(arg_err(MODULE, "action", "`state: absent` removes peers; it takes no `action`")),
            (None | Some("present"), Some("bootstrap_create")) => {
                only(&["site_name"], "`bootstrap_create`")?;
                Action::Create
            }
            (None | Some("present"), Some("bootstrap_import")) => {
                only(&["site_name", "peer_site_name", "direction", "token"], "`bootstrap_import`")?;
                let token = match &a.token {
                    None => return Err(arg_err(MODULE, "token", "`bootstrap_import` needs `token` (the `token` registered from `bootstrap_create`)")),
                    // Empty in check mode, when the create step could not run.
                    Some(t) if t.0.trim().is_empty() => None,
                    Some(t) => Some(Token::decode(&t.0).map_err(|e| arg_err(MODULE, "token", e))?),
                };
                let direction = match a.direction.as_ref().map(|d| d.0.trim()) {
                    None | Some("rx-tx") => PeerDirection::RxTx,
                    Some("rx-only") => PeerDirection::RxOnly,
                    Some(other) => return Err(arg_err(MODULE, "direction", format!("`direction` must be rx-only or rx-tx, not `{other}`"))),
                };
                let peer_site_name = a.peer_site_name.clone().map(|t| word("peer_site_name", t)).transpose()?;
                Action::Import { token, direction, peer_site_name }
            }
            (_, Some(other)) => {
                return Err(arg_err(MODULE, "action", format!("`action` must be bootstrap_create or bootstrap_import, not `{other}`")));
            }
            (Some(other), None) if other != "present" => {
                return Err(arg_err(MODULE, "state", format!("`state` must be present or absent, not `{other}`")));
            }
            _ => return Err(arg_err(MODULE, "action", "give `action: bootstrap_create`, `action: bootstrap_import` or `state: absent`")),
        };
        Ok(RbdMirrorPeerModule { cluster, pool, site_name, action: built })
    }

    fn token(&self) -> Option<&Token> {
        match &self.action {
            Action::Import { token, .. } => token.as_ref(),
            _ => None,
        }
    }

    /// The peer the import would create, if it is there.
    fn imported_peer<'a>(&self, st: &'a PeerState) -> Option<&'a PeerEntry> {
        let Action::Import { token, peer_site_name, .. } = &self.action else { return None };
        if let Some(t) = token {
            let client = format!("client.{}", t.client_id);
            if let Some(p) =
                st.peers.iter().find(|p| p.mon_host.as_deref() == Some(t.mon_host.as_str()) && p.peer.client_name.as_deref() == Some(client.as_str()))
            {
                return Some(p);
            }
        }
        let site = peer_site_name.as_deref()?;
        st.peers.iter().find(|p| p.peer.site_name.as_deref() == Some(site))
    }

    fn removable<'a>(&self, st: &'a PeerState) -> Vec<&'a MirrorPeer> {
        let Action::Remove { site_name, uuid } = &self.action else { return Vec::new() };
        st.info
            .peers
            .iter()
            .filter(|p| site_name.as_ref().is_none_or(|s| p.site_name.as_deref() == Some(s.as_str())))
            .filter(|p| uuid.as_ref().is_none_or(|u| p.uuid.as_deref() == Some(u.as_str())))
            .filter(|p| p.uuid.as_deref().is_some_and(|u| !u.is_empty()))
            .collect()
    }

    fn enabled(&self, st: &PeerState) -> Result<(), Failure> {
        if st.info.is_enabled() {
            return Ok(());
        }
        let what = match self.action {
            Action::Create => "creating a bootstrap token",
            _ => "importing a bootstrap token",
        };
        Err(Failure::msg(format!(
            "mirroring is disabled on pool {} of cluster {}; {what} needs it enabled (rbd refuses with rc 22): run `rbd_mirror_pool` first",
            self.pool, self.cluster.name
        )))
    }

    fn bootstrap_create(&self) -> crate::transport::RemoteCommand {
        let mut argv = vec!["mirror".to_string(), "pool".into(), "peer".into(), "bootstrap".into(), "create".into()];
        if let Some(s) = &self.site_name {
            argv.extend(["--site-name".to_string(), s.clone()]);
        }
        argv.push(self.pool.clone());
        self.cluster.rbd(argv)
    }

    /// Runs the module.
    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        match self.action {
            Action::Create => self.run_create(cx).await,
            Action::Import { token: None, .. } if !cx.check => {
                Err(ModuleError::Failed(Failure::msg("`token` is empty: register the result of `bootstrap_create` and pass its `token`".to_string())))
            }
            _ => ceph_cli::run(self, cx).await,
        }
    }

    async fn run_create(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        let before = self.observe(cx).await?;
        let mut result = self.report(&before, None);
        let changes = match self.plan(&before) {
            Ok(changes) => changes,
            Err(f) => match self.assume_in_check(&before).filter(|_| cx.check) {
                Some(would) => {
                    result.insert("token".into(), "".into());
                    let msg = format!("would {would} (assuming earlier tasks ran; now: {}; no token in check mode)", f.msg);
                    return Ok(ModuleOutput { changed: true, msg, result, ..Default::default() });
                }
                None => return Err(ModuleError::Failed(f)),
            },
        };
        let summary = changes.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ");
        if cx.check && !changes.is_empty() {
            // Later tasks template `token`; an empty one is accepted in check mode.
            result.insert("token".into(), "".into());
            return Ok(ModuleOutput { changed: true, msg: format!("would {summary} (no token in check mode)"), result, ..Default::default() });
        }
        let cmd = self.bootstrap_create();
        let out = cx.run(&cmd).await?;
        let printed = out.stdout.trim().to_string();
        if !out.success() {
            let err = ceph_cli::classify(&out);
            let e = ceph_cli::failure(&format!("could not create a bootstrap token for pool {}", self.pool), &cmd, &out, &err, None);
            return Err(ceph_cli::scrub(e, &[printed]));
        }
        let token = Token::decode(&printed).map_err(|e| ceph_cli::scrub(ceph_cli::parse_failure(&cmd, &printed, &e), std::slice::from_ref(&printed)))?;
        if !changes.is_empty() {
            let after = self.observe(cx).await?;
            let left = self.plan(&after).map_err(ModuleError::Failed)?;
            if !left.is_empty() {
                return Err(ModuleError::Failed(Failure::msg(self.unconverged(&after, &left))));
            }
            result = self.report(&before, Some(&after));
        }
        result.insert("token".into(), token.raw.clone().into());
        result.insert("fsid".into(), token.fsid.clone().into());
        result.insert("mon_host".into(), token.mon_host.clone().into());
        result.insert("client_id".into(), token.client_id.clone().into());
        let msg = if changes.is_empty() { String::new() } else { summary };
        Ok(ModuleOutput { changed: !changes.is_empty(), msg, result, secrets: vec![token.raw, token.key], ..Default::default() })
    }
}

/// Peers with their `mon_host`, from `rbd mirror pool info --format json --all`.
fn peers_with_hosts(text: &str) -> Vec<PeerEntry> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else { return Vec::new() };
    let Some(list) = v.get("peers").and_then(serde_json::Value::as_array) else { return Vec::new() };
    list.iter()
        .filter_map(|p| {
            let peer = MirrorPeer::deserialize(p.clone()).ok()?;
            Some(PeerEntry { peer, mon_host: ceph_cli::str_field(p, "mon_host").map(str::to_string) })
        })
        .collect()
}

fn describe(p: &MirrorPeer) -> String {
    let dir = p.direction.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "?".into());
    let auto = if p.is_auto_registered() { ", registered by the remote rbd-mirror (G4)" } else { "" };
    format!("{} ({}, {dir}{auto})", p.uuid.as_deref().unwrap_or("?"), p.site_name.as_deref().filter(|s| !s.is_empty()).unwrap_or("no site name"))
}

impl StatefulModule for RbdMirrorPeerModule {
    type State = PeerState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<PeerState, ModuleError> {
        let mut argv = vec!["mirror", "pool", "info", "--format", "json"];
        // `--all` adds each peer's mon_host (and key): only the import needs it.
        if matches!(self.action, Action::Import { .. }) {
            argv.push("--all");
        }
        argv.push(self.pool.as_str());
        let cmd = self.cluster.rbd(argv);
        let text = ceph_cli::observe_text(cx, &cmd).await?;
        let info = MirrorPoolInfo::parse(&text).map_err(|e| ceph_cli::parse_failure(&cmd, "(not shown: it holds peer keys)", &e.to_string()))?;
        let mut st = PeerState { peers: peers_with_hosts(&text), info, bootstrap_user: None, fsid: None };
        if let Action::Import { token: Some(_), .. } = self.action {
            let cmd = self.cluster.ceph(["fsid", "--format", "json"]);
            let text = ceph_cli::observe_text(cx, &cmd).await?;
            st.fsid = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| ceph_cli::str_field(&v, "fsid").map(str::to_string));
        }
        if let Action::Create = self.action {
            let cmd = self.cluster.ceph(["auth", "get", "client.rbd-mirror-peer", "--format", "json"]);
            st.bootstrap_user = Some(match ceph_cli::query(cx, &cmd).await? {
                Ok(_) => true,
                Err((_, out)) if out.rc == 2 => false,
                Err((err, out)) => return Err(ceph_cli::failure("could not observe the current state", &cmd, &out, &err, None)),
            });
        }
        Ok(st)
    }

    fn plan(&self, st: &PeerState) -> Result<Vec<Change>, Failure> {
        let pool = &self.pool;
        let site_differs = self.site_name.as_ref().is_some_and(|s| st.info.site_name.as_deref() != Some(s.as_str()));
        match &self.action {
            Action::Create => {
                self.enabled(st)?;
                let mut changes = Vec::new();
                if st.bootstrap_user == Some(false) {
                    changes.push(Change {
                        summary: format!("create the bootstrap user client.rbd-mirror-peer (pool {pool})"),
                        commands: vec![self.bootstrap_create()],
                        diff: None,
                    });
                }
                if site_differs {
                    changes.push(Change {
                        summary: format!("set the site name to {}", self.site_name.as_deref().unwrap_or_default()),
                        commands: vec![self.bootstrap_create()],
                        diff: None,
                    });
                }
                Ok(changes)
            }
            Action::Import { token, direction, .. } => {
                if let (Some(t), Some(fsid)) = (token, &st.fsid) {
                    if &t.fsid == fsid {
                        return Err(Failure::msg(format!(
                            "this token was created on cluster {} itself (fsid {fsid}); import it on the other site (rbd refuses: \"cannot import token for local cluster\")",
                            self.cluster.name
                        )));
                    }
                }
                self.enabled(st)?;
                if let Some(found) = self.imported_peer(st) {
                    let mut changes = Vec::new();
                    if found.peer.direction.as_ref() != Some(direction) {
                        let uuid = found.peer.uuid.clone().unwrap_or_default();
                        changes.push(Change {
                            summary: format!("set the direction of peer {} on pool {pool} to {direction}", describe(&found.peer)),
                            commands: vec![self.cluster.rbd(["mirror", "pool", "peer", "set", pool.as_str(), uuid.as_str(), "direction", direction.as_str()])],
                            diff: None,
                        });
                    }
                    if site_differs {
                        let mode = st.info.mode.clone().unwrap_or(PoolMirrorMode::Image).to_string();
                        let site = self.site_name.clone().unwrap_or_default();
                        changes.push(Change {
                            summary: format!("set the site name to {site}"),
                            commands: vec![self.cluster.rbd(["mirror", "pool", "enable", "--site-name", site.as_str(), pool.as_str(), mode.as_str()])],
                            diff: None,
                        });
                    }
                    return Ok(changes);
                }
                let from = token.as_ref().map(|t| format!(" from cluster {} ({})", t.fsid, t.mon_host)).unwrap_or_default();
                let mut argv = vec!["mirror".to_string(), "pool".into(), "peer".into(), "bootstrap".into(), "import".into()];
                if let Some(s) = &self.site_name {
                    argv.extend(["--site-name".to_string(), s.clone()]);
                }
                argv.extend(["--direction".to_string(), direction.to_string(), pool.clone(), "-".into()]);
                let raw = token.as_ref().map(|t| format!("{}\n", t.raw)).unwrap_or_default();
                Ok(vec![Change {
                    summary: format!("import the bootstrap token{from} into pool {pool} ({direction})"),
                    commands: vec![self.cluster.rbd(argv).with_stdin(raw)],
                    diff: None,
                }])
            }
            Action::Remove { .. } => Ok(self
                .removable(st)
                .into_iter()
                .map(|p| {
                    let uuid = p.uuid.clone().unwrap_or_default();
                    Change {
                        summary: format!("remove peer {} from pool {pool}", describe(p)),
                        commands: vec![self.cluster.rbd(["mirror", "pool", "peer", "remove", pool.as_str(), uuid.as_str()])],
                        diff: None,
                    }
                })
                .collect()),
        }
    }
}

impl CephModule for RbdMirrorPeerModule {
    fn assume_in_check(&self, st: &PeerState) -> Option<String> {
        match &self.action {
            Action::Import { .. } if !st.info.is_enabled() => Some(format!("import the bootstrap token into pool {}", self.pool)),
            Action::Create if !st.info.is_enabled() => Some(format!("create a bootstrap token for pool {}", self.pool)),
            _ => None,
        }
    }

    fn redactions(&self) -> Vec<String> {
        self.token().map(|t| vec![t.raw.clone(), t.key.clone()]).unwrap_or_default()
    }

    fn unconverged(&self, after: &PeerState, left: &[Change]) -> String {
        let still = left.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ");
        if matches!(self.action, Action::Remove { .. }) && self.removable(after).iter().any(|p| p.is_auto_registered()) {
            return format!(
                "did not converge: {still}. The tx-only peer was registered again by the target's rbd-mirror (G4): \
                 stop rbd-mirror on the target (`rbd_mirror_daemon: {{state: stopped}}`) or remove the target's peer first, then retry"
            );
        }
        format!("did not converge: after applying, the cluster still needs: {still}")
    }

    fn report(&self, before: &PeerState, after: Option<&PeerState>) -> serde_json::Map<String, Value> {
        let st = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("pool".into(), self.pool.clone().into());
        if let Some(s) = &st.info.site_name {
            m.insert("site_name".into(), s.clone().into());
        }
        m.insert("peers".into(), super::rbd_mirror_pool::peers_json(&st.info));
        if let Action::Remove { .. } = self.action {
            let removed: Vec<Value> = self.removable(before).iter().filter_map(|p| p.uuid.clone()).map(Value::from).collect();
            m.insert("removed".into(), if after.is_some() { removed.into() } else { Value::Array(Vec::new()) });
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A token shaped like the runbook's (fake key).
    fn token() -> String {
        let inner = r#"{"fsid":"80a1221e-1b34-4615-ae3d-f609c0bd8b38","client_id":"rbd-mirror-peer","key":"AQBfakefakefakefakefakefakefakefakefake==","mon_host":"[v2:127.0.1.1:3300/0,v1:127.0.1.1:6789/0]"}"#;
        base64::engine::general_purpose::STANDARD.encode(inner)
    }

    fn module(args: Value) -> RbdMirrorPeerModule {
        RbdMirrorPeerModule::from_args(&args).unwrap()
    }

    fn import() -> RbdMirrorPeerModule {
        module(json!({"action": "bootstrap_import", "pool": "volumes", "site_name": "site-b", "direction": "rx-only", "token": token(), "cluster": "site-b"}))
    }

    /// `rbd mirror pool info --format json --all` on the lab target (key replaced).
    const B_ALL: &str = include_str!("../../tests/fixtures/ceph/cli/site-b.mirror-pool-info-all.scratch.json");

    fn st(text: &str) -> PeerState {
        PeerState { info: MirrorPoolInfo::parse(text).unwrap(), peers: peers_with_hosts(text), bootstrap_user: None, fsid: None }
    }

    #[test]
    fn token_decodes_and_never_shows_in_debug_or_errors() {
        let t = Token::decode(&token()).unwrap();
        assert_eq!(t.client_id, "rbd-mirror-peer");
        assert_eq!(t.mon_host, "[v2:127.0.1.1:3300/0,v1:127.0.1.1:6789/0]");
        let m = import();
        let dbg = format!("{m:?}");
        assert!(!dbg.contains(&token()) && !dbg.contains("AQBfake"), "{dbg}");
        let e = RbdMirrorPeerModule::from_args(&json!({"action": "bootstrap_import", "pool": "p", "token": "not!base64"})).unwrap_err();
        assert!(!e.1.contains("not!base64"), "{}", e.1);
        assert_eq!(m.redactions(), [token(), "AQBfakefakefakefakefakefakefakefakefake==".to_string()]);
    }

    #[test]
    fn import_sends_the_token_on_stdin_only() {
        let m = import();
        let c = m.plan(&st(r#"{"mode":"pool","site_name":"site-b","peers":[]}"#)).unwrap();
        assert_eq!(c.len(), 1);
        let cmd = &c[0].commands[0];
        assert_eq!(cmd.to_string(), "rbd --cluster site-b mirror pool peer bootstrap import --site-name site-b --direction rx-only volumes -");
        assert_eq!(cmd.stdin.as_deref(), Some(format!("{}\n", token()).as_bytes()));
        assert!(!c[0].summary.contains("AQB") && !c[0].summary.contains(&token()));
        assert_eq!(c[0].summary, "import the bootstrap token from cluster 80a1221e-1b34-4615-ae3d-f609c0bd8b38 ([v2:127.0.1.1:3300/0,v1:127.0.1.1:6789/0]) into pool volumes (rx-only)");
    }

    #[test]
    fn a_peer_for_the_tokens_cluster_means_done_and_another_direction_is_set() {
        let m = import();
        assert!(m.plan(&st(B_ALL)).unwrap().is_empty(), "same mon_host and client: already imported");
        let rx_tx = module(
            json!({"action": "bootstrap_import", "pool": "scratch", "site_name": "site-b", "direction": "rx-tx", "token": token(), "cluster": "site-b"}),
        );
        let c = rx_tx.plan(&st(B_ALL)).unwrap();
        assert_eq!(c[0].commands[0].to_string(), "rbd --cluster site-b mirror pool peer set scratch 6be956ba-9f7f-419c-aeb9-4691ffaa9306 direction rx-tx");
    }

    #[test]
    fn without_mon_hosts_the_peer_site_name_identifies_the_peer() {
        let text = include_str!("../../tests/fixtures/ceph/site-b.mirror-pool-info.volumes.json");
        let m = import();
        assert_eq!(m.plan(&st(text)).unwrap().len(), 1, "cannot tell without --all or peer_site_name");
        let m = module(
            json!({"action": "bootstrap_import", "pool": "volumes", "site_name": "site-b", "peer_site_name": "site-a", "direction": "rx-only", "token": token()}),
        );
        assert!(m.plan(&st(text)).unwrap().is_empty());
    }

    #[test]
    fn a_token_from_this_very_cluster_is_refused() {
        let mut s = st(B_ALL);
        s.fsid = Some("80a1221e-1b34-4615-ae3d-f609c0bd8b38".into());
        let e = import().plan(&s).unwrap_err();
        assert!(e.msg.contains("import it on the other site"), "{}", e.msg);
    }

    #[test]
    fn import_into_a_disabled_pool_says_what_to_run_first() {
        let e = import().plan(&st(r#"{"mode":"disabled"}"#)).unwrap_err();
        assert!(e.msg.contains("mirroring is disabled on pool volumes of cluster site-b"), "{}", e.msg);
    }

    #[test]
    fn create_runs_the_bootstrap_command_and_reports_changes_only_when_something_is_missing() {
        let m = module(json!({"action": "bootstrap_create", "pool": "volumes", "site_name": "site-a", "cluster": "site-a"}));
        let mut s = st(r#"{"mode":"pool","site_name":"site-a","peers":[]}"#);
        s.bootstrap_user = Some(true);
        assert!(m.plan(&s).unwrap().is_empty());
        s.bootstrap_user = Some(false);
        let c = m.plan(&s).unwrap();
        assert_eq!(c[0].commands[0].to_string(), "rbd --cluster site-a mirror pool peer bootstrap create --site-name site-a volumes");
        let e = m.plan(&st(r#"{"mode":"disabled"}"#)).unwrap_err();
        assert!(e.msg.contains("creating a bootstrap token"));
    }

    #[test]
    fn absent_removes_every_peer_including_the_auto_registered_one() {
        let text = include_str!("../../tests/fixtures/ceph/site-a.mirror-pool-info.volumes.auto-tx-only-peer.json");
        let m = module(json!({"pool": "volumes", "state": "absent", "cluster": "site-a"}));
        let c = m.plan(&st(text)).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].summary,
            "remove peer ff28c370-5b3a-4261-8145-ca536e15d87a (site-b, tx-only, registered by the remote rbd-mirror (G4)) from pool volumes"
        );
        assert_eq!(c[0].commands[0].to_string(), "rbd --cluster site-a mirror pool peer remove volumes ff28c370-5b3a-4261-8145-ca536e15d87a");
        // It came back: the daemon on the target is still running.
        let msg = m.unconverged(&st(text), &c);
        assert!(msg.contains("registered again by the target's rbd-mirror (G4)"), "{msg}");
        let other = module(json!({"pool": "volumes", "state": "absent", "site_name": "site-x"}));
        assert!(other.plan(&st(text)).unwrap().is_empty());
        let by_uuid = module(json!({"pool": "volumes", "state": "absent", "uuid": "ff28c370-5b3a-4261-8145-ca536e15d87a"}));
        assert_eq!(by_uuid.plan(&st(text)).unwrap().len(), 1);
    }

    #[test]
    fn argument_combinations() {
        for bad in [
            json!({"pool": "v"}),
            json!({"pool": "v", "action": "bootstrap_import"}),
            json!({"pool": "v", "action": "bootstrap_create", "token": "x"}),
            json!({"pool": "v", "state": "absent", "direction": "rx-only"}),
            json!({"pool": "v", "action": "bootstrap_import", "token": token(), "direction": "tx-only"}),
            json!({"pool": "v", "action": "promote"}),
        ] {
            assert!(RbdMirrorPeerModule::from_args(&bad).is_err(), "{bad}");
        }
        // Empty token: accepted (check mode), refused at run time.
        assert!(RbdMirrorPeerModule::from_args(&json!({"pool": "v", "action": "bootstrap_import", "token": ""})).is_ok());
    }
}
