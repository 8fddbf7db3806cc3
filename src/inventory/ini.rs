//! INI inventories, read line by line the way ansible-core's `ini` plugin
//! does: `[group]` sections of host lines, `[group:vars]` of `key=value`
//! lines, `[group:children]` of group names, and hosts before any section in
//! `ungrouped`. Host lines are split like a shell (see [`super::shlex`]) and
//! every value is typed like a Python literal (see [`super::literal`]).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use regex::Regex;

use crate::diagnostic::{did_you_mean, Diagnostic, Location};
use crate::vars::Value;

use super::shlex::{self, ShlexError};
use super::{literal, yaml, Inventory, InventoryError, UNGROUPED};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

/// A group used before it is declared: ansible-core allows `[g:vars]` and
/// `[p:children]` to name `g` ahead of its `[g]`, as long as it comes later.
enum Pending {
    /// `[g:vars]` at this position.
    Vars { at: (usize, usize) },
    /// Listed under these parents' `[p:children]`, each at a position.
    Children { parents: Vec<(String, (usize, usize))> },
}

fn section_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("fixed regex"))
}

fn group_name_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").expect("fixed regex"))
}

struct Parser<'a> {
    inv: &'a mut Inventory,
    path: &'a Path,
    file: Arc<std::path::PathBuf>,
    text: &'a str,
    group: String,
    section: Section,
    pending: IndexMap<String, Pending>,
}

/// Parses the INI inventory `text` (read from `path`) into `inv`.
pub(super) fn parse(inv: &mut Inventory, path: &Path, text: &str) -> Result<(), InventoryError> {
    let mut p = Parser { inv, path, file: Arc::new(path.to_path_buf()), text, group: UNGROUPED.to_string(), section: Section::Hosts, pending: IndexMap::new() };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        // Columns are counted in characters, as editors show them.
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        p.line(i + 1, indent, line)?;
    }
    p.finish()
}

