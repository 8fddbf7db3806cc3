//! What every Ceph/RBD module shares: the cluster arguments (`cluster`,
//! `conf`, `keyring`, `id`), the argv of `ceph`/`rbd` calls, classified
//! failures, and the observe -> plan -> apply -> verify loop.
//!
//! The loop is the engine's contract ([`super::run_stateful`]) with three
//! Ceph-specific additions: a failed command is explained through
//! [`CommandError::classify`] (what happened, which lab gotcha, what to do),
//! a module may say that a failure means "already done" (G10) or "retry for
//! a while" (G7: promote while the demotion propagates), and values the
//! arguments carry (bootstrap tokens) are scrubbed from every failure text,
//! because the engine only learns a module's secrets when it succeeds.

use super::args::{self, Text};
use super::{Change, Failure, ModuleContext, ModuleError, ModuleOutput, StatefulModule};
use crate::ceph::{CommandError, CommandErrorKind, ImageSpec, ParseError};
use crate::report::FileDiff;
use crate::transport::{CommandOutput, RemoteCommand};
use crate::vars::Value;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The common arguments of every Ceph module.
const COMMON: [&str; 4] = ["cluster", "conf", "keyring", "id"];

/// Which cluster a module talks to, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Cluster name: `--cluster NAME` (finds `/etc/ceph/NAME.conf`, G13).
    pub name: String,
    /// `--conf PATH`, when the conf is not at the default place.
    pub conf: Option<String>,
    /// `--keyring PATH`.
    pub keyring: Option<String>,
    /// `--id ID` (the CephX user without `client.`).
    pub id: Option<String>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster { name: "ceph".into(), conf: None, keyring: None, id: None }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonArgs {
    cluster: Option<Text>,
    conf: Option<Text>,
    keyring: Option<Text>,
    id: Option<Text>,
}

/// An argument error of `module`, at `path`.
pub fn arg_err(module: &str, path: &str, msg: impl std::fmt::Display) -> (String, String) {
    (path.to_string(), format!("invalid arguments for `{module}`: {msg}"))
}

impl Cluster {
    /// Takes the common arguments out of `raw` and returns the rest, which
    /// the module parses with its own `deny_unknown_fields` struct.
    pub fn split(module: &str, raw: &Value) -> Result<(Cluster, Value), (String, String)> {
        let Value::Object(map) = raw else {
            return Err(arg_err(module, "", "expected a mapping of arguments"));
        };
        let mut common = serde_json::Map::new();
        let mut rest = serde_json::Map::new();
        for (k, v) in map {
            if COMMON.contains(&k.as_str()) {
                common.insert(k.clone(), v.clone());
            } else {
                rest.insert(k.clone(), v.clone());
            }
        }
        let c: CommonArgs = args::parse(module, &Value::Object(common))?;
        let name = c.cluster.map(|t| t.0.trim().to_string()).unwrap_or_else(|| "ceph".into());
        check_word(module, "cluster", &name, "a cluster name")?;
        let id = match c.id {
            Some(t) => {
                let id = t.0.trim().strip_prefix("client.").unwrap_or(t.0.trim()).to_string();
                check_word(module, "id", &id, "a CephX id")?;
                Some(id)
            }
            None => None,
        };
        let path = |p: Option<Text>, at: &str| -> Result<Option<String>, (String, String)> {
            match p {
                Some(t) if t.0.trim().is_empty() || t.0.starts_with('-') => Err(arg_err(module, at, format!("`{at}` must be a path, not `{}`", t.0))),
                Some(t) => Ok(Some(t.0)),
                None => Ok(None),
            }
        };
        let cluster = Cluster { name, conf: path(c.conf, "conf")?, keyring: path(c.keyring, "keyring")?, id };
        Ok((cluster, Value::Object(rest)))
    }

