//! Is the target copy of an image in sync? One decision, taken from the
//! target's `rbd mirror image status` (and, if given, the source's).
//!
//! The state alone never answers it (G11): the figures in the description do.
//! - Journal mode (runbook): `up+replaying`, `entries_behind_primary == 0`
//!   and `bytes_per_second == 0`, plus equal primary and non-primary journal
//!   positions when both are printed. `bytes_per_second` is a rolling average,
//!   so after the last write it stays above 0 for a while: that reads as
//!   "syncing (draining)" until it settles, which is what the runbook asks for.
//! - Snapshot mode: `replay_state` `idle` and `local_snapshot_timestamp ==
//!   remote_snapshot_timestamp` (both are the primary's clock; the local one is
//!   absent until the first snapshot is fully copied).

use std::fmt;

use super::command_error::{CommandError, CommandErrorKind};
use super::image_info::MirrorImageMode;
use super::mirror_image_status::MirrorImageStatus;
use super::mirror_state::{MirrorState, ReplayPhase};
use super::replay_progress::ReplayProgress;
use super::status_description::StatusDescription;

/// The verdict on one image's replication.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncVerdict {
    /// Everything written on the primary has been replayed on the target.
    InSync {
        /// Mode judged (`journal` or `snapshot`).
        mode: MirrorImageMode,
    },
    /// Replication runs but has not caught up; poll again. (Boxed: the
    /// figures make it several times larger than the other variants.)
    Syncing(Box<SyncDetail>),
    /// The target has no such image yet (status rc 2): rbd-mirror has not
    /// created it, or cannot because its parent chain is not mirrored (G2).
    NotYetCreated,
    /// Nothing usable reported yet: `down+unknown` "status not found" in the
    /// first seconds (G11), or no rbd-mirror daemon reporting at all. Poll;
    /// if it lasts, check the daemon.
    Waiting {
        /// State and description as reported, for the timeout message.
        reason: String,
    },
    /// The source was demoted and the target has seen it: `up+stopped`, or
    /// `up+unknown` "remote image is not primary" / "remote image demoted" (G7).
    /// A force-promoted target also shows `up+stopped`: check `rbd info`'s
    /// `mirroring.primary` before acting on this.
    Demoted {
        /// The state seen.
        state: String,
        /// The description seen.
        description: String,
    },
    /// The target reports itself primary ("local image is primary"):
    /// already promoted, nothing replays into it.
    LocalPrimary,
    /// Replication is broken, or the status cannot be read.
    Error {
        /// What rbd said, with the classified explanation when there is one.
        description: String,
    },
}

/// How far along a syncing image is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncDetail {
    /// The state seen, e.g. `up+replaying`.
    pub state: String,
    /// The description's text part, e.g. `replaying`.
    pub description: String,
    /// The figures, when the description carried them.
    pub progress: Option<ReplayProgress>,
    /// Bootstrap percentage (`... COPY_IMAGE 45%`), when printed.
    pub percent: Option<u8>,
    /// Why this is not yet in sync, in words.
    pub why: String,
}

/// Decides whether the target copy is in sync.
///
/// - `target`: the target's `rbd mirror image status`, or its classified failure.
/// - `source`: the source's status; with rx-tx its `peer_sites` hold the
///   target's view and stand in when the target's own status has no state.
/// - `mode`: the image's mirror mode from `rbd info`; inferred from the
///   figures when `None`.
pub fn sync_verdict(target: Result<&MirrorImageStatus, &CommandError>, source: Option<&MirrorImageStatus>, mode: Option<MirrorImageMode>) -> SyncVerdict {
    let status = match target {
        Ok(status) => status,
        Err(error) => return verdict_for_error(error, source),
    };
    let Some((state, description)) = effective_state(status, source) else {
        return SyncVerdict::Waiting {
            reason: "no mirroring state reported for the image (rx-only primary? read the \
                     status on the target)"
                .to_string(),
        };
    };
    let text = description.map_or("", |d| d.text.as_str());
    let seen = || format!("{state} \"{text}\"");

    if state.up != Some(true) {
        return SyncVerdict::Waiting { reason: format!("{}: no running rbd-mirror daemon reports this image", seen()) };
    }
    match &state.phase {
        ReplayPhase::Error => SyncVerdict::Error { description: seen() },
        ReplayPhase::Stopped if text.contains("local image is primary") => SyncVerdict::LocalPrimary,
        ReplayPhase::Stopped => SyncVerdict::Demoted { state: state.to_string(), description: text.to_string() },
        ReplayPhase::Unknown if text.contains("remote image is not primary") || text.contains("remote image demoted") => {
            SyncVerdict::Demoted { state: state.to_string(), description: text.to_string() }
        }
        ReplayPhase::Replaying => replaying_verdict(state, description, mode),
        ReplayPhase::Syncing | ReplayPhase::StartingReplay | ReplayPhase::StoppingReplay => syncing(state, description, state.phase.to_string()),
        ReplayPhase::Unknown | ReplayPhase::Other(_) => SyncVerdict::Waiting { reason: seen() },
    }
}

