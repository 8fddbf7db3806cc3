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

    /// Why this command cannot be sent, if it cannot: no command line carries
    /// a NUL byte (sshd drops the whole connection over one; execve cuts the
    /// line there).
    pub fn unsendable(&self) -> Option<String> {
        let nul = |s: &str| s.contains('\0');
        let place = if self.chdir.as_deref().is_some_and(nul) {
            "its working directory (chdir)".to_string()
        } else if let Some((k, _)) = self.env.iter().find(|(k, v)| nul(k) || nul(v)) {
            format!("environment variable {}", k.replace('\0', "\\0"))
        } else {
            match &self.body {
                CommandBody::Argv(argv) => match argv.iter().position(|a| nul(a)) {
                    Some(0) => "the program name".to_string(),
                    Some(i) => format!("argument {i}"),
                    None => return None,
                },
                CommandBody::Script(s) if nul(s) => "the shell script".to_string(),
                CommandBody::Script(_) => return None,
            }
        };
        let program = match &self.body {
            CommandBody::Argv(argv) => argv.first().map(|p| p.replace('\0', "\\0")).unwrap_or_default(),
            CommandBody::Script(_) => "/bin/sh -c".to_string(),
        };
        Some(format!("cannot run `{program}`: {place} holds a NUL byte (\\0), which no command line can carry; nothing was run"))
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

/// The most bytes of stdout (and, separately, stderr) kept from one command,
/// each kept line counting [`LINE_COST`] bytes more. A host that prints
/// gigabytes must not take the controller's memory with it.
pub const OUTPUT_CAP: usize = 16 * 1024 * 1024;

/// What one kept line costs beyond its bytes. A command's result holds its
/// output once more as one value per line (`stdout_lines`), and each value
/// takes about a hundred bytes however short its line: 16 MB of `y\n` kept
/// whole became 8 million values and 2.6 GB on the controller. Charged this
/// much a line, a flood of short lines costs less than the cap does on one
/// long line, while 200,000 lines of ordinary length still fit.
pub const LINE_COST: usize = 64;

/// One output stream of a command, kept up to [`OUTPUT_CAP`]; the rest is
/// flagged as truncated and dropped.
#[derive(Debug, Default)]
pub struct OutputBuffer {
    kept: Vec<u8>,
    cost: usize,
    truncated: bool,
}

impl OutputBuffer {
    /// Keeps what still fits of `data`.
    pub fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.truncated {
            let (piece, line_cost) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => (&data[..=i], LINE_COST),
                None => (data, 0),
            };
            let room = OUTPUT_CAP.saturating_sub(self.cost);
            if piece.len() + line_cost > room {
                // What fits of the piece; a partial line still pays for its value.
                self.kept.extend_from_slice(&piece[..room.saturating_sub(line_cost).min(piece.len())]);
                self.truncated = true;
                return;
            }
            self.kept.extend_from_slice(piece);
            self.cost += piece.len() + line_cost;
            data = &data[piece.len()..];
        }
        if !data.is_empty() {
            self.truncated = true;
        }
    }

    /// True when output was dropped.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The kept output as text (invalid UTF-8 replaced).
    pub fn into_string(self) -> String {
        // Valid UTF-8 (the usual case) is moved, not copied.
        String::from_utf8(self.kept).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

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
    fn output_keeps_the_first_bytes_up_to_the_cap() {
        let mut out = OutputBuffer::default();
        out.push(&vec![b'a'; OUTPUT_CAP - 1]);
        assert!(!out.truncated());
        out.push(b"bc");
        assert!(out.truncated());
        let kept = out.into_string();
        assert_eq!(kept.len(), OUTPUT_CAP);
        assert!(kept.ends_with("ab"));
    }

    #[test]
    fn short_lines_are_charged_for_the_values_they_become() {
        let mut out = OutputBuffer::default();
        for _ in 0..OUTPUT_CAP / 4096 {
            out.push(&b"y\n".repeat(2048));
        }
        assert!(out.truncated());
        let kept = out.into_string();
        let lines = kept.lines().count();
        assert_eq!(lines, OUTPUT_CAP / (2 + LINE_COST), "whole lines only, as many as the cap pays for");
        assert!(kept.len() < OUTPUT_CAP / 16, "{} bytes of short lines kept", kept.len());

        // Lines of ordinary length keep most of the cap.
        let mut out = OutputBuffer::default();
        out.push(format!("{}\n", "p".repeat(199)).repeat(OUTPUT_CAP / 100).as_bytes());
        assert!(out.truncated());
        assert_eq!(out.into_string().len(), OUTPUT_CAP / (200 + LINE_COST) * 200);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let mut out = OutputBuffer::default();
        out.push(b"ok \xff end");
        assert_eq!(out.into_string(), "ok \u{fffd} end");
    }

    #[test]
    fn a_nul_byte_anywhere_makes_a_command_unsendable() {
        assert_eq!(RemoteCommand::argv(["echo", "a", "b;c"]).unsendable(), None);
        let why = RemoteCommand::argv(["echo", "a", "x\0; touch /tmp/pwned"]).unsendable().expect("a NUL in argv");
        assert_eq!(why, "cannot run `echo`: argument 2 holds a NUL byte (\\0), which no command line can carry; nothing was run");
        assert!(RemoteCommand::script("echo a\0b").unsendable().is_some_and(|w| w.contains("the shell script")));
        assert!(RemoteCommand::argv(["true"]).in_dir("/tmp\0x").unsendable().is_some_and(|w| w.contains("chdir")));
        let mut cmd = RemoteCommand::argv(["true"]);
        cmd.env.push(("K".into(), "v\0".into()));
        assert!(cmd.unsendable().is_some_and(|w| w.contains("environment variable K")));
        // stdin is bytes, not part of the line: NUL is fine there
        assert_eq!(RemoteCommand::argv(["cat"]).with_stdin(b"a\0b".to_vec()).unsendable(), None);
    }

    #[test]
    fn empty_word_is_quoted() {
        assert_eq!(shell_quote(""), "''");
    }
}
