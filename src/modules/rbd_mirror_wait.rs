//! `rbd_mirror_wait`: on the TARGET, polls `rbd mirror image status --format
//! json` for each image until it is in sync, and fails with the daemon's own
//! words when it cannot get there.
//!
//! In sync is [`crate::ceph::sync_verdict`]'s decision (journal: up+replaying,
//! 0 entries behind, equal positions and a replay rate of 0, as the runbook
//! says; snapshot: the newest mirror snapshot copied), read from a status
//! that rbd-mirror refreshed during the wait (G11: the status is rewritten
//! about every 30 s, `last_update`; an older one may predate the last writes).
//!
//! `bytes_per_second` is the replay rate over the last status period: on the
//! lab it read 35329.6 for the refresh after a 1 MiB write and 0.0 at the
//! next one, 30 s later. So with a quiet source the strict rule costs at
//! most one more refresh. While a VM still writes to the source it never
//! reaches 0; `until: caught_up` then accepts 0 entries behind with equal
//! positions at a refreshed status, whatever the rate (the replica is as
//! current as rbd-mirror can tell; demote and promote finish the job).
//!
//! For clones (whose bootstrap progress rbd-mirror reports badly) the used
//! bytes of `rbd du` are compared with the source when `source_cluster` is
//! reachable from this host (the target has the source's conf, `--cluster
//! site-src`), and must match before the clone counts as in sync.
//!
//! Polling backs off from 0.5 s to 1.5 s and starts again at 0.5 s when a
//! figure moves: the wait returns at most ~1.5 s (plus one look) after
//! rbd-mirror writes the status that shows the image in sync. The images are
//! looked at concurrently (one command each, at most [`LOOKS_AT_ONCE`] at a
//! time), so a poll costs one round trip, not one per image. It fails on `timeout`; when no figure of an image moved for
//! `stall_after` seconds (naming the image and the daemon's description);
//! when an image never appears on the target within `appear_timeout` (rc 2:
//! rbd-mirror cannot create it, G2), naming the unmirrored parent when the
//! source is reachable; and at once on errors that do not heal by waiting
//! (permissions, unreachable cluster, and G5, "mirroring not enabled on the
//! image" when the source's newest mirror snapshot names no peer; without
//! that confirmation the same rc 22 is the few seconds in which rbd-mirror
//! re-creates an image after a resync, and counts as "not there yet"). A
//! demoted source (G7) or an already promoted target also ends the wait:
//! replay is then complete up to the demotion.

use super::args::{self, Flag, Number, OneOrMany, Text};
use super::ceph_cli::{self, arg_err, Cluster};
use super::{Failure, ModuleContext, ModuleError, ModuleOutput};
use crate::ceph::{
    sync_verdict, CommandError, CommandErrorKind, DiskUsage, ImageInfo, ImageSpec, MirrorImageMode, MirrorImageStatus, SyncVerdict, MAX_CHAIN_DEPTH,
};
use crate::vars::Value;
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};

const MODULE: &str = "rbd_mirror_wait";

const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// Longest pause between polls: bounds the time from "Ceph says in sync" to
/// "ferry moves on" (the issue's target is under 2 s).
const MAX_PAUSE: Duration = Duration::from_millis(1500);
/// Images looked at concurrently in one poll (below the SSH connection's
/// session limit, so other tasks' commands still get a channel).
const LOOKS_AT_ONCE: usize = 6;
/// `rbd du` walks the image's objects: at most this often per image while syncing.
const USAGE_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "image")]
    images: OneOrMany<Text>,
    timeout: Option<Number>,
    appear_timeout: Option<Number>,
    stall_after: Option<Number>,
    mode: Option<Text>,
    source_cluster: Option<Text>,
    source_conf: Option<Text>,
    source_keyring: Option<Text>,
    source_id: Option<Text>,
    compare_usage: Option<Flag>,
    until: Option<Text>,
    /// Put before every failure, e.g. "cutover refused" (what the wait guards).
    refusal: Option<Text>,
}

/// Waits for images to be in sync on the target.
#[derive(Debug)]
pub struct RbdMirrorWaitModule {
    target: Cluster,
    source: Option<Cluster>,
    images: Vec<ImageSpec>,
    timeout: Duration,
    appear_timeout: Duration,
    stall_after: Duration,
    mode: Option<MirrorImageMode>,
    compare_usage: bool,
    until: Until,
    refusal: Option<String>,
}

