//! One task on one host: variables, `when`, `loop`, delegation, the module,
//! `retries`/`until`, `changed_when`/`failed_when`, `register`, the result event.

use super::play_state::PlayState;
use super::walk::Inherited;
use super::Executor;
use crate::modules::{ModuleCall, ModuleContext, ModuleError, ModuleOutput};
use crate::playbook::{Task, TaskKind};
use crate::report::{Event, Status, TaskResult};
use crate::transport::{Connection, Link, LocalConnection};
use crate::vars::{Value, Vars};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a task did on a host, as the walk needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOutcome {
    /// Ok, changed, skipped or ignored failure: the host goes on.
    Continue,
    /// Failed: the host stops (unless a rescue takes it).
    Failed,
    /// Unreachable: the host stops for the rest of the run.
    Unreachable,
}

/// Placeholder Ansible users write as `{{ omit }}` to drop an argument.
use crate::template::{OMIT, PLAY_HOSTS_ALL, PLAY_HOSTS_LIVE};
const NO_LOG_MSG: &str = "the output has been hidden due to no_log: true";

/// The result of one module execution (one loop item).
struct ItemRun {
    status: Status,
    changed: bool,
    ignored: bool,
    msg: String,
    registered: serde_json::Map<String, Value>,
    output: ModuleOutput,
    delegated_to: Option<String>,
    failure_command: Option<String>,
    stderr: Option<String>,
    stdout: Option<String>,
}

impl Executor {
    pub(super) fn host_unreachable(&self, host: &str) -> bool {
        self.hosts.lock().map(|t| t.get(host).is_some_and(|r| r.unreachable)).unwrap_or(false)
    }

    /// Variables of `host` for `task`, lowest precedence first: inventory,
    /// play vars/vars_files, block vars, task vars, facts/registered, extra vars,
    /// then the magic variables.
    pub(super) fn task_vars(&self, state: &PlayState<'_>, host: &str, inh: &Inherited, task: &Task) -> Vars {
        let mut vars = self.inventory_vars(host);
        crate::vars::overlay(&mut vars, &state.vars);
        crate::vars::overlay(&mut vars, &inh.vars);
        crate::vars::overlay(&mut vars, &task.vars);
        let mut from_hosts = HashSet::new();
        self.with_host(host, |r| {
            crate::vars::overlay(&mut vars, &r.facts);
            from_hosts.extend(r.facts.keys().cloned());
        });
        crate::vars::overlay(&mut vars, &self.cfg.extra_vars);
        from_hosts.retain(|k| !self.cfg.extra_vars.contains_key(k));
        let strs = |v: &[String]| Value::Array(v.iter().map(|s| Value::from(s.as_str())).collect());
        vars.insert("inventory_hostname".into(), Value::from(host));
        vars.insert("inventory_hostname_short".into(), Value::from(host.split('.').next().unwrap_or(host)));
        vars.insert("group_names".into(), strs(&self.inventory.group_names(host)));
        // The play's host lists by reference: the context shares one copy.
        vars.insert("ansible_play_hosts_all".into(), Value::from(PLAY_HOSTS_ALL));
        vars.insert("ansible_play_hosts".into(), Value::from(PLAY_HOSTS_LIVE));
        vars.insert("play_hosts".into(), Value::from(PLAY_HOSTS_LIVE));
        vars.insert("ansible_play_batch".into(), Value::from(PLAY_HOSTS_LIVE));
        vars.insert("ansible_play_name".into(), Value::from(state.play.name.as_str()));
        vars.insert("playbook_dir".into(), Value::from(state.playbook_dir.to_string_lossy().as_ref()));
        vars.insert("ansible_check_mode".into(), Value::Bool(self.cfg.check));
        vars.insert("ansible_diff_mode".into(), Value::Bool(self.cfg.diff));
        vars.insert("ansible_forks".into(), Value::from(self.cfg.forks));
        let run_tags = if self.cfg.tags.is_empty() { vec!["all".to_string()] } else { self.cfg.tags.clone() };
        vars.insert("ansible_run_tags".into(), strs(&run_tags));
        vars.insert("ansible_skip_tags".into(), strs(&self.cfg.skip_tags));
        vars.insert("omit".into(), Value::from(OMIT));
        self.resolve_nested_templates(state, &mut vars, from_hosts);
        vars
    }

