//! Observing ahead: before a task whose module only looks at the host's own
//! files or tables, the observes of the tasks right after it (same host, same
//! connection) go out in the same round trip. On a run with nothing to change
//! the next tasks then find their state already read; on a run that changes
//! something, the first command that is not a kept observe drops the rest
//! (`transport::Observations`), so no task ever plans from a stale state.
//!
//! The look-ahead renders the next tasks' arguments with the host's
//! variables as they are now. A task whose arguments will differ (a variable
//! registered in between) asks for another command and simply misses.

use super::play_state::PlayState;
use super::walk::Inherited;
use super::Executor;
use crate::modules::{canonical_name, ModuleCall, OBSERVED_AHEAD};
use crate::playbook::{Task, TaskKind};
use crate::transport::{Connection, RemoteCommand, TransportError};
use std::time::Duration;

/// How many following tasks are looked at, at most.
const LOOK_AHEAD: usize = 8;

/// What a following task means for the look-ahead.
enum Next {
    /// Its observe commands, as it will run them.
    Observes(Vec<RemoteCommand>),
    /// It runs nothing on the host (controller-only, skipped, not selected),
    /// or nothing that can be told ahead: look past it.
    Past,
    /// It will run commands of another kind on the host: kept results would
    /// be dropped there, so looking further is wasted.
    Stop,
}

impl Executor {
    /// Runs the observes of `module` (about to run on `host` over `conn`) and
    /// of the tasks in `ahead` in one round trip, keeping the results on the
    /// connection. Nothing happens for modules that cannot observe ahead, or
    /// when this task's observes are already kept.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn observe_ahead(
        &self,
        state: &PlayState<'_>,
        module: &ModuleCall,
        host: &str,
        inh: &Inherited,
        conn: &Connection,
        ahead: &[Task],
        timeout: Duration,
    ) -> Result<(), TransportError> {
        let Some(mut commands) = module.observe_commands(self.cfg.diff) else { return Ok(()) };
        if commands.iter().all(|c| conn.holds(c)) {
            return Ok(());
        }
        for next in ahead.iter().take(LOOK_AHEAD) {
            match self.next_observes(state, next, host, inh) {
                Next::Observes(cmds) => commands.extend(cmds),
                Next::Past => continue,
                Next::Stop => break,
            }
        }
        conn.observe_ahead(commands, timeout).await
    }

    fn next_observes(&self, state: &PlayState<'_>, task: &Task, host: &str, inh: &Inherited) -> Next {
        let TaskKind::Module(call) = &task.kind else { return Next::Stop };
        match canonical_name(&call.module) {
            Some("assert" | "debug" | "set_fact" | "fail") => return Next::Past,
            Some(name) if OBSERVED_AHEAD.contains(&name) => {}
            _ => return Next::Stop,
        }
        // Loops, delegation, run_once and an environment change which
        // commands run where: those tasks observe for themselves.
        if !self.tag_filter.selects(&task.tags) || task.loop_items.is_some() || task.delegate_to.is_some() || task.run_once || !task.environment.is_empty() {
            return Next::Past;
        }
        let vars = self.task_vars(state, host, inh, task);
        let ctx = self.context_for(state, &vars);
        let holds = inh.when.iter().chain(task.when.iter()).all(|c| self.templates.eval_condition(c, &ctx).unwrap_or(false));
        if !holds {
            return Next::Past;
        }
        let Ok(args) = self.templates.render_value(&call.args, &ctx) else { return Next::Past };
        match ModuleCall::from_args(&call.module, &super::task_run::strip_omit(args)).ok().and_then(|m| m.observe_commands(self.cfg.diff)) {
            Some(cmds) => Next::Observes(cmds),
            None => Next::Past,
        }
    }
}
