//! The rule both `sealgate validate` and the admission webhook apply: is every
//! Secret and key a workload references provided by something that works?
//!
//! [`evaluate`] checks one workload (CREATE, and CI); [`evaluate_update`] checks
//! the new version of a workload and says which findings the update introduces
//! (UPDATE is denied only for those). Both are pure and cheap: one inventory
//! lookup per reference.
//!
//! ```
//! use sealgate_core::{inventory::MemoryInventory, policy, refs};
//! use serde_json::json;
//!
//! let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
//!     "spec": {"template": {"spec": {"containers": [{"name": "api", "env": [
//!         {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}}]}]}}}});
//! let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds"}, "data": {"user": ""}});
//!
//! let workload = refs::extract(&deployment, "prod").unwrap().unwrap();
//! let inventory = MemoryInventory::from_objects([&secret], "prod");
//! let findings = policy::evaluate(&workload, &inventory);
//! assert_eq!(findings[0].code, policy::code::MISSING_KEY);
//! assert_eq!(findings[0].field, "spec.template.spec.containers[api].env[DB_PASSWORD]");
//! assert!(findings[0].message.starts_with(r#"Secret "db-creds" has no key "password""#));
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use globset::{Glob, GlobMatcher};

use crate::inventory::{Inventory, Keys, Provider, ProviderKind, Readiness};
use crate::names;
use crate::refs::{ObjectRef, RefKind, SecretRef, Workload};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The workload will not start (or a reference is malformed).
    Error,
    /// Worth fixing, does not stop pods (e.g. a missing image pull Secret).
    Warning,
    /// Something a person may want to know (e.g. keys taken on trust).
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// Stable finding codes.
pub mod code {
    /// No provider for a required Secret.
    pub const MISSING_SECRET: &str = "missing-secret";
    /// The Secret's providers lack a required key.
    pub const MISSING_KEY: &str = "missing-key";
    /// The only providers report failure (e.g. a SealedSecret that does not unseal).
    pub const UNREADY_PROVIDER: &str = "unready-provider";
    /// A reference with an empty Secret name or key.
    pub const EMPTY_REFERENCE: &str = "empty-reference";
    /// An image pull Secret (of the pod or its ServiceAccount) that nothing provides.
    pub const MISSING_IMAGE_PULL_SECRET: &str = "missing-image-pull-secret";
    /// A key reference satisfied only by providers whose keys are unknown.
    pub const UNKNOWN_KEYS: &str = "unknown-keys";
    /// A pattern in the workload's `sealgate.dev/external-secrets` annotation is not a valid glob.
    pub const INVALID_ANNOTATION: &str = "invalid-annotation";
    /// A mapping key repeated in one manifest mapping (read as kubectl does: the last wins).
    pub const DUPLICATE_KEY: &str = "duplicate-key";

    /// Every code [`evaluate`](super::evaluate) can produce.
    pub const ALL: [&str; 7] = [
        MISSING_SECRET,
        MISSING_KEY,
        UNREADY_PROVIDER,
        EMPTY_REFERENCE,
        MISSING_IMAGE_PULL_SECRET,
        UNKNOWN_KEYS,
        INVALID_ANNOTATION,
    ];
}

/// One problem with one reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable slug (see [`code`]).
    pub code: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// The workload the reference is in.
    pub object: ObjectRef,
    /// Field path in the workload.
    pub field: String,
    /// The Secret referenced.
    pub secret: String,
    /// The key referenced, if any.
    pub key: Option<String>,
    /// What a person can act on, e.g. `Secret "db-creds" has no key "password"`.
    pub message: String,
    /// The provider that was counted on, when it matters.
    pub provider: Option<String>,
}

impl Finding {
    /// The message with the field path, as one line: `… (spec.template…)`.
    pub fn line(&self) -> String {
        format!("{} ({})", self.message, self.field)
    }

    /// What identifies the same reference in an old and a new version of a workload.
    fn identity(&self) -> (&str, Option<&str>, &str) {
        (&self.secret, self.key.as_deref(), &self.field)
    }
}

