//! YAML inventories: top-level groups (usually just `all`), each with
//! `hosts:`, `children:` and `vars:`, as ansible-core's `yaml` plugin reads
//! them.
//!
//! serde_yaml gives positions only for syntax errors, so shape errors (a list
//! where a mapping belongs, a misspelt key) are placed by [`locate`], which
//! follows the key path through the text by indentation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use regex::Regex;
use serde_yaml::{Mapping, Value as Yaml};

use crate::diagnostic::{did_you_mean, Diagnostic, Location};
use crate::vars::{from_yaml, yaml_key_string};

use super::{address, Inventory, InventoryError};

/// The keys a group may have.
const GROUP_KEYS: [&str; 3] = ["hosts", "children", "vars"];

/// Parses YAML (or JSON, which is tried strictly first so tab-indented JSON
/// works) into a value, turning syntax errors into diagnostics.
pub(super) fn parse_text(file: &Arc<PathBuf>, text: &str) -> Result<Yaml, InventoryError> {
    if file.extension().is_some_and(|e| e == "json") {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
            if let Ok(v) = serde_yaml::to_value(json) {
                return Ok(v);
            }
        }
    }
    let mut value: Yaml = serde_yaml::from_str(text).map_err(|e| syntax_error(file, text, &e))?;
    value.apply_merge().map_err(|e| syntax_error(file, text, &e))?;
    Ok(value)
}

fn syntax_error(file: &Arc<PathBuf>, text: &str, e: &serde_yaml::Error) -> InventoryError {
    static POSITION: OnceLock<Regex> = OnceLock::new();
    let position = POSITION.get_or_init(|| Regex::new(r" at line \d+ column \d+").expect("fixed regex"));
    let message = position.replace_all(&e.to_string(), "").into_owned();
    let (mut line, mut col) = e.location().map(|l| (l.line(), l.column())).unwrap_or_else(|| first_content(text));
    let mut help = "check the indentation and quoting around this line";
    // serde_yaml places duplicate keys at the mapping; point at the repeat.
    if let Some((_, key)) = message.split_once("duplicate entry with key ") {
        let key = key.trim_matches('"');
        if let Some(pos) = repeated_key(text, key, (line, col)) {
            (line, col) = pos;
        }
        help = "each key may appear once per mapping; merge the two entries";
    }
    if message.contains("more than one document") {
        help = "an inventory is one YAML document; remove the extra `---` separators";
    }
    let d = Diagnostic::with_source(Location::new(Arc::clone(file), line, col), format!("invalid YAML: {message}"), text).help(help);
    InventoryError::Yaml(d)
}

/// Line and column of the first line that is not blank, a comment or `---`.
pub(super) fn first_content(text: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            continue;
        }
        return (i + 1, line.len() - trimmed.len() + 1);
    }
    (1, 1)
}

/// "a list", "a string", ... for messages.
pub(super) fn kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// If `line` (after indentation and an optional `- `) starts with `key:`,
/// quoted or not, the column where the key starts.
fn key_column(line: &str, key: &str) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let mut rest = &line[indent..];
    let mut col = indent;
    if let Some(r) = rest.strip_prefix("- ") {
        col += 2 + (r.len() - r.trim_start().len());
        rest = r.trim_start();
    }
    for quoted in [key.to_string(), format!("\"{key}\""), format!("'{key}'")] {
        if let Some(after) = rest.strip_prefix(quoted.as_str()) {
            let after = after.trim_start();
            if after.starts_with(':') && (after.len() == 1 || after[1..].starts_with([' ', '\t'])) {
                return Some(col + 1);
            }
        }
    }
    None
}

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Where the last key of `path` that can be found sits, following each key
/// into the block of the previous one. Good enough for block-style YAML,
/// which is what inventories are; flow-style falls back to the parent key.
pub(super) fn locate(text: &str, path: &[String]) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = first_content(text);
    let mut start = 0;
    let mut parent_indent: Option<usize> = None;
    'keys: for key in path {
        for (i, line) in lines.iter().enumerate().skip(start) {
            if !is_content(line) {
                continue;
            }
            let indent = indent_of(line);
            if parent_indent.is_some_and(|p| indent <= p) {
                break;
            }
            if let Some(col) = key_column(line, key) {
                found = (i + 1, col);
                start = i + 1;
                parent_indent = Some(col - 1);
                continue 'keys;
            }
        }
        break;
    }
    found
}

