//! The clone-chain planner: which images must be mirrored, in which order,
//! and which mirror mode each pool needs.
//!
//! A clone cannot replicate until its whole parent chain is mirrored (G1, G2),
//! and Ceph does not say so loudly: pool mode is refused with rc 22, or,
//! worse, the clone silently never appears on the target. So ferry walks every
//! requested image's `parent` link up to the root and mirrors the chain root
//! first. The walk is pure: the caller passes a lookup closure that runs
//! `rbd info` over SSH and parses it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::image_info::ImageInfo;
use super::image_spec::ImageSpec;
use super::mirror_pool_info::PoolMirrorMode;

/// Clone chains deeper than this are refused: Ceph has no hard limit, but a
/// chain this long means the lookup is looping on ever-new names.
pub const MAX_CHAIN_DEPTH: usize = 256;

/// What the operator asked to migrate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainRequest {
    /// Images to migrate; their parents are added by the planner.
    pub images: Vec<ImageSpec>,
    /// Pools the caller moves whole, each with every image `rbd ls` lists in
    /// it. Such a pool gets `pool` mode when all those images are requested;
    /// every other pool gets `image` mode, so nothing unrequested is mirrored.
    pub whole_pools: BTreeMap<String, Vec<String>>,
    /// Pools that exist on both sites (same names are required by rbd-mirror).
    /// `None` skips the check.
    pub known_pools: Option<BTreeSet<String>>,
}

/// The planned mirroring of the requested images and their parent chains.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainPlan {
    /// Every image to mirror, root first: a parent always precedes its clones;
    /// ties are broken by depth, then by spec, so the order is stable.
    pub images: Vec<ChainImage>,
    /// Every pool involved, by name.
    pub pools: Vec<PoolPlan>,
    /// What to enable, in order.
    pub steps: Vec<ChainStep>,
    /// Problems found; see [`ChainIssue::is_blocking`].
    pub issues: Vec<ChainIssue>,
}

/// One image of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainImage {
    /// The image.
    pub spec: ImageSpec,
    /// Whether the operator asked for it (otherwise it is only a parent).
    pub requested: bool,
    /// Its clones within the plan, sorted.
    pub children: Vec<ImageSpec>,
    /// The snapshot it was cloned from.
    pub parent: Option<ParentLink>,
    /// Distance from its root (0 for a root).
    pub depth: usize,
    /// `rbd info` of it; `None` for a parent in the trash, which cannot be opened by name.
    pub info: Option<ImageInfo>,
    /// The image sits in the trash (a removed parent still used by clones).
    pub in_trash: bool,
}

/// A clone's link to its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    /// The parent image.
    pub spec: ImageSpec,
    /// The parent snapshot; it must exist on the target before the clone replays.
    pub snapshot: Option<String>,
    /// Bytes of the clone still backed by the parent.
    pub overlap: Option<u64>,
}

/// The mirroring of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolPlan {
    /// Pool name (the same on both sites).
    pub name: String,
    /// `image` or `pool`.
    pub mode: PoolMirrorMode,
    /// The plan's images in this pool, sorted.
    pub images: Vec<ImageSpec>,
    /// Why this mode.
    pub reason: String,
}

/// One enabling step, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStep {
    /// `rbd mirror pool enable POOL MODE` on both sites. An image-mode pool
    /// comes before any of its images; a pool-mode pool comes after every
    /// parent its images need in other pools (G1).
    EnablePool {
        /// The pool.
        pool: String,
        /// The mode to set.
        mode: PoolMirrorMode,
    },
    /// `rbd mirror image enable IMAGE journal` on the source (image-mode pools).
    EnableImage {
        /// The image.
        image: ImageSpec,
    },
}

/// A problem the planner found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainIssue {
    /// The parent is in the trash: it cannot be mirror-enabled by name.
    ParentInTrash {
        /// The clone.
        child: ImageSpec,
        /// The trashed parent.
        parent: ImageSpec,
    },
    /// The parent lives in a pool not known on both sites.
    ParentPoolNotListed {
        /// The clone.
        child: ImageSpec,
        /// The parent.
        parent: ImageSpec,
    },
    /// The parent is in an RBD namespace, which the target must have too.
    ParentInNamespace {
        /// The clone.
        child: ImageSpec,
        /// The parent.
        parent: ImageSpec,
    },
    /// `rbd info` shows a parent without pool or image name.
    ParentUnnamed {
        /// The clone.
        child: ImageSpec,
    },
    /// The image lacks the `journaling` feature that journal mirroring needs.
    NotJournaling {
        /// The image.
        image: ImageSpec,
        /// Whether its pool is planned in pool mode, which skips such images.
        pool_mode: bool,
    },
}