fn verdict_for_error(error: &CommandError, source: Option<&MirrorImageStatus>) -> SyncVerdict {
    match error.kind {
        CommandErrorKind::ImageNotFound => SyncVerdict::NotYetCreated,
        CommandErrorKind::ImageMirroringNotEnabled if source.is_some_and(MirrorImageStatus::newest_snapshot_lacks_peer) => {
            SyncVerdict::Error { description: format!("{error} (confirmed: the source's newest mirror snapshot names no peer)") }
        }
        _ => SyncVerdict::Error { description: error.to_string() },
    }
}

/// The target's own state, else (rx-tx) the source's view of its peer.
fn effective_state<'a>(target: &'a MirrorImageStatus, source: Option<&'a MirrorImageStatus>) -> Option<(&'a MirrorState, Option<&'a StatusDescription>)> {
    if let Some(state) = &target.state {
        // An rx-tx target with no local report yet may still be described by the source.
        let unreported = state.up != Some(true) && state.phase == ReplayPhase::Unknown;
        if !unreported {
            return Some((state, target.description.as_ref()));
        }
    }
    let peer = source.into_iter().flat_map(|s| s.peer_sites.iter()).find(|p| p.state.as_ref().is_some_and(MirrorState::is_up));
    match (peer, &target.state) {
        (Some(p), _) => p.state.as_ref().map(|s| (s, p.description.as_ref())),
        (None, Some(state)) => Some((state, target.description.as_ref())),
        (None, None) => None,
    }
}

fn replaying_verdict(state: &MirrorState, description: Option<&StatusDescription>, mode: Option<MirrorImageMode>) -> SyncVerdict {
    let Some(progress) = description.and_then(|d| d.progress.as_ref()) else {
        return syncing(state, description, "replaying, but no figures reported yet".to_string());
    };
    let mode = mode.or_else(|| progress.mode());
    let why = match &mode {
        Some(MirrorImageMode::Journal) => journal_lag(progress),
        Some(MirrorImageMode::Snapshot) => snapshot_lag(progress),
        _ => Some("cannot tell the mirror mode from the figures".to_string()),
    };
    match (why, mode) {
        (None, Some(mode)) => SyncVerdict::InSync { mode },
        (Some(why), _) => syncing(state, description, why),
        (None, None) => syncing(state, description, String::new()),
    }
}

/// Why a journal-mode replica is behind, or `None` when it is not.
fn journal_lag(p: &ReplayProgress) -> Option<String> {
    match p.entries_behind_primary {
        None => return Some("entries_behind_primary not reported".to_string()),
        Some(n) if n > 0 => return Some(format!("{n} journal entries behind")),
        Some(_) => {}
    }
    if p.positions_match() == Some(false) {
        return Some("journal positions differ (status not refreshed yet)".to_string());
    }
    match p.bytes_per_second {
        None => Some("bytes_per_second not reported".to_string()),
        Some(bps) if bps > 0.0 => Some(format!("0 entries behind, replay rate still {bps} B/s (settling)")),
        Some(_) => None,
    }
}

