//! `rbd mirror image status --format json POOL/IMAGE`.
//!
//! Where to read it depends on the peer direction (G6): with rx-only only the
//! target (where rbd-mirror runs) has `state` and `description`; the primary
//! prints just `name` and `global_id`. With rx-tx the primary adds
//! `peer_sites`, holding the target's view.

use serde::Deserialize;

use super::mirror_state::MirrorState;
use super::parse::{self, ParseError};
use super::replay_progress::ReplayProgress;
use super::status_description::StatusDescription;

/// Mirroring status of one image, as seen from the cluster the command ran on.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MirrorImageStatus {
    /// Image name.
    #[serde(deserialize_with = "parse::string")]
    pub name: Option<String>,
    /// The id shared by both copies.
    #[serde(deserialize_with = "parse::string")]
    pub global_id: Option<String>,
    /// E.g. `up+replaying`; absent on an rx-only primary (G6).
    #[serde(deserialize_with = "parse::opt")]
    pub state: Option<MirrorState>,
    /// Human text plus, while replaying, the embedded figures.
    #[serde(deserialize_with = "parse::opt")]
    pub description: Option<StatusDescription>,
    /// The rbd-mirror daemon reporting this status.
    #[serde(deserialize_with = "parse::opt")]
    pub daemon_service: Option<DaemonService>,
    /// `YYYY-MM-DD HH:MM:SS` (local time of the cluster), or `""` when never reported.
    #[serde(deserialize_with = "parse::string")]
    pub last_update: Option<String>,
    /// The other site's view of this image (rx-tx, or failback setups).
    #[serde(deserialize_with = "parse::list")]
    pub peer_sites: Vec<PeerSiteStatus>,
    /// Mirror snapshots (snapshot mode only).
    #[serde(deserialize_with = "parse::list")]
    pub snapshots: Vec<MirrorSnapshot>,
}

/// The rbd-mirror daemon that reported a status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DaemonService {
    /// Service id (a number, printed as a string in Pacific).
    #[serde(deserialize_with = "parse::string")]
    pub service_id: Option<String>,
    /// Instance id of the daemon's connection.
    #[serde(deserialize_with = "parse::string")]
    pub instance_id: Option<String>,
    /// The daemon's name, e.g. `site-b` for `client.rbd-mirror.site-b`.
    #[serde(deserialize_with = "parse::string")]
    pub daemon_id: Option<String>,
    /// Host it runs on.
    #[serde(deserialize_with = "parse::string")]
    pub hostname: Option<String>,
}

/// One peer site's view of the image.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PeerSiteStatus {
    /// The peer's site name, e.g. `site-b`.
    #[serde(deserialize_with = "parse::string")]
    pub site_name: Option<String>,
    /// Mirror uuid(s) of the peer; Pacific prints one string despite the plural.
    #[serde(deserialize_with = "parse::strings")]
    pub mirror_uuids: Vec<String>,
    /// The peer's state, e.g. `up+replaying`.
    #[serde(deserialize_with = "parse::opt")]
    pub state: Option<MirrorState>,
    /// The peer's description, figures included.
    #[serde(deserialize_with = "parse::opt")]
    pub description: Option<StatusDescription>,
    /// When the peer last reported.
    #[serde(deserialize_with = "parse::string")]
    pub last_update: Option<String>,
}

/// A mirror snapshot listed by a snapshot-mode status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MirrorSnapshot {
    /// Snapshot id; newer snapshots have larger ids.
    #[serde(deserialize_with = "parse::u64_")]
    pub id: Option<u64>,
    /// `.mirror.primary.<global id>.<uuid>` or `.mirror.non_primary...`.
    #[serde(deserialize_with = "parse::string")]
    pub name: Option<String>,
    /// Set on the snapshot a demote creates.
    #[serde(deserialize_with = "parse::bool_")]
    pub demoted: Option<bool>,
    /// Peers that still have to copy this snapshot. Empty on the newest primary
    /// snapshot means no peer was known when it was taken (G5).
    #[serde(deserialize_with = "parse::strings")]
    pub mirror_peer_uuids: Vec<String>,
}

impl MirrorImageStatus {
    /// The command this parses.
    pub const COMMAND: &'static str = "rbd mirror image status";

