//! `ceph_mon_info` (read-only facts): what the target needs to reach the
//! source cluster. `ceph mon dump --format json` gives the monitors'
//! addresses (the `mon_host` line of the runbook's minimal ceph.conf, and the
//! endpoints the forwarding rules must cover); `ceph fsid` the fsid.

use super::args;
use super::ceph_cli::{self, Cluster};
use super::{Failure, ModuleContext, ModuleError, ModuleOutput};
use crate::ceph::MonDump;
use crate::vars::Value;
use serde::Deserialize;
use serde_json::json;

const MODULE: &str = "ceph_mon_info";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {}

/// Monitor facts of one cluster.
#[derive(Debug)]
pub struct CephMonInfoModule {
    cluster: Cluster,
}

impl CephMonInfoModule {
    /// From `ceph_mon_info:` arguments (only the common ones).
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let raw = if raw.is_null() { Value::Object(Default::default()) } else { raw.clone() };
        let (cluster, rest) = Cluster::split(MODULE, &raw)?;
        let _: Args = args::parse(MODULE, &rest)?;
        Ok(CephMonInfoModule { cluster })
    }

    /// Reads the monmap and the fsid.
    pub async fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        let dump = ceph_cli::observe_json(cx, &self.cluster.ceph(["mon", "dump", "--format", "json"]), MonDump::parse).await?;
        let fsid_cmd = self.cluster.ceph(["fsid", "--format", "json"]);
        let text = ceph_cli::observe_text(cx, &fsid_cmd).await?;
        let fsid = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| ceph_cli::str_field(&v, "fsid").map(str::to_string));
        facts(&self.cluster.name, &dump, fsid).map_err(ModuleError::Failed)
    }
}

/// The result from the monmap and `ceph fsid`.
fn facts(cluster: &str, dump: &MonDump, fsid: Option<String>) -> Result<ModuleOutput, Failure> {
    let fsid = match (fsid, dump.fsid.clone()) {
        (Some(a), Some(b)) if a != b => return Err(Failure::msg(format!("`ceph fsid` says {a} but the monmap says {b}: which cluster is this?"))),
        (a, b) => a.or(b).ok_or_else(|| Failure::msg(format!("cluster {cluster} reported no fsid")))?,
    };
    let mon_host = dump.mon_host().ok_or_else(|| Failure::msg(format!("the monmap of cluster {cluster} has no monitor with a usable address")))?;
    let endpoints: Vec<Value> = dump.endpoints().iter().map(|e| json!({"name": e.name, "ip": e.ip, "ports": e.ports})).collect();
    let mut result = serde_json::Map::new();
    result.insert("cluster".into(), cluster.into());
    result.insert("fsid".into(), fsid.clone().into());
    result.insert("mon_host".into(), mon_host.clone().into());
    result.insert("endpoints".into(), Value::Array(endpoints));
    result.insert("mon_ips".into(), Value::Array(dump.endpoints().iter().map(|e| Value::from(e.ip.clone())).collect()));
    if let Some(e) = dump.epoch {
        result.insert("epoch".into(), e.into());
    }
    result.insert("quorum".into(), dump.quorum.clone().into());
    Ok(ModuleOutput { msg: format!("fsid {fsid}, mon_host {mon_host}"), result, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = include_str!("../../tests/fixtures/ceph/site-a.mon-dump.json");

    #[test]
    fn real_monmap_gives_the_conf_line_and_the_endpoints() {
        let dump = MonDump::parse(A).unwrap();
        let out = facts("site-a", &dump, dump.fsid.clone()).unwrap();
        assert_eq!(out.result["mon_host"], "[v2:127.0.1.1:3300/0,v1:127.0.1.1:6789/0]");
        assert_eq!(out.result["endpoints"], json!([{"name": "a", "ip": "127.0.1.1", "ports": [3300, 6789]}]));
        assert_eq!(out.result["mon_ips"], json!(["127.0.1.1"]));
        assert!(!out.changed);
    }

    #[test]
    fn disagreeing_fsids_and_empty_monmaps_fail() {
        let dump = MonDump::parse(A).unwrap();
        assert!(facts("site-a", &dump, Some("other".into())).unwrap_err().msg.contains("which cluster"));
        assert!(facts("x", &MonDump::default(), Some("f".into())).unwrap_err().msg.contains("no monitor"));
        assert!(CephMonInfoModule::from_args(&json!({"cluster": "site-a", "pool": "x"})).is_err());
        assert!(CephMonInfoModule::from_args(&Value::Null).is_ok());
    }
}
