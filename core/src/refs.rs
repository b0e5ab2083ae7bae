//! Secret references of workloads: which Secrets and keys a pod spec needs,
//! with the field path of each, for every workload kind sealgate checks.

use std::fmt;

use serde::Deserialize as _;
use serde_json::{Map, Value};

use model::Lax;
use pull::Read as _;

use crate::json;

pub use extract::{Found, Head};
pub use glimpse::{Glimpse, Ref};

mod extract;
mod glimpse;
mod model;
mod pull;

/// How a pod spec refers to a Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// `env[].valueFrom.secretKeyRef`: one key.
    EnvKey,
    /// `envFrom[].secretRef`: the whole Secret.
    EnvFrom,
    /// `volumes[].secret` without `items`: the whole Secret.
    Volume,
    /// `volumes[].secret.items[].key`: one key.
    VolumeItem,
    /// `volumes[].projected.sources[].secret` without `items`: the whole Secret.
    Projected,
    /// `volumes[].projected.sources[].secret.items[].key`: one key.
    ProjectedItem,
    /// `imagePullSecrets[]`: the whole Secret; missing ones only warn.
    ImagePull,
}

impl RefKind {
    /// How the reference is written, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            RefKind::EnvKey => "secretKeyRef",
            RefKind::EnvFrom => "envFrom secretRef",
            RefKind::Volume => "secret volume",
            RefKind::VolumeItem => "secret volume item",
            RefKind::Projected => "projected secret source",
            RefKind::ProjectedItem => "projected secret item",
            RefKind::ImagePull => "imagePullSecrets entry",
        }
    }
}

/// One reference to a Secret (and maybe one key of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretRef {
    /// Secret name (may be empty: that is a finding of its own).
    pub secret: String,
    /// The key, when the reference needs one.
    pub key: Option<String>,
    /// `optional: true`: never fails.
    pub optional: bool,
    /// How it is referenced.
    pub kind: RefKind,
    /// Field path, e.g. `spec.template.spec.containers[api].env[DB_PASSWORD]`.
    pub field: String,
}

/// The object a reference or finding belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace (the default one when the object has none).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for ObjectRef {
    /// `Deployment prod/api`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// A workload and everything it references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace (the default one when the object has none).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `serviceAccountName` of the pod (`default` when unset).
    pub service_account: String,
    /// Field path of the pod spec, e.g. `spec.template.spec`.
    pub pod_spec_path: &'static str,
    /// Every Secret reference, in document order.
    pub refs: Vec<SecretRef>,
    /// Annotations of the workload (exemptions, Secrets expected from elsewhere).
    pub annotations: Map<String, Value>,
}

impl Workload {
    /// `Deployment prod/api`.
    pub fn describe(&self) -> String {
        self.object().to_string()
    }

    /// The workload as an [`ObjectRef`].
    pub fn object(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// A pod spec that is not shaped as Kubernetes defines it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct RefError {
    /// Field path of the offending value.
    pub field: String,
    /// What is wrong.
    pub problem: &'static str,
}

impl RefError {
    /// The last step of the field path, as a finding names it beside the full path:
    /// `imagePullSecrets[0]` of `spec.template.spec.imagePullSecrets[0]`. A dot
    /// inside brackets (an env var's name) is part of the step.
    pub fn leaf(&self) -> &str {
        let mut depth = 0usize;
        let mut start = 0;
        for (i, c) in self.field.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                '.' if depth == 0 => start = i + 1,
                _ => {}
            }
        }
        &self.field[start..]
    }
}

/// Where the pod spec sits in each workload kind, by API group and kind.
pub fn pod_spec_path(api_version: &str, kind: &str) -> Option<&'static str> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("", "Pod") => Some("spec"),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job")
        | ("", "ReplicationController") => Some("spec.template.spec"),
        ("batch", "CronJob") => Some("spec.jobTemplate.spec.template.spec"),
        _ => None,
    }
}

/// Every workload in `obj`: the object itself, or the items of a `List` (any
/// `kind` ending in `List` with an `items` array). Objects that are not workloads
/// are skipped; a malformed item gives an error whose field path starts `items[i].`.
pub fn extract_all(obj: &Value, default_namespace: &str) -> Vec<Result<Workload, RefError>> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    match obj.get("items") {
        Some(Value::Array(items)) if kind.ends_with("List") => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                extract(item, default_namespace)
                    .map_err(|e| RefError {
                        field: format!("items[{i}].{}", e.field),
                        problem: e.problem,
                    })
                    .transpose()
            })
            .collect(),
        _ => extract(obj, default_namespace).transpose().into_iter().collect(),
    }
}

