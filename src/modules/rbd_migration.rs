//! `rbd_migration`: the runbook's in-cluster move to another pool
//! (`rbd migration prepare SRC DEST`, `execute`, `commit`, or `abort`),
//! idempotent from the `migration` object of `rbd status --format json DEST`.
//!
//! G15: a snapshot-mirrored image carries mirror snapshots, which migration
//! refuses (rc 16); ferry says so before running. A journal-mirrored image
//! migrates, but its destination starts with mirroring disabled.
//! Cross-cluster migration does not work in Pacific (the CLI aborts), so the
//! source and destination are both on `cluster`.

use super::args::{self, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster, Recovery};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::ceph::{CommandError, CommandErrorKind, ImageInfo, ImageSpec, MigrationState, MigrationStatus, MirrorImageMode, RbdStatus};
use crate::vars::Value;
use serde::Deserialize;

const MODULE: &str = "rbd_migration";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    action: Text,
    #[serde(alias = "image", alias = "src")]
    source: Option<Text>,
    dest: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Prepare,
    Execute,
    Commit,
    Abort,
}

/// One step of an `rbd migration`.
#[derive(Debug)]
pub struct RbdMigrationModule {
    cluster: Cluster,
    step: Step,
    source: Option<ImageSpec>,
    dest: ImageSpec,
}

/// What `observe` learned.
#[derive(Debug, Clone, Default)]
pub struct MigrationView {
    /// `rbd status` of the destination; `None` when it does not exist.
    pub dest: Option<RbdStatus>,
    /// `rbd info` of the source (prepare only); `None` when it cannot be
    /// opened (absent, or hidden by a prepared migration).
    pub source: Option<ImageInfo>,
}

impl MigrationView {
    fn migration(&self) -> Option<&MigrationStatus> {
        self.dest.as_ref()?.migration.as_ref()
    }
}

impl RbdMigrationModule {
    /// From `rbd_migration:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let step = match a.action.0.trim() {
            "prepare" => Step::Prepare,
            "execute" => Step::Execute,
            "commit" => Step::Commit,
            "abort" => Step::Abort,
            other => return Err(arg_err(MODULE, "action", format!("`action` must be prepare, execute, commit or abort, not `{other}`"))),
        };
        let source = a.source.as_ref().map(|t| ceph_cli::image_spec(MODULE, "source", t)).transpose()?;
        if step == Step::Prepare && source.is_none() {
            return Err(arg_err(MODULE, "source", "`prepare` needs `source` (pool/name of the image to move)"));
        }
        let dest = ceph_cli::image_spec(MODULE, "dest", &a.dest)?;
        if source.as_ref() == Some(&dest) {
            return Err(arg_err(MODULE, "dest", "`dest` is the same image as `source`"));
        }
        Ok(RbdMigrationModule { cluster, step, source, dest })
    }

    fn cmd(&self, verb: &str, args: &[String]) -> crate::transport::RemoteCommand {
        let mut argv = vec!["migration".to_string(), verb.into()];
        argv.extend(args.iter().cloned());
        self.cluster.rbd(argv)
    }
}

impl StatefulModule for RbdMigrationModule {
    type State = MigrationView;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<MigrationView, ModuleError> {
        let cmd = self.cluster.rbd(["status", "--format", "json", &self.dest.to_string()]);
        // `rbd status` of the destination tells the migration's state; the
        // source (prepare only) tells a committed migration from a taken name.
        let dest = match ceph_cli::query(cx, &cmd).await? {
            Ok(out) => Some(RbdStatus::parse(&out.stdout).map_err(|e| ceph_cli::parse_failure(&cmd, &out.stdout, &e.to_string()))?),
            Err((err, _)) if err.kind == CommandErrorKind::ImageNotFound => None,
            Err((err, out)) => return Err(ceph_cli::failure("could not observe the current state", &cmd, &out, &err, None)),
        };
        let mut view = MigrationView { dest, source: None };
        if let (Step::Prepare, Some(src), None) = (self.step, &self.source, view.migration()) {
            let cmd = self.cluster.rbd(["info", "--format", "json", &src.to_string()]);
            view.source = match ceph_cli::query(cx, &cmd).await? {
                Ok(out) => Some(ImageInfo::parse(&out.stdout).map_err(|e| ceph_cli::parse_failure(&cmd, &out.stdout, &e.to_string()))?),
                Err((err, _)) if err.kind == CommandErrorKind::ImageNotFound => None,
                Err((err, out)) => return Err(ceph_cli::failure("could not observe the current state", &cmd, &out, &err, None)),
            };
        }
        Ok(view)
    }

