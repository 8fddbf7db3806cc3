//! `ceph_pool`: the runbook's first check (a pool with the same name exists on
//! both clusters, rbd-mirror pairs pools by name) and, with `create: true`,
//! `ceph osd pool create NAME PG PG` + `rbd pool init NAME`. Never deletes.

use super::args::{self, Flag, Number, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::vars::Value;
use serde::Deserialize;

const MODULE: &str = "ceph_pool";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "pool")]
    name: Text,
    state: Option<Text>,
    #[serde(default)]
    create: Flag,
    #[serde(default)]
    must_exist: Flag,
    pg_num: Option<Number>,
}

/// A pool that must exist (and, with `create`, is created).
#[derive(Debug)]
pub struct CephPoolModule {
    cluster: Cluster,
    name: String,
    create: bool,
    pg_num: u32,
}

/// What the cluster has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolState {
    /// Every pool of the cluster.
    pub pools: Vec<String>,
    /// Applications enabled on the pool (`rbd` after `rbd pool init`).
    pub applications: Vec<String>,
    /// PG count, when the pool exists.
    pub pg_num: Option<u64>,
}

impl PoolState {
    fn exists(&self, name: &str) -> bool {
        self.pools.iter().any(|p| p == name)
    }
}

impl CephPoolModule {
    /// From `ceph_pool:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        match a.state.as_ref().map(|s| s.0.trim()) {
            None | Some("present") => {}
            Some("absent") => return Err(arg_err(MODULE, "state", "ferry never deletes pools: `state` can only be `present`")),
            Some(other) => return Err(arg_err(MODULE, "state", format!("`state` must be present, not `{other}`"))),
        }
        if a.create.0 && a.must_exist.0 {
            return Err(arg_err(MODULE, "must_exist", "`must_exist: true` only checks; it cannot be combined with `create: true`"));
        }
        let pg_num = match a.pg_num {
            None => 32,
            Some(n) if n.0.fract() == 0.0 && (1.0..=65536.0).contains(&n.0) => n.0 as u32,
            Some(n) => return Err(arg_err(MODULE, "pg_num", format!("`pg_num` must be a whole number from 1 to 65536, not {}", n.0))),
        };
        if a.pg_num.is_some() && !a.create.0 {
            return Err(arg_err(MODULE, "pg_num", "`pg_num` is only used with `create: true`"));
        }
        Ok(CephPoolModule { name: ceph_cli::pool_name(MODULE, "name", &a.name)?, cluster, create: a.create.0, pg_num })
    }
}

