//! Observing and writing files on a host with fixed scripts: user data
//! travels as positional arguments or on stdin, never inside the script.

use super::{Change, ModuleContext, ModuleError};
use crate::report::FileDiff;
use crate::transport::RemoteCommand;
use base64::Engine;

/// What a path is on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Nothing there.
    Absent,
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (not followed).
    Link,
    /// A device, socket or fifo.
    Other,
}

/// A path's observed state.
#[derive(Debug, Clone)]
pub struct FileState {
    /// The path observed.
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// Permission bits, as `stat -c %a`.
    pub mode: Option<u32>,
    /// Owner name.
    pub owner: Option<String>,
    /// Group name.
    pub group: Option<String>,
    /// sha256 of a regular file's content.
    pub sha256: Option<String>,
    /// Link target for links.
    pub link_target: Option<String>,
    /// Content, when it was asked for and the file is not too large.
    pub content: Option<Vec<u8>>,
}

impl FileState {
    /// `path` as a `kind` with nothing else known: what a fresh or absent object looks like.
    pub fn bare(path: &str, kind: Kind) -> Self {
        FileState { path: path.to_string(), kind, mode: None, owner: None, group: None, sha256: None, link_target: None, content: None }
    }
}

/// Files larger than this are not fetched for diffs or lineinfile.
pub const CONTENT_LIMIT: u64 = 8 * 1024 * 1024;

/// Forks on the host are what an observe costs (it runs for every file task
/// on every host): `stat` once (its size decides whether content is sent),
/// then either the content (`base64`; the controller hashes it) or the digest
/// (`sha256sum` without a pipe: the controller takes it out of its line).
const OBSERVE_SCRIPT: &str = r#"p=$1
if [ -L "$p" ]; then t=link; elif [ -d "$p" ]; then t=directory; elif [ -f "$p" ]; then t=file; elif [ -e "$p" ]; then t=other; else echo absent; exit 0; fi
echo "$t"
m=$(stat -c '%a %U %G %s' -- "$p") || exit 3
echo "$m"
case $t in
  file) if [ "$2" = 1 ] && [ "${m##* }" -le "$3" ]; then echo content; base64 -w0 -- "$p" || exit 3; echo
        else sha256sum -- "$p" || exit 3; fi ;;
  link) readlink -- "$p" ;;
esac"#;

/// The read-only command that observes `path` (see [`observe`]).
pub fn observe_command(path: &str, want_content: bool) -> RemoteCommand {
    RemoteCommand::argv([
        "/bin/sh".to_string(),
        "-c".to_string(),
        OBSERVE_SCRIPT.to_string(),
        "sh".to_string(),
        path.to_string(),
        if want_content { "1" } else { "0" }.to_string(),
        CONTENT_LIMIT.to_string(),
    ])
}

/// Observes `path`; with `want_content`, also fetches its bytes (up to [`CONTENT_LIMIT`]).
pub async fn observe(cx: &ModuleContext<'_>, path: &str, want_content: bool) -> Result<FileState, ModuleError> {
    let cmd = observe_command(path, want_content);
    let out = cx.observe_cmd(&cmd).await?;
    parse_observation(path, &out.stdout).ok_or_else(|| {
        ModuleError::Failed(super::Failure {
            msg: format!("could not read the state of {path}: unexpected output"),
            command: Some(cmd.to_string()),
            stdout: Some(out.stdout),
            ..Default::default()
        })
    })
}

