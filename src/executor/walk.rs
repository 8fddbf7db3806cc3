//! Walking a task list on a set of hosts: blocks with rescue/always,
//! include_tasks, run_once, and the barrier between tasks (linear strategy).

use super::play_state::PlayState;
use super::task_run::HostOutcome;
use super::Executor;
use crate::playbook::{Task, TaskKind};
use crate::report::Event;
use crate::vars::{Value, Vars};
use futures::future::BoxFuture;

/// The hosts that include one file for one loop item.
struct IncludeGroup {
    /// The item's position in the loop (0 without a loop).
    index: usize,
    path: std::path::PathBuf,
    /// The loop variable and its value.
    item: Option<(String, Value)>,
    hosts: Vec<String>,
}

/// What enclosing blocks pass down to their tasks.
#[derive(Debug, Clone, Default)]
pub struct Inherited {
    /// `when:` of enclosing blocks (all must hold).
    pub when: Vec<String>,
    /// `vars:` of enclosing blocks.
    pub vars: Vars,
    /// `environment:` of enclosing blocks.
    pub environment: Vars,
    /// `no_log:` set on an enclosing block.
    pub no_log: bool,
    /// `ignore_errors:` set on an enclosing block.
    pub ignore_errors: bool,
    /// `delegate_to:` set on an enclosing block.
    pub delegate_to: Option<String>,
    /// A failure here will be handled by an enclosing `rescue:`.
    pub rescuable: bool,
}

impl Inherited {
    fn child(&self, block: &Task, rescuable: bool) -> Inherited {
        let mut c = self.clone();
        c.when.extend(block.when.iter().cloned());
        crate::vars::overlay(&mut c.vars, &block.vars);
        crate::vars::overlay(&mut c.environment, &block.environment);
        c.no_log |= block.no_log;
        c.ignore_errors |= block.ignore_errors;
        if block.delegate_to.is_some() {
            c.delegate_to = block.delegate_to.clone();
        }
        c.rescuable = rescuable;
        c
    }
}

