//! `rbd_image`: the image operations of the runbook's last step, made safe.
//!
//! - `action: rename` (`image` -> `dest`, same pool): done when `dest` exists
//!   and `image` does not; both existing is refused (one would be lost).
//! - `action: trash`: removal ONLY via `rbd trash mv`, so a wrong image can be
//!   restored; the trash id is returned. Refused while a client watches the
//!   image (`rbd status`; `force: true` overrides) and while mirroring is
//!   enabled on it (rbd-mirror would delete the peer's copy too).
//! - `action: restore`: from `trash_id` (with `pool`) or by the image's name.
//! - `action: replace` (the runbook's "overwrite the new VM's image"): `dest`
//!   (the new VM's empty volume) goes to the trash, then `image` (the migrated
//!   one) is renamed to it. Keyed on `image` existing, so a second run cannot
//!   trash the migrated data that now carries `dest`'s name, as a `trash`
//!   task followed by a `rename` task would.

use super::args::{self, Flag, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::ceph::{CommandErrorKind, ImageInfo, ImageSpec, RbdStatus};
use crate::transport::RemoteCommand;
use crate::vars::Value;
use serde::Deserialize;

const MODULE: &str = "rbd_image";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    action: Text,
    #[serde(alias = "name", alias = "src")]
    image: Option<Text>,
    dest: Option<Text>,
    pool: Option<Text>,
    trash_id: Option<Text>,
    #[serde(default)]
    force: Flag,
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Rename { src: ImageSpec, dest: ImageSpec },
    Trash { image: ImageSpec, force: bool },
    Restore { pool: String, namespace: Option<String>, name: Option<String>, id: Option<String>, dest: Option<String> },
    Replace { src: ImageSpec, dest: ImageSpec, force: bool },
}

/// One image operation.
#[derive(Debug)]
pub struct RbdImageModule {
    cluster: Cluster,
    action: Action,
}

/// One entry of `rbd trash ls --format json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashEntry {
    /// Image id, what `rbd trash restore` takes.
    pub id: String,
    /// The image's name when it was trashed.
    pub name: String,
}

/// What `observe` learned.
#[derive(Debug, Clone, Default)]
pub struct RbdImageState {
    /// `rbd info` of the image acted on (the rename source); `None`: absent.
    pub image: Option<ImageInfo>,
    /// `rbd info` of the rename destination / restore name; `None`: absent.
    pub dest: Option<ImageInfo>,
    /// `rbd status` of the image (trash only).
    pub status: Option<RbdStatus>,
    /// The pool's trash (trash and restore).
    pub trash: Vec<TrashEntry>,
}

/// Parses `rbd trash ls --format json`.
pub fn parse_trash(text: &str) -> Result<Vec<TrashEntry>, String> {
    Ok(ceph_cli::json_array("rbd trash ls", text)?
        .iter()
        .filter_map(|e| {
            Some(TrashEntry { id: ceph_cli::str_field(e, "id")?.to_string(), name: ceph_cli::str_field(e, "name").unwrap_or_default().to_string() })
        })
        .collect())
}

fn one_word(at: &str, t: &Text) -> Result<String, (String, String)> {
    let s = t.0.trim();
    if s.is_empty() || s.starts_with('-') || s.chars().any(|c| c == '/' || c == '@' || c.is_whitespace() || c.is_control()) {
        return Err(arg_err(MODULE, at, format!("`{at}` must be a single name, not `{s}`")));
    }
    Ok(s.to_string())
}

