//! TEMPORARY stand-in until the russh transport lands (same API).
use super::command::{CommandOutput, RemoteCommand};
use super::error::TransportError;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyChecking {
    Strict,
    AcceptNew,
    Off,
}
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub known_hosts: Option<PathBuf>,
    pub host_key_checking: HostKeyChecking,
    pub ssh_config: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub use_agent: bool,
    pub keepalive: Duration,
}
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub name: String,
    pub alias: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_files: Vec<PathBuf>,
    pub proxy_jump: Option<String>,
}
pub struct SshConnection;
impl SshConnection {
    pub async fn connect(target: &SshTarget, _opts: &SshOptions) -> Result<SshConnection, TransportError> {
        Err(TransportError::Unreachable { host: target.name.clone(), address: target.alias.clone(), reason: "ssh not built yet".into() })
    }
    pub async fn run(&self, _cmd: &RemoteCommand, _timeout: Duration) -> Result<CommandOutput, TransportError> {
        unreachable!()
    }
    pub async fn close(&self) {}
}
