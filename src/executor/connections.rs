//! One connection per host for the whole run, opened on first use.

use crate::transport::ssh::{SshConnection, SshOptions, SshTarget};
use crate::transport::{Connection, Link, LocalConnection, TransportError};
use crate::vars::{Value, Vars};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

type Slot = Arc<OnceCell<Result<Arc<Connection>, TransportError>>>;

/// Opens and keeps connections. A host that could not be reached stays
/// unreachable for the rest of the run (its error is kept).
pub struct ConnectionPool {
    options: SshOptions,
    remote_user: Option<String>,
    private_key: Option<PathBuf>,
    slots: Mutex<HashMap<String, Slot>>,
}

/// How to reach one host, read from its (rendered) variables.
#[derive(Debug, Clone)]
pub enum ConnectionSpec {
    /// On the controller.
    Local,
    /// Over SSH.
    Ssh(SshTarget),
}

impl ConnectionPool {
    /// A pool with the run's SSH options and CLI defaults.
    pub fn new(options: SshOptions, remote_user: Option<String>, private_key: Option<PathBuf>) -> Self {
        ConnectionPool { options, remote_user, private_key, slots: Mutex::new(HashMap::new()) }
    }

    /// The connection settings of `host` from its variables (`ansible_*`).
    pub fn spec_for(&self, host: &str, vars: &Vars, force_local: bool) -> Result<ConnectionSpec, TransportError> {
        let get = |k: &str| vars.get(k).and_then(value_string);
        let connection = get("ansible_connection").unwrap_or_else(|| "ssh".into());
        if force_local || connection == "local" {
            return Ok(ConnectionSpec::Local);
        }
        if !matches!(connection.as_str(), "ssh" | "paramiko" | "smart") {
            return Err(TransportError::Config { host: host.into(), reason: format!("ansible_connection `{connection}` is not supported (use ssh or local)") });
        }
        let port = match vars.get("ansible_port").or_else(|| vars.get("ansible_ssh_port")) {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                value_string(v)
                    .and_then(|s| s.parse::<u16>().ok())
                    .ok_or_else(|| TransportError::Config { host: host.into(), reason: format!("ansible_port {v} is not a port number") })?,
            ),
        };
        let mut identity_files = Vec::new();
        if let Some(k) = get("ansible_ssh_private_key_file").or_else(|| get("ansible_private_key_file")) {
            identity_files.push(expand_home(&k));
        } else if let Some(k) = &self.private_key {
            identity_files.push(k.clone());
        }
        let address = get("ansible_host").or_else(|| get("ansible_ssh_host"));
        let mut proxy_jump = get("ferry_proxy_jump");
        if proxy_jump.is_none() {
            proxy_jump = get("ansible_ssh_common_args").and_then(|a| proxy_jump_from_args(&a));
        }
        Ok(ConnectionSpec::Ssh(SshTarget {
            name: host.to_string(),
            alias: address.clone().unwrap_or_else(|| host.to_string()),
            host: address,
            port,
            user: get("ansible_user").or_else(|| get("ansible_ssh_user")).or_else(|| self.remote_user.clone()),
            identity_files,
            proxy_jump,
        }))
    }

    /// The connection to `host`, opening it on first use.
    pub async fn get(&self, host: &str, spec: &ConnectionSpec) -> Result<Arc<Connection>, TransportError> {
        let key = match spec {
            ConnectionSpec::Local => format!("local:{host}"),
            ConnectionSpec::Ssh(_) => host.to_string(),
        };
        let slot = {
            let mut slots = self.slots.lock().map_err(|_| TransportError::Config { host: host.into(), reason: "connection table poisoned".into() })?;
            slots.entry(key).or_default().clone()
        };
        slot.get_or_init(|| async {
            match spec {
                ConnectionSpec::Local => Ok(Arc::new(Connection::new(Link::Local(LocalConnection::new(host))))),
                ConnectionSpec::Ssh(target) => SshConnection::connect(target, &self.options).await.map(|c| Arc::new(Connection::new(Link::Ssh(c)))),
            }
        })
        .await
        .clone()
    }

    /// Commands each host's connection ran (hosts that were never reached are
    /// absent). Delegated commands count for the host they ran on.
    pub fn commands(&self) -> HashMap<String, u64> {
        let Ok(slots) = self.slots.lock() else { return HashMap::new() };
        slots
            .iter()
            .filter_map(|(host, slot)| match slot.get() {
                Some(Ok(conn)) => Some((host.clone(), conn.commands())),
                _ => None,
            })
            .collect()
    }

    /// Closes every open connection.
    pub async fn close_all(&self) {
        let slots: Vec<Slot> = match self.slots.lock() {
            Ok(s) => s.values().cloned().collect(),
            Err(_) => return,
        };
        for slot in slots {
            if let Some(Ok(conn)) = slot.get() {
                conn.close().await;
            }
        }
    }
}

fn value_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// `-J host` or `-o ProxyJump=host` inside `ansible_ssh_common_args`.
fn proxy_jump_from_args(args: &str) -> Option<String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if *w == "-J" {
            return words.get(i + 1).map(|s| s.trim_matches(['"', '\'']).to_string());
        }
        let opt = if *w == "-o" { words.get(i + 1).copied() } else { w.strip_prefix("-o") };
        if let Some(opt) = opt {
            let opt = opt.trim_matches(['"', '\'']);
            if let Some(v) = opt.strip_prefix("ProxyJump=").or_else(|| opt.strip_prefix("ProxyJump ")) {
                return Some(v.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_jump_in_common_args() {
        assert_eq!(proxy_jump_from_args("-o ProxyJump=root@10.0.0.1"), Some("root@10.0.0.1".into()));
        assert_eq!(proxy_jump_from_args("-J bastion -o Foo=1"), Some("bastion".into()));
        assert_eq!(proxy_jump_from_args("-o StrictHostKeyChecking=no"), None);
    }
}
