//! `rbd_mirror_pool`: a pool's mirror mode (`pool`, `image`, `disabled`)
//! and this cluster's site name.
//!
//! Ceph's own refusals are predicted before anything runs, so `--check`
//! shows them and the message names the culprit:
//! - G1: switching to pool mode fails (rc 22, and the pool is left in image
//!   mode) while a journaling clone's parent in another pool is not
//!   mirrored; a same-pool parent without journaling is skipped by pool mode
//!   and its clone then never replicates (G2). Both are named.
//! - G9: disabling needs the peers removed first (rule 1), and an image-mode
//!   pool's images disabled first (rule 2). Rule 5 (non-primary images in a
//!   pool-mode pool) is only visible in Ceph's answer, which is explained.
//!   With `force: true` the module disables the images itself, in the order
//!   Ceph accepts: a pool-mode pool holding non-primary images is switched to
//!   image mode first (rule 5), then every image is disabled, clones before
//!   their parents (rule 3), non-primary ones with `--force` (rule 4), then the
//!   pool. Peers are never removed implicitly (rule 1: `rbd_mirror_peer`).

use super::args::{self, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster, Recovery};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::ceph::{CommandError, CommandErrorKind, ImageInfo, ImageSpec, MirrorPoolInfo, MirrorPoolStatus, PoolMirrorMode, MAX_CHAIN_DEPTH};
use crate::vars::Value;
use serde::Deserialize;
use std::collections::BTreeMap;

const MODULE: &str = "rbd_mirror_pool";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "name")]
    pool: Text,
    mode: Text,
    site_name: Option<Text>,
    #[serde(default)]
    force: super::args::Flag,
}

/// The mirror mode of one pool.
#[derive(Debug)]
pub struct RbdMirrorPoolModule {
    cluster: Cluster,
    pool: String,
    mode: PoolMirrorMode,
    site_name: Option<String>,
    force: bool,
}

/// A clone that stops the pool from switching to pool mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// The clone.
    pub clone: ImageSpec,
    /// Its parent, not mirrored.
    pub parent: ImageSpec,
    /// True when the parent is in this pool but lacks journaling (G2);
    /// false when it is in another pool and not mirrored (G1).
    pub same_pool: bool,
}

/// What `observe` learned.
#[derive(Debug, Clone, Default)]
pub struct MirrorPoolState {
    /// `rbd mirror pool info`.
    pub info: MirrorPoolInfo,
    /// Images with mirroring enabled; read only when disabling.
    pub mirrored_images: Vec<String>,
    /// `rbd info` of those images; read only when disabling with `force`.
    pub image_infos: Vec<(String, ImageInfo)>,
    /// Read only when switching to pool mode.
    pub blockers: Vec<Blocker>,
}