impl RbdImageModule {
    /// From `rbd_image:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let image = a.image.as_ref().map(|t| ceph_cli::image_spec(MODULE, "image", t)).transpose()?;
        let unused = |k: &str, set: bool, what: &str| if set { Err(arg_err(MODULE, k, format!("`{k}` is not used by {what}"))) } else { Ok(()) };
        let action = match a.action.0.trim() {
            verb @ ("rename" | "replace") => {
                let src = image.ok_or_else(|| arg_err(MODULE, "image", format!("`{verb}` needs `image` (pool/name) and `dest`")))?;
                let dest_text =
                    a.dest.as_ref().ok_or_else(|| arg_err(MODULE, "dest", format!("`{verb}` needs `dest` (a name, or pool/name in the same pool)")))?;
                let dest = if dest_text.0.contains('/') {
                    ceph_cli::image_spec(MODULE, "dest", dest_text)?
                } else {
                    ImageSpec { name: one_word("dest", dest_text)?, ..src.clone() }
                };
                if dest.pool != src.pool || dest.namespace != src.namespace {
                    return Err(arg_err(MODULE, "dest", format!("rbd cannot rename across pools ({src} -> {dest}); use `rbd_migration`")));
                }
                if dest == src {
                    return Err(arg_err(MODULE, "dest", "`dest` is the same image as `image`"));
                }
                unused("trash_id", a.trash_id.is_some(), "`rename`/`replace`")?;
                unused("pool", a.pool.is_some(), "`rename`/`replace`")?;
                if verb == "rename" {
                    unused("force", a.force.0, "`rename`")?;
                    Action::Rename { src, dest }
                } else {
                    Action::Replace { src, dest, force: a.force.0 }
                }
            }
            "trash" => {
                let image = image.ok_or_else(|| arg_err(MODULE, "image", "`trash` needs `image` (pool/name)"))?;
                unused("dest", a.dest.is_some(), "`trash`")?;
                unused("trash_id", a.trash_id.is_some(), "`trash`")?;
                unused("pool", a.pool.is_some(), "`trash`")?;
                Action::Trash { image, force: a.force.0 }
            }
            "restore" => {
                unused("force", a.force.0, "`restore`")?;
                let dest = a.dest.as_ref().map(|t| one_word("dest", t)).transpose()?;
                let id = a.trash_id.as_ref().map(|t| one_word("trash_id", t)).transpose()?;
                let (pool, namespace, name) = match (&image, &a.pool) {
                    (Some(spec), None) => (spec.pool.clone(), spec.namespace.clone(), Some(spec.name.clone())),
                    (None, Some(p)) if id.is_some() => (ceph_cli::pool_name(MODULE, "pool", p)?, None, None),
                    (None, Some(_)) => return Err(arg_err(MODULE, "trash_id", "`restore` with `pool` needs `trash_id`")),
                    (Some(_), Some(_)) => return Err(arg_err(MODULE, "pool", "give `image` (pool/name) or `pool` with `trash_id`, not both")),
                    (None, None) => return Err(arg_err(MODULE, "image", "`restore` needs `image` (pool/name as it was) or `pool` and `trash_id`")),
                };
                Action::Restore { pool, namespace, name, id, dest }
            }
            other => return Err(arg_err(MODULE, "action", format!("`action` must be rename, replace, trash or restore, not `{other}`"))),
        };
        Ok(RbdImageModule { cluster, action })
    }

    fn pool_spec(pool: &str, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!("{pool}/{ns}"),
            None => pool.to_string(),
        }
    }

    /// Moving `image` (described by `info`, watched per `status`) to the trash, if that is safe.
    fn trash_change(&self, image: &ImageSpec, info: &ImageInfo, status: Option<&RbdStatus>, force: bool) -> Result<Vec<Change>, Failure> {
        if info.is_mirroring_enabled() {
            return Err(Failure::msg(format!(
                "mirroring is enabled on {image}: removing it would make rbd-mirror delete the other site's copy too; \
                 disable its mirroring first (`rbd_mirror_image: {{state: disabled}}`)"
            )));
        }
        let watchers = status.map(|s| s.watchers.clone()).unwrap_or_default();
        if !watchers.is_empty() && !force {
            let who: Vec<String> = watchers
                .iter()
                .map(|w| format!("client.{} at {}", w.client.map(|c| c.to_string()).unwrap_or_else(|| "?".into()), w.address.as_deref().unwrap_or("?")))
                .collect();
            return Err(Failure::msg(format!("{image} is in use by {} (rbd status): stop the VM or unmap it first, or set `force: true`", who.join(", "))));
        }
        let note = if watchers.is_empty() { String::new() } else { format!(" although {} client(s) still watch it (force)", watchers.len()) };
        Ok(vec![Change {
            summary: format!("move {image} to the trash{note}"),
            commands: vec![self.cluster.rbd(["trash", "mv", &image.to_string()])],
            diff: None,
        }])
    }

    /// The restore target's name and whether it exists as an image.
    fn restore_target(&self, st: &RbdImageState) -> Option<String> {
        let Action::Restore { name, id, dest, .. } = &self.action else { return None };
        dest.clone().or_else(|| name.clone()).or_else(|| id.as_ref().and_then(|id| st.trash.iter().find(|e| &e.id == id).map(|e| e.name.clone())))
    }
}

