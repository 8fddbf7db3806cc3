//! Tasks: keywords, the one module (or block, or include) each task runs, and
//! the module's arguments.

use super::ast::{LoopControl, ModuleCall, Task, TaskKind};
use super::convert::{self, is_templated};
use super::free_form::{self, Unbalanced};
use super::parse::{first_key_location, inherit_tags, strip_collection, Loader, PLAY_KEYWORDS};
use super::source::Source;
use super::span_index::{child, Seg};
use crate::diagnostic::{did_you_mean, Location};
use crate::modules;
use crate::vars::{self, overlay, Value, Vars};
use serde_yaml::Value as Y;

/// Task keywords ferry understands (plus `block` and friends), for hints.
const TASK_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "loop",
    "with_items",
    "with_list",
    "loop_control",
    "register",
    "tags",
    "notify",
    "listen",
    "no_log",
    "ignore_errors",
    "ignore_unreachable",
    "changed_when",
    "failed_when",
    "retries",
    "until",
    "delay",
    "delegate_to",
    "run_once",
    "vars",
    "environment",
    "check_mode",
    "timeout",
    "args",
    "block",
    "rescue",
    "always",
    "import_tasks",
    "include_tasks",
    "become",
    "become_user",
];

/// Keywords that describe one run of one module, meaningless on a container
/// of tasks.
const PER_MODULE_RUN: &[&str] =
    &["loop", "with_items", "with_list", "loop_control", "register", "retries", "until", "delay", "changed_when", "failed_when", "listen"];

const LOOP_CONTROL_KEYWORDS: &[&str] = &["label", "loop_var", "index_var"];

const BOOL: &str = "`true` or `false`";
const CONDITIONS: &str = "a condition or a list of conditions";
const NAMES: &str = "a name or a list of names";

/// What a task runs, from its one action key.
enum Action {
    Module(&'static str),
    ImportTasks,
    IncludeTasks,
}

fn action_of(key: &str) -> Option<Action> {
    match strip_collection(key) {
        "import_tasks" => Some(Action::ImportTasks),
        "include_tasks" => Some(Action::IncludeTasks),
        _ => modules::canonical_name(key).map(Action::Module),
    }
}

/// Whether `key` means something in a task (a keyword or a module).
pub(super) fn is_task_key(key: &str) -> bool {
    TASK_KEYWORDS.contains(&key) || action_of(key).is_some()
}

/// A task with no keywords set; `kind` is replaced once the action is known.
fn blank_task(location: Location) -> Task {
    Task {
        name: None,
        kind: TaskKind::Block { block: Vec::new(), rescue: Vec::new(), always: Vec::new() },
        when: Vec::new(),
        loop_items: None,
        loop_control: LoopControl::default(),
        register: None,
        tags: Vec::new(),
        notify: Vec::new(),
        listen: Vec::new(),
        no_log: false,
        ignore_errors: false,
        ignore_unreachable: false,
        changed_when: Vec::new(),
        failed_when: Vec::new(),
        retries: None,
        until: Vec::new(),
        delay: None,
        delegate_to: None,
        run_once: false,
        vars: Vars::new(),
        environment: Vars::new(),
        check_mode: None,
        timeout: None,
        location,
    }
}

impl Loader {
    /// A list of tasks under `key` (`tasks:`, `block:`, `handlers:` ...).
    pub(super) fn task_list(&mut self, src: &Source, path: &[Seg], key: &str, value: Y) -> Vec<Task> {
        let items = match value {
            Y::Null => return Vec::new(),
            Y::Sequence(items) => items,
            other => {
                self.wrong_type(src, path, key, &other, "a list of tasks", None);
                return Vec::new();
            }
        };
        let mut tasks = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            tasks.extend(self.task(src, &child(path, i), item));
        }
        tasks
    }

    /// The content of a task file.
    pub(super) fn task_file(&mut self, src: &Source, doc: Y) -> Vec<Task> {
        match doc {
            Y::Null => Vec::new(),
            Y::Sequence(_) => self.task_list(src, &[], "tasks", doc),
            other => {
                let msg = format!("expected a list of tasks, found {}", convert::describe(&other));
                self.report(src.error(src.at(&[]), msg).help("start each task with `- `, as in `- name: ...`"));
                Vec::new()
            }
        }
    }

