//! The executor: plays, batches, tasks on hosts in parallel (bounded by
//! forks), handlers, and the recap. It never prints: it emits events.

mod connections;
mod event_sink;
mod observe_ahead;
mod play_state;
pub mod preflight;
mod run_config;
mod tags;
mod task_run;
mod walk;

pub use connections::ConnectionPool;
pub use event_sink::EventSink;
pub use run_config::{RunConfig, Strategy};

use crate::inventory::Inventory;
use crate::playbook::{Play, Playbook, Serial};
use crate::report::{Event, HostStats};
use crate::template::Templates;
use crate::vars::{Value, Vars};
use indexmap::IndexMap;
use play_state::PlayState;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tags::TagFilter;
use tokio::sync::Semaphore;

/// Per-host state that lives across plays.
#[derive(Debug, Default, Clone)]
struct HostRuntime {
    facts: Vars,
    stats: HostStats,
    unreachable: bool,
    failed: bool,
}

/// The outcome of a whole run.
#[derive(Debug)]
pub struct RunSummary {
    /// Recap counters per host.
    pub stats: IndexMap<String, HostStats>,
    /// True when the run was interrupted (SIGINT).
    pub interrupted: bool,
}

impl RunSummary {
    /// Exit status as ansible-playbook gives it: 4 if a host was unreachable
    /// (its strategy checks unreachable hosts first, measured with
    /// ansible-core 2.17), else 2 if a host failed, else 0; 130 after an interrupt.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            return 130;
        }
        if self.stats.values().any(|s| s.unreachable > 0) {
            4
        } else if self.stats.values().any(|s| s.failed > 0) {
            2
        } else {
            0
        }
    }
}

/// Runs parsed playbooks against an inventory.
pub struct Executor {
    cfg: RunConfig,
    inventory: Inventory,
    templates: Arc<Templates>,
    pool: ConnectionPool,
    sink: EventSink,
    hosts: Mutex<IndexMap<String, HostRuntime>>,
    forks: Semaphore,
    tag_filter: TagFilter,
    interrupted: Arc<AtomicBool>,
    /// Each host's merged inventory vars: the inventory does not change during a
    /// run, so they are merged once, not once per host per task.
    inventory_vars: IndexMap<String, Vars>,
}

impl Executor {
    /// An executor for one run.
    pub fn new(cfg: RunConfig, inventory: Inventory, templates: Arc<Templates>, sink: EventSink, interrupted: Arc<AtomicBool>) -> Self {
        let pool = ConnectionPool::new(cfg.ssh.clone(), cfg.remote_user.clone(), cfg.private_key.clone());
        let forks = Semaphore::new(cfg.forks.max(1));
        let tag_filter = TagFilter::new(&cfg.tags, &cfg.skip_tags);
        let inventory_vars = inventory.hosts().map(|h| (h.name().to_string(), inventory.host_vars(h.name()))).collect();
        Executor { cfg, inventory, templates, pool, sink, hosts: Mutex::new(IndexMap::new()), forks, tag_filter, interrupted, inventory_vars }
    }

