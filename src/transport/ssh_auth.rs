//! Proving who we are: private key files first (in the order configured),
//! then ssh-agent keys. Key files are read before any network traffic, so a
//! typo in the inventory fails at once and names the variable to fix.

use super::known_hosts::fingerprint;
use super::ssh_route::{Hop, Identity, IdentitySource};
use russh::client::{AuthResult, Handle, Handler};
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::AgentIdentity;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};
use russh::MethodKind;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The key files of one hop, read and decoded.
#[derive(Debug, Default)]
pub struct Keys {
    loaded: Vec<(Identity, Arc<PrivateKey>)>,
    /// Encrypted keys, kept in case the agent holds them or another key
    /// works; reported if authentication fails.
    encrypted: Vec<Identity>,
    /// Files from ssh config or the defaults that could not be used (ssh
    /// skips them too); mentioned if authentication fails.
    skipped: Vec<String>,
}

/// Why authentication did not succeed.
#[derive(Debug)]
pub enum AuthFailure {
    /// Every identity was refused: what was tried, and what the server accepts.
    Rejected(String),
    /// Only an encrypted key could have worked; names the file and the fix.
    Encrypted(String),
    /// The connection broke during authentication.
    Lost(String),
}

fn source(identity: &Identity) -> String {
    match &identity.source {
        IdentitySource::Inventory => "ansible_ssh_private_key_file".into(),
        IdentitySource::Config(origin) => format!("IdentityFile at {origin}"),
        IdentitySource::Default => "default identity".into(),
    }
}

fn encrypted_advice(identity: &Identity) -> String {
    format!(
        "private key {} ({}) is protected by a passphrase, which ferry cannot ask for: add it to ssh-agent \
         (`ssh-add {}`) and run with the agent enabled, or use a key without a passphrase",
        identity.path.display(),
        source(identity),
        identity.path.display()
    )
}

/// What one key file holds, as far as ferry can use it.
enum KeyFile {
    /// A usable private key.
    Loaded(Box<PrivateKey>),
    /// A private key behind a passphrase (the agent may hold it).
    Encrypted,
    /// Why it cannot be used, for a message.
    Unusable(String),
}

/// Reads and decodes `path`, and refuses a private key others may read.
fn read_key_file(path: &Path) -> KeyFile {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return KeyFile::Unusable(match e.kind() {
                io::ErrorKind::NotFound => "no such file".to_string(),
                io::ErrorKind::InvalidData => "not a text key file".to_string(),
                _ => e.to_string(),
            })
        }
    };
    let decoded = russh::keys::decode_secret_key(&text, None);
    // Only a private key's permissions matter (a .pub is world-readable).
    let private = matches!(decoded, Ok(_) | Err(russh::keys::Error::KeyIsEncrypted));
    match (decoded, too_open(path).filter(|_| private)) {
        (_, Some(mode)) => {
            KeyFile::Unusable(format!("its permissions {mode:04o} let other users read it (ssh refuses such keys too): `chmod 600 {}`", path.display()))
        }
        (Ok(key), None) => KeyFile::Loaded(Box::new(key)),
        (Err(russh::keys::Error::KeyIsEncrypted), None) => KeyFile::Encrypted,
        (Err(_), None) if text.starts_with("ssh-") || text.starts_with("ecdsa-") => {
            KeyFile::Unusable("this is a public key; name the private key file, without .pub".to_string())
        }
        (Err(e), None) => KeyFile::Unusable(format!("not a usable private key: {e}")),
    }
}

/// Why the key file `path`, named by the inventory or the command line, cannot
/// be used; `Ok` for a usable key (or one behind a passphrase: the agent may
/// hold it). For the check before a run, so a bad key stops it before any
/// host is touched.
pub fn named_key_problem(path: &Path) -> Result<(), String> {
    match read_key_file(path) {
        KeyFile::Unusable(why) => Err(why),
        KeyFile::Loaded(_) | KeyFile::Encrypted => Ok(()),
    }
}