/// Pool names from `ceph osd pool ls --format json`.
fn parse_pool_ls(text: &str) -> Result<Vec<String>, String> {
    Ok(ceph_cli::json_array("ceph osd pool ls", text)?.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

impl StatefulModule for CephPoolModule {
    type State = PoolState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<PoolState, ModuleError> {
        let ls = self.cluster.ceph(["osd", "pool", "ls", "--format", "json"]);
        let text = ceph_cli::observe_text(cx, &ls).await?;
        let pools = parse_pool_ls(&text).map_err(|e| ceph_cli::parse_failure(&ls, &text, &e))?;
        let mut st = PoolState { pools, ..Default::default() };
        if st.exists(&self.name) {
            let app = self.cluster.ceph(["osd", "pool", "application", "get", &self.name, "--format", "json"]);
            let text = ceph_cli::observe_text(cx, &app).await?;
            if let Ok(serde_json::Value::Object(apps)) = serde_json::from_str::<serde_json::Value>(&text) {
                st.applications = apps.keys().cloned().collect();
            }
            let pg = self.cluster.ceph(["osd", "pool", "get", &self.name, "pg_num", "--format", "json"]);
            let text = ceph_cli::observe_text(cx, &pg).await?;
            st.pg_num = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("pg_num").and_then(serde_json::Value::as_u64));
        }
        Ok(st)
    }

    fn plan(&self, st: &PoolState) -> Result<Vec<Change>, Failure> {
        let name = &self.name;
        let cluster = &self.cluster.name;
        let init = || Change {
            summary: format!("initialise pool {name} for rbd (rbd pool init)"),
            commands: vec![self.cluster.rbd(["pool", "init", name.as_str()])],
            diff: None,
        };
        if !st.exists(name) {
            if !self.create {
                let others = if st.pools.is_empty() { "none".to_string() } else { st.pools.join(", ") };
                return Err(Failure::msg(format!(
                    "pool {name} does not exist on cluster {cluster} (its pools: {others}); rbd-mirror pairs pools by name, \
                     so both clusters need a pool called {name}: create it (`create: true`) or fix the name"
                )));
            }
            let pg = self.pg_num.to_string();
            return Ok(vec![
                Change {
                    summary: format!("create pool {name} with {pg} PGs"),
                    commands: vec![self.cluster.ceph(["osd", "pool", "create", name.as_str(), pg.as_str(), pg.as_str()])],
                    diff: None,
                },
                init(),
            ]);
        }
        if st.applications.iter().any(|a| a == "rbd") {
            return Ok(Vec::new());
        }
        if self.create {
            return Ok(vec![init()]);
        }
        let apps = if st.applications.is_empty() { "no application".to_string() } else { format!("application {}", st.applications.join(", ")) };
        Err(Failure::msg(format!(
            "pool {name} exists on cluster {cluster} but has {apps}, not rbd; rbd-mirror skips such pools: run `rbd pool init {name}` (or `create: true`)"
        )))
    }
}

impl CephModule for CephPoolModule {
    fn report(&self, before: &PoolState, after: Option<&PoolState>) -> serde_json::Map<String, Value> {
        let st = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("pool".into(), self.name.clone().into());
        m.insert("cluster".into(), self.cluster.name.clone().into());
        m.insert("exists".into(), st.exists(&self.name).into());
        m.insert("applications".into(), st.applications.clone().into());
        if let Some(pg) = st.pg_num {
            m.insert("pg_num".into(), pg.into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module(args: Value) -> CephPoolModule {
        CephPoolModule::from_args(&args).unwrap()
    }

    fn state(pools: &[&str], apps: &[&str]) -> PoolState {
        PoolState { pools: pools.iter().map(|s| s.to_string()).collect(), applications: apps.iter().map(|s| s.to_string()).collect(), pg_num: Some(16) }
    }

    #[test]
    fn real_pool_listing() {
        let pools = parse_pool_ls(include_str!("../../tests/fixtures/ceph/cli/site-a.osd-pool-ls.json")).unwrap();
        assert_eq!(pools, ["device_health_metrics", "scratch"]);
        assert!(parse_pool_ls("pools: none").is_err());
    }

    #[test]
    fn must_exist_names_the_missing_pool_and_the_cluster() {
        let m = module(json!({"name": "volumes", "must_exist": true, "cluster": "site-b"}));
        let e = m.plan(&state(&["device_health_metrics", "images"], &[])).unwrap_err();
        assert!(e.msg.contains("pool volumes does not exist on cluster site-b"), "{}", e.msg);
        assert!(e.msg.contains("its pools: device_health_metrics, images"), "{}", e.msg);
        assert!(m.plan(&state(&["volumes"], &["rbd"])).unwrap().is_empty());
    }

    #[test]
    fn create_then_init_in_order() {
        let m = module(json!({"name": "volumes", "create": true, "pg_num": 16, "cluster": "site-a"}));
        let changes = m.plan(&state(&[], &[])).unwrap();
        let cmds: Vec<String> = changes.iter().flat_map(|c| c.commands.iter().map(ToString::to_string)).collect();
        assert_eq!(cmds, ["ceph --cluster site-a osd pool create volumes 16 16", "rbd --cluster site-a pool init volumes"]);
        assert_eq!(changes[0].summary, "create pool volumes with 16 PGs");
        // Exists but not initialised: only the init.
        let changes = m.plan(&state(&["volumes"], &[])).unwrap();
        assert_eq!(changes.len(), 1);
        assert!(m.plan(&state(&["volumes"], &["rbd"])).unwrap().is_empty());
    }

    #[test]
    fn a_pool_without_the_rbd_application_fails_the_check() {
        let m = module(json!({"name": "volumes", "must_exist": true}));
        let e = m.plan(&state(&["volumes"], &["cephfs"])).unwrap_err();
        assert!(e.msg.contains("rbd pool init volumes"), "{}", e.msg);
    }

    #[test]
    fn never_deletes_and_rejects_nonsense() {
        assert!(CephPoolModule::from_args(&json!({"name": "volumes", "state": "absent"})).unwrap_err().1.contains("never deletes"));
        assert!(CephPoolModule::from_args(&json!({"name": "volumes", "create": true, "must_exist": true})).is_err());
        assert!(CephPoolModule::from_args(&json!({"name": "-volumes"})).is_err());
        assert!(CephPoolModule::from_args(&json!({"name": "volumes", "size": 3})).unwrap_err().1.contains("size"));
    }
}
