//! The Argo CD health check for SealedSecrets (`docs/argocd-health.lua`), run
//! with Lua over the status shapes the controller writes, and checked to appear
//! verbatim in `docs/operator.md`, so neither can drift from the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use mlua::serde::SerializeOptions;
use mlua::{Lua, LuaSerdeExt, Table};
use sealgate_core::SealedSecret;
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script() -> String {
    std::fs::read_to_string(root().join("docs/argocd-health.lua")).unwrap()
}

/// Runs the check as Argo CD does (the object as the global `obj`, JSON null as nil);
/// returns its status and message.
fn health(object: &Value) -> (String, String) {
    // Through the Rust type first: the object has exactly the fields the controller writes.
    let typed: SealedSecret = serde_json::from_value(object.clone()).expect("a SealedSecret");
    let object = serde_json::to_value(&typed).unwrap();
    let lua = Lua::new();
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    lua.globals()
        .set("obj", lua.to_value_with(&object, options).unwrap())
        .unwrap();
    let hs: Table = lua.load(script()).set_name("argocd-health.lua").eval().unwrap();
    (hs.get("status").unwrap(), hs.get("message").unwrap())
}

fn sealed(generation: i64, status: Option<Value>) -> Value {
    let mut object = json!({
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "db", "namespace": "shop", "generation": generation},
        "spec": {"encryptedData": {"password": "c2VhbGVk"}},
    });
    if let Some(status) = status {
        object["status"] = status;
    }
    object
}

/// The status the controller writes: `observedGeneration` on the status and on the condition.
fn ready(status: &str, reason: &str, message: &str, observed: i64) -> Value {
    json!({
        "observedGeneration": observed,
        "conditions": [{
            "type": "Ready",
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": observed,
        }],
    })
}

#[test]
fn ready_for_the_current_generation_is_healthy() {
    let object = sealed(
        3,
        Some(ready(
            "True",
            "Unsealed",
            "Secret shop/db holds 1 unsealed key(s)",
            3,
        )),
    );
    assert_eq!(
        health(&object),
        ("Healthy".into(), "Secret shop/db holds 1 unsealed key(s)".into())
    );
    // A condition without its own observedGeneration falls back to the status's.
    let mut object = object;
    object["status"]["conditions"][0]
        .as_object_mut()
        .unwrap()
        .remove("observedGeneration");
    assert_eq!(health(&object).0, "Healthy");
}

#[test]
fn not_ready_for_the_current_generation_is_degraded_with_its_message() {
    let message = "key \"password\": sealed to a key this cluster does not have";
    let object = sealed(2, Some(ready("False", "UnsealFailed", message, 2)));
    assert_eq!(health(&object), ("Degraded".into(), message.into()));
}

#[test]
fn anything_else_is_progressing() {
    // Missing status: the controller has not looked at it yet.
    assert_eq!(health(&sealed(1, None)).0, "Progressing");
    // A status with no conditions.
    assert_eq!(health(&sealed(1, Some(json!({})))).0, "Progressing");
    // A condition for an older spec, whether it said True or False.
    for status in ["True", "False"] {
        let (health, message) = health(&sealed(4, Some(ready(status, "Unsealed", "old", 3))));
        assert_eq!(health, "Progressing", "Ready={status} for generation 3 of 4");
        assert!(message.contains("current generation"), "{message}");
    }
    // Ready=Unknown.
    assert_eq!(
        health(&sealed(1, Some(ready("Unknown", "Pending", "", 1)))).0,
        "Progressing"
    );
    // Only other conditions.
    let mut other = ready("True", "Fine", "", 1);
    other["conditions"][0]["type"] = json!("Reconciling");
    assert_eq!(health(&sealed(1, Some(other))).0, "Progressing");
}

#[test]
fn the_operator_guide_quotes_the_check_verbatim() {
    let guide = std::fs::read_to_string(root().join("docs/operator.md")).unwrap();
    // As it sits in the argocd-cm ConfigMap: indented four spaces under the key.
    let key = "  resource.customizations.health.sealgate.dev_SealedSecret: |\n";
    let indented: String = script()
        .lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_owned()
            } else {
                format!("    {line}\n")
            }
        })
        .collect();
    assert!(
        guide.contains(&format!("{key}{indented}")),
        "docs/operator.md must quote docs/argocd-health.lua verbatim under `{}`",
        key.trim()
    );
}
