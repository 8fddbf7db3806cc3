//! Playbook files into [`Playbook`]: plays, `import_playbook`, `vars_files`.
//! Tasks are read in `task.rs`.
//!
//! The loader does not stop at the first mistake: it reports every problem it
//! can find in a file (and in the files it imports) so that one run shows the
//! user all of them, like a compiler.

use super::ast::{Play, Playbook, Serial, Task, TaskKind};
use super::convert::{self, describe, is_templated, Bad};
pub use super::error::PlaybookError;
use super::source::{ReadError, Source};
use super::span_index::{child, Seg};
use crate::diagnostic::{did_you_mean, Diagnostic, Location};
use crate::vars::{self, overlay, Vars};
use serde_yaml::{Mapping, Value as Y};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep `import_playbook`/`import_tasks` may nest. Cycles are caught
/// separately; this only keeps a long chain of distinct files from exhausting
/// the stack.
const MAX_IMPORT_DEPTH: usize = 32;

/// Play keywords ferry understands, for "did you mean" hints.
pub(super) const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "tasks",
    "pre_tasks",
    "post_tasks",
    "handlers",
    "connection",
    "gather_facts",
    "tags",
    "become",
    "become_user",
    "environment",
];

/// Keys an `import_playbook` entry may have.
const IMPORT_PLAYBOOK_KEYWORDS: &[&str] = &["import_playbook", "name", "vars", "tags"];

/// Parses a playbook file, expanding `import_playbook` and `import_tasks`
/// (relative to the importing file's folder) and loading `vars_files`
/// (relative to the playbook's folder; their variables are merged into the
/// play's `vars`, over the play's own, as in Ansible's precedence).
pub fn load_playbook(path: &Path) -> Result<Playbook, PlaybookError> {
    parse_playbook(path, read_root(path)?)
}

/// Parses a task list file (for `include_tasks` at run time). `import_tasks`
/// inside it are expanded; tags of blocks are pushed into their tasks, but the
/// including task's and play's tags are the caller's to add.
pub fn load_task_file(path: &Path) -> Result<Vec<Task>, PlaybookError> {
    parse_task_file(path, read_root(path)?)
}

/// [`load_playbook`] on `bytes` read from `path`.
pub(super) fn parse_playbook(path: &Path, bytes: Vec<u8>) -> Result<Playbook, PlaybookError> {
    let mut loader = Loader::default();
    let (src, doc) = loader.open_root(path, bytes)?;
    let plays = loader.playbook(&src, doc);
    loader.finish(Playbook { path: path.to_path_buf(), plays })
}

/// [`load_task_file`] on `bytes` read from `path`.
pub(super) fn parse_task_file(path: &Path, bytes: Vec<u8>) -> Result<Vec<Task>, PlaybookError> {
    let mut loader = Loader::default();
    let (src, doc) = loader.open_root(path, bytes)?;
    let mut tasks = loader.task_file(&src, doc);
    inherit_tags(&mut tasks, &[]);
    loader.finish(tasks)
}

fn read_root(path: &Path) -> Result<Vec<u8>, PlaybookError> {
    std::fs::read(path).map_err(|source| PlaybookError::Io { path: path.to_path_buf(), source })
}

/// State of one load: the problems found so far and the chain of files being
/// imported (to name an import cycle instead of recursing forever).
#[derive(Default)]
pub(super) struct Loader {
    diagnostics: Vec<Diagnostic>,
    /// (canonical path, path as shown) of each file being read, outermost first.
    chain: Vec<(PathBuf, Arc<PathBuf>)>,
}

impl Loader {
    fn open_root(&mut self, path: &Path, bytes: Vec<u8>) -> Result<(Source, Y), PlaybookError> {
        let (src, doc) = Source::parse(path, bytes)?;
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.chain.push((canonical, src.path.clone()));
        Ok((src, doc))
    }

    fn finish<T>(self, value: T) -> Result<T, PlaybookError> {
        match PlaybookError::from_collected(self.diagnostics) {
            None => Ok(value),
            Some(e) => Err(e),
        }
    }

    /// Records a problem and carries on.
    pub(super) fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// How many problems were recorded so far, to tell whether a part of the
    /// file added any.
    pub(super) fn reported(&self) -> usize {
        self.diagnostics.len()
    }