impl Parser<'_> {
    fn error(&self, at: (usize, usize), message: impl Into<String>, help: impl Into<String>) -> InventoryError {
        let location = Location::new(Arc::clone(&self.file), at.0, at.1);
        InventoryError::Ini(Diagnostic::with_source(location, message, self.text).help(help))
    }

    fn line(&mut self, n: usize, indent: usize, line: &str) -> Result<(), InventoryError> {
        let start = (n, indent + 1);
        if let Some(caps) = section_re().captures(line) {
            let group = caps[1].to_string();
            let kind = caps.get(2).map(|m| m.as_str());
            return self.section(n, indent, line, group, kind);
        }
        if line.starts_with('[') && looks_like_section(line) {
            return Err(self.error(
                start,
                format!("invalid section header `{}`", line.split_whitespace().next().unwrap_or(line)),
                "write `[group]`, `[group:vars]` or `[group:children]`: no spaces in the name, and only `#` comments after it",
            ));
        }
        match self.section {
            Section::Hosts => self.host_line(n, indent, line),
            Section::Vars => self.vars_line(start, line),
            Section::Children => self.children_line(start, line),
        }
    }

    fn section(&mut self, n: usize, indent: usize, line: &str, group: String, kind: Option<&str>) -> Result<(), InventoryError> {
        let section = match kind {
            None | Some("hosts") => Section::Hosts,
            Some("vars") => Section::Vars,
            Some("children") => Section::Children,
            Some(other) => {
                let col = indent + line.find(':').map_or(0, |i| line[..i].chars().count() + 1) + 1;
                let help = match did_you_mean(other, ["vars", "children"]) {
                    Some(s) => format!("did you mean `[{group}:{s}]`?"),
                    None => format!("a section is `[{group}]`, `[{group}:vars]` or `[{group}:children]`"),
                };
                return Err(self.error((n, col), format!("unknown section type `{other}` in `[{group}:{other}]`"), help));
            }
        };
        if !self.inv.groups.contains_key(&group) {
            if section == Section::Vars && !self.pending.contains_key(&group) {
                self.pending.insert(group.clone(), Pending::Vars { at: (n, indent + 1) });
            }
            self.inv.add_group(&group);
        }
        if section != Section::Vars {
            match self.pending.get(&group) {
                Some(Pending::Children { .. }) => self.resolve_children(&group)?,
                Some(Pending::Vars { .. }) => {
                    self.pending.shift_remove(&group);
                }
                None => {}
            }
        }
        self.group = group;
        self.section = section;
        Ok(())
    }

    /// `group` is now declared: attach it to the parents that listed it early.
    fn resolve_children(&mut self, group: &str) -> Result<(), InventoryError> {
        let Some(Pending::Children { parents }) = self.pending.shift_remove(group) else {
            return Ok(());
        };
        for (parent, at) in parents {
            if let Err(msg) = self.inv.add_child(&parent, group) {
                return Err(self.error(at, msg, "groups must form a tree without loops"));
            }
            if matches!(self.pending.get(&parent), Some(Pending::Children { .. })) {
                self.resolve_children(&parent)?;
            }
        }
        Ok(())
    }

    fn host_line(&mut self, n: usize, indent: usize, line: &str) -> Result<(), InventoryError> {
        let col_of = |offset: usize| indent + line[..offset].chars().count() + 1;
        let words = shlex::split(line).map_err(|e| match e {
            ShlexError::NoClosingQuotation(at) => self.error((n, col_of(at)), "this quote is never closed", "close the quote, or escape it with a backslash"),
            ShlexError::NoEscapedCharacter => {
                self.error((n, col_of(line.len())), "the line ends with a lone backslash", "remove the backslash or escape the character after it")
            }
        })?;
        let Some((first, rest)) = words.split_first() else {
            return Ok(());
        };
        let host_at = (n, col_of(first.offset));
        if first.text.is_empty() {
            return Err(self.error(host_at, "empty host name", "write a host name at the start of the line"));
        }
        let (hosts, port) =
            yaml::expand_host_pattern(&first.text).map_err(|msg| self.error(host_at, msg, "ranges look like `web[01:10]`, `web[1:10:2]` or `db-[a:f]`"))?;
        if first.text.trim_end().ends_with(':') && port.is_none() {
            return Err(self.error(
                host_at,
                format!("host `{}` ends with `:` but no port follows", first.text),
                "write `host:2222` for a port, or drop the `:`",
            ));
        }
        if hosts.iter().any(|h| h.trim() == "---") {
            return Err(self.error(host_at, "`---` is not a host name; this looks like a YAML file", "give YAML inventories a `.yml` or `.yaml` extension"));
        }
        let mut vars: Vec<(String, Value)> = Vec::new();
        for word in rest {
            let at = (n, col_of(word.offset));
            let Some((k, v)) = word.text.split_once('=') else {
                return Err(self.error(
                    at,
                    format!("expected `key=value` after the host name, found `{}`", word.text),
                    "host variables are written `host key=value key2=value2`; quote values that contain spaces",
                ));
            };
            if k.is_empty() {
                return Err(self.error(at, "missing variable name before `=`", "write `name=value`"));
            }
            vars.push((k.to_string(), typed(v)));
        }
        for host in &hosts {
            self.inv.add_host(host, Some(&self.group), port, Some(self.path));
            for (k, v) in &vars {
                self.inv.set_host_var(host, k, v.clone());
            }
        }
        Ok(())
    }

    fn vars_line(&mut self, at: (usize, usize), line: &str) -> Result<(), InventoryError> {
        let Some((k, v)) = line.split_once('=') else {
            return Err(self.error(
                at,
                format!("expected `key=value` in `[{}:vars]`, found `{line}`", self.group),
                "each line of a `:vars` section sets one variable, like `http_port=8080`",
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(self.error(at, "missing variable name before `=`", "write `name=value`"));
        }
        let group = self.group.clone();
        self.inv.set_group_var(&group, k, typed(v)).map_err(|msg| self.error(at, msg, "use a whole number such as `10`"))
    }

    fn children_line(&mut self, at: (usize, usize), line: &str) -> Result<(), InventoryError> {
        let Some(caps) = group_name_re().captures(line) else {
            return Err(self.error(
                at,
                format!("expected a group name in `[{}:children]`, found `{line}`", self.group),
                "list one group per line; hosts belong in a `[group]` section",
            ));
        };
        let child = caps[1].to_string();
        if self.inv.groups.contains_key(&child) {
            let parent = self.group.clone();
            return self.inv.add_child(&parent, &child).map_err(|msg| self.error(at, msg, "groups must form a tree without loops"));
        }
        let parent = (self.group.clone(), at);
        match self.pending.get_mut(&child) {
            Some(Pending::Children { parents }) => parents.push(parent),
            // A `[child:vars]` came first; the child is still undeclared.
            Some(Pending::Vars { .. }) | None => {
                self.pending.insert(child, Pending::Children { parents: vec![parent] });
            }
        }
        Ok(())
    }

    /// Any group still pending was never declared: report the first.
    fn finish(self) -> Result<(), InventoryError> {
        let Some((name, pending)) = self.pending.first() else {
            return Ok(());
        };
        Err(match pending {
            Pending::Vars { at } => self.error(
                *at,
                format!("`[{name}:vars]` sets variables for group `{name}`, which is never defined"),
                format!("add a `[{name}]` section (it may be empty) or a `[{name}:children]` section"),
            ),
            Pending::Children { parents } => {
                let (parent, at) = parents.first().map(|(p, at)| (p.as_str(), *at)).unwrap_or(("?", (1, 1)));
                self.error(
                    at,
                    format!("group `{name}` is listed in `[{parent}:children]` but never defined"),
                    format!("add a `[{name}]` section (it may be empty), or remove `{name}` from `[{parent}:children]`"),
                )
            }
        })
    }
}

/// A line starting with `[` is a broken section header, not a host, when its
/// first word ends with `]` (a bracketed IPv6 host always has `:port` after).
fn looks_like_section(line: &str) -> bool {
    line.ends_with(']') || line.split_whitespace().next().is_some_and(|w| w.ends_with(']'))
}

/// ansible-core types INI values with Python's `literal_eval`, keeping the
/// text when it is not a literal.
fn typed(v: &str) -> Value {
    literal::literal_eval(v).unwrap_or_else(|| Value::String(v.to_string()))
}