    /// Parses the output of `rbd mirror image status --format json`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// The embedded replay figures, if the description has them.
    pub fn progress(&self) -> Option<&ReplayProgress> {
        self.description.as_ref()?.progress.as_ref()
    }

    /// The description's text part (`""` when absent).
    pub fn description_text(&self) -> &str {
        self.description.as_ref().map_or("", |d| d.text.as_str())
    }

    /// Whether this status carries a state at all; false on an rx-only primary.
    pub fn has_state(&self) -> bool {
        self.state.is_some()
    }

    /// The peer site named `site_name`.
    pub fn peer_site(&self, site_name: &str) -> Option<&PeerSiteStatus> {
        self.peer_sites.iter().find(|p| p.site_name.as_deref() == Some(site_name))
    }

    /// The newest primary mirror snapshot, by id.
    pub fn newest_primary_snapshot(&self) -> Option<&MirrorSnapshot> {
        self.snapshots.iter().filter(|s| s.is_primary()).max_by_key(|s| s.id.unwrap_or(0))
    }

    /// G5: the newest primary mirror snapshot names no peer, so the target
    /// idles forever ("skipping remote snapshot due to missing mirror peer").
    /// Only meaningful on the primary (source) side.
    pub fn newest_snapshot_lacks_peer(&self) -> bool {
        self.newest_primary_snapshot().is_some_and(|s| s.mirror_peer_uuids.is_empty())
    }
}

impl PeerSiteStatus {
    /// The embedded replay figures, if the description has them.
    pub fn progress(&self) -> Option<&ReplayProgress> {
        self.description.as_ref()?.progress.as_ref()
    }
}

impl MirrorSnapshot {
    /// Whether this is a snapshot taken on the primary.
    pub fn is_primary(&self) -> bool {
        self.name.as_deref().is_some_and(|n| n.starts_with(".mirror.primary."))
    }
}

#[cfg(test)]
mod tests {
    use super::super::mirror_state::ReplayPhase;
    use super::*;

    /// Every `*.mirror-image-status.*.json` sample.
    pub(crate) const SAMPLES: &[(&str, &str)] = &[
        fixture!("selftest-rx-only.site-a.mirror-image-status.snap1.json"),
        fixture!("selftest-rx-only.site-a.mirror-image-status.vol1.json"),
        fixture!("selftest-rx-only.site-b.mirror-image-status.snap1.json"),
        fixture!("selftest-rx-only.site-b.mirror-image-status.vol1.json"),
        fixture!("selftest-rx-tx.site-a.mirror-image-status.snap1.json"),
        fixture!("selftest-rx-tx.site-a.mirror-image-status.vol1.json"),
        fixture!("selftest-rx-tx.site-b.mirror-image-status.snap1.json"),
        fixture!("selftest-rx-tx.site-b.mirror-image-status.vol1.json"),
        fixture!("site-a.mirror-image-status.base.replaying.json"),
        fixture!("site-a.mirror-image-status.clone-parent-not-mirrored.json"),
        fixture!("site-a.mirror-image-status.vol1.after-demote.json"),
        fixture!("site-a.mirror-image-status.vol1.after-promote.json"),
        fixture!("site-a.mirror-image-status.vol1.replaying.json"),
        fixture!("site-b.mirror-image-status.base.replaying.json"),
        fixture!("site-b.mirror-image-status.img2.after-force-promote.json"),
        fixture!("site-b.mirror-image-status.snapimg.after-demote.json"),
        fixture!("site-b.mirror-image-status.snapimg.after-promote.json"),
        fixture!("site-b.mirror-image-status.snapimg.replaying.json"),
        fixture!("site-b.mirror-image-status.vol1.after-demote-early.json"),
        fixture!("site-b.mirror-image-status.vol1.after-demote.json"),
        fixture!("site-b.mirror-image-status.vol1.after-promote.json"),
        fixture!("site-b.mirror-image-status.vol1.replaying.json"),
    ];

    fn sample(name: &str) -> MirrorImageStatus {
        let (_, text) = SAMPLES.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no sample {name}"));
        MirrorImageStatus::parse(text).unwrap()
    }

