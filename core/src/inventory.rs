//! What provides which Secret: the inventory the reference policy checks against.
//!
//! A [`Provider`] says that a Secret of some name will exist in a namespace,
//! with which keys if known, and whether it is healthy: a Secret itself, a
//! SealedSecret, a cert-manager Certificate, an External Secrets
//! ExternalSecret or ClusterExternalSecret, or a declaration that something
//! outside the manifests creates it. [`MemoryInventory`] indexes them by
//! namespace and name; the webhook keeps its own index fed by watches.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use globset::{Glob, GlobMatcher};
use serde_json::Value;

use crate::names;

pub use objects::{
    certificate_provider, external_secret_provider, parse_key_stamp, sealed_secret_provider,
    sealed_secret_provider_of, secret_metadata_provider, secret_provider,
};
use objects::{creates_nothing, external_secret_keys, target_name};

mod objects;

/// The keys a provider will put in the Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keys {
    /// Exactly these keys.
    Known(BTreeSet<String>),
    /// Not knowable here (e.g. `dataFrom`, a Secret seen by metadata only).
    Unknown,
}

/// Whether the provider will actually produce the Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// It reports Ready.
    Ready,
    /// Nothing known (offline, or no status yet).
    Unknown,
    /// It reports a failure: the Secret will not be (re)produced.
    Failed {
        /// Condition reason, e.g. `UnsealFailed`.
        reason: String,
        /// Condition message (never holds values).
        message: String,
    },
}

/// What kind of thing provides the Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// The Secret itself.
    Secret,
    /// A sealgate SealedSecret.
    SealedSecret,
    /// A cert-manager Certificate.
    Certificate,
    /// An External Secrets ExternalSecret.
    ExternalSecret,
    /// An External Secrets ClusterExternalSecret.
    ClusterExternalSecret,
    /// Declared in `.sealgate.yaml` as created outside the manifests, with a reason.
    Declared {
        /// Why it is expected to exist.
        reason: String,
    },
    /// Named by the workload's own `sealgate.dev/external-secrets` annotation.
    WorkloadAnnotation,
}

/// One source of a Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// What it is.
    pub kind: ProviderKind,
    /// Namespace of the providing object (empty for cluster-scoped and declared ones).
    pub namespace: String,
    /// Name of the providing object (the pattern, for declared ones).
    pub name: String,
    /// Keys it provides.
    pub keys: Keys,
    /// Whether it works.
    pub readiness: Readiness,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            ProviderKind::Declared { reason } => {
                return write!(f, "the declaration {:?} ({reason})", self.name);
            }
            ProviderKind::WorkloadAnnotation => {
                return write!(
                    f,
                    "the workload's {} annotation",
                    names::ANNOTATION_EXTERNAL_SECRETS
                );
            }
            ProviderKind::Secret => "Secret",
            ProviderKind::SealedSecret => "SealedSecret",
            ProviderKind::Certificate => "Certificate",
            ProviderKind::ExternalSecret => "ExternalSecret",
            ProviderKind::ClusterExternalSecret => return write!(f, "ClusterExternalSecret {}", self.name),
        };
        write!(f, "{kind} {}/{}", self.namespace, self.name)
    }
}

impl Provider {
    /// The one rule for "provided": whether this provider has not failed and gives
    /// the Secret, and, when `key` is given, surely that key (an empty key is never
    /// given). Every inventory, the policy and the webhook's caches ask this.
    pub fn serves(&self, key: Option<&str>) -> bool {
        !matches!(self.readiness, Readiness::Failed { .. })
            && key.is_none_or(|k| !k.is_empty() && self.has_key(k) == Some(true))
    }

    /// Whether the Secret will have `key`: `Some(true/false)` when keys are known.
    pub fn has_key(&self, key: &str) -> Option<bool> {
        match &self.keys {
            Keys::Known(keys) => Some(keys.contains(key)),
            Keys::Unknown => None,
        }
    }
}

