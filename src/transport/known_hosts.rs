//! OpenSSH `known_hosts` files: which key a host is supposed to have, and
//! learning a new one under accept-new. Read as sshd(8) describes them:
//! plain and hashed (`|1|salt|hash`) host fields, comma lists with wildcards
//! and `!` negation, `[host]:port` for ports other than 22, and the
//! `@revoked` / `@cert-authority` markers.

use super::command::shell_quote;
use super::host_pattern::match_list;
use super::ssh_config::Origin;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use russh::keys::ssh_key::{HashAlg, PublicKey};
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How a server's host key is checked against known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyChecking {
    /// Unknown and changed keys are refused (OpenSSH `StrictHostKeyChecking yes`).
    Strict,
    /// Unknown keys are recorded and accepted; changed keys are refused.
    AcceptNew,
    /// Any key is accepted. Warning the user is the caller's job.
    Off,
}

/// The known_hosts lines for one connection, from one or more files.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    lines: Vec<Line>,
}

#[derive(Debug, Clone)]
struct Line {
    origin: Origin,
    marker: Marker,
    hosts: String,
    key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// What known_hosts says about a key a server offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A line for this host holds this key.
    Known,
    /// A `@revoked` line holds this key: never accept it.
    Revoked {
        /// The `@revoked` line.
        at: Origin,
    },
    /// The host is known with a different key of the same type.
    Changed {
        /// The line with the old key.
        at: Origin,
        /// Fingerprint of the old key.
        old: String,
    },
    /// The host is known, but only with keys of other types.
    OtherTypes {
        /// Where those keys are, and their types.
        at: Vec<(Origin, String)>,
    },
    /// No line for this host.
    Unknown,
}

/// A file's identity and size and age: it changed if any of them did.
type Stamp = Option<(u64, u64, i64, i64)>;

