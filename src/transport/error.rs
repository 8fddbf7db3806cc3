//! Transport failures: each names the host and says what to do.

use std::time::Duration;

/// Why a host could not run a command. `Unreachable` kinds make the host
/// `unreachable` in the recap; the others fail the task.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// TCP connect failed or timed out, or the link died mid-command.
    #[error("{host}: cannot reach {address}: {reason}")]
    Unreachable {
        /// Inventory name.
        host: String,
        /// `addr:port` (or the bastion path).
        address: String,
        /// What the network said.
        reason: String,
    },
    /// The server's host key is not the one in known_hosts (or unknown under strict checking).
    #[error("{host}: host key verification failed: {reason}")]
    HostKey {
        /// Inventory name.
        host: String,
        /// Which key was offered and what known_hosts says, and the fix.
        reason: String,
    },
    /// No offered key or agent identity was accepted.
    #[error("{host}: authentication failed for user {user}: {reason}")]
    Auth {
        /// Inventory name.
        host: String,
        /// Remote user.
        user: String,
        /// Which identities were tried.
        reason: String,
    },
    /// A local problem with the connection settings (unreadable key file, bad ssh config).
    #[error("{host}: {reason}")]
    Config {
        /// Inventory name.
        host: String,
        /// What is wrong and where.
        reason: String,
    },
    /// The command cannot be sent as asked (a NUL byte in it); nothing ran.
    #[error("{host}: {reason}")]
    BadCommand {
        /// Inventory name.
        host: String,
        /// What is wrong with the command.
        reason: String,
    },
    /// The command ran longer than allowed; it was cancelled.
    #[error("{host}: command timed out after {}s: {command}", .after.as_secs_f64())]
    Timeout {
        /// Inventory name.
        host: String,
        /// The (masked) command line.
        command: String,
        /// The limit that was hit.
        after: Duration,
    },
}

impl TransportError {
    /// True when the host should be counted `unreachable` rather than `failed`.
    /// A timeout on a link that is still alive is a task failure; the ssh
    /// transport reports `Unreachable` when the connection itself died.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::Unreachable { .. } | TransportError::HostKey { .. } | TransportError::Auth { .. })
    }
}