    #[test]
    fn every_sample_parses() {
        for (name, text) in SAMPLES {
            let s = MirrorImageStatus::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(s.name.is_some() && s.global_id.is_some(), "{name}");
            // Every replaying sample carries figures that parsed.
            if s.description_text() == "replaying" {
                assert!(s.progress().is_some(), "{name}");
            }
        }
    }

    #[test]
    fn rx_only_primary_has_only_name_and_global_id() {
        let s = sample("site-a.mirror-image-status.vol1.replaying.json");
        assert!(!s.has_state());
        assert_eq!(s.description, None);
        assert!(s.peer_sites.is_empty());
    }

    #[test]
    fn journal_replaying_on_the_target() {
        let s = sample("site-b.mirror-image-status.vol1.replaying.json");
        assert_eq!(s.state, Some(MirrorState::UP_REPLAYING));
        let p = s.progress().unwrap();
        assert_eq!(p.entries_behind_primary, Some(0));
        assert_eq!(p.bytes_per_second, Some(17.5));
        assert_eq!(p.positions_match(), Some(true));
        assert_eq!(s.daemon_service.as_ref().unwrap().daemon_id.as_deref(), Some("site-b"));
        assert_eq!(s.last_update.as_deref(), Some("2026-11-25 19:10:11"));
    }

    #[test]
    fn rx_tx_primary_carries_the_target_view_in_peer_sites() {
        let s = sample("selftest-rx-tx.site-a.mirror-image-status.snap1.json");
        assert_eq!(s.state, Some(MirrorState::DOWN_UNKNOWN));
        assert_eq!(s.description_text(), "status not found");
        let peer = s.peer_site("site-b").unwrap();
        assert_eq!(peer.mirror_uuids, ["42c15716-c884-462a-9acf-1010245a5961"]);
        assert_eq!(peer.state, Some(MirrorState::UP_REPLAYING));
        let p = peer.progress().unwrap();
        assert_eq!(p.replay_state.as_deref(), Some("idle"));
        assert_eq!(p.local_snapshot_timestamp, p.remote_snapshot_timestamp);
        assert_eq!(s.snapshots.len(), 2);
        assert_eq!(s.newest_primary_snapshot().unwrap().id, Some(10));
        assert!(!s.newest_snapshot_lacks_peer());
    }

    #[test]
    fn demote_shows_as_stopped_then_unknown() {
        let s = sample("site-b.mirror-image-status.vol1.after-demote.json");
        assert_eq!(s.state, Some(MirrorState::UP_STOPPED));
        assert_eq!(s.description_text(), "stopped");
        let s = sample("site-b.mirror-image-status.snapimg.after-demote.json");
        assert_eq!(s.state.as_ref().unwrap().phase, ReplayPhase::Unknown);
        assert_eq!(s.description_text(), "remote image demoted");
    }

    #[test]
    fn demote_early_still_replays_with_a_backlog() {
        let s = sample("site-b.mirror-image-status.vol1.after-demote-early.json");
        let p = s.progress().unwrap();
        assert_eq!(p.entries_behind_primary, Some(1025));
        assert_eq!(p.seconds_until_synced, Some(29));
        assert_eq!(p.positions_match(), Some(false));
    }

    #[test]
    fn promoted_snapshot_image_has_a_peerless_primary_snapshot() {
        let s = sample("site-b.mirror-image-status.snapimg.after-promote.json");
        assert!(s.newest_snapshot_lacks_peer());
        assert_eq!(s.snapshots[0].demoted, Some(false));
    }

    #[test]
    fn empty_and_odd_documents() {
        let s = MirrorImageStatus::parse("{}").unwrap();
        assert_eq!(s, MirrorImageStatus::default());
        assert_eq!(s.description_text(), "");
        let s = MirrorImageStatus::parse(r#"{"state":42,"description":null,"peer_sites":[7,{"state":"up+error"}],"snapshots":{}}"#).unwrap();
        assert_eq!(s.state, None);
        assert_eq!(s.peer_sites.len(), 1);
        assert_eq!(s.peer_sites[0].state, Some(MirrorState::UP_ERROR));
        assert!(s.snapshots.is_empty());
    }

    #[test]
    fn truncated_is_an_error_naming_the_command() {
        let e = MirrorImageStatus::parse(r#"{"name":"vol1","state":"up+rep"#).unwrap_err();
        assert_eq!(e.command, "rbd mirror image status");
    }
}