/// The second `key:` in the mapping whose first key sits at `mapping`.
fn repeated_key(text: &str, key: &str, mapping: (usize, usize)) -> Option<(usize, usize)> {
    text.lines()
        .enumerate()
        .skip(mapping.0.saturating_sub(1))
        .take_while(|(_, line)| !is_content(line) || indent_of(line) + 1 >= mapping.1)
        .filter_map(|(i, line)| key_column(line, key).filter(|c| *c == mapping.1).map(|c| (i + 1, c)))
        .nth(1)
}

/// Parses a YAML inventory file into `inv`.
pub(super) fn parse(inv: &mut Inventory, path: &Path, text: &str, value: Yaml) -> Result<(), InventoryError> {
    let ctx = Ctx { file: Arc::new(path.to_path_buf()), text };
    let top = match value {
        Yaml::Null => return Ok(()),
        Yaml::Mapping(m) => m,
        other => {
            let (line, col) = first_content(text);
            return Err(ctx.error_at(
                line,
                col,
                format!("a YAML inventory must be a mapping of group names, found {}", kind(&other)),
                "start with `all:` and put hosts under `hosts:` and groups under `children:`",
            ));
        }
    };
    if top.contains_key("plugin") {
        return Err(ctx.error(
            &["plugin".to_string()],
            "inventory plugin configuration files are not supported",
            "ferry reads static inventories; export this one with `ansible-inventory -i FILE --list -y`",
        ));
    }
    for (name, data) in &top {
        let name = ctx.group_name(name, &[])?;
        parse_group(inv, &ctx, &name, data, std::slice::from_ref(&name))?;
    }
    Ok(())
}

struct Ctx<'a> {
    file: Arc<PathBuf>,
    text: &'a str,
}

impl Ctx<'_> {
    fn error_at(&self, line: usize, col: usize, message: impl Into<String>, help: impl Into<String>) -> InventoryError {
        let d = Diagnostic::with_source(Location::new(Arc::clone(&self.file), line, col), message, self.text).help(help);
        InventoryError::Yaml(d)
    }

    fn error(&self, path: &[String], message: impl Into<String>, help: impl Into<String>) -> InventoryError {
        let (line, col) = locate(self.text, path);
        self.error_at(line, col, message, help)
    }

    fn group_name(&self, key: &Yaml, parent: &[String]) -> Result<String, InventoryError> {
        match key {
            Yaml::String(s) if !s.is_empty() => Ok(s.clone()),
            other => {
                let shown = yaml_key_string(other);
                let mut path = parent.to_vec();
                path.push(shown.clone());
                Err(self.error(&path, format!("group name `{shown}` must be a non-empty string"), "quote the name if it looks like a number or boolean"))
            }
        }
    }
}

/// `hosts: web1` and `children: web` are shorthands for one-entry mappings.
fn as_section(value: &Yaml) -> Option<Mapping> {
    match value {
        Yaml::Mapping(m) => Some(m.clone()),
        Yaml::Null => Some(Mapping::new()),
        Yaml::String(s) => {
            let mut m = Mapping::new();
            m.insert(Yaml::String(s.clone()), Yaml::Null);
            Some(m)
        }
        _ => None,
    }
}

fn section_help(section: &str) -> &'static str {
    match section {
        "hosts" => "list hosts as mapping keys (`web1:` on its own line), not as `- web1` items",
        "children" => "list child groups as mapping keys (`web:` on its own line), not as `- web` items",
        _ => "write variables as `name: value` lines",
    }
}