    /// `--cluster NAME [--conf C] [--keyring K] [--id ID]`.
    pub fn global_args(&self) -> Vec<String> {
        let mut v = vec!["--cluster".to_string(), self.name.clone()];
        if let Some(c) = &self.conf {
            v.extend(["--conf".to_string(), c.clone()]);
        }
        if let Some(k) = &self.keyring {
            v.extend(["--keyring".to_string(), k.clone()]);
        }
        if let Some(id) = &self.id {
            v.extend(["--id".to_string(), id.clone()]);
        }
        v
    }

    /// `rbd --cluster NAME ... ARGS`.
    pub fn rbd<S: Into<String>>(&self, args: impl IntoIterator<Item = S>) -> RemoteCommand {
        self.tool("rbd", args)
    }

    /// `ceph --cluster NAME ... ARGS`.
    pub fn ceph<S: Into<String>>(&self, args: impl IntoIterator<Item = S>) -> RemoteCommand {
        self.tool("ceph", args)
    }

    fn tool<S: Into<String>>(&self, program: &str, args: impl IntoIterator<Item = S>) -> RemoteCommand {
        let mut argv = vec![program.to_string()];
        argv.extend(self.global_args());
        argv.extend(args.into_iter().map(Into::into));
        RemoteCommand::argv(argv)
    }
}

/// A name Ceph takes as one word: letters, digits, `.`, `_`, `-`, not
/// starting with `-` (it would read as an option).
fn check_word(module: &str, at: &str, v: &str, what: &str) -> Result<(), (String, String)> {
    let ok = !v.is_empty() && v.len() <= 128 && !v.starts_with('-') && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(arg_err(module, at, format!("`{at}` must be {what} (letters, digits, `.`, `_`, `-`), not `{v}`")))
    }
}

/// A pool name: one word Ceph will not misread.
pub fn pool_name(module: &str, at: &str, t: &Text) -> Result<String, (String, String)> {
    let v = t.0.trim();
    let bad = v.is_empty() || v.starts_with('-') || v.chars().any(|c| c == '/' || c == '@' || c.is_whitespace() || c.is_control());
    if bad {
        return Err(arg_err(module, at, format!("`{at}` must be a pool name (no `/`, `@`, spaces, not starting with `-`), not `{v}`")));
    }
    Ok(v.to_string())
}

/// `pool[/namespace]/image`, with no part that rbd could read as an option.
pub fn image_spec(module: &str, at: &str, t: &Text) -> Result<ImageSpec, (String, String)> {
    let spec: ImageSpec = t.0.trim().parse().map_err(|e| arg_err(module, at, format!("`{at}`: {e}")))?;
    let parts = [Some(spec.pool.as_str()), spec.namespace.as_deref(), Some(spec.name.as_str())];
    if parts.iter().flatten().any(|p| p.starts_with('-')) {
        return Err(arg_err(module, at, format!("`{at}`: `{spec}` has a part starting with `-`, which rbd would read as an option")));
    }
    Ok(spec)
}

/// The classified failure of a command, ready for a [`Failure`].
pub fn failure(what: &str, cmd: &RemoteCommand, out: &CommandOutput, err: &CommandError, explanation: Option<String>) -> ModuleError {
    let text = explanation.unwrap_or_else(|| err.to_string());
    let signal = out.signal.as_ref().map(|s| format!(" (killed by {s})")).unwrap_or_default();
    ModuleError::Failed(Failure {
        msg: format!("{what}: {text}{signal}"),
        command: Some(cmd.to_string()),
        rc: Some(out.rc),
        stderr: Some(out.stderr.clone()),
        stdout: Some(out.stdout.clone()),
    })
}

/// The classified failure in the words of [`CommandError`]'s `Display`, with
/// the module's own remedy (which knows the arguments) instead of the generic one.
pub fn with_remedy(err: &CommandError, remedy: &str) -> String {
    let mut s = format!("{} (rc {}", err.kind.explanation(), err.rc);
    if let Some(g) = err.kind.gotcha() {
        s.push_str(&format!(", {g}"));
    }
    s.push(')');
    if !err.message.is_empty() {
        s.push_str(&format!(": `{}`", err.message));
    }
    s.push_str(&format!(". To fix: {remedy}"));
    s
}