    /// Reads `file` (relative to `from`'s folder) and hands it to `read`;
    /// `None` after reporting at `at` (the import's value) when the file is
    /// missing, broken, or already being imported.
    pub(super) fn import<T>(&mut self, from: &Source, at: &[Seg], file: &str, read: impl FnOnce(&mut Self, &Source, Y) -> T) -> Option<T> {
        let loc = from.at(at);
        let shown = from.dir.join(file);
        let canonical = match std::fs::canonicalize(&shown) {
            Ok(c) => c,
            Err(e) => {
                self.report(cannot_read(from, loc, &shown, &e));
                return None;
            }
        };
        if let Some(first) = self.chain.iter().position(|(c, _)| *c == canonical) {
            let mut names: Vec<String> = self.chain[first..].iter().map(|(_, s)| s.display().to_string()).collect();
            names.push(shown.display().to_string());
            let d = from.error(loc, format!("import cycle: {}", names.join(" -> "))).help("remove one of these imports");
            self.report(d);
            return None;
        }
        if self.chain.len() >= MAX_IMPORT_DEPTH {
            let msg = format!("imports are nested more than {MAX_IMPORT_DEPTH} files deep");
            self.report(from.error(loc, msg));
            return None;
        }
        let (src, doc) = match Source::read(&shown) {
            Ok(read) => read,
            Err(ReadError::Io(e)) => {
                self.report(cannot_read(from, loc, &shown, &e));
                return None;
            }
            Err(ReadError::Invalid(d)) => {
                self.report(d);
                return None;
            }
        };
        self.chain.push((canonical, src.path.clone()));
        let out = read(self, &src, doc);
        self.chain.pop();
        Some(out)
    }

    /// Reads a value with `read`, reporting "`key` must be EXPECTED, found ..."
    /// at the value (or at the offending list item) when it does not fit.
    pub(super) fn read<T>(&mut self, src: &Source, path: &[Seg], key: &str, value: &Y, expected: &str, read: impl FnOnce(&Y) -> Result<T, Bad>) -> Option<T> {
        match read(value) {
            Ok(v) => Some(v),
            Err(bad) => {
                self.wrong_type(src, path, key, value, expected, bad);
                None
            }
        }
    }

    /// Reports that the value at `path` (or its item `bad`) is not `expected`.
    pub(super) fn wrong_type(&mut self, src: &Source, path: &[Seg], key: &str, value: &Y, expected: &str, bad: Bad) {
        let (at, found) = match bad.and_then(|i| value.as_sequence().and_then(|s| s.get(i)).map(|item| (i, item))) {
            Some((i, item)) => (child(path, i), item),
            None => (path.to_vec(), value),
        };
        let mut d = src.error(src.at(&at), format!("`{key}` must be {expected}, found {}", describe(found)));
        if found.as_str().is_some_and(is_templated) {
            d = d.help(format!("ferry reads `{key}` when it loads the playbook, so it cannot be a template"));
        }
        self.report(d);
    }

    /// A `vars:`-like mapping of variable names to values.
    pub(super) fn vars(&mut self, src: &Source, path: &[Seg], key: &str, value: Y) -> Vars {
        let mut vars = Vars::new();
        let map = match value {
            Y::Null => return vars,
            Y::Mapping(map) => map,
            other => {
                self.wrong_type(src, path, key, &other, "a mapping of variable names to values", None);
                return vars;
            }
        };
        for (k, v) in map {
            let name = vars::yaml_key_string(&k);
            if !convert::is_identifier(&name) {
                let d = src
                    .error(src.at_key(&child(path, name.as_str())), format!("`{name}` is not a valid variable name"))
                    .help("use letters, digits and `_`, not starting with a digit");
                self.report(d);
                continue;
            }
            vars.insert(name, vars::from_yaml(v));
        }
        vars
    }