    /// Variables whose values are templates themselves (`a: "{{ b }}"`) are
    /// rendered, as Ansible's lazy templating would, each once. `settled` are
    /// never rendered: what hosts returned (registered results, set_fact) is
    /// data even when it reads like a template, and rendering a host's
    /// `{{ lookup('env', 'TOKEN') }}` would hand it the controller's secrets.
    fn resolve_nested_templates(&self, state: &PlayState<'_>, vars: &mut Vars, mut settled: HashSet<String>) {
        // Each round settles at least one variable, so this ends.
        loop {
            let due = due_for_render(vars, &settled, |v| self.value_refs(v));
            if due.is_empty() {
                return;
            }
            let ctx = self.context_for(state, vars);
            for k in due {
                if let Some(v) = vars.get(&k) {
                    if let Ok(rendered) = self.templates.render_value(v, &ctx) {
                        vars.insert(k.clone(), rendered);
                    }
                }
                // Rendered values are final, whatever text they now hold.
                settled.insert(k);
            }
        }
    }

    /// The variable names a (possibly nested) value's templates read.
    fn value_refs(&self, v: &Value) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        match v {
            Value::String(s) if s.contains("{{") || s.contains("{%") => {
                if let Ok(names) = self.templates.referenced_vars(s, false) {
                    out.extend(names);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| out.extend(self.value_refs(x))),
            Value::Object(m) => m.values().for_each(|x| out.extend(self.value_refs(x))),
            _ => {}
        }
        out
    }

    /// The render context for `vars`, with the play's shared parts (hostvars,
    /// groups, host lists).
    pub(super) fn context_for(&self, state: &PlayState<'_>, vars: &Vars) -> minijinja::Value {
        let shared = match state.shared() {
            Some(s) => s,
            None => {
                let mut hostvars = indexmap::IndexMap::new();
                for h in self.inventory.hosts() {
                    let mut v = self.inventory_vars(h.name());
                    if let Ok(table) = self.hosts.lock() {
                        if let Some(r) = table.get(h.name()) {
                            crate::vars::overlay(&mut v, &r.facts);
                        }
                    }
                    v.insert("inventory_hostname".into(), Value::from(h.name()));
                    hostvars.insert(h.name().to_string(), v);
                }
                let s = Arc::new(crate::template::SharedContext::new(Arc::new(hostvars), &self.inventory.groups_map()));
                state.set_shared(s.clone());
                s
            }
        };
        self.templates.play_context(vars, &state.play_hosts(), &shared)
    }

    pub(super) fn fail_host_msg(&self, state: &PlayState<'_>, task: &Task, host: &str, msg: &str, inh: &Inherited) {
        self.with_host(host, |r| {
            if !inh.rescuable {
                r.stats.failed += 1;
                r.failed = true;
            }
        });
        let _ = state;
        self.sink.emit(Event::TaskResult(bare_result(task, host, Status::Failed, msg, 0, false)));
    }

