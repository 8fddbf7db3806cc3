//! Results of read-only commands run ahead of time on one connection, kept
//! until the host may have changed.
//!
//! The executor observes the next few tasks of a host in one round trip
//! ([`super::ObserveBatch`]); each task's own observe then finds its result
//! here. A result is only valid while nothing else ran on the host, so any
//! command that is not a kept result drops them all, and a batch whose run
//! overlapped another command on the same connection is not kept at all
//! (delegated tasks of other hosts share this connection).
//!
//! What this does not see: a change made to the host over another connection
//! (a second inventory name for the same machine) or by the host itself. A
//! result is at most one task old, so this is the race any observe has.

use super::command::{CommandOutput, RemoteCommand};
use std::sync::Mutex;

/// Kept results, and what ran since.
#[derive(Debug, Default)]
pub struct Observations {
    inner: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    results: Vec<(RemoteCommand, CommandOutput)>,
    /// Bumped when any other command starts or ends.
    generation: u64,
    /// Other commands running now.
    running: usize,
}

/// Proof that a batch started with nothing else running.
#[derive(Debug)]
pub struct BatchTicket {
    generation: u64,
}

impl Observations {
    /// The kept result of `cmd`, taken: a result is used once.
    pub fn take(&self, cmd: &RemoteCommand) -> Option<CommandOutput> {
        let mut kept = self.lock();
        let at = kept.results.iter().position(|(c, _)| c == cmd)?;
        Some(kept.results.swap_remove(at).1)
    }

    /// True when `cmd`'s result is kept.
    pub fn holds(&self, cmd: &RemoteCommand) -> bool {
        self.lock().results.iter().any(|(c, _)| c == cmd)
    }

    /// Another command starts: whatever it does, kept results are stale.
    pub fn command_started(&self) {
        let mut kept = self.lock();
        kept.results.clear();
        kept.generation += 1;
        kept.running += 1;
    }

    /// That command ended.
    pub fn command_ended(&self) {
        let mut kept = self.lock();
        kept.generation += 1;
        kept.running = kept.running.saturating_sub(1);
    }

    /// A batch may start; `None` while another command runs.
    pub fn batch_starts(&self) -> Option<BatchTicket> {
        let kept = self.lock();
        (kept.running == 0).then_some(BatchTicket { generation: kept.generation })
    }

    /// Keeps a batch's results, unless another command started or ended
    /// while it ran. Replaces what was kept.
    pub fn keep(&self, ticket: BatchTicket, results: Vec<(RemoteCommand, CommandOutput)>) -> bool {
        let mut kept = self.lock();
        if kept.generation != ticket.generation {
            kept.results.clear();
            return false;
        }
        kept.results = results;
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic elsewhere while holding this lock leaves plain data: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(s: &str) -> CommandOutput {
        CommandOutput { stdout: s.into(), ..Default::default() }
    }

    #[test]
    fn a_kept_result_is_used_once() {
        let obs = Observations::default();
        let (a, b) = (RemoteCommand::argv(["stat", "a"]), RemoteCommand::argv(["stat", "b"]));
        let t = obs.batch_starts().unwrap();
        assert!(obs.keep(t, vec![(a.clone(), out("A")), (b.clone(), out("B"))]));
        assert_eq!(obs.take(&b).unwrap().stdout, "B");
        assert!(obs.take(&b).is_none());
        assert!(obs.holds(&a));
    }

    #[test]
    fn any_other_command_drops_everything() {
        let obs = Observations::default();
        let a = RemoteCommand::argv(["stat", "a"]);
        let t = obs.batch_starts().unwrap();
        obs.keep(t, vec![(a.clone(), out("A"))]);
        obs.command_started();
        obs.command_ended();
        assert!(obs.take(&a).is_none());
    }

    #[test]
    fn a_batch_that_overlapped_another_command_is_not_kept() {
        let obs = Observations::default();
        let a = RemoteCommand::argv(["stat", "a"]);
        // Another command ran (started and ended) while the batch was out.
        let t = obs.batch_starts().unwrap();
        obs.command_started();
        obs.command_ended();
        assert!(!obs.keep(t, vec![(a.clone(), out("A"))]));
        assert!(!obs.holds(&a));
        // A command already running when the batch would start: no batch.
        obs.command_started();
        assert!(obs.batch_starts().is_none());
        obs.command_ended();
        assert!(obs.batch_starts().is_some());
    }
}