/// Classifies a failed command's output.
pub fn classify(out: &CommandOutput) -> CommandError {
    CommandError::classify(out.rc, &out.stderr)
}

/// Runs a read-only command; `Ok(Err(..))` is the command's own failure,
/// classified, for callers that expect some failures (ENOENT).
pub async fn query(cx: &ModuleContext<'_>, cmd: &RemoteCommand) -> Result<Result<CommandOutput, (CommandError, CommandOutput)>, ModuleError> {
    let out = cx.run(cmd).await?;
    if out.success() {
        Ok(Ok(out))
    } else {
        Ok(Err((classify(&out), out)))
    }
}

/// Runs a read-only command that must succeed and returns its stdout.
pub async fn observe_text(cx: &ModuleContext<'_>, cmd: &RemoteCommand) -> Result<String, ModuleError> {
    match query(cx, cmd).await? {
        Ok(out) => Ok(out.stdout),
        // The classifier's ENOENT text is about rbd-mirror on the target; outside
        // a wait, a missing image is simply a wrong name or the wrong cluster.
        Err((err, out)) if err.kind == CommandErrorKind::ImageNotFound => {
            let text = format!("no such image on this cluster (rc {}): `{}`. To fix: check the image name and `cluster`", err.rc, err.message);
            Err(failure("could not observe the current state", cmd, &out, &err, Some(text)))
        }
        Err((err, out)) => Err(failure("could not observe the current state", cmd, &out, &err, None)),
    }
}

/// Runs a read-only command and parses its JSON with one of `crate::ceph`'s parsers.
pub async fn observe_json<T>(cx: &ModuleContext<'_>, cmd: &RemoteCommand, parse: impl Fn(&str) -> Result<T, ParseError>) -> Result<T, ModuleError> {
    let text = observe_text(cx, cmd).await?;
    parse(&text).map_err(|e| parse_failure(cmd, &text, &e.to_string()))
}

/// Output that could not be read.
pub fn parse_failure(cmd: &RemoteCommand, stdout: &str, why: &str) -> ModuleError {
    ModuleError::Failed(Failure { msg: why.to_string(), command: Some(cmd.to_string()), stdout: Some(stdout.to_string()), ..Default::default() })
}

/// A JSON array printed by `ceph`/`rbd` (`osd pool ls`, `auth get`, `rbd ls`,
/// `trash ls`). Leniency as in `crate::ceph`: anything but an array is an
/// error naming the command; elements are kept as they are.
pub fn json_array(command: &str, text: &str) -> Result<Vec<serde_json::Value>, String> {
    if text.trim().is_empty() {
        return Err(format!("could not read the JSON printed by `{command}`: the output is empty"));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => Ok(items),
        Ok(_) => Err(format!("could not read the JSON printed by `{command}`: expected a list")),
        Err(e) => Err(format!("could not read the JSON printed by `{command}`: {e}")),
    }
}

/// A string field of a JSON object, `None` when missing or not text.
pub fn str_field<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(serde_json::Value::as_str)
}

/// What to do when an applied command fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Fail; `Some(text)` replaces the classified explanation.
    Fail(Option<String>),
    /// The failure means the wanted state already holds (e.g. G10).
    Done,
    /// The condition clears by itself: retry the same command, backing off,
    /// until this long after its first failure.
    RetryFor(Duration),
}

/// The Ceph parts of a module, on top of the engine's contract.
pub trait CephModule: StatefulModule {
    /// How to react to a failed apply command (already classified).
    fn recover(&self, _state: &Self::State, _change: &Change, _err: &CommandError) -> Recovery {
        Recovery::Fail(None)
    }

    /// Values from the arguments that must never be shown (tokens). They are
    /// scrubbed from failures and registered as secrets on success.
    fn redactions(&self) -> Vec<String> {
        Vec::new()
    }