    /// Runs every play of every playbook in order and returns the recap.
    pub async fn run(&self, playbooks: &[Playbook]) -> RunSummary {
        let started = Instant::now();
        'plays: for pb in playbooks {
            let dir = pb.path.parent().map(Path::to_path_buf).unwrap_or_default();
            for play in &pb.plays {
                if self.is_interrupted() {
                    break 'plays;
                }
                let fatal = self.run_play(play, &dir).await;
                if fatal {
                    break 'plays;
                }
            }
        }
        let commands = self.pool.commands();
        self.pool.close_all().await;
        let stats: IndexMap<String, HostStats> = self
            .hosts
            .lock()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), HostStats { commands: commands.get(k).copied().unwrap_or(0), ..v.stats })).collect())
            .unwrap_or_default();
        self.sink.emit(Event::Recap { hosts: stats.clone(), elapsed_ms: started.elapsed().as_millis() as u64 });
        RunSummary { stats, interrupted: self.is_interrupted() }
    }

    fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Hosts a play targets: pattern, then `--limit`, minus hosts that failed
    /// or were unreachable in an earlier play.
    fn play_hosts(&self, play: &Play) -> Result<Vec<String>, String> {
        let pattern = self.render_with_extra(&play.hosts)?;
        let mut hosts = self.inventory.select(&pattern).map_err(|e| e.to_string())?;
        if let Some(limit) = &self.cfg.limit {
            let allowed = self.inventory.select(limit).map_err(|e| e.to_string())?;
            hosts.retain(|h| allowed.contains(h));
        }
        let known = self.hosts.lock().map_err(|_| "host table poisoned".to_string())?;
        hosts.retain(|h| known.get(h).is_none_or(|r| !r.unreachable && !r.failed));
        Ok(hosts)
    }

    fn render_with_extra(&self, s: &str) -> Result<String, String> {
        if !s.contains("{{") && !s.contains("{%") {
            return Ok(s.to_string());
        }
        let shared = crate::template::SharedContext::new(Arc::new(IndexMap::new()), &self.inventory.groups_map());
        let ctx = self.templates.context(&self.cfg.extra_vars, &shared);
        self.templates.render_str(s, &ctx).map_err(|e| e.to_string())
    }

    /// Runs one play; returns true when the whole run must stop.
    async fn run_play(&self, play: &Play, playbook_dir: &Path) -> bool {
        let hosts = match self.play_hosts(play) {
            Ok(h) => h,
            Err(e) => {
                self.sink.emit(Event::Error { msg: format!("play `{}` ({}): {e}", play.name, play.location) });
                return true;
            }
        };
        self.sink.emit(Event::PlayStart { play: play.name.clone(), hosts: hosts.clone() });
        if hosts.is_empty() {
            self.sink.emit(Event::Warning { msg: format!("play `{}`: no hosts matched `{}`", play.name, play.hosts) });
            return false;
        }
        if let Ok(mut table) = self.hosts.lock() {
            for h in &hosts {
                table.entry(h.clone()).or_default();
            }
        }
        let mut vars = play.vars.clone();
        for f in &play.vars_files {
            match load_vars_file(f) {
                Ok(v) => crate::vars::overlay(&mut vars, &v),
                Err(e) => {
                    self.sink.emit(Event::Error { msg: e });
                    return true;
                }
            }
        }
        let mut search_dirs = vec![playbook_dir.to_path_buf()];
        search_dirs.extend(self.cfg.template_dirs.iter().cloned());
        let mut state = PlayState::new(play, vars, hosts.clone(), search_dirs, playbook_dir.to_path_buf());
        for batch in batches(&hosts, play.serial.as_ref()) {
            if self.is_interrupted() {
                return true;
            }
            state.batch = batch.clone();
            state.invalidate_shared();
            match self.cfg.strategy {
                Strategy::Linear => {
                    self.walk(&state, &play.tasks, batch.clone(), &walk::Inherited::default()).await;
                }
                Strategy::Free => {
                    let per_host = batch.iter().map(|h| {
                        let state = &state;
                        async move {
                            self.walk(state, &play.tasks, vec![h.clone()], &walk::Inherited::default()).await;
                        }
                    });
                    futures::future::join_all(per_host).await;
                }
            }
            self.flush_handlers(&state).await;
            if state.fatal() {
                return true;
            }
            if state.aborted() {
                // end_play: no further batch of this play; the next play runs.
                break;
            }
            if let Some(pct) = play.max_fail_percentage {
                let failed = batch.iter().filter(|h| self.host_failed_or_unreachable(h)).count();
                if failed as f64 * 100.0 / batch.len() as f64 > pct {
                    self.sink.emit(Event::Warning {
                        msg: format!("play `{}`: {failed} of {} hosts failed, more than max_fail_percentage {pct}%: stopping", play.name, batch.len()),
                    });
                    return true;
                }
            }
        }
        false
    }

    /// `host`'s merged inventory vars (implicit hosts such as localhost are merged on demand).
    fn inventory_vars(&self, host: &str) -> Vars {
        self.inventory_vars.get(host).cloned().unwrap_or_else(|| self.inventory.host_vars(host))
    }

    fn host_failed_or_unreachable(&self, host: &str) -> bool {
        self.hosts.lock().map(|t| t.get(host).is_some_and(|r| r.failed || r.unreachable)).unwrap_or(false)
    }

    fn with_host<R>(&self, host: &str, f: impl FnOnce(&mut HostRuntime) -> R) -> Option<R> {
        let mut table = self.hosts.lock().ok()?;
        Some(f(table.entry(host.to_string()).or_default()))
    }

    /// Runs the handlers notified so far, in the order they are defined, on the hosts that notified them.
    async fn flush_handlers(&self, state: &PlayState<'_>) {
        loop {
            let notified = state.take_notified();
            if notified.is_empty() {
                return;
            }
            let mut announced = false;
            for handler in &state.play.handlers {
                let names = std::iter::once(handler.name.clone().unwrap_or_default()).chain(handler.listen.iter().cloned());
                let mut hosts: Vec<String> = Vec::new();
                for n in names {
                    if let Some(hs) = notified.get(&n) {
                        for h in hs {
                            if !hosts.contains(h) {
                                hosts.push(h.clone());
                            }
                        }
                    }
                }
                hosts.retain(|h| !self.host_failed_or_unreachable(h));
                if hosts.is_empty() {
                    continue;
                }
                if !announced {
                    self.sink.emit(Event::HandlerStart { play: state.play.name.clone() });
                    announced = true;
                }
                self.walk(state, std::slice::from_ref(handler), hosts, &walk::Inherited::default()).await;
            }
        }
    }
}

