//! `rbd_feature`: image features on or off (`rbd feature enable|disable`),
//! in dependency order (exclusive-lock before object-map before fast-diff;
//! the reverse to disable).
//!
//! G10: disabling journal mirroring already drops `journaling`, so
//! `state: absent` of a feature that is gone is a no-op; and if it vanishes
//! between observe and apply, Ceph's "already disabled" (rc 22) counts as done.

use super::args::{self, OneOrMany, Text};
use super::ceph_cli::{self, arg_err, CephModule, Cluster, Recovery};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::ceph::{CommandError, CommandErrorKind, ImageInfo, ImageSpec};
use crate::vars::Value;
use serde::Deserialize;

const MODULE: &str = "rbd_feature";

/// Features in the order they can be enabled (each needs the ones before it).
const ORDER: [&str; 9] = ["layering", "striping", "exclusive-lock", "object-map", "fast-diff", "deep-flatten", "journaling", "data-pool", "operations"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "name")]
    image: Text,
    #[serde(alias = "feature")]
    features: OneOrMany<Text>,
    state: Option<Text>,
}

/// Features of one image.
#[derive(Debug)]
pub struct RbdFeatureModule {
    cluster: Cluster,
    image: ImageSpec,
    features: Vec<String>,
    present: bool,
}

impl RbdFeatureModule {
    /// From `rbd_feature:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let (cluster, rest) = Cluster::split(MODULE, raw)?;
        let a: Args = args::parse(MODULE, &rest)?;
        let present = match a.state.as_ref().map(|s| s.0.trim()) {
            None | Some("present") | Some("enabled") => true,
            Some("absent") | Some("disabled") => false,
            Some(other) => return Err(arg_err(MODULE, "state", format!("`state` must be present or absent, not `{other}`"))),
        };
        let mut features: Vec<String> = Vec::new();
        for (i, f) in a.features.0.iter().enumerate() {
            // Accept `a,b` and `object_map` as people write them.
            for one in f.0.split(',').map(|s| s.trim().replace('_', "-")).filter(|s| !s.is_empty()) {
                if !ORDER.contains(&one.as_str()) {
                    return Err(arg_err(MODULE, &format!("features[{i}]"), format!("unknown feature `{one}` (known: {})", ORDER.join(", "))));
                }
                if !features.contains(&one) {
                    features.push(one);
                }
            }
        }
        if features.is_empty() {
            return Err(arg_err(MODULE, "features", "`features` is empty"));
        }
        features.sort_by_key(|f| ORDER.iter().position(|o| o == f));
        if !present {
            features.reverse();
        }
        Ok(RbdFeatureModule { cluster, image: ceph_cli::image_spec(MODULE, "image", &a.image)?, features, present })
    }
}

impl StatefulModule for RbdFeatureModule {
    type State = ImageInfo;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<ImageInfo, ModuleError> {
        ceph_cli::observe_json(cx, &self.cluster.rbd(["info", "--format", "json", &self.image.to_string()]), ImageInfo::parse).await
    }

    fn plan(&self, info: &ImageInfo) -> Result<Vec<Change>, Failure> {
        let todo: Vec<&String> = self.features.iter().filter(|f| info.has_feature(f) != self.present).collect();
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        let verb = if self.present { "enable" } else { "disable" };
        let list = todo.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        let mut argv = vec!["feature".to_string(), verb.into(), self.image.to_string()];
        argv.extend(todo.iter().map(|s| s.to_string()));
        let mut summary = format!("{verb} {list} on {}", self.image);
        if !self.present && todo.iter().any(|f| *f == "journaling") && info.is_mirroring_enabled() {
            summary.push_str(" (journal mirroring of this image stops)");
        }
        Ok(vec![Change { summary, commands: vec![self.cluster.rbd(argv)], diff: None }])
    }
}

impl CephModule for RbdFeatureModule {
    fn recover(&self, _info: &ImageInfo, _change: &Change, err: &CommandError) -> Recovery {
        match err.kind {
            // G10: mirror disable removed journaling in the meantime.
            CommandErrorKind::FeatureAlreadyDisabled if !self.present => Recovery::Done,
            _ => Recovery::Fail(None),
        }
    }

    fn report(&self, before: &ImageInfo, after: Option<&ImageInfo>) -> serde_json::Map<String, Value> {
        let info = after.unwrap_or(before);
        let mut m = serde_json::Map::new();
        m.insert("image".into(), self.image.to_string().into());
        m.insert("features".into(), info.features.clone().into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module(args: Value) -> RbdFeatureModule {
        RbdFeatureModule::from_args(&args).unwrap()
    }

    const VOL1: &str = include_str!("../../tests/fixtures/ceph/site-a.info.volumes-vol1.json");
    const AFTER_CLEANUP: &str = include_str!("../../tests/fixtures/ceph/site-b.info.vol1-migrated.after-cleanup.json");

    #[test]
    fn enables_missing_features_in_dependency_order() {
        let m = module(json!({"image": "volumes/vol1", "features": ["journaling", "object_map", "exclusive-lock"], "cluster": "site-a"}));
        let info = ImageInfo::parse(r#"{"features":["layering"]}"#).unwrap();
        let c = m.plan(&info).unwrap();
        assert_eq!(c[0].summary, "enable exclusive-lock, object-map, journaling on volumes/vol1");
        assert_eq!(c[0].commands[0].to_string(), "rbd --cluster site-a feature enable volumes/vol1 exclusive-lock object-map journaling");
        assert!(m.plan(&ImageInfo::parse(VOL1).unwrap()).unwrap().is_empty());
    }

    #[test]
    fn journaling_already_gone_is_a_no_op_g10() {
        let m = module(json!({"image": "volumes/vol1-migrated", "features": "journaling", "state": "absent"}));
        assert!(m.plan(&ImageInfo::parse(AFTER_CLEANUP).unwrap()).unwrap().is_empty());
        let c = m.plan(&ImageInfo::parse(VOL1).unwrap()).unwrap();
        assert_eq!(c[0].summary, "disable journaling on volumes/vol1-migrated (journal mirroring of this image stops)");
        let e = CommandError::classify(
            22,
            "rbd: failed to update image features: (22) Invalid argument\nlibrbd: one or more requested features are already disabled",
        );
        assert_eq!(m.recover(&ImageInfo::default(), &c[0], &e), Recovery::Done);
    }

    #[test]
    fn disables_in_reverse_order_and_rejects_unknown_features() {
        let m = module(json!({"image": "v/i", "features": "object-map,fast-diff", "state": "absent"}));
        let c = m.plan(&ImageInfo::parse(VOL1).unwrap()).unwrap();
        assert_eq!(c[0].commands[0].to_string(), "rbd --cluster ceph feature disable v/i fast-diff object-map");
        assert!(RbdFeatureModule::from_args(&json!({"image": "v/i", "features": "turbo"})).unwrap_err().1.contains("unknown feature `turbo`"));
        assert!(RbdFeatureModule::from_args(&json!({"image": "v", "features": "journaling"})).is_err());
    }
}