/// Answers "who provides Secret `name` in `namespace`?" for the policy.
pub trait Inventory {
    /// Every provider of that Secret; empty when nothing provides it.
    fn providers(&self, namespace: &str, name: &str) -> Vec<Provider>;

    /// A shortcut the policy takes before [`Inventory::providers`]: `true` when
    /// surely some provider that has not failed gives that Secret (and `key`, when
    /// given). `false` only means "look closer". Inventories that can answer without
    /// building providers (the webhook's caches, per admission) override it.
    fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
        self.providers(namespace, name).iter().any(|p| p.serves(key))
    }

    /// `imagePullSecrets` of a ServiceAccount, when the inventory knows the account.
    fn service_account_pull_secrets(&self, _namespace: &str, _name: &str) -> Option<Vec<String>> {
        None
    }
}

/// A Secret declared as created outside the manifests (`.sealgate.yaml`).
#[derive(Clone, Debug)]
pub struct Declaration {
    /// Secret name or glob (`registry-*`).
    pub name: String,
    /// Namespace or glob; `None` means every namespace.
    pub namespace: Option<String>,
    /// Keys, when known.
    pub keys: Option<BTreeSet<String>>,
    /// Why it is expected to exist.
    pub reason: String,
}

/// A declaration's glob is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern {pattern:?}: {problem}")]
pub struct PatternError {
    /// The pattern.
    pub pattern: String,
    /// What is wrong.
    pub problem: String,
}

fn matcher(pattern: &str) -> Result<GlobMatcher, PatternError> {
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| PatternError {
            pattern: pattern.to_owned(),
            problem: e.kind().to_string(),
        })
}

#[derive(Clone, Debug)]
struct CompiledDeclaration {
    decl: Declaration,
    name: GlobMatcher,
    namespace: Option<GlobMatcher>,
}

impl CompiledDeclaration {
    fn provider(&self) -> Provider {
        Provider {
            kind: ProviderKind::Declared {
                reason: self.decl.reason.clone(),
            },
            namespace: self.decl.namespace.clone().unwrap_or_default(),
            name: self.decl.name.clone(),
            keys: self.decl.keys.clone().map_or(Keys::Unknown, Keys::Known),
            readiness: Readiness::Unknown,
        }
    }
}

/// A provider for a Secret name in several namespaces (a ClusterExternalSecret).
#[derive(Clone, Debug)]
struct ClusterWide {
    /// The namespaces it lists; `None` when they are chosen by label selectors,
    /// which cannot be resolved here, so it is counted on everywhere.
    namespaces: Option<Vec<String>>,
    secret: String,
    provider: Provider,
}

/// Namespace -> name -> value, so lookups by `&str` allocate nothing.
type ByNamespace<T> = HashMap<String, HashMap<String, T>>;

/// An in-memory inventory built from objects (manifests, or a cluster's lists) and declarations.
///
/// This is what `sealgate validate` checks against:
///
/// ```
/// use sealgate_core::inventory::{Inventory, MemoryInventory};
/// use serde_json::json;
///
/// let inv = MemoryInventory::from_objects(
///     &[json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
///              "metadata": {"name": "api", "namespace": "prod"}, "spec": {"secretName": "api-tls"}})],
///     "default",
/// );
/// let p = &inv.providers("prod", "api-tls")[0];
/// assert_eq!(p.to_string(), "Certificate prod/api");
/// assert_eq!(p.has_key("tls.crt"), Some(true));
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryInventory {
    by_secret: ByNamespace<Vec<Provider>>,
    secrets: usize,
    pull_secrets: ByNamespace<Vec<String>>,
    declared: Vec<CompiledDeclaration>,
    cluster_wide: Vec<ClusterWide>,
}

