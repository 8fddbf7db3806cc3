//! `rbd du --format json [POOL | POOL/IMAGE]`: provisioned and used bytes per
//! image head and per snapshot.
//!
//! The runbook compares `USED` on both sides to follow the initial copy of a
//! clone, whose bootstrap progress rbd-mirror reports badly. For a parent
//! image the bytes usually sit in the protected snapshot, not in the head
//! (site-a.du.images.json: `base@snap` 48 MiB, `base` 0), so compare the
//! image's total, not its head.

use serde::Deserialize;

use super::parse::{self, ParseError};

/// Disk usage of the images listed by one `rbd du` call.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DiskUsage {
    /// One entry per image head and per snapshot.
    #[serde(deserialize_with = "parse::list")]
    pub images: Vec<DiskUsageEntry>,
    /// Sum of provisioned sizes; rbd omits it when it lists a single entry.
    #[serde(deserialize_with = "parse::u64_")]
    pub total_provisioned_size: Option<u64>,
    /// Sum of used sizes; rbd omits it when it lists a single entry.
    #[serde(deserialize_with = "parse::u64_")]
    pub total_used_size: Option<u64>,
}

/// One row of `rbd du`: an image head (no `snapshot`) or one of its snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DiskUsageEntry {
    /// Image name.
    #[serde(deserialize_with = "parse::string")]
    pub name: Option<String>,
    /// Image id.
    #[serde(deserialize_with = "parse::string")]
    pub id: Option<String>,
    /// Snapshot name; absent for the head.
    #[serde(deserialize_with = "parse::string")]
    pub snapshot: Option<String>,
    /// Snapshot id.
    #[serde(deserialize_with = "parse::u64_")]
    pub snapshot_id: Option<u64>,
    /// Provisioned bytes.
    #[serde(deserialize_with = "parse::u64_")]
    pub provisioned_size: Option<u64>,
    /// Bytes actually allocated (needs fast-diff to be exact).
    #[serde(deserialize_with = "parse::u64_")]
    pub used_size: Option<u64>,
}

/// Used bytes of one image, split between its head and its snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageUsage {
    /// Bytes used by the head (writes since the newest snapshot).
    pub head: u64,
    /// Bytes used by user snapshots.
    pub snapshots: u64,
    /// Bytes used by snapshots rbd-mirror made (`.mirror.*`, `.rbd-mirror.*`).
    pub mirror_snapshots: u64,
    /// Provisioned size of the head.
    pub provisioned: u64,
}

impl ImageUsage {
    /// Everything the image holds.
    pub fn total(&self) -> u64 {
        self.head.saturating_add(self.snapshots).saturating_add(self.mirror_snapshots)
    }
}

impl DiskUsage {
    /// The command this parses.
    pub const COMMAND: &'static str = "rbd du";

    /// Parses the output of `rbd du --format json`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// The head entry of image `name`.
    pub fn head(&self, name: &str) -> Option<&DiskUsageEntry> {
        self.images.iter().find(|e| e.name.as_deref() == Some(name) && e.snapshot.is_none())
    }

    /// Usage of image `name`, or `None` when rbd listed nothing for it.
    pub fn usage_of(&self, name: &str) -> Option<ImageUsage> {
        let mut usage = ImageUsage::default();
        let mut seen = false;
        for entry in self.images.iter().filter(|e| e.name.as_deref() == Some(name)) {
            seen = true;
            let used = entry.used_size.unwrap_or(0);
            match entry.snapshot.as_deref() {
                None => {
                    usage.head = usage.head.saturating_add(used);
                    usage.provisioned = entry.provisioned_size.unwrap_or(0);
                }
                Some(snap) if is_mirror_snapshot(snap) => usage.mirror_snapshots = usage.mirror_snapshots.saturating_add(used),
                Some(_) => usage.snapshots = usage.snapshots.saturating_add(used),
            }
        }
        seen.then_some(usage)
    }

    /// The total used bytes, summed from the rows when rbd left it out.
    pub fn total_used(&self) -> u64 {
        self.total_used_size.unwrap_or_else(|| self.images.iter().fold(0u64, |sum, e| sum.saturating_add(e.used_size.unwrap_or(0))))
    }
}

/// Snapshot-mode mirror snapshots are `.mirror.*`; journal-mode image sync
/// leaves `.rbd-mirror.*` ones (visible in the runbook's `rbd du`).
fn is_mirror_snapshot(snap: &str) -> bool {
    snap.starts_with(".mirror.") || snap.starts_with(".rbd-mirror.")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &[(&str, &str)] = &[fixture!("site-a.du.images.json"), fixture!("site-a.du.volumes-vol1.json"), fixture!("site-b.du.volumes-vol1.json")];

    #[test]
    fn every_sample_parses() {
        for (name, text) in SAMPLES {
            let du = DiskUsage::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!du.images.is_empty(), "{name}");
        }
    }

    #[test]
    fn parent_bytes_live_in_its_snapshot() {
        let du = DiskUsage::parse(SAMPLES[0].1).unwrap();
        let base = du.usage_of("base").unwrap();
        assert_eq!(base.head, 0);
        assert_eq!(base.snapshots, 50_331_648);
        assert_eq!(base.total(), 50_331_648);
        assert_eq!(base.provisioned, 67_108_864);
        assert_eq!(du.head("base").unwrap().id.as_deref(), Some("103aa1cfe03d"));
        assert_eq!(du.total_used(), 50_331_648);
    }

    #[test]
    fn single_image_has_no_totals_but_they_are_summed() {
        let a = DiskUsage::parse(SAMPLES[1].1).unwrap();
        let b = DiskUsage::parse(SAMPLES[2].1).unwrap();
        assert_eq!(a.total_used_size, None);
        assert_eq!(a.total_used(), 67_108_864);
        assert_eq!(a.usage_of("vol1"), b.usage_of("vol1"));
        assert_eq!(a.usage_of("nope"), None);
    }

    #[test]
    fn mirror_snapshots_are_counted_apart() {
        let du = DiskUsage::parse(
            r#"{"images":[
                {"name":"i","snapshot":"snap","used_size":10},
                {"name":"i","snapshot":".rbd-mirror.a.b","used_size":3},
                {"name":"i","snapshot":".mirror.primary.g.u","used_size":4},
                {"name":"i","provisioned_size":100,"used_size":1},
                {"name":"i","snapshot":"x","used_size":"junk"}]}"#,
        )
        .unwrap();
        let u = du.usage_of("i").unwrap();
        assert_eq!((u.head, u.snapshots, u.mirror_snapshots), (1, 10, 7));
        assert_eq!(u.total(), 18);
    }

    #[test]
    fn odd_documents() {
        assert_eq!(DiskUsage::parse("{}").unwrap().total_used(), 0);
        let du = DiskUsage::parse(r#"{"images":[{"name":"i","used_size":18446744073709551615},{"name":"i","snapshot":"s","used_size":5}]}"#).unwrap();
        assert_eq!(du.usage_of("i").unwrap().total(), u64::MAX);
        assert_eq!(du.total_used(), u64::MAX);
        assert!(DiskUsage::parse(r#"{"images":[{"name":"#).is_err());
    }
}
