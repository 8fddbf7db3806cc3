//! The executor's only way out: events, masked, to one reporter task.

use crate::report::{Event, Masker, TaskResult};
use tokio::sync::mpsc::UnboundedSender;

/// Sends events to the reporter; every string passes the masker first.
#[derive(Clone)]
pub struct EventSink {
    tx: UnboundedSender<Event>,
    masker: Masker,
}

impl EventSink {
    /// A sink sending to `tx`.
    pub fn new(tx: UnboundedSender<Event>, masker: Masker) -> Self {
        EventSink { tx, masker }
    }

    /// The run's masker (modules add secrets to it).
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// Sends one event. A closed reporter is not the executor's problem.
    pub fn emit(&self, event: Event) {
        let event = match event {
            Event::TaskResult(r) => Event::TaskResult(self.mask_result(r)),
            Event::Warning { msg } => Event::Warning { msg: self.masker.mask(&msg) },
            Event::Progress { host, task, key, done, total, msg } => Event::Progress { host, task, key, done, total, msg: self.masker.mask(&msg) },
            Event::Error { msg } => Event::Error { msg: self.masker.mask(&msg) },
            other => other,
        };
        let _ = self.tx.send(event);
    }

    fn mask_result(&self, mut r: TaskResult) -> TaskResult {
        if self.masker.is_empty() {
            return r;
        }
        let m = &self.masker;
        r.msg = m.mask(&r.msg);
        r.task = m.mask(&r.task);
        r.item = r.item.map(|s| m.mask(&s));
        r.command = r.command.map(|s| m.mask(&s));
        r.stdout = r.stdout.map(|s| m.mask(&s));
        r.stderr = r.stderr.map(|s| m.mask(&s));
        for d in &mut r.diff {
            d.before = m.mask(&d.before);
            d.after = m.mask(&d.after);
            d.unified = m.mask(&d.unified);
        }
        r
    }
}