    /// One task; `import_tasks` yields the imported tasks, errors yield none.
    fn task(&mut self, src: &Source, path: &[Seg], item: Y) -> Vec<Task> {
        let map = match item {
            Y::Mapping(map) => map,
            other => {
                let msg = format!("expected a task (a mapping such as `- name: ...`), found {}", convert::describe(&other));
                self.report(src.error(src.at(path), msg));
                return Vec::new();
            }
        };
        let before = self.reported();
        let mut task = blank_task(first_key_location(src, path, &map));
        let mut action: Option<(String, Action, Y)> = None;
        let (mut block, mut rescue, mut always) = (None, None, None);
        let mut args: Option<Y> = None;
        let mut keywords: Vec<String> = Vec::new();
        for (k, v) in map {
            let key = vars::yaml_key_string(&k);
            let kp = child(path, key.as_str());
            let v = match self.keyword(src, &kp, &key, v, &mut task) {
                Ok(()) => {
                    keywords.push(key);
                    continue;
                }
                Err(v) => v,
            };
            match key.as_str() {
                "block" => block = Some(v),
                "rescue" => rescue = Some(v),
                "always" => always = Some(v),
                "args" => args = Some(v),
                _ => match (action_of(&key), &action) {
                    (Some(_), Some((first, ..))) => {
                        let d = src
                            .error(src.at_key(&kp), format!("task has two modules `{first}` and `{key}`"))
                            .help("a task runs one module: split it into two tasks");
                        self.report(d);
                    }
                    (Some(a), None) => action = Some((key, a, v)),
                    (None, _) => self.unknown_task_key(src, &kp, &key),
                },
            }
        }

        let kind = if let Some(block) = block {
            if let Some((key, ..)) = &action {
                let d = src
                    .error(src.at_key(&child(path, key.as_str())), format!("a task with `block:` cannot also run `{key}`"))
                    .help(format!("move `{key}` into a task inside the block"));
                self.report(d);
            }
            self.forbid(src, path, &keywords, PER_MODULE_RUN, "a block", "set it on the tasks inside the block");
            let mut section = |key: &str, v: Option<Y>| match v {
                Some(v) => self.task_list(src, &child(path, key), key, v),
                None => Vec::new(),
            };
            TaskKind::Block { block: section("block", Some(block)), rescue: section("rescue", rescue), always: section("always", always) }
        } else {
            let stray = [("rescue", rescue), ("always", always)];
            for (key, _) in stray.iter().filter(|(_, v)| v.is_some()) {
                let d = src.error(src.at_key(&child(path, *key)), format!("`{key}` needs a `block:` in the same task"));
                self.report(d);
            }
            match action {
                Some((key, Action::Module(module), v)) => match self.module_call(src, path, key, module, v, args.take()) {
                    Some(call) => TaskKind::Module(call),
                    None => return Vec::new(),
                },
                Some((key, Action::ImportTasks, v)) => {
                    let help = "`import_tasks` is expanded when the playbook loads; use `include_tasks` for this";
                    let mut forbidden = PER_MODULE_RUN.to_vec();
                    forbidden.push("notify");
                    self.forbid(src, path, &keywords, &forbidden, "`import_tasks`", help);
                    self.forbid_args(src, path, &args);
                    return self.import_tasks(src, path, &key, v, &task);
                }
                Some((key, Action::IncludeTasks, v)) => {
                    let forbidden = ["register", "retries", "until", "delay", "changed_when", "failed_when", "notify", "listen"];
                    self.forbid(src, path, &keywords, &forbidden, "`include_tasks`", "set it on the tasks in the included file");
                    match self.task_file_name(src, &child(path, key.as_str()), &key, v) {
                        Some((file, _)) => TaskKind::IncludeTasks { file, base_dir: src.dir.clone() },
                        None => return Vec::new(),
                    }
                }
                None => {
                    // Unknown keys were reported already; one of them is
                    // probably the misspelt module.
                    if self.reported() == before {
                        let d = src.error(task.location.clone(), "this task has no module").help("add a module such as `command:` or `copy:`, or a `block:`");
                        self.report(d);
                    }
                    return Vec::new();
                }
            }
        };
        self.forbid_args(src, path, &args);
        task.kind = kind;
        vec![task]
    }