fn stamp(file: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(file).ok().map(|m| (m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// The files of one connection (user files, then system files), as last read.
struct SharedRead {
    files: Vec<PathBuf>,
    system: Vec<PathBuf>,
    stamps: Vec<Stamp>,
    known: Arc<KnownHosts>,
}

impl KnownHosts {
    /// The lines of `files` (must be readable, missing ones count as empty)
    /// and of the readable `system` files, read once and shared by every
    /// connection that names the same files, until one of them changes
    /// (accept-new appends, a user edits). Two hundred hosts no longer parse
    /// a two-hundred-line file each.
    pub fn read_shared(files: &[PathBuf], system: &[PathBuf]) -> Result<Arc<KnownHosts>, (PathBuf, io::Error)> {
        static LAST: Mutex<Vec<SharedRead>> = Mutex::new(Vec::new());
        let stamps: Vec<Stamp> = files.iter().chain(system).map(|f| stamp(f)).collect();
        let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(hit) = last.iter().find(|r| r.files == files && r.system == system && r.stamps == stamps) {
            return Ok(hit.known.clone());
        }
        let mut known = KnownHosts::read(files)?;
        known.add_readable(system);
        let known = Arc::new(known);
        last.retain(|r| !(r.files == files && r.system == system));
        last.push(SharedRead { files: files.to_vec(), system: system.to_vec(), stamps, known: known.clone() });
        Ok(known)
    }

    /// Reads `files` in order; files that do not exist count as empty.
    pub fn read(files: &[PathBuf]) -> Result<KnownHosts, (PathBuf, io::Error)> {
        let mut known = KnownHosts::default();
        for file in files {
            match fs::read(file) {
                Ok(bytes) => known.add(&String::from_utf8_lossy(&bytes), file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err((file.clone(), e)),
            }
        }
        Ok(known)
    }

    /// Adds the files that exist and can be read; system files that are not
    /// readable are skipped, as ssh does.
    pub fn add_readable(&mut self, files: &[PathBuf]) {
        for file in files {
            if let Ok(bytes) = fs::read(file) {
                self.add(&String::from_utf8_lossy(&bytes), file);
            }
        }
    }

    /// Adds the lines of `text`, as read from `file`. Lines ssh would not
    /// understand are skipped, as ssh does.
    pub fn add(&mut self, text: &str, file: &Path) {
        let file: Arc<Path> = file.into();
        for (index, line) in text.lines().enumerate() {
            let mut fields = line.split_ascii_whitespace();
            let Some(mut first) = fields.next() else {
                continue;
            };
            if first.starts_with('#') {
                continue;
            }
            let marker = match first {
                "@revoked" => Marker::Revoked,
                "@cert-authority" => Marker::CertAuthority,
                m if m.starts_with('@') => continue,
                _ => Marker::None,
            };
            if marker != Marker::None {
                let Some(hosts) = fields.next() else { continue };
                first = hosts;
            }
            let (Some(_key_type), Some(key)) = (fields.next(), fields.next()) else {
                continue;
            };
            self.lines.push(Line { origin: Origin { file: file.clone(), line: index + 1 }, marker, hosts: first.to_string(), key: key.to_string() });
        }
    }

    /// Checks the key `host:port` offered.
    pub fn check(&self, host: &str, port: u16, offered: &PublicKey) -> Verdict {
        let name = lookup_name(host, port);
        let mut changed = None;
        let mut other_types = Vec::new();
        let mut known = false;
        for (line, key) in self.keys_for(&name) {
            let same_key = key.key_data() == offered.key_data();
            match line.marker {
                Marker::Revoked if same_key => return Verdict::Revoked { at: line.origin.clone() },
                Marker::Revoked | Marker::CertAuthority => {}
                Marker::None if same_key => known = true,
                Marker::None if key.algorithm() == offered.algorithm() => {
                    changed.get_or_insert_with(|| (line.origin.clone(), fingerprint(&key)));
                }
                Marker::None => other_types.push((line.origin.clone(), key.algorithm().to_string())),
            }
        }
        // Several keys of one type may be listed for a host (key rotation):
        // any match wins over a mismatch, as in OpenSSH.
        match (known, changed) {
            (true, _) => Verdict::Known,
            (false, Some((at, old))) => Verdict::Changed { at, old },
            (false, None) if !other_types.is_empty() => Verdict::OtherTypes { at: other_types },
            _ => Verdict::Unknown,
        }
    }

    /// The key types known for `host:port`, so the handshake can ask for one
    /// of those first (a host with several keys must not look "unknown"
    /// just because the key ssh prefers is not the one recorded).
    pub fn key_types(&self, host: &str, port: u16) -> Vec<russh::keys::Algorithm> {
        let name = lookup_name(host, port);
        let mut types = Vec::new();
        for (line, key) in self.keys_for(&name) {
            if line.marker == Marker::None && !types.contains(&key.algorithm()) {
                types.push(key.algorithm());
            }
        }
        types
    }

    fn keys_for<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a Line, PublicKey)> + 'a {
        self.lines
            .iter()
            .filter(move |line| hosts_match(&line.hosts, name))
            // a line whose key does not decode cannot vouch for anything
            .filter_map(|line| russh::keys::parse_public_key_base64(&line.key).ok().map(|key| (line, key)))
    }
}

/// The name known_hosts files use: `host`, or `[host]:port` off port 22.
pub fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// The SHA256 fingerprint as ssh prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn hosts_match(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    match_list(field.split(','), name)
}

/// `|1|salt|hash`: HMAC-SHA1 of the name keyed with the salt (HashKnownHosts).
fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (BASE64.decode(salt), BASE64.decode(hash)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// Serialises accept-new writers in this process: 200 hosts behind one new
/// bastion would otherwise each rewrite the file and lose each other's lines.
static LEARN_LOCK: Mutex<()> = Mutex::new(());

/// Under accept-new: reads `files` again (another connection may have just
/// learned this host) and, if the host is still unknown, appends its key to
/// `write_to`. Returns the verdict seen under the lock; `Unknown` means the
/// key was recorded.
pub fn learn(files: &[PathBuf], write_to: &Path, host: &str, port: u16, key: &PublicKey) -> Result<Verdict, String> {
    let _guard = LEARN_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let known = KnownHosts::read(files).map_err(|(file, e)| format!("cannot read {}: {e}", file.display()))?;
    let verdict = known.check(host, port, key);
    if verdict == Verdict::Unknown {
        append(write_to, host, port, key).map_err(|e| format!("cannot record the key in {}: {e}", write_to.display()))?;
    }
    Ok(verdict)
}

/// Appends `host key` to `file` atomically: the whole file is written to a
/// temporary file next to it, then renamed over it, so a crash or a full
/// disk never leaves a half-written known_hosts. Existing permissions are kept.
pub fn append(file: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let key_text = key.to_openssh().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    // Write where a symlinked known_hosts points, not over the link.
    let target = fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    // `UserKnownHostsFile /dev/null` is a common lab setting: ssh "records"
    // into it by writing to the device. Renaming a file over it would
    // replace the device, so anything but a regular file is left alone.
    if fs::metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Ok(());
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
    }
    let (existing, mode) = match fs::read(&target) {
        Ok(bytes) => (bytes, fs::metadata(&target)?.permissions().mode() & 0o7777),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), 0o600),
        Err(e) => return Err(e),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "known_hosts".into());
    let tmp = dir.join(format!(".{name}.ferry-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let write = || -> io::Result<()> {
        let mut out = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        out.write_all(&existing)?;
        if !existing.is_empty() && !existing.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
        writeln!(out, "{} {}", lookup_name(host, port), key_text.trim_end())?;
        // the umask may have narrowed `mode` at creation
        out.set_permissions(fs::Permissions::from_mode(mode))?;
        out.sync_all()?;
        fs::rename(&tmp, &target)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Why a key is refused, with the file and line to look at and what to do.
/// `who` names the host as the user knows it; `files` are the files read.
pub fn refusal(verdict: &Verdict, who: &str, host: &str, port: u16, offered: &PublicKey, files: &[PathBuf]) -> String {
    let offered_desc = format!("{} key {}", offered.algorithm(), fingerprint(offered));
    let name = lookup_name(host, port);
    match verdict {
        Verdict::Known => format!("{who} offered {offered_desc}, which is known"),
        Verdict::Revoked { at } => {
            format!("{who} offered {offered_desc}, which {at} marks @revoked; it is never accepted")
        }
        Verdict::Changed { at, old } => format!(
            "{who} offered {offered_desc}, but {at} holds a different key ({old}) for {name}: the host key \
             has changed, or someone is intercepting the connection. If the change is expected, remove the \
             old key with `ssh-keygen -R {} -f {}` and connect again",
            shell_quote(&name),
            shell_quote(&at.file.to_string_lossy()),
        ),
        Verdict::OtherTypes { at } => {
            let list: Vec<String> = at.iter().map(|(origin, kind)| format!("{kind} at {origin}")).collect();
            format!(
                "{who} offered {offered_desc}, but known_hosts has only other key types for {name} ({}); \
                 the server no longer offers the recorded key. If that is expected, remove the old entries \
                 with `ssh-keygen -R {} -f FILE` and connect again",
                list.join(", "),
                shell_quote(&name),
            )
        }
        Verdict::Unknown => {
            let listed: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let first = files.first().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "~/.ssh/known_hosts".into());
            format!(
                "{who} ({name}) is not in known_hosts ({}); it offered {offered_desc}. Check that fingerprint, \
                 then add the key with `ssh-keyscan -p {port} -t {} {} >> {}`, or connect once with host key \
                 checking accept-new",
                if listed.is_empty() { "no files".to_string() } else { listed.join(", ") },
                offered.algorithm(),
                shell_quote(host),
                shell_quote(&first),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real keys and a real `ssh-keygen -H` output (fixtures, not secrets).
    const KEY_A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGqdbpuWTjrTFMU4mF7inXNhk299tqOmdLwtnx1V4gHk";
    const KEY_B: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEIN5XYvT+Z29MK+DfaEzh+KFHpl4XjvmQ//aXpOMWCM";
    const KEY_C: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHTNp0GDO6KbbgdCynec3oGYKfByv6QZnognR+YZHteW9pNFUgyOQIXg2+iY4BAf7pUuksjrdFD/nk+QYwN11kI=";
    // db1 -> KEY_A, [10.0.0.7]:2222 -> KEY_B
    const HASHED: &str =
        "|1|QHqog7Y/M/aFLAe+NGc+kYGekc0=|zv/c5w1McNILh3WhNgd1ozlZ8HI= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGqdbpuWTjrTFMU4mF7inXNhk299tqOmdLwtnx1V4gHk\n\
|1|3IZwSloxAVpz5pLbs0JVLnL+bCo=|BHXumB1w5yr6PWDV+rzfUutzGsw= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEIN5XYvT+Z29MK+DfaEzh+KFHpl4XjvmQ//aXpOMWCM\n";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("fixture key")
    }

    fn known(text: &str) -> KnownHosts {
        let mut k = KnownHosts::default();
        k.add(text, Path::new("/kh"));
        k
    }

    fn at(line: usize) -> Origin {
        Origin { file: Path::new("/kh").into(), line }
    }

    #[test]
    fn plain_comma_lists_and_ports() {
        let kh = known(&format!("# comment\n\n10.0.0.5,db1 {KEY_A}\n[10.0.0.5]:2222 {KEY_B} a comment\n"));
        assert_eq!(kh.check("db1", 22, &key(KEY_A)), Verdict::Known);
        assert_eq!(kh.check("10.0.0.5", 22, &key(KEY_A)), Verdict::Known);
        assert_eq!(kh.check("DB1", 22, &key(KEY_A)), Verdict::Known);
        assert_eq!(kh.check("10.0.0.5", 2222, &key(KEY_B)), Verdict::Known);
        assert_eq!(kh.check("db1", 2222, &key(KEY_A)), Verdict::Unknown);
        assert_eq!(kh.check("db2", 22, &key(KEY_A)), Verdict::Unknown);
    }

    #[test]
    fn hashed_entries() {
        let kh = known(HASHED);
        assert_eq!(kh.check("db1", 22, &key(KEY_A)), Verdict::Known);
        assert_eq!(kh.check("10.0.0.7", 2222, &key(KEY_B)), Verdict::Known);
        assert_eq!(kh.check("10.0.0.7", 22, &key(KEY_B)), Verdict::Unknown);
        assert!(matches!(kh.check("db1", 22, &key(KEY_B)), Verdict::Changed { .. }));
    }

    #[test]
    fn changed_key_names_the_line_and_the_fix() {
        let kh = known(&format!("other {KEY_B}\ndb1 {KEY_A}\n"));
        let verdict = kh.check("db1", 22, &key(KEY_B));
        assert_eq!(verdict, Verdict::Changed { at: at(2), old: "SHA256:6mgQ1B3cIevh5OC5dusnx+FggmIDLSGeYyomLM81eHM".into() });
        let msg = refusal(&verdict, "node1", "db1", 22, &key(KEY_B), &[PathBuf::from("/kh")]);
        assert!(msg.contains("/kh:2 holds a different key"), "{msg}");
        assert!(msg.contains("`ssh-keygen -R db1 -f /kh`"), "{msg}");
    }

    #[test]
    fn rotation_any_matching_line_wins() {
        let kh = known(&format!("db1 {KEY_B}\ndb1 {KEY_A}\n"));
        assert_eq!(kh.check("db1", 22, &key(KEY_A)), Verdict::Known);
    }

    #[test]
    fn revoked_wins_over_everything() {
        let kh = known(&format!("db1 {KEY_A}\n@revoked * {KEY_A}\n"));
        assert_eq!(kh.check("db1", 22, &key(KEY_A)), Verdict::Revoked { at: at(2) });
        // a revoked key does not make other keys bad
        assert_eq!(kh.check("db1", 22, &key(KEY_B)), Verdict::Changed { at: at(1), old: fingerprint(&key(KEY_A)) });
    }

    #[test]
    fn cert_authority_lines_do_not_vouch_for_plain_keys() {
        let kh = known(&format!("@cert-authority *.lab {KEY_A}\n"));
        assert_eq!(kh.check("db1.lab", 22, &key(KEY_A)), Verdict::Unknown);
    }

    #[test]
    fn wildcards_negation_and_other_types() {
        let kh = known(&format!("*.lab,!db9.lab {KEY_C}\n"));
        assert_eq!(kh.check("db1.lab", 22, &key(KEY_C)), Verdict::Known);
        assert_eq!(kh.check("db9.lab", 22, &key(KEY_C)), Verdict::Unknown);
        let verdict = kh.check("db1.lab", 22, &key(KEY_A));
        assert_eq!(verdict, Verdict::OtherTypes { at: vec![(at(1), "ecdsa-sha2-nistp256".into())] });
        assert_eq!(kh.key_types("db1.lab", 22), vec![key(KEY_C).algorithm()]);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let kh = known(&format!("db1\ndb1 ssh-ed25519 not-base64!\n@weird db1 {KEY_A}\ndb1 {KEY_A}\n"));
        assert_eq!(kh.check("db1", 22, &key(KEY_A)), Verdict::Known);
    }

    #[test]
    fn unknown_message_says_how_to_add() {
        let msg = refusal(&Verdict::Unknown, "node1", "10.0.0.5", 2222, &key(KEY_A), &[PathBuf::from("/kh")]);
        assert!(msg.contains("node1 ([10.0.0.5]:2222) is not in known_hosts (/kh)"), "{msg}");
        assert!(msg.contains("ssh-keyscan -p 2222 -t ssh-ed25519 10.0.0.5 >> /kh"), "{msg}");
    }

    #[test]
    fn append_keeps_content_and_mode_and_is_found_again() {
        let dir = std::env::temp_dir().join(format!("ferry-kh-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("known_hosts");
        fs::write(&file, format!("db1 {KEY_A}")).unwrap(); // no trailing newline
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();

        assert_eq!(learn(std::slice::from_ref(&file), &file, "10.0.0.7", 2200, &key(KEY_B)), Ok(Verdict::Unknown));
        // a second connection learning the same host finds it and writes nothing
        assert_eq!(learn(std::slice::from_ref(&file), &file, "10.0.0.7", 2200, &key(KEY_B)), Ok(Verdict::Known));

        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(text, format!("db1 {KEY_A}\n[10.0.0.7]:2200 {KEY_B}\n"));
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left behind");

        // not a regular file (like /dev/null): accepted, nothing written
        append(&dir, "db1", 22, &key(KEY_A)).unwrap();

        let fresh = dir.join("sub/known_hosts");
        append(&fresh, "db1", 22, &key(KEY_A)).unwrap();
        assert_eq!(fs::read_to_string(&fresh).unwrap(), format!("db1 {KEY_A}\n"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn files_are_read_once_until_they_change() {
        let dir = std::env::temp_dir().join(format!("ferry-kh-shared-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("known_hosts");
        fs::write(&file, format!("db1 {KEY_A}\n")).unwrap();
        let files = [file.clone()];
        let first = KnownHosts::read_shared(&files, &[]).unwrap();
        let again = KnownHosts::read_shared(&files, &[]).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "unchanged files are not read again");

        // accept-new (another connection) records a host: the next read sees it
        assert_eq!(learn(&files, &file, "db2", 22, &key(KEY_B)), Ok(Verdict::Unknown));
        let after = KnownHosts::read_shared(&files, &[]).unwrap();
        assert!(!Arc::ptr_eq(&first, &after));
        assert_eq!(after.check("db2", 22, &key(KEY_B)), Verdict::Known);
        assert_eq!(first.check("db2", 22, &key(KEY_B)), Verdict::Unknown);

        // a file that cannot be read is an error, not an empty file
        let folder = [dir.clone()];
        assert!(KnownHosts::read_shared(&folder, &[]).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