/// Why a snapshot-mode replica is behind, or `None` when it is not.
fn snapshot_lag(p: &ReplayProgress) -> Option<String> {
    if let Some(state) = p.replay_state.as_deref() {
        if state != "idle" {
            return Some(match p.syncing_percent {
                Some(pct) => format!("copying a snapshot ({pct}%)"),
                None => format!("snapshot replay {state}"),
            });
        }
    }
    match (p.local_snapshot_timestamp, p.remote_snapshot_timestamp) {
        (Some(local), Some(remote)) if local == remote => None,
        (Some(local), Some(remote)) => Some(format!("newest copied snapshot is {}s older than the primary's", remote.saturating_sub(local))),
        (None, _) => Some("no mirror snapshot fully copied yet".to_string()),
        (_, None) => Some("remote_snapshot_timestamp not reported".to_string()),
    }
}

fn syncing(state: &MirrorState, description: Option<&StatusDescription>, why: String) -> SyncVerdict {
    SyncVerdict::Syncing(Box::new(SyncDetail {
        state: state.to_string(),
        description: description.map(|d| d.text.clone()).unwrap_or_default(),
        progress: description.and_then(|d| d.progress.clone()),
        percent: description.and_then(StatusDescription::percent),
        why,
    }))
}

impl SyncVerdict {
    /// Whether polling should continue (the state can still move to in-sync by itself).
    pub fn should_keep_polling(&self) -> bool {
        matches!(self, Self::Syncing(_) | Self::NotYetCreated | Self::Waiting { .. })
    }
}

impl fmt::Display for SyncVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InSync { mode } => write!(f, "in sync ({mode} mode)"),
            Self::Syncing(d) => write!(f, "syncing: {d}"),
            Self::NotYetCreated => write!(f, "not yet created on the target"),
            Self::Waiting { reason } => write!(f, "waiting: {reason}"),
            Self::Demoted { state, description } => {
                write!(f, "demotion seen on the target ({state} \"{description}\")")
            }
            Self::LocalPrimary => write!(f, "the target copy is primary (already promoted)"),
            Self::Error { description } => write!(f, "error: {description}"),
        }
    }
}