    /// Reads `key` into `task` when it is a task keyword; gives the value back
    /// otherwise.
    fn keyword(&mut self, src: &Source, kp: &[Seg], key: &str, v: Y, task: &mut Task) -> Result<(), Y> {
        match key {
            "name" => {
                task.name = match v {
                    Y::Null => None,
                    v => self.read(src, kp, key, &v, "a string", convert::string),
                }
            }
            "when" => task.when = self.read(src, kp, key, &v, CONDITIONS, convert::conditions).unwrap_or_default(),
            "changed_when" => {
                task.changed_when = self.read(src, kp, key, &v, CONDITIONS, convert::conditions).unwrap_or_default();
            }
            "failed_when" => {
                task.failed_when = self.read(src, kp, key, &v, CONDITIONS, convert::conditions).unwrap_or_default();
            }
            "until" => task.until = self.read(src, kp, key, &v, CONDITIONS, convert::conditions).unwrap_or_default(),
            "loop" | "with_items" | "with_list" => self.loop_items(src, kp, key, v, task),
            "loop_control" => task.loop_control = self.loop_control(src, kp, v),
            "register" => task.register = self.variable_name(src, kp, key, &v),
            "tags" => {
                let tags = self.read(src, kp, key, &v, "a tag or a list of tags", |v| convert::names(v, true));
                task.tags = tags.unwrap_or_default();
            }
            "notify" => task.notify = self.read(src, kp, key, &v, NAMES, |v| convert::names(v, false)).unwrap_or_default(),
            "listen" => task.listen = self.read(src, kp, key, &v, NAMES, |v| convert::names(v, false)).unwrap_or_default(),
            "no_log" | "ignore_errors" | "ignore_unreachable" | "run_once" => {
                let flag = match key {
                    "no_log" => &mut task.no_log,
                    "ignore_errors" => &mut task.ignore_errors,
                    "ignore_unreachable" => &mut task.ignore_unreachable,
                    _ => &mut task.run_once,
                };
                *flag = self.read(src, kp, key, &v, BOOL, convert::boolean).unwrap_or(false);
            }
            "check_mode" => task.check_mode = self.read(src, kp, key, &v, BOOL, convert::boolean),
            "retries" => {
                task.retries = self.read(src, kp, key, &v, "a whole number", |v| convert::whole(v).and_then(|n| u32::try_from(n).map_err(|_| None)));
            }
            "delay" => {
                task.delay = self.read(src, kp, key, &v, "a number of seconds", |v| convert::number(v).and_then(|n| if n >= 0.0 { Ok(n) } else { Err(None) }));
            }
            "timeout" => {
                task.timeout =
                    self.read(src, kp, key, &v, "a positive number of seconds", |v| convert::number(v).and_then(|n| if n > 0.0 { Ok(n) } else { Err(None) }));
            }
            "delegate_to" => task.delegate_to = self.read(src, kp, key, &v, "a host name", convert::string),
            "vars" => task.vars = self.vars(src, kp, key, v),
            "environment" => task.environment = self.environment(src, kp, v),
            "become" => self.check_become(src, kp, &v),
            // Meaningless without `become: true`, which is rejected.
            "become_user" | "become_method" => {}
            _ => return Err(v),
        }
        Ok(())
    }

    /// `loop:`, `with_items:` (flattened one level, as Ansible does) or `with_list:`.
    fn loop_items(&mut self, src: &Source, kp: &[Seg], key: &str, v: Y, task: &mut Task) {
        if task.loop_items.is_some() {
            let d = src.error(src.at_key(kp), format!("`{key}` repeats this task's loop")).help("use one of `loop`, `with_items` and `with_list`");
            self.report(d);
            return;
        }
        task.loop_items = match v {
            Y::Sequence(items) if key == "with_items" => {
                let mut flat = Vec::new();
                for item in items {
                    match item {
                        Y::Sequence(inner) => flat.extend(inner.into_iter().map(vars::from_yaml)),
                        other => flat.push(vars::from_yaml(other)),
                    }
                }
                Some(Value::Array(flat))
            }
            Y::Sequence(_) => Some(vars::from_yaml(v)),
            // Ansible turns a plain word under `with_items` into a one-item list.
            Y::String(s) if key == "with_items" && !is_templated(&s) => Some(Value::Array(vec![Value::String(s)])),
            Y::String(s) => Some(Value::String(s)),
            other => {
                self.wrong_type(src, kp, key, &other, "a list or a template that renders to one", None);
                None
            }
        };
    }