async fn info_if_exists(cx: &ModuleContext<'_>, cmd: &RemoteCommand) -> Result<Option<ImageInfo>, ModuleError> {
    match ceph_cli::query(cx, cmd).await? {
        Ok(out) => Ok(Some(ImageInfo::parse(&out.stdout).map_err(|e| ceph_cli::parse_failure(cmd, &out.stdout, &e.to_string()))?)),
        Err((err, _)) if err.kind == CommandErrorKind::ImageNotFound => Ok(None),
        Err((err, out)) => Err(ceph_cli::failure("could not observe the current state", cmd, &out, &err, None)),
    }
}

impl StatefulModule for RbdImageModule {
    type State = RbdImageState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<RbdImageState, ModuleError> {
        let info = |spec: &ImageSpec| self.cluster.rbd(["info", "--format", "json", &spec.to_string()]);
        let mut st = RbdImageState::default();
        let trash_of = |pool: &str, ns: Option<&str>| self.cluster.rbd(["trash", "ls", "--format", "json", &Self::pool_spec(pool, ns)]);
        match &self.action {
            Action::Rename { src, dest } => {
                st.image = info_if_exists(cx, &info(src)).await?;
                st.dest = info_if_exists(cx, &info(dest)).await?;
            }
            Action::Replace { src, dest, .. } => {
                st.image = info_if_exists(cx, &info(src)).await?;
                st.dest = info_if_exists(cx, &info(dest)).await?;
                if st.image.is_some() && st.dest.is_some() {
                    let cmd = self.cluster.rbd(["status", "--format", "json", &dest.to_string()]);
                    st.status = Some(ceph_cli::observe_json(cx, &cmd, RbdStatus::parse).await?);
                }
                let cmd = trash_of(&dest.pool, dest.namespace.as_deref());
                let text = ceph_cli::observe_text(cx, &cmd).await?;
                st.trash = parse_trash(&text).map_err(|e| ceph_cli::parse_failure(&cmd, &text, &e))?;
            }
            Action::Trash { image, .. } => {
                st.image = info_if_exists(cx, &info(image)).await?;
                if st.image.is_some() {
                    let cmd = self.cluster.rbd(["status", "--format", "json", &image.to_string()]);
                    st.status = Some(ceph_cli::observe_json(cx, &cmd, RbdStatus::parse).await?);
                }
                let cmd = trash_of(&image.pool, image.namespace.as_deref());
                let text = ceph_cli::observe_text(cx, &cmd).await?;
                st.trash = parse_trash(&text).map_err(|e| ceph_cli::parse_failure(&cmd, &text, &e))?;
            }
            Action::Restore { pool, namespace, .. } => {
                let cmd = trash_of(pool, namespace.as_deref());
                let text = ceph_cli::observe_text(cx, &cmd).await?;
                st.trash = parse_trash(&text).map_err(|e| ceph_cli::parse_failure(&cmd, &text, &e))?;
                if let Some(name) = self.restore_target(&st) {
                    let spec = ImageSpec::with_namespace(pool.clone(), namespace.clone().unwrap_or_default(), name);
                    st.dest = info_if_exists(cx, &info(&spec)).await?;
                }
            }
        }
        Ok(st)
    }

