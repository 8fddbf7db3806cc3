//! `ferry inventory` on the example inventories of Ansible's own documentation gives
//! what `ansible-inventory` gives (fixtures captured from ansible-core, see
//! tests/fixtures/inventory/README.md).

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

/// (inventory, expected output) for every fixture with an expected file of `ext`.
fn cases(ext: &str) -> Vec<(PathBuf, PathBuf)> {
    let dir = fixture("inventory/ansible-docs");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut cases: Vec<(PathBuf, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            !name.contains(".expected.") && (name.ends_with(".ini") || name.ends_with(".yml") || name.ends_with(".yaml"))
        })
        .filter_map(|inv| {
            let stem = inv.file_stem()?.to_string_lossy().into_owned();
            let expected = dir.join(format!("{stem}.expected.{ext}"));
            expected.exists().then_some((inv, expected))
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no inventory fixtures with .expected.{ext} in {}", dir.display());
    cases
}

#[test]
fn list_matches_ansible_inventory_on_every_docs_example() {
    let mut failures = Vec::new();
    let cases = cases("json");
    for (inventory, expected) in &cases {
        let name = inventory.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let run = Ferry::new("inv", &["inventory", "-i", &inventory.to_string_lossy(), "--list"]).run();
        if run.code != Some(0) {
            failures.push(format!("{name}: exit {:?}: {}", run.code, run.stderr.trim()));
            continue;
        }
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(expected).expect("reading fixture")).unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
        match serde_json::from_str::<Value>(&run.stdout) {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!(
                "{name}: differs\n--- expected\n{}\n--- ferry\n{}",
                serde_json::to_string_pretty(&want).unwrap_or_default(),
                serde_json::to_string_pretty(&got).unwrap_or_default()
            )),
            Err(e) => failures.push(format!("{name}: stdout is not JSON ({e}):\n{}", run.stdout)),
        }
    }
    assert!(failures.is_empty(), "{} of {} docs inventories differ from ansible-inventory --list:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn graph_matches_ansible_inventory_on_every_docs_example() {
    let mut failures = Vec::new();
    let cases = cases("graph");
    for (inventory, expected) in &cases {
        let name = inventory.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let run = Ferry::new("gra", &["inventory", "-i", &inventory.to_string_lossy(), "--graph"]).run();
        let want = std::fs::read_to_string(expected).expect("reading fixture");
        if run.code != Some(0) || run.stdout.trim_end() != want.trim_end() {
            failures.push(format!(
                "{name}: exit {:?}\n--- expected\n{}\n--- ferry\n{}{}",
                run.code,
                want.trim_end(),
                run.stdout.trim_end(),
                run.stderr.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} docs inventories differ from ansible-inventory --graph:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