    fn loop_control(&mut self, src: &Source, kp: &[Seg], v: Y) -> LoopControl {
        let mut lc = LoopControl::default();
        let Y::Mapping(map) = v else {
            self.wrong_type(src, kp, "loop_control", &v, "a mapping with `label`, `loop_var` or `index_var`", None);
            return lc;
        };
        for (k, v) in map {
            let key = vars::yaml_key_string(&k);
            let sub = child(kp, key.as_str());
            match key.as_str() {
                "label" => lc.label = self.read(src, &sub, "label", &v, "a string", convert::string),
                "loop_var" => lc.loop_var = self.variable_name(src, &sub, "loop_var", &v),
                "index_var" => lc.index_var = self.variable_name(src, &sub, "index_var", &v),
                "pause" | "extended" | "extended_allitems" | "break_when" => {
                    let msg = format!("`loop_control: {key}` is not supported yet");
                    self.report(src.error(src.at_key(&sub), msg));
                }
                other => self.unknown_key(src, &sub, "`loop_control` keyword", other, LOOP_CONTROL_KEYWORDS),
            }
        }
        lc
    }

    /// A string that must be usable as a variable name (`register`, `loop_var`).
    fn variable_name(&mut self, src: &Source, kp: &[Seg], key: &str, v: &Y) -> Option<String> {
        let name = self.read(src, kp, key, v, "a variable name", convert::string)?;
        if convert::is_identifier(&name) {
            return Some(name);
        }
        let d = src.error(src.at(kp), format!("`{name}` is not a valid variable name")).help("use letters, digits and `_`, not starting with a digit");
        self.report(d);
        None
    }

    /// Reports each of `keywords` that is in `forbidden` on this kind of task.
    fn forbid(&mut self, src: &Source, path: &[Seg], keywords: &[String], forbidden: &[&str], on: &str, help: &str) {
        for key in keywords.iter().filter(|k| forbidden.contains(&k.as_str())) {
            let d = src.error(src.at_key(&child(path, key.as_str())), format!("`{key}` cannot be used on {on}")).help(help);
            self.report(d);
        }
    }

    /// `args:` only makes sense next to a module.
    fn forbid_args(&mut self, src: &Source, path: &[Seg], args: &Option<Y>) {
        if args.is_some() {
            let d = src.error(src.at_key(&child(path, "args")), "`args` needs a module in the same task").help("put the arguments under the module's key");
            self.report(d);
        }
    }