    fn plan(&self, st: &RbdImageState) -> Result<Vec<Change>, Failure> {
        let cluster = &self.cluster.name;
        match &self.action {
            Action::Rename { src, dest } => match (st.image.is_some(), st.dest.is_some()) {
                (true, false) => Ok(vec![Change {
                    summary: format!("rename {src} to {dest}"),
                    commands: vec![self.cluster.rbd(["rename", &src.to_string(), &dest.to_string()])],
                    diff: None,
                }]),
                (false, true) => Ok(Vec::new()),
                (true, true) => Err(Failure::msg(format!(
                    "both {src} and {dest} exist on cluster {cluster}; renaming would need {dest} gone: move it to the trash first \
                     (`rbd_image: {{action: trash, image: {dest}}}`) if it is the new VM's empty volume"
                ))),
                (false, false) => Err(Failure::msg(format!("neither {src} nor {dest} exists on cluster {cluster}: nothing to rename"))),
            },
            Action::Replace { src, dest, force } => match (&st.image, &st.dest) {
                (Some(_), Some(old)) => {
                    let mut changes = self.trash_change(dest, old, st.status.as_ref(), *force)?;
                    changes[0].summary = format!("{} (the image {src} replaces)", changes[0].summary);
                    changes.push(Change {
                        summary: format!("rename {src} to {dest}"),
                        commands: vec![self.cluster.rbd(["rename", &src.to_string(), &dest.to_string()])],
                        diff: None,
                    });
                    Ok(changes)
                }
                (Some(_), None) => Ok(vec![Change {
                    summary: format!("rename {src} to {dest}"),
                    commands: vec![self.cluster.rbd(["rename", &src.to_string(), &dest.to_string()])],
                    diff: None,
                }]),
                (None, Some(_)) => Ok(Vec::new()),
                (None, None) => Err(Failure::msg(format!("neither {src} nor {dest} exists on cluster {cluster}: nothing to replace"))),
            },
            Action::Trash { image, force } => {
                let Some(info) = &st.image else {
                    if st.trash.iter().any(|e| e.name == image.name) {
                        return Ok(Vec::new());
                    }
                    return Err(Failure::msg(format!("image {image} is not on cluster {cluster}, nor in the trash of pool {}", image.pool)));
                };
                self.trash_change(image, info, st.status.as_ref(), *force)
            }
            Action::Restore { pool, namespace, name, id, dest } => {
                let entry = match (id, name) {
                    (Some(id), _) => st.trash.iter().find(|e| &e.id == id),
                    (None, Some(name)) => {
                        let found: Vec<&TrashEntry> = st.trash.iter().filter(|e| &e.name == name).collect();
                        if found.len() > 1 && st.dest.is_none() {
                            let ids: Vec<&str> = found.iter().map(|e| e.id.as_str()).collect();
                            return Err(Failure::msg(format!(
                                "the trash of pool {pool} holds {} images named {name} (ids {}): give `trash_id`",
                                found.len(),
                                ids.join(", ")
                            )));
                        }
                        found.first().copied()
                    }
                    (None, None) => None,
                };
                let target = self.restore_target(st).unwrap_or_default();
                let pool_spec = Self::pool_spec(pool, namespace.as_deref());
                match (entry, st.dest.is_some()) {
                    (None, true) => Ok(Vec::new()),
                    (Some(_), true) if id.is_none() => Ok(Vec::new()),
                    (Some(_), true) => {
                        Err(Failure::msg(format!("an image named {target} already exists in pool {pool_spec}; restore under another name with `dest`")))
                    }
                    (Some(e), false) => {
                        let mut argv = vec!["trash".to_string(), "restore".into()];
                        if let Some(d) = dest {
                            argv.extend(["--image".to_string(), d.clone()]);
                        }
                        argv.push(format!("{pool_spec}/{}", e.id));
                        Ok(vec![Change {
                            summary: format!("restore {pool_spec}/{target} from the trash (id {})", e.id),
                            commands: vec![self.cluster.rbd(argv)],
                            diff: None,
                        }])
                    }
                    (None, false) => {
                        let what = id.as_ref().map(|i| format!("id {i}")).or_else(|| name.clone()).unwrap_or_default();
                        Err(Failure::msg(format!("nothing to restore: {what} is not in the trash of pool {pool_spec} on cluster {cluster}")))
                    }
                }
            }
        }
    }
}