/// Why planning stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChainError<E> {
    /// The lookup (`rbd info` over SSH) failed.
    #[error("could not read `rbd info` of {image}: {source}")]
    Lookup {
        /// The image being looked up.
        image: ImageSpec,
        /// The caller's error.
        #[source]
        source: E,
    },
    /// Parent links form a loop, which a sane cluster never has.
    #[error("the clone chain loops: {}", join(images, " -> "))]
    Cycle {
        /// The images on the loop, starting and ending with the same one.
        images: Vec<ImageSpec>,
    },
    /// The chain above `image` is longer than [`MAX_CHAIN_DEPTH`].
    #[error("the clone chain above {image} is deeper than {limit} levels; is the lookup returning endless new parents?")]
    TooDeep {
        /// The requested image whose chain was followed.
        image: ImageSpec,
        /// The limit.
        limit: usize,
    },
}

fn join(specs: &[ImageSpec], sep: &str) -> String {
    specs.iter().map(ToString::to_string).collect::<Vec<_>>().join(sep)
}

/// A node while the chains are being walked.
#[derive(Debug, Default)]
struct Node {
    requested: bool,
    parent: Option<ParentLink>,
    info: Option<ImageInfo>,
    in_trash: bool,
    /// `rbd info` was read (or cannot be: trash); its parent link is settled.
    walked: bool,
}

/// Walks the parent chain of every requested image and plans their mirroring.
///
/// `lookup` returns `rbd info` of one image; it is called once per image.
pub fn plan_chain<E, F>(request: &ChainRequest, mut lookup: F) -> Result<ChainPlan, ChainError<E>>
where
    F: FnMut(&ImageSpec) -> Result<ImageInfo, E>,
{
    let requested: BTreeSet<&ImageSpec> = request.images.iter().collect();
    let mut nodes: BTreeMap<ImageSpec, Node> = BTreeMap::new();
    let mut issues = Vec::new();

    for start in &requested {
        nodes.entry((*start).clone()).or_default().requested = true;
        walk_up(start, &mut nodes, &mut issues, request, &mut lookup)?;
    }

    let depths = depths(&nodes);
    let mut children: BTreeMap<&ImageSpec, Vec<ImageSpec>> = BTreeMap::new();
    for (spec, node) in &nodes {
        if let Some(link) = &node.parent {
            children.entry(&link.spec).or_default().push(spec.clone());
        }
    }
    let mut images: Vec<ChainImage> = nodes
        .iter()
        .map(|(spec, node)| ChainImage {
            spec: spec.clone(),
            requested: node.requested,
            children: children.get(spec).cloned().unwrap_or_default(),
            parent: node.parent.clone(),
            depth: depths.get(spec).copied().unwrap_or(0),
            info: node.info.clone(),
            in_trash: node.in_trash,
        })
        .collect();
    images.sort_by(|a, b| (a.depth, &a.spec).cmp(&(b.depth, &b.spec)));

    let mut pools = plan_pools(&images, request);
    let steps = plan_steps(&images, &mut pools);

    for image in images.iter().filter(|i| !i.in_trash) {
        let journaling = image.info.as_ref().is_some_and(ImageInfo::is_journaling);
        if !journaling {
            let pool_mode = pools.iter().any(|p| p.name == image.spec.pool && p.mode == PoolMirrorMode::Pool);
            issues.push(ChainIssue::NotJournaling { image: image.spec.clone(), pool_mode });
        }
    }

    Ok(ChainPlan { images, pools, steps, issues })
}

