//! Checks done before any host is touched: every variable a template reads
//! must be defined somewhere (inventory, play, vars_files, extra vars,
//! `register`, `set_fact`, loops, magic variables). A typo in a variable
//! name is reported as file:line:col with the task, and nothing runs.

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::inventory::Inventory;
use crate::playbook::{Playbook, Task, TaskKind};
use crate::template::Templates;
use crate::vars::{Value, Vars};
use std::collections::BTreeSet;

/// Names every template may use without defining them.
const MAGIC: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "group_names",
    "groups",
    "hostvars",
    "item",
    "ansible_loop",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
    "play_hosts",
    "ansible_play_name",
    "playbook_dir",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_forks",
    "ansible_run_tags",
    "ansible_skip_tags",
    "omit",
    "range",
    "lookup",
    "query",
    "q",
    "dict",
    "namespace",
    "cycler",
    "joiner",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "self",
    "super",
    "varargs",
    "kwargs",
    "caller",
    "ansible_facts",
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_connection",
    "inventory_dir",
    "inventory_file",
    "environment",
    "vars",
];

/// Every name a run can define, gathered from all sources.
struct Known {
    names: BTreeSet<String>,
}

impl Known {
    fn has(&self, name: &str) -> bool {
        self.names.contains(name) || MAGIC.contains(&name)
    }
}

fn collect_task_names(tasks: &[Task], names: &mut BTreeSet<String>) {
    for t in tasks {
        if let Some(r) = &t.register {
            names.insert(r.clone());
        }
        names.extend(t.vars.keys().cloned());
        if let Some(v) = &t.loop_control.loop_var {
            names.insert(v.clone());
        }
        if let Some(v) = &t.loop_control.index_var {
            names.insert(v.clone());
        }
        match &t.kind {
            TaskKind::Module(m) if m.module == "set_fact" => {
                if let Value::Object(map) = &m.args {
                    names.extend(map.keys().cloned());
                }
            }
            TaskKind::Block { block, rescue, always } => {
                collect_task_names(block, names);
                collect_task_names(rescue, names);
                collect_task_names(always, names);
            }
            TaskKind::IncludeTasks { file, base_dir } if !file.contains("{{") => {
                if let Ok(inner) = crate::playbook::load_task_file(&base_dir.join(file)) {
                    collect_task_names(&inner, names);
                }
            }
            _ => {}
        }
    }
}

/// True when the template guards `name` with `default`, `is defined` and the like,
/// so an undefined value is expected and handled.
fn guarded(source: &str, name: &str) -> bool {
    let pattern = format!(r"\b{}\b[\w.\[\]'\x22]*\s*(\|\s*(default|d)\b|is\s+(not\s+)?(defined|undefined|none))", regex::escape(name));
    regex::Regex::new(&pattern).map(|re| re.is_match(source)).unwrap_or(true)
        || source.contains(&format!("'{name}' in"))
        || source.contains(&format!("\"{name}\" in"))
}

struct Checker<'a> {
    templates: &'a Templates,
    known: &'a Known,
    errors: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn check_source(&mut self, task: &Task, source: &str, is_expr: bool) {
        if !is_expr && !source.contains("{{") && !source.contains("{%") {
            return;
        }
        match self.templates.referenced_vars(source, is_expr) {
            Ok(names) => {
                for name in names {
                    if self.known.has(&name) || guarded(source, &name) {
                        continue;
                    }
                    let mut d = Diagnostic::new(task.location.clone(), format!("undefined variable `{name}` in task `{}`", task.display_name()));
                    let candidates: Vec<&str> = self.known.names.iter().map(String::as_str).chain(MAGIC.iter().copied()).collect();
                    d = match did_you_mean(&name, candidates) {
                        Some(s) => d.help(format!("did you mean `{s}`? (`{source}`)")),
                        None => d.help(format!("define `{name}` in the inventory, the play's vars, a vars file or with -e; it is used in `{source}`")),
                    };
                    self.errors.push(d);
                }
            }
            Err(e) => {
                self.errors.push(Diagnostic::new(task.location.clone(), format!("invalid template in task `{}`: {e}", task.display_name())));
            }
        }
    }

    fn check_value(&mut self, task: &Task, v: &Value) {
        match v {
            Value::String(s) => self.check_source(task, s, false),
            Value::Array(a) => a.iter().for_each(|x| self.check_value(task, x)),
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                self.check_source(task, k, false);
                self.check_value(task, x);
            }),
            _ => {}
        }
    }

    fn check_tasks(&mut self, tasks: &[Task]) {
        for t in tasks {
            for cond in t.when.iter().chain(&t.changed_when).chain(&t.failed_when).chain(&t.until) {
                self.check_source(t, cond, true);
            }
            if let Some(l) = &t.loop_items {
                self.check_value(t, l);
            }
            if let Some(d) = &t.delegate_to {
                self.check_source(t, d, false);
            }
            for v in t.vars.values().chain(t.environment.values()) {
                self.check_value(t, v);
            }
            match &t.kind {
                TaskKind::Module(m) => {
                    if m.module == "assert" {
                        if let Some(that) = m.args.get("that") {
                            let list = match that {
                                Value::Array(a) => a.clone(),
                                other => vec![other.clone()],
                            };
                            for c in list.iter().filter_map(Value::as_str) {
                                self.check_source(t, c, true);
                            }
                        }
                    }
                    if m.module == "debug" {
                        if let Some(var) = m.args.get("var").and_then(Value::as_str) {
                            self.check_source(t, var, true);
                        }
                    }
                    self.check_value(t, &m.args);
                }
                TaskKind::Block { block, rescue, always } => {
                    self.check_tasks(block);
                    self.check_tasks(rescue);
                    self.check_tasks(always);
                }
                TaskKind::IncludeTasks { file, base_dir } => {
                    self.check_source(t, file, false);
                    if !file.contains("{{") {
                        match crate::playbook::load_task_file(&base_dir.join(file)) {
                            Ok(inner) => self.check_tasks(&inner),
                            Err(e) => self.errors.push(Diagnostic::new(t.location.clone(), format!("include_tasks: {e}"))),
                        }
                    }
                }
            }
        }
    }
}

