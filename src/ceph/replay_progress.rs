//! The figures rbd-mirror embeds as JSON inside a status `description`
//! (`"replaying, {...}"`): journal positions, or snapshot timestamps.

use serde::Deserialize;

use super::image_info::MirrorImageMode;
use super::parse;

/// Replay figures of one image. Journal mode fills the `entries_*` and
/// `*_position` fields; snapshot mode fills `replay_state` and the timestamps.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReplayProgress {
    /// Replay rate, a rolling average: it lingers above 0 for a while after the
    /// last write was replayed.
    #[serde(deserialize_with = "parse::f64_")]
    pub bytes_per_second: Option<f64>,
    /// rbd-mirror's estimate, only printed while it is behind.
    #[serde(deserialize_with = "parse::u64_")]
    pub seconds_until_synced: Option<u64>,

    /// Journal mode: entries written on the primary and not yet replayed.
    #[serde(deserialize_with = "parse::u64_")]
    pub entries_behind_primary: Option<u64>,
    /// Journal mode: replay rate in entries.
    #[serde(deserialize_with = "parse::f64_")]
    pub entries_per_second: Option<f64>,
    /// Journal mode: newest entry on the primary.
    #[serde(deserialize_with = "parse::opt")]
    pub primary_position: Option<JournalPosition>,
    /// Journal mode: newest entry replayed here.
    #[serde(deserialize_with = "parse::opt")]
    pub non_primary_position: Option<JournalPosition>,

    /// Snapshot mode: `idle` (caught up with the newest mirror snapshot) or `syncing`.
    #[serde(deserialize_with = "parse::string")]
    pub replay_state: Option<String>,
    /// Snapshot mode: Unix time of the newest mirror snapshot on the primary.
    #[serde(deserialize_with = "parse::i64_")]
    pub remote_snapshot_timestamp: Option<i64>,
    /// Snapshot mode: Unix time (primary's clock) of the newest snapshot fully
    /// copied here; absent until the first one completes.
    #[serde(deserialize_with = "parse::i64_")]
    pub local_snapshot_timestamp: Option<i64>,
    /// Snapshot mode: Unix time of the snapshot being copied now.
    #[serde(deserialize_with = "parse::i64_")]
    pub syncing_snapshot_timestamp: Option<i64>,
    /// Snapshot mode: percentage of the snapshot being copied now.
    #[serde(deserialize_with = "parse::u64_")]
    pub syncing_percent: Option<u64>,
    /// Snapshot mode: rolling mean of bytes copied per snapshot.
    #[serde(deserialize_with = "parse::f64_")]
    pub bytes_per_snapshot: Option<f64>,
    /// Snapshot mode: bytes copied for the last snapshot.
    #[serde(deserialize_with = "parse::u64_")]
    pub last_snapshot_bytes: Option<u64>,
    /// Snapshot mode: seconds the last snapshot took.
    #[serde(deserialize_with = "parse::u64_")]
    pub last_snapshot_sync_seconds: Option<u64>,
}

/// A position in an image journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JournalPosition {
    /// Entry id within the tag.
    #[serde(deserialize_with = "parse::u64_")]
    pub entry_tid: Option<u64>,
    /// Journal object holding the entry.
    #[serde(deserialize_with = "parse::u64_")]
    pub object_number: Option<u64>,
    /// Tag (epoch of primary ownership); a promote or demote starts a new one.
    #[serde(deserialize_with = "parse::u64_")]
    pub tag_tid: Option<u64>,
}

impl ReplayProgress {
    /// Parses the JSON part of a description; `None` if it is not a JSON object.
    pub fn from_json(text: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        if !value.is_object() {
            return None;
        }
        Self::deserialize(value).ok()
    }

    /// Which mirroring mode produced these figures, judged by the keys present.
    pub fn mode(&self) -> Option<MirrorImageMode> {
        if self.entries_behind_primary.is_some() || self.primary_position.is_some() || self.non_primary_position.is_some() {
            Some(MirrorImageMode::Journal)
        } else if self.replay_state.is_some() || self.remote_snapshot_timestamp.is_some() || self.local_snapshot_timestamp.is_some() {
            Some(MirrorImageMode::Snapshot)
        } else {
            None
        }
    }

    /// `Some(true)` when both journal positions are known and equal.
    pub fn positions_match(&self) -> Option<bool> {
        match (self.primary_position, self.non_primary_position) {
            (Some(p), Some(n)) => Some(p == n),
            _ => None,
        }
    }

    /// One line for humans, e.g. `1025 entries behind, 141313.6 B/s, ~29 s left`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.entries_behind_primary {
            parts.push(format!("{n} entries behind"));
        }
        if let Some(state) = &self.replay_state {
            parts.push(format!("snapshot replay {state}"));
        }
        if let Some(p) = self.syncing_percent {
            parts.push(format!("{p}% of the current snapshot copied"));
        }
        if let (Some(local), Some(remote)) = (self.local_snapshot_timestamp, self.remote_snapshot_timestamp) {
            if local == remote {
                parts.push("newest snapshot copied".to_string());
            } else {
                parts.push(format!("{}s behind the newest snapshot", remote - local));
            }
        } else if self.remote_snapshot_timestamp.is_some() {
            parts.push("no snapshot copied yet".to_string());
        }
        if let Some(bps) = self.bytes_per_second {
            parts.push(format!("{bps} B/s"));
        }
        if let Some(s) = self.seconds_until_synced {
            parts.push(format!("~{s} s left"));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_figures() {
        let p = ReplayProgress::from_json(
            r#"{"bytes_per_second":141313.6,"entries_behind_primary":1025,"entries_per_second":34.2,"non_primary_position":{"entry_tid":3,"object_number":3,"tag_tid":2},"primary_position":{"entry_tid":1025,"object_number":1,"tag_tid":3},"seconds_until_synced":29}"#,
        )
        .unwrap();
        assert_eq!(p.mode(), Some(MirrorImageMode::Journal));
        assert_eq!(p.entries_behind_primary, Some(1025));
        assert_eq!(p.positions_match(), Some(false));
        assert_eq!(p.summary(), "1025 entries behind, 141313.6 B/s, ~29 s left");
    }

    #[test]
    fn snapshot_figures() {
        let p = ReplayProgress::from_json(
            r#"{"bytes_per_second":0.0,"bytes_per_snapshot":67108864.0,"last_snapshot_bytes":67108864,"last_snapshot_sync_seconds":0,"local_snapshot_timestamp":1795634132,"remote_snapshot_timestamp":1795634132,"replay_state":"idle"}"#,
        )
        .unwrap();
        assert_eq!(p.mode(), Some(MirrorImageMode::Snapshot));
        assert_eq!(p.positions_match(), None);
        assert_eq!(p.last_snapshot_bytes, Some(67_108_864));
        assert_eq!(p.summary(), "snapshot replay idle, newest snapshot copied, 0 B/s");
    }

    #[test]
    fn junk_is_none_and_empty_object_has_no_mode() {
        assert_eq!(ReplayProgress::from_json("{\"bytes_per"), None);
        assert_eq!(ReplayProgress::from_json("[1]"), None);
        let p = ReplayProgress::from_json("{}").unwrap();
        assert_eq!(p.mode(), None);
        assert_eq!(p.summary(), "");
    }
}
