//! What runs on a host: a command built as argv (or a shell script the user
//! wrote), quoted in exactly one place, and what came back.

use std::fmt;

/// The body of a remote command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// Program and arguments, each quoted for the remote shell; user data
    /// in an argument can never become a second command.
    Argv(Vec<String>),
    /// A script the user wrote for `shell:`, run by `/bin/sh -c`. Only the
    /// `shell` module (and ferry's own fixed scripts) produce this.
    Script(String),
}

/// One command to run on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    /// What to run.
    pub body: CommandBody,
    /// Bytes fed to the command's standard input (tokens and secrets travel here, not in argv).
    pub stdin: Option<Vec<u8>>,
    /// Working directory (`chdir:`).
    pub chdir: Option<String>,
    /// Extra environment (`environment:`), in order.
    pub env: Vec<(String, String)>,
}

impl RemoteCommand {
    /// A command from program and arguments.
    pub fn argv<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RemoteCommand { body: CommandBody::Argv(args.into_iter().map(Into::into).collect()), stdin: None, chdir: None, env: Vec::new() }
    }

    /// A shell script run with `/bin/sh -c`.
    pub fn script(script: impl Into<String>) -> Self {
        RemoteCommand { body: CommandBody::Script(script.into()), stdin: None, chdir: None, env: Vec::new() }
    }

    /// Feeds `data` to standard input.
    pub fn with_stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Runs in `dir`.
    pub fn in_dir(mut self, dir: impl Into<String>) -> Self {
        self.chdir = Some(dir.into());
        self
    }

    /// The one line handed to the remote login shell (SSH `exec`) or to
    /// `/bin/sh -c` locally. This is the only place commands are quoted.
    pub fn to_shell_line(&self) -> String {
        let mut line = String::new();
        if let Some(dir) = &self.chdir {
            line.push_str("cd ");
            line.push_str(&shell_quote(dir));
            line.push_str(" && ");
        }
        if !self.env.is_empty() {
            line.push_str("env");
            for (k, v) in &self.env {
                line.push(' ');
                line.push_str(&shell_quote(&format!("{k}={v}")));
            }
            line.push(' ');
        }
        match &self.body {
            CommandBody::Argv(argv) => {
                let quoted: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
                line.push_str(&quoted.join(" "));
            }
            CommandBody::Script(script) => {
                line.push_str("/bin/sh -c ");
                line.push_str(&shell_quote(script));
            }
        }
        line
    }
}

impl fmt::Display for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            CommandBody::Argv(argv) => {
                let quoted: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
                f.write_str(&quoted.join(" "))
            }
            CommandBody::Script(s) => f.write_str(s),
        }
    }
}

/// Quotes one word for a POSIX shell. Words made only of safe characters
/// stay as they are, so logs stay readable.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What a command returned. Output beyond the transport's cap is cut and flagged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit status; `-1` when the command died of a signal (see `signal`).
    pub rc: i32,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// The signal that ended the command, if any.
    pub signal: Option<String>,
    /// True when stdout or stderr was longer than the cap and was cut.
    pub truncated: bool,
}

impl CommandOutput {
    /// True when the command exited 0.
    pub fn success(&self) -> bool {
        self.rc == 0 && self.signal.is_none()
    }

    /// The last `n` lines of stderr (or stdout when stderr is empty), for failure reports.
    pub fn tail(&self, n: usize) -> String {
        let src = if self.stderr.trim().is_empty() { &self.stdout } else { &self.stderr };
        let lines: Vec<&str> = src.trim_end().lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// The most bytes of stdout (and, separately, stderr) kept from one command.
/// A host that prints gigabytes must not take the controller's memory with it.
pub const OUTPUT_CAP: usize = 16 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_words_stay_one_word() {
        let cmd = RemoteCommand::argv(["echo", "; touch /tmp/pwned", "$(id)", "it's", "a\nb"]);
        assert_eq!(cmd.to_shell_line(), "echo '; touch /tmp/pwned' '$(id)' 'it'\\''s' 'a\nb'");
    }

    #[test]
    fn chdir_env_and_script() {
        let mut cmd = RemoteCommand::script("echo $HOME | wc -c").in_dir("/tmp/a b");
        cmd.env.push(("X".into(), "1 2".into()));
        assert_eq!(cmd.to_shell_line(), "cd '/tmp/a b' && env 'X=1 2' /bin/sh -c 'echo $HOME | wc -c'");
    }

    #[test]
    fn empty_word_is_quoted() {
        assert_eq!(shell_quote(""), "''");
    }
}