/// Checks every playbook against the inventory and extra vars. Returns all problems found.
pub fn check(playbooks: &[Playbook], inventory: &Inventory, extra_vars: &Vars, templates: &Templates) -> Result<(), Vec<Diagnostic>> {
    let mut names: BTreeSet<String> = extra_vars.keys().cloned().collect();
    for h in inventory.hosts() {
        names.extend(inventory.host_vars(h.name()).keys().cloned());
    }
    for pb in playbooks {
        for play in &pb.plays {
            names.extend(play.vars.keys().cloned());
            for f in &play.vars_files {
                if let Ok(v) = super::load_vars_file(f) {
                    names.extend(v.keys().cloned());
                }
            }
            collect_task_names(&play.tasks, &mut names);
            collect_task_names(&play.handlers, &mut names);
        }
    }
    let known = Known { names };
    let mut checker = Checker { templates, known: &known, errors: Vec::new() };
    for pb in playbooks {
        for play in &pb.plays {
            for v in play.vars.values() {
                // A play var may refer to another var: check it like a task string.
                if let Some(first) = play.tasks.first() {
                    checker.check_value(first, v);
                }
            }
            checker.check_tasks(&play.tasks);
            checker.check_tasks(&play.handlers);
        }
    }
    let mut errors = checker.errors;
    errors.dedup_by(|a, b| a.message == b.message && a.location == b.location);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The private key files the run will use to reach the plays' hosts (the
/// inventory's `ansible_ssh_private_key_file`, else `--private-key`), checked
/// before anything connects: a missing, unreadable or world-readable key, or a
/// file that is not a private key, stops the run (exit 1) with one line per
/// file naming the hosts that use it, and no host is touched. Templated values
/// and hosts reached only through `delegate_to` are left to the connection,
/// which names the same problems for its host.
pub fn key_files(
    playbooks: &[Playbook],
    inventory: &Inventory,
    extra_vars: &Vars,
    private_key: Option<&std::path::Path>,
    limit: Option<&str>,
) -> Result<(), Vec<String>> {
    let mut hosts: Vec<String> = Vec::new();
    for play in playbooks.iter().flat_map(|pb| pb.plays.iter()).filter(|p| !p.hosts.contains("{{")) {
        for h in inventory.select(&play.hosts).unwrap_or_default() {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    if let Some(Ok(allowed)) = limit.map(|l| inventory.select(l)) {
        hosts.retain(|h| allowed.contains(h));
    }
    let mut by_file: Vec<(std::path::PathBuf, &str, Vec<String>)> = Vec::new();
    for host in hosts {
        let mut vars = inventory.host_vars(&host);
        crate::vars::overlay(&mut vars, extra_vars);
        let get = |k: &str| vars.get(k).and_then(Value::as_str).map(str::to_string);
        if get("ansible_connection").as_deref() == Some("local") {
            continue;
        }
        let (path, origin) = match get("ansible_ssh_private_key_file").or_else(|| get("ansible_private_key_file")) {
            Some(k) if k.contains("{{") || k.contains("{%") => continue,
            Some(k) => (super::connections::expand_home(&k), "ansible_ssh_private_key_file"),
            None => match private_key {
                Some(k) => (k.to_path_buf(), "--private-key"),
                None => continue,
            },
        };
        match by_file.iter_mut().find(|(p, o, _)| *p == path && *o == origin) {
            Some((_, _, hs)) => hs.push(host),
            None => by_file.push((path, origin, vec![host])),
        }
    }
    let problems: Vec<String> = by_file
        .iter()
        .filter_map(|(path, origin, hosts)| {
            let why = crate::transport::named_key_problem(path).err()?;
            let shown: Vec<&str> = hosts.iter().take(5).map(String::as_str).collect();
            let more = if hosts.len() > 5 { format!(" and {} more", hosts.len() - 5) } else { String::new() };
            Some(format!("error: cannot use private key {} ({origin} of {}{more}): {why}", path.display(), shown.join(", ")))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::guarded;

    #[test]
    fn guards_are_recognised() {
        assert!(guarded("{{ foo | default('x') }}", "foo"));
        assert!(guarded("foo is defined and foo", "foo"));
        assert!(guarded("foo.bar is not defined", "foo"));
        assert!(!guarded("{{ foo }}", "foo"));
    }
}
