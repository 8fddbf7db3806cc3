//! What `ansible-inventory --list` and `--graph` print, shape for shape, so
//! tools and people that read ansible's output can read ferry's.

use std::collections::HashSet;

use serde_json::{json, Map};

use crate::vars::Value;

use super::{Inventory, InventoryError, ALL};

/// `--list`: `_meta.hostvars`, then every group reachable from `all` with its
/// direct `hosts` and `children`; groups with neither are left out (but
/// still named as children), as ansible-inventory does.
pub(super) fn list_json(inv: &Inventory) -> Value {
    let mut out = Map::new();
    let mut seen = HashSet::new();
    format_group(inv, ALL, &mut out, &mut seen);

    let mut hostvars = Map::new();
    for host in inv.group_hosts(ALL) {
        let vars = inv.host_vars(&host);
        if !vars.is_empty() {
            hostvars.insert(host, Value::Object(vars.into_iter().collect()));
        }
    }
    // ansible-core 2.19 names the serialization profile it used here.
    out.insert("_meta".to_string(), json!({ "hostvars": hostvars, "profile": "inventory_legacy" }));
    sorted(Value::Object(out))
}

fn format_group(inv: &Inventory, name: &str, out: &mut Map<String, Value>, seen: &mut HashSet<String>) {
    let Some(group) = inv.groups.get(name) else {
        return;
    };
    let mut entry = Map::new();
    if name != ALL && !group.hosts.is_empty() {
        entry.insert("hosts".to_string(), json!(group.hosts));
    }
    if !group.children.is_empty() {
        entry.insert("children".to_string(), json!(group.children));
    }
    for child in &group.children {
        if !seen.contains(child) {
            format_group(inv, child, out, seen);
            seen.insert(child.clone());
        }
    }
    if !entry.is_empty() {
        out.insert(name.to_string(), Value::Object(entry));
    }
}

/// ansible-inventory prints with `sort_keys=True`, at every level.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut pairs: Vec<(String, Value)> = map.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// `--graph`: `@group:` lines, child groups before hosts, indented with
/// `  |` per level; `all` lists only its child groups.
pub(super) fn graph(inv: &Inventory, root: &str) -> Result<String, InventoryError> {
    if !inv.groups.contains_key(root) {
        return Err(InventoryError::Pattern { pattern: root.to_string(), reason: "`--graph` needs a group name".to_string() });
    }
    let mut lines = Vec::new();
    graph_group(inv, root, 0, &mut lines);
    Ok(lines.join("\n"))
}

fn graph_line(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn graph_group(inv: &Inventory, name: &str, depth: usize, lines: &mut Vec<String>) {
    lines.push(graph_line(&format!("@{name}:"), depth));
    let Some(group) = inv.groups.get(name) else {
        return;
    };
    for child in &group.children {
        graph_group(inv, child, depth + 1, lines);
    }
    if name != ALL {
        for host in &group.hosts {
            lines.push(graph_line(host, depth + 1));
        }
    }
}
