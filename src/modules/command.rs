//! `command` and `shell`. `command` never involves a shell: its string is
//! split into words on the controller and sent as argv, so a variable holding
//! `; touch /tmp/pwned` stays an argument. `shell` runs the user's script
//! with `/bin/sh -c`, as the user asked.

use super::args::{self, Flag, OneOrMany, Text};
use super::{Failure, ModuleContext, ModuleError, ModuleOutput};
use crate::transport::RemoteCommand;
use crate::vars::Value;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArgs {
    #[serde(rename = "_raw_params", alias = "cmd")]
    cmd: Option<Text>,
    argv: Option<OneOrMany<Text>>,
    creates: Option<Text>,
    removes: Option<Text>,
    chdir: Option<Text>,
    stdin: Option<Text>,
    #[serde(default = "yes")]
    stdin_add_newline: Flag,
    #[serde(default = "yes")]
    strip_empty_ends: Flag,
    executable: Option<Text>,
    #[serde(rename = "_uses_shell")]
    _uses_shell: Option<Flag>,
}

fn yes() -> Flag {
    Flag(true)
}

/// A command to run, with Ansible's guards.
#[derive(Debug)]
pub struct CommandModule {
    command: RemoteCommand,
    shown: String,
    creates: Option<String>,
    removes: Option<String>,
    strip_empty_ends: bool,
}

impl CommandModule {
    /// From `command:`/`shell:` arguments.
    pub fn from_args(module: &str, raw: &Value, shell: bool) -> Result<Self, (String, String)> {
        let a: RawArgs = args::parse(module, raw)?;
        let mut command = match (a.cmd, a.argv) {
            (Some(_), Some(_)) => return Err(("argv".into(), format!("`{module}` takes either a command string or `argv`, not both"))),
            (None, None) => return Err((String::new(), format!("`{module}` needs a command (free form, `cmd:` or `argv:`)"))),
            (None, Some(argv)) if shell => {
                let words: Vec<String> = argv.0.into_iter().map(|t| t.0).collect();
                RemoteCommand::script(words.join(" "))
            }
            (None, Some(argv)) => RemoteCommand::argv(argv.0.into_iter().map(|t| t.0)),
            (Some(cmd), None) if shell => match &a.executable {
                Some(exe) => RemoteCommand::argv([exe.0.clone(), "-c".to_string(), cmd.0]),
                None => RemoteCommand::script(cmd.0),
            },
            (Some(cmd), None) => {
                let words = split_words(&cmd.0).map_err(|e| (String::new(), format!("`command`: {e}")))?;
                if words.is_empty() {
                    return Err((String::new(), "`command` is empty".into()));
                }
                RemoteCommand::argv(words)
            }
        };
        if let Some(dir) = a.chdir {
            command = command.in_dir(dir.0);
        }
        if let Some(stdin) = a.stdin {
            let mut data = stdin.0.into_bytes();
            if a.stdin_add_newline.0 {
                data.push(b'\n');
            }
            command = command.with_stdin(data);
        }
        let shown = command.to_string();
        Ok(CommandModule { command, shown, creates: a.creates.map(|t| t.0), removes: a.removes.map(|t| t.0), strip_empty_ends: a.strip_empty_ends.0 })
    }

