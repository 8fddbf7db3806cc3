//! The Ansible-compatible inventory: which hosts exist, how they are grouped,
//! and which variables each one gets.
//!
//! Users bring the inventories they already have, so everything here follows
//! ansible-core (checked against `ansible-inventory` 2.19, see
//! `tests/fixtures/inventory/README.md`): INI and YAML files, directories of
//! them, `h1,h2,` host lists, `group_vars/` and `host_vars/` beside each
//! source, host patterns, variable precedence, and the `--list`/`--graph`
//! output. Where ansible-core skips a broken file with only a warning (and
//! runs on without its hosts) or accepts a mistake silently (an unknown key in
//! a YAML group, a range like `web[3:1]` that names no host), ferry stops with
//! a diagnostic pointing at the line: a silently missing host is worse than
//! an early error.

mod address;
mod error;
mod ini;
mod literal;
mod output;
mod pattern;
mod shlex;
mod source;
mod vars_files;
mod yaml;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::vars::{Value, Vars};

pub use error::InventoryError;

use vars_files::VarsFile;

/// The group every host belongs to.
const ALL: &str = "all";
/// The group of hosts that belong to no other group.
const UNGROUPED: &str = "ungrouped";
/// The group variable that orders groups of the same depth; ansible-core
/// keeps it out of the variables.
const PRIORITY_VAR: &str = "ansible_group_priority";

/// The hosts and groups of one or more inventory sources.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// Every host, in the order the sources first name them.
    hosts: IndexMap<String, Host>,
    /// Every group, in the order the sources first name them (`all` and
    /// `ungrouped` first).
    groups: IndexMap<String, Group>,
    /// `localhost`, `127.0.0.1` and `::1` when the inventory does not define
    /// any of them: ansible-core's implicit localhost.
    implicit: Vec<Host>,
    /// The first host whose name is a localhost alias, which answers for all
    /// of them (ansible-core's rule).
    localhost: Option<String>,
    /// How many `group_vars/`+`host_vars/` locations were searched, in source order.
    vars_dirs: usize,
    /// `group_vars/NAME*` files, by group.
    group_files: HashMap<String, Vec<VarsFile>>,
    /// `host_vars/NAME*` files, by host.
    host_files: HashMap<String, Vec<VarsFile>>,
}

/// One managed node.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The inventory name (`inventory_hostname`).
    pub name: String,
    /// Variables set on the host line in the inventory (including
    /// `ansible_port` from `host:port`).
    vars: Vars,
    /// Groups that list this host directly, in the order they did.
    groups: Vec<String>,
    /// The inventory source that first named the host.
    file: Option<PathBuf>,
    /// Not in any inventory: the implicit localhost.
    implicit: bool,
}

impl Host {
    fn new(name: &str, file: Option<&Path>) -> Self {
        Host { name: name.to_string(), vars: Vars::new(), groups: Vec::new(), file: file.map(Path::to_path_buf), implicit: false }
    }

    /// The inventory name (`inventory_hostname`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Variables set on the host itself in the inventory file, before any
    /// group or `host_vars/` merge (see [`Inventory::host_vars`] for those).
    pub fn inline_vars(&self) -> &Vars {
        &self.vars
    }

    /// The inventory source that first named this host (ansible's
    /// `inventory_file`); `None` for host lists and the implicit localhost.
    pub fn inventory_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// True for the implicit localhost, which no inventory defines.
    pub fn is_implicit(&self) -> bool {
        self.implicit
    }
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    /// Hosts listed directly in this group.
    hosts: Vec<String>,
    children: Vec<String>,
    parents: Vec<String>,
    vars: Vars,
    priority: i64,
    /// Longest distance from `all`; deeper groups win variable conflicts.
    depth: usize,
}

impl Group {
    fn new(name: &str) -> Self {
        Group { name: name.to_string(), hosts: Vec::new(), children: Vec::new(), parents: Vec::new(), vars: Vars::new(), priority: 1, depth: 0 }
    }
}

