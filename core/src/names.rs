//! Every label, annotation, field-manager and API name sealgate reads or
//! writes, in one place so the CLI, controller and webhook cannot drift apart.

/// API group of the SealedSecret resource.
pub const GROUP: &str = "sealgate.dev";
/// API version of the SealedSecret resource.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "sealgate.dev/v1alpha1";
/// Kind of the SealedSecret resource.
pub const KIND: &str = "SealedSecret";

/// Field manager used by the controller for server-side apply.
pub const FIELD_MANAGER: &str = "sealgate-controller";
/// Field manager of the webhook's writes (its certificate Secret, the `caBundle` patch).
pub const FIELD_MANAGER_WEBHOOK: &str = "sealgate-webhook";

/// Label on the controller's key Secrets; value [`KEY_STATE_ACTIVE`] or [`KEY_STATE_COMPROMISED`].
pub const LABEL_SEALING_KEY: &str = "sealgate.dev/sealing-key";
/// A key that seals (the newest) and unseals.
pub const KEY_STATE_ACTIVE: &str = "active";
/// A key the controller ignores entirely.
pub const KEY_STATE_COMPROMISED: &str = "compromised";
/// On a key Secret: when sealgate created it (RFC 3339). Only stamped keys seal; the newest stamp wins.
pub const ANNOTATION_KEY_CREATED: &str = "sealgate.dev/created-at";

/// Namespace label choosing the webhook's mode: `enforce`, `warn` or `off`.
pub const LABEL_ADMISSION: &str = "sealgate.dev/admission";

/// Every sealgate annotation starts with this.
pub const ANNOTATION_PREFIX: &str = "sealgate.dev/";
/// On a SealedSecret: comma-separated fingerprints of the recipients it was sealed to (advisory).
pub const ANNOTATION_RECIPIENTS: &str = "sealgate.dev/recipients";
/// On a SealedSecret: the scope its values were sealed with (advisory; the binding inside each value is authoritative).
pub const ANNOTATION_SCOPE: &str = "sealgate.dev/scope";
/// On an existing Secret: `"true"` lets a SealedSecret take it over.
pub const ANNOTATION_MANAGED: &str = "sealgate.dev/managed";
/// On a produced Secret: the sorted, comma-separated data key names.
pub const ANNOTATION_KEYS: &str = "sealgate.dev/keys";
/// On a produced Secret: the SealedSecret generation it was produced from.
pub const ANNOTATION_SOURCE_GENERATION: &str = "sealgate.dev/source-generation";
/// On a produced Secret: `"true"` stops the controller from reverting edits.
pub const ANNOTATION_SKIP_DRIFT: &str = "sealgate.dev/skip-drift-correction";
/// On a plain Secret in Git: a reason why committing it in plaintext is intended.
pub const ANNOTATION_PLAINTEXT_OK: &str = "sealgate.dev/plaintext-ok";
/// On a workload: a reason that exempts it from admission checks.
pub const ANNOTATION_EXEMPT: &str = "sealgate.dev/exempt";

/// On a workload: comma-separated names (or globs) of Secrets it expects from outside the manifests.
pub const ANNOTATION_EXTERNAL_SECRETS: &str = "sealgate.dev/external-secrets";

/// Condition type written to SealedSecret status.
pub const CONDITION_READY: &str = "Ready";

/// Environment variable holding recipients, separated by commas or whitespace.
pub const ENV_RECIPIENTS: &str = "SEALGATE_RECIPIENTS";

/// On the webhook's own serving-certificate Secret: marks it as created (and renewable) by
/// the webhook, value [`WEBHOOK_CERTIFICATE_MANAGED`]. A Secret of that name without it is
/// never overwritten.
pub const LABEL_WEBHOOK_CERTIFICATE: &str = "sealgate.dev/webhook-certificate";
/// Value of [`LABEL_WEBHOOK_CERTIFICATE`].
pub const WEBHOOK_CERTIFICATE_MANAGED: &str = "managed";

/// Keys under [`ANNOTATION_PREFIX`] that a SealedSecret's template may carry onto
/// the Secret it produces. Only the opt-out of drift correction: the owner may ask
/// for it in Git as well as on the Secret.
pub const TEMPLATE_SETTABLE: &[&str] = &[ANNOTATION_SKIP_DRIFT];

/// Whether only sealgate may set `key` as a label or annotation of a Secret it
/// produces: any key under `sealgate.dev/` (or a subdomain of it) not in
/// [`TEMPLATE_SETTABLE`]. That covers [`LABEL_SEALING_KEY`] (the key store reads
/// it), the [`ANNOTATION_KEYS`] and [`ANNOTATION_SOURCE_GENERATION`] stamps and the
/// [`ANNOTATION_MANAGED`] marker, and any key sealgate adds later, so a new stamp
/// is reserved the day it is added.
pub fn is_reserved(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else {
        return false;
    };
    let ours = prefix == GROUP || prefix.strip_suffix(GROUP).is_some_and(|sub| sub.ends_with('.'));
    ours && !TEMPLATE_SETTABLE.contains(&key)
}

/// The first reserved label or annotation (see [`is_reserved`]) among those a
/// template would put on a produced Secret, as a field path such as
/// `metadata.labels["sealgate.dev/sealing-key"]`; `None` when there is none.
pub fn reserved_metadata(
    labels: &std::collections::BTreeMap<String, String>,
    annotations: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let first = |field: &str, map: &std::collections::BTreeMap<String, String>| {
        map.keys()
            .find(|k| is_reserved(k))
            .map(|k| format!("metadata.{field}[{k:?}]"))
    };
    first("labels", labels).or_else(|| first("annotations", annotations))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn what_only_sealgate_sets() {
        for key in [
            LABEL_SEALING_KEY,
            ANNOTATION_KEYS,
            ANNOTATION_SOURCE_GENERATION,
            ANNOTATION_MANAGED,
            "sealgate.dev/anything-new",
            "keys.sealgate.dev/x",
        ] {
            assert!(is_reserved(key), "{key}");
        }
        for key in [
            ANNOTATION_SKIP_DRIFT,
            "app",
            "app.kubernetes.io/name",
            "notsealgate.dev/x",
            "sealgate.dev.example.com/x",
            "example.com/sealgate.dev/x",
        ] {
            assert!(!is_reserved(key), "{key}");
        }
    }

    #[test]
    fn the_offending_field_is_named() {
        let map = |k: &str| {
            BTreeMap::from([
                ("app".to_owned(), "db".to_owned()),
                (k.to_owned(), "x".to_owned()),
            ])
        };
        assert_eq!(
            reserved_metadata(&map(LABEL_SEALING_KEY), &BTreeMap::new()).as_deref(),
            Some("metadata.labels[\"sealgate.dev/sealing-key\"]")
        );
        assert_eq!(
            reserved_metadata(&map("team"), &map(ANNOTATION_SOURCE_GENERATION)).as_deref(),
            Some("metadata.annotations[\"sealgate.dev/source-generation\"]")
        );
        assert_eq!(reserved_metadata(&map("team"), &map(ANNOTATION_SKIP_DRIFT)), None);
    }
}
