//! Several read-only commands in one round trip: one shell script runs them
//! in order and frames each one's stdout, stderr and exit status, so every
//! command's result comes back as if it had run alone.
//!
//! A round trip is what a command costs on a busy host (an SSH channel, an
//! exec request, a login shell); the commands themselves are usually a stat
//! or a listing. Ten hosts' worth of observes in one channel each is where
//! issue 5's time went.

use super::command::{CommandOutput, RemoteCommand};
use std::hash::{BuildHasher, Hasher};

/// What the script adds per command, quoted: the redirection and the two marks.
const MARK_BYTES: usize = 160;

/// The script that runs `commands` and the boundary that frames their results.
#[derive(Debug)]
pub struct ObserveBatch {
    boundary: String,
    count: usize,
}

impl ObserveBatch {
    /// Builds the batch script for `commands`. Commands that read standard
    /// input cannot share one: callers run those alone (`None`).
    pub fn script(commands: &[RemoteCommand]) -> Option<(ObserveBatch, RemoteCommand)> {
        if commands.iter().any(|c| c.stdin.is_some()) {
            return None;
        }
        let boundary = fresh_boundary();
        let mut script = String::new();
        for cmd in commands {
            // `cd` must not leak into the next command: a subshell only then,
            // since it costs a fork on the host.
            let line = cmd.to_shell_line();
            if cmd.chdir.is_some() {
                script.push_str(&format!("({line}) </dev/null\n"));
            } else {
                script.push_str(&format!("{line} </dev/null\n"));
            }
            // The newline before each mark is ferry's, taken off again when
            // reading: output without a final newline stays exactly as printed.
            script.push_str(&format!("printf '\\n{boundary} %d\\n' \"$?\"; printf '\\n{boundary}\\n' >&2\n"));
        }
        Some((ObserveBatch { boundary, count: commands.len() }, RemoteCommand::script(script)))
    }

    /// `commands` in runs whose command lines add up to at most `max_bytes`
    /// (a longer command is a run of its own), in order.
    pub fn chunks(commands: &[RemoteCommand], max_bytes: usize) -> Vec<&[RemoteCommand]> {
        let mut chunks = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, cmd) in commands.iter().enumerate() {
            // Measured as sent: the script is quoted once more as a whole.
            let len = super::command::shell_quote(&cmd.to_shell_line()).len() + MARK_BYTES;
            if i > start && bytes + len > max_bytes {
                chunks.push(&commands[start..i]);
                (start, bytes) = (i, 0);
            }
            bytes += len;
        }
        if start < commands.len() {
            chunks.push(&commands[start..]);
        }
        chunks
    }

    /// The results the batch's output holds, in command order: all of them,
    /// or the first ones only when the output was cut (the cap) or the shell
    /// died. A result is whole or missing, never partial.
    pub fn results(&self, out: &CommandOutput) -> Vec<CommandOutput> {
        let stdout = self.frames(&out.stdout, true);
        let stderr = self.frames(&out.stderr, false);
        stdout
            .into_iter()
            .zip(stderr)
            .take(self.count)
            .map(|((stdout, rc), (stderr, _))| CommandOutput { rc: rc.unwrap_or(-1), stdout, stderr, signal: None, truncated: false })
            .collect()
    }

    /// Splits one stream at the boundary marks: (text, exit status on stdout).
    fn frames(&self, stream: &str, with_status: bool) -> Vec<(String, Option<i32>)> {
        let mark = format!("\n{}", self.boundary);
        let mut frames = Vec::new();
        let mut rest = stream;
        while let Some(at) = rest.find(&mark) {
            let text = rest[..at].to_string();
            let after = &rest[at + mark.len()..];
            let Some(eol) = after.find('\n') else { break };
            let status = &after[..eol];
            let rc = if with_status {
                match status.strip_prefix(' ').and_then(|s| s.parse::<i32>().ok()) {
                    Some(rc) => Some(rc),
                    None => break,
                }
            } else if status.is_empty() {
                None
            } else {
                break;
            };
            frames.push((text, rc));
            rest = &after[eol + 1..];
        }
        frames
    }
}