/// When a journal-mode image counts as in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The runbook's rule: nothing behind and nothing being replayed.
    Idle,
    /// Nothing behind at a fresh status, even while the primary is written to.
    CaughtUp,
}

/// How an image's wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    InSync,
    Demoted,
    Primary,
}

impl Done {
    fn name(self) -> &'static str {
        match self {
            Done::InSync => "in_sync",
            Done::Demoted => "demoted",
            Done::Primary => "primary",
        }
    }
}

/// What ferry knows about one image while waiting.
#[derive(Debug)]
struct Track {
    spec: ImageSpec,
    started: Instant,
    first_missing: Option<Instant>,
    /// What the target said while the image was missing.
    missing: String,
    last_move: Instant,
    fingerprint: String,
    verdict: Option<SyncVerdict>,
    status: Option<MirrorImageStatus>,
    mode: Option<MirrorImageMode>,
    is_clone: Option<bool>,
    /// The first non-empty `last_update` seen: a status is fresh once it differs.
    first_update: Option<String>,
    usage: Option<(u64, u64)>,
    usage_at: Option<Instant>,
    max_entries: u64,
    why: String,
    done: Option<Done>,
    waited: Duration,
}

impl Track {
    /// Nothing seen yet about `spec`; waiting since `start`.
    fn new(spec: ImageSpec, mode: Option<MirrorImageMode>, start: Instant) -> Track {
        Track {
            spec,
            started: start,
            first_missing: None,
            missing: String::new(),
            last_move: start,
            fingerprint: String::new(),
            verdict: None,
            status: None,
            mode,
            is_clone: None,
            first_update: None,
            usage: None,
            usage_at: None,
            max_entries: 0,
            why: String::new(),
            done: None,
            waited: Duration::ZERO,
        }
    }
}

/// Result of one look at one image.
enum Look {
    /// Keep polling.
    Pending,
    /// Finished.
    Done(Done),
    /// Cannot get better by waiting.
    Fatal(String),
}

fn seconds(path: &str, n: Option<Number>, default: f64) -> Result<Duration, (String, String)> {
    let v = n.map_or(default, |n| n.0);
    if !(0.0..=7.0 * 86400.0).contains(&v) {
        return Err(arg_err(MODULE, path, format!("`{path}` must be seconds from 0 to 604800, not {v}")));
    }
    Ok(Duration::from_secs_f64(v))
}