/// Reads the hop's key files. A file named by the inventory must be a
/// usable key; files from ssh config or the defaults that are missing or
/// unusable are skipped, as ssh does.
pub fn load_keys(hop: &Hop) -> Result<Keys, String> {
    let mut keys = Keys::default();
    for identity in &hop.identities {
        let named = identity.source == IdentitySource::Inventory;
        let problem = match read_key_file(&identity.path) {
            KeyFile::Loaded(key) => {
                keys.loaded.push((identity.clone(), Arc::new(*key)));
                continue;
            }
            KeyFile::Encrypted if named && !hop.use_agent => return Err(encrypted_advice(identity)),
            KeyFile::Encrypted => {
                keys.encrypted.push(identity.clone());
                continue;
            }
            KeyFile::Unusable(why) => why,
        };
        let message = format!("{} ({}): {problem}", identity.path.display(), source(identity));
        if named {
            return Err(format!("cannot use private key {message}"));
        }
        keys.skipped.push(message);
    }
    Ok(keys)
}

/// The permission bits of a key file of ours that others may read or write,
/// if any: ssh refuses such a key (its secret may already be out), and so do we.
fn too_open(path: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let mine = meta.uid() == unsafe { libc::getuid() };
    let mode = meta.mode() & 0o777;
    (mine && mode & 0o077 != 0).then_some(mode)
}

/// Offers the keys, then the agent's, until one is accepted.
pub async fn authenticate<H: Handler>(handle: &mut Handle<H>, hop: &Hop, keys: &Keys) -> Result<(), AuthFailure> {
    let user = hop.user.as_str();
    let mut tried: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut rsa_hash: Option<Option<HashAlg>> = None;
    let mut server_methods: Option<String> = None;

    for (identity, key) in &keys.loaded {
        let hash = if key.algorithm().is_rsa() { rsa_sig_hash(handle, &mut rsa_hash).await } else { None };
        let desc = format!("{} ({} {})", identity.path.display(), key.algorithm(), fingerprint(key.public_key()));
        let result = handle.authenticate_publickey(user, PrivateKeyWithHashAlg::new(key.clone(), hash)).await;
        match judge(handle, result, desc, &mut tried, &mut server_methods)? {
            Step::Done => return Ok(()),
            Step::Next => {}
            Step::Stop => break,
        }
    }

    if server_methods.is_none() && hop.use_agent && agent(handle, user, &mut rsa_hash, &mut tried, &mut notes, &mut server_methods).await? {
        return Ok(());
    }

    notes.extend(keys.skipped.iter().map(|s| format!("skipped {s}")));
    if let Some(identity) = keys.encrypted.first() {
        return Err(AuthFailure::Encrypted(encrypted_advice(identity)));
    }
    let mut reason = if tried.is_empty() {
        "no key to offer: set ansible_ssh_private_key_file, add an IdentityFile to ssh config, or load a key into \
         ssh-agent"
            .to_string()
    } else {
        format!("the server refused {}", tried.join(", "))
    };
    if let Some(methods) = server_methods {
        reason.push_str(&format!("; it does not take public keys (it accepts: {methods})"));
    }
    if !notes.is_empty() {
        reason.push_str(&format!(" ({})", notes.join("; ")));
    }
    Err(AuthFailure::Rejected(reason))
}

enum Step {
    Done,
    Next,
    Stop,
}

/// Sorts one attempt's outcome; `server_methods` is set when public keys are pointless.
fn judge<H: Handler, E: std::fmt::Display>(
    handle: &Handle<H>,
    result: Result<AuthResult, E>,
    desc: String,
    tried: &mut Vec<String>,
    server_methods: &mut Option<String>,
) -> Result<Step, AuthFailure> {
    match result {
        Ok(AuthResult::Success) => Ok(Step::Done),
        Ok(AuthResult::Failure { remaining_methods, .. }) => {
            tried.push(desc);
            if remaining_methods.contains(&MethodKind::PublicKey) {
                Ok(Step::Next)
            } else {
                let names: Vec<&str> = remaining_methods.iter().map(<&str>::from).collect();
                *server_methods = Some(if names.is_empty() { "nothing".into() } else { names.join(",") });
                Ok(Step::Stop)
            }
        }
        Err(_) if handle.is_closed() => {
            let after = if tried.is_empty() { String::new() } else { format!(" after refusing {}", tried.join(", ")) };
            // sshd drops the connection after MaxAuthTries refused keys
            Err(AuthFailure::Lost(format!(
                "the server closed the connection during authentication{after} (too many keys offered? \
                 sshd allows MaxAuthTries, 6 by default)"
            )))
        }
        Err(e) => {
            tried.push(format!("{desc}: {e}"));
            Ok(Step::Next)
        }
    }
}

