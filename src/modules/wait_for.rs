//! `wait_for`: a TCP port or a path reaching a state, checked on the host
//! itself by one remote polling loop (one round trip, not one per poll).

use super::args::{Number, Text};
use super::{Failure, ModuleContext, ModuleError, ModuleOutput};
use crate::transport::RemoteCommand;
use serde::Deserialize;
use std::time::Duration;

/// Arguments of `wait_for`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForModule {
    host: Option<Text>,
    port: Option<Number>,
    path: Option<Text>,
    #[serde(default)]
    state: Option<Text>,
    timeout: Option<Number>,
    delay: Option<Number>,
    sleep: Option<Number>,
    connect_timeout: Option<Number>,
    search_regex: Option<Text>,
    msg: Option<Text>,
}

const SCRIPT: &str = r#"kind=$1 target=$2 port=$3 want=$4 deadline=$(( $(date +%s) + $5 )) pause=$6 ct=$7 rx=$8
check() {
  if [ "$kind" = port ]; then timeout "$ct" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$target" "$port" 2>/dev/null
  elif [ -n "$rx" ]; then [ -e "$target" ] && grep -Eq -- "$rx" "$target"
  else [ -e "$target" ]; fi
}
while :; do
  if check; then up=1; else up=0; fi
  case $want in started|present) [ $up = 1 ] && exit 0 ;; *) [ $up = 0 ] && exit 0 ;; esac
  [ "$(date +%s)" -ge "$deadline" ] && exit 2
  sleep "$pause"
done"#;

impl WaitForModule {
    /// Waits on the host until the state holds or the timeout passes.
    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        let state = self.state.as_ref().map(|s| s.0.as_str()).unwrap_or("started");
        if !matches!(state, "started" | "stopped" | "present" | "absent") {
            return Err(ModuleError::Failed(Failure::msg(format!("`wait_for` state `{state}` is not supported (started, stopped, present, absent)"))));
        }
        let timeout = self.timeout.map(|n| n.0).unwrap_or(300.0).max(0.0);
        let (kind, target, port) = match (&self.port, &self.path) {
            (Some(p), None) => {
                let port = p.as_port().ok_or_else(|| ModuleError::Failed(Failure::msg(format!("`wait_for` port {} is not a TCP port", p.0))))?;
                ("port", self.host.as_ref().map(|h| h.0.clone()).unwrap_or_else(|| "127.0.0.1".into()), port.to_string())
            }
            (None, Some(path)) => ("path", path.0.clone(), String::new()),
            (Some(_), Some(_)) => return Err(ModuleError::Failed(Failure::msg("`wait_for` takes `port` or `path`, not both"))),
            (None, None) => {
                let secs = timeout.min(3600.0);
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                return Ok(ModuleOutput { msg: format!("waited {secs}s"), ..Default::default() });
            }
        };
        if let Some(d) = self.delay {
            tokio::time::sleep(Duration::from_secs_f64(d.0.clamp(0.0, 3600.0))).await;
        }
        if cx.check {
            return Ok(ModuleOutput { skipped: true, msg: "check mode does not wait".into(), ..Default::default() });
        }
        let cmd = RemoteCommand::argv([
            "/bin/sh".to_string(),
            "-c".to_string(),
            SCRIPT.to_string(),
            "sh".to_string(),
            kind.to_string(),
            target.clone(),
            port.clone(),
            state.to_string(),
            format!("{}", timeout.ceil() as u64),
            format!("{}", self.sleep.map(|n| n.0).unwrap_or(1.0).clamp(0.1, 60.0)),
            format!("{}", self.connect_timeout.map(|n| n.0).unwrap_or(5.0).clamp(1.0, 60.0).ceil() as u64),
            self.search_regex.as_ref().map(|r| r.0.clone()).unwrap_or_default(),
        ]);
        let started = std::time::Instant::now();
        let out = cx.run_for(&cmd, Duration::from_secs_f64(timeout + 30.0)).await?;
        let what = if kind == "port" { format!("{target}:{port}") } else { target.clone() };
        let mut result = serde_json::Map::new();
        result.insert("elapsed".into(), started.elapsed().as_secs().into());
        match out.rc {
            0 => Ok(ModuleOutput { msg: format!("{what} {state} after {:.1}s", started.elapsed().as_secs_f64()), result, ..Default::default() }),
            2 => Ok(ModuleOutput {
                failed: true,
                msg: self.msg.as_ref().map(|m| m.0.clone()).unwrap_or_else(|| format!("timeout after {timeout}s waiting for {what} to be {state}")),
                result,
                ..Default::default()
            }),
            _ => Err(ModuleError::command_failed("wait_for could not check", &cmd, &out)),
        }
    }
}