    /// Secrets learned from the host (keys), registered with the run's masker.
    fn secrets(&self, _before: &Self::State, _after: Option<&Self::State>) -> Vec<String> {
        Vec::new()
    }

    /// The registered result; `after` is the state observed after applying.
    fn report(&self, _before: &Self::State, _after: Option<&Self::State>) -> serde_json::Map<String, Value> {
        serde_json::Map::new()
    }

    /// False for one-shot actions (resync, mirror snapshot) that cannot be
    /// observed as done: they are applied once and not verified.
    fn converges(&self) -> bool {
        true
    }

    /// Check mode only: when `plan` fails on a precondition that an earlier
    /// task of the same run establishes (mirroring enabled on the pool, the
    /// parent mirrored, the peers removed), what would be done assuming it
    /// holds. `None` keeps the failure. Without this, `--check` of a whole
    /// migration would stop at the first step that depends on another.
    fn assume_in_check(&self, _state: &Self::State) -> Option<String> {
        None
    }

    /// The failure text when the re-observed state still needs changes.
    fn unconverged(&self, _after: &Self::State, left: &[Change]) -> String {
        let still = left.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ");
        format!("did not converge: after applying, the cluster still needs: {still}")
    }
}

/// Runs observe -> plan -> apply -> verify for a Ceph module.
pub async fn run<M: CephModule>(m: &M, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
    let redact = m.redactions();
    match run_inner(m, cx).await {
        Ok(mut out) => {
            out.secrets.extend(redact);
            Ok(out)
        }
        Err(e) => Err(scrub(e, &redact)),
    }
}

async fn run_inner<M: CephModule>(m: &M, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
    let before = m.observe(cx).await?;
    let changes = match m.plan(&before) {
        Ok(changes) => changes,
        Err(f) if cx.check => match m.assume_in_check(&before) {
            Some(would) => {
                return Ok(ModuleOutput {
                    changed: true,
                    msg: format!("would {would} (assuming earlier tasks ran; now: {})", f.msg.split(". ").next().unwrap_or_default()),
                    result: m.report(&before, None),
                    ..Default::default()
                })
            }
            None => return Err(ModuleError::Failed(f)),
        },
        Err(f) => return Err(ModuleError::Failed(f)),
    };
    if changes.is_empty() {
        return Ok(ModuleOutput { result: m.report(&before, None), secrets: m.secrets(&before, None), ..Default::default() });
    }
    let summary = changes.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>().join("; ");
    let diffs: Vec<FileDiff> = if cx.diff { changes.iter().filter_map(|c| c.diff.clone()).collect() } else { Vec::new() };
    if cx.check {
        return Ok(ModuleOutput {
            changed: true,
            msg: format!("would {summary}"),
            result: m.report(&before, None),
            secrets: m.secrets(&before, None),
            diffs,
            ..Default::default()
        });
    }
    for change in &changes {
        for cmd in &change.commands {
            apply(m, cx, &before, change, cmd).await?;
        }
    }
    // A one-shot request (resync) may make the object vanish for a while:
    // nothing to verify, and nothing to observe again.
    if !m.converges() {
        return Ok(ModuleOutput {
            changed: true,
            msg: summary,
            result: m.report(&before, None),
            secrets: m.secrets(&before, None),
            diffs,
            ..Default::default()
        });
    }
    let after = m.observe(cx).await?;
    let left = m.plan(&after).map_err(ModuleError::Failed)?;
    if !left.is_empty() {
        return Err(ModuleError::Failed(Failure::msg(m.unconverged(&after, &left))));
    }
    Ok(ModuleOutput {
        changed: true,
        msg: summary,
        result: m.report(&before, Some(&after)),
        secrets: m.secrets(&before, Some(&after)),
        diffs,
        ..Default::default()
    })
}

/// First pause between retries, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(5);