/// Splits hosts into `serial:` batches.
fn batches(hosts: &[String], serial: Option<&Serial>) -> Vec<Vec<String>> {
    let Some(serial) = serial else { return vec![hosts.to_vec()] };
    let size_of = |s: &Serial| -> usize {
        match s {
            Serial::Count(n) => (*n).max(1),
            Serial::Percent(p) => ((hosts.len() as f64 * p / 100.0).floor() as usize).max(1),
            Serial::Steps(_) => hosts.len(),
        }
    };
    let steps: Vec<usize> = match serial {
        Serial::Steps(list) if !list.is_empty() => list.iter().map(size_of).collect(),
        other => vec![size_of(other)],
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut step = 0;
    while i < hosts.len() {
        let size = steps[step.min(steps.len() - 1)];
        out.push(hosts[i..(i + size).min(hosts.len())].to_vec());
        i += size;
        step += 1;
    }
    out
}

/// Loads a YAML vars file (vars_files, `-e @file`).
pub fn load_vars_file(path: &Path) -> Result<Vars, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read vars file {}: {e}", path.display()))?;
    let value: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
        let loc = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        format!("{}{loc}: invalid YAML: {e}", path.display())
    })?;
    match crate::vars::from_yaml(value) {
        Value::Object(m) => Ok(m.into_iter().collect()),
        Value::Null => Ok(Vars::new()),
        _ => Err(format!("{}: a vars file must be a mapping of names to values", path.display())),
    }
}

/// Folders a run looks in for templates: `templates/` beside each playbook
/// and in the current directory (the project's own `templates/`).
pub fn default_template_dirs(playbooks: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for pb in playbooks {
        if let Some(parent) = pb.parent() {
            dirs.push(parent.join("templates"));
            if let Some(up) = parent.parent() {
                dirs.push(up.join("templates"));
            }
        }
    }
    dirs.push(PathBuf::from("templates"));
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("h{i}")).collect()
    }

    #[test]
    fn serial_batches() {
        assert_eq!(batches(&hosts(5), Some(&Serial::Count(2))).len(), 3);
        assert_eq!(batches(&hosts(10), Some(&Serial::Percent(30.0)))[0].len(), 3);
        let steps = Serial::Steps(vec![Serial::Count(1), Serial::Count(3)]);
        let b = batches(&hosts(8), Some(&steps));
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 3, 3, 1]);
    }

    #[test]
    fn exit_codes_follow_ansible() {
        let mut stats = IndexMap::new();
        stats.insert("a".to_string(), HostStats { unreachable: 1, ..Default::default() });
        assert_eq!(RunSummary { stats: stats.clone(), interrupted: false }.exit_code(), 4);
        stats.insert("b".to_string(), HostStats { failed: 1, ..Default::default() });
        assert_eq!(RunSummary { stats: stats.clone(), interrupted: false }.exit_code(), 4);
        stats.shift_remove("a");
        assert_eq!(RunSummary { stats, interrupted: false }.exit_code(), 2);
    }
}