    /// Runs `task` on `host` and records everything about it; `ahead` are
    /// the tasks after it, whose observes may share its round trip.
    pub(super) async fn run_on_host(&self, state: &PlayState<'_>, task: &Task, ahead: &[Task], host: &str, inh: &Inherited) -> HostOutcome {
        let TaskKind::Module(call) = &task.kind else { return HostOutcome::Continue };
        let started = Instant::now();
        let mut vars = self.task_vars(state, host, inh, task);
        let no_log = task.no_log || inh.no_log;
        let ignore_errors = task.ignore_errors || inh.ignore_errors;
        let conditions: Vec<&String> = inh.when.iter().chain(task.when.iter()).collect();

        // A loop's items each observe for themselves.
        let ahead = if task.loop_items.is_some() { &[] } else { ahead };
        let items = match &task.loop_items {
            None => None,
            Some(spec) => {
                let ctx = self.context_for(state, &vars);
                match self.loop_items(spec, &ctx) {
                    Ok(items) => Some(items),
                    Err(e) => return self.finish_error(state, task, host, inh, &format!("loop: {e}"), started),
                }
            }
        };

        let loop_var = task.loop_control.loop_var.clone().unwrap_or_else(|| "item".into());
        let mut runs: Vec<(Option<String>, ItemRun)> = Vec::new();
        let mut used_items: Vec<Value> = Vec::new();
        let mut unreachable: Option<String> = None;
        let item_list: Vec<Option<Value>> = match &items {
            None => vec![None],
            Some(list) => list.iter().cloned().map(Some).collect(),
        };
        let total = item_list.len();
        for (index, item) in item_list.into_iter().enumerate() {
            if let Some(item) = &item {
                vars.insert(loop_var.clone(), item.clone());
                if let Some(iv) = &task.loop_control.index_var {
                    vars.insert(iv.clone(), Value::from(index));
                }
                vars.insert(
                    "ansible_loop".into(),
                    serde_json::json!({"index": index + 1, "index0": index, "first": index == 0, "last": index + 1 == total, "length": total}),
                );
            }
            let mut label = None;
            let mut when_ok = true;
            // Only a loop label or a `when` needs a context before the
            // module's. `execute` renders with a context of its own: two alive
            // at once would hold every variable (registered output too) twice more.
            if item.is_some() || !conditions.is_empty() {
                let ctx = self.context_for(state, &vars);
                label = item.as_ref().map(|it| self.item_label(task, it, &ctx));
                // `when` is evaluated per item, as in Ansible.
                for cond in &conditions {
                    match self.templates.eval_condition(cond, &ctx) {
                        Ok(true) => {}
                        Ok(false) => {
                            when_ok = false;
                            break;
                        }
                        Err(e) => return self.finish_error(state, task, host, inh, &format!("`when: {cond}` could not be evaluated: {e}"), started),
                    }
                }
            }
            used_items.push(item.clone().unwrap_or(Value::Null));
            if !when_ok {
                let mut registered = serde_json::Map::new();
                registered.insert("changed".into(), Value::Bool(false));
                registered.insert("skipped".into(), Value::Bool(true));
                registered.insert("skip_reason".into(), Value::from("Conditional result was False"));
                runs.push((
                    label,
                    ItemRun {
                        status: Status::Skipped,
                        changed: false,
                        ignored: false,
                        msg: String::new(),
                        registered,
                        output: ModuleOutput::default(),
                        delegated_to: None,
                        failure_command: None,
                        stderr: None,
                        stdout: None,
                    },
                ));
                continue;
            }
            match self.execute(state, task, ahead, call, host, &mut vars, inh, ignore_errors).await {
                Ok(run) => {
                    for s in &run.output.secrets {
                        self.sink.masker().add(s);
                    }
                    runs.push((label, run));
                }
                Err(reason) => {
                    used_items.pop();
                    unreachable = Some(reason);
                    break;
                }
            }
        }

        if let Some(reason) = unreachable {
            return self.finish_unreachable(task, host, &reason, started, task.ignore_unreachable);
        }
        self.finish(state, task, host, inh, items.is_some(), runs, &used_items, no_log, started)
    }

