//! `rbd_chain` (read-only facts): which images must be mirrored, root first,
//! for the requested volumes and their clone parents, and which mode each
//! pool needs. It runs `rbd info --format json` once per image along the
//! `parent` links (and `rbd ls` per whole pool), hands them to
//! [`crate::ceph::plan_chain`], and returns the plan as JSON. It fails only
//! when an issue blocks mirroring (a parent in the trash, in a pool missing
//! on the other site, a pool-mode pool with non-journaling images).

use super::args::{self, Flag, OneOrMany, Text};
use super::ceph_cli::{self, arg_err, Cluster};
use super::{Failure, ModuleContext, ModuleError, ModuleOutput};
use crate::ceph::{plan_chain, ChainError, ChainIssue, ChainPlan, ChainRequest, ChainStep, CommandErrorKind, ImageInfo, ImageSpec};
use crate::transport::RemoteCommand;
use crate::vars::Value;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const MODULE: &str = "rbd_chain";

/// More lookups than this means something is looping.
const MAX_LOOKUPS: usize = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    images: OneOrMany<Text>,
    #[serde(default)]
    whole_pools: OneOrMany<Text>,
    known_pools: Option<OneOrMany<Text>>,
    #[serde(default)]
    enables_journaling: Flag,
}

/// The clone-chain plan of a set of images.
#[derive(Debug)]
pub struct RbdChainModule {
    cluster: Cluster,
    images: Vec<ImageSpec>,
    whole_pools: Vec<String>,
    known_pools: Option<BTreeSet<String>>,
    /// The caller turns `journaling` on before mirroring (mirror.yml does), so
    /// an image without it does not block the plan.
    enables_journaling: bool,
}

/// Why a lookup did not return an image.
#[derive(Debug)]
enum Lookup {
    /// Not fetched yet: fetch it and plan again.
    Missing,
    /// `rbd info` failed.
    Failed(String),
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Missing => f.write_str("not looked up"),
            Lookup::Failed(e) => f.write_str(e),
        }
    }
}

impl RbdChainModule {
    /// From `rbd_chain:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let images = a.images.0.iter().enumerate().map(|(i, t)| ceph_cli::image_spec(MODULE, &format!("images[{i}]"), t)).collect::<Result<Vec<_>, _>>()?;
        let whole_pools =
            a.whole_pools.0.iter().enumerate().map(|(i, t)| ceph_cli::pool_name(MODULE, &format!("whole_pools[{i}]"), t)).collect::<Result<Vec<_>, _>>()?;
        if images.is_empty() && whole_pools.is_empty() {
            return Err(arg_err(MODULE, "images", "give `images` (pool/name ...) and/or `whole_pools`"));
        }
        let known_pools = match a.known_pools {
            Some(list) => {
                Some(list.0.iter().enumerate().map(|(i, t)| ceph_cli::pool_name(MODULE, &format!("known_pools[{i}]"), t)).collect::<Result<BTreeSet<_>, _>>()?)
            }
            None => None,
        };
        Ok(RbdChainModule { cluster, images, whole_pools, known_pools, enables_journaling: a.enables_journaling.0 })
    }

    /// Reads the chains and plans them.
    fn info_command(&self, image: &ImageSpec) -> RemoteCommand {
        self.cluster.rbd(["info", "--format", "json", &image.to_string()])
    }

    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        let mut request = ChainRequest { images: self.images.clone(), whole_pools: BTreeMap::new(), known_pools: self.known_pools.clone() };
        for pool in &self.whole_pools {
            let cmd = self.cluster.rbd(["ls", "--format", "json", pool.as_str()]);
            let text = ceph_cli::observe_text(cx, &cmd).await?;
            let names: Vec<String> = ceph_cli::json_array("rbd ls", &text)
                .map_err(|e| ceph_cli::parse_failure(&cmd, &text, &e))?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            request.images.extend(names.iter().map(|n| ImageSpec::new(pool.clone(), n.clone())));
            request.whole_pools.insert(pool.clone(), names);
        }
        // Every named image's `rbd info` in one round trip; parents found
        // outside the list are looked up one by one below.
        cx.observe_ahead(&request.images.iter().map(|image| self.info_command(image)).collect::<Vec<_>>()).await?;
        let mut cache: BTreeMap<ImageSpec, Result<ImageInfo, String>> = BTreeMap::new();
        let plan = loop {
            let attempt = plan_chain(&request, |s: &ImageSpec| match cache.get(s) {
                Some(Ok(info)) => Ok(info.clone()),
                Some(Err(e)) => Err(Lookup::Failed(e.clone())),
                None => Err(Lookup::Missing),
            });
            match attempt {
                Ok(plan) => break plan,
                Err(ChainError::Lookup { image, source: Lookup::Missing }) if cache.len() < MAX_LOOKUPS => {
                    let cmd = self.info_command(&image);
                    let found = match ceph_cli::query(cx, &cmd).await? {
                        Ok(out) => ImageInfo::parse(&out.stdout).map_err(|e| e.to_string()),
                        // CommandError's own remedy for a missing image is written for
                        // the target side ("rbd-mirror has not created it yet").
                        Err((err, _)) if err.kind == CommandErrorKind::ImageNotFound => {
                            Err(format!("there is no image {image} on cluster {} (rbd info: {})", self.cluster.name, err.message.trim()))
                        }
                        Err((err, _)) => Err(err.to_string()),
                    };
                    cache.insert(image, found);
                }
                Err(e) => return Err(ModuleError::Failed(Failure::msg(format!("cannot plan the clone chains on cluster {}: {e}", self.cluster.name)))),
            }
        };
        Ok(output(&plan, self.enables_journaling))
    }
}

