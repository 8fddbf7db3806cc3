//! `ceph mon stat --format json`: monitor count and quorum.
//!
//! The runbook checks the remote cluster with the plain `mon stat`, whose text
//! lists every mon address. The JSON form in Pacific has no addresses and no
//! fsid (see site-a.mon-stat.json), so it only answers "can I reach the mons,
//! and are they in quorum"; addresses come from [`super::mon_dump::MonDump`].

use serde::Deserialize;

use super::parse::{self, ParseError};

/// Monitor quorum summary.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MonStat {
    /// Monmap epoch.
    #[serde(deserialize_with = "parse::u64_")]
    pub epoch: Option<u64>,
    /// E.g. `pacific`.
    #[serde(deserialize_with = "parse::string")]
    pub min_mon_release_name: Option<String>,
    /// Monitors in the monmap.
    #[serde(deserialize_with = "parse::u64_")]
    pub num_mons: Option<u64>,
    /// Name of the leader.
    #[serde(deserialize_with = "parse::string")]
    pub leader: Option<String>,
    /// Monitors in quorum.
    #[serde(deserialize_with = "parse::list")]
    pub quorum: Vec<QuorumMember>,
}

/// One monitor in quorum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct QuorumMember {
    /// Rank.
    #[serde(deserialize_with = "parse::u64_")]
    pub rank: Option<u64>,
    /// Name.
    #[serde(deserialize_with = "parse::string")]
    pub name: Option<String>,
}

impl MonStat {
    /// The command this parses.
    pub const COMMAND: &'static str = "ceph mon stat";

    /// Parses the output of `ceph mon stat --format json`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// Names of the monitors in quorum.
    pub fn quorum_names(&self) -> Vec<&str> {
        self.quorum.iter().filter_map(|m| m.name.as_deref()).collect()
    }

    /// Whether every monitor is in quorum; `false` when either figure is missing.
    pub fn full_quorum(&self) -> bool {
        self.num_mons.is_some_and(|n| n > 0 && n == self.quorum.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &[(&str, &str)] = &[fixture!("site-a.mon-stat.json"), fixture!("site-b.mon-stat.json")];

    #[test]
    fn every_sample_parses() {
        for (name, text) in SAMPLES {
            // The samples start with a blank line, as the CLI printed them.
            let stat = MonStat::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(stat.num_mons, Some(1), "{name}");
            assert_eq!(stat.leader.as_deref(), Some("a"), "{name}");
            assert_eq!(stat.quorum_names(), ["a"], "{name}");
            assert!(stat.full_quorum(), "{name}");
        }
    }

    #[test]
    fn missing_and_partial_quorum() {
        let stat = MonStat::parse("{}").unwrap();
        assert!(!stat.full_quorum());
        let stat = MonStat::parse(r#"{"num_mons":3,"quorum":[{"rank":0,"name":"a"},{"rank":"1","name":"b"},"c"]}"#).unwrap();
        assert_eq!(stat.quorum_names(), ["a", "b"]);
        assert!(!stat.full_quorum());
        assert!(MonStat::parse("\n{\"epoch\":1,").is_err());
    }
}