fn parse_group(inv: &mut Inventory, ctx: &Ctx<'_>, name: &str, data: &Yaml, path: &[String]) -> Result<(), InventoryError> {
    let map = match data {
        Yaml::Null => {
            inv.add_group(name);
            return Ok(());
        }
        Yaml::Mapping(m) => m,
        other => {
            return Err(ctx.error(
                path,
                format!("group `{name}` must be a mapping (of `hosts`, `children`, `vars`) or empty, found {}", kind(other)),
                "indent `hosts:`, `children:` or `vars:` under the group name",
            ));
        }
    };
    inv.add_group(name);
    for (key, value) in map {
        let key_name = yaml_key_string(key);
        let mut key_path = path.to_vec();
        key_path.push(key_name.clone());
        if !GROUP_KEYS.contains(&key_name.as_str()) {
            let help = match did_you_mean(&key_name, GROUP_KEYS) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "a group may only contain `hosts`, `children` and `vars`".to_string(),
            };
            return Err(ctx.error(&key_path, format!("unknown key `{key_name}` in group `{name}`"), help));
        }
        let Some(section) = as_section(value) else {
            return Err(ctx.error(&key_path, format!("`{key_name}` of group `{name}` must be a mapping, found {}", kind(value)), section_help(&key_name)));
        };
        match key_name.as_str() {
            "vars" => {
                for (k, v) in section {
                    let k = yaml_key_string(&k);
                    if let Err(msg) = inv.set_group_var(name, &k, from_yaml(v)) {
                        let mut p = key_path.clone();
                        p.push(k);
                        return Err(ctx.error(&p, msg, "use a whole number such as `10`"));
                    }
                }
            }
            "children" => {
                for (child, child_data) in &section {
                    let child = ctx.group_name(child, &key_path)?;
                    let mut child_path = key_path.clone();
                    child_path.push(child.clone());
                    parse_group(inv, ctx, &child, child_data, &child_path)?;
                    if let Err(msg) = inv.add_child(name, &child) {
                        return Err(ctx.error(&child_path, msg, "groups must form a tree without loops"));
                    }
                }
            }
            _ => {
                for (pattern, host_vars) in &section {
                    parse_host(inv, ctx, name, pattern, host_vars, &key_path)?;
                }
            }
        }
    }
    Ok(())
}

fn parse_host(inv: &mut Inventory, ctx: &Ctx<'_>, group: &str, pattern: &Yaml, vars: &Yaml, hosts_path: &[String]) -> Result<(), InventoryError> {
    let mut path = hosts_path.to_vec();
    path.push(yaml_key_string(pattern));
    let Yaml::String(pattern) = pattern else {
        let shown = yaml_key_string(pattern);
        return Err(ctx.error(&path, format!("host name `{shown}` must be a string"), format!("quote it: `\"{shown}\":`")));
    };
    // ansible-core treats falsy values (`~`, `""`, `0`, `[]`) as "no vars".
    let vars = match vars {
        Yaml::Mapping(m) => m.clone(),
        Yaml::Null | Yaml::Bool(false) => Mapping::new(),
        Yaml::String(s) if s.is_empty() => Mapping::new(),
        Yaml::Sequence(s) if s.is_empty() => Mapping::new(),
        Yaml::Number(n) if n.as_f64() == Some(0.0) => Mapping::new(),
        other => {
            return Err(ctx.error(
                &path,
                format!("variables of host `{pattern}` must be a mapping, found {}", kind(other)),
                "put `key: value` lines indented under the host name, or nothing",
            ));
        }
    };
    let (names, port) = expand_host_pattern(pattern).map_err(|msg| ctx.error(&path, msg, "ranges look like `web[01:10]`, `web[1:10:2]` or `db-[a:f]`"))?;
    for host in &names {
        inv.add_host(host, Some(group), port, Some(&ctx.file));
        for (k, v) in &vars {
            inv.set_host_var(host, &yaml_key_string(k), from_yaml(v.clone()));
        }
    }
    Ok(())
}

/// A host key or INI host word: `name`, `name:port`, or a range, expanded.
pub(super) fn expand_host_pattern(pattern: &str) -> Result<(Vec<String>, Option<u64>), String> {
    let (name, port) = address::parse_address(pattern, true).unwrap_or_else(|_| (pattern.to_string(), None));
    let names = if name.contains('[') { address::expand_hostname_range(&name)? } else { vec![name] };
    Ok((names, port))
}

/// Top-level value of a YAML file, for deciding whether an extension-less
/// file is YAML (a mapping) or INI.
pub(super) fn sniff(file: &Arc<PathBuf>, text: &str) -> Option<Yaml> {
    match parse_text(file, text) {
        Ok(v @ Yaml::Mapping(_)) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_keys_by_indentation() {
        let text = "all:\n  children:\n    web:\n      hosts:\n        - web1\n    db:\n      hosts: {}\n";
        let p = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(locate(text, &p(&["all", "children", "web", "hosts"])), (4, 7));
        assert_eq!(locate(text, &p(&["all", "children", "db", "hosts"])), (7, 7));
        // A key that is not there falls back to the deepest one found.
        assert_eq!(locate(text, &p(&["all", "children", "nope"])), (2, 3));
    }

    #[test]
    fn finds_quoted_keys_and_skips_comments() {
        let text = "# c\n'all':\n  \"hosts\":\n    x:\n";
        let p = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(locate(text, &p(&["all", "hosts", "x"])), (4, 5));
    }
}