/// The registered result, and the failure when an issue blocks (a missing
/// `journaling` does not when the caller enables it).
fn output(plan: &ChainPlan, enables_journaling: bool) -> ModuleOutput {
    let blocks = |i: &ChainIssue| i.is_blocking() && !(enables_journaling && matches!(i, ChainIssue::NotJournaling { .. }));
    let mut result = serde_json::Map::new();
    result.insert("images".into(), Value::Array(plan.images.iter().map(image_json).collect()));
    result.insert("order".into(), Value::Array(plan.images.iter().filter(|i| !i.in_trash).map(|i| Value::from(i.spec.to_string())).collect()));
    result.insert(
        "pools".into(),
        Value::Array(plan.pools.iter().map(|p| json!({"name": p.name, "mode": p.mode.to_string(), "images": p.images.iter().map(ToString::to_string).collect::<Vec<_>>(), "reason": p.reason})).collect()),
    );
    result.insert(
        "steps".into(),
        Value::Array(
            plan.steps
                .iter()
                .map(|s| match s {
                    ChainStep::EnablePool { pool, mode } => json!({"action": "enable_pool", "pool": pool, "mode": mode.to_string(), "text": s.to_string()}),
                    ChainStep::EnableImage { image } => json!({"action": "enable_image", "image": image.to_string(), "text": s.to_string()}),
                })
                .collect(),
        ),
    );
    result.insert("issues".into(), Value::Array(plan.issues.iter().map(|i| json!({"blocking": blocks(i), "message": i.to_string()})).collect()));
    result.insert("tree".into(), plan.render_tree().into());
    result.insert("text".into(), plan.to_string().into());
    let blocking: Vec<String> = plan.issues.iter().filter(|i| blocks(i)).map(ToString::to_string).collect();
    let roots_first: Vec<String> = plan.images.iter().map(|i| i.spec.to_string()).collect();
    if blocking.is_empty() {
        let pools: Vec<String> = plan.pools.iter().map(|p| format!("{} {}", p.name, p.mode)).collect();
        let msg = format!("{} image(s), root first: {}; pool modes: {}", roots_first.len(), roots_first.join(", "), pools.join(", "));
        return ModuleOutput { msg, result, ..Default::default() };
    }
    ModuleOutput { failed: true, msg: format!("mirroring cannot work until this is fixed: {}", blocking.join("; ")), result, ..Default::default() }
}