impl RbdMirrorPoolModule {
    /// From `rbd_mirror_pool:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let mode = match a.mode.0.trim() {
            "pool" => PoolMirrorMode::Pool,
            "image" => PoolMirrorMode::Image,
            "disabled" | "disable" => PoolMirrorMode::Disabled,
            other => return Err(arg_err(MODULE, "mode", format!("`mode` must be pool, image or disabled, not `{other}`"))),
        };
        let site_name = match a.site_name {
            Some(t) => {
                let s = t.0.trim().to_string();
                if s.is_empty() || s.starts_with('-') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(arg_err(MODULE, "site_name", format!("`site_name` must be one word, not `{s}`")));
                }
                Some(s)
            }
            None => None,
        };
        if a.force.0 && mode != PoolMirrorMode::Disabled {
            return Err(arg_err(MODULE, "force", "`force` only applies to `mode: disabled`"));
        }
        Ok(RbdMirrorPoolModule { pool: ceph_cli::pool_name(MODULE, "pool", &a.pool)?, cluster, mode, site_name, force: a.force.0 })
    }

    /// `force: true`: every image off in an order Ceph accepts, then the pool.
    fn forced_disable(&self, st: &MirrorPoolState, current: &PoolMirrorMode) -> Vec<Change> {
        let pool = &self.pool;
        let enabled: Vec<&(String, ImageInfo)> = st.image_infos.iter().filter(|(_, i)| i.is_mirroring_enabled()).collect();
        let non_primary = enabled.iter().filter(|(_, i)| i.is_primary() == Some(false)).count();
        let disable_pool = Change {
            summary: format!("disable mirroring on pool {pool} (was {current} mode)"),
            commands: vec![self.cluster.rbd(["mirror", "pool", "disable", pool.as_str()])],
            diff: None,
        };
        let mut changes = Vec::new();
        if *current == PoolMirrorMode::Pool {
            if non_primary == 0 {
                // Pool disable takes the (primary) images with it.
                return vec![disable_pool];
            }
            changes.push(Change {
                summary: format!("switch pool {pool} to image mode so its {non_primary} non-primary image(s) can be disabled one by one (G9 rule 5)"),
                commands: vec![self.cluster.rbd(["mirror", "pool", "enable", pool.as_str(), "image"])],
                diff: None,
            });
        }
        // Clones before their parents (G9 rule 3): deepest same-pool chain first.
        let depth = |name: &str| {
            let mut d = 0;
            let mut cur = name.to_string();
            while let Some((_, info)) = st.image_infos.iter().find(|(n, _)| *n == cur) {
                match info.parent.as_ref().and_then(|p| p.spec()) {
                    Some(p) if p.pool == *pool && p.namespace.is_none() && d < MAX_CHAIN_DEPTH => {
                        d += 1;
                        cur = p.name;
                    }
                    _ => break,
                }
            }
            d
        };
        let mut ordered: Vec<(usize, &String, &ImageInfo)> = enabled.iter().map(|(n, i)| (depth(n), n, i)).collect();
        ordered.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        for (_, name, info) in ordered {
            let spec = format!("{pool}/{name}");
            let (summary, argv) = if info.is_primary() == Some(false) {
                (format!("disable mirroring on {spec} (non-primary copy, --force)"), vec!["mirror", "image", "disable", "--force", spec.as_str()])
            } else {
                (format!("disable mirroring on {spec}"), vec!["mirror", "image", "disable", spec.as_str()])
            };
            changes.push(Change { summary, commands: vec![self.cluster.rbd(argv)], diff: None });
        }
        changes.push(disable_pool);
        changes
    }

    fn current(st: &MirrorPoolState) -> PoolMirrorMode {
        st.info.mode.clone().unwrap_or(PoolMirrorMode::Disabled)
    }
}

/// `(clone, parent)` for every image head with a parent in `rbd ls -l --format json POOL`.
fn clones_of(pool: &str, text: &str) -> Result<Vec<(ImageSpec, ImageSpec)>, String> {
    let rows = ceph_cli::json_array("rbd ls -l", text)?;
    // Image heads are the rows without `snapshot`.
    let mut clones = Vec::new();
    for row in rows.iter().filter(|r| r.get("snapshot").is_none()) {
        let (Some(name), Some(parent)) = (ceph_cli::str_field(row, "image"), row.get("parent")) else { continue };
        let (Some(pp), Some(pi)) = (ceph_cli::str_field(parent, "pool"), ceph_cli::str_field(parent, "image")) else { continue };
        let ns = ceph_cli::str_field(parent, "pool_namespace").unwrap_or_default();
        clones.push((ImageSpec::new(pool, name), ImageSpec::with_namespace(pp, ns, pi)));
    }
    Ok(clones)
}

/// The clones that would break a switch of `pool` to pool mode, from
/// `rbd ls -l` and `rbd info` of the parents (and of the suspicious clones).
async fn find_blockers(m: &RbdMirrorPoolModule, cx: &ModuleContext<'_>) -> Result<Vec<Blocker>, ModuleError> {
    let ls = m.cluster.rbd(["ls", "-l", "--format", "json", m.pool.as_str()]);
    let text = ceph_cli::observe_text(cx, &ls).await?;
    let clones = clones_of(&m.pool, &text).map_err(|e| ceph_cli::parse_failure(&ls, &text, &e))?;
    let mut parents: BTreeMap<ImageSpec, ImageInfo> = BTreeMap::new();
    for (_, parent) in &clones {
        if !parents.contains_key(parent) {
            let info = ceph_cli::observe_json(cx, &m.cluster.rbd(["info", "--format", "json", &parent.to_string()]), ImageInfo::parse).await?;
            parents.insert(parent.clone(), info);
        }
    }
    let mut blockers = Vec::new();
    for (clone, parent) in clones {
        let Some(p) = parents.get(&parent) else { continue };
        let same_pool = parent.pool == m.pool && parent.namespace.is_none();
        // Pool mode enables a same-pool journaling parent itself (Ceph relaxes
        // the parent check for it); anything else must already be mirrored.
        let covered = p.is_mirroring_enabled() || (same_pool && p.is_journaling());
        if covered {
            continue;
        }
        let info = ceph_cli::observe_json(cx, &m.cluster.rbd(["info", "--format", "json", &clone.to_string()]), ImageInfo::parse).await?;
        if info.is_journaling() {
            blockers.push(Blocker { clone, parent, same_pool });
        }
    }
    Ok(blockers)
}