impl Executor {
    /// Runs `tasks` on `hosts`; returns the hosts that failed (and were not rescued).
    pub(super) fn walk<'a>(&'a self, state: &'a PlayState<'a>, tasks: &'a [Task], hosts: Vec<String>, inh: &'a Inherited) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut active = hosts;
            let mut failed: Vec<String> = Vec::new();
            for (index, task) in tasks.iter().enumerate() {
                active.retain(|h| !state.host_ended(h) && !self.host_unreachable(h));
                if active.is_empty() || state.aborted() || self.is_interrupted() {
                    break;
                }
                let newly_failed = match &task.kind {
                    TaskKind::Block { block, rescue, always } => self.run_block(state, task, block, rescue, always, &active, inh).await,
                    TaskKind::IncludeTasks { .. } => self.run_include(state, task, &active, inh).await,
                    TaskKind::Module(_) => {
                        if !self.tag_filter.selects(&task.tags) {
                            continue;
                        }
                        let f = self.run_task(state, task, &tasks[index + 1..], &active, inh).await;
                        if !f.is_empty() && state.play.any_errors_fatal {
                            state.abort();
                        }
                        f
                    }
                };
                active.retain(|h| !newly_failed.contains(h));
                failed.extend(newly_failed);
            }
            failed
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_block(
        &self,
        state: &PlayState<'_>,
        task: &Task,
        block: &[Task],
        rescue: &[Task],
        always: &[Task],
        active: &[String],
        inh: &Inherited,
    ) -> Vec<String> {
        let in_block = inh.child(task, inh.rescuable || !rescue.is_empty());
        let failed_in_block = self.walk(state, block, active.to_vec(), &in_block).await;
        let mut still_failed = failed_in_block.clone();
        if !rescue.is_empty() && !failed_in_block.is_empty() {
            for h in &failed_in_block {
                self.with_host(h, |r| r.stats.rescued += 1);
            }
            let in_rescue = inh.child(task, inh.rescuable);
            still_failed = self.walk(state, rescue, failed_in_block.clone(), &in_rescue).await;
        }
        if !always.is_empty() {
            let in_always = inh.child(task, inh.rescuable);
            let everyone: Vec<String> = active.iter().filter(|h| !self.host_unreachable(h)).cloned().collect();
            for h in self.walk(state, always, everyone, &in_always).await {
                if !still_failed.contains(&h) {
                    still_failed.push(h);
                }
            }
        }
        still_failed
    }

    /// `include_tasks`, once per host (and per `loop` item, items in order, each
    /// with its `item` visible to the included tasks and their `when`).
    async fn run_include(&self, state: &PlayState<'_>, task: &Task, active: &[String], inh: &Inherited) -> Vec<String> {
        let TaskKind::IncludeTasks { file, base_dir } = &task.kind else { return Vec::new() };
        if !self.tag_filter.selects(&task.tags) {
            return Vec::new();
        }
        let loop_var = task.loop_control.loop_var.clone().unwrap_or_else(|| "item".into());
        // Hosts may render the file name differently, and loop over different
        // items: group them by (item position, file, item), run in that order.
        let mut groups: Vec<IncludeGroup> = Vec::new();
        let mut failed = Vec::new();
        for h in active {
            let mut vars = self.task_vars(state, h, inh, task);
            let items: Vec<Option<Value>> = match &task.loop_items {
                None => vec![None],
                Some(spec) => match self.loop_items(spec, &self.context_for(state, &vars)) {
                    Ok(items) => items.into_iter().map(Some).collect(),
                    Err(e) => {
                        self.fail_host_msg(state, task, h, &format!("loop: {e}"), inh);
                        failed.push(h.clone());
                        continue;
                    }
                },
            };
            for (index, item) in items.into_iter().enumerate() {
                if let Some(item) = &item {
                    vars.insert(loop_var.clone(), item.clone());
                    if let Some(iv) = &task.loop_control.index_var {
                        vars.insert(iv.clone(), Value::from(index));
                    }
                }
                let ctx = self.context_for(state, &vars);
                let when_ok = inh.when.iter().chain(task.when.iter()).try_fold(true, |acc, c| self.templates.eval_condition(c, &ctx).map(|b| acc && b));
                match when_ok {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => {
                        self.fail_host_msg(state, task, h, &format!("condition could not be evaluated: {e}"), inh);
                        failed.push(h.clone());
                        break;
                    }
                }
                match self.templates.render_str(file, &ctx) {
                    Ok(name) => {
                        let path = base_dir.join(name);
                        let item = item.map(|v| (loop_var.clone(), v));
                        match groups.iter_mut().find(|g| g.index == index && g.path == path && g.item == item) {
                            Some(g) => g.hosts.push(h.clone()),
                            None => groups.push(IncludeGroup { index, path, item, hosts: vec![h.clone()] }),
                        }
                    }
                    Err(e) => {
                        self.fail_host_msg(state, task, h, &format!("include_tasks file name: {e}"), inh);
                        failed.push(h.clone());
                        break;
                    }
                }
            }
        }
        groups.sort_by_key(|g| g.index);
        for IncludeGroup { path, item, mut hosts, .. } in groups {
            // A host that failed on an earlier item goes no further.
            hosts.retain(|h| !failed.contains(h) && !state.host_ended(h) && !self.host_unreachable(h));
            if hosts.is_empty() || state.aborted() || self.is_interrupted() {
                continue;
            }
            match crate::playbook::load_task_file(&path) {
                Ok(mut tasks) => {
                    for t in &mut tasks {
                        t.tags.extend(task.tags.iter().cloned());
                    }
                    let mut child = inh.child(task, inh.rescuable);
                    if let Some((name, value)) = item {
                        child.vars.insert(name, value);
                    }
                    let f = self.walk(state, &tasks, hosts, &child).await;
                    failed.extend(f);
                }
                Err(e) => {
                    for h in &hosts {
                        self.fail_host_msg(state, task, h, &format!("include_tasks: {e}"), inh);
                    }
                    failed.extend(hosts);
                }
            }
        }
        failed
    }

    /// One task on every active host at once (bounded by forks), then the
    /// barrier. `ahead` are the tasks after it in the same list.
    async fn run_task(&self, state: &PlayState<'_>, task: &Task, ahead: &[Task], active: &[String], inh: &Inherited) -> Vec<String> {
        let live: Vec<String> = state.batch.iter().filter(|h| !self.host_failed_or_unreachable(h)).cloned().collect();
        state.set_live_hosts(&live);
        let run_on: Vec<String> = if task.run_once { active.iter().take(1).cloned().collect() } else { active.to_vec() };
        self.sink.emit(Event::TaskStart {
            play: state.play.name.clone(),
            task: task.display_name(),
            module: task.module_name().to_string(),
            location: task.location.to_string(),
            host_count: run_on.len(),
        });
        let runs = run_on.iter().map(|h| async move {
            let _permit = self.forks.acquire().await.ok();
            (h.clone(), self.run_on_host(state, task, ahead, h, inh).await)
        });
        let outcomes = futures::future::join_all(runs).await;
        let mut failed = Vec::new();
        for (host, outcome) in &outcomes {
            if *outcome == HostOutcome::Failed {
                failed.push(host.clone());
            }
        }
        if task.run_once {
            // Ansible semantics: the one result counts for every host of the batch.
            if let Some((first, outcome)) = outcomes.first() {
                let reg = task.register.as_ref().and_then(|r| self.with_host(first, |rt| rt.facts.get(r).cloned()).flatten());
                for h in active.iter().skip(1) {
                    if let (Some(name), Some(value)) = (&task.register, &reg) {
                        self.with_host(h, |rt| {
                            rt.facts.insert(name.clone(), value.clone());
                        });
                    }
                    if matches!(outcome, HostOutcome::Failed) {
                        failed.push(h.clone());
                    }
                }
                state.invalidate_shared();
            }
        }
        failed
    }
}