    fn plan(&self, v: &MigrationView) -> Result<Vec<Change>, Failure> {
        let dest = &self.dest;
        let cluster = &self.cluster.name;
        let state = v.migration().and_then(|m| m.state.clone());
        let one = |summary: String, cmd| Ok(vec![Change { summary, commands: vec![cmd], diff: None }]);
        match self.step {
            Step::Prepare => {
                let src = self.source.as_ref().map(ToString::to_string).unwrap_or_default();
                if let Some(m) = v.migration() {
                    let from = m.source();
                    if from.as_ref().map(ToString::to_string).as_deref() == Some(src.as_str()) {
                        return Ok(Vec::new());
                    }
                    let other = from.map(|s| s.to_string()).unwrap_or_else(|| "another image".into());
                    return Err(Failure::msg(format!("{dest} is already the destination of a migration from {other}")));
                }
                if v.dest.is_some() && v.source.is_none() {
                    // Committed already: the source is gone and the destination stands alone.
                    return Ok(Vec::new());
                }
                if v.dest.is_some() {
                    return Err(Failure::msg(format!(
                        "{dest} already exists on cluster {cluster} (rbd would refuse with rc 17): if it is the new VM's empty volume, \
                         move it to the trash first (`rbd_image: {{action: trash, image: {dest}}}`)"
                    )));
                }
                let Some(info) = &v.source else {
                    return Err(Failure::msg(format!("source image {src} does not exist on cluster {cluster}")));
                };
                let mirroring = info.mirroring.as_ref();
                if mirroring.and_then(|m| m.mode.clone()) == Some(MirrorImageMode::Snapshot) && info.is_mirroring_enabled() {
                    return Err(Failure::msg(format!(
                        "{src} is snapshot-mirrored: its mirror snapshots cannot be migrated (G15: rc 16); \
                         finish the mirror cutover and disable its mirroring first"
                    )));
                }
                let note = if info.is_mirroring_enabled() { " (its journal mirroring does not follow: the destination starts unmirrored, G15)" } else { "" };
                one(format!("prepare the migration of {src} to {dest}{note}"), self.cmd("prepare", &[src.clone(), dest.to_string()]))
            }
            Step::Execute => match state {
                Some(MigrationState::Executed) => Ok(Vec::new()),
                Some(MigrationState::Prepared | MigrationState::Executing) => {
                    one(format!("copy the data of the migration to {dest} (rbd migration execute)"), self.cmd("execute", &[dest.to_string()]))
                }
                Some(other) => Err(Failure::msg(format!("the migration to {dest} is in state `{other}`; it cannot be executed now"))),
                None if v.dest.is_some() => Ok(Vec::new()),
                None => Err(Failure::msg(format!("no migration to {dest} exists on cluster {cluster}: run `action: prepare` first"))),
            },
            Step::Commit => match state {
                Some(MigrationState::Executed) => {
                    one(format!("commit the migration to {dest} (the source is removed)"), self.cmd("commit", &[dest.to_string()]))
                }
                Some(other) => Err(Failure::msg(format!("the migration to {dest} is `{other}`, not executed: run `action: execute` before committing"))),
                None if v.dest.is_some() => Ok(Vec::new()),
                None => Err(Failure::msg(format!("no migration to {dest} exists on cluster {cluster}: nothing to commit"))),
            },
            Step::Abort => match state {
                Some(_) => one(format!("abort the migration to {dest} (the source comes back)"), self.cmd("abort", &[dest.to_string()])),
                None => Ok(Vec::new()),
            },
        }
    }
}

impl CephModule for RbdMigrationModule {
    fn assume_in_check(&self, v: &MigrationView) -> Option<String> {
        let dest = &self.dest;
        match self.step {
            Step::Prepare if v.migration().is_none() && v.dest.is_some() => Some(format!("prepare the migration to {dest}")),
            Step::Execute if v.migration().is_none() => Some(format!("copy the data of the migration to {dest}")),
            Step::Commit if v.migration().is_some() || v.dest.is_none() => Some(format!("commit the migration to {dest}")),
            _ => None,
        }
    }

    fn recover(&self, _v: &MigrationView, _change: &Change, err: &CommandError) -> Recovery {
        match err.kind {
            CommandErrorKind::NonUserSnapshotsBlockMigration => Recovery::Fail(Some(ceph_cli::with_remedy(
                err,
                "a demoted or snapshot-mirrored image carries mirror snapshots; promote the other site's copy and migrate that one, \
                 or disable mirroring on this image first",
            ))),
            CommandErrorKind::CliCrashed => Recovery::Fail(Some(ceph_cli::with_remedy(err, "cross-cluster migration crashes the Pacific CLI; use rbd-mirror"))),
            _ => Recovery::Fail(None),
        }
    }