/// The signature hash for RSA keys: the best the server announced
/// (server-sig-algs), else legacy ssh-rsa as OpenSSH does. Asked once.
async fn rsa_sig_hash<H: Handler>(handle: &Handle<H>, cache: &mut Option<Option<HashAlg>>) -> Option<HashAlg> {
    if let Some(hash) = cache {
        return *hash;
    }
    let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
    *cache = Some(hash);
    hash
}

async fn agent<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    rsa_hash: &mut Option<Option<HashAlg>>,
    tried: &mut Vec<String>,
    notes: &mut Vec<String>,
    server_methods: &mut Option<String>,
) -> Result<bool, AuthFailure> {
    let Some(socket) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) else {
        notes.push("no ssh-agent: SSH_AUTH_SOCK is not set".into());
        return Ok(false);
    };
    let mut agent = match AgentClient::connect_uds(PathBuf::from(&socket)).await {
        Ok(agent) => agent,
        Err(e) => {
            notes.push(format!("cannot reach ssh-agent at {}: {e}", socket.to_string_lossy()));
            return Ok(false);
        }
    };
    // Agents with destination-constrained keys only offer them once the
    // connection is bound to this server; older agents refuse the request,
    // which changes nothing for them.
    if let Some(binding) = handle.agent_session_binding() {
        let _ = agent.bind_session(binding, false).await;
    }
    let identities = match agent.request_identities().await {
        Ok(ids) => ids,
        Err(e) => {
            notes.push(format!("ssh-agent did not list its keys: {e}"));
            return Ok(false);
        }
    };
    if identities.is_empty() {
        notes.push("ssh-agent holds no keys".into());
    }
    for identity in identities {
        let AgentIdentity::PublicKey { key, comment } = identity else {
            continue;
        };
        let hash = if key.algorithm().is_rsa() { rsa_sig_hash(handle, rsa_hash).await } else { None };
        let desc = format!("agent key {comment:?} ({} {})", key.algorithm(), fingerprint(&key));
        let result = handle.authenticate_publickey_with(user, key, hash, &mut agent).await;
        match judge(handle, result, desc, tried, server_methods)? {
            Step::Done => return Ok(true),
            Step::Next => {}
            Step::Stop => break,
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::known_hosts::HostKeyChecking;
    use crate::transport::ssh_config::Origin;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::time::Duration;

    // Throwaway keys made for these tests with ssh-keygen (the second one
    // with the passphrase "pw"); they open nothing.
    const PLAIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBcdive1sP8W82kG0xydxMzuMrc5F/bhGbiFArjtPDniAAAAJBjK7wbYyu8
GwAAAAtzc2gtZWQyNTUxOQAAACBcdive1sP8W82kG0xydxMzuMrc5F/bhGbiFArjtPDniA
AAAEBAFlgIENoIeOG1hovRlWOe0vHgYOB7hohmABCkRvmHZVx2K97Ww/xbzaQbTHJ3EzO4
ytzkX9uEZuIUCuO08OeIAAAAB2ZpeHR1cmUBAgMEBQY=
-----END OPENSSH PRIVATE KEY-----
";
    const ENCRYPTED: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABAZotq33X
oqRGl6whJpqIB3AAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIIhpdDebetrfvFu6
A7PWldQCfBqK0XM1uszI3KSy67nfAAAAkA/i8EJKIifwcsj+a6ksOVa/qFNpWSne9mzU2S
E2QhL5/puBuu+4qYI+j2eJ1IP1b4donh00DaqD3DOPhErlUVrAMJj+cLrXgg+AElsG43WC
O0ch6/sU48y6W9gjov5+0ETuMVAg5oib/PjgAFEdfgmpsRqSJzROQWX3eBRaR0+7djTrMz
aPawG/gq2zejFOuQ==
-----END OPENSSH PRIVATE KEY-----
";

    fn hop(identities: Vec<Identity>, use_agent: bool) -> Hop {
        Hop {
            alias: "h".into(),
            host: "h".into(),
            port: 22,
            user: "root".into(),
            identities,
            use_agent,
            known_hosts_name: "h".into(),
            known_hosts_files: vec![],
            global_known_hosts_files: vec![],
            checking: HostKeyChecking::Strict,
            connect_timeout: Duration::from_secs(1),
        }
    }

    /// Key files in a folder of the test's own, removed when the test ends.
    struct KeyFiles(PathBuf);

    impl Drop for KeyFiles {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn files(test: &str) -> KeyFiles {
        let dir = std::env::temp_dir().join(format!("ferry-auth-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("plain"), PLAIN).unwrap();
        std::fs::write(dir.join("encrypted"), ENCRYPTED).unwrap();
        std::fs::write(dir.join("open"), PLAIN).unwrap();
        for (name, mode) in [("plain", 0o600), ("encrypted", 0o600), ("open", 0o644)] {
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::fs::write(dir.join("plain.pub"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFx2K97Ww/xbzaQbTHJ3EzO4ytzkX9uEZuIUCuO08OeI fixture\n").unwrap();
        KeyFiles(dir)
    }

    fn named(path: PathBuf) -> Identity {
        Identity { path, source: IdentitySource::Inventory }
    }

    fn from_config(path: PathBuf) -> Identity {
        Identity { path, source: IdentitySource::Config(Origin { file: Path::new("/c").into(), line: 4 }) }
    }

    #[test]
    fn inventory_keys_must_be_usable() {
        let fixture = files("inventory");
        let dir = &fixture.0;
        let keys = load_keys(&hop(vec![named(dir.join("plain"))], false)).unwrap();
        assert_eq!(keys.loaded.len(), 1);

        let err = load_keys(&hop(vec![named(dir.join("nope"))], false)).unwrap_err();
        assert_eq!(err, format!("cannot use private key {}/nope (ansible_ssh_private_key_file): no such file", dir.display()));
        let err = load_keys(&hop(vec![named(dir.join("open"))], false)).unwrap_err();
        assert_eq!(
            err,
            format!(
                "cannot use private key {0}/open (ansible_ssh_private_key_file): its permissions 0644 let other users read it \
                 (ssh refuses such keys too): `chmod 600 {0}/open`",
                dir.display()
            )
        );
        let err = load_keys(&hop(vec![named(dir.to_path_buf())], false)).unwrap_err();
        assert!(err.contains("(ansible_ssh_private_key_file): Is a directory"), "{err}");
        let err = load_keys(&hop(vec![named(dir.join("plain.pub"))], false)).unwrap_err();
        assert!(err.ends_with("this is a public key; name the private key file, without .pub"), "{err}");
        let err = load_keys(&hop(vec![named(dir.join("encrypted"))], false)).unwrap_err();
        assert!(err.contains("encrypted (ansible_ssh_private_key_file) is protected by a passphrase"), "{err}");
        assert!(err.contains("ssh-add"), "{err}");
    }

    #[test]
    fn config_keys_are_skipped_when_unusable_and_encrypted_ones_wait_for_the_agent() {
        let fixture = files("config");
        let dir = &fixture.0;
        let ids = vec![from_config(dir.join("nope")), from_config(dir.join("plain.pub")), from_config(dir.join("open")), from_config(dir.join("plain"))];
        let keys = load_keys(&hop(ids, false)).unwrap();
        assert_eq!(keys.loaded.len(), 1);
        assert_eq!(keys.skipped.len(), 3);
        assert!(keys.skipped[2].contains("open (IdentityFile at /c:4): its permissions 0644"), "{:?}", keys.skipped);
        assert!(keys.skipped[0].ends_with("nope (IdentityFile at /c:4): no such file"), "{:?}", keys.skipped);

        // with an agent, a named encrypted key is kept for later: the agent may hold it
        let keys = load_keys(&hop(vec![named(dir.join("encrypted"))], true)).unwrap();
        assert_eq!((keys.loaded.len(), keys.encrypted.len()), (0, 1));
    }
}