impl MemoryInventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }

    /// An inventory of what `objects` provide (see [`MemoryInventory::add_object`]).
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>, default_namespace: &str) -> Self {
        let mut inv = Self::new();
        for obj in objects {
            inv.add_object(obj, default_namespace);
        }
        inv
    }

    /// Adds a provider of Secret `name` in `namespace`.
    pub fn add(&mut self, namespace: &str, name: &str, provider: Provider) {
        let names = self.by_secret.entry(namespace.to_owned()).or_default();
        let providers = names.entry(name.to_owned()).or_default();
        if providers.is_empty() {
            self.secrets += 1;
        }
        providers.push(provider);
    }

    /// Records the `imagePullSecrets` of ServiceAccount `name` in `namespace`.
    pub fn add_service_account(&mut self, namespace: &str, name: &str, pull_secrets: Vec<String>) {
        self.pull_secrets
            .entry(namespace.to_owned())
            .or_default()
            .insert(name.to_owned(), pull_secrets);
    }

    /// Adds a declaration of Secrets created outside the manifests.
    pub fn declare(&mut self, decl: Declaration) -> Result<(), PatternError> {
        let name = matcher(&decl.name)?;
        let namespace = decl.namespace.as_deref().map(matcher).transpose()?;
        self.declared.push(CompiledDeclaration {
            decl,
            name,
            namespace,
        });
        Ok(())
    }

    /// Adds whatever `obj` provides, if it is a kind that provides Secrets (or a
    /// ServiceAccount), or whatever the items of a `List` provide. Returns whether
    /// anything was used.
    ///
    /// Secrets (keys from `data`/`stringData`, else from the `sealgate.dev/keys`
    /// stamp), SealedSecrets (keys of `encryptedData`, readiness from the `Ready`
    /// condition), cert-manager Certificates (`spec.secretName`; `tls.crt`,
    /// `tls.key`, `ca.crt`), External Secrets ExternalSecrets (`spec.target.name`,
    /// defaulting to the object's name) and ClusterExternalSecrets. Objects
    /// without a namespace are taken to be in `default_namespace`.
    pub fn add_object(&mut self, obj: &Value, default_namespace: &str) -> bool {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if let (true, Some(items)) = (kind.ends_with("List"), obj.get("items").and_then(Value::as_array)) {
            let mut used = false;
            for item in items {
                used |= self.add_object(item, default_namespace);
            }
            return used;
        }
        let namespace = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty())
            .unwrap_or(default_namespace)
            .to_owned();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        match (group, kind) {
            ("", "Secret") => {
                let p = secret_provider(obj, &namespace, &name);
                self.add(&namespace, &name, p);
            }
            ("", "ServiceAccount") => {
                let names = obj
                    .get("imagePullSecrets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect();
                self.add_service_account(&namespace, &name, names);
            }
            (names::GROUP, names::KIND) => {
                let p = sealed_secret_provider(obj, &namespace, &name);
                self.add(&namespace, &name, p);
            }
            ("cert-manager.io", "Certificate") => {
                let Some((secret, p)) = certificate_provider(obj, &namespace, name) else {
                    return false;
                };
                self.add(&namespace, &secret, p);
            }
            ("external-secrets.io", "ExternalSecret") => {
                let Some((secret, p)) = external_secret_provider(obj, &namespace, name) else {
                    return false;
                };
                self.add(&namespace, &secret, p);
            }
            ("external-secrets.io", "ClusterExternalSecret") => {
                let spec = obj.get("spec").unwrap_or(&Value::Null);
                let es_spec = spec.get("externalSecretSpec").unwrap_or(&Value::Null);
                if creates_nothing(es_spec) {
                    return false;
                }
                let secret_name = spec
                    .get("externalSecretName")
                    .and_then(Value::as_str)
                    .unwrap_or(&name)
                    .to_owned();
                let target = target_name(es_spec, &secret_name);
                let p = Provider {
                    kind: ProviderKind::ClusterExternalSecret,
                    namespace: String::new(),
                    name,
                    keys: external_secret_keys(es_spec),
                    readiness: Readiness::Unknown,
                };
                let namespaces: Vec<String> = spec
                    .get("namespaces")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                let by_label = ["namespaceSelector", "namespaceSelectors"]
                    .iter()
                    .any(|k| spec.get(k).is_some_and(|v| !v.is_null()));
                let namespaces = match (namespaces.is_empty(), by_label) {
                    (true, false) => return false,
                    // Which namespaces the labels select is not knowable from manifests.
                    (_, true) => None,
                    (false, false) => Some(namespaces),
                };
                self.cluster_wide.push(ClusterWide {
                    namespaces,
                    secret: target,
                    provider: p,
                });
            }
            _ => return false,
        }
        true
    }

    /// Number of Secrets (namespace and name) that have at least one provider object.
    pub fn len(&self) -> usize {
        self.secrets
    }

    /// Whether nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.by_secret.is_empty() && self.declared.is_empty() && self.cluster_wide.is_empty()
    }
}

