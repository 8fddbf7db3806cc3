//! `rbd_mirror_image`: mirroring of one image, and the cutover actions.
//!
//! - `state: enabled|disabled` with `mode: journal|snapshot`. Before enabling
//!   a clone, ferry follows its `parent` links with `rbd info` and refuses,
//!   naming the parent, while one is not mirrored: Ceph would refuse with
//!   rc 22 (G1) or, in a pool-mode pool, replicate nothing silently (G2).
//!   In a pool-mode pool an image is enabled by turning on `journaling`.
//!   Disabling a non-primary copy needs `force: true` (G9 rule 4); a
//!   pool-mode pool refuses single images (G9 rule 5).
//! - `action: demote|promote|resync|snapshot`, idempotent from `rbd info`'s
//!   `mirroring.primary`: demoting a non-primary copy or promoting a primary
//!   one is ok. A promote refused because the other site is still primary
//!   (rc 16, G7/G8) is retried for `wait_for_demotion` seconds while the
//!   demotion propagates; `force: true` promotes anyway (split brain).
//!   `resync` and `snapshot` are one-shot requests, reported as changed.

use super::args::{self, Flag, Number, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster, Recovery};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::ceph::{CommandError, CommandErrorKind, ImageInfo, ImageSpec, MirrorImageMode, MirrorImageState, MirrorPoolInfo, PoolMirrorMode, MAX_CHAIN_DEPTH};
use crate::vars::Value;
use serde::Deserialize;
use std::time::Duration;

const MODULE: &str = "rbd_mirror_image";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "name")]
    image: Text,
    state: Option<Text>,
    mode: Option<Text>,
    action: Option<Text>,
    #[serde(default)]
    force: Flag,
    wait_for_demotion: Option<Number>,
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Enabled(MirrorImageMode),
    Disabled,
    Demote,
    Promote { wait: Option<Duration> },
    Resync,
    Snapshot,
}

/// Mirroring of one image.
#[derive(Debug)]
pub struct RbdMirrorImageModule {
    cluster: Cluster,
    image: ImageSpec,
    op: Op,
    force: bool,
}

/// An ancestor of a clone that is not mirrored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmirrored {
    /// The ancestor.
    pub spec: ImageSpec,
    /// It sits in the trash (a removed parent still used by clones).
    pub in_trash: bool,
}

/// What `observe` learned.
#[derive(Debug, Clone, Default)]
pub struct ImageState {
    /// `rbd info` of the image.
    pub info: ImageInfo,
    /// `rbd mirror pool info` of its pool.
    pub pool: MirrorPoolInfo,
    /// Ancestors not mirrored, nearest first (only read before enabling).
    pub unmirrored: Vec<Unmirrored>,
}