async fn apply<M: CephModule>(m: &M, cx: &ModuleContext<'_>, before: &M::State, change: &Change, cmd: &RemoteCommand) -> Result<(), ModuleError> {
    let mut first_failure: Option<Instant> = None;
    let mut pause = RETRY_FIRST;
    loop {
        let out = cx.run(cmd).await?;
        if out.success() {
            return Ok(());
        }
        let err = classify(&out);
        let what = format!("could not {}", change.summary);
        match m.recover(before, change, &err) {
            Recovery::Done => return Ok(()),
            Recovery::Fail(text) => return Err(failure(&what, cmd, &out, &err, text)),
            Recovery::RetryFor(limit) => {
                let since = *first_failure.get_or_insert_with(Instant::now);
                if since.elapsed() >= limit {
                    let text = format!("still refused after {}s of retries: {err}", limit.as_secs());
                    return Err(failure(&what, cmd, &out, &err, Some(text)));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Removes every `secret` from a failure's texts.
pub fn scrub(e: ModuleError, secrets: &[String]) -> ModuleError {
    let secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 4).collect();
    if secrets.is_empty() {
        return e;
    }
    let clean = |s: String| secrets.iter().fold(s, |acc, secret| acc.replace(secret.as_str(), crate::report::mask::MASK));
    match e {
        ModuleError::Failed(f) => ModuleError::Failed(Failure {
            msg: clean(f.msg),
            command: f.command.map(clean),
            rc: f.rc,
            stderr: f.stderr.map(clean),
            stdout: f.stdout.map(clean),
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn common_arguments_are_split_from_the_rest() {
        let (c, rest) = Cluster::split("m", &json!({"cluster": "site-a", "id": "client.admin", "pool": "volumes"})).unwrap();
        assert_eq!(c.name, "site-a");
        assert_eq!(c.id.as_deref(), Some("admin"));
        assert_eq!(rest, json!({"pool": "volumes"}));
        let cmd = c.rbd(["mirror", "pool", "info", "--format", "json", "volumes"]);
        assert_eq!(cmd.to_string(), "rbd --cluster site-a --id admin mirror pool info --format json volumes");
        let (c, _) = Cluster::split("m", &json!({})).unwrap();
        assert_eq!(c.ceph(["fsid"]).to_string(), "ceph --cluster ceph fsid");
    }

    #[test]
    fn names_that_rbd_would_misread_are_refused() {
        for bad in [json!({"cluster": "--conf=/x"}), json!({"cluster": "a b"}), json!({"id": "-x"}), json!({"conf": "-c"})] {
            assert!(Cluster::split("m", &bad).is_err(), "{bad}");
        }
        assert!(pool_name("m", "pool", &Text("-p".into())).is_err());
        assert!(pool_name("m", "pool", &Text("a/b".into())).is_err());
        assert!(image_spec("m", "image", &Text("volumes/-rf".into())).is_err());
        assert_eq!(image_spec("m", "image", &Text(" volumes/vol1 ".into())).unwrap().to_string(), "volumes/vol1");
    }

    #[test]
    fn scrub_removes_secrets_from_every_text() {
        let e = ModuleError::Failed(Failure {
            msg: "bad token eyJtoken".into(),
            command: Some("rbd x".into()),
            rc: Some(22),
            stderr: Some("eyJtoken and AQkey".into()),
            stdout: None,
        });
        let ModuleError::Failed(f) = scrub(e, &["eyJtoken".into(), "AQkey".into()]) else { panic!() };
        assert_eq!(f.msg, "bad token ********");
        assert_eq!(f.stderr.as_deref(), Some("******** and ********"));
    }

    #[test]
    fn json_arrays_are_lenient_but_not_blind() {
        assert_eq!(json_array("ceph osd pool ls", "\n[\"a\",\"b\"]\n").unwrap().len(), 2);
        assert!(json_array("ceph osd pool ls", "{}").unwrap_err().contains("expected a list"));
        assert!(json_array("ceph osd pool ls", "").unwrap_err().contains("empty"));
    }
}