/// Checks every reference of `workload` against `inventory`, in document order.
///
/// - A Secret nothing provides: `missing-secret` (error; `missing-image-pull-secret`,
///   a warning, for image pull Secrets). Reported once per field path, even when
///   a volume names several keys of it.
/// - Providers exist but none has the key: `missing-key` (error).
/// - The only providers (of the Secret, or of the key) report failure, e.g. a
///   SealedSecret that does not unseal: `unready-provider` (error).
/// - Only providers whose keys are unknown: `unknown-keys` (info), naming the provider.
/// - An empty Secret name or key: `empty-reference` (error).
/// - `optional: true` references never produce errors: they are skipped, except an
///   empty one, which is a warning.
///
/// The pod's ServiceAccount's `imagePullSecrets` are checked too when the
/// inventory knows the account. Secrets named by the workload's
/// `sealgate.dev/external-secrets` annotation count as provided, keys unknown.
pub fn evaluate(workload: &Workload, inventory: &dyn Inventory) -> Vec<Finding> {
    let object = workload.object();
    let mut findings = Vec::new();
    let expected = expected_elsewhere(workload, &object, &mut findings);
    let mut cx = Check {
        object: &object,
        inventory,
        expected: &expected,
        out: &mut findings,
        reported: HashSet::new(),
    };
    // Ordered, not hashed: a workload has a handful of references, and this runs per admission.
    let mut seen = BTreeSet::new();
    for r in &workload.refs {
        if seen.insert((r.secret.as_str(), r.key.as_deref(), r.field.as_str())) {
            cx.check(r);
        }
    }
    if let Some(pull) = inventory.service_account_pull_secrets(&workload.namespace, &workload.service_account)
    {
        for (i, secret) in pull.into_iter().enumerate() {
            let r = SecretRef {
                secret,
                key: None,
                optional: false,
                kind: RefKind::ImagePull,
                field: format!(
                    "ServiceAccount {}.imagePullSecrets[{i}]",
                    workload.service_account
                ),
            };
            cx.check(&r);
        }
    }
    findings
}

/// Findings for the new version of a workload, split by whether the update introduced them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateFindings {
    /// Findings of references that are new or changed: UPDATE is denied for these.
    pub introduced: Vec<Finding>,
    /// Findings the old version had too: warnings only, so scaling and rollbacks pass.
    pub existing: Vec<Finding>,
}

/// Evaluates `old` and `new` against the same inventory and splits the findings of
/// `new` (see [`split_introduced`]).
pub fn evaluate_update(old: &Workload, new: &Workload, inventory: &dyn Inventory) -> UpdateFindings {
    let before = evaluate(old, inventory);
    let (introduced, existing) = split_introduced(&before, evaluate(new, inventory));
    UpdateFindings { introduced, existing }
}

/// The reason a workload gives for being exempt from the check (`sealgate.dev/exempt`), if any.
pub fn exemption(workload: &Workload) -> Option<&str> {
    workload
        .annotations
        .get(names::ANNOTATION_EXEMPT)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// Splits the findings for a new version of a workload into those the change
/// introduces and those already present for the old version: `(introduced, existing)`.
///
/// Findings are matched by (Secret, key, field path); a finding whose reference
/// the old version had a finding for too is existing, whatever its code.
pub fn split_introduced(old: &[Finding], new: Vec<Finding>) -> (Vec<Finding>, Vec<Finding>) {
    let before: HashSet<_> = old.iter().map(Finding::identity).collect();
    new.into_iter().partition(|f| !before.contains(&f.identity()))
}

/// Secrets the workload says come from elsewhere (its annotation), as globs; a bad
/// pattern is a warning and is skipped.
fn expected_elsewhere(workload: &Workload, object: &ObjectRef, out: &mut Vec<Finding>) -> Vec<GlobMatcher> {
    let mut globs = Vec::new();
    let patterns = workload
        .annotations
        .get(names::ANNOTATION_EXTERNAL_SECRETS)
        .and_then(|v| v.as_str())
        .into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty());
    for pattern in patterns {
        match Glob::new(pattern) {
            Ok(g) => globs.push(g.compile_matcher()),
            Err(e) => out.push(Finding {
                code: code::INVALID_ANNOTATION,
                severity: Severity::Warning,
                object: object.clone(),
                field: format!("metadata.annotations[{}]", names::ANNOTATION_EXTERNAL_SECRETS),
                secret: pattern.to_owned(),
                key: None,
                message: format!(
                    "pattern {pattern:?} is not a valid glob ({}); it is ignored",
                    e.kind()
                ),
                provider: None,
            }),
        }
    }
    globs
}

/// One evaluation: where findings go, and which Secret-level problems are already reported.
struct Check<'a> {
    object: &'a ObjectRef,
    inventory: &'a dyn Inventory,
    expected: &'a [GlobMatcher],
    out: &'a mut Vec<Finding>,
    /// (Secret, field) pairs with a missing or unready Secret already reported.
    reported: HashSet<(String, String)>,
}

