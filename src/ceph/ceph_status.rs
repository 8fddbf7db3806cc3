//! `ceph status --format json`: health, OSDs and PGs of one cluster, checked
//! before and after a migration step.

use indexmap::IndexMap;
use serde::Deserialize;

use super::parse::{self, ParseError};

/// Cluster status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CephStatus {
    /// Cluster fsid.
    #[serde(deserialize_with = "parse::string")]
    pub fsid: Option<String>,
    /// Health and its checks.
    #[serde(deserialize_with = "parse::opt")]
    pub health: Option<Health>,
    /// Ranks in quorum.
    #[serde(deserialize_with = "parse::list")]
    pub quorum: Vec<u64>,
    /// Names in quorum.
    #[serde(deserialize_with = "parse::strings")]
    pub quorum_names: Vec<String>,
    /// Monmap summary (no addresses in Pacific).
    #[serde(deserialize_with = "parse::opt")]
    pub monmap: Option<MonmapSummary>,
    /// OSD counts.
    #[serde(deserialize_with = "osdmap")]
    pub osdmap: Option<OsdmapSummary>,
    /// PG states and capacity.
    #[serde(deserialize_with = "parse::opt")]
    pub pgmap: Option<PgmapSummary>,
    /// Manager availability.
    #[serde(deserialize_with = "parse::opt")]
    pub mgrmap: Option<MgrmapSummary>,
}

/// `health`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Health {
    /// `HEALTH_OK`, `HEALTH_WARN` or `HEALTH_ERR`.
    #[serde(deserialize_with = "parse::string")]
    pub status: Option<String>,
    /// Active checks by code, e.g. `POOL_NO_REDUNDANCY`.
    #[serde(deserialize_with = "checks")]
    pub checks: IndexMap<String, HealthCheck>,
}

/// One health check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HealthCheck {
    /// `HEALTH_WARN` or `HEALTH_ERR`.
    #[serde(deserialize_with = "parse::string")]
    pub severity: Option<String>,
    /// One-line summary.
    #[serde(deserialize_with = "parse::opt")]
    pub summary: Option<HealthSummary>,
}

/// `summary` of a health check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HealthSummary {
    /// E.g. `1 pool(s) have no replicas configured`.
    #[serde(deserialize_with = "parse::string")]
    pub message: Option<String>,
    /// How many items are affected.
    #[serde(deserialize_with = "parse::u64_")]
    pub count: Option<u64>,
}

/// `monmap` as `ceph status` summarises it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MonmapSummary {
    /// Epoch.
    #[serde(deserialize_with = "parse::u64_")]
    pub epoch: Option<u64>,
    /// Monitors in the map.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_mons: Option<u64>,
}

/// `osdmap`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OsdmapSummary {
    /// Epoch.
    #[serde(deserialize_with = "parse::u64_")]
    pub epoch: Option<u64>,
    /// OSDs in the map.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_osds: Option<u64>,
    /// OSDs up.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_up_osds: Option<u64>,
    /// OSDs in.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_in_osds: Option<u64>,
    /// PGs remapped.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_remapped_pgs: Option<u64>,
}

/// `pgmap`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PgmapSummary {
    /// PG count per state string.
    #[serde(deserialize_with = "parse::list")]
    pub pgs_by_state: Vec<PgStateCount>,
    /// PGs.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_pgs: Option<u64>,
    /// Pools.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_pools: Option<u64>,
    /// Objects.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_objects: Option<u64>,
    /// Bytes stored.
    #[serde(deserialize_with = "parse::u64_")]
    pub data_bytes: Option<u64>,
    /// Raw bytes used.
    #[serde(deserialize_with = "parse::u64_")]
    pub bytes_used: Option<u64>,
    /// Raw bytes available.
    #[serde(deserialize_with = "parse::u64_")]
    pub bytes_avail: Option<u64>,
    /// Raw capacity.
    #[serde(deserialize_with = "parse::u64_")]
    pub bytes_total: Option<u64>,
}

/// One entry of `pgs_by_state`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PgStateCount {
    /// E.g. `active+clean`.
    #[serde(deserialize_with = "parse::string")]
    pub state_name: Option<String>,
    /// PGs in that state.
    #[serde(deserialize_with = "parse::u64_")]
    pub count: Option<u64>,
}

/// `mgrmap`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MgrmapSummary {
    /// Whether an active manager is serving.
    #[serde(deserialize_with = "parse::bool_")]
    pub available: Option<bool>,
    /// Standby managers.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_standbys: Option<u64>,
    /// Enabled modules.
    #[serde(deserialize_with = "parse::strings")]
    pub modules: Vec<String>,
}

