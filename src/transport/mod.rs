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
    /// effect could fall between two of the results), when the results are
    /// already kept, or when a command reads stdin. Results that did not come
    /// back whole (output cap, shell died) are simply not kept: those
    /// commands run alone later.
    pub async fn observe_ahead(&self, commands: Vec<RemoteCommand>, timeout: Duration) -> Result<(), TransportError> {
        if commands.len() < 2 || commands.iter().all(|c| self.observed.holds(c)) {
            return Ok(());
        }
        let Some((batch, script)) = ObserveBatch::script(&commands) else { return Ok(()) };
        let Some(ticket) = self.observed.batch_starts() else { return Ok(()) };
        let out = self.run_now(&script, timeout).await?;
        let results = batch.results(&out);
        self.observed.keep(ticket, commands.into_iter().zip(results).collect());
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