/// The workload in `obj` with its references; `None` for objects that are not workloads.
///
/// A pod spec that is not shaped as Kubernetes defines it (a list that is not a
/// list, a name that is not a string, …) is an error naming the field; an empty
/// or absent Secret name or key is kept, for the policy to report.
pub fn extract(obj: &Value, default_namespace: &str) -> Result<Option<Workload>, RefError> {
    match Lax::<model::Object>::deserialize(obj) {
        Ok(Lax::Got(object)) => extract::build(&object, None, default_namespace),
        _ => Ok(None),
    }
}

/// [`extract`] from JSON text, in one pass that reads only what holds references
/// (an AdmissionReview's object, say). `type_` is the (apiVersion, kind) to
/// assume when the object does not say. A JSON object that is not a workload is
/// `Ok(None)`; text that cannot be read as a JSON object (another JSON value,
/// `null`, text that is not JSON or not JSON serde_json reads) is an error with
/// an empty field path, [`RefError::NOT_AN_OBJECT`]: a caller that must check
/// the object cannot take it for something it need not check.
pub fn extract_json(
    json: &str,
    type_: (&str, &str),
    default_namespace: &str,
) -> Result<Option<Workload>, RefError> {
    let extract_view = |view: WorkloadView<'_>| match &view.0 {
        Lax::Got(Obj(object)) => build(object, Some(type_), default_namespace),
        Lax::Absent | Lax::Wrong => Err(RefError::NOT_AN_OBJECT),
    };
    let mut reader = json::Reader::new(json);
    if let Ok(view) = WorkloadView::read(&mut reader).and_then(|view| reader.finish().map(|()| view)) {
        return extract_view(view);
    }
    match serde_json::from_str::<WorkloadView>(json) {
        Ok(view) => extract_view(view),
        // Not JSON, or an object serde reads differently from a map (a repeated key):
        // go the long way, which takes the last of repeated keys as JSON parsers do.
        Err(_) => {
            let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(json) else {
                return Err(RefError::NOT_AN_OBJECT);
            };
            map.entry("apiVersion").or_insert(type_.0.into());
            map.entry("kind").or_insert(type_.1.into());
            extract(&Value::Object(map), default_namespace)
        }
    }
}

impl RefError {
    /// What [`extract_json`] returns for text it cannot read as a JSON object.
    pub const NOT_AN_OBJECT: RefError = RefError {
        field: String::new(),
        problem: "is not a JSON object",
    };
}

/// What holds references in a workload, read in place as part of a larger JSON
/// document (an AdmissionReview's `object`), borrowing from it; then
/// [`WorkloadView::extract`]. Values of unexpected shapes do not fail the read,
/// they are reported by `extract`; a repeated key does fail it (see [`extract_json`]).
#[derive(Debug, Default)]
pub struct WorkloadView<'a>(Lax<model::Object<'a>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for WorkloadView<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Lax::<model::Object<'a>>::deserialize(d).map(WorkloadView)
    }
}

impl<'a> WorkloadView<'a> {
    /// Reads the view at the reader's position with the pull reader, as serde
    /// would read it; [`json::Unsure`]: read it with serde.
    pub fn read(r: &mut json::Reader<'a>) -> json::Result<Self> {
        let mut view = WorkloadView::default();
        Lax::<model::Object<'a>>::read_into(r, &mut view.0)?;
        Ok(view)
    }
}