    fn report(&self, before: &MigrationView, after: Option<&MigrationView>) -> serde_json::Map<String, Value> {
        let v = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("dest".into(), self.dest.to_string().into());
        if let Some(s) = &self.source {
            m.insert("source".into(), s.to_string().into());
        }
        let state = match (v.migration(), &v.dest) {
            (Some(mig), _) => mig.state.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
            (None, Some(_)) => "none (destination exists)".into(),
            (None, None) => "none".into(),
        };
        m.insert("migration_state".into(), state.into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module(args: Value) -> RbdMigrationModule {
        RbdMigrationModule::from_args(&args).unwrap()
    }

    /// The `rbd status --format json` line of the lab's migration transcript.
    fn prepared() -> RbdStatus {
        let line = include_str!("../../tests/fixtures/ceph/site-a.rbd-migration.txt").lines().find(|l| l.starts_with("{\"watchers\"")).unwrap_or_default();
        RbdStatus::parse(line).unwrap()
    }

    fn with_state(state: &str) -> MigrationView {
        let mut s = prepared();
        if let Some(m) = s.migration.as_mut() {
            m.state = Some(MigrationState::from(state));
        }
        MigrationView { dest: Some(s), source: None }
    }

    fn cmds(c: &[Change]) -> Vec<String> {
        c.iter().flat_map(|c| c.commands.iter().map(ToString::to_string)).collect()
    }

    #[test]
    fn prepare_is_done_once_the_destination_shows_the_migration() {
        let m = module(json!({"action": "prepare", "source": "images/mig1", "dest": "target/mig1", "cluster": "site-a"}));
        let fresh = MigrationView { dest: None, source: Some(ImageInfo::parse(r#"{"name":"mig1"}"#).unwrap()) };
        assert_eq!(cmds(&m.plan(&fresh).unwrap()), ["rbd --cluster site-a migration prepare images/mig1 target/mig1"]);
        assert!(m.plan(&with_state("prepared")).unwrap().is_empty());
        let other = module(json!({"action": "prepare", "source": "images/other", "dest": "target/mig1"}));
        assert!(other.plan(&with_state("prepared")).unwrap_err().msg.contains("from images/mig1"));
    }

    #[test]
    fn prepare_refuses_an_existing_destination_and_snapshot_mirrored_sources() {
        let m = module(json!({"action": "prepare", "source": "volumes/a", "dest": "hdd_volume/b"}));
        let source = Some(ImageInfo::parse(r#"{"name":"a"}"#).unwrap());
        let exists = MigrationView { dest: Some(RbdStatus::default()), source: source.clone() };
        assert!(m.plan(&exists).unwrap_err().msg.contains("rbd_image: {action: trash, image: hdd_volume/b}"));
        let committed = MigrationView { dest: Some(RbdStatus::default()), source: None };
        assert!(m.plan(&committed).unwrap().is_empty(), "source gone, destination alone: migrated and committed");
        let snap =
            MigrationView { dest: None, source: Some(ImageInfo::parse(r#"{"mirroring":{"mode":"snapshot","state":"enabled","primary":false}}"#).unwrap()) };
        assert!(m.plan(&snap).unwrap_err().msg.contains("G15"));
        let journal =
            MigrationView { dest: None, source: Some(ImageInfo::parse(include_str!("../../tests/fixtures/ceph/site-a.info.images-base.json")).unwrap()) };
        assert!(m.plan(&journal).unwrap()[0].summary.contains("destination starts unmirrored"));
    }

    #[test]
    fn execute_commit_abort_follow_the_state() {
        let exec = module(json!({"action": "execute", "dest": "target/mig1"}));
        assert_eq!(cmds(&exec.plan(&with_state("prepared")).unwrap()), ["rbd --cluster ceph migration execute target/mig1"]);
        assert!(exec.plan(&with_state("executed")).unwrap().is_empty());
        let commit = module(json!({"action": "commit", "dest": "target/mig1"}));
        assert!(commit.plan(&with_state("prepared")).unwrap_err().msg.contains("run `action: execute`"));
        assert_eq!(cmds(&commit.plan(&with_state("executed")).unwrap()), ["rbd --cluster ceph migration commit target/mig1"]);
        let done = MigrationView { dest: Some(RbdStatus::default()), source: None };
        assert!(commit.plan(&done).unwrap().is_empty(), "committed: the destination has no migration left");
        let abort = module(json!({"action": "abort", "dest": "target/mig1"}));
        assert_eq!(cmds(&abort.plan(&with_state("executed")).unwrap()), ["rbd --cluster ceph migration abort target/mig1"]);
        assert!(abort.plan(&MigrationView::default()).unwrap().is_empty());
    }

    #[test]
    fn g15_refusal_is_explained() {
        let m = module(json!({"action": "prepare", "source": "images/snapimg", "dest": "target/snapimg"}));
        let e = CommandError::classify(16, "librbd::Migration: list_src_snaps: image has non-user type snapshots that are not supported by migration");
        let change = Change { summary: "x".into(), commands: vec![], diff: None };
        let Recovery::Fail(Some(msg)) = m.recover(&MigrationView::default(), &change, &e) else { panic!() };
        assert!(msg.contains("G15"), "{msg}");
        assert!(RbdMigrationModule::from_args(&json!({"action": "prepare", "dest": "a/b"})).is_err());
    }
}
