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
