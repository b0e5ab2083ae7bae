//! The rule both `sealgate validate` and the admission webhook apply: is every
//! Secret and key a workload references provided by something that works?

use std::collections::HashSet;
use std::fmt;

use globset::Glob;

use crate::inventory::{Inventory, Keys, Provider, ProviderKind, Readiness};
use crate::names;
use crate::refs::{RefKind, SecretRef, Workload};

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
}

/// One problem with one reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable slug (see [`code`]).
    pub code: &'static str,
    /// How bad it is.
    pub severity: Severity,
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

    /// What identifies the same problem in an old and a new version of a workload.
    fn identity(&self) -> (&'static str, &str, Option<&str>, &str) {
        (self.code, &self.secret, self.key.as_deref(), &self.field)
    }
}

/// Checks every reference of `workload` against `inventory`.
///
/// `optional: true` references never produce errors or warnings. The pod's
/// ServiceAccount's `imagePullSecrets` are checked too when the inventory knows it.
pub fn evaluate(workload: &Workload, inventory: &dyn Inventory) -> Vec<Finding> {
    let expected = expected_elsewhere(workload);
    let mut findings = Vec::new();
    let mut seen = HashSet::new();
    for r in &workload.refs {
        if seen.insert((r.secret.as_str(), r.key.as_deref(), r.field.as_str())) {
            check_ref(workload, r, inventory, &expected, &mut findings);
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
            check_ref(workload, &r, inventory, &expected, &mut findings);
        }
    }
    findings
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
/// introduces and those already present for the old version.
pub fn split_introduced(old: &[Finding], new: Vec<Finding>) -> (Vec<Finding>, Vec<Finding>) {
    let before: HashSet<_> = old.iter().map(Finding::identity).collect();
    new.into_iter().partition(|f| !before.contains(&f.identity()))
}

/// Secrets the workload says come from elsewhere (its annotation), as globs.
fn expected_elsewhere(workload: &Workload) -> Vec<globset::GlobMatcher> {
    workload
        .annotations
        .get(names::ANNOTATION_EXTERNAL_SECRETS)
        .and_then(|v| v.as_str())
        .into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|p| Glob::new(p).ok().map(|g| g.compile_matcher()))
        .collect()
}

fn check_ref(
    workload: &Workload,
    r: &SecretRef,
    inventory: &dyn Inventory,
    expected: &[globset::GlobMatcher],
    out: &mut Vec<Finding>,
) {
    let mut finding = |code, severity, message: String, provider: Option<String>| {
        out.push(Finding {
            code,
            severity,
            field: r.field.clone(),
            secret: r.secret.clone(),
            key: r.key.clone(),
            message,
            provider,
        });
    };
    if r.secret.is_empty() {
        let message = format!("{} has no name", r.kind.describe());
        finding(code::EMPTY_REFERENCE, Severity::Error, message, None);
        return;
    }
    if r.key.as_deref() == Some("") {
        let message = format!("{} to Secret {:?} has no key", r.kind.describe(), r.secret);
        finding(code::EMPTY_REFERENCE, Severity::Error, message, None);
        return;
    }
    let mut providers = inventory.providers(&workload.namespace, &r.secret);
    if expected.iter().any(|m| m.is_match(&r.secret)) {
        providers.push(Provider {
            kind: ProviderKind::WorkloadAnnotation,
            namespace: workload.namespace.clone(),
            name: r.secret.clone(),
            keys: Keys::Unknown,
            readiness: Readiness::Unknown,
        });
    }
    let (working, failed): (Vec<&Provider>, Vec<&Provider>) = providers
        .iter()
        .partition(|p| !matches!(p.readiness, Readiness::Failed { .. }));
    let severity = if r.kind == RefKind::ImagePull {
        Severity::Warning
    } else {
        Severity::Error
    };

    if working.is_empty() {
        if r.optional {
            return;
        }
        if let Some(p) = failed.first() {
            let why = match &p.readiness {
                Readiness::Failed { reason, message } if !message.is_empty() => {
                    format!("{reason}: {message}")
                }
                Readiness::Failed { reason, .. } => reason.clone(),
                _ => String::new(),
            };
            let message = format!(
                "Secret {:?} is provided only by {p}, which is not ready ({why})",
                r.secret
            );
            finding(code::UNREADY_PROVIDER, severity, message, Some(p.to_string()));
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
        finding(code, severity, message, None);
        return;
    }

    let Some(key) = r.key.as_deref() else { return };
    if working.iter().any(|p| p.has_key(key) == Some(true)) {
        return;
    }
    if let Some(p) = working.iter().find(|p| p.keys == Keys::Unknown) {
        let message = format!(
            "Secret {:?} is provided by {p}, whose keys are not known; key {key:?} is assumed",
            r.secret
        );
        finding(code::UNKNOWN_KEYS, Severity::Info, message, Some(p.to_string()));
        return;
    }
    if r.optional {
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
    finding(code::MISSING_KEY, severity, message, Some(p.to_string()));
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
