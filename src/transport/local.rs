//! The `local` connection: commands run on the controller through `/bin/sh -c`,
//! with the same quoting, stdin, caps and timeouts as over SSH.

use super::command::{CommandOutput, OutputBuffer, RemoteCommand};
use super::error::TransportError;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Runs commands on the machine ferry runs on.
#[derive(Debug, Clone)]
pub struct LocalConnection {
    name: String,
    /// Commands started so far (see [`super::Connection::commands`]); clones share it.
    commands: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl LocalConnection {
    /// Commands started on this connection.
    pub fn commands(&self) -> u64 {
        self.commands.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A local connection reported under the inventory name `name`.
    pub fn new(name: &str) -> Self {
        LocalConnection { name: name.to_string(), commands: Default::default() }
    }

    /// Runs one command; the child is killed when `timeout` passes.
    pub async fn run(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<CommandOutput, TransportError> {
        if let Some(reason) = cmd.unsendable() {
            return Err(TransportError::BadCommand { host: self.name.clone(), reason });
        }
        self.commands.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let line = cmd.to_shell_line();
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .stdin(if cmd.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Config { host: self.name.clone(), reason: format!("cannot start /bin/sh: {e}") })?;

        let stdin_data = cmd.stdin.clone();
        let mut stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let work = async move {
            let feed = async {
                if let (Some(pipe), Some(data)) = (stdin.as_mut(), stdin_data) {
                    // A command that exits without reading its input is not an error.
                    let _ = pipe.write_all(&data).await;
                }
                drop(stdin.take());
            };
            let (_, out, err) = tokio::join!(feed, read_capped(stdout), read_capped(stderr));
            let status = child.wait().await;
            (out, err, status)
        };
        match tokio::time::timeout(timeout, work).await {
            Err(_) => Err(TransportError::Timeout { host: self.name.clone(), command: cmd.to_string(), after: timeout }),
            Ok((stdout, stderr, status)) => {
                let status = status.map_err(|e| TransportError::Config { host: self.name.clone(), reason: format!("waiting for command: {e}") })?;
                use std::os::unix::process::ExitStatusExt;
                let signal = status.signal().map(|s| format!("signal {s}"));
                let truncated = stdout.truncated() || stderr.truncated();
                Ok(CommandOutput { rc: status.code().unwrap_or(-1), stdout: stdout.into_string(), stderr: stderr.into_string(), signal, truncated })
            }
        }
    }
}

/// Reads a pipe to the end, keeping at most [`OUTPUT_CAP`](super::command::OUTPUT_CAP).
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> OutputBuffer {
    let mut kept = OutputBuffer::default();
    let Some(mut pipe) = pipe else { return kept };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => kept.push(&buf[..n]),
        }
    }
    kept
}
