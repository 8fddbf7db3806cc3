//! The `state` of a mirror image status, e.g. `up+replaying`.
//!
//! Ceph prints `up+` or `down+` (is the reporting rbd-mirror daemon alive?)
//! followed by the replayer's state. Both halves matter: `down+replaying` is
//! a stale report from a daemon that died while replaying, not progress.

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::parse::string_enum;

string_enum! {
    /// The replayer half of a mirror image state.
    pub enum ReplayPhase {
        /// No replayer reports this image (e.g. `status not found`, or after a demote: G7).
        Unknown => "unknown",
        /// The replayer failed; the description says why.
        Error => "error",
        /// Initial image copy (never observed on the lab: G11).
        Syncing => "syncing",
        /// Bootstrapping the replay.
        StartingReplay => "starting_replay",
        /// Replaying journal entries or mirror snapshots.
        Replaying => "replaying",
        /// Shutting the replay down.
        StoppingReplay => "stopping_replay",
        /// Replay stopped: the remote was demoted, or this copy is primary.
        Stopped => "stopped",
    }
}

/// A parsed `state` such as `up+replaying`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MirrorState {
    /// `Some(true)` for `up+`, `Some(false)` for `down+`, `None` without a prefix.
    pub up: Option<bool>,
    /// The part after the `+`.
    pub phase: ReplayPhase,
}

impl MirrorState {
    /// `up+replaying`.
    pub const UP_REPLAYING: Self = Self::up(ReplayPhase::Replaying);
    /// `up+stopped`.
    pub const UP_STOPPED: Self = Self::up(ReplayPhase::Stopped);
    /// `up+unknown`.
    pub const UP_UNKNOWN: Self = Self::up(ReplayPhase::Unknown);
    /// `up+starting_replay`.
    pub const UP_STARTING_REPLAY: Self = Self::up(ReplayPhase::StartingReplay);
    /// `up+syncing`.
    pub const UP_SYNCING: Self = Self::up(ReplayPhase::Syncing);
    /// `up+error`.
    pub const UP_ERROR: Self = Self::up(ReplayPhase::Error);
    /// `down+unknown`.
    pub const DOWN_UNKNOWN: Self = Self { up: Some(false), phase: ReplayPhase::Unknown };

    const fn up(phase: ReplayPhase) -> Self {
        Self { up: Some(true), phase }
    }

    /// Parses `up+replaying`, `down+unknown`, or a bare phase.
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        let (up, phase) = match s.split_once('+') {
            Some(("up", phase)) => (Some(true), phase),
            Some(("down", phase)) => (Some(false), phase),
            _ => (None, s),
        };
        Self { up, phase: ReplayPhase::from(phase) }
    }

    /// Whether a live rbd-mirror daemon reported this state.
    pub fn is_up(&self) -> bool {
        self.up == Some(true)
    }
}

impl fmt::Display for MirrorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.up {
            Some(true) => write!(f, "up+{}", self.phase),
            Some(false) => write!(f, "down+{}", self.phase),
            None => write!(f, "{}", self.phase),
        }
    }
}

impl<'de> Deserialize<'de> for MirrorState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_state_round_trips() {
        for s in
            ["up+replaying", "up+stopped", "up+unknown", "down+unknown", "up+starting_replay", "up+syncing", "up+error", "up+stopping_replay", "down+replaying"]
        {
            let state = MirrorState::parse(s);
            assert!(!matches!(state.phase, ReplayPhase::Other(_)), "{s}");
            assert_eq!(state.to_string(), s);
        }
        assert_eq!(MirrorState::parse("up+replaying"), MirrorState::UP_REPLAYING);
        assert_eq!(MirrorState::parse("down+unknown"), MirrorState::DOWN_UNKNOWN);
    }

    #[test]
    fn unknown_text_is_kept() {
        let s = MirrorState::parse("sideways+dancing");
        assert_eq!(s.up, None);
        assert_eq!(s.phase, ReplayPhase::Other("sideways+dancing".into()));
        assert_eq!(s.to_string(), "sideways+dancing");
        assert_eq!(MirrorState::parse("up+new_state").phase.as_str(), "new_state");
        assert_eq!(MirrorState::parse("").phase, ReplayPhase::Other(String::new()));
    }
}