impl CephModule for RbdImageModule {
    fn assume_in_check(&self, st: &RbdImageState) -> Option<String> {
        match &self.action {
            // An earlier task moves the destination (the new VM's volume) to the trash.
            Action::Rename { src, dest } if st.image.is_some() && st.dest.is_some() => Some(format!("rename {src} to {dest}")),
            Action::Trash { image, .. } if st.image.as_ref().is_some_and(ImageInfo::is_mirroring_enabled) => Some(format!("move {image} to the trash")),
            _ => None,
        }
    }

    fn report(&self, before: &RbdImageState, after: Option<&RbdImageState>) -> serde_json::Map<String, Value> {
        let st = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        match &self.action {
            Action::Rename { src, dest } => {
                m.insert("image".into(), src.to_string().into());
                m.insert("dest".into(), dest.to_string().into());
            }
            Action::Replace { src, dest, .. } => {
                m.insert("image".into(), src.to_string().into());
                m.insert("dest".into(), dest.to_string().into());
                let new = st.trash.iter().filter(|e| e.name == dest.name).find(|e| !before.trash.contains(e));
                m.insert("trash_id".into(), new.map(|e| Value::from(e.id.clone())).unwrap_or(Value::Null));
            }
            Action::Trash { image, .. } => {
                m.insert("image".into(), image.to_string().into());
                // The entry this run created, else the newest one of that name.
                let new = st.trash.iter().filter(|e| e.name == image.name).find(|e| !before.trash.contains(e));
                let id = new.or_else(|| st.trash.iter().rev().find(|e| e.name == image.name)).map(|e| e.id.clone());
                m.insert("trash_id".into(), id.map(Value::from).unwrap_or(Value::Null));
            }
            Action::Restore { pool, namespace, .. } => {
                let name = self.restore_target(before).unwrap_or_default();
                m.insert("image".into(), format!("{}/{name}", Self::pool_spec(pool, namespace.as_deref())).into());
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module(args: Value) -> RbdImageModule {
        RbdImageModule::from_args(&args).unwrap()
    }

    fn info() -> Option<ImageInfo> {
        Some(ImageInfo::parse(include_str!("../../tests/fixtures/ceph/site-b.info.vol1-migrated.after-cleanup.json")).unwrap())
    }

    fn cmds(c: &[Change]) -> Vec<String> {
        c.iter().flat_map(|c| c.commands.iter().map(ToString::to_string)).collect()
    }

    /// `rbd trash ls --format json scratch` on the lab.
    const TRASH: &str = include_str!("../../tests/fixtures/ceph/cli/site-a.trash-ls.scratch.json");

    #[test]
    fn rename_is_done_when_only_the_destination_exists() {
        let m = module(json!({"action": "rename", "image": "volumes/vol1", "dest": "vol1-migrated", "cluster": "site-b"}));
        let c = m.plan(&RbdImageState { image: info(), ..Default::default() }).unwrap();
        assert_eq!(cmds(&c), ["rbd --cluster site-b rename volumes/vol1 volumes/vol1-migrated"]);
        assert!(m.plan(&RbdImageState { dest: info(), ..Default::default() }).unwrap().is_empty());
        let both = m.plan(&RbdImageState { image: info(), dest: info(), ..Default::default() }).unwrap_err();
        assert!(both.msg.contains("move it to the trash first"), "{}", both.msg);
        assert!(m.plan(&RbdImageState::default()).is_err());
        assert!(RbdImageModule::from_args(&json!({"action": "rename", "image": "volumes/a", "dest": "images/a"})).unwrap_err().1.contains("across pools"));
    }

    #[test]
    fn trash_refuses_watched_or_mirrored_images_and_returns_the_id() {
        let m = module(json!({"action": "trash", "image": "volumes/new-vm-disk"}));
        // `rbd status --format json` while `rbd watch` held the image on the lab.
        let watched = RbdStatus::parse(include_str!("../../tests/fixtures/ceph/cli/site-b.status.watched.json")).unwrap();
        let st = RbdImageState { image: info(), status: Some(watched.clone()), ..Default::default() };
        let e = m.plan(&st).unwrap_err();
        assert!(e.msg.contains("in use by client.5163 at 127.0.2.1:0/3266230149"), "{}", e.msg);
        let forced = module(json!({"action": "trash", "image": "volumes/new-vm-disk", "force": true}));
        assert_eq!(cmds(&forced.plan(&st).unwrap()), ["rbd --cluster ceph trash mv volumes/new-vm-disk"]);
        let mirrored = RbdImageState {
            image: Some(ImageInfo::parse(include_str!("../../tests/fixtures/ceph/site-a.info.volumes-vol1.json")).unwrap()),
            status: Some(RbdStatus::default()),
            ..Default::default()
        };
        assert!(forced.plan(&mirrored).unwrap_err().msg.contains("delete the other site's copy"));
        // Gone, and in the trash: done; the id is reported.
        let m = module(json!({"action": "trash", "image": "scratch/t1"}));
        let gone = RbdImageState { trash: parse_trash(TRASH).unwrap(), ..Default::default() };
        assert!(m.plan(&gone).unwrap().is_empty());
        assert_eq!(m.report(&RbdImageState::default(), Some(&gone))["trash_id"], "10905042f7f");
        let nowhere = module(json!({"action": "trash", "image": "scratch/typo"}));
        assert!(nowhere.plan(&gone).unwrap_err().msg.contains("nor in the trash"));
    }

    #[test]
    fn replace_trashes_the_new_vms_volume_then_renames_and_never_trashes_twice() {
        let m = module(json!({"action": "replace", "image": "volumes/vol1", "dest": "volume-new", "cluster": "site-b"}));
        let fresh = RbdImageState { image: info(), dest: info(), status: Some(RbdStatus::default()), ..Default::default() };
        let c = m.plan(&fresh).unwrap();
        assert_eq!(cmds(&c), ["rbd --cluster site-b trash mv volumes/volume-new", "rbd --cluster site-b rename volumes/vol1 volumes/volume-new"]);
        assert_eq!(c[0].summary, "move volumes/volume-new to the trash (the image volumes/vol1 replaces)");
        // Second run: the migrated image now has dest's name; nothing is trashed.
        assert!(m.plan(&RbdImageState { dest: info(), ..Default::default() }).unwrap().is_empty());
        let watched = RbdStatus::parse(r#"{"watchers":[{"address":"10.0.0.5:0/1","client":9,"cookie":1}]}"#).unwrap();
        assert!(m.plan(&RbdImageState { status: Some(watched), ..fresh }).unwrap_err().msg.contains("in use by client.9"));
    }

    #[test]
    fn restore_by_name_or_id() {
        let trash = parse_trash(TRASH).unwrap();
        let by_name = module(json!({"action": "restore", "image": "scratch/t1", "cluster": "site-a"}));
        let st = RbdImageState { trash: trash.clone(), ..Default::default() };
        assert_eq!(cmds(&by_name.plan(&st).unwrap()), ["rbd --cluster site-a trash restore scratch/10905042f7f"]);
        assert!(by_name.plan(&RbdImageState { dest: info(), ..Default::default() }).unwrap().is_empty(), "restored already");
        let by_id = module(json!({"action": "restore", "pool": "scratch", "trash_id": "10905042f7f", "dest": "t1-back"}));
        assert_eq!(cmds(&by_id.plan(&st).unwrap()), ["rbd --cluster ceph trash restore --image t1-back scratch/10905042f7f"]);
        let mut two = trash.clone();
        two.push(TrashEntry { id: "abc".into(), name: "t1".into() });
        assert!(by_name.plan(&RbdImageState { trash: two, ..Default::default() }).unwrap_err().msg.contains("give `trash_id`"));
    }
}