fn image_json(i: &crate::ceph::ChainImage) -> Value {
    let mirroring = i.info.as_ref().and_then(|info| info.mirroring.as_ref());
    json!({
        "image": i.spec.to_string(),
        "requested": i.requested,
        "depth": i.depth,
        "parent": i.parent.as_ref().map(|p| json!({"image": p.spec.to_string(), "snapshot": p.snapshot, "overlap": p.overlap})),
        "children": i.children.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "in_trash": i.in_trash,
        "journaling": i.info.as_ref().is_some_and(ImageInfo::is_journaling),
        "mirroring": mirroring.and_then(|m| m.state.as_ref()).map(|s| s.to_string()).unwrap_or_else(|| "disabled".into()),
        "primary": mirroring.and_then(|m| m.primary),
        "size": i.info.as_ref().and_then(|info| info.size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab_plan() -> ChainPlan {
        let samples: BTreeMap<ImageSpec, ImageInfo> = [
            ("images/base", include_str!("../../tests/fixtures/ceph/site-a.info.images-base.json")),
            ("volumes/vol1", include_str!("../../tests/fixtures/ceph/site-a.info.volumes-vol1.json")),
        ]
        .into_iter()
        .map(|(s, t)| (s.parse().unwrap(), ImageInfo::parse(t).unwrap()))
        .collect();
        let mut request = ChainRequest { images: vec!["volumes/vol1".parse().unwrap()], ..Default::default() };
        request.whole_pools.insert("volumes".into(), vec!["vol1".into()]);
        plan_chain(&request, |s: &ImageSpec| samples.get(s).cloned().ok_or("missing")).unwrap()
    }

    #[test]
    fn lab_chain_as_json_root_first() {
        let out = output(&lab_plan(), false);
        assert!(!out.failed);
        assert_eq!(out.result["order"], json!(["images/base", "volumes/vol1"]));
        assert_eq!(out.result["pools"][1]["mode"], "pool");
        assert_eq!(
            out.result["steps"][1],
            json!({"action": "enable_image", "image": "images/base", "text": "image images/base: enable journal mirroring (source)"})
        );
        assert_eq!(out.result["images"][1]["parent"]["snapshot"], "snap");
        assert_eq!(out.msg, "2 image(s), root first: images/base, volumes/vol1; pool modes: images image, volumes pool");
    }

    #[test]
    fn blocking_issues_fail_the_task() {
        let c: BTreeMap<ImageSpec, ImageInfo> = [
            (
                "volumes/vol1".parse().unwrap(),
                ImageInfo::parse(r#"{"features":["journaling"],"parent":{"pool":"glance","image":"base","snapshot":"s"}}"#).unwrap(),
            ),
            ("glance/base".parse().unwrap(), ImageInfo::parse(r#"{"features":["journaling"]}"#).unwrap()),
        ]
        .into_iter()
        .collect();
        let request = ChainRequest { images: vec!["volumes/vol1".parse().unwrap()], known_pools: Some(["volumes".to_string()].into()), ..Default::default() };
        let plan = plan_chain(&request, |s: &ImageSpec| c.get(s).cloned().ok_or("missing")).unwrap();
        let out = output(&plan, false);
        assert!(out.failed);
        assert!(out.msg.contains("parent glance/base is in pool `glance`"), "{}", out.msg);
        assert_eq!(out.result["issues"][0]["blocking"], true);
    }

    #[test]
    fn missing_journaling_blocks_unless_the_caller_enables_it() {
        let info = |json: &str| ImageInfo::parse(json).unwrap();
        let c: BTreeMap<ImageSpec, ImageInfo> = [("volumes/vol1".parse().unwrap(), info(r#"{"features":["layering"]}"#))].into_iter().collect();
        let request = ChainRequest {
            images: vec!["volumes/vol1".parse().unwrap()],
            whole_pools: [("volumes".to_string(), vec!["vol1".to_string()])].into(),
            ..Default::default()
        };
        let plan = plan_chain(&request, |s: &ImageSpec| c.get(s).cloned().ok_or("missing")).unwrap();
        let strict = output(&plan, false);
        assert!(strict.failed && strict.msg.contains("`journaling` feature is off"), "{}", strict.msg);
        let lenient = output(&plan, true);
        assert!(!lenient.failed, "{}", lenient.msg);
        assert_eq!(lenient.result["issues"][0]["blocking"], false);
    }

    #[test]
    fn arguments() {
        assert!(RbdChainModule::from_args(&json!({})).is_err());
        assert!(RbdChainModule::from_args(&json!({"images": "volumes/vol1"})).is_ok());
        assert!(RbdChainModule::from_args(&json!({"images": ["volumes"]})).unwrap_err().0.starts_with("images[0]"));
    }
}
