//! The parsed playbook: plays, tasks, blocks. Every node keeps its [`Location`]
//! so that errors found later (at plan or run time) still point into the file.

use crate::diagnostic::Location;
use crate::vars::{Value, Vars};
use std::path::PathBuf;

/// A playbook file after `import_playbook` has been expanded: a flat list of plays.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The file the user named.
    pub path: PathBuf,
    /// Plays in run order (imported playbooks spliced in place).
    pub plays: Vec<Play>,
}

/// How many hosts a play runs at once (`serial:`).
#[derive(Debug, Clone, PartialEq)]
pub enum Serial {
    /// A fixed batch size.
    Count(usize),
    /// A percentage of the play's hosts (at least one host per batch).
    Percent(f64),
    /// Successive batch sizes; the last repeats (`serial: [1, 5, "50%"]`).
    Steps(Vec<Serial>),
}

/// One play.
#[derive(Debug, Clone)]
pub struct Play {
    /// `name:`, or the host pattern when absent.
    pub name: String,
    /// Host pattern, possibly templated (`hosts:`).
    pub hosts: String,
    /// `vars:` in file order.
    pub vars: Vars,
    /// `vars_files:` resolved relative to the playbook's folder, loaded at parse time.
    pub vars_files: Vec<PathBuf>,
    /// `serial:`.
    pub serial: Option<Serial>,
    /// `max_fail_percentage:`.
    pub max_fail_percentage: Option<f64>,
    /// `any_errors_fatal:`.
    pub any_errors_fatal: bool,
    /// `connection:` (`ssh` or `local`).
    pub connection: Option<String>,
    /// `gather_facts:` is accepted for Ansible compatibility; ferry never gathers facts.
    pub gather_facts: Option<bool>,
    /// `tags:` on the play, inherited by every task.
    pub tags: Vec<String>,
    /// `tasks:` (also `pre_tasks:` before them and `post_tasks:` after them).
    pub tasks: Vec<Task>,
    /// `handlers:`.
    pub handlers: Vec<Task>,
    /// Where `- name:`/`- hosts:` of this play starts.
    pub location: Location,
}

/// What a task does.
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// A module call: `copy: {src: a, dest: b}` or `command: echo hi`.
    Module(ModuleCall),
    /// `block:` with its `rescue:` and `always:` sections.
    Block {
        /// `block:`
        block: Vec<Task>,
        /// `rescue:`
        rescue: Vec<Task>,
        /// `always:`
        always: Vec<Task>,
    },
    /// `include_tasks: FILE` — read when reached at run time (the file name may be templated).
    IncludeTasks {
        /// The file as written (may contain `{{ }}`).
        file: String,
        /// The folder relative file names are resolved against.
        base_dir: PathBuf,
    },
}

/// A module name with its raw (not yet templated) arguments.
#[derive(Debug, Clone)]
pub struct ModuleCall {
    /// Canonical short name: `ansible.builtin.copy` and `copy` are both `copy`.
    pub module: String,
    /// The name as the user wrote it (for messages).
    pub written_as: String,
    /// Arguments as a JSON object. The free form (`command: echo hi`,
    /// `shell: ...`) becomes `{"_raw_params": "echo hi"}`; `key=value` short
    /// forms are split into the object as Ansible does.
    pub args: Value,
    /// Where the module key is, for argument errors.
    pub location: Location,
}

/// `loop_control:`
#[derive(Debug, Clone, Default)]
pub struct LoopControl {
    /// `label:` template shown instead of the whole item.
    pub label: Option<String>,
    /// `loop_var:` (default `item`).
    pub loop_var: Option<String>,
    /// `index_var:`
    pub index_var: Option<String>,
}

/// One task (or block, or include) with its keywords.
#[derive(Debug, Clone)]
pub struct Task {
    /// `name:`
    pub name: Option<String>,
    /// What the task does.
    pub kind: TaskKind,
    /// `when:` conditions, all of which must hold (a string or a list in the file).
    pub when: Vec<String>,
    /// `loop:` / `with_items:` — a list, or a template string that renders to one.
    pub loop_items: Option<Value>,
    /// `loop_control:`
    pub loop_control: LoopControl,
    /// `register:`
    pub register: Option<String>,
    /// `tags:` (inherited ones added by the parser: play and enclosing blocks).
    pub tags: Vec<String>,
    /// `notify:` handler names (or `listen:` topics).
    pub notify: Vec<String>,
    /// `listen:` topics, for handlers.
    pub listen: Vec<String>,
    /// `no_log:`
    pub no_log: bool,
    /// `ignore_errors:`
    pub ignore_errors: bool,
    /// `ignore_unreachable:`
    pub ignore_unreachable: bool,
    /// `changed_when:` conditions (empty = module decides). A literal `false`/`true` is a condition too.
    pub changed_when: Vec<String>,
    /// `failed_when:` conditions (empty = module decides).
    pub failed_when: Vec<String>,
    /// `retries:` (with `until:`; default 3 when `until` is set).
    pub retries: Option<u32>,
    /// `until:` conditions.
    pub until: Vec<String>,
    /// `delay:` seconds between retries (default 5).
    pub delay: Option<f64>,
    /// `delegate_to:` host name (may be templated; `localhost` runs on the controller).
    pub delegate_to: Option<String>,
    /// `run_once:`
    pub run_once: bool,
    /// `vars:` on the task.
    pub vars: Vars,
    /// `environment:` for module commands.
    pub environment: Vars,
    /// `check_mode:` forced on/off for this task.
    pub check_mode: Option<bool>,
    /// `timeout:` seconds for this task's commands.
    pub timeout: Option<f64>,
    /// Where the task's first key is.
    pub location: Location,
}

impl Task {
    /// The module name, or `block` / `include_tasks`.
    pub fn module_name(&self) -> &str {
        match &self.kind {
            TaskKind::Module(m) => &m.module,
            TaskKind::Block { .. } => "block",
            TaskKind::IncludeTasks { .. } => "include_tasks",
        }
    }

    /// The name shown to users: `name:`, else `module args` shortened.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match &self.kind {
            TaskKind::Module(m) => match m.args.get("_raw_params").and_then(Value::as_str) {
                Some(raw) => format!("{} {}", m.module, raw),
                None => m.module.clone(),
            },
            TaskKind::Block { .. } => "block".to_string(),
            TaskKind::IncludeTasks { file, .. } => format!("include_tasks {file}"),
        }
    }
}
