//! Secret references of workloads: which Secrets and keys a pod spec needs,
//! with the field path of each, for every workload kind sealgate checks.

use std::fmt;

use serde_json::{Map, Value};

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
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some(path) = pod_spec_path(api_version, kind) else {
        return Ok(None);
    };
    let metadata = obj.get("metadata").and_then(Value::as_object);
    let meta_str = |k: &str| metadata.and_then(|m| m.get(k)).and_then(Value::as_str);
    let annotations = metadata
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut pod = obj;
    for key in path.split('.') {
        pod = match pod.get(key) {
            Some(v) => v,
            None => &Value::Null,
        };
    }
    let mut w = Workload {
        kind: kind.to_owned(),
        namespace: meta_str("namespace")
            .filter(|ns| !ns.is_empty())
            .unwrap_or(default_namespace)
            .to_owned(),
        name: meta_str("name").unwrap_or("").to_owned(),
        service_account: String::new(),
        pod_spec_path: path,
        refs: Vec::new(),
        annotations,
    };
    let spec = match pod {
        Value::Null => return Ok(Some(w)),
        Value::Object(m) => m,
        _ => {
            return Err(RefError {
                field: path.to_owned(),
                problem: "is not a mapping",
            });
        }
    };
    w.service_account = match spec
        .get("serviceAccountName")
        .or_else(|| spec.get("serviceAccount"))
    {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => "default".to_owned(),
    };
    let mut x = Extractor { refs: &mut w.refs };
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in objects(spec, list, path)? {
            let at = format!("{path}.{list}[{}]", selector(c, i));
            x.container(c, &at)?;
        }
    }
    for (i, v) in objects(spec, "volumes", path)? {
        x.volume(v, &format!("{path}.volumes[{}]", selector(v, i)))?;
    }
    for (i, p) in objects(spec, "imagePullSecrets", path)? {
        let field = format!("{path}.imagePullSecrets[{i}]");
        x.refs.push(SecretRef {
            secret: string(p, "name", &field)?,
            key: None,
            optional: false,
            kind: RefKind::ImagePull,
            field,
        });
    }
    Ok(Some(w))
}

/// `[name]` when the element has a name, else `[index]`.
fn selector(item: &Map<String, Value>, index: usize) -> String {
    match item.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => index.to_string(),
    }
}

/// String field `key` of `m`; absent or null is empty (the policy reports empty names).
fn string(m: &Map<String, Value>, key: &str, at: &str) -> Result<String, RefError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(RefError {
            field: format!("{at}.{key}"),
            problem: "is not a string",
        }),
    }
}

/// `optional` of a reference; absent or null is `false`.
fn optional(m: &Map<String, Value>, at: &str) -> Result<bool, RefError> {
    match m.get("optional") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(RefError {
            field: format!("{at}.optional"),
            problem: "is not a boolean",
        }),
    }
}

type Object = Map<String, Value>;

/// The mappings of list `key` in `parent`; absent or null is empty.
fn objects<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Vec<(usize, &'a Object)>, RefError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok((i, m)),
                _ => Err(RefError {
                    field: format!("{at}.{key}[{i}]"),
                    problem: "is not a mapping",
                }),
            })
            .collect(),
        Some(_) => Err(RefError {
            field: format!("{at}.{key}"),
            problem: "is not a list",
        }),
    }
}

fn mapping<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'a Map<String, Value>>, RefError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(RefError {
            field: format!("{at}.{key}"),
            problem: "is not a mapping",
        }),
    }
}

struct Extractor<'a> {
    refs: &'a mut Vec<SecretRef>,
}

