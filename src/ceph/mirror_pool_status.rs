//! `rbd mirror pool status --format json --verbose POOL`: health, daemons, and
//! the status of every mirrored image.
//!
//! An image whose replay failed to bootstrap is dropped from `images`
//! entirely (G2: a clone whose parent is not mirrored), so "not listed" must
//! never be read as "fine".

use indexmap::IndexMap;
use serde::Deserialize;

use super::mirror_image_status::MirrorImageStatus;
use super::parse::{self, ParseError};

/// Mirroring status of one pool.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MirrorPoolStatus {
    /// Health roll-up.
    #[serde(deserialize_with = "parse::opt")]
    pub summary: Option<PoolStatusSummary>,
    /// rbd-mirror daemons serving this pool (on this cluster).
    #[serde(deserialize_with = "parse::list")]
    pub daemons: Vec<MirrorDaemon>,
    /// Per-image status; only with `--verbose`.
    #[serde(deserialize_with = "parse::list")]
    pub images: Vec<MirrorImageStatus>,
}

/// The `summary` object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PoolStatusSummary {
    /// Overall: `OK`, `WARNING`, `ERROR` or `UNKNOWN` (no local daemon, e.g. on an rx-only primary).
    #[serde(deserialize_with = "parse::string")]
    pub health: Option<String>,
    /// Health of the rbd-mirror daemons.
    #[serde(deserialize_with = "parse::string")]
    pub daemon_health: Option<String>,
    /// Health of the images.
    #[serde(deserialize_with = "parse::string")]
    pub image_health: Option<String>,
    /// Image count per phase, e.g. `{"replaying": 1}`; counts that are not
    /// numbers are skipped.
    #[serde(deserialize_with = "states")]
    pub states: IndexMap<String, u64>,
}

/// One rbd-mirror daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MirrorDaemon {
    /// Service id.
    #[serde(deserialize_with = "parse::string")]
    pub service_id: Option<String>,
    /// Instance id.
    #[serde(deserialize_with = "parse::string")]
    pub instance_id: Option<String>,
    /// CephX id without `client.rbd-mirror.`, e.g. `site-b`.
    #[serde(deserialize_with = "parse::string")]
    pub client_id: Option<String>,
    /// Host.
    #[serde(deserialize_with = "parse::string")]
    pub hostname: Option<String>,
    /// E.g. `16.2.15`.
    #[serde(deserialize_with = "parse::string")]
    pub ceph_version: Option<String>,
    /// Whether this daemon leads the pool's replayers.
    #[serde(deserialize_with = "parse::bool_")]
    pub leader: Option<bool>,
    /// `OK`, `WARNING` or `ERROR`.
    #[serde(deserialize_with = "parse::string")]
    pub health: Option<String>,
    /// Why the health is not OK, e.g. `unable to connect to local cluster` (G12).
    #[serde(deserialize_with = "parse::strings")]
    pub callouts: Vec<String>,
}

fn states<'de, D>(d: D) -> Result<IndexMap<String, u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(map) => map.into_iter().filter_map(|(k, v)| parse::value_to_u64(&v).map(|n| (k, n))).collect(),
        _ => IndexMap::new(),
    })
}

impl MirrorPoolStatus {
    /// The command this parses.
    pub const COMMAND: &'static str = "rbd mirror pool status";

    /// Parses the output of `rbd mirror pool status --format json --verbose`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// The status of the image named `name`, if the pool lists it.
    pub fn image(&self, name: &str) -> Option<&MirrorImageStatus> {
        self.images.iter().find(|i| i.name.as_deref() == Some(name))
    }

    /// Whether the overall health is `OK`. Missing health is not OK.
    pub fn is_healthy(&self) -> bool {
        self.summary.as_ref().and_then(|s| s.health.as_deref()) == Some("OK")
    }

