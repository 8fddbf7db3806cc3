//! Transports: how commands reach a host. All russh code lives below this
//! module; the rest of ferry sees only [`Connection`].

mod batch;
pub mod command;
pub mod error;
mod host_pattern;
mod known_hosts;
pub mod local;
mod observations;
pub mod ssh;
mod ssh_auth;
pub mod ssh_config;
mod ssh_link;
mod ssh_route;

pub use batch::ObserveBatch;
pub use command::{shell_quote, CommandBody, CommandOutput, RemoteCommand};
pub use error::TransportError;
pub use local::LocalConnection;
pub use observations::Observations;
pub use ssh_auth::named_key_problem;

use std::time::Duration;

/// The most bytes of command lines one batch carries: its script is a single
/// argument of the remote `sh -c`, and Linux refuses one over 128 KiB.
pub const BATCH_BYTES: usize = 48 * 1024;

/// How commands reach the host.
pub enum Link {
    /// Over SSH.
    Ssh(ssh::SshConnection),
    /// On the controller itself (`ansible_connection: local`, `delegate_to: localhost`).
    Local(LocalConnection),
}

/// An open connection to one host, reused by every task of a run, with the
/// results of observes run ahead of time (see [`Observations`]).
pub struct Connection {
    link: Link,
    observed: Observations,
}

impl Connection {
    /// A connection over `link`.
    pub fn new(link: Link) -> Self {
        Connection { link, observed: Observations::default() }
    }

    /// Runs one command, bounded by `timeout`. A result observed ahead of
    /// time for exactly this command is returned without a round trip.
    pub async fn run(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<CommandOutput, TransportError> {
        if let Some(out) = self.observed.take(cmd) {
            return Ok(out);
        }
        self.observed.command_started();
        let out = self.run_now(cmd, timeout).await;
        self.observed.command_ended();
        out
    }

    async fn run_now(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<CommandOutput, TransportError> {
        match &self.link {
            Link::Ssh(c) => c.run(cmd, timeout).await,
            Link::Local(c) => c.run(cmd, timeout).await,
        }
    }

    /// Runs read-only `commands` in one round trip and keeps their results
    /// for [`run`](Self::run), each with its own output and exit status.
    /// Does nothing when another command is running on this connection (its
    /// effect could fall between two of the results) or when the results are
    /// already kept. A command no batch can carry (stdin, a NUL byte) is left
    /// to run alone, and to fail there if it must. Results that did not come
    /// back whole (output cap, shell died) are simply not kept: those
    /// commands run alone later. Many commands go in several batches of at
    /// most [`BATCH_BYTES`].
    pub async fn observe_ahead(&self, commands: Vec<RemoteCommand>, timeout: Duration) -> Result<(), TransportError> {
        let commands: Vec<RemoteCommand> = commands.into_iter().filter(|c| c.stdin.is_none() && c.unsendable().is_none()).collect();
        if commands.len() < 2 || commands.iter().all(|c| self.observed.holds(c)) {
            return Ok(());
        }
        let Some(ticket) = self.observed.batch_starts() else { return Ok(()) };
        let mut kept = Vec::with_capacity(commands.len());
        for chunk in ObserveBatch::chunks(&commands, BATCH_BYTES) {
            let Some((batch, script)) = ObserveBatch::script(chunk) else { continue };
            let out = self.run_now(&script, timeout).await?;
            kept.extend(chunk.iter().cloned().zip(batch.results(&out)));
        }
        self.observed.keep(ticket, kept);
        Ok(())
    }

    /// True when the result of `cmd` was observed ahead and is kept.
    pub fn holds(&self, cmd: &RemoteCommand) -> bool {
        self.observed.holds(cmd)
    }

    /// Commands started on this connection so far: each is one SSH session
    /// channel (exec request, output, exit status), so a round trip at least.
    /// A batch of observes counts once.
    pub fn commands(&self) -> u64 {
        match &self.link {
            Link::Ssh(c) => c.commands(),
            Link::Local(c) => c.commands(),
        }
    }

    /// Closes the connection (SSH disconnect); local is a no-op.
    pub async fn close(&self) {
        if let Link::Ssh(c) = &self.link {
            c.close().await;
        }
    }
}