fn parse_observation(path: &str, stdout: &str) -> Option<FileState> {
    let mut lines = stdout.lines();
    let kind = match lines.next()? {
        "absent" => Kind::Absent,
        "file" => Kind::File,
        "directory" => Kind::Directory,
        "link" => Kind::Link,
        "other" => Kind::Other,
        _ => return None,
    };
    let mut st = FileState::bare(path, kind.clone());
    if kind == Kind::Absent {
        return Some(st);
    }
    let mut meta = lines.next()?.split_whitespace();
    st.mode = u32::from_str_radix(meta.next()?, 8).ok();
    st.owner = meta.next().map(str::to_owned);
    st.group = meta.next().map(str::to_owned);
    match kind {
        Kind::File => {
            let line = lines.next()?;
            if line == "content" {
                // An empty file prints an empty base64 line, which `lines` may drop.
                let content = base64::engine::general_purpose::STANDARD.decode(lines.next().unwrap_or("").trim()).ok()?;
                st.sha256 = Some(sha256_hex(&content));
                st.content = Some(content);
            } else {
                // `<digest>  <name>`; GNU sha256sum starts the line with `\` when
                // it had to escape the name (a backslash or newline in it).
                let digest = line.split_whitespace().next()?;
                st.sha256 = Some(digest.trim_start_matches('\\').to_string());
            }
        }
        Kind::Link => st.link_target = lines.next().map(str::to_owned),
        _ => {}
    }
    Some(st)
}

/// Hex sha256 of bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

const WRITE_SCRIPT: &str = r#"set -e
p=$1; mode=$2; owner=$3; group=$4
d=$(dirname -- "$p")
t=$(mktemp -- "$d/.ferry.XXXXXXXX")
trap 'rm -f -- "$t"' EXIT
cat > "$t"
if [ -n "$mode" ]; then chmod -- "$mode" "$t"
elif [ -e "$p" ]; then chmod --reference="$p" -- "$t"
else chmod 0644 -- "$t"; fi
if [ -n "$owner" ]; then chown -- "$owner" "$t"; elif [ -e "$p" ]; then chown --reference="$p" -- "$t"; fi
if [ -n "$group" ]; then chgrp -- "$group" "$t"; fi
mv -f -- "$t" "$p"
trap - EXIT"#;

/// The command that atomically replaces `path` with `content` (temp file in
/// the same folder, created 0600, then renamed): no reader ever sees half a
/// file, and secrets are never world-readable on the way.
pub fn write_command(path: &str, content: &[u8], mode: Option<u32>, owner: Option<&str>, group: Option<&str>) -> RemoteCommand {
    RemoteCommand::argv([
        "/bin/sh".to_string(),
        "-c".to_string(),
        WRITE_SCRIPT.to_string(),
        "sh".to_string(),
        path.to_string(),
        mode.map(|m| format!("{m:o}")).unwrap_or_default(),
        owner.unwrap_or("").to_string(),
        group.unwrap_or("").to_string(),
    ])
    .with_stdin(content.to_vec())
}

/// A unified diff between two texts, labelled with the path.
pub fn diff(path: &str, before: &[u8], after: &[u8]) -> FileDiff {
    let before = String::from_utf8_lossy(before).into_owned();
    let after = String::from_utf8_lossy(after).into_owned();
    let unified = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path} (before)"), &format!("{path} (after)"))
        .to_string();
    FileDiff { path: path.to_string(), before, after, unified }
}

/// Desired content and metadata of one file; the engine's contract does the rest.
#[derive(Debug)]
pub struct DesiredFile {
    /// Destination path.
    pub path: String,
    /// Bytes the file must hold.
    pub content: Vec<u8>,
    /// Mode, if asked.
    pub mode: Option<u32>,
    /// Owner, if asked.
    pub owner: Option<String>,
    /// Group, if asked.
    pub group: Option<String>,
    /// `force: false`: an existing file is left as it is.
    pub force: bool,
}

impl super::StatefulModule for DesiredFile {
    type State = FileState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<FileState, ModuleError> {
        observe(cx, &self.path, cx.diff).await
    }

