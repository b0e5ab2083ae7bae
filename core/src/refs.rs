//! Secret references of workloads: which Secrets and keys a pod spec needs,
//! with the field path of each, for every workload kind sealgate checks.

use std::fmt;

use serde::Deserialize as _;
use serde_json::{Map, Value};

use model::Lax;

mod extract;
mod model;

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

/// [`extract`] from JSON text (an AdmissionReview's old object, say). `type_` is
/// the (apiVersion, kind) to assume when the object does not say. A JSON object
/// that is not a workload is `Ok(None)`; text that cannot be read as a JSON
/// object (another JSON value, `null`, text that is not JSON, a repeated field)
/// is [`RefError::NOT_AN_OBJECT`]: a caller that must check the object cannot
/// take it for something it need not check.
pub fn extract_json(
    json: &str,
    type_: (&str, &str),
    default_namespace: &str,
) -> Result<Option<Workload>, RefError> {
    serde_json::from_str::<WorkloadView>(json)
        .map_err(|_| RefError::NOT_AN_OBJECT)?
        .extract(type_, default_namespace)
}

impl RefError {
    /// What [`extract_json`] returns for text it cannot read as a JSON object.
    pub const NOT_AN_OBJECT: RefError = RefError {
        field: String::new(),
        problem: "is not a JSON object",
    };
}

/// The typed model of a workload's references, read by serde in place as part
/// of a larger document (an AdmissionReview's `object`), borrowing from it;
/// then [`WorkloadView::extract`]. Values of unexpected shapes do not fail the
/// read, `extract` reports them; a repeated field does fail it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct WorkloadView<'a>(#[serde(borrow)] Lax<model::Object<'a>>);

impl WorkloadView<'_> {
    /// The workload, as [`extract_json`] gives it.
    pub fn extract(
        &self,
        type_: (&str, &str),
        default_namespace: &str,
    ) -> Result<Option<Workload>, RefError> {
        match &self.0 {
            Lax::Got(object) => extract::build(object, Some(type_), default_namespace),
            Lax::Absent | Lax::Wrong => Err(RefError::NOT_AN_OBJECT),
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
        // Text that is not a JSON object is an error of its own (see extract_json).
        if !obj.is_object() {
            assert_eq!(extract_json(&text, ("", ""), ns), Err(RefError::NOT_AN_OBJECT));
            return from_value;
        }
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
    fn repeated_keys_in_json_text_are_not_read() {
        let text = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {
            "containers": "first", "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]}}"#;
        assert_eq!(extract_json(text, ("", ""), "d"), Err(RefError::NOT_AN_OBJECT));
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

    /// A Pod as the API server sends it to a validating webhook: type first (kind
    /// before apiVersion), managedFields with escaped keys, defaults, the service
    /// account token volume, status.
    const SERVED_POD: &str = include_str!("../tests/testdata/served_pod.json");

    #[test]
    fn a_pod_as_the_api_server_sends_it_reads_into_the_model() {
        let w = extract_json(SERVED_POD, ("", ""), "req-ns").unwrap().unwrap();
        let refs: Vec<_> = w
            .refs
            .iter()
            .map(|r| (r.secret.as_str(), r.key.as_deref()))
            .collect();
        assert_eq!(
            (w.namespace.as_str(), w.service_account.as_str(), refs),
            (
                "prod",
                "default",
                vec![
                    ("db", Some("password")),
                    ("api-env", None),
                    ("tls", Some("tls.crt")),
                    ("registry", None)
                ]
            )
        );
        assert!(w.annotations.is_empty(), "foreign annotations are skipped");
    }

    #[test]
    fn escaped_text_is_read_as_its_value() {
        // Borrowed where the text has no escapes, owned where it has: the same Secret either way.
        let text = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "pr\u006fd"}, "spec":
            {"containers": [{"name": "c\"1", "envFrom": [{"secretRef": {"name": "d\u0062"}}]}]}}"#;
        let w = extract_json(text, ("", ""), "d").unwrap().unwrap();
        assert_eq!((w.namespace.as_str(), w.refs[0].secret.as_str()), ("prod", "db"));
        assert_eq!(w.refs[0].field, "spec.containers[c\"1].envFrom[0]");
    }

    #[test]
    fn a_repeated_field_is_not_read() {
        let text = r#"{"apiVersion": "v1", "kind": "Pod", "kind": "Pod"}"#;
        assert_eq!(extract_json(text, ("", ""), "d"), Err(RefError::NOT_AN_OBJECT));
        let err = serde_json::from_str::<WorkloadView>(text).unwrap_err();
        assert!(err.to_string().starts_with("duplicate field `kind`"), "{err}");
        // Repeated annotations are a map's: the last counts.
        let text = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations":
            {"sealgate.dev/exempt": "a", "sealgate.dev/exempt": "b"}}}"#;
        let w = extract_json(text, ("", ""), "d").unwrap().unwrap();
        assert_eq!(w.annotations["sealgate.dev/exempt"], "b");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Workloads with parts swapped for other shapes: the model reads JSON text
        /// as it reads the parsed value, and never fails but with an error naming a field.
        #[test]
        fn the_model_reads_text_as_it_reads_values(
            kind in 0u8..3,
            mutations in proptest::collection::vec((proptest::prelude::any::<u64>(), 0u8..14), 0..5),
        ) {
            let (api_version, kind) = [("v1", "Pod"), ("apps/v1", "Deployment"), ("batch/v1", "CronJob")][kind as usize];
            let mut w = wrap(api_version, kind, pod_spec());
            w["metadata"]["annotations"] = json!({"sealgate.dev/exempt": "window", "other": "x"});
            for (path, which) in mutations {
                mutate(&mut w, path, replacement(which));
            }
            if let Err(e) = extract(&w, "d") {
                proptest::prop_assert!(e.field.starts_with("spec"), "{}", e);
            }
        }
    }
}