impl StatefulModule for RbdMirrorPoolModule {
    type State = MirrorPoolState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<MirrorPoolState, ModuleError> {
        let info =
            ceph_cli::observe_json(cx, &self.cluster.rbd(["mirror", "pool", "info", "--format", "json", self.pool.as_str()]), MirrorPoolInfo::parse).await?;
        let mut st = MirrorPoolState { info, ..Default::default() };
        let current = Self::current(&st);
        if self.mode == PoolMirrorMode::Disabled && (current == PoolMirrorMode::Image || (self.force && current != PoolMirrorMode::Disabled)) {
            let cmd = self.cluster.rbd(["mirror", "pool", "status", "--format", "json", "--verbose", self.pool.as_str()]);
            let status = ceph_cli::observe_json(cx, &cmd, MirrorPoolStatus::parse).await?;
            st.mirrored_images = status.images.iter().filter_map(|i| i.name.clone()).collect();
            if self.force {
                let info_command = |name: &String| self.cluster.rbd(["info", "--format", "json", &ImageSpec::new(self.pool.clone(), name.clone()).to_string()]);
                cx.observe_ahead(&st.mirrored_images.iter().map(info_command).collect::<Vec<_>>()).await?;
                for name in &st.mirrored_images {
                    let info = ceph_cli::observe_json(cx, &info_command(name), ImageInfo::parse).await?;
                    st.image_infos.push((name.clone(), info));
                }
            }
        }
        if self.mode == PoolMirrorMode::Pool && current != PoolMirrorMode::Pool {
            st.blockers = find_blockers(self, cx).await?;
        }
        Ok(st)
    }

    fn plan(&self, st: &MirrorPoolState) -> Result<Vec<Change>, Failure> {
        let pool = &self.pool;
        let current = Self::current(st);
        if self.mode == PoolMirrorMode::Disabled {
            if current == PoolMirrorMode::Disabled {
                return Ok(Vec::new());
            }
            if !st.info.peers.is_empty() {
                let peers: Vec<String> = st
                    .info
                    .peers
                    .iter()
                    .map(|p| {
                        let dir = p.direction.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "?".into());
                        let auto = if p.is_auto_registered() { ", registered by the remote rbd-mirror (G4)" } else { "" };
                        format!("{} ({}, {dir}{auto})", p.uuid.as_deref().unwrap_or("?"), p.site_name.as_deref().unwrap_or("?"))
                    })
                    .collect();
                return Err(Failure::msg(format!(
                    "cannot disable mirroring on pool {pool}: peers are still registered: {} (G9 rule 1: Ceph refuses with rc 16). \
                     Remove them first with `rbd_mirror_peer: {{pool: {pool}, state: absent}}` (stop the target's rbd-mirror first, \
                     or it registers its tx-only peer again)",
                    peers.join(", ")
                )));
            }
            if self.force {
                return Ok(self.forced_disable(st, &current));
            }
            if current == PoolMirrorMode::Image && !st.mirrored_images.is_empty() {
                let n = st.mirrored_images.len();
                let shown: Vec<&str> = st.mirrored_images.iter().take(8).map(String::as_str).collect();
                let more = if n > shown.len() { format!(" and {} more", n - shown.len()) } else { String::new() };
                return Err(Failure::msg(format!(
                    "cannot disable mirroring on image-mode pool {pool}: {n} image(s) still have mirroring enabled: {}{more} \
                     (G9 rule 2: Ceph refuses with rc 22). Disable them first with `rbd_mirror_image: {{state: disabled}}`, \
                     clones before their parents, `force: true` for non-primary copies; or set `force: true` on this task \
                     and ferry does it in that order",
                    shown.join(", ")
                )));
            }
            return Ok(vec![Change {
                summary: format!("disable mirroring on pool {pool} (was {current} mode)"),
                commands: vec![self.cluster.rbd(["mirror", "pool", "disable", pool.as_str()])],
                diff: None,
            }]);
        }
        let site_differs = self.site_name.as_ref().is_some_and(|s| st.info.site_name.as_deref() != Some(s.as_str()));
        if current == self.mode && !site_differs {
            return Ok(Vec::new());
        }
        if self.mode == PoolMirrorMode::Pool && current != PoolMirrorMode::Pool && !st.blockers.is_empty() {
            let lines: Vec<String> = st
                .blockers
                .iter()
                .map(|b| {
                    if b.same_pool {
                        format!("{}'s parent {} has no journaling, so pool mode skips it and the clone never replicates (G2)", b.clone, b.parent)
                    } else {
                        format!("{}'s parent {} is not mirrored (G1: Ceph refuses with rc 22 and leaves the pool in image mode)", b.clone, b.parent)
                    }
                })
                .collect();
            let parents: Vec<String> = st.blockers.iter().map(|b| b.parent.to_string()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            return Err(Failure::msg(format!(
                "cannot switch pool {pool} to pool mode: {}. Mirror the parent chain first, root first: {}",
                lines.join("; "),
                parents.join(", ")
            )));
        }
        let site = self.site_name.as_ref().map(|s| format!(" (site name {s})")).unwrap_or_default();
        let summary = if current == self.mode {
            format!("set the site name of pool {pool} to {}", self.site_name.as_deref().unwrap_or_default())
        } else if current == PoolMirrorMode::Disabled {
            format!("enable {}-mode mirroring on pool {pool}{site}", self.mode)
        } else {
            format!("switch pool {pool} from {current} to {} mode{site}", self.mode)
        };
        let mut argv = vec!["mirror".to_string(), "pool".into(), "enable".into()];
        if let Some(s) = &self.site_name {
            argv.extend(["--site-name".to_string(), s.clone()]);
        }
        argv.extend([pool.clone(), self.mode.to_string()]);
        Ok(vec![Change { summary, commands: vec![self.cluster.rbd(argv)], diff: None }])
    }
}