impl RbdMirrorWaitModule {
    /// From `rbd_mirror_wait:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (target, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let images = a.images.0.iter().enumerate().map(|(i, t)| ceph_cli::image_spec(MODULE, &format!("images[{i}]"), t)).collect::<Result<Vec<_>, _>>()?;
        if images.is_empty() {
            return Err(arg_err(MODULE, "images", "`images` is empty"));
        }
        let mode = match a.mode.as_ref().map(|m| m.0.trim()) {
            None => None,
            Some("journal") => Some(MirrorImageMode::Journal),
            Some("snapshot") => Some(MirrorImageMode::Snapshot),
            Some(other) => return Err(arg_err(MODULE, "mode", format!("`mode` must be journal or snapshot, not `{other}`"))),
        };
        let source = match a.source_cluster {
            Some(name) => {
                let mut obj = serde_json::Map::new();
                obj.insert("cluster".into(), Value::from(name.0));
                for (k, v) in [("conf", a.source_conf), ("keyring", a.source_keyring), ("id", a.source_id)] {
                    if let Some(v) = v {
                        obj.insert(k.into(), Value::from(v.0));
                    }
                }
                let (c, _) = Cluster::split(MODULE, &Value::Object(obj)).map_err(|(p, m)| (format!("source_{p}"), m))?;
                Some(c)
            }
            None if a.source_conf.is_some() || a.source_keyring.is_some() || a.source_id.is_some() => {
                return Err(arg_err(MODULE, "source_cluster", "`source_conf`/`source_keyring`/`source_id` need `source_cluster`"));
            }
            None => None,
        };
        if source.as_ref().is_some_and(|s| s.name == target.name && s.conf == target.conf) {
            return Err(arg_err(MODULE, "source_cluster", "`source_cluster` is the cluster being waited on; give the source's name (e.g. site-src)"));
        }
        Ok(RbdMirrorWaitModule {
            compare_usage: a.compare_usage.map_or(source.is_some(), |f| f.0),
            target,
            source,
            images,
            timeout: seconds("timeout", a.timeout, 3600.0)?,
            appear_timeout: seconds("appear_timeout", a.appear_timeout, 300.0)?,
            stall_after: seconds("stall_after", a.stall_after, 300.0)?,
            mode,
            until: match a.until.as_ref().map(|u| u.0.trim()) {
                None | Some("idle") => Until::Idle,
                Some("caught_up") => Until::CaughtUp,
                Some(other) => return Err(arg_err(MODULE, "until", format!("`until` must be idle or caught_up, not `{other}`"))),
            },
            refusal: a.refusal.map(|t| t.0.trim().to_string()).filter(|t| !t.is_empty()),
        })
    }

    /// Polls until every image is in sync, or fails.
    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        let start = Instant::now();
        let mut tracks: Vec<Track> = self.images.iter().map(|spec| Track::new(spec.clone(), self.mode.clone(), start)).collect();
        let mut pause = FIRST_PAUSE;
        loop {
            let mut moved = false;
            let mut fatal = None;
            // One poll: every pending image looked at, LOOKS_AT_ONCE at a time.
            let mut looks: Vec<Result<Look, ModuleError>> = Vec::new();
            {
                let mut pending: Vec<&mut Track> = tracks.iter_mut().filter(|t| t.done.is_none()).collect();
                for chunk in pending.chunks_mut(LOOKS_AT_ONCE) {
                    looks.extend(futures::future::join_all(chunk.iter_mut().map(|t| self.look(cx, t))).await);
                }
            }
            for (t, look) in tracks.iter_mut().filter(|t| t.done.is_none()).zip(looks) {
                let look = look?;
                let now = Instant::now();
                let fp = fingerprint(t);
                if fp != t.fingerprint {
                    t.fingerprint = fp;
                    t.last_move = now;
                    moved = true;
                }
                t.waited = now - t.started;
                report_progress(cx, t);
                match look {
                    Look::Done(d) => t.done = Some(d),
                    Look::Fatal(msg) => {
                        fatal = Some(msg);
                        break;
                    }
                    Look::Pending => {}
                }
            }
            if let Some(msg) = fatal {
                return Err(self.fail(&result(&tracks, start), msg));
            }
            if tracks.iter().all(|t| t.done.is_some()) {
                let took = start.elapsed().as_secs_f64();
                let how: Vec<String> = tracks.iter().map(|t| format!("{} {}", t.spec, t.done.map(Done::name).unwrap_or_default())).collect();
                return Ok(ModuleOutput { msg: format!("{} after {took:.1}s", how.join(", ")), result: result(&tracks, start), ..Default::default() });
            }
            if cx.check {
                return Ok(ModuleOutput { msg: "check mode: looked once, did not wait".into(), result: result(&tracks, start), ..Default::default() });
            }
            let now = Instant::now();
            for t in tracks.iter().filter(|t| t.done.is_none()) {
                if let Some(first) = t.first_missing {
                    if now - first >= self.appear_timeout {
                        let why = self.why_missing(cx, &t.spec).await?;
                        return Err(self.fail(
                            &result(&tracks, start),
                            format!(
                                "{} did not appear on cluster {} within {}s ({}): {why}",
                                t.spec,
                                self.target.name,
                                self.appear_timeout.as_secs(),
                                t.missing
                            ),
                        ));
                    }
                } else if now - t.last_move >= self.stall_after {
                    return Err(self.fail(
                        &result(&tracks, start),
                        format!(
                            "{} stalled: no figure moved for {}s. Last seen: {}; the daemon says \"{}\"",
                            t.spec,
                            self.stall_after.as_secs(),
                            t.verdict.as_ref().map(ToString::to_string).unwrap_or_else(|| "nothing".into()),
                            t.status.as_ref().and_then(|s| s.description.as_ref()).map(|d| d.raw.clone()).unwrap_or_default()
                        ),
                    ));
                }
            }
            if start.elapsed() >= self.timeout {
                let left: Vec<String> = tracks
                    .iter()
                    .filter(|t| t.done.is_none())
                    .map(|t| format!("{}: {}", t.spec, t.verdict.as_ref().map(ToString::to_string).unwrap_or_else(|| "no status yet".into())))
                    .collect();
                return Err(self.fail(&result(&tracks, start), format!("timeout after {}s; not in sync: {}", self.timeout.as_secs(), left.join("; "))));
            }
            pause = if moved { FIRST_PAUSE } else { (pause.mul_f64(1.5)).min(MAX_PAUSE) };
            tokio::time::sleep(pause).await;
        }
    }

    fn fail(&self, result: &serde_json::Map<String, Value>, msg: String) -> ModuleError {
        let msg = match &self.refusal {
            Some(what) => format!("{what}: {msg}"),
            None => msg,
        };
        let detail = serde_json::to_string(result).unwrap_or_default();
        ModuleError::Failed(Failure { msg, stdout: Some(detail), ..Default::default() })
    }

    fn status_cmd(c: &Cluster, spec: &ImageSpec) -> crate::transport::RemoteCommand {
        c.rbd(["mirror", "image", "status", "--format", "json", &spec.to_string()])
    }

    /// One look at one image.
    async fn look(&self, cx: &ModuleContext<'_>, t: &mut Track) -> Result<Look, ModuleError> {
        let cmd = Self::status_cmd(&self.target, &t.spec);
        let target: Result<MirrorImageStatus, CommandError> = match ceph_cli::query(cx, &cmd).await? {
            Ok(out) => Ok(MirrorImageStatus::parse(&out.stdout).map_err(|e| ceph_cli::parse_failure(&cmd, &out.stdout, &e.to_string()))?),
            Err((err, _)) => Err(err),
        };
        if let Err(e) = &target {
            let source = if e.kind == CommandErrorKind::ImageNotFound { None } else { self.source_status(cx, &t.spec).await? };
            // rc 22 "mirroring not enabled on the image" is G5 only when the
            // source's newest mirror snapshot names no peer; otherwise it is
            // the few seconds in which rbd-mirror (re)creates the image (seen
            // on the lab right after a resync), and it counts as not there yet.
            let transient = e.kind == CommandErrorKind::ImageNotFound
                || (e.kind == CommandErrorKind::ImageMirroringNotEnabled && !source.as_ref().is_some_and(MirrorImageStatus::newest_snapshot_lacks_peer));
            if !transient {
                let v = sync_verdict(Err(e), source.as_ref(), t.mode.clone());
                t.verdict = Some(v.clone());
                return Ok(Look::Fatal(format!("{}: {v}", t.spec)));
            }
            t.first_missing.get_or_insert_with(Instant::now);
            t.missing = format!("`rbd mirror image status` rc {}: {}", e.rc, e.message);
            t.status = None;
            t.verdict = Some(if e.kind == CommandErrorKind::ImageNotFound {
                SyncVerdict::NotYetCreated
            } else {
                SyncVerdict::Waiting { reason: "the image is being created on the target (mirroring not enabled on it yet)".into() }
            });
            return Ok(Look::Pending);
        }
        t.first_missing = None;
        if t.is_clone.is_none() {
            let info_cmd = self.target.rbd(["info", "--format", "json", &t.spec.to_string()]);
            if let Ok(Ok(out)) = ceph_cli::query(cx, &info_cmd).await.map(|r| r.map_err(|_| ())) {
                if let Ok(info) = ImageInfo::parse(&out.stdout) {
                    t.is_clone = Some(info.parent.is_some());
                    if t.mode.is_none() {
                        t.mode = info.mirroring.and_then(|m| m.mode);
                    }
                }
            }
        }
        let status = target.unwrap_or_default();
        let mut verdict = sync_verdict(Ok(&status), None, t.mode.clone());
        if matches!(verdict, SyncVerdict::Waiting { .. }) {
            if let Some(source) = self.source_status(cx, &t.spec).await? {
                verdict = sync_verdict(Ok(&status), Some(&source), t.mode.clone());
            }
        }
        if let Some(p) = status.progress() {
            t.max_entries = t.max_entries.max(p.entries_behind_primary.unwrap_or(0));
        }
        let (verdict, why) = self.judge(t, &status, verdict);
        t.why = why;
        t.status = Some(status);
        t.verdict = Some(verdict.clone());
        let clone_check = self.compare_usage && self.source.is_some() && t.is_clone == Some(true);
        match verdict {
            SyncVerdict::InSync { .. } => {
                if clone_check {
                    self.refresh_usage(cx, t, true).await?;
                    if let Some((target_used, source_used)) = t.usage {
                        if target_used != source_used {
                            t.why = format!("journal caught up, but rbd du differs: {target_used} of {source_used} bytes used on the target");
                            t.verdict = Some(SyncVerdict::Waiting { reason: t.why.clone() });
                            return Ok(Look::Pending);
                        }
                    }
                }
                Ok(Look::Done(Done::InSync))
            }
            SyncVerdict::Demoted { .. } => Ok(Look::Done(Done::Demoted)),
            SyncVerdict::LocalPrimary => Ok(Look::Done(Done::Primary)),
            _ => {
                if clone_check {
                    self.refresh_usage(cx, t, false).await?;
                }
                Ok(Look::Pending)
            }
        }
    }

    /// ferry's rules on top of `sync_verdict`: only a status refreshed during
    /// the wait counts (G11), and `until: caught_up` ignores the replay rate.
    /// Returns the verdict to act on and why, in words.
    fn judge(&self, t: &mut Track, status: &MirrorImageStatus, verdict: SyncVerdict) -> (SyncVerdict, String) {
        let updated = status.last_update.clone().filter(|u| !u.is_empty());
        if t.first_update.is_none() {
            t.first_update = updated.clone();
        }
        let refreshed = updated.is_some() && updated != t.first_update;
        let at = updated.unwrap_or_else(|| "never".into());
        match verdict {
            SyncVerdict::InSync { .. } if !refreshed => {
                let why = format!("in sync at the status of {at}; waiting for rbd-mirror's next refresh to confirm it (G11)");
                (SyncVerdict::Waiting { reason: why.clone() }, why)
            }
            SyncVerdict::Syncing(d) => {
                let caught_up = d.progress.as_ref().is_some_and(|p| p.entries_behind_primary == Some(0) && p.positions_match() == Some(true));
                if self.until == Until::CaughtUp && refreshed && caught_up && t.mode != Some(MirrorImageMode::Snapshot) {
                    let rate = d.progress.as_ref().and_then(|p| p.bytes_per_second).unwrap_or_default();
                    let why =
                        format!("0 entries behind and equal positions at the status of {at}; replay rate {rate} B/s not required to be 0 (until: caught_up)");
                    return (SyncVerdict::InSync { mode: MirrorImageMode::Journal }, why);
                }
                let why = d.why.clone();
                (SyncVerdict::Syncing(d), why)
            }
            other => (other, String::new()),
        }
    }

    async fn source_status(&self, cx: &ModuleContext<'_>, spec: &ImageSpec) -> Result<Option<MirrorImageStatus>, ModuleError> {
        let Some(src) = &self.source else { return Ok(None) };
        Ok(match ceph_cli::query(cx, &Self::status_cmd(src, spec)).await? {
            Ok(out) => MirrorImageStatus::parse(&out.stdout).ok(),
            Err(_) => None,
        })
    }

    /// `rbd du` on both sides (head plus user snapshots; mirror snapshots differ by design).
    async fn refresh_usage(&self, cx: &ModuleContext<'_>, t: &mut Track, now: bool) -> Result<(), ModuleError> {
        let Some(src) = &self.source else { return Ok(()) };
        if !now && t.usage_at.is_some_and(|at| at.elapsed() < USAGE_EVERY) {
            return Ok(());
        }
        let used = |text: &str| DiskUsage::parse(text).ok().and_then(|d| d.usage_of(&t.spec.name)).map(|u| u.head.saturating_add(u.snapshots));
        let du = |c: &Cluster| c.rbd(["du", "--format", "json", &t.spec.to_string()]);
        let target = match ceph_cli::query(cx, &du(&self.target)).await? {
            Ok(out) => used(&out.stdout),
            Err(_) => None,
        };
        let source = match ceph_cli::query(cx, &du(src)).await? {
            Ok(out) => used(&out.stdout),
            Err(_) => None,
        };
        t.usage_at = Some(Instant::now());
        t.usage = target.zip(source);
        Ok(())
    }

    /// Why an image never appeared on the target: the source's view of it and its parents.
    async fn why_missing(&self, cx: &ModuleContext<'_>, spec: &ImageSpec) -> Result<String, ModuleError> {
        let generic = "rbd-mirror has not created it. Check that rbd-mirror runs on the target (`rbd_mirror_daemon`), reaches the source \
                       (mons on 3300/6789 and every OSD port 6800-7300), and that a clone's whole parent chain is mirrored (G2)";
        let Some(src) = &self.source else { return Ok(generic.to_string()) };
        let info_of = |s: &ImageSpec| src.rbd(["info", "--format", "json", &s.to_string()]);
        let info = match ceph_cli::query(cx, &info_of(spec)).await? {
            Ok(out) => ImageInfo::parse(&out.stdout).unwrap_or_default(),
            Err((err, _)) => return Ok(format!("it cannot be read on the source cluster {} either: {err}", src.name)),
        };
        if !info.is_mirroring_enabled() {
            return Ok(format!("mirroring is not enabled for {spec} on the source cluster {}: enable it (`rbd_mirror_image` or pool mode)", src.name));
        }
        let mut link = info.parent;
        let mut unmirrored: Vec<String> = Vec::new();
        let mut depth = 0;
        while let Some(parent) = link.take() {
            let Some(pspec) = parent.spec() else { break };
            depth += 1;
            if depth > MAX_CHAIN_DEPTH {
                break;
            }
            if parent.in_trash() {
                unmirrored.push(format!("{pspec} (in the trash)"));
                break;
            }
            let pinfo = match ceph_cli::query(cx, &info_of(&pspec)).await? {
                Ok(out) => ImageInfo::parse(&out.stdout).unwrap_or_default(),
                Err(_) => break,
            };
            if !pinfo.is_mirroring_enabled() {
                unmirrored.push(pspec.to_string());
            }
            link = pinfo.parent;
        }
        if let Some(nearest) = unmirrored.first() {
            let root_first: Vec<&str> = unmirrored.iter().rev().map(String::as_str).collect();
            return Ok(format!(
                "{spec} is a clone and its parent {nearest} is not mirrored, so rbd-mirror cannot create it on the target (G2: \
                 \"parent image ... not mirrored\", logged only at debug level). Enable mirroring on {} (root first); \
                 the clone is retried by itself afterwards",
                root_first.join(", then ")
            ));
        }
        Ok(format!("the source side looks right (mirroring enabled, parents mirrored): {generic}"))
    }
}