/// Where a host variable's final value came from, for `ferry inventory --host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarOrigin {
    /// Set for a group in an inventory file (`[web:vars]`, `vars:`).
    Group(String),
    /// A `group_vars/` file.
    GroupVarsFile(PathBuf),
    /// Set on the host's line in an inventory file (or its `host:port`).
    Host,
    /// A `host_vars/` file.
    HostVarsFile(PathBuf),
    /// Given to the implicit localhost (`ansible_connection: local`).
    ImplicitLocalhost,
}

impl fmt::Display for VarOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarOrigin::Group(g) => write!(f, "inventory vars of group `{g}`"),
            VarOrigin::GroupVarsFile(p) => write!(f, "{}", p.display()),
            VarOrigin::Host => write!(f, "inventory host line"),
            VarOrigin::HostVarsFile(p) => write!(f, "{}", p.display()),
            VarOrigin::ImplicitLocalhost => write!(f, "implicit localhost"),
        }
    }
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory::empty()
    }
}

impl Inventory {
    /// Loads one or more `-i` sources, as ansible-core does: a YAML file, an
    /// INI file, a directory (every file in it, sorted, skipping hidden files,
    /// backups, `*.retry`/`*.orig`/`*.md`/`*.txt`-like files, `group_vars/`
    /// and `host_vars/`), or a comma-separated host list `"h1,h2,"`.
    ///
    /// `group_vars/` and `host_vars/` beside each file source (inside each
    /// directory source) are read: `NAME`, `NAME.yml`, `NAME.yaml`,
    /// `NAME.json`, or a folder `NAME/` of such files merged in sorted order.
    ///
    /// # Errors
    ///
    /// A source or vars file that cannot be read ([`InventoryError::Io`]),
    /// or a mistake in one, reported as a diagnostic pointing at its line.
    pub fn load(sources: &[PathBuf]) -> Result<Inventory, InventoryError> {
        source::load(sources)
    }

    /// An empty inventory: no hosts, only the implicit localhost.
    pub fn empty() -> Inventory {
        let mut inv = Inventory::base();
        inv.finish();
        inv
    }