    fn plan(&self, st: &FileState) -> Result<Vec<Change>, super::Failure> {
        let mut changes = Vec::new();
        match st.kind {
            Kind::Directory => return Err(super::Failure::msg(format!("{} is a directory; give the full file path as `dest`", self.path))),
            Kind::Other => return Err(super::Failure::msg(format!("{} exists and is not a regular file", self.path))),
            Kind::File if !self.force => return Ok(changes),
            _ => {}
        }
        let want_sha = sha256_hex(&self.content);
        let content_differs = st.sha256.as_deref() != Some(want_sha.as_str()) || st.kind == Kind::Link;
        if content_differs {
            let before = st.content.clone().unwrap_or_default();
            let summary = if st.kind == Kind::Absent {
                format!("create {} ({} bytes)", self.path, self.content.len())
            } else {
                format!("update {} ({} bytes)", self.path, self.content.len())
            };
            changes.push(Change {
                summary,
                commands: vec![write_command(&self.path, &self.content, self.mode, self.owner.as_deref(), self.group.as_deref())],
                diff: Some(diff(&self.path, &before, &self.content)),
            });
            return Ok(changes);
        }
        if let Some(mode) = self.mode {
            if st.mode != Some(mode) {
                changes.push(Change {
                    summary: format!("chmod {:o} {} (was {})", mode, self.path, st.mode.map(|m| format!("{m:o}")).unwrap_or_default()),
                    commands: vec![RemoteCommand::argv(["chmod".to_string(), format!("{mode:o}"), "--".to_string(), self.path.clone()])],
                    diff: None,
                });
            }
        }
        if let Some(owner) = &self.owner {
            if st.owner.as_deref() != Some(owner.as_str()) {
                changes.push(Change {
                    summary: format!("chown {owner} {}", self.path),
                    commands: vec![RemoteCommand::argv(["chown", "--", owner, &self.path])],
                    diff: None,
                });
            }
        }
        if let Some(group) = &self.group {
            if st.group.as_deref() != Some(group.as_str()) {
                changes.push(Change {
                    summary: format!("chgrp {group} {}", self.path),
                    commands: vec![RemoteCommand::argv(["chgrp", "--", group, &self.path])],
                    diff: None,
                });
            }
        }
        Ok(changes)
    }

    fn result(&self, _st: &FileState, _applied: &[crate::transport::CommandOutput]) -> serde_json::Map<String, crate::vars::Value> {
        let mut m = serde_json::Map::new();
        m.insert("dest".into(), self.path.clone().into());
        m.insert("checksum".into(), sha256_hex(&self.content).into());
        m.insert("size".into(), self.content.len().into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_observation() {
        let st = parse_observation("/etc/x", "file\n644 root root 3\ncontent\nYWJj\n").unwrap();
        assert_eq!(st.sha256, Some(sha256_hex(b"abc")), "hashed on the controller");
        let st = parse_observation("/etc/x", "file\n644 root root 0\ncontent\n").unwrap();
        assert_eq!((st.content.as_deref(), st.sha256), (Some(&b""[..]), Some(sha256_hex(b""))), "empty file");
        assert!(parse_observation("/etc/x", "file\n644 root root 3\ncontent\n%%%\n").is_none(), "not base64");
        // too large for content: the digest only
        let st = parse_observation("/etc/x", "file\n644 root root 9999999999\nabc  /etc/x\n").unwrap();
        assert_eq!((st.sha256.as_deref(), st.content), (Some("abc"), None));
        let st = parse_observation("/etc/x", "file\n644 root root 3\ncontent\nYWJj\n").unwrap();
        assert_eq!(st.kind, Kind::File);
        assert_eq!(st.mode, Some(0o644));
        assert_eq!(st.content.as_deref(), Some(&b"abc"[..]));
        assert_eq!(parse_observation("/x", "absent\n").unwrap().kind, Kind::Absent);
        assert!(parse_observation("/x", "garbage").is_none());
        // an escaped name (GNU sha256sum prefixes the line with a backslash)
        let st = parse_observation("/a\\b", "file\n600 root root 0\n\\e3b0  /a\\\\b\n").unwrap();
        assert_eq!(st.sha256.as_deref(), Some("e3b0"));
    }
}