    /// Whether some daemon is up and its health is `OK`: the target side needs
    /// one before anything can replicate.
    pub fn has_healthy_daemon(&self) -> bool {
        self.daemons.iter().any(|d| d.health.as_deref() == Some("OK"))
    }

    /// Every daemon callout, for the failure message.
    pub fn callouts(&self) -> Vec<&str> {
        self.daemons.iter().flat_map(|d| d.callouts.iter().map(String::as_str)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::mirror_state::MirrorState;
    use super::*;

    const SAMPLES: &[(&str, &str)] = &[
        fixture!("selftest-rx-only.site-b.mirror-pool-status.volumes.json"),
        fixture!("selftest-rx-tx.site-b.mirror-pool-status.volumes.json"),
        fixture!("site-a.mirror-pool-status.images.verbose.json"),
        fixture!("site-a.mirror-pool-status.volumes.verbose.json"),
        fixture!("site-b.mirror-pool-status.images.verbose.json"),
        fixture!("site-b.mirror-pool-status.scratch.parent-not-mirrored.json"),
        fixture!("site-b.mirror-pool-status.volumes.after-promote.json"),
        fixture!("site-b.mirror-pool-status.volumes.verbose.json"),
    ];

    #[test]
    fn every_sample_parses() {
        for (name, text) in SAMPLES {
            let s = MirrorPoolStatus::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(s.summary.is_some(), "{name}");
            assert_eq!(s.images.len(), 1, "{name}");
        }
    }

    #[test]
    fn target_side_has_a_daemon_and_replaying_images() {
        let s = MirrorPoolStatus::parse(SAMPLES[7].1).unwrap();
        assert!(s.is_healthy());
        assert!(s.has_healthy_daemon());
        assert_eq!(s.daemons[0].leader, Some(true));
        assert_eq!(s.daemons[0].ceph_version.as_deref(), Some("16.2.15"));
        assert_eq!(s.summary.as_ref().unwrap().states.get("replaying"), Some(&1));
        let vol1 = s.image("vol1").unwrap();
        assert_eq!(vol1.state, Some(MirrorState::UP_REPLAYING));
        assert!(vol1.progress().is_some());
        assert!(s.callouts().is_empty());
    }

    #[test]
    fn rx_only_primary_has_no_daemon_and_unknown_health() {
        let s = MirrorPoolStatus::parse(SAMPLES[3].1).unwrap();
        assert!(!s.is_healthy());
        assert!(!s.has_healthy_daemon());
        assert_eq!(s.summary.as_ref().unwrap().health.as_deref(), Some("UNKNOWN"));
        assert!(!s.images[0].has_state());
    }

    #[test]
    fn clone_with_unmirrored_parent_is_silently_missing() {
        // G2: c1 was enabled but its status was removed; only plain-journaled is listed.
        let s = MirrorPoolStatus::parse(SAMPLES[5].1).unwrap();
        assert!(s.image("c1").is_none());
        assert!(s.image("plain-journaled").is_some());
        assert!(s.is_healthy());
    }

    #[test]
    fn odd_documents() {
        let s = MirrorPoolStatus::parse("{}").unwrap();
        assert_eq!(s, MirrorPoolStatus::default());
        assert!(!s.is_healthy());
        let s = MirrorPoolStatus::parse(
            r#"{"summary":{"health":"ERROR","states":{"replaying":"x","error":2}},
                "daemons":[{"health":"ERROR","callouts":["unable to connect to local cluster"]}],
                "images":"none"}"#,
        )
        .unwrap();
        let summary = s.summary.as_ref().unwrap();
        assert_eq!(summary.states.len(), 1);
        assert_eq!(summary.states.get("error"), Some(&2));
        assert_eq!(s.callouts(), ["unable to connect to local cluster"]);
        assert!(!s.has_healthy_daemon());
        assert!(s.images.is_empty());
        assert!(MirrorPoolStatus::parse(r#"{"summary":"#).is_err());
    }
}