impl Extractor<'_> {
    fn container(&mut self, c: &Map<String, Value>, at: &str) -> Result<(), RefError> {
        for (i, env) in objects(c, "env", at)? {
            let field = format!("{at}.env[{}]", selector(env, i));
            let Some(from) = mapping(env, "valueFrom", &field)? else {
                continue;
            };
            let from_at = format!("{field}.valueFrom");
            if let Some(r) = mapping(from, "secretKeyRef", &from_at)? {
                let at = format!("{from_at}.secretKeyRef");
                self.refs.push(SecretRef {
                    secret: string(r, "name", &at)?,
                    key: Some(string(r, "key", &at)?),
                    optional: optional(r, &at)?,
                    kind: RefKind::EnvKey,
                    field,
                });
            }
        }
        for (i, from) in objects(c, "envFrom", at)? {
            let field = format!("{at}.envFrom[{i}]");
            if let Some(r) = mapping(from, "secretRef", &field)? {
                let at = format!("{field}.secretRef");
                self.refs.push(SecretRef {
                    secret: string(r, "name", &at)?,
                    key: None,
                    optional: optional(r, &at)?,
                    kind: RefKind::EnvFrom,
                    field,
                });
            }
        }
        Ok(())
    }

    fn volume(&mut self, v: &Map<String, Value>, at: &str) -> Result<(), RefError> {
        if let Some(s) = mapping(v, "secret", at)? {
            let kinds = (RefKind::Volume, RefKind::VolumeItem);
            self.secret_source(s, "secretName", kinds, at, &format!("{at}.secret"))?;
        }
        if let Some(p) = mapping(v, "projected", at)? {
            let sources_at = format!("{at}.projected");
            for (i, src) in objects(p, "sources", &sources_at)? {
                let src_at = format!("{sources_at}.sources[{i}]");
                if let Some(s) = mapping(src, "secret", &src_at)? {
                    let field = format!("{src_at}.secret");
                    let kinds = (RefKind::Projected, RefKind::ProjectedItem);
                    self.secret_source(s, "name", kinds, &field, &field)?;
                }
            }
        }
        Ok(())
    }

    /// A secret volume or projected source: one reference per item key, or the whole
    /// Secret. Every reference carries the volume's (or source's) field path, where a
    /// person looks for it; `at` is where its own fields sit.
    fn secret_source(
        &mut self,
        s: &Map<String, Value>,
        name_key: &str,
        (whole, item_kind): (RefKind, RefKind),
        field: &str,
        at: &str,
    ) -> Result<(), RefError> {
        let secret = string(s, name_key, at)?;
        let optional = optional(s, at)?;
        let items = objects(s, "items", at)?;
        if items.is_empty() {
            self.refs.push(SecretRef {
                secret,
                key: None,
                optional,
                kind: whole,
                field: field.to_owned(),
            });
            return Ok(());
        }
        for (i, item) in items {
            self.refs.push(SecretRef {
                secret: secret.clone(),
                key: Some(string(item, "key", &format!("{at}.items[{i}]"))?),
                optional,
                kind: item_kind,
                field: field.to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_spec() -> Value {
        json!({
            "serviceAccountName": "api-sa",
            "initContainers": [{"name": "migrate", "envFrom": [{"secretRef": {"name": "db"}}]}],
            "containers": [{
                "name": "api",
                "env": [
                    {"name": "PLAIN", "value": "x"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "opt", "key": "k", "optional": true}}},
                    {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}
                ],
                "envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "tokens", "optional": false}}]
            }],
            "ephemeralContainers": [{"name": "debug", "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "dbg", "key": "t"}}}]}],
            "volumes": [
                {"name": "certs", "secret": {"secretName": "tls", "items": [{"key": "tls.crt", "path": "c"}, {"key": "tls.key", "path": "k"}]}},
                {"name": "whole", "secret": {"secretName": "all"}},
                {"name": "proj", "projected": {"sources": [{"configMap": {"name": "cm"}}, {"secret": {"name": "p", "items": [{"key": "a", "path": "a"}]}}]}},
                {"name": "empty", "emptyDir": {}}
            ],
            "imagePullSecrets": [{"name": "registry"}]
        })
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
                "is not a mapping",
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
}
