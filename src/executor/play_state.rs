//! What one play (one serial batch) knows while it runs: its vars, the
//! shared template context, notified handlers, hosts that ended.

use crate::playbook::Play;
use crate::template::{PlayHosts, SharedContext};
use crate::vars::Vars;
use indexmap::{IndexMap, IndexSet};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Runtime state of a play.
pub struct PlayState<'p> {
    /// The play.
    pub play: &'p Play,
    /// `vars:` then `vars_files:` merged.
    pub vars: Vars,
    /// All hosts of the play (`ansible_play_hosts_all`).
    pub all_hosts: Vec<String>,
    /// Hosts of the current batch (`ansible_play_batch`).
    pub batch: Vec<String>,
    /// Folders `copy`/`template` look in.
    pub search_dirs: Vec<PathBuf>,
    /// The playbook's folder (`playbook_dir`).
    pub playbook_dir: PathBuf,
    shared: RwLock<Option<Arc<SharedContext>>>,
    /// The host lists templates see, rebuilt once per task.
    hosts: RwLock<Arc<PlayHosts>>,
    notified: Mutex<IndexMap<String, IndexSet<String>>>,
    ended_hosts: Mutex<HashSet<String>>,
    aborted: AtomicBool,
    /// `meta: end_play`: this play stops, the next one runs.
    ended: AtomicBool,
}

impl<'p> PlayState<'p> {
    /// A fresh state for `play`.
    pub fn new(play: &'p Play, vars: Vars, all_hosts: Vec<String>, search_dirs: Vec<PathBuf>, playbook_dir: PathBuf) -> Self {
        let hosts = RwLock::new(Arc::new(PlayHosts::new(&all_hosts, &[])));
        PlayState {
            play,
            vars,
            batch: all_hosts.clone(),
            all_hosts,
            search_dirs,
            playbook_dir,
            shared: RwLock::new(None),
            hosts,
            notified: Mutex::new(IndexMap::new()),
            ended_hosts: Mutex::new(HashSet::new()),
            aborted: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        }
    }

    /// The shared template context, if still valid.
    pub fn shared(&self) -> Option<Arc<SharedContext>> {
        self.shared.read().ok().and_then(|s| s.clone())
    }

    /// Stores a freshly built shared context.
    pub fn set_shared(&self, ctx: Arc<SharedContext>) {
        if let Ok(mut s) = self.shared.write() {
            *s = Some(ctx);
        }
    }

    /// Facts changed: `hostvars` must be rebuilt before the next render.
    pub fn invalidate_shared(&self) {
        if let Ok(mut s) = self.shared.write() {
            *s = None;
        }
    }

    /// The play's host lists for templates: all its hosts, and the hosts of
    /// the batch still in the play (`ansible_play_hosts`) as of the current task.
    pub fn play_hosts(&self) -> Arc<PlayHosts> {
        self.hosts.read().map(|h| h.clone()).unwrap_or_else(|_| Arc::new(PlayHosts::new(&self.all_hosts, &[])))
    }

    /// Sets the hosts still in the play; done once per task, not once per host.
    pub fn set_live_hosts(&self, live: &[String]) {
        let hosts = Arc::new(PlayHosts::new(&self.all_hosts, live));
        if let Ok(mut h) = self.hosts.write() {
            *h = hosts;
        }
    }

    /// Records that `host` notified handler (or topic) `name`.
    pub fn notify(&self, host: &str, name: &str) {
        if let Ok(mut n) = self.notified.lock() {
            n.entry(name.to_string()).or_default().insert(host.to_string());
        }
    }

    /// Takes the notifications so far (a flush consumes them).
    pub fn take_notified(&self) -> IndexMap<String, IndexSet<String>> {
        self.notified.lock().map(|mut n| std::mem::take(&mut *n)).unwrap_or_default()
    }

    /// `meta: end_host`.
    pub fn end_host(&self, host: &str) {
        if let Ok(mut e) = self.ended_hosts.lock() {
            e.insert(host.to_string());
        }
    }

    /// True when `host` ended its play.
    pub fn host_ended(&self, host: &str) -> bool {
        self.ended_hosts.lock().map(|e| e.contains(host)).unwrap_or(false)
    }

    /// Stops the play for every host, and the run with it (`any_errors_fatal`).
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
    }

    /// Stops the play for every host; the run goes on with the next play
    /// (`meta: end_play`, as in Ansible).
    pub fn end_play(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    /// True when no further task of this play may start ([`abort`](Self::abort)
    /// or [`end_play`](Self::end_play)).
    pub fn aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst) || self.ended.load(Ordering::SeqCst)
    }

    /// True after [`abort`](Self::abort): the run stops after this play.
    pub fn fatal(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }
}
