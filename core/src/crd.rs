//! The `SealedSecret` custom resource (`sealgate.dev/v1alpha1`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a SealedSecret declares: sealed values and the shape of the Secret to produce.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "sealgate.dev",
    version = "v1alpha1",
    kind = "SealedSecret",
    namespaced,
    status = "SealedSecretStatus",
    shortname = "sls",
    category = "sealgate",
    doc = "A Secret whose values are sealed with age to the cluster's keys; safe to commit to Git.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    /// Data key to sealed value: one age file per value, base64 (standard, padded).
    #[serde(default)]
    pub encrypted_data: BTreeMap<String, String>,
    /// What the produced Secret looks like besides its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SecretTemplate>,
}

/// The non-secret parts of the Secret a SealedSecret produces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Secret type, e.g. `Opaque` or `kubernetes.io/tls`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Whether the produced Secret is immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    /// Labels and annotations copied onto the produced Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// Data keys of the produced Secret built from the unsealed keys, e.g.
    /// `config.yaml: "password: {{ .password }}"` (see [`crate::template`]).
    /// Not secret themselves: the templates are plain text in Git.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

/// Labels and annotations of the produced Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct TemplateMetadata {
    /// Labels of the produced Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the produced Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Observed state, kstatus-compatible so Argo CD and Flux read it without configuration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// The `metadata.generation` the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Standard conditions; `Ready` is the one sealgate writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Where the generated CRD is checked in, relative to the workspace root.
pub const CRD_PATH: &str = "charts/sealgate/crds/sealedsecrets.sealgate.dev.yaml";

/// The CustomResourceDefinition, as YAML, generated from these types.
///
/// The chart's copy ([`CRD_PATH`]) must equal this; a test checks it.
pub fn crd_yaml() -> String {
    use kube::core::CustomResourceExt;
    let header = "# Generated from core/src/crd.rs by `sealgate-controller crd`; do not edit.\n";
    let body = crate::manifest::to_yaml(&[SealedSecret::crd()]).unwrap_or_default();
    format!("{header}{body}")
}

impl SealedSecretSpec {
    /// Every data key the produced Secret will have: the sealed keys and the
    /// template keys.
    pub fn produced_keys(&self) -> impl Iterator<Item = &str> {
        let templated = self.template.iter().flat_map(|t| t.data.keys());
        self.encrypted_data.keys().chain(templated).map(String::as_str)
    }
}

impl SealedSecret {
    /// Every data key the produced Secret will have (see [`SealedSecretSpec::produced_keys`]).
    pub fn produced_keys(&self) -> impl Iterator<Item = &str> {
        self.spec.produced_keys()
    }

    /// The `Ready` condition, if the controller has written one.
    pub fn ready_condition(&self) -> Option<&Condition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == crate::names::CONDITION_READY)
    }
}