    fn unknown_task_key(&mut self, src: &Source, kp: &[Seg], key: &str) {
        let at = src.at_key(kp);
        if let Some(help) = unsupported_help(strip_collection(key)) {
            self.report(src.error(at, format!("`{key}` is not supported in a task")).help(help));
            return;
        }
        let d = src.error(at, format!("unknown task keyword or module `{key}`"));
        if PLAY_KEYWORDS.contains(&key) {
            self.report(d.help(format!("`{key}` is a play keyword: set it on the play, not on a task")));
            return;
        }
        let candidates = TASK_KEYWORDS.iter().copied().chain(modules::all_names());
        self.report(match did_you_mean(key, candidates) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d,
        });
    }

    /// The file of `import_tasks: FILE` or `include_tasks: {file: FILE}`, with
    /// the path of the file name in the document.
    fn task_file_name(&mut self, src: &Source, kp: &[Seg], key: &str, v: Y) -> Option<(String, Vec<Seg>)> {
        let map = match v {
            Y::String(file) => return Some((file, kp.to_vec())),
            Y::Mapping(map) => map,
            other => {
                self.wrong_type(src, kp, key, &other, "a file name", None);
                return None;
            }
        };
        let mut file = None;
        for (k, v) in map {
            let arg = vars::yaml_key_string(&k);
            let sub = child(kp, arg.as_str());
            match arg.as_str() {
                "file" => file = self.read(src, &sub, "file", &v, "a file name", convert::string).map(|f| (f, sub)),
                "apply" => {
                    let d = src.error(src.at_key(&sub), format!("`{key}: apply` is not supported yet")).help("set the keywords on the tasks in the file");
                    self.report(d);
                }
                other => self.unknown_key(src, &sub, &format!("`{key}` argument"), other, &["file"]),
            }
        }
        if file.is_none() {
            self.report(src.error(src.at(kp), format!("`{key}` needs a file name")));
        }
        file
    }

    /// Reads the tasks of `import_tasks` now and applies the import's own
    /// keywords (`when`, `tags`, `vars` ...) to each of them, as Ansible does.
    fn import_tasks(&mut self, src: &Source, path: &[Seg], key: &str, v: Y, parent: &Task) -> Vec<Task> {
        let (file, at) = match self.task_file_name(src, &child(path, key), key, v) {
            Some(f) => f,
            None => return Vec::new(),
        };
        if is_templated(&file) {
            let d = src.error(src.at(&at), "`import_tasks` cannot take a templated file name").help("use `include_tasks` for a file chosen at run time");
            self.report(d);
            return Vec::new();
        }
        let mut tasks = self.import(src, &at, &file, |l, s, doc| l.task_file(s, doc)).unwrap_or_default();
        apply_import_keywords(&mut tasks, parent);
        tasks
    }

    fn module_call(&mut self, src: &Source, path: &[Seg], key: String, module: &'static str, v: Y, args_keyword: Option<Y>) -> Option<ModuleCall> {
        let kp = child(path, key.as_str());
        let mut args = match args_keyword {
            None => serde_json::Map::new(),
            Some(a @ Y::Mapping(_)) => object(a),
            Some(other) => {
                self.wrong_type(src, &child(path, "args"), "args", &other, "a mapping of module arguments", None);
                return None;
            }
        };
        // Words of a one-line string that are not `key=value`, for a module
        // that is not a command: most modules refuse them.
        let mut free_words = None;
        let own = match v {
            Y::Null => serde_json::Map::new(),
            m @ Y::Mapping(_) => object(m),
            Y::String(_) | Y::Number(_) | Y::Bool(_) => {
                let text = convert::scalar(&v).unwrap_or_default();
                let raw = modules::takes_raw_params(module);
                match free_form::parse(&text, raw) {
                    Ok(split) => {
                        if !raw {
                            free_words = split.get("_raw_params").and_then(Value::as_str).map(str::to_string);
                        }
                        split.into_iter().collect()
                    }
                    Err(Unbalanced) => {
                        let msg = format!("the arguments of `{key}` have an unclosed quote or `{{{{`");
                        self.report(src.error(src.at(&kp), msg));
                        return None;
                    }
                }
            }
            other => {
                let expected = "a mapping of arguments or a `key=value` string";
                self.wrong_type(src, &kp, &key, &other, expected, None);
                return None;
            }
        };
        // The module's own arguments win over `args:`, as in Ansible.
        args.extend(own);
        let args = Value::Object(args);
        if !has_template(&args) {
            if let Err((arg, msg)) = modules::check_args(module, &args) {
                let refuses_free_words = arg == "_raw_params" || msg.contains("_raw_params");
                let d = match free_words {
                    // Say what the user wrote, not how the module reacts to
                    // the `_raw_params` it was turned into.
                    Some(words) if refuses_free_words => src
                        .error(src.at(&kp), format!("`{key}` takes `key=value` arguments, not `{words}`"))
                        .help(format!("write `name=value` words, or the arguments as a mapping under `{key}:`")),
                    _ => src.error(arg_location(src, path, &key, &arg, &msg), msg),
                };
                self.report(d);
            }
        }
        Some(ModuleCall { module: module.to_string(), written_as: key, args, location: src.at_key(&kp) })
    }
}

/// A YAML mapping as a JSON object.
fn object(mapping: Y) -> serde_json::Map<String, Value> {
    match vars::from_yaml(mapping) {
        Value::Object(m) => m,
        // Only called with mappings, which always convert to objects.
        _ => serde_json::Map::new(),
    }
}