/// Every figure that shows progress, without `last_update` (which moves even when nothing else does).
fn fingerprint(t: &Track) -> String {
    let status = t.status.as_ref();
    let p = status.and_then(MirrorImageStatus::progress);
    format!(
        "{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        status.and_then(|s| s.state.as_ref()).map(ToString::to_string),
        status.map(MirrorImageStatus::description_text).unwrap_or_default(),
        p.and_then(|p| p.entries_behind_primary),
        p.and_then(|p| p.primary_position),
        p.and_then(|p| p.non_primary_position),
        p.and_then(|p| p.bytes_per_second).map(f64::to_bits),
        p.and_then(|p| p.local_snapshot_timestamp),
        p.and_then(|p| p.remote_snapshot_timestamp),
        p.and_then(|p| p.syncing_percent),
        status.and_then(|s| s.description.as_ref()).and_then(|d| d.percent()),
        t.usage,
    )
}

/// Units done and in all for a progress bar, and the words.
fn progress_of(t: &Track) -> (u64, u64, String) {
    let words = match (&t.verdict, t.done) {
        (_, Some(d)) => d.name().replace('_', " "),
        (Some(v), None) => v.to_string(),
        (None, None) => "no status yet".to_string(),
    };
    if t.done.is_some() {
        return (1, 1, words);
    }
    if let Some((target, source)) = t.usage {
        return (target.min(source), source, words);
    }
    let status = t.status.as_ref();
    if let Some(pct) = status.and_then(|s| s.description.as_ref()).and_then(|d| d.percent()) {
        return (u64::from(pct), 100, words);
    }
    if let Some(pct) = status.and_then(MirrorImageStatus::progress).and_then(|p| p.syncing_percent) {
        return (pct, 100, words);
    }
    if let Some(behind) = status.and_then(MirrorImageStatus::progress).and_then(|p| p.entries_behind_primary) {
        if t.max_entries > 0 {
            return (t.max_entries - behind.min(t.max_entries), t.max_entries, words);
        }
    }
    (0, 0, words)
}

