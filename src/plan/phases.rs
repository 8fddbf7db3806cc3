//! The migration's phases, read from its playbook: runs of plays that share a
//! tag (an `import_playbook`'s `tags:` reach every play it imports), in run
//! order, each of which `--tags TAG` runs alone.

use crate::diagnostic::Location;
use crate::playbook::Playbook;
use serde_json::{json, Value};

/// Ansible's tag that runs whatever `--tags` says.
const ALWAYS: &str = "always";

/// One phase: consecutive plays with a tag in common.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// The tag that selects it; `None` for untagged plays (they run only when
    /// no `--tags` is given).
    pub tag: Option<String>,
    /// Tagged `always`: the plays run with every phase.
    pub always: bool,
    /// Its plays, in run order.
    pub plays: Vec<PhasePlay>,
}

/// One play of a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhasePlay {
    /// The play's name.
    pub name: String,
    /// Its host pattern.
    pub hosts: String,
    /// Where it is written.
    pub location: Location,
}

impl Phase {
    /// The phases of `playbook`, in run order.
    pub fn of_playbook(playbook: &Playbook) -> Vec<Phase> {
        let mut phases: Vec<Phase> = Vec::new();
        // The tags every play of the last phase has, in the first play's order.
        let mut common: Vec<String> = Vec::new();
        for play in &playbook.plays {
            let entry = PhasePlay { name: play.name.clone(), hosts: play.hosts.clone(), location: play.location.clone() };
            let always = play.tags.iter().any(|t| t == ALWAYS);
            let shared: Vec<String> = common.iter().filter(|t| play.tags.contains(t)).cloned().collect();
            match phases.last_mut() {
                Some(last) if last.always && always => last.plays.push(entry),
                Some(last) if !last.always && !always && (!shared.is_empty() || (common.is_empty() && play.tags.is_empty())) => {
                    last.plays.push(entry);
                    // An import's tags come after the play's own, so the last
                    // shared tag is the import's: the phase's name.
                    last.tag = shared.last().cloned();
                    common = shared;
                }
                _ => {
                    common = if always { Vec::new() } else { play.tags.clone() };
                    let tag = if always { Some(ALWAYS.to_string()) } else { common.last().cloned() };
                    phases.push(Phase { tag, always, plays: vec![entry] });
                }
            }
        }
        phases
    }

    /// As JSON, with the command that runs it alone (`None`: it cannot be).
    pub fn to_json(&self, command: Option<String>) -> Value {
        json!({
            "tag": self.tag,
            "always": self.always,
            "plays": self.plays.iter().map(|p| json!({"name": p.name, "hosts": p.hosts, "at": p.location.to_string()})).collect::<Vec<_>>(),
            "command": command,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn site_yml_phases_in_run_order() {
        let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/site.yml");
        let playbook = crate::playbook::load_playbook(&site).unwrap();
        let phases = Phase::of_playbook(&playbook);
        let tags: Vec<&str> = phases.iter().map(|p| p.tag.as_deref().unwrap_or("-")).collect();
        assert_eq!(tags, ["always", "network", "mirror", "sync", "cutover", "cleanup", "replace"]);
        assert!(phases[0].always && phases.iter().skip(1).all(|p| !p.always));
        // cleanup.yml and network-teardown.yml are one phase.
        let cleanup = &phases[5];
        assert!(cleanup.plays.len() >= 2, "{cleanup:?}");
        assert!(cleanup.plays.first().is_some_and(|p| p.location.file.ends_with("cleanup.yml")));
        assert!(cleanup.plays.last().is_some_and(|p| p.location.file.ends_with("network-teardown.yml")));
        assert!(phases[1].plays.iter().all(|p| p.location.file.ends_with("network.yml")));
    }

    #[test]
    fn untagged_and_own_tags() {
        let dir = std::env::temp_dir().join(format!("ferry-plan-phases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.yml");
        std::fs::write(
            &file,
            "- {name: a, hosts: all, tasks: []}\n- {name: b, hosts: all, tasks: []}\n\
             - {name: c, hosts: all, tags: [x, one], tasks: []}\n- {name: d, hosts: all, tags: [y, one], tasks: []}\n\
             - {name: e, hosts: all, tags: [two], tasks: []}\n",
        )
        .unwrap();
        let phases = Phase::of_playbook(&crate::playbook::load_playbook(&file).unwrap());
        let shape: Vec<(Option<&str>, Vec<&str>)> = phases.iter().map(|p| (p.tag.as_deref(), p.plays.iter().map(|p| p.name.as_str()).collect())).collect();
        assert_eq!(shape, [(None, vec!["a", "b"]), (Some("one"), vec!["c", "d"]), (Some("two"), vec!["e"])]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