impl fmt::Display for SyncDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.state)?;
        if !self.why.is_empty() {
            write!(f, ", {}", self.why)?;
        }
        if let Some(p) = self.percent {
            write!(f, ", {p}%")?;
        }
        if let Some(figures) = self.progress.as_ref().map(ReplayProgress::summary) {
            if !figures.is_empty() {
                write!(f, " [{figures}]")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &str) -> MirrorImageStatus {
        let text = match name {
            "b.vol1.replaying" => include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.vol1.replaying.json"),
            "b.base.replaying" => include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.base.replaying.json"),
            "b.vol1.demote-early" => include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.vol1.after-demote-early.json"),
            "b.vol1.after-demote" => include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.vol1.after-demote.json"),
            "b.img2.force-promote" => include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.img2.after-force-promote.json"),
            "b.snapimg.replaying" => include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.snapimg.replaying.json"),
            "b.snapimg.after-demote" => include_str!("../../tests/fixtures/ceph/site-b.mirror-image-status.snapimg.after-demote.json"),
            "a.vol1.rx-only" => include_str!("../../tests/fixtures/ceph/site-a.mirror-image-status.vol1.replaying.json"),
            "rxtx.a.snap1" => include_str!("../../tests/fixtures/ceph/selftest-rx-tx.site-a.mirror-image-status.snap1.json"),
            "rxtx.a.vol1" => include_str!("../../tests/fixtures/ceph/selftest-rx-tx.site-a.mirror-image-status.vol1.json"),
            "rxonly.b.snap1" => include_str!("../../tests/fixtures/ceph/selftest-rx-only.site-b.mirror-image-status.snap1.json"),
            "rxonly.b.vol1" => include_str!("../../tests/fixtures/ceph/selftest-rx-only.site-b.mirror-image-status.vol1.json"),
            other => panic!("no sample {other}"),
        };
        MirrorImageStatus::parse(text).unwrap()
    }

    fn verdict(name: &str) -> SyncVerdict {
        sync_verdict(Ok(&status(name)), None, None)
    }

    #[test]
    fn settled_journal_replica_is_in_sync() {
        assert_eq!(verdict("b.base.replaying"), SyncVerdict::InSync { mode: MirrorImageMode::Journal });
    }

    #[test]
    fn journal_replica_with_a_lingering_rate_is_still_settling() {
        // 0 entries behind, equal positions, but 17.5 B/s: the runbook wants 0.
        let SyncVerdict::Syncing(d) = verdict("b.vol1.replaying") else {
            panic!("expected syncing");
        };
        assert!(d.why.contains("settling"), "{d}");
        assert_eq!(d.progress.unwrap().entries_behind_primary, Some(0));
    }

    #[test]
    fn backlog_is_syncing_with_figures() {
        let v = verdict("b.vol1.demote-early");
        let SyncVerdict::Syncing(d) = &v else {
            panic!("expected syncing, got {v}");
        };
        assert_eq!(d.why, "1025 journal entries behind");
        assert_eq!(
            v.to_string(),
            "syncing: up+replaying, 1025 journal entries behind \
             [1025 entries behind, 141313.6 B/s, ~29 s left]"
        );
        assert!(v.should_keep_polling());
    }

    #[test]
    fn snapshot_replica_idle_with_equal_timestamps_is_in_sync() {
        let in_sync = SyncVerdict::InSync { mode: MirrorImageMode::Snapshot };
        assert_eq!(verdict("b.snapimg.replaying"), in_sync);
        // rx-tx: the primary's peer_sites entry stands in for the target's view.
        let a = status("rxtx.a.snap1");
        assert_eq!(sync_verdict(Ok(&a), Some(&a), None), in_sync);
    }

    #[test]
    fn snapshot_replica_behind_or_copying() {
        let s = MirrorImageStatus::parse(
            r#"{"state":"up+replaying","description":"replaying, {\"bytes_per_second\":1048576.0,\"remote_snapshot_timestamp\":1795634200,\"local_snapshot_timestamp\":1795634132,\"replay_state\":\"syncing\",\"syncing_percent\":42,\"syncing_snapshot_timestamp\":1795634200}"}"#,
        )
        .unwrap();
        let SyncVerdict::Syncing(d) = sync_verdict(Ok(&s), None, None) else { panic!() };
        assert_eq!(d.why, "copying a snapshot (42%)");
        let s =
            MirrorImageStatus::parse(r#"{"state":"up+replaying","description":"replaying, {\"remote_snapshot_timestamp\":100,\"replay_state\":\"idle\"}"}"#)
                .unwrap();
        let SyncVerdict::Syncing(d) = sync_verdict(Ok(&s), None, None) else { panic!() };
        assert_eq!(d.why, "no mirror snapshot fully copied yet");
    }

    #[test]
    fn declared_mode_wins_over_the_figures() {
        // Told "journal" while the figures are snapshot ones: the journal keys are missing.
        let v = sync_verdict(Ok(&status("b.snapimg.replaying")), None, Some(MirrorImageMode::Journal));
        assert!(matches!(v, SyncVerdict::Syncing(ref d) if d.why.contains("not reported")), "{v}");
    }

    #[test]
    fn demotion_in_both_shapes() {
        assert!(matches!(verdict("b.vol1.after-demote"), SyncVerdict::Demoted { .. }));
        let v = verdict("b.snapimg.after-demote");
        assert_eq!(v, SyncVerdict::Demoted { state: "up+unknown".into(), description: "remote image demoted".into() });
        let s = MirrorImageStatus::parse(r#"{"state":"up+unknown","description":"remote image is not primary"}"#).unwrap();
        assert!(matches!(sync_verdict(Ok(&s), None, None), SyncVerdict::Demoted { .. }));
        // Indistinguishable by status: a force-promoted target also says up+stopped.
        assert!(matches!(verdict("b.img2.force-promote"), SyncVerdict::Demoted { .. }));
    }

    #[test]
    fn promoted_target_is_local_primary() {
        let s = MirrorImageStatus::parse(r#"{"state":"up+stopped","description":"local image is primary"}"#).unwrap();
        assert_eq!(sync_verdict(Ok(&s), None, None), SyncVerdict::LocalPrimary);
    }

    #[test]
    fn missing_image_on_the_target() {
        let text = include_str!("../../tests/fixtures/ceph/site-b.err.mirror-image-status.before-image-created.txt");
        let e = CommandError::classify(2, text);
        assert_eq!(sync_verdict(Err(&e), None, None), SyncVerdict::NotYetCreated);
    }

    #[test]
    fn snapshot_race_is_an_error_with_the_source_confirming_it() {
        let e = CommandError::classify(22, "rbd: mirroring not enabled on the image");
        let source = MirrorImageStatus::parse(r#"{"name":"snapimg","snapshots":[{"id":9,"name":".mirror.primary.g.u","mirror_peer_uuids":[]}]}"#).unwrap();
        let SyncVerdict::Error { description } = sync_verdict(Err(&e), Some(&source), None) else { panic!() };
        assert!(description.contains("G5") && description.contains("confirmed"), "{description}");
        let SyncVerdict::Error { description } = sync_verdict(Err(&e), None, None) else { panic!() };
        assert!(!description.contains("confirmed"));
    }

    #[test]
    fn unreported_states_wait() {
        for name in ["rxonly.b.snap1", "a.vol1.rx-only"] {
            let v = verdict(name);
            assert!(matches!(v, SyncVerdict::Waiting { .. }), "{name}: {v}");
            assert!(v.should_keep_polling());
        }
        let v = sync_verdict(Ok(&MirrorImageStatus::default()), None, None);
        assert!(matches!(v, SyncVerdict::Waiting { .. }));
        let s = MirrorImageStatus::parse(r#"{"state":"down+replaying","description":"replaying, {}"}"#).unwrap();
        let SyncVerdict::Waiting { reason } = sync_verdict(Ok(&s), None, None) else { panic!() };
        assert!(reason.contains("no running rbd-mirror"), "{reason}");
    }

    #[test]
    fn rx_tx_source_view_replaces_an_unreported_target() {
        let a = status("rxtx.a.vol1");
        // The source's own state is down+unknown; its peer site (the target) replays.
        let v = sync_verdict(Ok(&a), Some(&a), None);
        assert!(matches!(v, SyncVerdict::Syncing(ref d) if d.why.contains("settling")), "{v}");
    }

    #[test]
    fn journal_in_sync_on_the_rx_only_selftest_needs_the_rate_to_settle() {
        let v = verdict("rxonly.b.vol1");
        assert!(matches!(v, SyncVerdict::Syncing(_)), "{v}");
        let s = MirrorImageStatus::parse(
            r#"{"state":"up+replaying","description":"replaying, {\"bytes_per_second\":0.0,\"entries_behind_primary\":0,\"non_primary_position\":{\"entry_tid\":3,\"object_number\":3,\"tag_tid\":2},\"primary_position\":{\"entry_tid\":4,\"object_number\":3,\"tag_tid\":2}}"}"#,
        )
        .unwrap();
        let SyncVerdict::Syncing(d) = sync_verdict(Ok(&s), None, None) else { panic!() };
        assert!(d.why.contains("positions differ"));
    }

    #[test]
    fn error_and_transitional_states() {
        let s = MirrorImageStatus::parse(r#"{"state":"up+error","description":"error bootstrapping replay"}"#).unwrap();
        assert_eq!(sync_verdict(Ok(&s), None, None), SyncVerdict::Error { description: "up+error \"error bootstrapping replay\"".into() });
        for (state, desc) in [("up+starting_replay", "starting replay"), ("up+syncing", "bootstrapping, IMAGE_SYNC/COPY_IMAGE 45%")] {
            let s = MirrorImageStatus::parse(&format!(r#"{{"state":"{state}","description":"{desc}"}}"#)).unwrap();
            let v = sync_verdict(Ok(&s), None, None);
            assert!(matches!(v, SyncVerdict::Syncing(_)), "{state}: {v}");
        }
        let s = MirrorImageStatus::parse(r#"{"state":"up+syncing","description":"bootstrapping, IMAGE_SYNC/COPY_IMAGE 45%"}"#).unwrap();
        let SyncVerdict::Syncing(d) = sync_verdict(Ok(&s), None, None) else { panic!() };
        assert_eq!(d.percent, Some(45));
        let s = MirrorImageStatus::parse(r#"{"state":"up+replaying"}"#).unwrap();
        assert!(matches!(sync_verdict(Ok(&s), None, None), SyncVerdict::Syncing(_)));
    }
}