    fn item_label(&self, task: &Task, item: &Value, ctx: &minijinja::Value) -> String {
        if let Some(label) = &task.loop_control.label {
            if let Ok(s) = self.templates.render_str(label, ctx) {
                return s;
            }
        }
        match item {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    pub(super) fn loop_items(&self, spec: &Value, ctx: &minijinja::Value) -> Result<Vec<Value>, String> {
        let rendered = match spec {
            Value::String(s) => {
                let v = self.templates.render_value(&Value::String(s.clone()), ctx).map_err(|e| e.to_string())?;
                match v {
                    Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    other => other,
                }
            }
            other => self.templates.render_value(other, ctx).map_err(|e| e.to_string())?,
        };
        match rendered {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(Vec::new()),
            other => Err(format!("expected a list, got {}", short(&other))),
        }
    }

    /// Runs the module once (with retries) and applies changed_when/failed_when.
    /// `Err` means the host is unreachable.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        state: &PlayState<'_>,
        task: &Task,
        ahead: &[Task],
        call: &crate::playbook::ModuleCall,
        host: &str,
        vars: &mut Vars,
        inh: &Inherited,
        ignore_errors: bool,
    ) -> Result<ItemRun, String> {
        let attempts = if task.until.is_empty() { 1 } else { task.retries.unwrap_or(3) + 1 };
        let delay = Duration::from_secs_f64(task.delay.unwrap_or(5.0).clamp(0.0, 3600.0));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ctx = self.context_for(state, vars);
            let mut run = match self.execute_module(state, task, ahead, call, host, vars, &ctx, inh).await? {
                Ok(run) => run,
                Err(msg) => ItemRun {
                    status: Status::Failed,
                    changed: false,
                    ignored: false,
                    msg,
                    registered: Default::default(),
                    output: ModuleOutput { failed: true, ..Default::default() },
                    delegated_to: None,
                    failure_command: None,
                    stderr: None,
                    stdout: None,
                },
            };
            // The registered result, visible to changed_when/failed_when/until.
            // Moved, not copied: a command's output may be megabytes.
            let mut registered = std::mem::take(&mut run.output.result);
            registered.insert("changed".into(), Value::Bool(run.changed));
            registered.insert("failed".into(), Value::Bool(run.status == Status::Failed));
            if !run.msg.is_empty() {
                registered.insert("msg".into(), Value::from(run.msg.clone()));
            }
            if run.status == Status::Skipped {
                registered.insert("skipped".into(), Value::Bool(true));
            }
            let needs_eval = !task.changed_when.is_empty() || !task.failed_when.is_empty() || !task.until.is_empty();
            if needs_eval {
                let mut eval_vars = vars.clone();
                if let Some(name) = &task.register {
                    eval_vars.insert(name.clone(), Value::Object(registered.clone()));
                }
                // Result keys are visible bare too (`rc`, `stdout`), as Ansible allows in these conditions.
                for (k, v) in &registered {
                    eval_vars.entry(k.clone()).or_insert_with(|| v.clone());
                }
                let ectx = self.context_for(state, &eval_vars);
                if !task.changed_when.is_empty() && run.status != Status::Skipped {
                    match all_true(&self.templates, &task.changed_when, &ectx) {
                        Ok(c) => {
                            run.changed = c;
                            if run.status == Status::Changed && !c {
                                run.status = Status::Ok;
                            } else if run.status == Status::Ok && c {
                                run.status = Status::Changed;
                            }
                        }
                        Err(e) => {
                            run.status = Status::Failed;
                            run.msg = format!("changed_when could not be evaluated: {e}");
                        }
                    }
                }
                if !task.failed_when.is_empty() && run.status != Status::Skipped {
                    match any_true(&self.templates, &task.failed_when, &ectx) {
                        Ok(true) => {
                            run.status = Status::Failed;
                            if run.msg.is_empty() {
                                run.msg = format!("failed_when: {}", task.failed_when.join(" or "));
                            }
                        }
                        Ok(false) => {
                            if run.status == Status::Failed {
                                run.status = if run.changed { Status::Changed } else { Status::Ok };
                                run.msg.clear();
                            }
                        }
                        Err(e) => {
                            run.status = Status::Failed;
                            run.msg = format!("failed_when could not be evaluated: {e}");
                        }
                    }
                }
                registered.insert("changed".into(), Value::Bool(run.changed));
                registered.insert("failed".into(), Value::Bool(run.status == Status::Failed));
                if !task.until.is_empty() {
                    if let Some(name) = &task.register {
                        eval_vars.insert(name.clone(), Value::Object(registered.clone()));
                    }
                    let uctx = self.context_for(state, &eval_vars);
                    let done = all_true(&self.templates, &task.until, &uctx).unwrap_or(false);
                    registered.insert("attempts".into(), Value::from(attempt));
                    if !done {
                        if attempt < attempts && !self.is_interrupted() {
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                        run.status = Status::Failed;
                        run.msg = format!(
                            "retries exhausted after {attempt} attempts: until `{}` never held{}",
                            task.until.join(" and "),
                            if run.msg.is_empty() { String::new() } else { format!(" (last: {})", run.msg) }
                        );
                        registered.insert("failed".into(), Value::Bool(true));
                    }
                }
            }
            if run.status == Status::Failed && ignore_errors {
                run.ignored = true;
            }
            run.registered = registered;
            // Facts from set_fact apply at once, for the next loop item too.
            if !run.output.facts.is_empty() {
                for (k, v) in &run.output.facts {
                    vars.insert(k.clone(), v.clone());
                }
            }
            return Ok(run);
        }
    }

    /// Renders args, builds the module, picks the connection and runs it.
    /// Outer `Err` = unreachable; inner `Err` = a failure message.
    #[allow(clippy::too_many_arguments)]
    async fn execute_module(
        &self,
        state: &PlayState<'_>,
        task: &Task,
        ahead: &[Task],
        call: &crate::playbook::ModuleCall,
        host: &str,
        vars: &Vars,
        ctx: &minijinja::Value,
        inh: &Inherited,
    ) -> Result<Result<ItemRun, String>, String> {
        let rendered = match self.templates.render_value(&call.args, ctx) {
            Ok(v) => strip_omit(v),
            Err(e) => return Ok(Err(format!("{e} (in the arguments of task `{}` at {})", task.display_name(), call.location))),
        };
        let module = match ModuleCall::from_args(&call.module, &rendered) {
            Ok(m) => m,
            Err((_, msg)) => return Ok(Err(msg)),
        };
        if let ModuleCall::Meta(action) = &module {
            return Ok(Ok(self.meta(state, action, host).await));
        }
        let delegate = match task.delegate_to.as_ref().or(inh.delegate_to.as_ref()) {
            None => None,
            Some(d) => match self.templates.render_str(d, ctx) {
                Ok(name) => Some(name),
                Err(e) => return Ok(Err(format!("delegate_to: {e}"))),
            },
        };
        let env: Vec<(String, String)> = {
            let mut all = inh.environment.clone();
            crate::vars::overlay(&mut all, &task.environment);
            let mut out = Vec::new();
            for (k, v) in all {
                match self.templates.render_value(&v, ctx) {
                    Ok(Value::String(s)) => out.push((k, s)),
                    Ok(other) => out.push((k, other.to_string())),
                    Err(e) => return Ok(Err(format!("environment `{k}`: {e}"))),
                }
            }
            out
        };
        let controller_conn;
        let remote_conn: Arc<Connection>;
        let conn: &Connection = if module.is_controller_only() {
            controller_conn = Connection::new(Link::Local(LocalConnection::new("localhost")));
            &controller_conn
        } else {
            let target = delegate.clone().unwrap_or_else(|| host.to_string());
            // The inventory answers for `localhost` (Ansible's implicit localhost,
            // `ansible_connection: local`), so a delegate is either a host or an error.
            let target_vars = match (&delegate, self.inventory.host(&target)) {
                (None, _) => Cow::Borrowed(vars),
                (Some(_), Some(_)) => {
                    let mut tv = self.inventory_vars(&target);
                    self.resolve_nested_templates(state, &mut tv, HashSet::new());
                    Cow::Owned(tv)
                }
                (Some(_), None) => return Ok(Err(format!("delegate_to `{target}` is not a host of the inventory"))),
            };
            let force_local = state.play.connection.as_deref() == Some("local");
            let spec = match self.pool.spec_for(&target, &target_vars, force_local) {
                Ok(s) => s,
                Err(e) => return Ok(Err(e.to_string())),
            };
            match self.pool.get(&target, &spec).await {
                Ok(c) => {
                    remote_conn = c;
                    &remote_conn
                }
                Err(e) if e.is_unreachable() && delegate.is_none() => return Err(e.to_string()),
                Err(e) => return Ok(Err(e.to_string())),
            }
        };
        let timeout = task.timeout.map(|t| Duration::from_secs_f64(t.clamp(0.1, 86400.0))).unwrap_or(self.cfg.command_timeout);
        let check = task.check_mode.unwrap_or(self.cfg.check);
        let sink = self.sink.clone();
        let (progress_host, progress_task) = (host.to_string(), task.display_name());
        let progress = move |key: &str, done: u64, total: u64, msg: &str| {
            sink.emit(Event::Progress { host: progress_host.clone(), task: progress_task.clone(), key: key.to_string(), done, total, msg: msg.to_string() });
        };
        let cx = ModuleContext {
            host,
            conn,
            timeout,
            env: &env,
            diff: self.cfg.diff,
            check,
            templates: &self.templates,
            vars_ctx: ctx,
            search_dirs: &state.search_dirs,
            progress: &progress,
        };
        let observed_ahead = if delegate.is_none() && env.is_empty() && !module.is_controller_only() {
            Box::pin(self.observe_ahead(state, &module, host, inh, conn, ahead, timeout)).await
        } else {
            Ok(())
        };
        // Boxed: module futures differ widely in size (the largest is about
        // 10 KB), and inline they made every host's task future that large,
        // copied each time the task's hosts are gathered and polled together.
        let ran = match observed_ahead {
            // The batch held this task's own observe: its failure is the task's.
            Err(e) => Err(ModuleError::Transport(e)),
            Ok(()) => Box::pin(module.run(&cx)).await,
        };
        let output = match ran {
            Ok(o) => o,
            Err(ModuleError::Transport(e)) if e.is_unreachable() && delegate.is_none() => return Err(e.to_string()),
            Err(ModuleError::Transport(e)) => ModuleOutput { failed: true, msg: e.to_string(), ..Default::default() },
            Err(ModuleError::Failed(f)) => {
                let mut result = serde_json::Map::new();
                if let Some(rc) = f.rc {
                    result.insert("rc".into(), Value::from(rc));
                }
                return Ok(Ok(ItemRun {
                    status: Status::Failed,
                    changed: false,
                    ignored: false,
                    msg: f.msg,
                    registered: Default::default(),
                    output: ModuleOutput { failed: true, result, rc: f.rc, ..Default::default() },
                    delegated_to: delegate,
                    failure_command: f.command,
                    stderr: f.stderr,
                    stdout: f.stdout,
                }));
            }
        };
        let status = if output.failed {
            Status::Failed
        } else if output.skipped {
            Status::Skipped
        } else if output.changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let (stdout, stderr) =
            (output.result.get("stdout").and_then(Value::as_str).map(str::to_owned), output.result.get("stderr").and_then(Value::as_str).map(str::to_owned));
        Ok(Ok(ItemRun {
            status,
            changed: output.changed,
            ignored: false,
            msg: output.msg.clone(),
            registered: Default::default(),
            failure_command: output.command.clone(),
            output,
            delegated_to: delegate,
            stderr,
            stdout,
        }))
    }

    async fn meta(&self, state: &PlayState<'_>, action: &str, host: &str) -> ItemRun {
        let ok = |msg: &str| ItemRun {
            status: Status::Ok,
            changed: false,
            ignored: false,
            msg: msg.to_string(),
            registered: Default::default(),
            output: ModuleOutput::default(),
            delegated_to: None,
            failure_command: None,
            stderr: None,
            stdout: None,
        };
        match action {
            "end_host" => {
                state.end_host(host);
                ok("host ended its play")
            }
            "end_play" => {
                state.end_play();
                ok("play ended")
            }
            "flush_handlers" => {
                // Handlers are flushed by the first host that reaches this;
                // the others find nothing left to flush.
                Box::pin(self.flush_handlers(state)).await;
                ok("")
            }
            "clear_host_errors" => {
                if let Ok(mut t) = self.hosts.lock() {
                    for r in t.values_mut() {
                        r.failed = false;
                    }
                }
                ok("")
            }
            _ => ok(""),
        }
    }

    fn finish_error(&self, state: &PlayState<'_>, task: &Task, host: &str, inh: &Inherited, msg: &str, started: Instant) -> HostOutcome {
        let ignore = task.ignore_errors || inh.ignore_errors;
        self.with_host(host, |r| {
            if ignore {
                r.stats.ignored += 1;
                r.stats.ok += 1;
            } else if !inh.rescuable {
                r.stats.failed += 1;
                r.failed = true;
            }
        });
        let _ = state;
        self.sink.emit(Event::TaskResult(bare_result(task, host, Status::Failed, msg, started.elapsed().as_millis() as u64, ignore)));
        if ignore {
            HostOutcome::Continue
        } else {
            HostOutcome::Failed
        }
    }

    fn finish_unreachable(&self, task: &Task, host: &str, reason: &str, started: Instant, ignore: bool) -> HostOutcome {
        self.with_host(host, |r| {
            if ignore {
                r.stats.ignored += 1;
            } else {
                r.stats.unreachable = 1;
                r.unreachable = true;
            }
        });
        self.sink.emit(Event::TaskResult(bare_result(task, host, Status::Unreachable, reason, started.elapsed().as_millis() as u64, ignore)));
        if ignore {
            HostOutcome::Continue
        } else {
            HostOutcome::Unreachable
        }
    }

    /// Records results: events, counters, register, facts, notify.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        state: &PlayState<'_>,
        task: &Task,
        host: &str,
        inh: &Inherited,
        looped: bool,
        mut runs: Vec<(Option<String>, ItemRun)>,
        used_items: &[Value],
        no_log: bool,
        started: Instant,
    ) -> HostOutcome {
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let any_changed = runs.iter().any(|(_, r)| r.changed && r.status != Status::Skipped);
        let any_failed = runs.iter().any(|(_, r)| r.status == Status::Failed && !r.ignored);
        let any_ignored = runs.iter().any(|(_, r)| r.ignored);
        let all_skipped = !runs.is_empty() && runs.iter().all(|(_, r)| r.status == Status::Skipped) || (looped && runs.is_empty());
        let mut facts_changed = false;

        for (label, run) in runs.iter_mut() {
            let mut result = TaskResult {
                host: host.to_string(),
                delegated_to: run.delegated_to.clone(),
                task: task.display_name(),
                module: task.module_name().to_string(),
                status: run.status,
                changed: run.changed && run.status != Status::Skipped,
                msg: run.msg.clone(),
                elapsed_ms,
                item: label.clone(),
                diff: run.output.diffs.clone(),
                rc: run.output.rc,
                command: if run.status == Status::Failed { run.failure_command.clone() } else { None },
                stdout: run.stdout.take(),
                stderr: run.stderr.take(),
                ignored: run.ignored,
                no_log,
                location: task.location.to_string(),
            };
            if no_log {
                result.msg = NO_LOG_MSG.to_string();
                result.diff.clear();
                result.command = None;
                result.stdout = None;
                result.stderr = None;
                result.item = label.as_ref().map(|_| "(item hidden by no_log)".to_string());
            }
            self.sink.emit(Event::TaskResult(result));
        }

        let registered = if looped {
            let results: Vec<Value> = runs
                .iter_mut()
                .zip(used_items)
                .map(|((_, r), item)| {
                    let mut m = std::mem::take(&mut r.registered);
                    m.insert("item".into(), item.clone());
                    Value::Object(m)
                })
                .collect();
            let mut m = serde_json::Map::new();
            m.insert("changed".into(), Value::Bool(any_changed));
            m.insert("failed".into(), Value::Bool(any_failed));
            m.insert("skipped".into(), Value::Bool(all_skipped));
            m.insert("msg".into(), Value::from(if any_failed { "One or more items failed" } else { "All items completed" }));
            m.insert("results".into(), Value::Array(results));
            Some(m)
        } else {
            runs.first_mut().map(|(_, r)| std::mem::take(&mut r.registered))
        };

        self.with_host(host, |rt| {
            if let (Some(name), Some(reg)) = (&task.register, registered) {
                rt.facts.insert(name.clone(), Value::Object(reg));
                facts_changed = true;
            }
            for (_, run) in &runs {
                for (k, v) in &run.output.facts {
                    rt.facts.insert(k.clone(), v.clone());
                    facts_changed = true;
                }
            }
            if all_skipped {
                rt.stats.skipped += 1;
            } else if any_failed {
                if !inh.rescuable {
                    rt.stats.failed += 1;
                    rt.failed = true;
                }
            } else {
                rt.stats.ok += 1;
                if any_changed {
                    rt.stats.changed += 1;
                }
                if any_ignored {
                    rt.stats.ignored += 1;
                }
            }
        });
        if facts_changed {
            state.invalidate_shared();
        }
        if any_changed && !any_failed {
            for n in &task.notify {
                state.notify(host, n);
            }
        }
        if any_failed {
            HostOutcome::Failed
        } else {
            HostOutcome::Continue
        }
    }
}