/// Follows `parent` links from `start` until a root, a node already walked,
/// or a parent that cannot be followed. Iterative: a long chain costs heap,
/// not stack.
fn walk_up<E, F>(
    start: &ImageSpec,
    nodes: &mut BTreeMap<ImageSpec, Node>,
    issues: &mut Vec<ChainIssue>,
    request: &ChainRequest,
    lookup: &mut F,
) -> Result<(), ChainError<E>>
where
    F: FnMut(&ImageSpec) -> Result<ImageInfo, E>,
{
    let mut path: Vec<ImageSpec> = vec![start.clone()];
    let mut current = start.clone();
    loop {
        if nodes.get(&current).is_some_and(|n| n.walked) {
            return Ok(());
        }
        let info = lookup(&current).map_err(|source| ChainError::Lookup { image: current.clone(), source })?;
        let parent = info.parent.clone();
        let node = nodes.entry(current.clone()).or_default();
        node.info = Some(info);
        node.walked = true;

        let Some(parent) = parent else {
            return Ok(());
        };
        let Some(parent_spec) = parent.spec() else {
            issues.push(ChainIssue::ParentUnnamed { child: current.clone() });
            return Ok(());
        };
        node.parent = Some(ParentLink { spec: parent_spec.clone(), snapshot: parent.snapshot.clone(), overlap: parent.overlap });

        if let Some(known) = &request.known_pools {
            if !known.contains(&parent_spec.pool) {
                issues.push(ChainIssue::ParentPoolNotListed { child: current.clone(), parent: parent_spec.clone() });
            }
        }
        if parent.namespace().is_some() {
            issues.push(ChainIssue::ParentInNamespace { child: current.clone(), parent: parent_spec.clone() });
        }
        if let Some(at) = path.iter().position(|p| *p == parent_spec) {
            let mut images = path.split_off(at);
            images.push(parent_spec);
            return Err(ChainError::Cycle { images });
        }
        if parent.in_trash() {
            issues.push(ChainIssue::ParentInTrash { child: current.clone(), parent: parent_spec.clone() });
            let trashed = nodes.entry(parent_spec).or_default();
            trashed.in_trash = true;
            // Opening it by name would fail; its own parent stays unknown.
            trashed.walked = true;
            return Ok(());
        }
        if path.len() >= MAX_CHAIN_DEPTH {
            return Err(ChainError::TooDeep { image: start.clone(), limit: MAX_CHAIN_DEPTH });
        }
        path.push(parent_spec.clone());
        current = parent_spec;
    }
}

/// Distance of every node from its root. Links are acyclic by now (the walk
/// rejected loops), and every chain is at most [`MAX_CHAIN_DEPTH`] long.
fn depths(nodes: &BTreeMap<ImageSpec, Node>) -> BTreeMap<ImageSpec, usize> {
    let mut depths: BTreeMap<ImageSpec, usize> = BTreeMap::new();
    for start in nodes.keys() {
        let mut chain = vec![start];
        let mut base = 0;
        while let Some(link) = chain.last().and_then(|s| nodes.get(*s)).and_then(|n| n.parent.as_ref()) {
            if let Some(d) = depths.get(&link.spec) {
                base = d + 1;
                break;
            }
            if !nodes.contains_key(&link.spec) || chain.len() > nodes.len() {
                break;
            }
            chain.push(&link.spec);
        }
        for (i, spec) in chain.iter().rev().enumerate() {
            depths.entry((*spec).clone()).or_insert(base + i);
        }
    }
    depths
}

fn plan_pools(images: &[ChainImage], request: &ChainRequest) -> Vec<PoolPlan> {
    let mut by_pool: BTreeMap<&str, Vec<&ChainImage>> = BTreeMap::new();
    for image in images {
        by_pool.entry(&image.spec.pool).or_default().push(image);
    }
    by_pool
        .into_iter()
        .map(|(pool, members)| {
            let mut specs: Vec<ImageSpec> = members.iter().map(|i| i.spec.clone()).collect();
            specs.sort();
            let (mode, reason) = pool_mode(pool, &members, request);
            PoolPlan { name: pool.to_string(), mode, images: specs, reason }
        })
        .collect()
}

fn pool_mode(pool: &str, members: &[&ChainImage], request: &ChainRequest) -> (PoolMirrorMode, String) {
    let Some(listing) = request.whole_pools.get(pool) else {
        return (PoolMirrorMode::Image, "only the planned images move, so each is enabled on its own".to_string());
    };
    let requested: BTreeSet<&str> = members.iter().filter(|i| i.requested && i.spec.namespace.is_none()).map(|i| i.spec.name.as_str()).collect();
    let left_out: Vec<&str> = listing.iter().map(String::as_str).filter(|name| !requested.contains(name)).collect();
    if let Some(first) = left_out.first() {
        return (
            PoolMirrorMode::Image,
            format!("{pool}/{first} (and {} more) is in the pool but not requested; pool mode would mirror it too", left_out.len() - 1),
        );
    }
    if let Some(extra) = members.iter().find(|i| !i.requested) {
        return (PoolMirrorMode::Image, format!("{} is only a parent here, not requested", extra.spec));
    }
    if let Some(ns) = members.iter().find(|i| i.spec.namespace.is_some()) {
        return (PoolMirrorMode::Image, format!("{} is in a namespace, which pool mode of the pool does not cover", ns.spec));
    }
    (PoolMirrorMode::Pool, "the whole pool moves and every image in it is requested".to_string())
}

/// A unit of enabling: one image of an image-mode pool, or a whole pool-mode pool.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Pool(String),
    Image(ImageSpec),
}

