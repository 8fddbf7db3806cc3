//! Transports: how commands reach a host. All russh code lives below this
//! module; the rest of ferry sees only [`Connection`].

pub mod command;
pub mod error;
mod host_pattern;
mod known_hosts;
pub mod local;
pub mod ssh;
mod ssh_auth;
pub mod ssh_config;
mod ssh_link;
mod ssh_route;

pub use command::{shell_quote, CommandBody, CommandOutput, RemoteCommand};
pub use error::TransportError;
pub use local::LocalConnection;
pub use ssh_auth::named_key_problem;

use std::time::Duration;

/// An open connection to one host, reused by every task of a run.
pub enum Connection {
    /// Over SSH.
    Ssh(ssh::SshConnection),
    /// On the controller itself (`ansible_connection: local`, `delegate_to: localhost`).
    Local(LocalConnection),
}

impl Connection {
    /// Runs one command, bounded by `timeout`.
    pub async fn run(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<CommandOutput, TransportError> {
        match self {
            Connection::Ssh(c) => c.run(cmd, timeout).await,
            Connection::Local(c) => c.run(cmd, timeout).await,
        }
    }

    /// Commands started on this connection so far: each is one SSH session
    /// channel (exec request, output, exit status), so a round trip at least.
    pub fn commands(&self) -> u64 {
        match self {
            Connection::Ssh(c) => c.commands(),
            Connection::Local(c) => c.commands(),
        }
    }

    /// Closes the connection (SSH disconnect); local is a no-op.
    pub async fn close(&self) {
        if let Connection::Ssh(c) = self {
            c.close().await;
        }
    }
}