/// A result with no module output: errors before or around the module.
fn bare_result(task: &Task, host: &str, status: Status, msg: &str, elapsed_ms: u64, ignored: bool) -> TaskResult {
    TaskResult {
        host: host.to_string(),
        delegated_to: None,
        task: task.display_name(),
        module: task.module_name().to_string(),
        status,
        changed: false,
        msg: msg.to_string(),
        elapsed_ms,
        item: None,
        diff: Vec::new(),
        rc: None,
        command: None,
        stdout: None,
        stderr: None,
        ignored,
        no_log: false,
        location: task.location.to_string(),
    }
}

fn all_true(t: &crate::template::Templates, conds: &[String], ctx: &minijinja::Value) -> Result<bool, crate::template::TemplateError> {
    for c in conds {
        if !t.eval_condition(c, ctx)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn any_true(t: &crate::template::Templates, conds: &[String], ctx: &minijinja::Value) -> Result<bool, crate::template::TemplateError> {
    for c in conds {
        if t.eval_condition(c, ctx)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The templated variables to render next, in dependency order: those not
/// `settled` whose templates read no other variable still waiting, so
/// `a: "{{ b }}"` with `b: "{{ c }}"` never sees b's raw template text. When
/// only a cycle is left, all of it (rendered as it stands). `refs` names the
/// variables a value reads.
fn due_for_render(vars: &Vars, settled: &HashSet<String>, refs: impl Fn(&Value) -> BTreeSet<String>) -> Vec<String> {
    let waiting: Vec<&String> = vars.iter().filter(|(k, v)| !settled.contains(*k) && has_template(v)).map(|(k, _)| k).collect();
    let pending: HashSet<&str> = waiting.iter().map(|k| k.as_str()).collect();
    let ready: Vec<String> = waiting
        .iter()
        .filter(|k| vars.get(k.as_str()).is_some_and(|v| refs(v).iter().all(|r| r == **k || !pending.contains(r.as_str()))))
        .map(|k| (*k).clone())
        .collect();
    if ready.is_empty() {
        waiting.into_iter().cloned().collect()
    } else {
        ready
    }
}

fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(a) => a.iter().any(has_template),
        Value::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

/// Drops arguments whose value is the `omit` placeholder.
pub(super) fn strip_omit(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| v.as_str() != Some(OMIT)).map(|(k, v)| (k, strip_omit(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().filter(|v| v.as_str() != Some(OMIT)).map(strip_omit).collect()),
        other => other,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.char_indices().nth(77).map(|(i, _)| i).unwrap_or(s.len())])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names directly inside `{{ }}`: enough for these values.
    fn refs(v: &Value) -> BTreeSet<String> {
        let text = v.to_string();
        text.split("{{")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next())
            .map(|w| w.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
            .collect()
    }

    fn vars(pairs: &[(&str, Value)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn names(list: &[&str]) -> HashSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nested_variables_render_in_dependency_order() {
        let v = vars(&[("a", Value::from("{{ b }}")), ("b", Value::from("{{ c }}")), ("c", Value::from("plain"))]);
        assert_eq!(due_for_render(&v, &names(&[]), refs), ["b"]);
        assert_eq!(due_for_render(&v, &names(&["b"]), refs), ["a"]);
        assert!(due_for_render(&v, &names(&["a", "b"]), refs).is_empty());
        // a cycle is rendered as it stands, all at once
        let cycle = vars(&[("x", Value::from("{{ y }}")), ("y", Value::from("{{ x }}"))]);
        assert_eq!(due_for_render(&cycle, &names(&[]), refs), ["x", "y"]);
    }

    #[test]
    fn what_hosts_returned_is_never_rendered() {
        let from_host = serde_json::json!({"stdout": "{{ lookup('env', 'TOKEN') }}", "rc": 0});
        let v = vars(&[("out", from_host), ("shown", Value::from("{{ out.stdout }}"))]);
        // the play var reading it is rendered (once); the registered result never
        assert_eq!(due_for_render(&v, &names(&["out"]), refs), ["shown"]);
        assert!(due_for_render(&v, &names(&["out", "shown"]), refs).is_empty());
    }
}