impl Check<'_> {
    fn push(
        &mut self,
        r: &SecretRef,
        code: &'static str,
        severity: Severity,
        message: String,
        provider: Option<&Provider>,
    ) {
        self.out.push(Finding {
            code,
            severity,
            object: self.object.clone(),
            field: r.field.clone(),
            secret: r.secret.clone(),
            key: r.key.clone(),
            message,
            provider: provider.map(Provider::to_string),
        });
    }

    /// A problem with the Secret as a whole: once per field, not once per item key.
    fn push_secret_level(
        &mut self,
        r: &SecretRef,
        code: &'static str,
        severity: Severity,
        message: String,
        provider: Option<&Provider>,
    ) {
        if self.reported.insert((r.secret.clone(), r.field.clone())) {
            self.push(r, code, severity, message, provider);
        }
    }

    fn check(&mut self, r: &SecretRef) {
        // Optional references only reach a finding when malformed; image pull ones only warn.
        let severity = if r.optional || r.kind == RefKind::ImagePull {
            Severity::Warning
        } else {
            Severity::Error
        };
        if r.secret.is_empty() {
            let message = format!("{} has no name", r.kind.describe());
            self.push(r, code::EMPTY_REFERENCE, severity, message, None);
            return;
        }
        if r.key.as_deref() == Some("") {
            let message = format!("{} to Secret {:?} has no key", r.kind.describe(), r.secret);
            self.push(r, code::EMPTY_REFERENCE, severity, message, None);
            return;
        }
        // Past this point an optional reference is fine whatever is missing.
        if r.optional {
            return;
        }
        // The common case, answered without building providers.
        let key = r.key.as_deref();
        if self.inventory.provides(&self.object.namespace, &r.secret, key) {
            return;
        }

        let mut providers = self.inventory.providers(&self.object.namespace, &r.secret);
        if self.expected.iter().any(|m| m.is_match(&r.secret)) {
            providers.push(Provider {
                kind: ProviderKind::WorkloadAnnotation,
                namespace: self.object.namespace.clone(),
                name: r.secret.clone(),
                keys: Keys::Unknown,
                readiness: Readiness::Unknown,
            });
        }
        if providers.iter().any(|p| p.serves(key)) {
            return;
        }
        // Not provided: say why.
        let (working, failed): (Vec<&Provider>, Vec<&Provider>) = providers
            .iter()
            .partition(|p| !matches!(p.readiness, Readiness::Failed { .. }));

        if working.is_empty() {
            if let Some(p) = failed.first() {
                let message = format!("Secret {:?} is provided only by {}", r.secret, failure(p));
                self.push_secret_level(r, code::UNREADY_PROVIDER, severity, message, Some(p));
                return;
            }
            let (code, message) = if r.kind == RefKind::ImagePull {
                (
                    code::MISSING_IMAGE_PULL_SECRET,
                    format!(
                        "image pull Secret {:?} not found and nothing provides it",
                        r.secret
                    ),
                )
            } else {
                (
                    code::MISSING_SECRET,
                    format!("Secret {:?} not found and no SealedSecret provides it", r.secret),
                )
            };
            self.push_secret_level(r, code, severity, message, None);
            return;
        }

        let Some(key) = key else { return };
        if let Some(p) = working.iter().find(|p| p.keys == Keys::Unknown) {
            let message = if p.kind == ProviderKind::Secret {
                format!(
                    "Secret {:?} exists but its keys are not known; key {key:?} is assumed",
                    r.secret
                )
            } else {
                format!(
                    "Secret {:?} is provided by {p}, whose keys are not known; key {key:?} is assumed",
                    r.secret
                )
            };
            self.push(r, code::UNKNOWN_KEYS, Severity::Info, message, Some(p));
            return;
        }
        // The key is new in a provider that fails (e.g. added to a SealedSecret that does not unseal).
        if let Some(p) = failed.iter().find(|p| p.has_key(key) == Some(true)) {
            let message = format!(
                "key {key:?} of Secret {:?} is provided only by {}",
                r.secret,
                failure(p)
            );
            self.push(r, code::UNREADY_PROVIDER, severity, message, Some(p));
            return;
        }
        let p = working[0];
        let have = match &p.keys {
            Keys::Known(k) if k.is_empty() => "no keys".to_owned(),
            Keys::Known(k) => format!(
                "keys {}",
                k.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
            ),
            Keys::Unknown => "unknown keys".to_owned(),
        };
        let via = if p.kind == ProviderKind::Secret {
            String::new()
        } else {
            format!(", provided by {p}")
        };
        let message = format!("Secret {:?} has no key {key:?} (it has {have}{via})", r.secret);
        self.push(r, code::MISSING_KEY, severity, message, Some(p));
    }
}