impl RbdMirrorImageModule {
    /// From `rbd_mirror_image:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let mode = match a.mode.as_ref().map(|m| m.0.trim()) {
            None | Some("journal") => MirrorImageMode::Journal,
            Some("snapshot") => MirrorImageMode::Snapshot,
            Some(other) => return Err(arg_err(MODULE, "mode", format!("`mode` must be journal or snapshot, not `{other}`"))),
        };
        let op = match (a.state.as_ref().map(|s| s.0.trim()), a.action.as_ref().map(|s| s.0.trim())) {
            (Some(_), Some(_)) => return Err(arg_err(MODULE, "action", "give either `state` or `action`, not both")),
            (None, None) => return Err(arg_err(MODULE, "state", "give `state: enabled|disabled` or `action: demote|promote|resync|snapshot`")),
            (Some("enabled" | "present"), None) => Op::Enabled(mode),
            (Some("disabled" | "absent"), None) => Op::Disabled,
            (Some(other), None) => return Err(arg_err(MODULE, "state", format!("`state` must be enabled or disabled, not `{other}`"))),
            (None, Some("demote")) => Op::Demote,
            (None, Some("promote")) => {
                let wait = match a.wait_for_demotion {
                    Some(n) if n.0 >= 0.0 && n.0 <= 86400.0 => Some(Duration::from_secs_f64(n.0)),
                    Some(n) => return Err(arg_err(MODULE, "wait_for_demotion", format!("`wait_for_demotion` must be seconds (0-86400), not {}", n.0))),
                    None => None,
                };
                Op::Promote { wait }
            }
            (None, Some("resync")) => Op::Resync,
            (None, Some("snapshot")) => Op::Snapshot,
            (None, Some(other)) => return Err(arg_err(MODULE, "action", format!("`action` must be demote, promote, resync or snapshot, not `{other}`"))),
        };
        if a.wait_for_demotion.is_some() && !matches!(op, Op::Promote { .. }) {
            return Err(arg_err(MODULE, "wait_for_demotion", "`wait_for_demotion` only applies to `action: promote`"));
        }
        if a.mode.is_some() && !matches!(op, Op::Enabled(_)) {
            return Err(arg_err(MODULE, "mode", "`mode` only applies to `state: enabled`"));
        }
        if a.force.0 && !matches!(op, Op::Disabled | Op::Promote { .. }) {
            return Err(arg_err(MODULE, "force", "`force` applies to `state: disabled` and `action: promote` only"));
        }
        Ok(RbdMirrorImageModule { cluster, image: ceph_cli::image_spec(MODULE, "image", &a.image)?, op, force: a.force.0 })
    }

    fn info_cmd(&self, spec: &ImageSpec) -> crate::transport::RemoteCommand {
        self.cluster.rbd(["info", "--format", "json", &spec.to_string()])
    }

    /// `rbd mirror image VERB [OPTIONS] IMAGE [MODE]`.
    fn mirror_cmd(&self, verb: &str, options: &[&str]) -> crate::transport::RemoteCommand {
        self.mirror_cmd_then(verb, options, None)
    }

    fn mirror_cmd_then(&self, verb: &str, options: &[&str], last: Option<&str>) -> crate::transport::RemoteCommand {
        let mut argv = vec!["mirror".to_string(), "image".into(), verb.into()];
        argv.extend(options.iter().map(|s| s.to_string()));
        argv.push(self.image.to_string());
        argv.extend(last.map(str::to_string));
        self.cluster.rbd(argv)
    }

    fn not_enabled(&self, what: &str) -> Failure {
        Failure::msg(format!("mirroring is not enabled on {} (cluster {}): nothing to {what}", self.image, self.cluster.name))
    }
}

impl StatefulModule for RbdMirrorImageModule {
    type State = ImageState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<ImageState, ModuleError> {
        let cmd = self.info_cmd(&self.image);
        let info = match ceph_cli::query(cx, &cmd).await? {
            Ok(out) => ImageInfo::parse(&out.stdout).map_err(|e| ceph_cli::parse_failure(&cmd, &out.stdout, &e.to_string()))?,
            Err((err, out)) if err.kind == CommandErrorKind::ImageNotFound => {
                let text = format!("image {} does not exist on cluster {}", self.image, self.cluster.name);
                return Err(ceph_cli::failure("could not observe the current state", &cmd, &out, &err, Some(text)));
            }
            Err((err, out)) => return Err(ceph_cli::failure("could not observe the current state", &cmd, &out, &err, None)),
        };
        let pool_cmd = self.cluster.rbd(["mirror", "pool", "info", "--format", "json", &self.image.pool]);
        let pool = ceph_cli::observe_json(cx, &pool_cmd, MirrorPoolInfo::parse).await?;
        let mut st = ImageState { info, pool, unmirrored: Vec::new() };
        if matches!(self.op, Op::Enabled(_)) && !st.info.is_mirroring_enabled() {
            // Follow the parent links up to the first mirrored ancestor.
            let mut link = st.info.parent.clone();
            let mut seen = vec![self.image.clone()];
            while let Some(parent) = link.take() {
                let Some(spec) = parent.spec() else { break };
                if seen.contains(&spec) || seen.len() > MAX_CHAIN_DEPTH {
                    break;
                }
                seen.push(spec.clone());
                if parent.in_trash() {
                    st.unmirrored.push(Unmirrored { spec, in_trash: true });
                    break;
                }
                let info = ceph_cli::observe_json(cx, &self.info_cmd(&spec), ImageInfo::parse).await?;
                if info.is_mirroring_enabled() {
                    break;
                }
                st.unmirrored.push(Unmirrored { spec, in_trash: false });
                link = info.parent;
            }
        }
        Ok(st)
    }