fn checks<'de, D>(d: D) -> Result<IndexMap<String, HealthCheck>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(map) => map.into_iter().filter_map(|(k, v)| HealthCheck::deserialize(v).ok().map(|c| (k, c))).collect(),
        _ => IndexMap::new(),
    })
}

/// Nautilus and older nest the figures one level deeper: `{"osdmap":{"osdmap":{...}}}`.
fn osdmap<'de, D>(d: D) -> Result<Option<OsdmapSummary>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let mut value = serde_json::Value::deserialize(d)?;
    if let Some(inner) = value.get_mut("osdmap").map(serde_json::Value::take) {
        value = inner;
    }
    Ok(OsdmapSummary::deserialize(value).ok())
}

impl CephStatus {
    /// The command this parses.
    pub const COMMAND: &'static str = "ceph status";

    /// Parses the output of `ceph status --format json`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// `HEALTH_OK`, `HEALTH_WARN`... or `None` when not reported.
    pub fn health_status(&self) -> Option<&str> {
        self.health.as_ref()?.status.as_deref()
    }

    /// Whether health is exactly `HEALTH_OK`.
    pub fn is_health_ok(&self) -> bool {
        self.health_status() == Some("HEALTH_OK")
    }

    /// Whether every OSD in the map is up (and there is at least one).
    pub fn all_osds_up(&self) -> bool {
        self.osdmap.as_ref().is_some_and(|o| matches!((o.num_osds, o.num_up_osds), (Some(n), Some(up)) if n > 0 && n == up))
    }

    /// Whether every PG is `active+clean` (and there is at least one).
    pub fn all_pgs_active_clean(&self) -> bool {
        let Some(pgmap) = &self.pgmap else {
            return false;
        };
        let clean: u64 = pgmap.pgs_by_state.iter().filter(|s| s.state_name.as_deref() == Some("active+clean")).filter_map(|s| s.count).sum();
        matches!(pgmap.num_pgs, Some(n) if n > 0 && n == clean)
    }

    /// `code: message` for every active health check, for a failure report.
    pub fn health_messages(&self) -> Vec<String> {
        let Some(health) = &self.health else {
            return Vec::new();
        };
        health
            .checks
            .iter()
            .map(|(code, check)| {
                let message = check.summary.as_ref().and_then(|s| s.message.as_deref()).unwrap_or("(no message)");
                format!("{code}: {message}")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../tests/fixtures/ceph/site-a.status.json");

    #[test]
    fn sample_parses() {
        let s = CephStatus::parse(SAMPLE).unwrap();
        assert_eq!(s.fsid.as_deref(), Some("25a4a0c2-6f92-48bd-9cb2-17335a8855ea"));
        assert!(s.is_health_ok());
        assert!(s.all_osds_up());
        assert!(s.all_pgs_active_clean());
        assert_eq!(s.quorum_names, ["a"]);
        assert_eq!(s.monmap.as_ref().unwrap().num_mons, Some(1));
        assert_eq!(s.pgmap.as_ref().unwrap().num_pgs, Some(65));
        assert_eq!(s.mgrmap.as_ref().unwrap().available, Some(true));
        assert!(s.health_messages().is_empty());
    }

    #[test]
    fn warnings_down_osds_and_peering_pgs() {
        let s = CephStatus::parse(
            r#"{"health":{"status":"HEALTH_WARN","checks":{
                  "OSD_DOWN":{"severity":"HEALTH_WARN","summary":{"message":"1 osds down","count":1}},
                  "ODD":7}},
                "osdmap":{"num_osds":2,"num_up_osds":1},
                "pgmap":{"num_pgs":10,"pgs_by_state":[{"state_name":"active+clean","count":8},{"state_name":"creating+peering","count":2}]}}"#,
        )
        .unwrap();
        assert!(!s.is_health_ok());
        assert_eq!(s.health_messages(), ["OSD_DOWN: 1 osds down"]);
        assert!(!s.all_osds_up());
        assert!(!s.all_pgs_active_clean());
    }

    #[test]
    fn nested_osdmap_of_older_releases() {
        let s = CephStatus::parse(r#"{"osdmap":{"osdmap":{"num_osds":3,"num_up_osds":3}}}"#).unwrap();
        assert!(s.all_osds_up());
    }

    #[test]
    fn empty_and_broken() {
        let s = CephStatus::parse("{}").unwrap();
        assert_eq!(s.health_status(), None);
        assert!(!s.all_osds_up());
        assert!(!s.all_pgs_active_clean());
        assert!(CephStatus::parse(&SAMPLE[..200]).is_err());
    }
}