fn report_progress(cx: &ModuleContext<'_>, t: &Track) {
    let (done, total, words) = progress_of(t);
    (cx.progress)(&t.spec.to_string(), done, total, &words);
}

fn image_json(t: &Track) -> Value {
    let status = t.status.as_ref();
    let p = status.and_then(MirrorImageStatus::progress);
    json!({
        "image": t.spec.to_string(),
        "in_sync": t.done == Some(Done::InSync),
        "outcome": t.done.map(Done::name),
        "verdict": t.verdict.as_ref().map(ToString::to_string),
        "why": if t.why.is_empty() { None } else { Some(t.why.clone()) },
        "state": status.and_then(|s| s.state.as_ref()).map(ToString::to_string),
        "description": status.and_then(|s| s.description.as_ref()).map(|d| d.raw.clone()),
        "last_update": status.and_then(|s| s.last_update.clone()),
        "mode": t.mode.as_ref().map(ToString::to_string),
        "clone": t.is_clone,
        "entries_behind_primary": p.and_then(|p| p.entries_behind_primary),
        "bytes_per_second": p.and_then(|p| p.bytes_per_second),
        "seconds_until_synced": p.and_then(|p| p.seconds_until_synced),
        "percent": status.and_then(|s| s.description.as_ref()).and_then(|d| d.percent()),
        "target_used": t.usage.map(|u| u.0),
        "source_used": t.usage.map(|u| u.1),
        "waited": t.waited.as_secs_f64(),
    })
}