/// A boundary no command's output will hold by accident: 128 random bits
/// (the standard library's per-process random hash keys, fresh per call).
fn fresh_boundary() -> String {
    let word = || std::collections::hash_map::RandomState::new().build_hasher().finish();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(word());
    format!("--ferry-batch-{:016x}{:016x}--", word(), h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_locally(script: &RemoteCommand) -> CommandOutput {
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(script.to_shell_line()).output().expect("sh runs");
        CommandOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            signal: None,
            truncated: false,
        }
    }

    #[test]
    fn each_command_keeps_its_own_output_and_exit_status() {
        let cmds = vec![
            RemoteCommand::argv(["printf", "%s", "no newline"]),
            RemoteCommand::script("echo out; echo err >&2; exit 3"),
            RemoteCommand::argv(["printf", ""]),
            RemoteCommand::script("printf 'two\\n\\nlines\\n\\n'; printf 'e\\n' >&2"),
            RemoteCommand::argv(["sh", "-c", "exit 141"]),
        ];
        let (batch, script) = ObserveBatch::script(&cmds).expect("no stdin");
        let results = batch.results(&run_locally(&script));
        let got: Vec<(i32, &str, &str)> = results.iter().map(|r| (r.rc, r.stdout.as_str(), r.stderr.as_str())).collect();
        assert_eq!(got, vec![(0, "no newline", ""), (3, "out\n", "err\n"), (0, "", ""), (0, "two\n\nlines\n\n", "e\n"), (141, "", "")], "{results:?}");
    }

    #[test]
    fn a_working_directory_does_not_leak_into_the_next_command() {
        let cmds = vec![RemoteCommand::argv(["pwd"]).in_dir("/tmp"), RemoteCommand::argv(["pwd"])];
        let (batch, script) = ObserveBatch::script(&cmds).unwrap();
        let here = std::env::current_dir().unwrap();
        let results = batch.results(&run_locally(&script));
        assert_eq!(results[0].stdout, "/tmp\n");
        assert_eq!(results[1].stdout, format!("{}\n", here.display()));
    }

    #[test]
    fn commands_that_read_stdin_are_not_batched() {
        assert!(ObserveBatch::script(&[RemoteCommand::argv(["cat"]).with_stdin(b"x".to_vec())]).is_none());
    }

    #[test]
    fn a_cut_or_forged_output_yields_only_whole_results() {
        let cmds = vec![RemoteCommand::argv(["echo", "a"]), RemoteCommand::argv(["echo", "b"])];
        let (batch, script) = ObserveBatch::script(&cmds).unwrap();
        let whole = run_locally(&script);
        assert_eq!(batch.results(&whole).len(), 2);
        // Cut anywhere: never a partial result, never a panic.
        for cut in 0..whole.stdout.len() {
            let mut part = whole.clone();
            part.stdout.truncate(cut);
            let got = batch.results(&part);
            assert!(got.len() <= 2);
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.stdout, ["a\n", "b\n"][i]);
            }
        }
        // A host printing a mark of its own with garbage after it ends the frames there.
        let forged = CommandOutput { stdout: format!("x\n{} zz\n", batch.boundary), stderr: format!("\n{}\n", batch.boundary), ..Default::default() };
        assert!(batch.results(&forged).is_empty());
        // Stderr frames missing: no result.
        let no_err = CommandOutput { stderr: String::new(), ..whole };
        assert!(batch.results(&no_err).is_empty());
    }

    #[test]
    fn many_commands_go_in_batches_of_bounded_size() {
        let cmds: Vec<RemoteCommand> = (0..1000).map(|i| RemoteCommand::argv(["rbd", "info", "--format", "json", &format!("volumes/image-{i:04}")])).collect();
        let chunks = ObserveBatch::chunks(&cmds, 16 * 1024);
        assert!(chunks.len() > 1);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 1000, "every command, once");
        assert_eq!(chunks.concat(), cmds, "in order");
        for c in &chunks {
            let (_, script) = ObserveBatch::script(c).unwrap();
            assert!(script.to_shell_line().len() <= 16 * 1024 + 64, "{} bytes", script.to_shell_line().len());
        }
        // a command longer than the limit goes alone
        let long = vec![RemoteCommand::argv(["true"]), RemoteCommand::argv(["echo", &"x".repeat(100)]), RemoteCommand::argv(["true"])];
        assert_eq!(ObserveBatch::chunks(&long, 50).iter().map(|c| c.len()).collect::<Vec<_>>(), vec![1, 1, 1]);
        assert!(ObserveBatch::chunks(&[], 50).is_empty());
    }

    #[test]
    fn boundaries_differ_between_batches() {
        let a = ObserveBatch::script(&[RemoteCommand::argv(["true"])]).unwrap().0.boundary;
        let b = ObserveBatch::script(&[RemoteCommand::argv(["true"])]).unwrap().0.boundary;
        assert_ne!(a, b);
    }
}