/// Orders the enabling steps. A pool-mode pool is one unit that must come
/// after every parent outside it; if two pool-mode pools need each other
/// (clones in both directions), both fall back to image mode.
fn plan_steps(images: &[ChainImage], pools: &mut [PoolPlan]) -> Vec<ChainStep> {
    // Each pass either succeeds or demotes at least one pool, so this ends.
    for _ in 0..=pools.len() {
        let pool_mode: BTreeSet<String> = pools.iter().filter(|p| p.mode == PoolMirrorMode::Pool).map(|p| p.name.clone()).collect();
        match order_units(images, &pool_mode) {
            Ok(units) => {
                let mut steps: Vec<ChainStep> = pools
                    .iter()
                    .filter(|p| p.mode == PoolMirrorMode::Image)
                    .map(|p| ChainStep::EnablePool { pool: p.name.clone(), mode: PoolMirrorMode::Image })
                    .collect();
                steps.extend(units.into_iter().map(|unit| match unit {
                    Unit::Pool(pool) => ChainStep::EnablePool { pool, mode: PoolMirrorMode::Pool },
                    Unit::Image(image) => ChainStep::EnableImage { image },
                }));
                return steps;
            }
            Err(stuck) => {
                for pool in pools.iter_mut().filter(|p| stuck.contains(&p.name)) {
                    pool.mode = PoolMirrorMode::Image;
                    pool.reason = "its clones and another pool-mode pool's clones depend on each \
                                   other, so no pool-mode switch order works (G1)"
                        .to_string();
                }
            }
        }
    }
    Vec::new()
}

/// Kahn's algorithm over units, smallest (root depth, unit) first. On a loop
/// returns the pool-mode pools left unordered.
fn order_units(images: &[ChainImage], pool_mode: &BTreeSet<String>) -> Result<Vec<Unit>, BTreeSet<String>> {
    let unit_of = |spec: &ImageSpec| {
        if pool_mode.contains(&spec.pool) {
            Unit::Pool(spec.pool.clone())
        } else {
            Unit::Image(spec.clone())
        }
    };
    let mut rank: BTreeMap<Unit, usize> = BTreeMap::new();
    let mut needs: BTreeMap<Unit, BTreeSet<Unit>> = BTreeMap::new();
    for image in images.iter().filter(|i| !i.in_trash) {
        let unit = unit_of(&image.spec);
        let r = rank.entry(unit.clone()).or_insert(image.depth);
        *r = (*r).min(image.depth);
        let entry = needs.entry(unit.clone()).or_default();
        if let Some(link) = &image.parent {
            let parent_in_plan = images.iter().any(|i| i.spec == link.spec && !i.in_trash);
            let parent_unit = unit_of(&link.spec);
            if parent_in_plan && parent_unit != unit {
                entry.insert(parent_unit);
            }
        }
    }
    let mut ordered = Vec::new();
    let mut done: BTreeSet<Unit> = BTreeSet::new();
    while done.len() < needs.len() {
        let next = needs
            .iter()
            .filter(|(unit, deps)| !done.contains(*unit) && deps.is_subset(&done))
            .min_by_key(|(unit, _)| (rank.get(*unit).copied().unwrap_or(0), (*unit).clone()))
            .map(|(unit, _)| unit.clone());
        match next {
            Some(unit) => {
                done.insert(unit.clone());
                ordered.push(unit);
            }
            None => {
                return Err(needs
                    .keys()
                    .filter(|u| !done.contains(*u))
                    .filter_map(|u| match u {
                        Unit::Pool(p) => Some(p.clone()),
                        Unit::Image(_) => None,
                    })
                    .collect());
            }
        }
    }
    Ok(ordered)
}

impl ChainPlan {
    /// Whether some issue must be fixed before mirroring can work.
    pub fn is_blocked(&self) -> bool {
        self.issues.iter().any(ChainIssue::is_blocking)
    }

    /// The plan entry for `spec`.
    pub fn image(&self, spec: &ImageSpec) -> Option<&ChainImage> {
        self.images.iter().find(|i| &i.spec == spec)
    }

    /// The chains as a tree, roots at the top, clones indented under their parent:
    ///
    /// ```text
    /// images/base  (parent of volumes/vol1)
    /// └─ volumes/vol1  (requested; clone of @snap)
    /// ```
    pub fn render_tree(&self) -> String {
        let by_spec: BTreeMap<&ImageSpec, &ChainImage> = self.images.iter().map(|i| (&i.spec, i)).collect();
        let roots = self.images.iter().filter(|i| i.parent.as_ref().is_none_or(|p| !by_spec.contains_key(&p.spec)));
        let mut out = String::new();
        for root in roots {
            // (image, start of its own line, start of its children's lines)
            let mut stack: Vec<(&ChainImage, String, String)> = vec![(root, String::new(), String::new())];
            while let Some((image, line_prefix, child_prefix)) = stack.pop() {
                out.push_str(&format!("{line_prefix}{}  ({})\n", image.spec, image.why()));
                let kids: Vec<&ChainImage> = image.children.iter().filter_map(|c| by_spec.get(c).copied()).collect();
                // Pushed in reverse so the first child is printed first.
                for (i, kid) in kids.iter().enumerate().rev() {
                    let last = i + 1 == kids.len();
                    let (connector, extend) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
                    stack.push((kid, format!("{child_prefix}{connector}"), format!("{child_prefix}{extend}")));
                }
            }
        }
        out
    }