/// Whether any string in `v` (keys included) is a template, in which case
/// the arguments can only be checked once rendered.
fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => is_templated(s),
        Value::Array(items) => items.iter().any(has_template),
        Value::Object(map) => map.iter().any(|(k, v)| is_templated(k) || has_template(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Where to point for a complaint about argument `arg` (`mode`, `lines[2]`,
/// `a.b`; empty for the arguments as a whole): its value, or its key when
/// the argument is unknown, where it was written (under the module key or
/// under `args:`). Free-form text has no place per argument: the module's
/// value stands for all of them.
fn arg_location(src: &Source, path: &[Seg], key: &str, arg: &str, msg: &str) -> Location {
    // serde reports an unknown field at the mapping holding it.
    let unknown = msg.contains("unknown");
    let arg = match (arg.is_empty(), msg.split_once("unknown field `")) {
        (true, Some((_, rest))) => rest.split('`').next().unwrap_or(""),
        _ => arg,
    };
    if arg.is_empty() {
        return src.at_key(&child(path, key));
    }
    let segs = arg_path(arg);
    let under_module = [child(path, key), segs.clone()].concat();
    let under_args = [child(path, "args"), segs].concat();
    let written = if !src.has(&under_module) && src.has(&under_args) { under_args } else { under_module };
    if unknown && src.has(&written) {
        src.at_key(&written)
    } else {
        src.at(&written)
    }
}

/// `lines[2].x` as path segments.
fn arg_path(arg: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in arg.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            segs.push(Seg::Key(name.to_string()));
        }
        while let Some((index, after)) = rest.split_once(']') {
            segs.push(match index.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(index.to_string()),
            });
            rest = after.strip_prefix('[').unwrap_or("");
        }
    }
    segs
}

/// Gives each imported task the keywords of the `import_tasks` task: its
/// conditions first, its vars and environment under the task's own.
fn apply_import_keywords(tasks: &mut [Task], parent: &Task) {
    inherit_tags(tasks, &parent.tags);
    for task in tasks {
        task.when.splice(0..0, parent.when.iter().cloned());
        for (mine, theirs) in [(&mut task.vars, &parent.vars), (&mut task.environment, &parent.environment)] {
            let mut merged = theirs.clone();
            overlay(&mut merged, mine);
            *mine = merged;
        }
        task.no_log |= parent.no_log;
        task.ignore_errors |= parent.ignore_errors;
        task.ignore_unreachable |= parent.ignore_unreachable;
        task.run_once |= parent.run_once;
        if task.delegate_to.is_none() {
            task.delegate_to.clone_from(&parent.delegate_to);
        }
        task.check_mode = task.check_mode.or(parent.check_mode);
        task.timeout = task.timeout.or(parent.timeout);
    }
}

/// Ansible keywords ferry knows but does not support, with what to do instead.
fn unsupported_help(key: &str) -> Option<&'static str> {
    Some(match key {
        "local_action" => "run the module with `delegate_to: localhost`",
        "action" => "write the module as the task's key, e.g. `copy: ...`",
        "async" | "poll" => "background tasks are not supported yet",
        "include" => "use `include_tasks` or `import_tasks`",
        "include_role" | "import_role" => "roles are not supported yet; use `import_tasks` on the role's tasks file",
        "throttle" => "limit how many hosts run at once with `serial:` on the play",
        "any_errors_fatal" => "set `any_errors_fatal` on the play",
        "import_playbook" => "`import_playbook` imports plays: put it at the top level of a playbook",
        k if k.starts_with("with_") => "use `loop:` with a filter, e.g. `loop: \"{{ my_dict | dict2items }}\"`",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_paths() {
        assert_eq!(arg_path("mode"), vec![Seg::Key("mode".into())]);
        assert_eq!(arg_path("lines[2]"), vec![Seg::Key("lines".into()), Seg::Index(2)]);
        assert_eq!(arg_path("a[0][1].b"), vec![Seg::Key("a".into()), Seg::Index(0), Seg::Index(1), Seg::Key("b".into())]);
        assert_eq!(arg_path(""), Vec::<Seg>::new());
    }

    #[test]
    fn argument_complaints_point_at_the_argument() {
        let text = "- copy:\n    src: a\n    dst: b\n  args:\n    mode: 7\n";
        let src = match Source::parse(std::path::Path::new("t.yml"), text.as_bytes().to_vec()) {
            Ok((src, _)) => src,
            Err(d) => panic!("{d}"),
        };
        let at = |arg: &str, msg: &str| {
            let loc = arg_location(&src, &[Seg::Index(0)], "copy", arg, msg);
            (loc.line, loc.col)
        };
        let serde_unknown = "invalid arguments for `copy`: unknown field `dst`, expected `src`";
        assert_eq!(at("", serde_unknown), (3, 5));
        assert_eq!(at("dst", "unknown argument `dst`"), (3, 5));
        assert_eq!(at("src", "`src` must be a path"), (2, 10));
        assert_eq!(at("mode", "bad mode"), (5, 11));
        assert_eq!(at("", "`copy` needs `src` or `content`"), (1, 3));
    }
}
