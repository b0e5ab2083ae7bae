//! Plaintext Secrets in and out: reading a Secret manifest, sealing it into a
//! SealedSecret, merging keys into one, and unsealing one back.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::crd::{SealedSecret, SealedSecretSpec, SecretTemplate, TemplateMetadata};
use crate::keys::{Keyring, RecipientSet, parse_fingerprint_annotation};
use crate::names;
use crate::naming;
use crate::seal::{self, Binding, Location, Scope, SealError, UnsealError};
use crate::secret_bytes::SecretBytes;

/// Annotations that never travel into a SealedSecret: `kubectl apply` keeps a
/// full copy of the object (values included) in the first one.
const DROPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];

/// A Secret with its values in plaintext, held in zeroizing buffers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlainSecret {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when the manifest sets it.
    pub namespace: Option<String>,
    /// `type`, when set.
    pub type_: Option<String>,
    /// `immutable`, when set.
    pub immutable: Option<bool>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`, less those that must not be copied.
    pub annotations: BTreeMap<String, String>,
    /// Data key to plaintext value (`stringData` merged over `data`, as the API server does).
    pub data: BTreeMap<String, SecretBytes>,
}

/// Why a Secret could not be read, sealed or unsealed. Names fields and keys, never values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The object is not a `v1` `Secret`.
    #[error("is {found}, not a v1 Secret")]
    WrongKind {
        /// `apiVersion/kind` found.
        found: String,
    },
    /// The object is not a `SealedSecret`.
    #[error("is {found}, not a {}/{}", names::API_VERSION, names::KIND)]
    NotSealedSecret {
        /// `apiVersion/kind` found.
        found: String,
    },
    /// A field has the wrong type or shape.
    #[error("field {field}: {problem}")]
    Field {
        /// Dotted field path, e.g. `data.password`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A required value is absent.
    #[error("{0}")]
    Missing(&'static str),
    /// A data key breaks Kubernetes' rules.
    #[error("key {key:?} {problem}")]
    BadKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Sealing one value failed.
    #[error("key {key:?}: {source}")]
    Seal {
        /// The data key.
        key: String,
        /// Why.
        source: SealError,
    },
    /// One or more values failed to unseal.
    #[error("{}", describe_unseal_failures(.0))]
    Unseal(Vec<(String, UnsealError)>),
    /// A `spec.template.data` entry cannot be built.
    #[error("spec.template.data[{key:?}]: {source}")]
    Template {
        /// The template's data key.
        key: String,
        /// Why.
        source: crate::template::TemplateError,
    },
    /// A `spec.template.data` key is also sealed: which value wins would be a guess.
    #[error("spec.template.data[{key:?}]: the key is also in spec.encryptedData; use one or the other")]
    TemplateShadowsSealedKey {
        /// The key in both.
        key: String,
    },
}

fn describe_unseal_failures(failures: &[(String, UnsealError)]) -> String {
    failures
        .iter()
        .map(|(key, e)| format!("key {key:?}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn field_err(field: impl Into<String>, problem: impl Into<String>) -> SecretError {
    SecretError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

impl PlainSecret {
    /// Reads a `v1` `Secret` object. `data` must be base64; `stringData` wins over `data`.
    ///
    /// The caller should wipe `value` afterwards ([`crate::zeroize_json`]); the
    /// plaintext here is copied into zeroizing buffers.
    pub fn from_manifest(value: &Value) -> Result<Self, SecretError> {
        let obj = value
            .as_object()
            .ok_or_else(|| field_err("(document)", "is not a mapping"))?;
        let api_version = str_field(obj, "apiVersion")?.unwrap_or_default();
        let kind = str_field(obj, "kind")?.unwrap_or_default();
        if api_version != "v1" || kind != "Secret" {
            return Err(SecretError::WrongKind {
                found: describe_kind(api_version, kind),
            });
        }
        let metadata = match obj.get("metadata") {
            None | Some(Value::Null) => &Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(field_err("metadata", "is not a mapping")),
        };
        let meta_str = |k: &str| match metadata.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(field_err(format!("metadata.{k}"), "is not a string")),
        };
        let name = meta_str("name")?.unwrap_or_default();
        let namespace = meta_str("namespace")?;
        let mut secret = PlainSecret {
            name,
            namespace,
            type_: str_field(obj, "type")?.map(str::to_owned),
            immutable: match obj.get("immutable") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(field_err("immutable", "is not a boolean")),
            },
            labels: string_map(metadata.get("labels"), "metadata.labels")?,
            annotations: string_map(metadata.get("annotations"), "metadata.annotations")?,
            data: BTreeMap::new(),
        };
        secret
            .annotations
            .retain(|k, _| !DROPPED_ANNOTATIONS.contains(&k.as_str()));
        for (field, decode) in [("data", true), ("stringData", false)] {
            let map = match obj.get(field) {
                None | Some(Value::Null) => continue,
                Some(Value::Object(m)) => m,
                Some(_) => return Err(field_err(field, "is not a mapping")),
            };
            for (key, v) in map {
                let path = format!("{field}.{key}");
                naming::check_secret_key(key).map_err(|problem| SecretError::BadKey {
                    key: key.clone(),
                    problem,
                })?;
                let text = match v {
                    Value::String(s) => s.as_str(),
                    Value::Null => "",
                    _ if decode => return Err(field_err(path, "is not a base64 string")),
                    _ => {
                        return Err(field_err(path, "is not a string (quote numbers and booleans)"));
                    }
                };
                let bytes = if decode {
                    decode_data_value(text).ok_or_else(|| field_err(&path, "is not valid base64"))?
                } else {
                    SecretBytes::copy_from(text.as_bytes())
                };
                secret.data.insert(key.clone(), bytes);
            }
        }
        Ok(secret)
    }

    /// Checks the name, and the namespace when set.
    pub fn check_names(&self) -> Result<(), SecretError> {
        if self.name.is_empty() {
            return Err(SecretError::Missing("metadata.name is missing"));
        }
        naming::check_object_name(&self.name)
            .map_err(|p| field_err("metadata.name", format!("{:?} {p}", self.name)))?;
        if let Some(ns) = &self.namespace {
            naming::check_namespace(ns)
                .map_err(|p| field_err("metadata.namespace", format!("{ns:?} {p}")))?;
        }
        for key in self.data.keys() {
            naming::check_secret_key(key).map_err(|problem| SecretError::BadKey {
                key: key.clone(),
                problem,
            })?;
        }
        Ok(())
    }

    /// The `v1` `Secret` manifest, values base64 in `data`. Wipe it after use.
    pub fn to_manifest(&self) -> Value {
        let mut metadata = Map::new();
        metadata.insert("name".into(), self.name.clone().into());
        if let Some(ns) = &self.namespace {
            metadata.insert("namespace".into(), ns.clone().into());
        }
        if !self.labels.is_empty() {
            metadata.insert(
                "labels".into(),
                serde_json::to_value(&self.labels).unwrap_or_default(),
            );
        }
        if !self.annotations.is_empty() {
            metadata.insert(
                "annotations".into(),
                serde_json::to_value(&self.annotations).unwrap_or_default(),
            );
        }
        let mut obj = Map::new();
        obj.insert("apiVersion".into(), "v1".into());
        obj.insert("kind".into(), "Secret".into());
        obj.insert("metadata".into(), Value::Object(metadata));
        if let Some(t) = &self.type_ {
            obj.insert("type".into(), t.clone().into());
        }
        if let Some(i) = self.immutable {
            obj.insert("immutable".into(), i.into());
        }
        let data = self
            .data
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(STANDARD.encode(v.expose()))))
            .collect();
        obj.insert("data".into(), Value::Object(data));
        Value::Object(obj)
    }

    fn template(&self) -> Option<SecretTemplate> {
        let metadata = (!self.labels.is_empty() || !self.annotations.is_empty()).then(|| TemplateMetadata {
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
        });
        let template = SecretTemplate {
            type_: self.type_.clone(),
            immutable: self.immutable,
            metadata,
            data: BTreeMap::new(),
        };
        (template != SecretTemplate::default()).then_some(template)
    }
}

fn describe_kind(api_version: &str, kind: &str) -> String {
    match (api_version, kind) {
        ("", "") => "an object without apiVersion and kind".to_owned(),
        (a, k) => format!("{a}/{k}"),
    }
}

/// Decodes a `data` value (base64, line breaks and spaces ignored) straight into a
/// zeroizing buffer. Every intermediate copy is zeroizing too and sized once, so no
/// reallocation leaves plaintext behind.
fn decode_data_value(text: &str) -> Option<SecretBytes> {
    let stripped;
    let text = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        stripped = strip_whitespace(text);
        stripped.as_str()
    } else {
        text
    };
    let mut out = Zeroizing::new(Vec::with_capacity(base64::decoded_len_estimate(text.len())));
    STANDARD.decode_vec(text, &mut out).ok()?;
    Some(SecretBytes::from(out))
}

/// `s` without ASCII whitespace, in a zeroizing buffer allocated once at full size.
fn strip_whitespace(s: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(s.len()));
    out.extend(s.chars().filter(|c| !c.is_ascii_whitespace()));
    out
}

fn str_field<'a>(obj: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, SecretError> {
    match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(field_err(k, "is not a string")),
    }
}

fn string_map(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, SecretError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(field_err(format!("{field}.{k}"), "is not a string")),
            })
            .collect(),
        Some(_) => Err(field_err(field, "is not a mapping")),
    }
}

/// Whether `value` is a `v1` `Secret` that carries values in plaintext (`data` or
/// `stringData` with at least one key) and is not annotated as intentionally plain
/// ([`names::ANNOTATION_PLAINTEXT_OK`]). The data keys are returned for the message.
pub fn plaintext_keys(value: &Value) -> Option<Vec<String>> {
    if value.get("apiVersion").and_then(Value::as_str) != Some("v1")
        || value.get("kind").and_then(Value::as_str) != Some("Secret")
    {
        return None;
    }
    let intended = value
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(names::ANNOTATION_PLAINTEXT_OK));
    if intended {
        return None;
    }
    let mut keys: Vec<String> = ["data", "stringData"]
        .iter()
        .filter_map(|f| value.get(*f).and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    (!keys.is_empty()).then_some(keys)
}

/// How to seal: to whom, with which scope, and the namespace to use when the Secret has none.
#[derive(Clone, Debug)]
pub struct SealOptions<'a> {
    /// The recipients (cluster keys, recovery keys).
    pub recipients: &'a RecipientSet,
    /// The binding scope.
    pub scope: Scope,
}

/// Seals every value of `secret` into a new SealedSecret.
///
/// `secret.namespace` must be set unless the scope is `cluster`.
pub fn seal_secret(secret: &PlainSecret, opts: &SealOptions<'_>) -> Result<SealedSecret, SecretError> {
    let mut sealed = SealedSecret {
        metadata: ObjectMeta {
            name: Some(secret.name.clone()),
            namespace: secret.namespace.clone(),
            ..ObjectMeta::default()
        },
        spec: SealedSecretSpec {
            encrypted_data: BTreeMap::new(),
            template: secret.template(),
        },
        status: None,
    };
    merge_into(&mut sealed, secret, opts)?;
    Ok(sealed)
}

/// Seals the values of `secret` into `sealed`, replacing those keys and leaving every
/// other ciphertext untouched. The name and namespace are taken from `sealed`.
pub fn merge_into(
    sealed: &mut SealedSecret,
    secret: &PlainSecret,
    opts: &SealOptions<'_>,
) -> Result<(), SecretError> {
    if opts.recipients.is_empty() {
        return Err(SecretError::Missing("no recipients to seal to"));
    }
    let name = sealed.metadata.name.clone().unwrap_or_default();
    let namespace = sealed.metadata.namespace.clone().unwrap_or_default();
    if name.is_empty() && opts.scope == Scope::Strict {
        return Err(SecretError::Missing(
            "metadata.name is missing (strict scope binds the name)",
        ));
    }
    if namespace.is_empty() && opts.scope != Scope::Cluster {
        return Err(SecretError::Missing(
            "no namespace: set metadata.namespace or pass --namespace (only --scope cluster seals without one)",
        ));
    }
    let templated = sealed.spec.template.as_ref().map(|t| &t.data);
    if let Some(key) = secret
        .data
        .keys()
        .find(|k| templated.is_some_and(|t| t.contains_key(*k)))
    {
        return Err(SecretError::TemplateShadowsSealedKey { key: key.clone() });
    }
    let mut new_values = BTreeMap::new();
    for (key, value) in &secret.data {
        let at = Location {
            namespace: &namespace,
            name: &name,
            key,
        };
        let binding = Binding::new(opts.scope, at).map_err(|source| SecretError::Seal {
            key: key.clone(),
            source,
        })?;
        let text = seal::seal_value(opts.recipients, &binding, value.expose()).map_err(|source| {
            SecretError::Seal {
                key: key.clone(),
                source,
            }
        })?;
        new_values.insert(key.clone(), text);
    }
    sealed.spec.encrypted_data.extend(new_values);

    let annotations = sealed.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut fingerprints = annotations
        .get(names::ANNOTATION_RECIPIENTS)
        .map(|v| parse_fingerprint_annotation(v))
        .unwrap_or_default();
    fingerprints.extend(opts.recipients.fingerprints());
    annotations.insert(
        names::ANNOTATION_RECIPIENTS.to_owned(),
        fingerprints.into_iter().collect::<Vec<_>>().join(","),
    );
    let scope = match annotations.get(names::ANNOTATION_SCOPE) {
        Some(existing) if existing != opts.scope.as_str() => "mixed".to_owned(),
        _ => opts.scope.as_str().to_owned(),
    };
    annotations.insert(names::ANNOTATION_SCOPE.to_owned(), scope);
    Ok(())
}

/// Reads a SealedSecret object from a parsed manifest.
pub fn sealed_from_manifest(value: &Value) -> Result<SealedSecret, SecretError> {
    let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version != names::API_VERSION || kind != names::KIND {
        return Err(SecretError::NotSealedSecret {
            found: describe_kind(api_version, kind),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut problem = e.inner().to_string();
        // serde quotes the offending value in some messages; a SealedSecret holds no
        // plaintext, but keep messages short all the same.
        if let Some(i) = problem.find(" at line ") {
            problem.truncate(i);
        }
        field_err(e.path().to_string(), problem)
    })
}

/// What is wrong with `spec.template.data`, one error per template key, found
/// without any key: unsupported syntax, a key that is not sealed, a template key
/// that is also sealed. [`unseal_secret`] refuses the first; CI reports them all.
pub fn template_problems(sealed: &SealedSecret) -> Vec<SecretError> {
    let templates = sealed.spec.template.iter().flat_map(|t| &t.data);
    let sealed_keys = &sealed.spec.encrypted_data;
    templates
        .filter_map(|(key, text)| {
            if sealed_keys.contains_key(key) {
                return Some(SecretError::TemplateShadowsSealedKey { key: key.clone() });
            }
            crate::template::Template::parse(text)
                .and_then(|t| t.check_keys(|k| sealed_keys.contains_key(k)))
                .err()
                .map(|source| SecretError::Template {
                    key: key.clone(),
                    source,
                })
        })
        .collect()
}

/// Unseals every value of `sealed`, checking each binding against where it sits,
/// then builds the template data from the unsealed values.
///
/// `default_namespace` stands in when the object has no `metadata.namespace`.
/// All failing keys are reported together.
pub fn unseal_secret(
    sealed: &SealedSecret,
    keyring: &Keyring,
    default_namespace: &str,
) -> Result<PlainSecret, SecretError> {
    let name = sealed.metadata.name.clone().unwrap_or_default();
    let namespace = sealed
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace.to_owned());
    let mut data = BTreeMap::new();
    let mut failures = Vec::new();
    for (key, text) in &sealed.spec.encrypted_data {
        let at = Location {
            namespace: &namespace,
            name: &name,
            key,
        };
        match seal::unseal_value(keyring, at, text) {
            Ok(v) => {
                data.insert(key.clone(), v);
            }
            Err(e) => failures.push((key.clone(), e)),
        }
    }
    if !failures.is_empty() {
        return Err(SecretError::Unseal(failures));
    }
    if let Some(problem) = template_problems(sealed).into_iter().next() {
        return Err(problem);
    }
    let template = sealed.spec.template.clone().unwrap_or_default();
    let rendered = crate::template::render_all(&template.data, &data)
        .map_err(|(key, source)| SecretError::Template { key, source })?;
    data.extend(rendered);
    let meta = template.metadata.unwrap_or_default();
    Ok(PlainSecret {
        name,
        namespace: Some(namespace),
        type_: template.type_,
        immutable: template.immutable,
        labels: meta.labels,
        annotations: meta.annotations,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identity;
    use serde_json::json;

    fn secret_json() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "prod", "labels": {"app": "db"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{}}", "team": "x"}},
            "type": "Opaque",
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="},
            "stringData": {"user": "root"}
        })
    }

    #[test]
    fn plaintext_detection() {
        assert_eq!(
            plaintext_keys(&secret_json()),
            Some(vec!["password".to_owned(), "user".to_owned()])
        );
        let mut ok = secret_json();
        ok["metadata"]["annotations"][names::ANNOTATION_PLAINTEXT_OK] = json!("test fixture");
        assert_eq!(plaintext_keys(&ok), None);
        let empty = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {}});
        assert_eq!(plaintext_keys(&empty), None);
        assert_eq!(
            plaintext_keys(&json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}})),
            None
        );
    }

    #[test]
    fn reads_data_and_string_data() {
        let s = PlainSecret::from_manifest(&secret_json()).unwrap();
        assert_eq!(s.data["password"].expose(), b"hunter2");
        assert_eq!(s.data["user"].expose(), b"root");
        assert_eq!(s.annotations.len(), 1, "last-applied must be dropped");
    }

    #[test]
    fn wrapped_base64_is_decoded_without_unwiped_copies() {
        // `base64 -w 76` output, as people paste it into `data`.
        let wrapped = format!("{}\n{} \n", &"QUJD".repeat(19), "QUJD".repeat(5));
        // The copy without whitespace is a zeroizing buffer, allocated once: growing it
        // would leave earlier, unwiped copies in freed memory.
        let stripped: Zeroizing<String> = strip_whitespace(&wrapped);
        assert_eq!(stripped.as_str(), "QUJD".repeat(24));
        assert_eq!(stripped.capacity(), wrapped.len());
        // The decoded value goes straight into its zeroizing buffer.
        let value = decode_data_value(&wrapped).unwrap();
        assert_eq!(value.expose(), "ABC".repeat(24).as_bytes());
        assert_eq!(decode_data_value("QUJD\nQ"), None);
        let v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
            "data": {"k": wrapped}});
        assert_eq!(
            PlainSecret::from_manifest(&v).unwrap().data["k"].expose(),
            "ABC".repeat(24).as_bytes()
        );
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = secret_json();
        v["data"]["password"] = json!("not base64!");
        assert_eq!(
            PlainSecret::from_manifest(&v).unwrap_err().to_string(),
            "field data.password: is not valid base64"
        );
        let mut v = secret_json();
        v["stringData"]["port"] = json!(5432);
        assert!(
            PlainSecret::from_manifest(&v)
                .unwrap_err()
                .to_string()
                .contains("stringData.port")
        );
        let mut v = secret_json();
        v["kind"] = json!("ConfigMap");
        assert_eq!(
            PlainSecret::from_manifest(&v).unwrap_err().to_string(),
            "is v1/ConfigMap, not a v1 Secret"
        );
        let mut v = secret_json();
        v["stringData"]["bad/key"] = json!("x");
        assert!(
            PlainSecret::from_manifest(&v)
                .unwrap_err()
                .to_string()
                .contains("\"bad/key\"")
        );
    }

    #[test]
    fn seal_merge_unseal() {
        let id = Identity::generate();
        let recipients = RecipientSet::from(vec![id.recipient()]);
        let keyring = Keyring::from(vec![id]);
        let opts = SealOptions {
            recipients: &recipients,
            scope: Scope::Strict,
        };
        let secret = PlainSecret::from_manifest(&secret_json()).unwrap();
        let mut sealed = seal_secret(&secret, &opts).unwrap();
        assert_eq!(
            sealed.spec.template.as_ref().unwrap().type_.as_deref(),
            Some("Opaque")
        );
        let before = sealed.spec.encrypted_data.clone();

        let mut update = PlainSecret::default();
        update
            .data
            .insert("password".into(), SecretBytes::copy_from(b"new"));
        merge_into(&mut sealed, &update, &opts).unwrap();
        assert_eq!(sealed.spec.encrypted_data["user"], before["user"]);
        assert_ne!(sealed.spec.encrypted_data["password"], before["password"]);

        let back = unseal_secret(&sealed, &keyring, "default").unwrap();
        assert_eq!(back.data["password"].expose(), b"new");
        assert_eq!(back.data["user"].expose(), b"root");
        assert_eq!(back.labels["app"], "db");
    }

    #[test]
    fn unseal_reports_every_failing_key() {
        let id = Identity::generate();
        let recipients = RecipientSet::from(vec![id.recipient()]);
        let keyring = Keyring::from(vec![id]);
        let opts = SealOptions {
            recipients: &recipients,
            scope: Scope::Strict,
        };
        let secret = PlainSecret::from_manifest(&secret_json()).unwrap();
        let mut sealed = seal_secret(&secret, &opts).unwrap();
        sealed.metadata.namespace = Some("dev".into());
        let err = unseal_secret(&sealed, &keyring, "default")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key \"password\"") && err.contains("key \"user\""),
            "{err}"
        );
        assert!(!err.contains("hunter2") && !err.contains("root"));
    }

    #[test]
    fn template_data_is_rendered_from_the_unsealed_keys() {
        let id = Identity::generate();
        let recipients = RecipientSet::from(vec![id.recipient()]);
        let keyring = Keyring::from(vec![id]);
        let opts = SealOptions {
            recipients: &recipients,
            scope: Scope::Strict,
        };
        let secret = PlainSecret::from_manifest(&secret_json()).unwrap();
        let mut sealed = seal_secret(&secret, &opts).unwrap();
        let template = sealed.spec.template.get_or_insert_default();
        template.data.insert(
            "dsn".into(),
            "postgres://{{ .user }}:{{ index . \"password\" }}@db".into(),
        );
        let back = unseal_secret(&sealed, &keyring, "default").unwrap();
        assert_eq!(back.data["dsn"].expose(), b"postgres://root:hunter2@db");
        assert_eq!(
            sealed.produced_keys().collect::<Vec<_>>(),
            ["password", "user", "dsn"]
        );

        let mut unsealed_key = sealed.clone();
        let data = &mut unsealed_key.spec.template.get_or_insert_default().data;
        data.insert("dsn".into(), "{{ .token }}".into());
        let err = unseal_secret(&unsealed_key, &keyring, "default").unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.template.data[\"dsn\"]: line 1, column 1: key \"token\" is not sealed in this SealedSecret"
        );

        let mut other_syntax = sealed.clone();
        let data = &mut other_syntax.spec.template.get_or_insert_default().data;
        data.insert("dsn".into(), "{{ .user | upper }}".into());
        let err = unseal_secret(&other_syntax, &keyring, "default").unwrap_err();
        assert!(
            matches!(&err, SecretError::Template { key, .. } if key == "dsn"),
            "{err}"
        );
        assert!(!err.to_string().contains("root"), "{err}");

        let mut shadowing = sealed.clone();
        let data = &mut shadowing.spec.template.get_or_insert_default().data;
        data.insert("user".into(), "{{ .password }}".into());
        assert_eq!(
            unseal_secret(&shadowing, &keyring, "default").unwrap_err(),
            SecretError::TemplateShadowsSealedKey { key: "user".into() }
        );
        let mut update = PlainSecret::default();
        update.data.insert("dsn".into(), SecretBytes::copy_from(b"x"));
        assert_eq!(
            merge_into(&mut sealed, &update, &opts).unwrap_err(),
            SecretError::TemplateShadowsSealedKey { key: "dsn".into() },
            "sealing a key a template already builds is refused"
        );
    }
}