    /// The steps as numbered lines.
    pub fn render_steps(&self) -> String {
        self.steps.iter().enumerate().map(|(i, step)| format!("{:>2}. {step}\n", i + 1)).collect()
    }
}

impl ChainImage {
    /// Why the image is in the plan: `requested`, `parent of X, Y`, or both,
    /// plus the snapshot it was cloned from.
    pub fn why(&self) -> String {
        let mut parts = Vec::new();
        if self.requested {
            parts.push("requested".to_string());
        }
        if !self.children.is_empty() {
            parts.push(format!("parent of {}", join(&self.children, ", ")));
        }
        if let Some(snap) = self.parent.as_ref().and_then(|p| p.snapshot.as_deref()) {
            parts.push(format!("clone of @{snap}"));
        }
        if self.in_trash {
            parts.push("IN TRASH".to_string());
        }
        parts.join("; ")
    }
}

impl ChainIssue {
    /// Whether mirroring cannot work until this is fixed (the others are warnings).
    pub fn is_blocking(&self) -> bool {
        matches!(self, Self::ParentInTrash { .. } | Self::ParentPoolNotListed { .. } | Self::ParentUnnamed { .. })
            || matches!(self, Self::NotJournaling { pool_mode: true, .. })
    }
}

impl fmt::Display for ChainStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EnablePool { pool, mode } => {
                write!(f, "pool {pool}: mirror mode `{mode}` (both sites)")
            }
            Self::EnableImage { image } => {
                write!(f, "image {image}: enable journal mirroring (source)")
            }
        }
    }
}

impl fmt::Display for ChainIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ParentInTrash { child, parent } => write!(
                f,
                "{child}: parent {parent} is in the trash and cannot be mirror-enabled; \
                 restore it (`rbd trash restore`) or flatten the clone (`rbd flatten {child}`)"
            ),
            Self::ParentPoolNotListed { child, parent } => write!(
                f,
                "{child}: parent {parent} is in pool `{}`, which is not set up on both sites; \
                 create it on the target and include it in the migration",
                parent.pool
            ),
            Self::ParentInNamespace { child, parent } => write!(
                f,
                "{child}: parent {parent} is in namespace `{}`; the target needs the same \
                 namespace with mirroring enabled",
                parent.namespace.as_deref().unwrap_or_default()
            ),
            Self::ParentUnnamed { child } => write!(f, "{child}: `rbd info` shows a parent without pool or image name; inspect it by hand"),
            Self::NotJournaling { image, pool_mode } => {
                write!(f, "{image}: the `journaling` feature is off; ")?;
                if *pool_mode {
                    write!(f, "pool mode skips such images: run `rbd feature enable {image} journaling`")
                } else {
                    write!(f, "run `rbd feature enable {image} journaling` before enabling mirroring")
                }
            }
        }
    }
}