    fn plan(&self, st: &ImageState) -> Result<Vec<Change>, Failure> {
        let image = &self.image;
        let m = st.info.mirroring.as_ref();
        let enabled = st.info.is_mirroring_enabled();
        let primary = st.info.is_primary();
        let pool_mode = st.pool.mode.clone().unwrap_or(PoolMirrorMode::Disabled);
        let change = |summary: String, cmd| Ok(vec![Change { summary, commands: vec![cmd], diff: None }]);
        match &self.op {
            Op::Enabled(mode) => {
                if enabled {
                    let have = m.and_then(|m| m.mode.clone());
                    if have.as_ref().is_some_and(|h| h != mode) {
                        return Err(Failure::msg(format!(
                            "{image} is already mirrored in {} mode, not {mode}; switching modes means disabling and enabling again, \
                             which copies the whole image: do it explicitly",
                            have.map(|h| h.to_string()).unwrap_or_default()
                        )));
                    }
                    return Ok(Vec::new());
                }
                if pool_mode == PoolMirrorMode::Disabled {
                    return Err(Failure::msg(format!(
                        "mirroring is disabled on pool {}: enable it first (`rbd_mirror_pool: {{pool: {}, mode: image}}`)",
                        image.pool, image.pool
                    )));
                }
                if let Some(first) = st.unmirrored.first() {
                    let chain: Vec<String> = st.unmirrored.iter().rev().map(|u| u.spec.to_string()).collect();
                    if first.in_trash || st.unmirrored.iter().any(|u| u.in_trash) {
                        let trashed = st.unmirrored.iter().find(|u| u.in_trash).map(|u| u.spec.to_string()).unwrap_or_default();
                        return Err(Failure::msg(format!(
                            "cannot mirror {image}: its parent chain includes {trashed}, which is in the trash and cannot be mirrored; \
                             restore it (`rbd_image: {{action: restore}}`) or flatten {image}"
                        )));
                    }
                    return Err(Failure::msg(format!(
                        "cannot mirror {image}: it is a clone and its parent {} is not mirrored (G1: Ceph refuses with rc 22; \
                         in a pool-mode pool the clone would silently never appear on the target, G2). Enable mirroring on {} first, root first",
                        first.spec,
                        chain.join(", then ")
                    )));
                }
                if pool_mode == PoolMirrorMode::Pool {
                    if *mode == MirrorImageMode::Snapshot {
                        return Err(Failure::msg(format!(
                            "pool {} is in pool mode, which mirrors journaling images only; snapshot mirroring needs an image-mode pool",
                            image.pool
                        )));
                    }
                    if !st.info.is_journaling() {
                        return change(
                            format!("enable journaling on {image} (pool {} is in pool mode, so that enables journal mirroring)", image.pool),
                            self.cluster.rbd(["feature", "enable", &image.to_string(), "journaling"]),
                        );
                    }
                    return Err(Failure::msg(format!(
                        "{image} has journaling in pool-mode pool {} but its mirroring is {}; Ceph enables such images itself: \
                         check `rbd mirror pool status {}`",
                        image.pool,
                        m.and_then(|m| m.state.clone()).map(|s| s.to_string()).unwrap_or_else(|| "off".into()),
                        image.pool
                    )));
                }
                change(format!("enable {mode} mirroring on {image}"), self.mirror_cmd_then("enable", &[], Some(mode.as_str())))
            }
            Op::Disabled => {
                let state = m.and_then(|m| m.state.clone());
                if !matches!(state, Some(MirrorImageState::Enabled | MirrorImageState::Disabling | MirrorImageState::Unknown)) {
                    return Ok(Vec::new());
                }
                if pool_mode == PoolMirrorMode::Pool {
                    return Err(Failure::msg(format!(
                        "pool {} is in pool mode, where single images cannot be disabled (G9 rule 5: rc 22); \
                         disable the whole pool with `rbd_mirror_pool: {{mode: disabled}}`",
                        image.pool
                    )));
                }
                if primary == Some(false) && !self.force {
                    return Err(Failure::msg(format!(
                        "{image} is the non-primary copy on cluster {}: disabling it needs `force: true` (G9 rule 4: rc 22)",
                        self.cluster.name
                    )));
                }
                if primary == Some(false) {
                    return change(format!("disable mirroring on {image} (non-primary copy, --force)"), self.mirror_cmd("disable", &["--force"]));
                }
                let extra: &[&str] = if self.force { &["--force"] } else { &[] };
                change(format!("disable mirroring on {image}"), self.mirror_cmd("disable", extra))
            }
            Op::Demote => {
                if !enabled {
                    return Err(self.not_enabled("demote"));
                }
                if primary == Some(false) {
                    return Ok(Vec::new());
                }
                change(format!("demote {image} to non-primary"), self.mirror_cmd("demote", &[]))
            }
            Op::Promote { .. } => {
                if !enabled {
                    return Err(self.not_enabled("promote"));
                }
                if primary == Some(true) {
                    return Ok(Vec::new());
                }
                if self.force {
                    return change(format!("force-promote {image} to primary (the other site may stay primary too)"), self.mirror_cmd("promote", &["--force"]));
                }
                change(format!("promote {image} to primary"), self.mirror_cmd("promote", &[]))
            }
            Op::Resync => {
                if !enabled {
                    return Err(self.not_enabled("resync"));
                }
                if primary == Some(true) {
                    return Err(Failure::msg(format!("{image} is primary on cluster {}: a resync is requested on the non-primary copy", self.cluster.name)));
                }
                change(format!("request a full resync of {image} from the primary"), self.mirror_cmd("resync", &[]))
            }
            Op::Snapshot => {
                if !enabled {
                    return Err(self.not_enabled("snapshot"));
                }
                if m.and_then(|m| m.mode.clone()) != Some(MirrorImageMode::Snapshot) {
                    return Err(Failure::msg(format!("{image} is not in snapshot mirroring mode: mirror snapshots apply to snapshot mode only")));
                }
                if primary == Some(false) {
                    return Err(Failure::msg(format!("{image} is non-primary here: mirror snapshots are taken on the primary")));
                }
                change(format!("take a mirror snapshot of {image}"), self.mirror_cmd("snapshot", &[]))
            }
        }
    }
}