    /// Runs the command unless `creates`/`removes` say it already ran.
    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        if let Some(skip_msg) = self.guard(cx).await? {
            let mut result = serde_json::Map::new();
            result.insert("cmd".into(), Value::from(self.shown.clone()));
            result.insert("rc".into(), Value::from(0));
            result.insert("stdout".into(), Value::from(skip_msg.clone()));
            result.insert("stdout_lines".into(), Value::from(vec![skip_msg.clone()]));
            result.insert("stderr".into(), Value::from(""));
            result.insert("stderr_lines".into(), Value::Array(vec![]));
            return Ok(ModuleOutput { msg: skip_msg, result, ..Default::default() });
        }
        if cx.check {
            return Ok(ModuleOutput { skipped: true, msg: format!("would run: {} (check mode does not run commands)", self.shown), ..Default::default() });
        }
        let started = std::time::Instant::now();
        let out = cx.run(&self.command).await?;
        let (stdout, stderr) = if self.strip_empty_ends {
            (out.stdout.trim_end_matches(['\n', '\r']).to_string(), out.stderr.trim_end_matches(['\n', '\r']).to_string())
        } else {
            (out.stdout.clone(), out.stderr.clone())
        };
        let failed = !out.success();
        let mut result = serde_json::Map::new();
        result.insert("cmd".into(), Value::from(self.shown.clone()));
        result.insert("rc".into(), Value::from(out.rc));
        result.insert("stdout_lines".into(), Value::from(stdout.lines().map(str::to_owned).collect::<Vec<_>>()));
        result.insert("stderr_lines".into(), Value::from(stderr.lines().map(str::to_owned).collect::<Vec<_>>()));
        result.insert("stdout".into(), Value::from(stdout));
        result.insert("stderr".into(), Value::from(stderr));
        result.insert("delta".into(), Value::from(format!("{:.3}s", started.elapsed().as_secs_f64())));
        if out.truncated {
            result.insert("truncated".into(), Value::Bool(true));
        }
        let msg = match (&out.signal, failed) {
            (Some(sig), _) => format!("killed by {sig}"),
            (None, true) => format!("non-zero return code {}", out.rc),
            (None, false) => String::new(),
        };
        Ok(ModuleOutput { changed: true, failed, msg, result, command: Some(self.shown.clone()), rc: Some(out.rc), ..Default::default() })
    }

    /// `Some(reason)` when `creates`/`removes` make the command unnecessary.
    async fn guard(&self, cx: &ModuleContext<'_>) -> Result<Option<String>, ModuleError> {
        if let Some(path) = &self.creates {
            if path_exists(cx, path).await? {
                return Ok(Some(format!("skipped, since {path} exists")));
            }
        }
        if let Some(path) = &self.removes {
            if !path_exists(cx, path).await? {
                return Ok(Some(format!("skipped, since {path} does not exist")));
            }
        }
        Ok(None)
    }
}

async fn path_exists(cx: &ModuleContext<'_>, path: &str) -> Result<bool, ModuleError> {
    // A glob in creates/removes is expanded by the remote shell as a
    // positional word list, never as code.
    let cmd = RemoteCommand::argv(["/bin/sh", "-c", "for p in $1; do [ -e \"$p\" ] && exit 0; done; exit 1", "sh", path]);
    let out = cx.run(&cmd).await?;
    match out.rc {
        0 => Ok(true),
        1 => Ok(false),
        _ => Err(ModuleError::Failed(Failure {
            msg: format!("could not check whether {path} exists"),
            command: Some(cmd.to_string()),
            rc: Some(out.rc),
            stderr: Some(out.stderr),
            stdout: None,
        })),
    }
}

/// Splits a command line into words the way a POSIX shell would quote them,
/// but without any expansion: `;`, `$(...)`, `|` are plain characters.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some('\n') => {}
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(ch) => cur.push(ch),
                    None => cur.push('\\'),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_metacharacters_as_text() {
        assert_eq!(split_words("echo ; touch /tmp/pwned").unwrap(), vec!["echo", ";", "touch", "/tmp/pwned"]);
        assert_eq!(split_words(r#"echo "a b" 'c d' e\ f $(id)"#).unwrap(), vec!["echo", "a b", "c d", "e f", "$(id)"]);
        assert!(split_words("echo 'oops").is_err());
    }

    #[test]
    fn command_never_becomes_a_script() {
        let m = CommandModule::from_args("command", &serde_json::json!({"_raw_params": "echo ; touch /tmp/pwned"}), false).unwrap();
        assert_eq!(m.command.to_shell_line(), "echo ';' touch /tmp/pwned");
    }
}