/// `SealedSecret prod/db, which fails to unseal: UnsealFailed: …` for a failed provider.
fn failure(p: &Provider) -> String {
    let why = match &p.readiness {
        Readiness::Failed { reason, message } => match (reason.is_empty(), message.is_empty()) {
            (false, false) => format!("{reason}: {message}"),
            (false, true) => reason.clone(),
            (true, false) => message.clone(),
            (true, true) => "no reason given".to_owned(),
        },
        _ => "no reason given".to_owned(),
    };
    let fails = if p.kind == ProviderKind::SealedSecret {
        "fails to unseal"
    } else {
        "is not ready"
    };
    format!("{p}, which {fails}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Declaration, MemoryInventory};
    use crate::refs::extract;
    use serde_json::{Value, json};

    fn deployment(env: Value, extra: Value) -> Workload {
        let mut spec = json!({"containers": [{"name": "api", "env": env}]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "prod"},
            "spec": {"template": {"spec": spec}}});
        extract(&obj, "default").unwrap().unwrap()
    }

    fn env_key(var: &str, secret: &str, key: &str, optional: bool) -> Value {
        json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": optional}}})
    }

    fn inventory(objects: Value) -> MemoryInventory {
        let mut inv = MemoryInventory::new();
        for o in objects.as_array().unwrap() {
            inv.add_object(o, "prod");
        }
        inv
    }

    fn secret(name: &str, keys: &[&str]) -> Value {
        let data: serde_json::Map<String, Value> = keys.iter().map(|k| (k.to_string(), json!(""))).collect();
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data})
    }

    fn codes(f: &[Finding]) -> Vec<(&'static str, Severity)> {
        f.iter().map(|f| (f.code, f.severity)).collect()
    }

    #[test]
    fn read_from_text_a_workload_is_clean_only_when_everything_is_provided() {
        let inv = inventory(json!([
            secret("db", &["user", "password"]),
            secret("tls", &["tls.crt"]),
            secret("registry", &[".dockerconfigjson"]),
            {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "es"}, "spec": {"dataFrom": [{}]}},
            {"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "sealed"},
                "spec": {"encryptedData": {"k": "x"}}},
            {"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "broken"},
                "spec": {"encryptedData": {"k": "x"}}, "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "UnsealFailed"}]}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "puller"}, "imagePullSecrets": [{"name": "registry"}]},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "lost"}, "imagePullSecrets": [{"name": "gone"}]},
        ]));
        let clean = json!({"containers": [{"name": "api", "env": [env_key("U", "db", "user", false), env_key("X", "gone", "k", true)],
                "envFrom": [{"secretRef": {"name": "sealed"}}]}],
            "volumes": [{"name": "t", "secret": {"secretName": "tls", "items": [{"key": "tls.crt", "path": "c"}]}},
                {"name": "p", "projected": {"sources": [{"secret": {"name": "db"}}]}}],
            "imagePullSecrets": [{"name": "registry"}], "serviceAccountName": "puller"});
        let with = |path: &str, value: Value| {
            let mut spec = clean.clone();
            *spec.pointer_mut(path).unwrap() = value;
            spec
        };
        let cases = [
            (clean.clone(), json!({}), true),
            (
                with("/containers/0/env/0", env_key("P", "db", "nope", false)),
                json!({}),
                false,
            ),
            (
                with("/containers/0/env/0", env_key("P", "gone", "k", false)),
                json!({}),
                false,
            ),
            (
                with("/containers/0/env/0", env_key("P", "", "k", true)),
                json!({}),
                false,
            ),
            (
                with("/containers/0/env/0", env_key("P", "db", "", false)),
                json!({}),
                false,
            ),
            (
                with("/containers/0/env/0", env_key("P", "es", "any", false)),
                json!({}),
                false,
            ),
            (
                with("/containers/0/envFrom/0/secretRef/name", json!("broken")),
                json!({}),
                false,
            ),
            (with("/containers/0/env", json!("not a list")), json!({}), false),
            (with("/imagePullSecrets/0/name", json!("gone")), json!({}), false),
            (with("/serviceAccountName", json!("lost")), json!({}), false),
            (
                clean.clone(),
                json!({names::ANNOTATION_EXEMPT: "migration"}),
                false,
            ),
            (
                clean.clone(),
                json!({names::ANNOTATION_EXTERNAL_SECRETS: "["}),
                false,
            ),
            (clean.clone(), json!({"example.com/other": "x"}), true),
        ];
        for (spec, annotations, expected) in cases {
            let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "prod", "annotations": annotations},
                "spec": {"template": {"spec": spec}}});
            let text = obj.to_string();
            let clean = match crate::refs::extract_json(&text, ("", ""), "default") {
                Ok(Some(w)) => evaluate(&w, &inv).is_empty() && exemption(&w).is_none(),
                _ => false,
            };
            assert_eq!(clean, expected, "{obj}");
        }
    }

    #[test]
    fn present_missing_key_missing_secret() {
        let inv = inventory(json!([secret("db", &["user"])]));
        let w = deployment(
            json!([
                env_key("U", "db", "user", false),
                env_key("P", "db", "password", false),
                env_key("T", "tls", "crt", false)
            ]),
            json!({}),
        );
        let f = evaluate(&w, &inv);
        assert_eq!(
            codes(&f),
            vec![
                (code::MISSING_KEY, Severity::Error),
                (code::MISSING_SECRET, Severity::Error)
            ]
        );
        assert_eq!(
            f[0].line(),
            "Secret \"db\" has no key \"password\" (it has keys \"user\") (spec.template.spec.containers[api].env[P])"
        );
        assert_eq!(
            f[1].message,
            "Secret \"tls\" not found and no SealedSecret provides it"
        );
    }

    #[test]
    fn optional_references_never_fail() {
        let inv = inventory(json!([secret("db", &["user"])]));
        let w = deployment(
            json!([env_key("A", "db", "nope", true), env_key("B", "gone", "k", true)]),
            json!({
                "volumes": [{"name": "v", "secret": {"secretName": "gone", "optional": true}}]
            }),
        );
        assert!(evaluate(&w, &inv).is_empty());
    }

    #[test]
    fn sealed_secret_ready_unknown_and_failed() {
        let sealed = |status: Value| {
            json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db", "namespace": "prod"},
                "spec": {"encryptedData": {"password": "x"}}, "status": status})
        };
        let w = deployment(json!([env_key("P", "db", "password", false)]), json!({}));
        assert!(evaluate(&w, &inventory(json!([sealed(json!({}))]))).is_empty());
        let ready = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        assert!(evaluate(&w, &inventory(json!([sealed(ready)]))).is_empty());
        let failed = json!({"conditions": [{"type": "Ready", "status": "False", "reason": "UnsealFailed", "message": "key \"password\": not sealed to any key in this keyring"}]});
        let f = evaluate(&w, &inventory(json!([sealed(failed)])));
        assert_eq!(codes(&f), vec![(code::UNREADY_PROVIDER, Severity::Error)]);
        assert!(
            f[0].message.contains("SealedSecret prod/db") && f[0].message.contains("UnsealFailed: key"),
            "{}",
            f[0].message
        );
        let missing = deployment(json!([env_key("P", "db", "other", false)]), json!({}));
        let f = evaluate(&missing, &inventory(json!([sealed(json!({}))])));
        assert_eq!(f[0].provider.as_deref(), Some("SealedSecret prod/db"));
        assert!(
            f[0].message.ends_with("provided by SealedSecret prod/db)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn other_providers() {
        let inv = inventory(json!([
            {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c"}, "spec": {"secretName": "tls"}},
            {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "es"}, "spec": {"dataFrom": [{}]}},
        ]));
        let w = deployment(
            json!([
                env_key("A", "tls", "tls.crt", false),
                env_key("B", "tls", "nope", false),
                env_key("C", "es", "any", false)
            ]),
            json!({}),
        );
        let f = evaluate(&w, &inv);
        assert_eq!(
            codes(&f),
            vec![
                (code::MISSING_KEY, Severity::Error),
                (code::UNKNOWN_KEYS, Severity::Info)
            ]
        );
        assert_eq!(f[1].provider.as_deref(), Some("ExternalSecret prod/es"));
    }

    #[test]
    fn declared_and_annotated_providers() {
        let mut inv = MemoryInventory::new();
        inv.declare(Declaration {
            name: "vault-*".into(),
            namespace: Some("prod".into()),
            keys: None,
            reason: "vault agent".into(),
        })
        .unwrap();
        let mut w = deployment(
            json!([
                env_key("A", "vault-db", "url", false),
                env_key("B", "from-hook", "k", false)
            ]),
            json!({}),
        );
        let f = evaluate(&w, &inv);
        assert_eq!(
            codes(&f),
            vec![
                (code::UNKNOWN_KEYS, Severity::Info),
                (code::MISSING_SECRET, Severity::Error)
            ]
        );
        w.annotations
            .insert(names::ANNOTATION_EXTERNAL_SECRETS.into(), json!("from-*"));
        let f = evaluate(&w, &inv);
        assert_eq!(
            codes(&f),
            vec![
                (code::UNKNOWN_KEYS, Severity::Info),
                (code::UNKNOWN_KEYS, Severity::Info)
            ]
        );
    }

    #[test]
    fn wrong_namespace_does_not_count() {
        let inv = inventory(
            json!([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "dev"}, "data": {"k": ""}}]),
        );
        let w = deployment(json!([env_key("A", "db", "k", false)]), json!({}));
        assert_eq!(
            codes(&evaluate(&w, &inv)),
            vec![(code::MISSING_SECRET, Severity::Error)]
        );
    }

    #[test]
    fn empty_references_and_image_pull() {
        let inv = inventory(
            json!([{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api-sa"}, "imagePullSecrets": [{"name": "sa-pull"}]}]),
        );
        let w = deployment(
            json!([{"name": "A", "valueFrom": {"secretKeyRef": {"key": "k"}}}, env_key("B", "db", "", false)]),
            json!({"imagePullSecrets": [{"name": "regcred"}], "serviceAccountName": "api-sa"}),
        );
        let f = evaluate(&w, &inv);
        assert_eq!(
            codes(&f),
            vec![
                (code::EMPTY_REFERENCE, Severity::Error),
                (code::EMPTY_REFERENCE, Severity::Error),
                (code::MISSING_IMAGE_PULL_SECRET, Severity::Warning),
                (code::MISSING_IMAGE_PULL_SECRET, Severity::Warning),
            ]
        );
        assert_eq!(f[0].message, "secretKeyRef has no name");
        assert_eq!(f[3].field, "ServiceAccount api-sa.imagePullSecrets[0]");
    }

    fn sealed(name: &str, keys: &[&str], status: Value) -> Value {
        let data: serde_json::Map<String, Value> = keys.iter().map(|k| (k.to_string(), json!("x"))).collect();
        json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": name},
            "spec": {"encryptedData": data}, "status": status})
    }

    fn failed_status() -> Value {
        json!({"conditions": [{"type": "Ready", "status": "False", "reason": "UnsealFailed",
            "message": "key \"password\": not sealed to any key in this keyring"}]})
    }

    /// One reference `db`/`password` from `env[P]`, against one inventory each.
    #[test]
    fn one_key_reference_table() {
        let ready = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        let cert = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c"}, "spec": {"secretName": "db"}});
        let es = |spec: Value| json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "db"}, "spec": spec});
        let other_ns = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "dev"}, "data": {"password": ""}});
        let bare = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}});
        // (inventory, expected (code, severity, provider, message); None when clean)
        type Want = Option<(&'static str, Severity, Option<&'static str>, &'static str)>;
        let cases: Vec<(Value, Want)> = vec![
            (json!([secret("db", &["password"])]), None),
            (
                json!([secret("db", &["user"])]),
                Some((
                    code::MISSING_KEY,
                    Severity::Error,
                    Some("Secret prod/db"),
                    "Secret \"db\" has no key \"password\" (it has keys \"user\")",
                )),
            ),
            (
                json!([]),
                Some((
                    code::MISSING_SECRET,
                    Severity::Error,
                    None,
                    "Secret \"db\" not found and no SealedSecret provides it",
                )),
            ),
            (
                json!([other_ns]),
                Some((
                    code::MISSING_SECRET,
                    Severity::Error,
                    None,
                    "Secret \"db\" not found and no SealedSecret provides it",
                )),
            ),
            (json!([sealed("db", &["password"], json!(null))]), None),
            (json!([sealed("db", &["password"], ready)]), None),
            (
                json!([sealed("db", &["password"], failed_status())]),
                Some((
                    code::UNREADY_PROVIDER,
                    Severity::Error,
                    Some("SealedSecret prod/db"),
                    "Secret \"db\" is provided only by SealedSecret prod/db, which fails to unseal: UnsealFailed: key \"password\": not sealed to any key in this keyring",
                )),
            ),
            (
                json!([sealed("db", &["user"], json!(null))]),
                Some((
                    code::MISSING_KEY,
                    Severity::Error,
                    Some("SealedSecret prod/db"),
                    "Secret \"db\" has no key \"password\" (it has keys \"user\", provided by SealedSecret prod/db)",
                )),
            ),
            // The live Secret predates a key added to a SealedSecret that now fails.
            (
                json!([
                    secret("db", &["user"]),
                    sealed("db", &["user", "password"], failed_status())
                ]),
                Some((
                    code::UNREADY_PROVIDER,
                    Severity::Error,
                    Some("SealedSecret prod/db"),
                    "key \"password\" of Secret \"db\" is provided only by SealedSecret prod/db, which fails to unseal: UnsealFailed: key \"password\": not sealed to any key in this keyring",
                )),
            ),
            // A failing SealedSecret beside a Secret that has the key: the pods start.
            (
                json!([
                    secret("db", &["password"]),
                    sealed("db", &["password"], failed_status())
                ]),
                None,
            ),
            (
                json!([cert]),
                Some((
                    code::MISSING_KEY,
                    Severity::Error,
                    Some("Certificate prod/c"),
                    "Secret \"db\" has no key \"password\" (it has keys \"ca.crt\", \"tls.crt\", \"tls.key\", provided by Certificate prod/c)",
                )),
            ),
            (json!([es(json!({"data": [{"secretKey": "password"}]}))]), None),
            (
                json!([es(json!({"data": [{"secretKey": "user"}]}))]),
                Some((
                    code::MISSING_KEY,
                    Severity::Error,
                    Some("ExternalSecret prod/db"),
                    "Secret \"db\" has no key \"password\" (it has keys \"user\", provided by ExternalSecret prod/db)",
                )),
            ),
            (
                json!([es(json!({"dataFrom": [{"extract": {"key": "db"}}]}))]),
                Some((
                    code::UNKNOWN_KEYS,
                    Severity::Info,
                    Some("ExternalSecret prod/db"),
                    "Secret \"db\" is provided by ExternalSecret prod/db, whose keys are not known; key \"password\" is assumed",
                )),
            ),
            (
                json!([bare]),
                Some((
                    code::UNKNOWN_KEYS,
                    Severity::Info,
                    Some("Secret prod/db"),
                    "Secret \"db\" exists but its keys are not known; key \"password\" is assumed",
                )),
            ),
        ];
        let w = deployment(json!([env_key("P", "db", "password", false)]), json!({}));
        for (objects, want) in cases {
            let f = evaluate(&w, &inventory(objects.clone()));
            let got: Vec<_> = f
                .iter()
                .map(|f| (f.code, f.severity, f.provider.as_deref(), f.message.as_str()))
                .collect();
            assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{objects}");
            for f in &f {
                assert_eq!(
                    (
                        f.object.to_string(),
                        f.field.as_str(),
                        f.secret.as_str(),
                        f.key.as_deref()
                    ),
                    (
                        "Deployment prod/api".to_owned(),
                        "spec.template.spec.containers[api].env[P]",
                        "db",
                        Some("password")
                    )
                );
            }
        }
    }

    #[test]
    fn optional_empty_reference_only_warns() {
        let w = deployment(
            json!([{"name": "A", "valueFrom": {"secretKeyRef": {"key": "k", "optional": true}}}]),
            json!({"volumes": [{"name": "v", "secret": {"optional": true}}]}),
        );
        let f = evaluate(&w, &inventory(json!([])));
        assert_eq!(
            codes(&f),
            vec![
                (code::EMPTY_REFERENCE, Severity::Warning),
                (code::EMPTY_REFERENCE, Severity::Warning)
            ]
        );
        assert_eq!(f[1].message, "secret volume has no name");
    }

    #[test]
    fn optional_reference_to_failing_provider_is_fine() {
        let inv = inventory(json!([sealed("db", &["password"], failed_status())]));
        let w = deployment(json!([env_key("P", "db", "password", true)]), json!({}));
        assert!(evaluate(&w, &inv).is_empty());
    }

    #[test]
    fn volume_items_one_missing_secret_per_volume() {
        let items = json!([{"key": "a", "path": "a"}, {"key": "b", "path": "b"}]);
        let w = deployment(
            json!([]),
            json!({"volumes": [
                {"name": "v", "secret": {"secretName": "gone", "items": items}},
                {"name": "p", "projected": {"sources": [{"secret": {"name": "half", "items": items}}]}}
            ]}),
        );
        let f = evaluate(&w, &inventory(json!([secret("half", &["a"])])));
        let got: Vec<(&str, &str, Option<&str>)> = f
            .iter()
            .map(|f| (f.code, f.field.as_str(), f.key.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (code::MISSING_SECRET, "spec.template.spec.volumes[v]", Some("a")),
                (
                    code::MISSING_KEY,
                    "spec.template.spec.volumes[p].projected.sources[0].secret",
                    Some("b")
                ),
            ]
        );
    }

    #[test]
    fn declared_provider_with_known_keys_and_wrong_namespace() {
        let mut inv = MemoryInventory::new();
        inv.declare(Declaration {
            name: "registry-*".into(),
            namespace: None,
            keys: Some([".dockerconfigjson".to_owned()].into()),
            reason: "pull secret operator".into(),
        })
        .unwrap();
        inv.declare(Declaration {
            name: "vault-db".into(),
            namespace: Some("staging".into()),
            keys: None,
            reason: "vault".into(),
        })
        .unwrap();
        let w = deployment(
            json!([
                env_key("A", "registry-eu", "token", false),
                env_key("B", "vault-db", "url", false)
            ]),
            json!({"imagePullSecrets": [{"name": "registry-eu"}]}),
        );
        let f = evaluate(&w, &inv);
        assert_eq!(
            codes(&f),
            vec![
                (code::MISSING_KEY, Severity::Error),
                (code::MISSING_SECRET, Severity::Error)
            ]
        );
        assert_eq!(
            f[0].message,
            "Secret \"registry-eu\" has no key \"token\" (it has keys \".dockerconfigjson\", provided by the declaration \"registry-*\" (pull secret operator))"
        );
    }

    #[test]
    fn invalid_annotation_pattern_warns() {
        let mut w = deployment(json!([env_key("A", "x", "k", false)]), json!({}));
        w.annotations
            .insert(names::ANNOTATION_EXTERNAL_SECRETS.into(), json!("[, x"));
        let f = evaluate(&w, &inventory(json!([])));
        assert_eq!(
            codes(&f),
            vec![
                (code::INVALID_ANNOTATION, Severity::Warning),
                (code::UNKNOWN_KEYS, Severity::Info)
            ]
        );
        assert_eq!(f[0].field, "metadata.annotations[sealgate.dev/external-secrets]");
        assert_eq!(
            f[1].provider.as_deref(),
            Some("the workload's sealgate.dev/external-secrets annotation")
        );
    }

    #[test]
    fn every_code_is_listed() {
        let mut all = code::ALL.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), code::ALL.len());
        assert!(
            all.iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        );
    }

    #[test]
    fn evaluate_update_denies_only_what_changed() {
        let inv = inventory(json!([secret("db", &["user"])]));
        let old = deployment(
            json!([
                env_key("A", "gone", "k", false),
                env_key("B", "db", "password", true)
            ]),
            json!({}),
        );
        // Scaling: same references, same findings, nothing introduced.
        let same = evaluate_update(&old, &old, &inv);
        assert!(same.introduced.is_empty());
        assert_eq!(same.existing.len(), 1);
        // B stops being optional; C is new.
        let new = deployment(
            json!([
                env_key("A", "gone", "k", false),
                env_key("B", "db", "password", false),
                env_key("C", "db", "user", false)
            ]),
            json!({}),
        );
        let u = evaluate_update(&old, &new, &inv);
        let fields = |v: &[Finding]| v.iter().map(|f| f.field.clone()).collect::<Vec<_>>();
        assert_eq!(
            fields(&u.introduced),
            ["spec.template.spec.containers[api].env[B]"]
        );
        assert_eq!(fields(&u.existing), ["spec.template.spec.containers[api].env[A]"]);
    }

    #[test]
    fn update_splits_new_from_old() {
        let inv = inventory(json!([]));
        let old = evaluate(
            &deployment(json!([env_key("A", "gone", "k", false)]), json!({})),
            &inv,
        );
        let new = evaluate(
            &deployment(
                json!([
                    env_key("A", "gone", "k", false),
                    env_key("B", "also-gone", "k", false)
                ]),
                json!({}),
            ),
            &inv,
        );
        let (introduced, existing) = split_introduced(&old, new);
        assert_eq!(
            introduced.iter().map(|f| f.secret.as_str()).collect::<Vec<_>>(),
            ["also-gone"]
        );
        assert_eq!(
            existing.iter().map(|f| f.secret.as_str()).collect::<Vec<_>>(),
            ["gone"]
        );
    }
}