impl WorkloadView<'_> {
    /// As [`extract_json`] on the object's text.
    pub fn extract(
        &self,
        type_: (&str, &str),
        default_namespace: &str,
    ) -> Result<Option<Workload>, RefError> {
        match &self.0 {
            Lax::Got(object) => extract::build(object, Some(type_), default_namespace),
            _ => Ok(None),
        }
    }

    /// The workload without building it: its [`Head`], whose [`Head::walk`] passes
    /// each reference borrowed. Same arguments, same `None` and errors as [`WorkloadView::extract`].
    pub fn head<'v>(
        &'v self,
        type_: (&'v str, &'v str),
        default_namespace: &'v str,
    ) -> Result<Option<Head<'v>>, RefError> {
        match &self.0 {
            Lax::Got(object) => extract::head(object, type_, default_namespace),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Both ways in, from a parsed value and from JSON text, must agree.
    fn extract(obj: &Value, ns: &str) -> Result<Option<Workload>, RefError> {
        let from_value = super::extract(obj, ns);
        let text = serde_json::to_string(obj).unwrap();
        assert_eq!(extract_json(&text, ("", ""), ns), from_value, "{obj}");
        from_value
    }

    #[test]
    fn json_text_takes_type_from_the_caller_and_skips_foreign_annotations() {
        let text = r#"{"metadata": {"name": "api", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{\"big\": [1, 2, 3]}",
            "sealgate.dev/exempt": "migration \"window\"", "sealgate.dev/odd": 5}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]}}}}"#;
        let w = extract_json(text, ("apps/v1", "Deployment"), "prod")
            .unwrap()
            .unwrap();
        assert_eq!(w.describe(), "Deployment prod/api");
        assert_eq!(w.refs[0].field, "spec.template.spec.containers[c].envFrom[0]");
        assert_eq!(
            Value::Object(w.annotations),
            json!({"sealgate.dev/exempt": "migration \"window\""})
        );
        // The object's own type wins; a kind that is not a workload has no references.
        assert_eq!(extract_json(text, ("v1", "ConfigMap"), "prod").unwrap(), None);
        let typed = r#"{"apiVersion": "v1", "kind": "ConfigMap", "spec": {"containers": "x"}}"#;
        assert_eq!(extract_json(typed, ("apps/v1", "Deployment"), "d").unwrap(), None);
        // Text that is not a JSON object is an error, not "no workload".
        for not_an_object in ["[1]", "\"x\"", "5", "true", "null", "{", ""] {
            assert_eq!(
                extract_json(not_an_object, ("v1", "Pod"), "d"),
                Err(RefError::NOT_AN_OBJECT),
                "{not_an_object}"
            );
        }
    }

    #[test]
    fn repeated_keys_in_json_text_count_the_last() {
        let text = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {
            "containers": "first", "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]}}"#;
        let w = extract_json(text, ("", ""), "d").unwrap().unwrap();
        assert_eq!(w.refs[0].secret, "s");
    }

    #[test]
    fn steps_through_wrong_shapes_find_nothing_but_a_wrong_pod_spec_is_named() {
        let deployment = |spec: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec});
        for nothing in [
            json!("x"),
            json!({"template": 3}),
            json!({"template": {"spec": null}}),
        ] {
            let w = extract(&deployment(nothing.clone()), "d").unwrap().unwrap();
            assert!(w.refs.is_empty(), "{nothing}");
        }
        let err = extract(&deployment(json!({"template": {"spec": [1]}})), "d").unwrap_err();
        assert_eq!(err.to_string(), "spec.template.spec: is not a mapping");
        let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": "x"}}}}});
        assert_eq!(
            extract(&cron, "d").unwrap_err().field,
            "spec.jobTemplate.spec.template.spec"
        );
        // Fields a kind does not use are not checked: a Pod's spec has no template.
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"template": "x", "containers": []}});
        assert!(extract(&pod, "d").unwrap().unwrap().refs.is_empty());
    }

    /// A pod spec with every form of reference.
    fn pod_spec() -> Value {
        serde_json::from_str(include_str!("../tests/testdata/pod_spec.json")).unwrap()
    }

    fn wrap(api_version: &str, kind: &str, spec: Value) -> Value {
        let body = match kind {
            "Pod" => json!({"spec": spec}),
            "CronJob" => json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
            _ => json!({"spec": {"template": {"spec": spec}}}),
        };
        let mut obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}});
        obj["spec"] = body["spec"].clone();
        obj
    }

    #[test]
    fn every_reference_form_with_paths() {
        let w = extract(&wrap("apps/v1", "Deployment", pod_spec()), "prod")
            .unwrap()
            .unwrap();
        assert_eq!(
            (w.namespace.as_str(), w.service_account.as_str()),
            ("prod", "api-sa")
        );
        let got: Vec<(String, Option<&str>, bool, RefKind, &str)> = w
            .refs
            .iter()
            .map(|r| {
                (
                    r.secret.clone(),
                    r.key.as_deref(),
                    r.optional,
                    r.kind,
                    r.field.as_str(),
                )
            })
            .collect();
        let p = "spec.template.spec";
        assert_eq!(
            got,
            vec![
                (
                    "db".into(),
                    None,
                    false,
                    RefKind::EnvFrom,
                    &*format!("{p}.initContainers[migrate].envFrom[0]")
                ),
                (
                    "db".into(),
                    Some("password"),
                    false,
                    RefKind::EnvKey,
                    &*format!("{p}.containers[api].env[DB_PASSWORD]")
                ),
                (
                    "opt".into(),
                    Some("k"),
                    true,
                    RefKind::EnvKey,
                    &*format!("{p}.containers[api].env[OPT]")
                ),
                (
                    "tokens".into(),
                    None,
                    false,
                    RefKind::EnvFrom,
                    &*format!("{p}.containers[api].envFrom[1]")
                ),
                (
                    "dbg".into(),
                    Some("t"),
                    false,
                    RefKind::EnvKey,
                    &*format!("{p}.ephemeralContainers[debug].env[T]")
                ),
                (
                    "tls".into(),
                    Some("tls.crt"),
                    false,
                    RefKind::VolumeItem,
                    &*format!("{p}.volumes[certs]")
                ),
                (
                    "tls".into(),
                    Some("tls.key"),
                    false,
                    RefKind::VolumeItem,
                    &*format!("{p}.volumes[certs]")
                ),
                (
                    "all".into(),
                    None,
                    false,
                    RefKind::Volume,
                    &*format!("{p}.volumes[whole]")
                ),
                (
                    "p".into(),
                    Some("a"),
                    false,
                    RefKind::ProjectedItem,
                    &*format!("{p}.volumes[proj].projected.sources[1].secret")
                ),
                (
                    "registry".into(),
                    None,
                    false,
                    RefKind::ImagePull,
                    &*format!("{p}.imagePullSecrets[0]")
                ),
            ]
        );
    }

    #[test]
    fn every_workload_kind() {
        for (api, kind, path) in [
            ("v1", "Pod", "spec"),
            ("apps/v1", "Deployment", "spec.template.spec"),
            ("apps/v1", "StatefulSet", "spec.template.spec"),
            ("apps/v1", "DaemonSet", "spec.template.spec"),
            ("apps/v1", "ReplicaSet", "spec.template.spec"),
            ("batch/v1", "Job", "spec.template.spec"),
            ("batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec"),
            ("v1", "ReplicationController", "spec.template.spec"),
        ] {
            let w = extract(&wrap(api, kind, pod_spec()), "d").unwrap().unwrap();
            assert_eq!(w.refs.len(), 10, "{kind}");
            assert!(w.refs.iter().all(|r| r.field.starts_with(path)), "{kind}");
        }
        assert_eq!(
            extract(&json!({"apiVersion": "v1", "kind": "ConfigMap"}), "d").unwrap(),
            None
        );
        assert_eq!(
            extract(
                &json!({"apiVersion": "example.com/v1", "kind": "Deployment"}),
                "d"
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn namespace_default_and_explicit() {
        let mut obj = wrap("v1", "Pod", json!({"containers": []}));
        assert_eq!(extract(&obj, "fallback").unwrap().unwrap().namespace, "fallback");
        obj["metadata"]["namespace"] = json!("");
        assert_eq!(extract(&obj, "fallback").unwrap().unwrap().namespace, "fallback");
        obj["metadata"]["namespace"] = json!("own");
        let w = extract(&obj, "fallback").unwrap().unwrap();
        assert_eq!(
            (w.namespace.as_str(), w.service_account.as_str()),
            ("own", "default")
        );
    }

    #[test]
    fn empty_names_are_kept_for_the_policy() {
        let spec = json!({"containers": [{"name": "a", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"key": ""}}}]}]});
        let w = extract(&wrap("v1", "Pod", spec), "d").unwrap().unwrap();
        assert_eq!(
            (w.refs[0].secret.as_str(), w.refs[0].key.as_deref()),
            ("", Some(""))
        );
    }

    #[test]
    fn malformed_specs_name_the_field() {
        let err = extract(&wrap("apps/v1", "Deployment", json!({"containers": "nope"})), "d").unwrap_err();
        assert_eq!(err.to_string(), "spec.template.spec.containers: is not a list");
        let err = extract(
            &wrap("v1", "Pod", json!({"containers": [{"name": "a", "env": [1]}]})),
            "d",
        )
        .unwrap_err();
        assert_eq!(err.field, "spec.containers[a].env[0]");
        let err = extract(
            &wrap("v1", "Pod", json!({"volumes": [{"name": "v", "secret": "x"}]})),
            "d",
        )
        .unwrap_err();
        assert_eq!(err.field, "spec.volumes[v].secret");
        let err = extract(&json!({"apiVersion": "v1", "kind": "Pod", "spec": []}), "d").unwrap_err();
        assert_eq!(err.field, "spec");
    }

    #[test]
    fn a_leaf_keeps_a_dotted_name_in_brackets() {
        let err = RefError {
            field: "spec.containers[a].env[my.var]".to_owned(),
            problem: "must be a mapping with a `name`",
        };
        assert_eq!(err.leaf(), "env[my.var]");
        let top = RefError {
            field: "spec".to_owned(),
            problem: "is not a mapping",
        };
        assert_eq!(top.leaf(), "spec");
    }

    #[test]
    fn malformed_shapes_table() {
        let c = |c: Value| json!({"containers": [c]});
        for (spec, field, problem) in [
            (
                json!({"initContainers": {}}),
                "spec.initContainers",
                "is not a list",
            ),
            (
                json!({"ephemeralContainers": ["x"]}),
                "spec.ephemeralContainers[0]",
                "must be a mapping (a container)",
            ),
            (
                // A chart that renders a list of names from a mis-set value.
                json!({"imagePullSecrets": ["regcred"]}),
                "spec.imagePullSecrets[0]",
                "must be a mapping with a `name`",
            ),
            (json!({"volumes": 3}), "spec.volumes", "is not a list"),
            (
                json!({"imagePullSecrets": "regcred"}),
                "spec.imagePullSecrets",
                "is not a list",
            ),
            (
                json!({"imagePullSecrets": [{"name": 1}]}),
                "spec.imagePullSecrets[0].name",
                "is not a string",
            ),
            (
                c(json!({"name": "a", "env": {}})),
                "spec.containers[a].env",
                "is not a list",
            ),
            (
                c(json!({"name": "a", "envFrom": [{"secretRef": "s"}]})),
                "spec.containers[a].envFrom[0].secretRef",
                "is not a mapping",
            ),
            (
                c(json!({"name": "a", "envFrom": [{"secretRef": {"name": "s", "optional": "true"}}]})),
                "spec.containers[a].envFrom[0].secretRef.optional",
                "is not a boolean",
            ),
            (
                c(json!({"name": "a", "env": [{"name": "X", "valueFrom": "s"}]})),
                "spec.containers[a].env[X].valueFrom",
                "is not a mapping",
            ),
            (
                c(
                    json!({"name": "a", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": 5}}}]}),
                ),
                "spec.containers[a].env[X].valueFrom.secretKeyRef.key",
                "is not a string",
            ),
            (
                json!({"volumes": [{"name": "v", "secret": {"secretName": "s", "items": {}}}]}),
                "spec.volumes[v].secret.items",
                "is not a list",
            ),
            (
                json!({"volumes": [{"name": "v", "secret": {"secretName": "s", "items": [{"key": ["k"]}]}}]}),
                "spec.volumes[v].secret.items[0].key",
                "is not a string",
            ),
            (
                json!({"volumes": [{"name": "v", "projected": []}]}),
                "spec.volumes[v].projected",
                "is not a mapping",
            ),
            (
                json!({"volumes": [{"name": "v", "projected": {"sources": {}}}]}),
                "spec.volumes[v].projected.sources",
                "is not a list",
            ),
            (
                json!({"volumes": [{"name": "v", "projected": {"sources": [{"secret": {"name": true}}]}}]}),
                "spec.volumes[v].projected.sources[0].secret.name",
                "is not a string",
            ),
        ] {
            let err = extract(&wrap("v1", "Pod", spec.clone()), "d").unwrap_err();
            assert_eq!((err.field.as_str(), err.problem), (field, problem), "{spec}");
            assert_eq!(err.to_string(), format!("{field}: {problem}"));
            assert_eq!(err.leaf(), field.rsplit('.').next().unwrap(), "{spec}");
        }
    }

    #[test]
    fn optional_on_every_form() {
        let spec = json!({
            "containers": [{"name": "a",
                "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": true}}}],
                "envFrom": [{"secretRef": {"name": "s", "optional": true}}]}],
            "volumes": [
                {"name": "v", "secret": {"secretName": "s", "optional": true, "items": [{"key": "k", "path": "k"}]}},
                {"name": "w", "secret": {"secretName": "s", "optional": true}},
                {"name": "p", "projected": {"sources": [{"secret": {"name": "s", "optional": true}}]}}
            ]
        });
        let w = extract(&wrap("v1", "Pod", spec), "d").unwrap().unwrap();
        let got: Vec<(RefKind, bool)> = w.refs.iter().map(|r| (r.kind, r.optional)).collect();
        assert_eq!(
            got,
            [
                (RefKind::EnvKey, true),
                (RefKind::EnvFrom, true),
                (RefKind::VolumeItem, true),
                (RefKind::Volume, true),
                (RefKind::Projected, true),
            ]
        );
        assert_eq!(w.refs[4].field, "spec.volumes[p].projected.sources[0].secret");
        assert_eq!(w.refs[4].key, None);
    }

    #[test]
    fn unnamed_items_are_indexed() {
        let spec = json!({"containers": [{"env": [{"valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}],
            "imagePullSecrets": [{"name": "a"}, {"name": "b"}]});
        let w = extract(&wrap("v1", "Pod", spec), "d").unwrap().unwrap();
        let fields: Vec<&str> = w.refs.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.containers[0].env[0]",
                "spec.imagePullSecrets[0]",
                "spec.imagePullSecrets[1]"
            ]
        );
    }

    #[test]
    fn workload_without_pod_spec_has_no_references() {
        let w = extract(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}),
            "d",
        )
        .unwrap()
        .unwrap();
        assert!(w.refs.is_empty());
        assert_eq!(w.describe(), "Deployment d/x");
        assert_eq!(
            w.object(),
            ObjectRef {
                kind: "Deployment".into(),
                namespace: "d".into(),
                name: "x".into()
            }
        );
    }

    #[test]
    fn list_items() {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [
            wrap("v1", "Pod", json!({"containers": [{"name": "a", "envFrom": [{"secretRef": {"name": "s"}}]}]})),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
            wrap("apps/v1", "Deployment", json!({"containers": "bad"})),
        ]});
        let got = extract_all(&list, "d");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().unwrap().refs[0].secret, "s");
        let err = got[1].as_ref().unwrap_err();
        assert_eq!(err.field, "items[2].spec.template.spec.containers");
        // A single object is a list of one.
        let one = extract_all(&wrap("v1", "Pod", json!({})), "d");
        assert!(matches!(one.as_slice(), [Ok(w)] if w.kind == "Pod"));
        assert!(extract_all(&json!({"apiVersion": "v1", "kind": "Secret"}), "d").is_empty());
    }

    /// The view as the pull reader reads it, or `None` when it leaves the text to serde.
    fn pulled(text: &str) -> Option<String> {
        let mut r = json::Reader::new(text);
        let view = WorkloadView::read(&mut r).ok()?;
        r.finish().ok()?;
        Some(format!("{view:?}"))
    }

    fn annotated_workload() -> Value {
        let mut w = wrap("apps/v1", "Deployment", pod_spec());
        w["metadata"]["annotations"] = json!({"sealgate.dev/exempt": "window", "other": "x",
            "sealgate.dev/expect": ["not", "text"]});
        w["metadata"]["namespace"] = json!("prod");
        // Fields of other kinds' specs, which the view reads wherever they are.
        w["spec"]["serviceAccount"] = json!("old-sa");
        w["spec"]["jobTemplate"] = json!({"spec": {"template": {"spec": {"containers": [{"name": "j"}]}}}});
        w
    }

    #[test]
    fn the_pull_reader_reads_plain_workloads_itself() {
        for kind in [("v1", "Pod"), ("apps/v1", "Deployment"), ("batch/v1", "CronJob")] {
            let text = serde_json::to_string_pretty(&wrap(kind.0, kind.1, pod_spec())).unwrap();
            let serde = format!("{:?}", serde_json::from_str::<WorkloadView>(&text).unwrap());
            assert_eq!(pulled(&text), Some(serde), "{text}");
        }
        // What it leaves to serde: a number where text belongs, a repeated field.
        assert_eq!(pulled(r#"{"metadata": {"name": 5}}"#), None);
        assert_eq!(pulled(r#"{"kind": "Pod", "kind": "Pod"}"#), None);
        assert!(
            pulled(r#"{"metadata": {"annotations": {"sealgate.dev/a": "1", "sealgate.dev/a": "2"}}}"#)
                .is_some()
        );
    }

    /// A value of another shape for a mutated spot.
    fn replacement(which: u8) -> Value {
        match which % 14 {
            0 => json!("text"),
            1 => json!("esc\"aped \u{e9} \\ \n"),
            2 => json!(""),
            3 => json!(7),
            4 => json!(-1.5e3),
            5 => json!(true),
            6 => json!(null),
            7 => json!([]),
            8 => json!({}),
            9 => json!([{"name": "x", "key": "k"}, null, 3]),
            10 => json!({"name": "x", "key": "k", "secretName": "s", "optional": false}),
            11 => json!({"secretKeyRef": {"name": "s", "key": "k"}, "secretRef": {"name": "t"}}),
            12 => json!({"spec": {"containers": [{"name": "c", "env": "x"}]}}),
            _ => json!({"sealgate.dev/x": "y", "a": 1}),
        }
    }

    /// Replaces the value reached by following `path` (each step picks a child or stops).
    fn mutate(value: &mut Value, mut path: u64, with: Value) {
        let mut at = value;
        loop {
            let children = match &*at {
                Value::Object(m) => m.len(),
                Value::Array(a) => a.len(),
                _ => 0,
            };
            let step = (path % (children as u64 + 1)) as usize;
            path /= children as u64 + 1;
            if step == children || path == 0 {
                *at = with;
                return;
            }
            at = match at {
                Value::Object(m) => m.values_mut().nth(step).expect("child"),
                Value::Array(a) => &mut a[step],
                _ => unreachable!("a leaf has no children"),
            };
        }
    }

    /// What the glance checks of a workload, as the view's walk finds it (`None`:
    /// the walk fails or the workload has sealgate annotations): namespace, service
    /// account and the references, sorted.
    type Checked = (String, String, Vec<(String, Option<String>, bool)>);

    fn walked(text: &str, type_: (&str, &str)) -> Option<Checked> {
        let view: WorkloadView = serde_json::from_str(text).ok()?;
        let head = view.head(type_, "req-ns").ok()??;
        if head.annotations.is_some_and(|a| !a.is_empty()) {
            return None;
        }
        let mut refs = Vec::new();
        head.walk(&mut |r| refs.push((r.secret.to_owned(), r.key.map(str::to_owned), r.optional)))
            .ok()?;
        refs.sort();
        Some((head.namespace.to_owned(), head.service_account.to_owned(), refs))
    }

    fn glimpsed(text: &str) -> Option<Checked> {
        let mut r = json::Reader::new(text);
        let g = Glimpse::read(&mut r).ok()?;
        r.finish().ok()?;
        let mut refs: Vec<_> = g
            .refs()
            .iter()
            .map(|r| (r.secret.to_owned(), r.key.map(str::to_owned), r.optional))
            .collect();
        refs.sort();
        Some((
            g.namespace("req-ns").to_owned(),
            g.service_account().to_owned(),
            refs,
        ))
    }

    #[test]
    fn a_glimpse_finds_what_the_walk_finds_in_plain_workloads() {
        for (api_version, kind) in [
            ("v1", "Pod"),
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("batch/v1", "Job"),
            ("batch/v1", "CronJob"),
        ] {
            let mut w = wrap(api_version, kind, pod_spec());
            let text = serde_json::to_string_pretty(&w).unwrap();
            let found = glimpsed(&text).expect("a plain workload is glimpsed");
            assert_eq!(Some(&found), walked(&text, ("", "")).as_ref(), "{text}");
            assert_eq!(
                (found.0.as_str(), found.1.as_str(), found.2.len()),
                ("req-ns", "api-sa", 10)
            );
            // Its own namespace, foreign annotations, fields the view does not read.
            w["metadata"]["namespace"] = json!("prod");
            w["metadata"]["annotations"] =
                json!({"kubectl.kubernetes.io/last-applied-configuration": "{\"a\": 1}"});
            w["status"] = json!({"replicas": 1});
            let text = w.to_string();
            assert_eq!(glimpsed(&text), walked(&text, ("", "")), "{text}");
            assert_eq!(glimpsed(&text).map(|f| f.0), Some("prod".to_owned()));
        }
        // No pod spec: nothing to check, and no service account.
        let bare = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1}}"#;
        assert_eq!(glimpsed(bare), Some(("req-ns".into(), String::new(), vec![])));
        assert_eq!(glimpsed(bare), walked(bare, ("", "")));
    }

    /// A Pod as the API server sends it to a validating webhook: type first (kind
    /// before apiVersion), managedFields with escaped keys, defaults, the service
    /// account token volume, status.
    const SERVED_POD: &str = include_str!("../tests/testdata/served_pod.json");

    #[test]
    fn a_pod_as_the_api_server_sends_it_is_glimpsed() {
        let found = glimpsed(SERVED_POD).expect("glimpsed");
        assert_eq!(Some(&found), walked(SERVED_POD, ("", "")).as_ref());
        let refs: Vec<_> = found
            .2
            .iter()
            .map(|(s, k, _)| (s.as_str(), k.as_deref()))
            .collect();
        assert_eq!(
            (found.0.as_str(), found.1.as_str(), refs),
            (
                "prod",
                "default",
                vec![
                    ("api-env", None),
                    ("db", Some("password")),
                    ("registry", None),
                    ("tls", Some("tls.crt"))
                ]
            )
        );
    }

    #[test]
    fn a_glimpse_reads_every_plain_variant_as_the_walk_does() {
        let env =
            |from: Value| json!({"containers": [{"name": "c", "env": [{"name": "E", "valueFrom": from}]}]});
        let volume = |v: Value| json!({"volumes": [v]});
        for spec in [
            json!({"serviceAccountName": "", "serviceAccount": "old"}),
            json!({"serviceAccount": "old"}),
            json!({"serviceAccountName": "new", "serviceAccount": "old"}),
            json!({"serviceAccount": ""}),
            json!({}),
            env(json!({"secretKeyRef": {"name": "s"}})),
            env(json!({"secretKeyRef": {"key": "k", "optional": true}})),
            env(json!({"secretKeyRef": {}})),
            env(json!({"configMapKeyRef": {"name": "cm", "key": "k"}})),
            json!({"containers": [{"envFrom": [{"secretRef": {"name": "s", "optional": true}}, {"prefix": "P"}]}]}),
            volume(json!({"name": "v", "secret": {"secretName": "s", "items": []}})),
            volume(
                json!({"name": "v", "secret": {"secretName": "s", "optional": true, "items": [{"path": "p"}, {"key": "k"}]}}),
            ),
            volume(json!({"name": "v", "secret": {}})),
            volume(
                json!({"name": "v", "projected": {"sources": [{"secret": {"name": "p"}}, {"secret": {"name": "q", "items": []}}]}}),
            ),
            volume(
                json!({"name": "v", "projected": {"sources": [{"secret": {"items": [{"key": "k"}], "name": "p", "optional": true}}]}}),
            ),
            volume(json!({"name": "v", "projected": {"sources": []}})),
            volume(json!({"name": "v", "projected": {}})),
            json!({"imagePullSecrets": [{}, {"name": "r"}]}),
            json!({"initContainers": [], "ephemeralContainers": [{"name": "d"}], "volumes": []}),
        ] {
            for (api_version, kind) in [("v1", "Pod"), ("apps/v1", "DaemonSet"), ("batch/v1", "CronJob")] {
                let text = wrap(api_version, kind, spec.clone()).to_string();
                let found = glimpsed(&text);
                assert!(found.is_some(), "{text}");
                assert_eq!(found, walked(&text, ("", "")), "{text}");
            }
        }
    }

    #[test]
    fn a_glimpse_leaves_all_but_the_plain_form_to_the_view() {
        let pod = |spec: &str| format!(r#"{{"apiVersion": "v1", "kind": "Pod", "spec": {spec}}}"#);
        let source = |s: &str| {
            pod(&format!(
                r#"{{"containers": [{{"name": "c", "env": [{{"name": "E", "valueFrom": {{"secretKeyRef": {s}}}}}]}}]}}"#
            ))
        };
        for text in [
            // The type after the spec, or missing; not a workload.
            r#"{"spec": {"containers": []}, "apiVersion": "v1", "kind": "Pod"}"#.to_owned(),
            r#"{"kind": "Pod", "spec": {}}"#.to_owned(),
            r#"{"apiVersion": "v1", "kind": "Pod"}"#.replace("Pod", "ConfigMap"),
            // sealgate's own annotations; a repeated field; escapes; other shapes.
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": {"sealgate.dev/exempt": "x"}}}"#.to_owned(),
            r#"{"apiVersion": "v1", "kind": "Pod", "kind": "Pod"}"#.to_owned(),
            source(r#"{"name": "s", "key": "k", "key": "k"}"#),
            source(r#"{"name": "s\u0041", "key": "k"}"#),
            source(r#"{"name": "s", "key": 5}"#),
            source(r#"{"name": "s", "key": null}"#),
            source(r#"{"name": "s", "key": "k", "optional": "yes"}"#),
            pod(r#"{"containers": null}"#),
            pod(r#"{"containers": [null]}"#),
            pod(r#"{"volumes": {}}"#),
            // Fields where the walk does not look.
            pod(r#"{"template": {"spec": {}}}"#),
            source(r#"{"name": "s", "key": "k", "items": []}"#),
            source(r#"{"secretName": "s", "key": "k"}"#),
            pod(r#"{"volumes": [{"name": "v", "secret": {"name": "s"}}]}"#),
            r#"{"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"containers": []}}"#.to_owned(),
        ] {
            assert_eq!(glimpsed(&text), None, "{text}");
        }
    }

    /// A plain workload to mutate: no sealgate annotations, nothing outside the walk's way.
    fn plain_workload(kind: u8) -> Value {
        let (api_version, kind) =
            [("v1", "Pod"), ("apps/v1", "Deployment"), ("batch/v1", "CronJob")][kind as usize % 3];
        let mut w = wrap(api_version, kind, pod_spec());
        w["metadata"]["namespace"] = json!("prod");
        w["metadata"]["annotations"] = json!({"other": "x"});
        w
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Workloads with parts swapped for other shapes: wherever the pull reader
        /// reads the text itself, it reads what serde reads.
        #[test]
        fn the_pull_reader_reads_what_serde_reads(
            mutations in proptest::collection::vec((proptest::prelude::any::<u64>(), 0u8..14), 0..5),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let mut w = annotated_workload();
            for (path, which) in mutations {
                mutate(&mut w, path, replacement(which));
            }
            let text = if pretty { serde_json::to_string_pretty(&w) } else { serde_json::to_string(&w) }.unwrap();
            if let Some(pulled) = pulled(&text) {
                let serde = serde_json::from_str::<WorkloadView>(&text).map(|v| format!("{v:?}"));
                proptest::prop_assert_eq!(Ok(pulled), serde.map_err(|e| e.to_string()), "{}", text);
            }
        }

        /// Plain workloads with parts swapped for other shapes: whatever a glimpse
        /// reads, the walk over the view finds the same.
        #[test]
        fn a_glimpse_finds_what_the_walk_finds(
            kind in 0u8..3,
            mutations in proptest::collection::vec((proptest::prelude::any::<u64>(), 0u8..14), 0..3),
        ) {
            let mut w = plain_workload(kind);
            for (path, which) in mutations {
                mutate(&mut w, path, replacement(which));
            }
            let text = w.to_string();
            if let Some(found) = glimpsed(&text) {
                proptest::prop_assert_eq!(Some(found), walked(&text, ("", "")), "{}", text);
            }
        }
    }
}