impl CephModule for RbdMirrorImageModule {
    fn recover(&self, _st: &ImageState, _change: &Change, err: &CommandError) -> Recovery {
        let image = &self.image;
        match (&self.op, err.kind) {
            (Op::Promote { wait: Some(w) }, CommandErrorKind::RemoteStillPrimary) => Recovery::RetryFor(*w),
            (Op::Promote { .. }, CommandErrorKind::RemoteStillPrimary) => Recovery::Fail(Some(ceph_cli::with_remedy(
                err,
                &format!(
                    "demote {image} on the source first; if it is already demoted, give `wait_for_demotion: SECONDS` to wait until \
                     the target sees it (G7); `force: true` only if the source is lost (both sides become primary)"
                ),
            ))),
            (Op::Disabled, CommandErrorKind::ChildrenStillMirrored) => Recovery::Fail(Some(ceph_cli::with_remedy(
                err,
                &format!("disable mirroring on the clones of {image} first (G9 rule 3; `rbd children --all {image}@SNAP` lists them)"),
            ))),
            (Op::Enabled(_), CommandErrorKind::ParentNotMirrored) => Recovery::Fail(Some(ceph_cli::with_remedy(
                err,
                &format!("the parent of {image} lost its mirroring after ferry looked; run `rbd_chain` to see the chain and enable it root first"),
            ))),
            _ => Recovery::Fail(None),
        }
    }

    fn converges(&self) -> bool {
        !matches!(self.op, Op::Resync | Op::Snapshot)
    }

    fn assume_in_check(&self, st: &ImageState) -> Option<String> {
        let image = &self.image;
        let enabled = st.info.is_mirroring_enabled();
        let pool_mode = st.pool.mode.clone().unwrap_or(PoolMirrorMode::Disabled);
        match &self.op {
            Op::Enabled(mode) if pool_mode == PoolMirrorMode::Disabled || !st.unmirrored.is_empty() => Some(format!("enable {mode} mirroring on {image}")),
            Op::Disabled if pool_mode == PoolMirrorMode::Pool => Some(format!("disable mirroring on {image} if the pool's disable leaves it on")),
            Op::Demote if !enabled => Some(format!("demote {image} to non-primary")),
            Op::Promote { .. } if !enabled => Some(format!("promote {image} to primary")),
            Op::Resync if !enabled => Some(format!("request a full resync of {image} from the primary")),
            Op::Snapshot if !enabled => Some(format!("take a mirror snapshot of {image}")),
            _ => None,
        }
    }

    fn unconverged(&self, after: &ImageState, left: &[Change]) -> String {
        let still = left.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ");
        if self.op == Op::Demote && after.info.is_primary() == Some(true) {
            return format!("did not converge: {} is still primary after the demote; is a client holding its exclusive lock?", self.image);
        }
        format!("did not converge: after applying, the cluster still needs: {still}")
    }