impl fmt::Display for ChainPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Clone chains (mirrored root first):")?;
        for line in self.render_tree().lines() {
            writeln!(f, "  {line}")?;
        }
        writeln!(f, "Pools:")?;
        for pool in &self.pools {
            writeln!(f, "  {}: {} mode ({})", pool.name, pool.mode, pool.reason)?;
        }
        writeln!(f, "Steps:")?;
        for line in self.render_steps().lines() {
            writeln!(f, "  {line}")?;
        }
        if !self.issues.is_empty() {
            writeln!(f, "Issues:")?;
            for issue in &self.issues {
                let tag = if issue.is_blocking() { "error" } else { "warning" };
                writeln!(f, "  {tag}: {issue}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ImageSpec {
        s.parse().unwrap()
    }

    /// A synthetic image: journaling, optionally cloned from `parent` (`pool/image@snap`).
    fn image(parent: Option<&str>) -> ImageInfo {
        let mut json = String::from(r#"{"features":["layering","journaling"]"#);
        if let Some(p) = parent {
            let (img, snap) = p.split_once('@').unwrap();
            let s = spec(img);
            json.push_str(&format!(
                r#","parent":{{"pool":"{}","pool_namespace":"{}","image":"{}","snapshot":"{snap}","trash":false,"overlap":1}}"#,
                s.pool,
                s.namespace.clone().unwrap_or_default(),
                s.name
            ));
        }
        json.push('}');
        ImageInfo::parse(&json).unwrap()
    }

    /// A lookup over a fixed map that counts its calls.
    fn cluster(entries: &[(&str, Option<&str>)]) -> BTreeMap<ImageSpec, ImageInfo> {
        entries.iter().map(|(name, parent)| (spec(name), image(*parent))).collect()
    }

    fn plan(cluster: &BTreeMap<ImageSpec, ImageInfo>, request: &ChainRequest) -> Result<ChainPlan, ChainError<String>> {
        plan_chain(request, |s: &ImageSpec| cluster.get(s).cloned().ok_or_else(|| format!("no image {s}")))
    }

    fn request(images: &[&str]) -> ChainRequest {
        ChainRequest { images: images.iter().map(|s| spec(s)).collect(), ..ChainRequest::default() }
    }

    fn order(plan: &ChainPlan) -> Vec<String> {
        plan.images.iter().map(|i| i.spec.to_string()).collect()
    }

    #[test]
    fn lab_samples_base_then_vol1() {
        let samples: BTreeMap<ImageSpec, ImageInfo> = [
            (spec("images/base"), include_str!("../../tests/fixtures/ceph/site-a.info.images-base.json")),
            (spec("volumes/vol1"), include_str!("../../tests/fixtures/ceph/site-a.info.volumes-vol1.json")),
        ]
        .into_iter()
        .map(|(s, text)| (s, ImageInfo::parse(text).unwrap()))
        .collect();
        let mut calls = 0;
        let p = plan_chain(&request(&["volumes/vol1"]), |s: &ImageSpec| {
            calls += 1;
            samples.get(s).cloned().ok_or("missing")
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert_eq!(order(&p), ["images/base", "volumes/vol1"]);
        let base = &p.images[0];
        assert!(!base.requested);
        assert_eq!(base.why(), "parent of volumes/vol1");
        let vol1 = &p.images[1];
        assert_eq!(vol1.depth, 1);
        assert_eq!(vol1.parent.as_ref().unwrap().snapshot.as_deref(), Some("snap"));
        assert_eq!(p.render_tree(), "images/base  (parent of volumes/vol1)\n└─ volumes/vol1  (requested; clone of @snap)\n");
        assert_eq!(p.pools.iter().map(|p| (p.name.as_str(), p.mode.as_str())).collect::<Vec<_>>(), [("images", "image"), ("volumes", "image")]);
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        assert!(!p.is_blocked());
    }

    #[test]
    fn runbook_choice_whole_volumes_pool_in_pool_mode_parent_pool_in_image_mode() {
        let c = cluster(&[("images/base", None), ("volumes/vol1", Some("images/base@snap"))]);
        let mut r = request(&["volumes/vol1"]);
        r.whole_pools.insert("volumes".into(), vec!["vol1".into()]);
        let p = plan(&c, &r).unwrap();
        let modes: Vec<(&str, &str)> = p.pools.iter().map(|p| (p.name.as_str(), p.mode.as_str())).collect();
        assert_eq!(modes, [("images", "image"), ("volumes", "pool")]);
        assert_eq!(
            p.render_steps(),
            " 1. pool images: mirror mode `image` (both sites)\n \
             2. image images/base: enable journal mirroring (source)\n \
             3. pool volumes: mirror mode `pool` (both sites)\n"
        );
    }

    #[test]
    fn whole_pool_with_unrequested_images_stays_in_image_mode() {
        let c = cluster(&[("volumes/a", None), ("volumes/b", None)]);
        let mut r = request(&["volumes/a"]);
        r.whole_pools.insert("volumes".into(), vec!["a".into(), "b".into(), "c".into()]);
        let p = plan(&c, &r).unwrap();
        assert_eq!(p.pools[0].mode, PoolMirrorMode::Image);
        assert!(p.pools[0].reason.contains("volumes/b (and 1 more)"), "{}", p.pools[0].reason);
    }

    #[test]
    fn three_levels_root_first() {
        let c = cluster(&[("images/os", None), ("volumes/golden", Some("images/os@v1")), ("volumes/vm1", Some("volumes/golden@gold"))]);
        let p = plan(&c, &request(&["volumes/vm1"])).unwrap();
        assert_eq!(order(&p), ["images/os", "volumes/golden", "volumes/vm1"]);
        assert_eq!(p.images.iter().map(|i| i.depth).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(
            p.render_tree(),
            "images/os  (parent of volumes/golden)\n\
             └─ volumes/golden  (parent of volumes/vm1; clone of @v1)\n   \
             └─ volumes/vm1  (requested; clone of @gold)\n"
        );
        // Same pool, image mode: golden before vm1.
        let enable: Vec<String> = p
            .steps
            .iter()
            .filter_map(|s| match s {
                ChainStep::EnableImage { image } => Some(image.to_string()),
                ChainStep::EnablePool { .. } => None,
            })
            .collect();
        assert_eq!(enable, ["images/os", "volumes/golden", "volumes/vm1"]);
    }

    #[test]
    fn fan_out_and_shared_parent_are_looked_up_once() {
        let c = cluster(&[
            ("images/base", None),
            ("volumes/a", Some("images/base@snap")),
            ("volumes/b", Some("images/base@snap")),
            ("volumes/c", Some("images/base@other")),
            ("volumes/a1", Some("volumes/a@s")),
        ]);
        let mut calls: BTreeMap<ImageSpec, usize> = BTreeMap::new();
        let p = plan_chain(&request(&["volumes/c", "volumes/a1", "volumes/b", "volumes/a", "volumes/b"]), |s: &ImageSpec| {
            *calls.entry(s.clone()).or_default() += 1;
            c.get(s).cloned().ok_or("missing")
        })
        .unwrap();
        assert!(calls.values().all(|n| *n == 1), "{calls:?}");
        assert_eq!(order(&p), ["images/base", "volumes/a", "volumes/b", "volumes/c", "volumes/a1"]);
        assert_eq!(
            p.render_tree(),
            "images/base  (parent of volumes/a, volumes/b, volumes/c)\n\
             ├─ volumes/a  (requested; parent of volumes/a1; clone of @snap)\n\
             │  └─ volumes/a1  (requested; clone of @s)\n\
             ├─ volumes/b  (requested; clone of @snap)\n\
             └─ volumes/c  (requested; clone of @other)\n"
        );
        assert!(p.image(&spec("volumes/a")).unwrap().requested);
    }

    #[test]
    fn request_order_does_not_change_the_plan() {
        let c = cluster(&[("images/base", None), ("volumes/a", Some("images/base@snap")), ("volumes/b", Some("images/base@snap")), ("other/x", None)]);
        let p1 = plan(&c, &request(&["volumes/b", "other/x", "volumes/a"])).unwrap();
        let p2 = plan(&c, &request(&["volumes/a", "volumes/b", "other/x"])).unwrap();
        assert_eq!(p1, p2);
        // Roots come first, by name, then depth 1.
        assert_eq!(order(&p1), ["images/base", "other/x", "volumes/a", "volumes/b"]);
    }

    #[test]
    fn cycle_is_an_error_not_a_stack_overflow() {
        let c = cluster(&[("volumes/a", Some("volumes/b@s")), ("volumes/b", Some("volumes/c@s")), ("volumes/c", Some("volumes/a@s"))]);
        let e = plan(&c, &request(&["volumes/a"])).unwrap_err();
        assert_eq!(e.to_string(), "the clone chain loops: volumes/a -> volumes/b -> volumes/c -> volumes/a");
        let c = cluster(&[("volumes/self", Some("volumes/self@s"))]);
        assert!(matches!(plan(&c, &request(&["volumes/self"])), Err(ChainError::Cycle { .. })));
    }

    #[test]
    fn endless_new_parents_stop_at_the_depth_limit() {
        let mut n = 0u64;
        let e = plan_chain(&request(&["p/i0"]), |_s: &ImageSpec| {
            n += 1;
            Ok::<_, String>(image(Some(&format!("p/i{n}@s"))))
        })
        .unwrap_err();
        assert!(matches!(e, ChainError::TooDeep { limit: MAX_CHAIN_DEPTH, .. }), "{e}");
    }

    #[test]
    fn a_long_but_finite_chain_is_fine() {
        let entries: Vec<(String, Option<String>)> = (0..200)
            .map(|i| {
                let parent = (i > 0).then(|| format!("p/i{}@s", i - 1));
                (format!("p/i{i}"), parent)
            })
            .collect();
        let c: BTreeMap<ImageSpec, ImageInfo> = entries.iter().map(|(n, p)| (spec(n), image(p.as_deref()))).collect();
        let p = plan(&c, &request(&["p/i199"])).unwrap();
        assert_eq!(p.images.len(), 200);
        assert_eq!(p.images[0].spec, spec("p/i0"));
        assert_eq!(p.images[199].depth, 199);
        assert_eq!(p.render_tree().lines().count(), 200);
    }

    #[test]
    fn lookup_failure_names_the_image() {
        let c = cluster(&[("volumes/vol1", Some("images/gone@snap"))]);
        let e = plan(&c, &request(&["volumes/vol1"])).unwrap_err();
        assert_eq!(e.to_string(), "could not read `rbd info` of images/gone: no image images/gone");
    }

    #[test]
    fn parent_in_an_unlisted_pool_blocks() {
        let c = cluster(&[("glance/base", None), ("volumes/vol1", Some("glance/base@snap"))]);
        let mut r = request(&["volumes/vol1"]);
        r.known_pools = Some(["volumes".to_string(), "images".to_string()].into());
        let p = plan(&c, &r).unwrap();
        assert!(p.is_blocked());
        assert_eq!(p.issues, [ChainIssue::ParentPoolNotListed { child: spec("volumes/vol1"), parent: spec("glance/base") }]);
        assert!(p.to_string().contains("error: volumes/vol1: parent glance/base is in pool `glance`"));
    }

    #[test]
    fn trashed_parent_is_not_looked_up_and_blocks() {
        let mut c = cluster(&[]);
        c.insert(
            spec("volumes/vol1"),
            ImageInfo::parse(
                r#"{"features":["journaling"],"parent":{"pool":"images","pool_namespace":"","image":"base","id":"abc","snapshot":"snap","trash":true,"overlap":1}}"#,
            )
            .unwrap(),
        );
        let p = plan(&c, &request(&["volumes/vol1"])).unwrap();
        assert!(p.is_blocked());
        let base = p.image(&spec("images/base")).unwrap();
        assert!(base.in_trash && base.info.is_none());
        assert!(p.render_tree().starts_with("images/base  (parent of volumes/vol1; IN TRASH)"));
        // A trashed parent cannot be enabled, so only the clone's steps appear.
        assert!(!p.steps.iter().any(|s| matches!(s, ChainStep::EnableImage { image } if image.pool == "images")));
    }

    #[test]
    fn parent_in_a_namespace_warns() {
        let c = cluster(&[("images/tenant/base", None), ("volumes/vol1", Some("images/tenant/base@snap"))]);
        let p = plan(&c, &request(&["volumes/vol1"])).unwrap();
        assert_eq!(order(&p), ["images/tenant/base", "volumes/vol1"]);
        assert_eq!(p.issues, [ChainIssue::ParentInNamespace { child: spec("volumes/vol1"), parent: spec("images/tenant/base") }]);
        assert!(!p.is_blocked());
    }

    #[test]
    fn image_without_journaling_is_flagged() {
        let mut c = cluster(&[]);
        c.insert(spec("volumes/plain"), ImageInfo::parse(r#"{"features":["layering"]}"#).unwrap());
        let p = plan(&c, &request(&["volumes/plain"])).unwrap();
        assert!(!p.is_blocked());
        let mut r = request(&["volumes/plain"]);
        r.whole_pools.insert("volumes".into(), vec!["plain".into()]);
        let p = plan(&c, &r).unwrap();
        assert!(p.is_blocked(), "pool mode would silently skip it");
    }

    #[test]
    fn pool_mode_pools_that_need_each_other_fall_back_to_image_mode() {
        // a/x is cloned from b/base and b/y from a/base: neither pool switch can go first.
        let c = cluster(&[("a/base", None), ("b/base", None), ("a/x", Some("b/base@s")), ("b/y", Some("a/base@s"))]);
        let mut r = request(&["a/base", "a/x", "b/base", "b/y"]);
        r.whole_pools.insert("a".into(), vec!["base".into(), "x".into()]);
        r.whole_pools.insert("b".into(), vec!["base".into(), "y".into()]);
        let p = plan(&c, &r).unwrap();
        assert!(p.pools.iter().all(|p| p.mode == PoolMirrorMode::Image), "{p}");
        let enabled: Vec<String> = p
            .steps
            .iter()
            .filter_map(|s| match s {
                ChainStep::EnableImage { image } => Some(image.to_string()),
                ChainStep::EnablePool { .. } => None,
            })
            .collect();
        assert_eq!(enabled, ["a/base", "b/base", "a/x", "b/y"]);
    }

    #[test]
    fn pool_mode_pool_waits_for_parents_in_another_pool_mode_pool() {
        let c = cluster(&[("images/base", None), ("volumes/vol1", Some("images/base@snap"))]);
        let mut r = request(&["images/base", "volumes/vol1"]);
        r.whole_pools.insert("images".into(), vec!["base".into()]);
        r.whole_pools.insert("volumes".into(), vec!["vol1".into()]);
        let p = plan(&c, &r).unwrap();
        assert_eq!(
            p.steps,
            [
                ChainStep::EnablePool { pool: "images".into(), mode: PoolMirrorMode::Pool },
                ChainStep::EnablePool { pool: "volumes".into(), mode: PoolMirrorMode::Pool },
            ]
        );
    }

    #[test]
    fn empty_request_is_an_empty_plan() {
        let p = plan(&cluster(&[]), &ChainRequest::default()).unwrap();
        assert!(p.images.is_empty() && p.steps.is_empty() && p.issues.is_empty());
        assert_eq!(p.render_tree(), "");
    }
}