impl CephModule for RbdMirrorPoolModule {
    fn assume_in_check(&self, st: &MirrorPoolState) -> Option<String> {
        let current = Self::current(st);
        match self.mode {
            // Peers and images are removed by earlier cleanup tasks.
            PoolMirrorMode::Disabled if self.force => Some(self.forced_disable(st, &current).iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ")),
            PoolMirrorMode::Disabled => Some(format!("disable mirroring on pool {} (was {current} mode)", self.pool)),
            // The parents are enabled by earlier tasks (rbd_chain's steps).
            PoolMirrorMode::Pool if !st.blockers.is_empty() && current == PoolMirrorMode::Disabled => {
                Some(format!("enable pool-mode mirroring on pool {}", self.pool))
            }
            PoolMirrorMode::Pool if !st.blockers.is_empty() => Some(format!("switch pool {} from {current} to pool mode", self.pool)),
            _ => None,
        }
    }

    fn recover(&self, _st: &MirrorPoolState, _change: &Change, err: &CommandError) -> Recovery {
        let pool = &self.pool;
        let remedy = match err.kind {
            CommandErrorKind::ParentNotMirrored => {
                format!("Ceph left pool {pool} in image mode (G1); mirror the clone's parent chain first, root first (`rbd_chain` shows it), then retry")
            }
            CommandErrorKind::NotPrimaryNeedsForce => format!(
                "pool {pool} holds non-primary (demoted) images and Ceph has now switched it to image mode (G9 rule 5): disable those \
                 images with `rbd_mirror_image: {{state: disabled, force: true}}` and run this task again, or run it with `force: true`"
            ),
            CommandErrorKind::MirrorPeersRegistered => format!(
                "a peer appeared after ferry looked (G4: the target's rbd-mirror registers its tx-only peer while it runs); stop it, \
                 remove the peers of pool {pool} (`rbd_mirror_peer: {{state: absent}}`), then retry"
            ),
            _ => return Recovery::Fail(None),
        };
        Recovery::Fail(Some(ceph_cli::with_remedy(err, &remedy)))
    }

    fn report(&self, before: &MirrorPoolState, after: Option<&MirrorPoolState>) -> serde_json::Map<String, Value> {
        let st = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("pool".into(), self.pool.clone().into());
        m.insert("mode".into(), Self::current(st).to_string().into());
        if let Some(s) = &st.info.site_name {
            m.insert("site_name".into(), s.clone().into());
        }
        m.insert("peers".into(), peers_json(&st.info));
        m
    }
}

/// The peers of a pool, as registered results show them.
pub fn peers_json(info: &MirrorPoolInfo) -> Value {
    Value::Array(
        info.peers
            .iter()
            .map(|p| {
                serde_json::json!({
                    "uuid": p.uuid,
                    "site_name": p.site_name,
                    "direction": p.direction.as_ref().map(|d| d.to_string()),
                    "client_name": p.client_name,
                    "mirror_uuid": p.mirror_uuid,
                    "auto_registered": p.is_auto_registered(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module(args: Value) -> RbdMirrorPoolModule {
        RbdMirrorPoolModule::from_args(&args).unwrap()
    }

    fn info(text: &str) -> MirrorPoolInfo {
        MirrorPoolInfo::parse(text).unwrap()
    }

    fn st(text: &str) -> MirrorPoolState {
        MirrorPoolState { info: info(text), ..Default::default() }
    }

    const A_VOLUMES_AUTO_PEER: &str = include_str!("../../tests/fixtures/ceph/site-a.mirror-pool-info.volumes.auto-tx-only-peer.json");
    const A_IMAGES: &str = include_str!("../../tests/fixtures/ceph/site-a.mirror-pool-info.images.json");
    const B_VOLUMES: &str = include_str!("../../tests/fixtures/ceph/site-b.mirror-pool-info.volumes.json");

    fn commands(changes: &[Change]) -> Vec<String> {
        changes.iter().flat_map(|c| c.commands.iter().map(ToString::to_string)).collect()
    }

    #[test]
    fn enables_a_disabled_pool_with_the_site_name() {
        let m = module(json!({"pool": "volumes", "mode": "pool", "site_name": "site-a", "cluster": "site-a"}));
        let c = m.plan(&st(r#"{"mode":"disabled"}"#)).unwrap();
        assert_eq!(c[0].summary, "enable pool-mode mirroring on pool volumes (site name site-a)");
        assert_eq!(commands(&c), ["rbd --cluster site-a mirror pool enable --site-name site-a volumes pool"]);
    }

    #[test]
    fn same_mode_and_site_is_ok_and_a_new_site_name_is_one_change() {
        let m = module(json!({"pool": "images", "mode": "image", "site_name": "site-a"}));
        assert!(m.plan(&st(A_IMAGES)).unwrap().is_empty());
        let m = module(json!({"pool": "images", "mode": "image", "site_name": "site-src"}));
        assert_eq!(m.plan(&st(A_IMAGES)).unwrap()[0].summary, "set the site name of pool images to site-src");
        // No site name asked: any is fine.
        let m = module(json!({"pool": "images", "mode": "image"}));
        assert!(m.plan(&st(A_IMAGES)).unwrap().is_empty());
    }

    #[test]
    fn switching_to_pool_mode_names_the_unmirrored_parent_in_another_pool() {
        let m = module(json!({"pool": "volumes", "mode": "pool", "site_name": "site-a"}));
        let mut s = st(r#"{"mode":"image","site_name":"site-a"}"#);
        s.blockers = vec![Blocker { clone: "volumes/vol1".parse().unwrap(), parent: "images/base".parse().unwrap(), same_pool: false }];
        let e = m.plan(&s).unwrap_err();
        assert!(e.msg.contains("volumes/vol1's parent images/base is not mirrored (G1"), "{}", e.msg);
        assert!(e.msg.ends_with("root first: images/base"), "{}", e.msg);
        s.blockers.clear();
        assert_eq!(m.plan(&s).unwrap()[0].summary, "switch pool volumes from image to pool mode (site name site-a)");
    }

    #[test]
    fn disabling_with_peers_explains_rule_1_and_the_auto_registered_peer() {
        let m = module(json!({"pool": "volumes", "mode": "disabled"}));
        let e = m.plan(&st(A_VOLUMES_AUTO_PEER)).unwrap_err();
        assert!(e.msg.contains("G9 rule 1"), "{}", e.msg);
        assert!(e.msg.contains("ff28c370-5b3a-4261-8145-ca536e15d87a (site-b, tx-only, registered by the remote rbd-mirror (G4))"), "{}", e.msg);
        let e = m.plan(&st(B_VOLUMES)).unwrap_err();
        assert!(e.msg.contains("rx-only"), "{}", e.msg);
    }

    #[test]
    fn disabling_an_image_mode_pool_lists_the_images_still_enabled() {
        let m = module(json!({"pool": "images", "mode": "disabled"}));
        let mut s = st(A_IMAGES);
        s.mirrored_images = vec!["base".into(), "img2".into()];
        let e = m.plan(&s).unwrap_err();
        assert!(e.msg.contains("2 image(s) still have mirroring enabled: base, img2"), "{}", e.msg);
        s.mirrored_images.clear();
        let c = m.plan(&s).unwrap();
        assert_eq!(commands(&c), ["rbd --cluster ceph mirror pool disable images"]);
        assert!(m.plan(&st(r#"{"mode":"disabled"}"#)).unwrap().is_empty());
    }

    #[test]
    fn force_disables_the_images_in_an_order_ceph_accepts() {
        let info = |t: &str| ImageInfo::parse(t).unwrap();
        let m = module(json!({"pool": "volumes", "mode": "disabled", "force": true, "cluster": "site-a"}));
        let mut s = st(r#"{"mode":"pool","site_name":"site-a","peers":[]}"#);
        s.image_infos = vec![
            ("base".into(), info(r#"{"mirroring":{"mode":"journal","state":"enabled","primary":false}}"#)),
            (
                "clone".into(),
                info(r#"{"parent":{"pool":"volumes","image":"base","snapshot":"s"},"mirroring":{"mode":"journal","state":"enabled","primary":true}}"#),
            ),
            ("gone".into(), info(r#"{"features":["layering"]}"#)),
        ];
        assert_eq!(
            commands(&m.plan(&s).unwrap()),
            [
                "rbd --cluster site-a mirror pool enable volumes image",
                "rbd --cluster site-a mirror image disable volumes/clone",
                "rbd --cluster site-a mirror image disable --force volumes/base",
                "rbd --cluster site-a mirror pool disable volumes",
            ]
        );
        // All primary in pool mode: the pool's disable takes them along.
        s.image_infos.remove(0);
        assert_eq!(commands(&m.plan(&s).unwrap()), ["rbd --cluster site-a mirror pool disable volumes"]);
        // Peers still block: never removed implicitly.
        assert!(m.plan(&st(A_VOLUMES_AUTO_PEER)).unwrap_err().msg.contains("G9 rule 1"));
        assert!(RbdMirrorPoolModule::from_args(&json!({"pool": "v", "mode": "pool", "force": true})).is_err());
    }

    #[test]
    fn failures_are_explained_with_the_rule_that_blocks() {
        let m = module(json!({"pool": "volumes", "mode": "disabled"}));
        let change = Change { summary: "x".into(), commands: vec![], diff: None };
        let e = CommandError::classify(22, "librbd::api::Mirror: image_disable: mirrored image is not primary, add force option");
        let Recovery::Fail(Some(text)) = m.recover(&MirrorPoolState::default(), &change, &e) else { panic!() };
        assert!(text.contains("G9 rule 5") && text.contains("force: true"), "{text}");
        let e = CommandError::classify(22, include_str!("../../tests/fixtures/ceph/site-a.err.pool-enable-parent-not-mirrored.txt"));
        let Recovery::Fail(Some(text)) = m.recover(&MirrorPoolState::default(), &change, &e) else { panic!() };
        assert!(text.contains("left pool volumes in image mode"), "{text}");
        assert_eq!(text.matches("To fix").count(), 1, "{text}");
    }

    #[test]
    fn clones_are_read_from_rbd_ls_l() {
        // The lab's `rbd ls -l --format json scratch`: c1 cloned from p1@s, p1 and its snapshot.
        let text = include_str!("../../tests/fixtures/ceph/cli/site-a.rbd-ls-l.scratch.json");
        let clones = clones_of("scratch", text).unwrap();
        assert_eq!(clones, [("scratch/c1".parse().unwrap(), "scratch/p1".parse().unwrap())]);
        assert!(clones_of("scratch", "{}").is_err());
    }

    #[test]
    fn arguments() {
        assert!(RbdMirrorPoolModule::from_args(&json!({"pool": "volumes", "mode": "journal"})).is_err());
        assert!(RbdMirrorPoolModule::from_args(&json!({"pool": "volumes", "mode": "pool", "site_name": "a b"})).is_err());
        assert!(RbdMirrorPoolModule::from_args(&json!({"pool": "volumes", "mode": "pool", "peers": []})).is_err());
    }
}