    fn report(&self, before: &ImageState, after: Option<&ImageState>) -> serde_json::Map<String, Value> {
        let st = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("image".into(), self.image.to_string().into());
        let mir = st.info.mirroring.clone().unwrap_or_default();
        m.insert("mirroring".into(), mir.state.map(|s| s.to_string()).unwrap_or_else(|| "disabled".into()).into());
        if let Some(mode) = mir.mode {
            m.insert("mode".into(), mode.to_string().into());
        }
        if let Some(p) = mir.primary {
            m.insert("primary".into(), p.into());
        }
        if let Some(g) = mir.global_id {
            m.insert("global_id".into(), g.into());
        }
        m.insert("journaling".into(), st.info.is_journaling().into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module(args: Value) -> RbdMirrorImageModule {
        RbdMirrorImageModule::from_args(&args).unwrap()
    }

    fn state(info: &str, pool: &str) -> ImageState {
        ImageState { info: ImageInfo::parse(info).unwrap(), pool: MirrorPoolInfo::parse(pool).unwrap(), unmirrored: Vec::new() }
    }

    const A_BASE: &str = include_str!("../../tests/fixtures/ceph/site-a.info.images-base.json");
    const A_VOL1: &str = include_str!("../../tests/fixtures/ceph/site-a.info.volumes-vol1.json");
    const B_VOL1: &str = include_str!("../../tests/fixtures/ceph/site-b.info.volumes-vol1.json");
    const B_VOL1_PROMOTED: &str = include_str!("../../tests/fixtures/ceph/site-b.info.volumes-vol1.after-promote.json");
    const A_IMAGES: &str = include_str!("../../tests/fixtures/ceph/site-a.mirror-pool-info.images.json");
    const B_VOLUMES: &str = include_str!("../../tests/fixtures/ceph/site-b.mirror-pool-info.volumes.json");
    const PLAIN: &str = r#"{"name":"base","features":["layering","exclusive-lock","object-map","fast-diff","deep-flatten","journaling"],"mirroring":{"mode":"journal","state":"disabled"}}"#;

    fn cmds(c: &[Change]) -> Vec<String> {
        c.iter().flat_map(|c| c.commands.iter().map(ToString::to_string)).collect()
    }

    #[test]
    fn enables_journal_mirroring_in_an_image_mode_pool() {
        let m = module(json!({"image": "images/base", "state": "enabled", "cluster": "site-a"}));
        let c = m.plan(&state(PLAIN, A_IMAGES)).unwrap();
        assert_eq!(c[0].summary, "enable journal mirroring on images/base");
        assert_eq!(cmds(&c), ["rbd --cluster site-a mirror image enable images/base journal"]);
        assert!(m.plan(&state(A_BASE, A_IMAGES)).unwrap().is_empty(), "already enabled");
        let snap = module(json!({"image": "images/base", "state": "enabled", "mode": "snapshot"}));
        assert!(snap.plan(&state(A_BASE, A_IMAGES)).unwrap_err().msg.contains("already mirrored in journal mode"));
    }

    #[test]
    fn a_clone_whose_parent_is_not_mirrored_is_refused_naming_the_parent() {
        let m = module(json!({"image": "volumes/vol1", "state": "enabled"}));
        let mut s = state(r#"{"features":["journaling"],"parent":{"pool":"images","image":"base","snapshot":"snap"}}"#, r#"{"mode":"image"}"#);
        s.unmirrored =
            vec![Unmirrored { spec: "images/base".parse().unwrap(), in_trash: false }, Unmirrored { spec: "images/os".parse().unwrap(), in_trash: false }];
        let e = m.plan(&s).unwrap_err();
        assert!(e.msg.contains("its parent images/base is not mirrored (G1"), "{}", e.msg);
        assert!(e.msg.contains("Enable mirroring on images/os, then images/base first"), "{}", e.msg);
        s.unmirrored[1].in_trash = true;
        assert!(m.plan(&s).unwrap_err().msg.contains("images/os, which is in the trash"));
    }

    #[test]
    fn pool_mode_enables_through_journaling_and_refuses_snapshot_mode() {
        let m = module(json!({"image": "volumes/v2", "state": "enabled"}));
        let s = state(r#"{"features":["layering","exclusive-lock"]}"#, r#"{"mode":"pool"}"#);
        assert_eq!(cmds(&m.plan(&s).unwrap()), ["rbd --cluster ceph feature enable volumes/v2 journaling"]);
        let snap = module(json!({"image": "volumes/v2", "state": "enabled", "mode": "snapshot"}));
        assert!(snap.plan(&s).unwrap_err().msg.contains("journaling images only"));
        let off = state(r#"{}"#, r#"{"mode":"disabled"}"#);
        assert!(m.plan(&off).unwrap_err().msg.contains("mirroring is disabled on pool volumes"));
    }

    #[test]
    fn disabling_a_non_primary_copy_needs_force_and_pool_mode_refuses() {
        let m = module(json!({"image": "volumes/vol1", "state": "disabled"}));
        let e = m.plan(&state(B_VOL1, r#"{"mode":"image"}"#)).unwrap_err();
        assert!(e.msg.contains("needs `force: true` (G9 rule 4"), "{}", e.msg);
        let forced = module(json!({"image": "volumes/vol1", "state": "disabled", "force": true, "cluster": "site-b"}));
        assert_eq!(cmds(&forced.plan(&state(B_VOL1, r#"{"mode":"image"}"#)).unwrap()), ["rbd --cluster site-b mirror image disable --force volumes/vol1"]);
        assert!(m.plan(&state(B_VOL1, B_VOLUMES)).unwrap_err().msg.contains("G9 rule 5"));
        // G10: after disable the mirroring key is gone: nothing to do.
        let gone = include_str!("../../tests/fixtures/ceph/site-b.info.vol1-migrated.after-cleanup.json");
        assert!(m.plan(&state(gone, r#"{"mode":"disabled"}"#)).unwrap().is_empty());
    }

    #[test]
    fn demote_and_promote_are_idempotent_from_the_primary_flag() {
        let demote = module(json!({"image": "volumes/vol1", "action": "demote"}));
        assert_eq!(cmds(&demote.plan(&state(A_VOL1, B_VOLUMES)).unwrap()), ["rbd --cluster ceph mirror image demote volumes/vol1"]);
        assert!(demote.plan(&state(B_VOL1, B_VOLUMES)).unwrap().is_empty(), "already non-primary");
        let promote = module(json!({"image": "volumes/vol1", "action": "promote", "wait_for_demotion": 120}));
        assert_eq!(cmds(&promote.plan(&state(B_VOL1, B_VOLUMES)).unwrap()), ["rbd --cluster ceph mirror image promote volumes/vol1"]);
        assert!(promote.plan(&state(B_VOL1_PROMOTED, B_VOLUMES)).unwrap().is_empty(), "already primary");
        let forced = module(json!({"image": "volumes/vol1", "action": "promote", "force": true}));
        assert!(cmds(&forced.plan(&state(B_VOL1, B_VOLUMES)).unwrap())[0].ends_with("promote --force volumes/vol1"));
    }

    #[test]
    fn promote_while_the_remote_is_primary_retries_only_when_asked() {
        let text = include_str!("../../tests/fixtures/ceph/site-b.err.promote-while-remote-primary.txt");
        let err = CommandError::classify(16, text);
        let change = Change { summary: "promote".into(), commands: vec![], diff: None };
        let waiting = module(json!({"image": "volumes/vol1", "action": "promote", "wait_for_demotion": 90}));
        assert_eq!(waiting.recover(&ImageState::default(), &change, &err), Recovery::RetryFor(Duration::from_secs(90)));
        let plain = module(json!({"image": "volumes/vol1", "action": "promote"}));
        let Recovery::Fail(Some(msg)) = plain.recover(&ImageState::default(), &change, &err) else { panic!() };
        assert!(msg.contains("wait_for_demotion") && msg.contains("G7"), "{msg}");
        assert_eq!(msg.matches("To fix").count(), 1, "{msg}");
    }

    #[test]
    fn resync_and_snapshot_are_one_shot() {
        let resync = module(json!({"image": "volumes/vol1", "action": "resync"}));
        assert!(!resync.converges());
        assert_eq!(cmds(&resync.plan(&state(B_VOL1, B_VOLUMES)).unwrap()), ["rbd --cluster ceph mirror image resync volumes/vol1"]);
        assert!(resync.plan(&state(A_VOL1, B_VOLUMES)).unwrap_err().msg.contains("is primary"));
        let snap = module(json!({"image": "volumes/vol1", "action": "snapshot"}));
        assert!(snap.plan(&state(A_VOL1, B_VOLUMES)).unwrap_err().msg.contains("not in snapshot mirroring mode"));
    }

    #[test]
    fn arguments() {
        for bad in [
            json!({"image": "v/i"}),
            json!({"image": "v/i", "state": "enabled", "action": "demote"}),
            json!({"image": "v/i", "action": "demote", "wait_for_demotion": 5}),
            json!({"image": "v/i", "action": "demote", "force": true}),
            json!({"image": "v/i", "state": "enabled", "mode": "mirror"}),
        ] {
            assert!(RbdMirrorImageModule::from_args(&bad).is_err(), "{bad}");
        }
    }
}
