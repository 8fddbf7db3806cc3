//! The clone-chain part of a plan, as `rbd_chain` returned it: the images
//! root first, the tree, each pool's mode and why, the source's steps, and
//! the issues.

use crate::ceph::{ChainIssue, ChainPlan};
use crate::vars::Value;
use serde_json::{json, Map};

/// What the planner found on the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainView {
    /// Images to mirror, root first (a trashed parent is left out: it cannot be).
    pub order: Vec<String>,
    /// The chains as a tree, roots at the top.
    pub tree: String,
    /// Every pool of the chain.
    pub pools: Vec<PoolView>,
    /// The enabling steps on the source, in order, in words.
    pub steps: Vec<String>,
    /// Problems found.
    pub issues: Vec<IssueView>,
}

/// One pool's mirror mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolView {
    /// Pool name.
    pub name: String,
    /// `image` or `pool`.
    pub mode: String,
    /// Why this mode.
    pub reason: String,
    /// The chain's images in it.
    pub images: Vec<String>,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueView {
    /// Whether mirroring cannot work until it is fixed.
    pub blocking: bool,
    /// What is wrong and what to do.
    pub message: String,
}

impl ChainView {
    /// From the result `rbd_chain` registers (keys order, tree, pools, steps, issues).
    ///
    /// # Errors
    ///
    /// The key that is missing or of the wrong shape.
    pub fn from_result(result: &Map<String, Value>) -> Result<ChainView, String> {
        let list = |key: &str| result.get(key).and_then(Value::as_array).ok_or_else(|| format!("rbd_chain returned no `{key}` list"));
        let text = |v: &Value, key: &str| {
            v.get(key).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("rbd_chain returned an entry without `{key}`: {v}"))
        };
        let order = list("order")?
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("rbd_chain returned {v} in `order`")))
            .collect::<Result<_, _>>()?;
        let tree = result.get("tree").and_then(Value::as_str).ok_or("rbd_chain returned no `tree`")?.to_string();
        let pools = list("pools")?
            .iter()
            .map(|p| {
                let images =
                    p.get("images").and_then(Value::as_array).map(|a| a.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()).unwrap_or_default();
                Ok(PoolView { name: text(p, "name")?, mode: text(p, "mode")?, reason: text(p, "reason")?, images })
            })
            .collect::<Result<_, String>>()?;
        let steps = list("steps")?.iter().map(|s| text(s, "text")).collect::<Result<_, _>>()?;
        let issues = list("issues")?
            .iter()
            .map(|i| Ok(IssueView { blocking: i.get("blocking").and_then(Value::as_bool).unwrap_or(true), message: text(i, "message")? }))
            .collect::<Result<_, String>>()?;
        Ok(ChainView { order, tree, pools, steps, issues })
    }

    /// From a plan made here; `enables_journaling` as `rbd_chain` takes it (a
    /// missing `journaling` feature does not block when the caller turns it on).
    pub fn from_plan(plan: &ChainPlan, enables_journaling: bool) -> ChainView {
        let blocks = |i: &ChainIssue| i.is_blocking() && !(enables_journaling && matches!(i, ChainIssue::NotJournaling { .. }));
        ChainView {
            order: plan.images.iter().filter(|i| !i.in_trash).map(|i| i.spec.to_string()).collect(),
            tree: plan.render_tree(),
            pools: plan
                .pools
                .iter()
                .map(|p| PoolView {
                    name: p.name.clone(),
                    mode: p.mode.to_string(),
                    reason: p.reason.clone(),
                    images: p.images.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            steps: plan.steps.iter().map(ToString::to_string).collect(),
            issues: plan.issues.iter().map(|i| IssueView { blocking: blocks(i), message: i.to_string() }).collect(),
        }
    }

    /// As JSON: `rbd_chain`'s keys, the steps in words.
    pub fn to_json(&self) -> Value {
        json!({
            "order": self.order,
            "tree": self.tree,
            "pools": self.pools.iter().map(|p| json!({"name": p.name, "mode": p.mode, "reason": p.reason, "images": p.images})).collect::<Vec<_>>(),
            "steps": self.steps,
            "issues": self.issues.iter().map(|i| json!({"blocking": i.blocking, "message": i.message})).collect::<Vec<_>>(),
        })
    }
}