impl Inventory for MemoryInventory {
    fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
        self.by_secret
            .get(namespace)
            .and_then(|names| names.get(name))
            .is_some_and(|found| found.iter().any(|p| p.serves(key)))
    }

    fn providers(&self, namespace: &str, name: &str) -> Vec<Provider> {
        let mut out = self
            .by_secret
            .get(namespace)
            .and_then(|names| names.get(name))
            .cloned()
            .unwrap_or_default();
        for c in &self.cluster_wide {
            let in_namespace = c
                .namespaces
                .as_ref()
                .is_none_or(|list| list.iter().any(|n| n == namespace));
            if c.secret == name && in_namespace {
                out.push(c.provider.clone());
            }
        }
        for d in &self.declared {
            let ns_ok = d.namespace.as_ref().is_none_or(|m| m.is_match(namespace));
            if ns_ok && d.name.is_match(name) {
                out.push(d.provider());
            }
        }
        out
    }

    fn service_account_pull_secrets(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
        self.pull_secrets.get(namespace)?.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SealedSecret;
    use serde_json::json;

    fn keys(list: &[&str]) -> Keys {
        Keys::Known(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn typed_sealed_secrets_and_secret_metadata_read_as_their_json() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
        let condition = |status: &str| Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: "UnsealFailed".into(),
            message: "no key".into(),
            last_transition_time: Time(Default::default()),
            observed_generation: None,
        };
        let mut cases = Vec::new();
        for (generation, observed, status) in [
            (Some(2), Some(2), Some("True")),
            (Some(2), Some(2), Some("False")),
            (Some(3), Some(2), Some("False")),
            (None, None, Some("Unknown")),
            (Some(1), None, None),
        ] {
            let mut s = SealedSecret::new("db", Default::default());
            s.spec.encrypted_data.insert("password".into(), "x".into());
            let template = s.spec.template.get_or_insert_default();
            template.data.insert("dsn".into(), "db://{{ .password }}".into());
            s.metadata.generation = generation;
            s.status = Some(crate::SealedSecretStatus {
                observed_generation: observed,
                conditions: status.map(condition).into_iter().collect(),
            });
            cases.push(s);
        }
        let readiness: Vec<Readiness> = cases
            .iter()
            .map(|s| {
                let typed = sealed_secret_provider_of(s, "prod", "db");
                let json = serde_json::to_value(s).unwrap();
                assert_eq!(typed, sealed_secret_provider(&json, "prod", "db"));
                typed.readiness
            })
            .collect();
        let keys = sealed_secret_provider_of(&cases[0], "prod", "db").keys;
        assert_eq!(
            keys,
            Keys::Known(["dsn".to_owned(), "password".to_owned()].into()),
            "template keys are provided keys"
        );
        assert_eq!(readiness[0], Readiness::Ready);
        assert!(matches!(&readiness[1], Readiness::Failed { reason, .. } if reason == "UnsealFailed"));
        assert_eq!(
            readiness[2..],
            [Readiness::Unknown, Readiness::Unknown, Readiness::Unknown]
        );

        let stamped = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"sealgate.dev/keys": "a, b"}}});
        assert_eq!(
            secret_metadata_provider(Some("a, b"), "prod", "s"),
            secret_provider(&stamped, "prod", "s")
        );
        assert_eq!(secret_metadata_provider(None, "prod", "s").keys, Keys::Unknown);
        for (stamp, key, has) in [
            ("a, b", "b", true),
            ("a,b", "a", true),
            ("ab", "a", false),
            ("a,,", "", false),
        ] {
            assert_eq!(parse_key_stamp(stamp).contains(key), has, "{stamp} {key}");
        }
    }

    #[test]
    fn one_rule_decides_what_a_provider_serves() {
        let mut p = secret_metadata_provider(Some("a,b"), "prod", "s");
        p.keys = keys(&["", "a"]);
        assert!(p.serves(None) && p.serves(Some("a")));
        assert!(!p.serves(Some("")), "an empty key is never provided");
        assert!(!p.serves(Some("b")));
        p.readiness = Readiness::Failed {
            reason: "UnsealFailed".into(),
            message: String::new(),
        };
        assert!(!p.serves(None) && !p.serves(Some("a")));
        // A SealedSecret's keys are its produced keys; a spec that does not read gives none.
        let sealed = |spec: Value| {
            let obj = json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "spec": spec});
            sealed_secret_provider(&obj, "prod", "s").keys
        };
        let templated = json!({"encryptedData": {"p": "x"}, "template": {"data": {"dsn": "{{ .p }}"}}});
        assert_eq!(sealed(templated), keys(&["dsn", "p"]));
        assert_eq!(sealed(json!({"encryptedData": {"p": 5}})), keys(&[]));
    }

    #[test]
    fn secrets_and_sealed_secrets() {
        let mut inv = MemoryInventory::new();
        inv.add_object(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "data": {"x": ""}, "stringData": {"y": "1"}}), "prod");
        inv.add_object(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "meta", "namespace": "dev", "annotations": {"sealgate.dev/keys": "k1,k2"}}}), "prod");
        inv.add_object(
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bare", "namespace": "dev"}}),
            "prod",
        );
        inv.add_object(&json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "s", "generation": 2},
            "spec": {"encryptedData": {"p": "..."}},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False", "reason": "UnsealFailed", "message": "key \"p\": no matching key"}]}}), "prod");
        assert_eq!(inv.providers("prod", "a")[0].keys, keys(&["x", "y"]));
        assert_eq!(inv.providers("dev", "meta")[0].keys, keys(&["k1", "k2"]));
        assert_eq!(inv.providers("dev", "bare")[0].keys, Keys::Unknown);
        let s = &inv.providers("prod", "s")[0];
        assert_eq!(s.keys, keys(&["p"]));
        assert!(matches!(&s.readiness, Readiness::Failed { reason, .. } if reason == "UnsealFailed"));
        assert_eq!(s.to_string(), "SealedSecret prod/s");
        assert!(inv.providers("dev", "a").is_empty(), "wrong namespace");
    }

    #[test]
    fn stale_status_is_unknown() {
        let mut inv = MemoryInventory::new();
        inv.add_object(&json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "s", "generation": 3},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False"}]}}), "prod");
        assert_eq!(inv.providers("prod", "s")[0].readiness, Readiness::Unknown);
    }

    #[test]
    fn certificates_and_external_secrets() {
        let mut inv = MemoryInventory::new();
        inv.add_object(&json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c", "namespace": "prod"}, "spec": {"secretName": "api-tls"}}), "d");
        inv.add_object(&json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "es1", "namespace": "prod"},
            "spec": {"data": [{"secretKey": "password"}], "target": {"name": "db"}}}), "d");
        inv.add_object(&json!({"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": {"name": "es2", "namespace": "prod"},
            "spec": {"dataFrom": [{"extract": {"key": "x"}}]}}), "d");
        inv.add_object(&json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "es3", "namespace": "prod"},
            "spec": {"data": [{"secretKey": "raw"}], "target": {"template": {"data": {"url": "{{ .raw }}"}}}}}), "d");
        inv.add_object(&json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret", "metadata": {"name": "ces"},
            "spec": {"namespaces": ["a", "b"], "externalSecretName": "shared", "externalSecretSpec": {"data": [{"secretKey": "k"}]}}}), "d");
        let c = &inv.providers("prod", "api-tls")[0];
        assert_eq!(
            (c.to_string(), c.has_key("tls.key")),
            ("Certificate prod/c".to_owned(), Some(true))
        );
        assert_eq!(inv.providers("prod", "db")[0].keys, keys(&["password"]));
        assert_eq!(inv.providers("prod", "es2")[0].keys, Keys::Unknown);
        assert_eq!(inv.providers("prod", "es3")[0].keys, keys(&["url"]));
        assert_eq!(inv.providers("b", "shared")[0].keys, keys(&["k"]));
        assert!(inv.providers("c", "shared").is_empty());
    }

    #[test]
    fn provider_table() {
        let failed = |reason: &str| Readiness::Failed {
            reason: reason.into(),
            message: String::new(),
        };
        let cond =
            |t: &str, status: &str, reason: &str| json!({"type": t, "status": status, "reason": reason});
        // (object, namespace and Secret name it provides, keys, readiness)
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty"}}),
                ("prod", "empty"),
                Keys::Unknown,
                Readiness::Ready,
            ),
            (
                json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token", "metadata": {"name": "tok"}}),
                ("prod", "tok"),
                keys(&["ca.crt", "namespace", "token"]),
                Readiness::Ready,
            ),
            (
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "blank-ns", "namespace": ""}, "data": {}}),
                ("prod", "blank-ns"),
                keys(&[]),
                Readiness::Ready,
            ),
            (
                json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "s"},
                    "spec": {"encryptedData": {"a": "x", "b": "y"}}}),
                ("prod", "s"),
                keys(&["a", "b"]),
                Readiness::Unknown,
            ),
            (
                json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "r"},
                    "spec": {}, "status": {"conditions": [cond("Ready", "True", "Unsealed")]}}),
                ("prod", "r"),
                keys(&[]),
                Readiness::Ready,
            ),
            (
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c"},
                    "spec": {"secretName": "c-tls"}, "status": {"conditions": [cond("Ready", "False", "DoesNotExist"), cond("Issuing", "True", "")]}}),
                ("prod", "c-tls"),
                keys(&["ca.crt", "tls.crt", "tls.key"]),
                Readiness::Unknown,
            ),
            (
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "d"},
                    "spec": {"secretName": "d-tls"}, "status": {"conditions": [cond("Ready", "False", "Failed"), cond("Issuing", "False", "Failed")]}}),
                ("prod", "d-tls"),
                keys(&["ca.crt", "tls.crt", "tls.key"]),
                failed("Failed"),
            ),
            (
                json!({"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": {"name": "own-name", "namespace": "team"},
                    "spec": {"data": [{"secretKey": "a"}, {"secretKey": "b"}]},
                    "status": {"conditions": [cond("Ready", "False", "SecretSyncedError")]}}),
                ("team", "own-name"),
                keys(&["a", "b"]),
                failed("SecretSyncedError"),
            ),
            (
                json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "m"},
                    "spec": {"data": [{"secretKey": "raw"}], "target": {"name": "merged", "template": {"mergePolicy": "Merge", "data": {"url": "x"}}}}}),
                ("prod", "merged"),
                keys(&["raw", "url"]),
                Readiness::Unknown,
            ),
            (
                json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "t"},
                    "spec": {"target": {"name": "tf", "template": {"templateFrom": [{"configMap": {"name": "x"}}]}}}}),
                ("prod", "tf"),
                Keys::Unknown,
                Readiness::Unknown,
            ),
        ];
        for (obj, (ns, name), want_keys, want_ready) in cases {
            let inv = MemoryInventory::from_objects([&obj], "prod");
            let got = inv.providers(ns, name);
            assert_eq!(got.len(), 1, "{obj}");
            assert_eq!(
                (&got[0].keys, &got[0].readiness),
                (&want_keys, &want_ready),
                "{obj}"
            );
        }
    }

    #[test]
    fn objects_that_provide_nothing() {
        for obj in [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
            json!({"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "x"}}),
            json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "x"}, "spec": {}}),
            json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "x"},
                "spec": {"target": {"creationPolicy": "None"}, "data": [{"secretKey": "k"}]}}),
            json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret", "metadata": {"name": "x"},
                "spec": {"externalSecretSpec": {}}}),
        ] {
            let mut inv = MemoryInventory::new();
            assert!(!inv.add_object(&obj, "prod"), "{obj}");
            assert!(inv.is_empty(), "{obj}");
            assert_eq!(inv.len(), 0, "{obj}");
        }
    }

    #[test]
    fn lists_and_service_accounts() {
        let list = json!({"apiVersion": "v1", "kind": "SecretList", "items": [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "data": {"k": ""}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "other"}, "data": {"k": ""}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}, "imagePullSecrets": [{"name": "reg"}]},
        ]});
        let mut inv = MemoryInventory::new();
        assert!(inv.add_object(&list, "prod"));
        assert_eq!(inv.len(), 2);
        assert_eq!(inv.providers("other", "a").len(), 1);
        assert_eq!(
            inv.service_account_pull_secrets("prod", "sa"),
            Some(vec!["reg".to_owned()])
        );
        assert_eq!(inv.service_account_pull_secrets("prod", "default"), None);
    }

    #[test]
    fn cluster_external_secret_by_label_counts_everywhere() {
        let inv = MemoryInventory::from_objects(
            &[
                json!({"apiVersion": "external-secrets.io/v1beta1", "kind": "ClusterExternalSecret", "metadata": {"name": "ces"},
                "spec": {"namespaceSelectors": [{"matchLabels": {"team": "a"}}],
                         "externalSecretSpec": {"target": {"name": "shared"}, "dataFrom": [{"extract": {"key": "k"}}]}}}),
            ],
            "d",
        );
        let p = &inv.providers("anywhere", "shared")[0];
        assert_eq!(
            (p.keys.clone(), p.to_string()),
            (Keys::Unknown, "ClusterExternalSecret ces".to_owned())
        );
        assert!(inv.providers("anywhere", "ces").is_empty());
    }

    #[test]
    fn declarations_with_globs() {
        let mut inv = MemoryInventory::new();
        inv.declare(Declaration {
            name: "registry-*".into(),
            namespace: None,
            keys: None,
            reason: "operator".into(),
        })
        .unwrap();
        inv.declare(Declaration {
            name: "vault-db".into(),
            namespace: Some("team-*".into()),
            keys: Some(["url".to_owned()].into()),
            reason: "vault agent".into(),
        })
        .unwrap();
        assert_eq!(inv.providers("any", "registry-eu").len(), 1);
        assert!(inv.providers("any", "registry").is_empty());
        assert_eq!(inv.providers("team-a", "vault-db")[0].has_key("url"), Some(true));
        assert!(inv.providers("prod", "vault-db").is_empty());
        assert_eq!(
            inv.providers("x", "registry-1")[0].to_string(),
            "the declaration \"registry-*\" (operator)"
        );
        assert!(
            inv.declare(Declaration {
                name: "[".into(),
                namespace: None,
                keys: None,
                reason: String::new()
            })
            .is_err()
        );
    }
}
