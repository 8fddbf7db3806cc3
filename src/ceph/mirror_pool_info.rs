//! `rbd mirror pool info --format json POOL`: the pool's mirror mode and peers.

use serde::Deserialize;

use super::parse::{self, non_empty, string_enum, ParseError};

/// Mirroring configuration of one pool.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MirrorPoolInfo {
    /// `disabled`, `image` or `pool`.
    #[serde(deserialize_with = "parse::opt")]
    pub mode: Option<PoolMirrorMode>,
    /// This cluster's site name (set by `mirror pool enable --site-name`).
    #[serde(deserialize_with = "parse::string")]
    pub site_name: Option<String>,
    /// Registered peers.
    #[serde(deserialize_with = "parse::list")]
    pub peers: Vec<MirrorPeer>,
}

string_enum! {
    /// A pool's mirroring mode.
    pub enum PoolMirrorMode {
        /// No mirroring.
        Disabled => "disabled",
        /// Only images enabled one by one (`rbd mirror image enable`).
        Image => "image",
        /// Every journaling image of the pool.
        Pool => "pool",
    }
}

/// One peer of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MirrorPeer {
    /// Peer uuid: what `rbd mirror pool peer remove POOL UUID` takes.
    #[serde(deserialize_with = "parse::string")]
    pub uuid: Option<String>,
    /// `rx-only`, `tx-only` or `rx-tx`.
    #[serde(deserialize_with = "parse::opt")]
    pub direction: Option<PeerDirection>,
    /// The peer's site name.
    #[serde(deserialize_with = "parse::string")]
    pub site_name: Option<String>,
    /// The peer's mirror uuid; `""` on the rx-only side.
    #[serde(deserialize_with = "parse::string")]
    pub mirror_uuid: Option<String>,
    /// CephX user used to reach the peer; `""` for an auto-registered tx-only peer (G4).
    #[serde(deserialize_with = "parse::string")]
    pub client_name: Option<String>,
}

string_enum! {
    /// Which way images flow with a peer.
    pub enum PeerDirection {
        /// This site pulls from the peer.
        RxOnly => "rx-only",
        /// The peer pulls from this site; auto-registered on the primary (G4).
        TxOnly => "tx-only",
        /// Both ways.
        RxTx => "rx-tx",
    }
}

impl MirrorPoolInfo {
    /// The command this parses.
    pub const COMMAND: &'static str = "rbd mirror pool info";

    /// Parses the output of `rbd mirror pool info --format json`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// Whether mirroring is on in any mode. A missing `mode` counts as off.
    pub fn is_enabled(&self) -> bool {
        matches!(self.mode, Some(PoolMirrorMode::Image | PoolMirrorMode::Pool | PoolMirrorMode::Other(_)))
    }

    /// The peer whose site name is `site_name`.
    pub fn peer_for_site(&self, site_name: &str) -> Option<&MirrorPeer> {
        self.peers.iter().find(|p| p.site_name.as_deref() == Some(site_name))
    }

    /// Uuids of every peer, in listed order: cleanup removes them all before
    /// `mirror pool disable` (G9 rule 1).
    pub fn peer_uuids(&self) -> Vec<&str> {
        self.peers.iter().filter_map(|p| non_empty(&p.uuid)).collect()
    }
}

impl MirrorPeer {
    /// G4: a tx-only peer with no client name was registered by the remote
    /// rbd-mirror itself, not by a bootstrap import on this site.
    pub fn is_auto_registered(&self) -> bool {
        self.direction == Some(PeerDirection::TxOnly) && non_empty(&self.client_name).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &[(&str, &str)] = &[
        fixture!("selftest-rx-only.site-a.mirror-pool-info.volumes.json"),
        fixture!("selftest-rx-only.site-b.mirror-pool-info.volumes.json"),
        fixture!("selftest-rx-tx.site-a.mirror-pool-info.volumes.json"),
        fixture!("selftest-rx-tx.site-b.mirror-pool-info.volumes.json"),
        fixture!("site-a.mirror-pool-info.images.json"),
        fixture!("site-a.mirror-pool-info.volumes.auto-tx-only-peer.json"),
        fixture!("site-a.mirror-pool-info.volumes.json"),
        fixture!("site-b.mirror-pool-info.images.json"),
        fixture!("site-b.mirror-pool-info.volumes.json"),
    ];

    #[test]
    fn every_sample_parses() {
        for (name, text) in SAMPLES {
            let info = MirrorPoolInfo::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(info.is_enabled(), "{name}");
            assert!(info.site_name.is_some(), "{name}");
            for peer in &info.peers {
                assert!(!matches!(peer.direction, Some(PeerDirection::Other(_)) | None), "{name}");
            }
        }
    }

    #[test]
    fn auto_registered_tx_only_peer_on_the_primary() {
        let info = MirrorPoolInfo::parse(SAMPLES[5].1).unwrap();
        assert_eq!(info.mode, Some(PoolMirrorMode::Pool));
        let peer = info.peer_for_site("site-b").unwrap();
        assert_eq!(peer.direction, Some(PeerDirection::TxOnly));
        assert!(peer.is_auto_registered());
        assert_eq!(info.peer_uuids(), ["ff28c370-5b3a-4261-8145-ca536e15d87a"]);
    }

    #[test]
    fn rx_only_target_and_rx_tx_peers_are_not_auto_registered() {
        let b = MirrorPoolInfo::parse(SAMPLES[8].1).unwrap();
        let peer = &b.peers[0];
        assert_eq!(peer.direction, Some(PeerDirection::RxOnly));
        assert_eq!(peer.mirror_uuid.as_deref(), Some(""));
        assert!(!peer.is_auto_registered());
        let a = MirrorPoolInfo::parse(SAMPLES[2].1).unwrap();
        assert_eq!(a.peers[0].direction, Some(PeerDirection::RxTx));
        assert!(!a.peers[0].is_auto_registered());
    }

    #[test]
    fn image_mode_pool_without_peers() {
        let info = MirrorPoolInfo::parse(SAMPLES[4].1).unwrap();
        assert_eq!(info.mode, Some(PoolMirrorMode::Image));
        assert!(info.peers.is_empty());
        assert!(info.peer_uuids().is_empty());
    }

    #[test]
    fn disabled_missing_and_odd() {
        let info = MirrorPoolInfo::parse(r#"{"mode":"disabled"}"#).unwrap();
        assert!(!info.is_enabled());
        let info = MirrorPoolInfo::parse("{}").unwrap();
        assert!(!info.is_enabled());
        assert_eq!(info.mode, None);
        let info = MirrorPoolInfo::parse(r#"{"mode":5,"peers":[{"uuid":"","direction":"sideways"},3]}"#).unwrap();
        assert_eq!(info.mode, None);
        assert_eq!(info.peers[0].direction, Some(PeerDirection::Other("sideways".into())));
        assert!(info.peer_uuids().is_empty());
        assert!(MirrorPoolInfo::parse(r#"{"mode":"pool""#).is_err());
    }
}
