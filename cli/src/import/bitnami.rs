//! Bitnami SealedSecrets (`bitnami.com/v1alpha1`): reading the object, the
//! scope and label it was sealed with (as Bitnami's
//! `sealedsecret_expansion.go` decides them), and decrypting its values into a
//! [`PlainSecret`] held in zeroizing buffers.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sealgate_core::{PlainSecret, Scope, SecretBytes, names, naming, zeroize_json};
use serde::Deserialize;
use serde_json::Value;

use super::hybrid::{self, HybridError};
use super::keys::BitnamiKey;

/// `apiVersion` of Bitnami SealedSecrets.
pub const API_VERSION: &str = "bitnami.com/v1alpha1";
/// Annotation (on the SealedSecret's metadata) for the namespace-wide scope.
pub const ANNOTATION_NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// Annotation (on the SealedSecret's metadata) for the cluster-wide scope.
pub const ANNOTATION_CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
/// Prefix of every annotation that instructs the Bitnami controller.
const BITNAMI_PREFIX: &str = "sealedsecrets.bitnami.com/";
/// Bitnami annotations whose behaviour sealgate does not have, with what happens instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "sealedsecrets.bitnami.com/skip-set-owner-references",
        "sealgate always makes the SealedSecret the Secret's owner, so deleting it deletes the Secret",
    ),
    (
        "sealedsecrets.bitnami.com/patch",
        "sealgate's controller owns the whole Secret and reverts changes made outside it",
    ),
];
/// Annotations that hold a full copy of an applied object; never carried over.
const LAST_APPLIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];
/// Longest base64 text read for one value: a full 1 MiB Secret value, sealed, with room to spare.
pub const MAX_VALUE_TEXT: usize = 2 * 1024 * 1024;

/// Bitnami's three scopes; the annotation on the SealedSecret decides which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitnamiScope {
    Strict,
    NamespaceWide,
    ClusterWide,
}

impl BitnamiScope {
    pub const ALL: [BitnamiScope; 3] = [Self::Strict, Self::NamespaceWide, Self::ClusterWide];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::NamespaceWide => "namespace-wide",
            Self::ClusterWide => "cluster-wide",
        }
    }

    /// The sealgate scope that binds the same things (sealgate binds the data key too).
    pub fn sealgate(self) -> Scope {
        match self {
            Self::Strict => Scope::Strict,
            Self::NamespaceWide => Scope::Namespace,
            Self::ClusterWide => Scope::Cluster,
        }
    }

    /// Bitnami's `SecretScope`: cluster-wide wins over namespace-wide; only `"true"` counts.
    pub fn of(annotations: &BTreeMap<String, String>) -> Self {
        let set = |k: &str| annotations.get(k).is_some_and(|v| v == "true");
        if set(ANNOTATION_CLUSTER_WIDE) {
            Self::ClusterWide
        } else if set(ANNOTATION_NAMESPACE_WIDE) {
            Self::NamespaceWide
        } else {
            Self::Strict
        }
    }

    /// Bitnami's `EncryptionLabel`: the RSA-OAEP label a value was sealed under.
    pub fn label(self, namespace: &str, name: &str) -> String {
        match self {
            Self::Strict => format!("{namespace}/{name}"),
            Self::NamespaceWide => namespace.to_owned(),
            Self::ClusterWide => String::new(),
        }
    }
}

impl std::str::FromStr for BitnamiScope {
    type Err = String;