    /// Host names matching an Ansible pattern, in inventory order without
    /// duplicates: `all`, `*`, a group or host name, `a:b` or `a,b` (union),
    /// `a:&b` (intersection), `a:!b` (exclusion), globs (`web*`), `~regex`,
    /// and subscripts (`web[0]`, `web[1:3]`, `web[-1]`).
    ///
    /// `localhost` matches the implicit localhost when the inventory has no
    /// such host (it is never part of `all`). A name that matches nothing
    /// gives an empty list (the caller warns); a malformed pattern, an empty
    /// one, or a subscript past the end is an error.
    ///
    /// # Errors
    ///
    /// [`InventoryError::Pattern`], saying what is wrong with the pattern.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        pattern::select(self, pattern)
    }

    /// The host named `name`, including the implicit localhost.
    pub fn host(&self, name: &str) -> Option<&Host> {
        if let Some(h) = self.hosts.get(name) {
            return Some(h);
        }
        if address::LOCALHOST.contains(&name) {
            if let Some(alias) = &self.localhost {
                return self.hosts.get(alias);
            }
            return self.implicit.iter().find(|h| h.name == name);
        }
        None
    }

    /// Every host defined by the inventory, in inventory order (without the
    /// implicit localhost).
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// True if `name` is a group (including `all` and `ungrouped`).
    pub fn has_group(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    /// The variables of `host` merged in ansible-core's order (lowest first):
    /// the `all` group, then the host's other groups sorted by depth (parents
    /// before children), `ansible_group_priority`, then name; then
    /// `group_vars/all`, then the other groups' `group_vars/` files in the
    /// same order; then the host's own inventory vars, then `host_vars/`.
    ///
    /// Magic variables (`inventory_hostname`, `group_names`, `groups`) are not
    /// included. An unknown host has no variables.
    pub fn host_vars(&self, host: &str) -> Vars {
        self.host_vars_with_origin(host).into_iter().map(|(k, (v, _))| (k, v)).collect()
    }

    /// The same merge as [`Inventory::host_vars`], each value with where it
    /// came from.
    pub fn host_vars_with_origin(&self, host: &str) -> IndexMap<String, (Value, VarOrigin)> {
        let mut out: IndexMap<String, (Value, VarOrigin)> = IndexMap::new();
        let Some(h) = self.host(host) else {
            return out;
        };
        let mut layer = |vars: &Vars, origin: &VarOrigin| {
            for (k, v) in vars {
                out.insert(k.clone(), (v.clone(), origin.clone()));
            }
        };
        let groups = self.sorted_groups_of(h);
        if let Some(all) = self.groups.get(ALL) {
            layer(&all.vars, &VarOrigin::Group(ALL.to_string()));
        }
        for g in &groups {
            layer(&g.vars, &VarOrigin::Group(g.name.clone()));
        }
        // group_vars/ files: every location in source order, and within one
        // location `all` first, then the groups in precedence order.
        for dir in 0..self.vars_dirs {
            for f in self.group_files.get(ALL).into_iter().flatten().filter(|f| f.dir == dir) {
                layer(&f.vars, &VarOrigin::GroupVarsFile(f.path.clone()));
            }
        }
        for dir in 0..self.vars_dirs {
            for g in &groups {
                for f in self.group_files.get(&g.name).into_iter().flatten().filter(|f| f.dir == dir) {
                    layer(&f.vars, &VarOrigin::GroupVarsFile(f.path.clone()));
                }
            }
        }
        let host_origin = if h.implicit { VarOrigin::ImplicitLocalhost } else { VarOrigin::Host };
        layer(&h.vars, &host_origin);
        for f in self.host_files.get(&h.name).into_iter().flatten() {
            layer(&f.vars, &VarOrigin::HostVarsFile(f.path.clone()));
        }
        out
    }

    /// The groups `host` is in, directly or through child groups, sorted,
    /// without `all`: ansible-core's `group_names`. Like ansible-core, a host
    /// in no other group reports `["ungrouped"]`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let Some(h) = self.host(host) else {
            return Vec::new();
        };
        let mut names: Vec<String> = self.groups_of(h).into_iter().filter(|g| *g != ALL).map(str::to_string).collect();
        names.sort();
        names
    }

    /// ansible-core's `groups` magic variable: every group (with `all` and
    /// `ungrouped`) and the hosts in it or its descendants, in inventory order.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups.keys().map(|g| (g.clone(), self.group_hosts(g))).collect()
    }

    /// The JSON `ansible-inventory --list` prints: `_meta.hostvars` with the
    /// merged variables of each host that has any, `all.children`, and each
    /// non-empty group with its `hosts` and `children`. Keys are sorted, as
    /// ansible-inventory prints them.
    pub fn to_list_json(&self) -> Value {
        output::list_json(self)
    }

    /// The text `ansible-inventory --graph [GROUP]` prints, without a final
    /// newline. `root` defaults to `all`; naming something that is not a
    /// group is an error.
    ///
    /// # Errors
    ///
    /// [`InventoryError::Pattern`] when `root` is not a group.
    pub fn graph(&self, root: Option<&str>) -> Result<String, InventoryError> {
        output::graph(self, root.unwrap_or(ALL))
    }

    // ---- building -------------------------------------------------------

    /// `all` and `ungrouped`, as every inventory starts.
    fn base() -> Inventory {
        let mut inv = Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            implicit: Vec::new(),
            localhost: None,
            vars_dirs: 0,
            group_files: HashMap::new(),
            host_files: HashMap::new(),
        };
        inv.add_group(ALL);
        inv.add_group(UNGROUPED);
        // `ungrouped` cannot form a loop with `all` here.
        let _ = inv.add_child(ALL, UNGROUPED);
        inv
    }

    fn add_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(name.to_string(), Group::new(name));
        }
    }

    /// Adds `name` (once) and puts it in `group`. As in ansible-core, a port
    /// only applies when the host is new, and port 0 means none.
    fn add_host(&mut self, name: &str, group: Option<&str>, port: Option<u64>, file: Option<&Path>) {
        if !self.hosts.contains_key(name) {
            let mut host = Host::new(name, file);
            if let Some(port) = port.filter(|p| *p > 0) {
                host.vars.insert("ansible_port".to_string(), Value::from(port));
            }
            if self.localhost.is_none() && address::LOCALHOST.contains(&name) {
                self.localhost = Some(name.to_string());
            }
            self.hosts.insert(name.to_string(), host);
        }
        if let Some(group) = group {
            self.add_group(group);
            self.put_host_in_group(name, group);
        }
    }

    fn put_host_in_group(&mut self, host: &str, group: &str) {
        let (Some(g), Some(h)) = (self.groups.get_mut(group), self.hosts.get_mut(host)) else {
            return;
        };
        // The host's own list is short; the group's may hold thousands
        // (`web[1:50000]`), and scanning it made loading quadratic.
        if !h.groups.iter().any(|x| x == group) {
            g.hosts.push(host.to_string());
            h.groups.push(group.to_string());
        }
    }

    /// Makes `child` a child group of `parent`; the error says why not.
    fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        if parent == child {
            return Err(format!("group `{child}` cannot be a child of itself"));
        }
        if child == ALL {
            return Err("group `all` contains every group and cannot be a child of another".to_string());
        }
        if self.ancestors(parent).iter().any(|a| a == child) {
            return Err(format!("making `{child}` a child of `{parent}` creates a loop: `{parent}` is already inside `{child}`"));
        }
        self.add_group(parent);
        self.add_group(child);
        let Some(p) = self.groups.get_mut(parent) else {
            return Ok(());
        };
        if p.children.iter().any(|c| c == child) {
            return Ok(());
        }
        p.children.push(child.to_string());
        if let Some(c) = self.groups.get_mut(child) {
            if !c.parents.iter().any(|x| x == parent) {
                c.parents.push(parent.to_string());
            }
        }
        Ok(())
    }

    /// Sets a group variable; `ansible_group_priority` sets the priority
    /// instead, and must be an integer.
    fn set_group_var(&mut self, group: &str, key: &str, value: Value) -> Result<(), String> {
        self.add_group(group);
        let Some(g) = self.groups.get_mut(group) else {
            return Ok(());
        };
        if key == PRIORITY_VAR {
            g.priority = priority_of(&value).ok_or_else(|| format!("`{PRIORITY_VAR}` must be an integer, found `{value}`"))?;
        } else {
            g.vars.insert(key.to_string(), value);
        }
        Ok(())
    }

    fn set_host_var(&mut self, host: &str, key: &str, value: Value) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.vars.insert(key.to_string(), value);
        }
    }

    /// What ansible-core does once every source is parsed: groups without a
    /// parent go under `all`, hosts without a group go to `ungrouped` (and
    /// leave it once they have another group), and depths are settled.
    fn reconcile(&mut self) {
        let orphans: Vec<String> = self.groups.values().filter(|g| g.name != ALL && g.parents.is_empty()).map(|g| g.name.clone()).collect();
        for g in orphans {
            // A parentless group cannot contain `all`, so no loop is possible.
            let _ = self.add_child(ALL, &g);
        }

        let names: Vec<String> = self.hosts.keys().cloned().collect();
        // Removed from `ungrouped` in one pass at the end: one pass per host
        // made loading quadratic.
        let mut leaving: HashSet<String> = HashSet::new();
        for name in names {
            let Some(h) = self.hosts.get(&name) else {
                continue;
            };
            let groups = self.groups_of(h);
            let has_real_group = groups.iter().any(|g| *g != ALL && *g != UNGROUPED);
            if groups.contains(&UNGROUPED) {
                if has_real_group {
                    leaving.insert(name);
                }
            } else if !has_real_group {
                self.put_host_in_group(&name, UNGROUPED);
            }
        }
        self.remove_hosts_from_group(&leaving, UNGROUPED);
        self.compute_depths();
    }

    fn remove_hosts_from_group(&mut self, hosts: &HashSet<String>, group: &str) {
        if hosts.is_empty() {
            return;
        }
        if let Some(g) = self.groups.get_mut(group) {
            g.hosts.retain(|h| !hosts.contains(h));
        }
        for host in hosts {
            if let Some(h) = self.hosts.get_mut(host) {
                h.groups.retain(|g| g != group);
            }
        }
    }

    /// Depth = the longest path from `all`, which is where ansible-core's
    /// incremental bookkeeping ends up.
    fn compute_depths(&mut self) {
        fn depth_of(inv: &Inventory, name: &str, memo: &mut HashMap<String, usize>) -> usize {
            if let Some(d) = memo.get(name) {
                return *d;
            }
            let parents = inv.groups.get(name).map(|g| g.parents.clone()).unwrap_or_default();
            let d = parents.iter().map(|p| depth_of(inv, p, memo) + 1).max().unwrap_or(0);
            memo.insert(name.to_string(), d);
            d
        }
        let mut memo = HashMap::new();
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in &names {
            let d = depth_of(self, name, &mut memo);
            if let Some(g) = self.groups.get_mut(name) {
                g.depth = d;
            }
        }
    }

    /// Creates the implicit localhost entries once loading is done.
    fn finish(&mut self) {
        self.implicit.clear();
        if self.localhost.is_some() {
            return;
        }
        for name in address::LOCALHOST {
            let mut h = Host::new(name, None);
            h.implicit = true;
            h.vars.insert("ansible_connection".to_string(), Value::from("local"));
            self.implicit.push(h);
        }
    }

    // ---- queries used by the other parts ---------------------------------

    /// Ancestors of a group, nearest first, without duplicates.
    fn ancestors(&self, group: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut frontier = vec![group.to_string()];
        while let Some(g) = frontier.pop() {
            for p in self.groups.get(&g).map(|g| g.parents.as_slice()).unwrap_or_default() {
                if !out.contains(p) {
                    out.push(p.clone());
                    frontier.push(p.clone());
                }
            }
        }
        out
    }

    /// Every group `host` is in: the ones listing it and all their ancestors.
    fn groups_of<'a>(&'a self, host: &'a Host) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for g in &host.groups {
            if !out.contains(&g.as_str()) {
                out.push(g);
            }
            for a in self.ancestors(g) {
                if let Some((name, _)) = self.groups.get_key_value(&a) {
                    if !out.contains(&name.as_str()) {
                        out.push(name);
                    }
                }
            }
        }
        out
    }

    /// The host's groups other than `all`, lowest precedence first.
    fn sorted_groups_of(&self, host: &Host) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self.groups_of(host).into_iter().filter(|g| *g != ALL).filter_map(|g| self.groups.get(g)).collect();
        groups.sort_by(|a, b| (a.depth, a.priority, &a.name).cmp(&(b.depth, b.priority, &b.name)));
        groups
    }

    /// Hosts of a group and its descendants, ansible-core's order: the group's
    /// own hosts, then each generation of child groups in turn.
    fn group_hosts(&self, group: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for g in self.descendants_with_self(group) {
            for h in self.groups.get(g).map(|g| g.hosts.as_slice()).unwrap_or_default() {
                if seen.insert(h.as_str()) {
                    out.push(h.clone());
                }
            }
        }
        out
    }

    /// `group`, its children, then grandchildren, and so on.
    fn descendants_with_self<'a>(&'a self, group: &'a str) -> Vec<&'a str> {
        let mut ordered: Vec<&str> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut level: Vec<&str> = vec![group];
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                if seen.insert(g) {
                    ordered.push(g);
                    if let Some(grp) = self.groups.get(g) {
                        next.extend(grp.children.iter().map(String::as_str));
                    }
                }
            }
            level = next;
        }
        ordered
    }
}

/// `ansible_group_priority` as ansible-core's `int(value)` reads it.
fn priority_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