    /// `environment:`: variable names to scalar values.
    pub(super) fn environment(&mut self, src: &Source, path: &[Seg], value: Y) -> Vars {
        let map = match value {
            Y::Null => return Vars::new(),
            Y::Mapping(map) => map,
            other => {
                self.wrong_type(src, path, "environment", &other, "a mapping of environment variables to values", None);
                return Vars::new();
            }
        };
        let mut env = Vars::new();
        for (k, v) in map {
            let name = vars::yaml_key_string(&k);
            if matches!(v, Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_)) {
                let at = child(path, name.as_str());
                self.wrong_type(src, &at, &name, &v, "a string", None);
                continue;
            }
            env.insert(name, vars::from_yaml(v));
        }
        env
    }

    /// `become:`: only `false` is accepted; ferry runs as the connecting user.
    pub(super) fn check_become(&mut self, src: &Source, path: &[Seg], value: &Y) {
        if self.read(src, path, "become", value, "`true` or `false`", convert::boolean) == Some(true) {
            let d = src
                .error(src.at(path), "`become: true` is not supported yet")
                .help("connect as the user you need (`ansible_user` in the inventory), or run `sudo` in a `command` task");
            self.report(d);
        }
    }

    fn playbook(&mut self, src: &Source, doc: Y) -> Vec<Play> {
        let items = match doc {
            Y::Sequence(items) => items,
            Y::Null => {
                let d = src
                    .error(Location::new(src.path.clone(), 1, 1), "expected a list of plays, found an empty file")
                    .help("a playbook is a list of plays: `- hosts: all`");
                self.report(d);
                return Vec::new();
            }
            other => {
                let looks_like_play = other.get("hosts").is_some() || other.get("tasks").is_some();
                let help = if looks_like_play {
                    "start the play with `- ` to put it in a list: `- hosts: ...`"
                } else {
                    "a playbook is a list of plays: `- hosts: all`"
                };
                let d = src.error(src.at(&[]), format!("expected a list of plays, found {}", describe(&other)));
                self.report(d.help(help));
                return Vec::new();
            }
        };
        let mut plays = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let path = [Seg::Index(i)];
            match item {
                Y::Mapping(map) if map.keys().any(|k| k.as_str().map(strip_collection) == Some("import_playbook")) => {
                    plays.extend(self.import_playbook(src, &path, map));
                }
                Y::Mapping(map) => plays.extend(self.play(src, &path, map)),
                other => {
                    let msg = format!("expected a play (a mapping with `hosts:` and `tasks:`), found {}", describe(&other));
                    self.report(src.error(src.at(&path), msg));
                }
            }
        }
        plays
    }

    fn import_playbook(&mut self, src: &Source, path: &[Seg], map: Mapping) -> Vec<Play> {
        let mut file: Option<(String, Vec<Seg>)> = None;
        let mut vars = Vars::new();
        let mut tags = Vec::new();
        for (k, v) in map {
            let key = vars::yaml_key_string(&k);
            let kp = child(path, key.as_str());
            match strip_collection(&key) {
                "import_playbook" => match v.as_str() {
                    Some(f) if is_templated(f) => {
                        let d = src
                            .error(src.at(&kp), "`import_playbook` cannot take a templated file name")
                            .help("name the file literally: ferry reads imports when it loads the playbook");
                        self.report(d);
                    }
                    Some(f) => file = Some((f.to_string(), kp)),
                    None => self.wrong_type(src, &kp, &key, &v, "a file name", None),
                },
                "name" => {
                    self.read(src, &kp, "name", &v, "a string", convert::string);
                }
                "vars" => vars = self.vars(src, &kp, "vars", v),
                "tags" => tags = self.read(src, &kp, "tags", &v, "a tag or a list of tags", |v| convert::names(v, true)).unwrap_or_default(),
                "when" => {
                    let d = src.error(src.at_key(&kp), "`when` on `import_playbook` is not supported").help("put the condition on the imported plays' tasks");
                    self.report(d);
                }
                other if PLAY_KEYWORDS.contains(&other) => {
                    let d = src
                        .error(src.at_key(&kp), format!("`{other}` cannot be combined with `import_playbook`"))
                        .help("an `import_playbook` entry stands for whole plays: set it inside the imported file");
                    self.report(d);
                }
                other => self.unknown_key(src, &kp, "`import_playbook` keyword", other, IMPORT_PLAYBOOK_KEYWORDS),
            }
        }
        let Some((file, at)) = file else {
            return Vec::new();
        };
        let mut plays = self.import(src, &at, &file, |l, s, doc| l.playbook(s, doc)).unwrap_or_default();
        for play in &mut plays {
            push_tags(&mut play.tags, &tags);
            inherit_tags(&mut play.tasks, &tags);
            // The import's vars win over the imported play's, as in Ansible.
            overlay(&mut play.vars, &vars);
        }
        plays
    }

    fn play(&mut self, src: &Source, path: &[Seg], map: Mapping) -> Option<Play> {
        let location = first_key_location(src, path, &map);
        let before = self.reported();
        let mut name = None;
        let mut hosts = None;
        let mut vars = Vars::new();
        let mut vars_files = None;
        let mut serial = None;
        let mut max_fail_percentage = None;
        let mut any_errors_fatal = false;
        let mut connection = None;
        let mut gather_facts = None;
        let mut tags = Vec::new();
        let mut sections: [Vec<Task>; 3] = Default::default();
        let mut handlers = Vec::new();
        let mut environment = Vars::new();
        for (k, v) in map {
            let key = vars::yaml_key_string(&k);
            let kp = child(path, key.as_str());
            match key.as_str() {
                "name" => name = self.read(src, &kp, "name", &v, "a string", convert::string),
                "hosts" => {
                    let pattern = self.read(src, &kp, "hosts", &v, "a host pattern or a list of them", |v| convert::names(v, false));
                    match pattern.map(|h| h.join(",")) {
                        Some(h) if h.trim().is_empty() => {
                            let d = src.error(src.at(&kp), "`hosts` is empty").help("name hosts or groups, or `all`");
                            self.report(d);
                        }
                        h => hosts = h,
                    }
                }
                "vars" => vars = self.vars(src, &kp, "vars", v),
                "vars_files" => vars_files = Some((v, kp)),
                "serial" => serial = self.read(src, &kp, "serial", &v, SERIAL_EXPECTED, |v| serial_value(v, true)).flatten(),
                "max_fail_percentage" => {
                    let expected = "a percentage between 0 and 100";
                    max_fail_percentage = self
                        .read(src, &kp, &key, &v, expected, |v| convert::number(v).and_then(|n| if (0.0..=100.0).contains(&n) { Ok(n) } else { Err(None) }));
                }
                "any_errors_fatal" => {
                    any_errors_fatal = self.read(src, &kp, &key, &v, "`true` or `false`", convert::boolean).unwrap_or(false);
                }
                "connection" => connection = self.connection(src, &kp, &v),
                "gather_facts" => gather_facts = self.read(src, &kp, &key, &v, "`true` or `false`", convert::boolean),
                "tags" => {
                    tags = self.read(src, &kp, "tags", &v, "a tag or a list of tags", |v| convert::names(v, true)).unwrap_or_default();
                }
                "pre_tasks" => sections[0] = self.task_list(src, &kp, &key, v),
                "tasks" => sections[1] = self.task_list(src, &kp, &key, v),
                "post_tasks" => sections[2] = self.task_list(src, &kp, &key, v),
                "handlers" => handlers = self.task_list(src, &kp, &key, v),
                "become" => self.check_become(src, &kp, &v),
                // Meaningless without `become: true`, which is rejected above.
                "become_user" | "become_method" => {}
                "environment" => environment = self.environment(src, &kp, v),
                "strategy" => {
                    let d = src
                        .error(src.at_key(&kp), "`strategy` cannot be set in the playbook")
                        .help("choose the strategy on the command line with `--strategy`");
                    self.report(d);
                }
                "roles" => {
                    let d =
                        src.error(src.at_key(&kp), "roles are not supported yet").help("list the role's tasks with `import_tasks: roles/NAME/tasks/main.yml`");
                    self.report(d);
                }
                other => self.unknown_play_key(src, &kp, other),
            }
        }
        let mut vars_file_paths = Vec::new();
        if let Some((v, kp)) = vars_files {
            let (paths, loaded) = self.vars_files(src, &kp, v);
            vars_file_paths = paths;
            // vars_files win over the play's vars, as in Ansible's precedence.
            overlay(&mut vars, &loaded);
        }
        let Some(hosts) = hosts else {
            // A play whose keys were all wrong already has its errors; "no
            // hosts" would only repeat them.
            if self.reported() == before {
                let d = src.error(location, "this play has no `hosts:`").help("add `hosts: all`, a group name, or a pattern");
                self.report(d);
            }
            return None;
        };
        let [pre, main, post] = sections;
        let mut tasks: Vec<Task> = pre.into_iter().chain(main).chain(post).collect();
        if !environment.is_empty() {
            for task in tasks.iter_mut().chain(handlers.iter_mut()) {
                let mut env = environment.clone();
                overlay(&mut env, &task.environment);
                task.environment = env;
            }
        }
        inherit_tags(&mut tasks, &tags);
        // Handlers run when notified, whatever the tags; only their own
        // blocks' tags are pushed down.
        inherit_tags(&mut handlers, &[]);
        Some(Play {
            name: name.unwrap_or_else(|| hosts.clone()),
            hosts,
            vars,
            vars_files: vars_file_paths,
            serial,
            max_fail_percentage,
            any_errors_fatal,
            connection,
            gather_facts,
            tags,
            tasks,
            handlers,
            location,
        })
    }

    fn connection(&mut self, src: &Source, path: &[Seg], value: &Y) -> Option<String> {
        let conn = self.read(src, path, "connection", value, "`ssh` or `local`", convert::string)?;
        if conn == "ssh" || conn == "local" {
            return Some(conn);
        }
        let d = src.error(src.at(path), format!("connection `{conn}` is not supported")).help("use `ssh` or `local`");
        self.report(d);
        None
    }

    /// Loads `vars_files:`; returns the files read and their variables (later
    /// files win). A nested list names alternatives: the first that exists.
    fn vars_files(&mut self, src: &Source, path: &[Seg], value: Y) -> (Vec<PathBuf>, Vars) {
        let entries = match value {
            Y::Null => Vec::new(),
            Y::Sequence(items) => items,
            single @ Y::String(_) => vec![single],
            other => {
                self.wrong_type(src, path, "vars_files", &other, "a list of files", None);
                return (Vec::new(), Vars::new());
            }
        };
        let mut files = Vec::new();
        let mut loaded = Vars::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let at = child(path, i);
            let candidates = match &entry {
                Y::String(s) => vec![s.clone()],
                Y::Sequence(_) => match self.read(src, &at, "vars_files", &entry, "a list of files", |v| convert::names(v, false)) {
                    Some(c) => c,
                    None => continue,
                },
                other => {
                    self.wrong_type(src, &at, "vars_files", other, "a list of files", None);
                    continue;
                }
            };
            if candidates.iter().any(|c| is_templated(c)) {
                let d = src.error(src.at(&at), "templated `vars_files` entries are not supported yet").help("name the file literally");
                self.report(d);
                continue;
            }
            let chosen = match candidates.as_slice() {
                [only] => src.dir.join(only),
                _ => match candidates.iter().map(|c| src.dir.join(c)).find(|p| p.is_file()) {
                    Some(p) => p,
                    None => {
                        let msg = format!("none of these vars files exists: {}", candidates.join(", "));
                        self.report(src.error(src.at(&at), msg));
                        continue;
                    }
                },
            };
            match Source::read(&chosen) {
                Ok((vsrc, doc)) => {
                    if matches!(doc, Y::Mapping(_) | Y::Null) {
                        overlay(&mut loaded, &self.vars(&vsrc, &[], "vars file", doc));
                        files.push(chosen);
                    } else {
                        let msg = format!("a vars file must be a mapping of variable names to values, found {}", describe(&doc));
                        self.report(vsrc.error(vsrc.at(&[]), msg));
                    }
                }
                Err(ReadError::Io(e)) => self.report(cannot_read(src, src.at(&at), &chosen, &e)),
                Err(ReadError::Invalid(d)) => self.report(d),
            }
        }
        (files, loaded)
    }

    fn unknown_play_key(&mut self, src: &Source, path: &[Seg], key: &str) {
        let d = src.error(src.at_key(path), format!("unknown play keyword `{key}`"));
        let help = if super::task::is_task_key(key) {
            Some(format!("`{key}` belongs to a task: put it in a task under `tasks:`"))
        } else {
            did_you_mean(key, PLAY_KEYWORDS.iter().copied()).map(|s| format!("did you mean `{s}`?"))
        };
        self.report(match help {
            Some(h) => d.help(h),
            None => d,
        });
    }

    /// Reports an unknown key, suggesting the closest of `known`.
    pub(super) fn unknown_key(&mut self, src: &Source, path: &[Seg], what: &str, key: &str, known: &[&str]) {
        let d = src.error(src.at_key(path), format!("unknown {what} `{key}`"));
        self.report(match did_you_mean(key, known.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("expected one of {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))),
        });
    }
}