    /// Bitnami's names (`namespace-wide`, `cluster-wide`) or sealgate's (`namespace`, `cluster`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "strict" => Ok(Self::Strict),
            "namespace-wide" | "namespace" => Ok(Self::NamespaceWide),
            "cluster-wide" | "cluster" => Ok(Self::ClusterWide),
            _ => Err(format!(
                "unknown scope {s:?} (expected strict, namespace-wide or cluster-wide)"
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObject {
    #[serde(default)]
    metadata: RawMeta,
    #[serde(default)]
    spec: RawSpec,
}

#[derive(Default, Deserialize)]
struct RawMeta {
    name: Option<String>,
    namespace: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    encrypted_data: Option<BTreeMap<String, Option<String>>>,
    /// The pre-2018 form: the whole Secret, as JSON, in one sealed value.
    data: Option<String>,
    template: Option<RawTemplate>,
}

#[derive(Default, Deserialize)]
struct RawTemplate {
    metadata: Option<RawMeta>,
    #[serde(rename = "type")]
    type_: Option<String>,
    immutable: Option<bool>,
    data: Option<BTreeMap<String, Option<String>>>,
}

/// How the values are sealed.
pub enum Values {
    /// `spec.encryptedData`: one sealed value per key (base64 text).
    PerKey(BTreeMap<String, String>),
    /// The deprecated `spec.data`: the whole Secret in one sealed value.
    Whole(String),
}

/// A Bitnami SealedSecret as read from a manifest: no plaintext in it.
pub struct BitnamiSealed {
    pub name: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    pub scope: BitnamiScope,
    /// Labels and annotations of the SealedSecret itself (Bitnami's own annotations dropped).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub values: Values,
    /// `spec.template`: what the produced Secret looks like.
    pub type_: Option<String>,
    pub immutable: Option<bool>,
    pub template_labels: BTreeMap<String, String>,
    pub template_annotations: BTreeMap<String, String>,
    /// `spec.template.data`: values built from the unsealed keys, carried over verbatim.
    pub template_data: BTreeMap<String, String>,
    /// Bitnami annotations with no sealgate equivalent, each with what happens instead.
    pub warnings: Vec<String>,
    /// A lone `kubeseal --raw` value: the scope came from `--scope`, not an annotation.
    raw: bool,
    /// Why no key decrypts this object's values, once worked out.
    diagnosis: std::cell::OnceCell<String>,
}

impl BitnamiSealed {
    /// Reads a `bitnami.com/v1alpha1` `SealedSecret` object.
    pub fn from_manifest(value: &Value) -> Result<Self> {
        let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        if api_version != API_VERSION || kind != "SealedSecret" {
            let found = match (api_version, kind) {
                ("", "") => "an object without apiVersion and kind".to_owned(),
                (a, k) => format!("{a}/{k}"),
            };
            bail!("is {found}, not a {API_VERSION} SealedSecret");
        }
        let raw: RawObject = serde_path_to_error::deserialize(value).map_err(|e| {
            let mut problem = e.inner().to_string();
            if let Some(i) = problem.find(" at line ") {
                problem.truncate(i);
            }
            anyhow!("field {}: {problem}", e.path())
        })?;
        let meta = raw.metadata;
        let name = meta.name.unwrap_or_default();
        if name.is_empty() {
            bail!("metadata.name is missing");
        }
        naming::check_object_name(&name).map_err(|p| anyhow!("metadata.name {name:?} {p}"))?;
        if let Some(ns) = &meta.namespace {
            naming::check_namespace(ns).map_err(|p| anyhow!("metadata.namespace {ns:?} {p}"))?;
        }
        let mut annotations = meta.annotations.unwrap_or_default();
        let scope = BitnamiScope::of(&annotations);
        let mut warnings = Vec::new();
        carry_over("metadata", &mut annotations, &mut warnings)?;
        let labels = meta.labels.unwrap_or_default();
        refuse_sealgate_keys("metadata.labels", &labels)?;

        let spec = raw.spec;
        let values = match (spec.encrypted_data, spec.data) {
            (Some(e), Some(_)) if !e.is_empty() => {
                bail!(
                    "spec.encryptedData and the deprecated spec.data are both set; Bitnami refuses that too"
                )
            }
            (_, Some(whole)) => Values::Whole(whole),
            (per_key, None) => {
                let mut out = BTreeMap::new();
                for (key, text) in per_key.unwrap_or_default() {
                    naming::check_secret_key(&key)
                        .map_err(|p| anyhow!("spec.encryptedData: key {key:?} {p}"))?;
                    let text = text.ok_or_else(|| anyhow!("spec.encryptedData.{key} is null"))?;
                    out.insert(key, text);
                }
                Values::PerKey(out)
            }
        };
        let template = spec.template.unwrap_or_default();
        let tmeta = template.metadata.unwrap_or_default();
        let mut template_annotations = tmeta.annotations.unwrap_or_default();
        carry_over("spec.template.metadata", &mut template_annotations, &mut warnings)?;
        let template_labels = tmeta.labels.unwrap_or_default();
        refuse_sealgate_keys("spec.template.metadata.labels", &template_labels)?;
        let mut template_data = BTreeMap::new();
        for (key, text) in template.data.unwrap_or_default() {
            naming::check_secret_key(&key).map_err(|p| anyhow!("spec.template.data: key {key:?} {p}"))?;
            // Bitnami drops a key whose template is null from the Secret; sealgate has no such rule.
            let text = text.ok_or_else(|| {
                anyhow!(
                    "spec.template.data.{key} is null (Bitnami leaves that key out of the Secret); \
                     sealgate has no equivalent: remove the entry, or the key from spec.encryptedData"
                )
            })?;
            template_data.insert(key, text);
        }
        Ok(BitnamiSealed {
            name,
            namespace: meta.namespace,
            scope,
            labels,
            annotations,
            values,
            type_: template.type_.filter(|t| !t.is_empty()),
            immutable: template.immutable,
            template_labels,
            template_annotations,
            template_data,
            warnings,
            raw: false,
            diagnosis: std::cell::OnceCell::new(),
        })
    }

    /// The place a lone `kubeseal --raw` value was sealed for.
    pub fn raw(name: &str, namespace: &str, scope: BitnamiScope) -> Self {
        BitnamiSealed {
            name: name.to_owned(),
            namespace: Some(namespace.to_owned()).filter(|n| !n.is_empty()),
            scope,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            values: Values::PerKey(BTreeMap::new()),
            type_: None,
            immutable: None,
            template_labels: BTreeMap::new(),
            template_annotations: BTreeMap::new(),
            template_data: BTreeMap::new(),
            warnings: Vec::new(),
            raw: true,
            diagnosis: std::cell::OnceCell::new(),
        }
    }

    /// Decrypts a lone `kubeseal --raw` value (base64 text) sealed for this place.
    pub fn decrypt_raw(&self, keys: &[BitnamiKey], text: &str, namespace: &str) -> Result<SecretBytes> {
        let label = self.scope.label(namespace, &self.name);
        self.decrypt_value(keys, text, &label, namespace)
            .map_err(|p| anyhow!("{p}"))
    }

    /// `namespace/name`, or `name` when there is no namespace.
    pub fn describe(&self, namespace: &str) -> String {
        match (namespace, self.name.as_str()) {
            ("", name) => name.to_owned(),
            (ns, "") => ns.to_owned(),
            (ns, name) => format!("{ns}/{name}"),
        }
    }

    /// Decrypts every value for `namespace` (the object's own, or the one given for it)
    /// with `keys`; the plaintext goes straight into [`SecretBytes`].
    pub fn decrypt(&self, keys: &[BitnamiKey], namespace: &str) -> Result<PlainSecret> {
        let label = self.scope.label(namespace, &self.name);
        let mut secret = PlainSecret {
            name: self.name.clone(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            type_: self.type_.clone(),
            immutable: self.immutable,
            labels: self.template_labels.clone(),
            annotations: self.template_annotations.clone(),
            data: BTreeMap::new(),
        };
        match &self.values {
            Values::PerKey(values) => {
                // Keys that fail the same way are named together, to keep it to one short line.
                let mut failures: Vec<(Vec<&str>, String)> = Vec::new();
                for (key, text) in values {
                    match self.decrypt_value(keys, text, &label, namespace) {
                        Ok(value) => {
                            secret.data.insert(key.clone(), value);
                        }
                        Err(problem) => match failures.iter_mut().find(|(_, p)| *p == problem) {
                            Some((keys, _)) => keys.push(key),
                            None => failures.push((vec![key], problem)),
                        },
                    }
                }
                if !failures.is_empty() {
                    let described: Vec<String> = failures
                        .iter()
                        .map(|(keys, problem)| {
                            let quoted: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
                            let noun = if keys.len() == 1 { "key" } else { "keys" };
                            format!("{noun} {}: {problem}", quoted.join(", "))
                        })
                        .collect();
                    bail!("{}", described.join("; "));
                }
            }
            Values::Whole(text) => {
                let plain = self
                    .decrypt_value(keys, text, &label, namespace)
                    .map_err(|p| anyhow!("spec.data: {p}"))?;
                let inner = whole_secret(&plain)?;
                secret.data = inner.data;
                secret.type_ = inner.type_;
                secret.immutable = inner.immutable;
                secret.labels = inner.labels;
                secret.annotations = inner.annotations;
                carry_over("spec.data metadata", &mut secret.annotations, &mut Vec::new())?;
                refuse_sealgate_keys("spec.data metadata.labels", &secret.labels)?;
            }
        }
        Ok(secret)
    }

    /// One value: base64, bounded, then hybrid decryption. Errors say why, never what.
    fn decrypt_value(
        &self,
        keys: &[BitnamiKey],
        text: &str,
        label: &str,
        namespace: &str,
    ) -> Result<SecretBytes, String> {
        if text.len() > MAX_VALUE_TEXT {
            return Err(format!(
                "sealed value is {} bytes of text; at most {MAX_VALUE_TEXT} are read",
                text.len()
            ));
        }
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let sealed = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| "not valid base64".to_owned())?;
        match hybrid::decrypt(keys, &sealed, label) {
            Ok(value) => Ok(value),
            // The label and keys are the object's, so one diagnosis (up to two more RSA
            // decryptions per key) serves all its values: a wrong key costs no more.
            Err(HybridError::NoKey) => Err(self
                .diagnosis
                .get_or_init(|| self.diagnose(keys, &sealed, namespace))
                .clone()),
            Err(e) => Err(format!("sealed value {e}")),
        }
    }

    /// Why no key decrypts a value: a scope annotation that does not match how it was
    /// sealed can be found out; a wrong key, name or namespace cannot be told apart.
    fn diagnose(&self, keys: &[BitnamiKey], sealed: &[u8], namespace: &str) -> String {
        let other = BitnamiScope::ALL
            .into_iter()
            .filter(|s| *s != self.scope)
            .find(|s| {
                let label = s.label(namespace, &self.name);
                label != self.scope.label(namespace, &self.name)
                    && hybrid::decrypt(keys, sealed, &label).is_ok()
            });
        match other {
            Some(s) if self.raw => format!(
                "sealed {} but --scope is {}: pass --scope {}",
                s.as_str(),
                self.scope.as_str(),
                s.as_str()
            ),
            Some(s) => format!(
                "sealed {} but the SealedSecret says {}: {}",
                s.as_str(),
                self.scope.as_str(),
                match s {
                    BitnamiScope::ClusterWide => format!("annotate it {ANNOTATION_CLUSTER_WIDE}: \"true\""),
                    BitnamiScope::NamespaceWide =>
                        format!("annotate it {ANNOTATION_NAMESPACE_WIDE}: \"true\""),
                    BitnamiScope::Strict => "remove its scope annotation".to_owned(),
                }
            ),
            None => format!(
                "no --key decrypts it as {} {} (sealed to another key, for another name or \
                 namespace, or altered)",
                self.scope.as_str(),
                self.describe(namespace)
            ),
        }
    }
}

/// The Secret inside a deprecated `spec.data` value (JSON, as kubeseal wrote it).
fn whole_secret(plain: &SecretBytes) -> Result<PlainSecret> {
    let mut value: Value = serde_json::from_slice(plain.expose())
        .map_err(|_| anyhow!("spec.data: the unsealed value is not a JSON Secret"))?;
    let result = match value.as_object_mut() {
        Some(obj) => {
            obj.entry("apiVersion").or_insert_with(|| "v1".into());
            obj.entry("kind").or_insert_with(|| "Secret".into());
            PlainSecret::from_manifest(&value).map_err(|e| anyhow!("spec.data: the unsealed Secret {e}"))
        }
        None => Err(anyhow!("spec.data: the unsealed value is not a JSON Secret")),
    };
    zeroize_json(&mut value);
    result
}

/// Drops annotations that must not travel (Bitnami's own, last-applied copies), noting
/// those whose behaviour is lost, and refuses sealgate's own.
fn carry_over(
    field: &str,
    annotations: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    for (key, instead) in UNSUPPORTED {
        if annotations.get(*key).is_some_and(|v| v == "true") {
            let w = format!("{field}.annotations {key} is dropped: {instead}");
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    annotations.retain(|k, _| !k.starts_with(BITNAMI_PREFIX) && !LAST_APPLIED.contains(&k.as_str()));
    refuse_sealgate_keys(&format!("{field}.annotations"), annotations)
}

fn refuse_sealgate_keys(field: &str, map: &BTreeMap<String, String>) -> Result<()> {
    match map.keys().find(|k| k.starts_with(names::ANNOTATION_PREFIX)) {
        Some(k) => bail!(
            "{field}: {k:?} is under {}, which only sealgate sets",
            names::ANNOTATION_PREFIX
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_and_label_follow_bitnami() {
        let ann = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(BitnamiScope::of(&ann(&[])), BitnamiScope::Strict);
        assert_eq!(
            BitnamiScope::of(&ann(&[(ANNOTATION_NAMESPACE_WIDE, "true")])),
            BitnamiScope::NamespaceWide
        );
        assert_eq!(
            BitnamiScope::of(&ann(&[
                (ANNOTATION_NAMESPACE_WIDE, "true"),
                (ANNOTATION_CLUSTER_WIDE, "true")
            ])),
            BitnamiScope::ClusterWide
        );
        assert_eq!(
            BitnamiScope::of(&ann(&[(ANNOTATION_CLUSTER_WIDE, "yes")])),
            BitnamiScope::Strict,
            "only \"true\" counts"
        );
        assert_eq!(BitnamiScope::Strict.label("shop", "db"), "shop/db");
        assert_eq!(BitnamiScope::NamespaceWide.label("shop", "db"), "shop");
        assert_eq!(BitnamiScope::ClusterWide.label("shop", "db"), "");
    }

    fn object() -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "shop",
                "annotations": {ANNOTATION_NAMESPACE_WIDE: "true", "argocd.argoproj.io/sync-wave": "1"}},
            "spec": {
                "encryptedData": {"password": "AgA="},
                "template": {
                    "metadata": {"name": "db", "labels": {"app": "shop"},
                        "annotations": {"sealedsecrets.bitnami.com/skip-set-owner-references": "true", "team": "x"}},
                    "type": "Opaque",
                    "data": {"config": "{{ .password }}"}
                }
            }
        })
    }

    #[test]
    fn reads_the_object_and_drops_bitnami_annotations() {
        let o = BitnamiSealed::from_manifest(&object()).unwrap();
        assert_eq!(o.scope, BitnamiScope::NamespaceWide);
        assert_eq!(
            o.annotations.keys().collect::<Vec<_>>(),
            ["argocd.argoproj.io/sync-wave"]
        );
        assert_eq!(o.template_annotations.keys().collect::<Vec<_>>(), ["team"]);
        assert_eq!(o.template_labels["app"], "shop");
        assert_eq!(o.template_data["config"], "{{ .password }}");
        assert_eq!(o.warnings.len(), 1);
        assert!(
            o.warnings[0].contains("skip-set-owner-references is dropped"),
            "{:?}",
            o.warnings
        );
    }

    #[test]
    fn bad_objects_name_the_field() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["kind"] = json!("Secret")),
                "is bitnami.com/v1alpha1/Secret, not a bitnami.com/v1alpha1 SealedSecret",
            ),
            (
                Box::new(|v| v["apiVersion"] = json!("sealgate.dev/v1alpha1")),
                "not a bitnami.com/v1alpha1 SealedSecret",
            ),
            (
                Box::new(|v| v["metadata"]["name"] = json!(null)),
                "metadata.name is missing",
            ),
            (
                Box::new(|v| v["metadata"]["name"] = json!("Bad_Name")),
                "metadata.name \"Bad_Name\"",
            ),
            (
                Box::new(|v| v["spec"]["encryptedData"]["password"] = json!(5)),
                "field spec.encryptedData.password: invalid type",
            ),
            (
                Box::new(|v| v["spec"]["encryptedData"]["password"] = json!(null)),
                "spec.encryptedData.password is null",
            ),
            (
                Box::new(|v| v["spec"]["encryptedData"]["bad/key"] = json!("AgA=")),
                "key \"bad/key\"",
            ),
            (Box::new(|v| v["spec"]["data"] = json!("AgA=")), "both set"),
            (
                Box::new(|v| v["spec"]["template"]["data"]["config"] = json!(null)),
                "spec.template.data.config is null",
            ),
            (
                Box::new(|v| v["spec"]["template"]["metadata"]["labels"]["sealgate.dev/x"] = json!("y")),
                "only sealgate sets",
            ),
            (
                Box::new(|v| v["spec"]["template"]["immutable"] = json!("yes")),
                "field spec.template.immutable",
            ),
            (Box::new(|v| v["spec"] = json!([])), "field spec"),
        ];
        for (edit, needle) in cases {
            let mut v = object();
            edit(&mut v);
            let err = match BitnamiSealed::from_manifest(&v) {
                Ok(_) => panic!("{needle}: accepted"),
                Err(e) => format!("{e:#}"),
            };
            assert!(err.contains(needle), "{err:?} should say {needle:?}");
        }
    }

    #[test]
    fn deprecated_whole_secret_data() {
        let key = super::super::hybrid::tests::test_key();
        let public = key.private().to_public_key();
        let inner = concat!(
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db","namespace":"shop","labels":{"app":"old"},"#,
            r#""creationTimestamp":null},"data":{"password":"aHVudGVyMg=="},"type":"Opaque"}"#
        )
        .as_bytes();
        let sealed = super::super::hybrid::tests::encrypt(&public, inner, "shop/db");
        let v = json!({
            "apiVersion": API_VERSION, "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"data": STANDARD.encode(&sealed)}
        });
        let o = BitnamiSealed::from_manifest(&v).unwrap();
        let plain = o.decrypt(std::slice::from_ref(&key), "shop").unwrap();
        assert_eq!(plain.data["password"].expose(), b"hunter2");
        assert_eq!(plain.labels["app"], "old");
        assert_eq!(plain.type_.as_deref(), Some("Opaque"));

        let junk = super::super::hybrid::tests::encrypt(&public, b"[1, 2]", "shop/db");
        let v = json!({
            "apiVersion": API_VERSION, "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"data": STANDARD.encode(&junk)}
        });
        let err = BitnamiSealed::from_manifest(&v)
            .unwrap()
            .decrypt(std::slice::from_ref(&key), "shop")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "spec.data: the unsealed value is not a JSON Secret");
    }

    #[test]
    fn a_scope_annotation_that_does_not_match_is_named() {
        let key = super::super::hybrid::tests::test_key();
        let public = key.private().to_public_key();
        let sealed = STANDARD.encode(super::super::hybrid::tests::encrypt(&public, b"v", "shop"));
        let v = json!({
            "apiVersion": API_VERSION, "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"encryptedData": {"a": sealed, "b": sealed, "c": "!!"}}
        });
        let err = BitnamiSealed::from_manifest(&v)
            .unwrap()
            .decrypt(std::slice::from_ref(&key), "shop")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "keys \"a\", \"b\": sealed namespace-wide but the SealedSecret says strict: \
             annotate it sealedsecrets.bitnami.com/namespace-wide: \"true\"; key \"c\": not valid base64"
        );
    }

    #[test]
    fn huge_values_are_refused_before_any_work() {
        let v = json!({
            "apiVersion": API_VERSION, "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"encryptedData": {"a": "A".repeat(MAX_VALUE_TEXT + 1)}}
        });
        let err = BitnamiSealed::from_manifest(&v)
            .unwrap()
            .decrypt(&[], "shop")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("key \"a\": sealed value is 2097153 bytes of text"),
            "{err}"
        );
    }
}