fn result(tracks: &[Track], start: Instant) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("images".into(), Value::Array(tracks.iter().map(image_json).collect()));
    m.insert("all_in_sync".into(), tracks.iter().all(|t| t.done == Some(Done::InSync)).into());
    m.insert("elapsed".into(), start.elapsed().as_secs_f64().into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(args: Value) -> RbdMirrorWaitModule {
        RbdMirrorWaitModule::from_args(&args).unwrap()
    }

    fn track(spec: &str) -> Track {
        Track::new(spec.parse().unwrap(), Some(MirrorImageMode::Journal), Instant::now())
    }

    /// A journal status caught up at entry `tid`, replaying at `rate`, refreshed at `update`.
    fn caught_up(tid: u64, rate: f64, update: &str) -> MirrorImageStatus {
        let pos = format!(r#"{{\"entry_tid\":{tid},\"object_number\":3,\"tag_tid\":2}}"#);
        let text = format!(
            r#"{{"state":"up+replaying","last_update":"{update}","description":"replaying, {{\"bytes_per_second\":{rate:.1},\"entries_behind_primary\":0,\"non_primary_position\":{pos},\"primary_position\":{pos}}}"}}"#
        );
        MirrorImageStatus::parse(&text).unwrap()
    }

    fn judge(m: &RbdMirrorWaitModule, t: &mut Track, s: &MirrorImageStatus) -> (SyncVerdict, String) {
        let v = sync_verdict(Ok(s), None, t.mode.clone());
        m.judge(t, s, v)
    }

    #[test]
    fn in_sync_needs_a_status_refreshed_during_the_wait() {
        let m = module(json!({"images": ["volumes/vol1"]}));
        let mut t = track("volumes/vol1");
        let old = caught_up(257, 0.0, "2026-11-25 23:12:41");
        let (v, why) = judge(&m, &mut t, &old);
        assert!(matches!(v, SyncVerdict::Waiting { .. }), "{v}");
        assert!(why.contains("next refresh") && why.contains("G11"), "{why}");
        let fresh = caught_up(257, 0.0, "2026-11-25 23:13:11");
        assert_eq!(judge(&m, &mut t, &fresh).0, SyncVerdict::InSync { mode: MirrorImageMode::Journal });
    }

    #[test]
    fn the_rate_of_the_last_period_must_be_0_unless_until_caught_up() {
        // Lab: 35329.6 B/s at the refresh after a write, 0.0 at the next one.
        let idle = module(json!({"images": ["volumes/vol1"]}));
        let mut t = track("volumes/vol1");
        judge(&idle, &mut t, &caught_up(3, 0.0, "23:11:41"));
        let (v, why) = judge(&idle, &mut t, &caught_up(257, 35329.6, "23:12:11"));
        assert!(matches!(v, SyncVerdict::Syncing(_)) && why.contains("settling"), "{v}: {why}");
        assert_eq!(judge(&idle, &mut t, &caught_up(257, 0.0, "23:12:41")).0, SyncVerdict::InSync { mode: MirrorImageMode::Journal });

        let live = module(json!({"images": ["volumes/vol1"], "until": "caught_up"}));
        let mut t = track("volumes/vol1");
        let (v, _) = judge(&live, &mut t, &caught_up(3, 900.0, "23:11:41"));
        assert!(matches!(v, SyncVerdict::Syncing(_)), "not refreshed yet: {v}");
        let (v, why) = judge(&live, &mut t, &caught_up(257, 35329.6, "23:12:11"));
        assert_eq!(v, SyncVerdict::InSync { mode: MirrorImageMode::Journal });
        assert!(why.contains("until: caught_up"), "{why}");
        assert!(RbdMirrorWaitModule::from_args(&json!({"images": "v/i", "until": "forever"})).is_err());
    }

    #[test]
    fn fingerprint_ignores_last_update_but_sees_figures() {
        let mut t = track("volumes/vol1");
        t.status = Some(caught_up(3, 17.5, "a"));
        let a = fingerprint(&t);
        t.status = Some(caught_up(3, 17.5, "b"));
        assert_eq!(a, fingerprint(&t));
        t.status = Some(MirrorImageStatus::parse(include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.vol1.after-demote-early.json")).unwrap());
        assert_ne!(a, fingerprint(&t));
    }

    #[test]
    fn progress_figures_prefer_usage_then_percent_then_entries() {
        let mut t = track("volumes/vol1");
        t.usage = Some((10, 40));
        assert_eq!(progress_of(&t).0, 10);
        t.usage = None;
        t.status = Some(MirrorImageStatus::parse(include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.vol1.after-demote-early.json")).unwrap());
        t.max_entries = 2050;
        t.verdict = Some(SyncVerdict::NotYetCreated);
        let (done, total, _) = progress_of(&t);
        assert_eq!((done, total), (1025, 2050));
        t.done = Some(Done::InSync);
        assert_eq!(progress_of(&t), (1, 1, "in sync".to_string()));
    }

    #[test]
    fn arguments() {
        let m = module(json!({"images": "volumes/vol1", "cluster": "site-b", "source_cluster": "site-a"}));
        assert!(m.compare_usage);
        assert_eq!(m.source.as_ref().unwrap().name, "site-a");
        assert_eq!(m.stall_after, Duration::from_secs(300));
        assert!(RbdMirrorWaitModule::from_args(&json!({"images": []})).is_err());
        assert!(RbdMirrorWaitModule::from_args(&json!({"images": "v/i", "source_conf": "/x"})).is_err());
        assert!(RbdMirrorWaitModule::from_args(&json!({"images": "v/i", "cluster": "b", "source_cluster": "b"})).is_err());
        assert!(RbdMirrorWaitModule::from_args(&json!({"images": "v/i", "timeout": -1})).is_err());
        assert!(!module(json!({"images": "v/i"})).compare_usage);
    }

    #[test]
    fn a_refusal_is_named_before_the_failure() {
        let m = module(json!({"images": "v/i", "refusal": "cutover refused"}));
        let ModuleError::Failed(f) = m.fail(&serde_json::Map::new(), "timeout after 5s".into()) else { panic!("not a failure") };
        assert_eq!(f.msg, "cutover refused: timeout after 5s");
        let plain = module(json!({"images": "v/i"}));
        let ModuleError::Failed(f) = plain.fail(&serde_json::Map::new(), "timeout after 5s".into()) else { panic!("not a failure") };
        assert_eq!(f.msg, "timeout after 5s");
    }
}