/// "does not exist" (with where relative paths start) or why a file could
/// not be read, at the line that names it.
fn cannot_read(from: &Source, loc: Location, file: &Path, e: &std::io::Error) -> Diagnostic {
    if e.kind() == std::io::ErrorKind::NotFound {
        let dir = if from.dir.as_os_str().is_empty() { "the current folder".to_string() } else { format!("`{}`", from.dir.display()) };
        from.error(loc, format!("`{}` does not exist", file.display()))
            .help(format!("relative paths are resolved against the folder of the file that names them, {dir}"))
    } else {
        from.error(loc, format!("cannot read `{}`: {e}", file.display()))
    }
}

/// Where a mapping's first key is (the mapping itself when empty).
pub(super) fn first_key_location(src: &Source, path: &[Seg], map: &Mapping) -> Location {
    match map.keys().next() {
        Some(k) => src.at_key(&child(path, vars::yaml_key_string(k))),
        None => src.at(path),
    }
}

/// `import_tasks` and `ansible.builtin.import_tasks` are the same action.
pub(super) fn strip_collection(key: &str) -> &str {
    key.strip_prefix("ansible.builtin.").or_else(|| key.strip_prefix("ansible.legacy.")).unwrap_or(key)
}

/// Appends the `inherited` tags that `tags` lacks.
fn push_tags(tags: &mut Vec<String>, inherited: &[String]) {
    for tag in inherited {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
}

/// Adds `inherited` tags (a play's, an import's) to every task, and each
/// block's tags to the tasks inside it, so that `--tags` needs only look at a
/// task's own list.
pub(super) fn inherit_tags(tasks: &mut [Task], inherited: &[String]) {
    for task in tasks {
        push_tags(&mut task.tags, inherited);
        if let TaskKind::Block { block, rescue, always } = &mut task.kind {
            for list in [block, rescue, always] {
                inherit_tags(list, &task.tags);
            }
        }
    }
}

const SERIAL_EXPECTED: &str = "a number of hosts, a percentage like \"30%\", or a list of them";

/// `serial:`; `Ok(None)` for `0`, which Ansible reads as "all hosts at once".
fn serial_value(v: &Y, top: bool) -> Result<Option<Serial>, Bad> {
    match v {
        Y::Number(_) => match convert::whole(v)? {
            0 if top => Ok(None),
            0 => Err(None),
            n => usize::try_from(n).map(|n| Some(Serial::Count(n))).map_err(|_| None),
        },
        Y::String(s) => match s.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                Ok(p) if p > 0.0 && p.is_finite() => Ok(Some(Serial::Percent(p))),
                _ => Err(None),
            },
            None => serial_value(&Y::Number(s.trim().parse::<u64>().map_err(|_| None)?.into()), top),
        },
        Y::Sequence(items) if top && !items.is_empty() => {
            let steps = items
                .iter()
                .enumerate()
                .map(|(i, item)| match serial_value(item, false) {
                    Ok(Some(step)) => Ok(step),
                    _ => Err(Some(i)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Serial::Steps(steps)))
        }
        _ => Err(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(text: &str) -> Result<Option<Serial>, Bad> {
        serial_value(&serde_yaml::from_str(text).unwrap_or(Y::Null), true)
    }

    #[test]
    fn serial_forms() {
        assert_eq!(serial("2"), Ok(Some(Serial::Count(2))));
        assert_eq!(serial("\"3\""), Ok(Some(Serial::Count(3))));
        assert_eq!(serial("0"), Ok(None));
        assert_eq!(serial("30%"), Ok(Some(Serial::Percent(30.0))));
        assert_eq!(serial("[1, \"50%\"]"), Ok(Some(Serial::Steps(vec![Serial::Count(1), Serial::Percent(50.0)]))));
        assert_eq!(serial("[1, [2]]"), Err(Some(1)));
        assert_eq!(serial("[1, 0]"), Err(Some(1)));
        assert_eq!(serial("0%"), Err(None));
        assert_eq!(serial("many"), Err(None));
        assert_eq!(serial("[]"), Err(None));
        assert_eq!(serial("-1"), Err(None));
    }
}
