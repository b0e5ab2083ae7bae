//! The CRD checked into the chart is the one generated from the Rust types.

use std::path::Path;

#[test]
fn chart_crd_matches_the_generated_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(sealgate_core::crd::CRD_PATH);
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == sealgate_core::crd::crd_yaml(),
        "{} is out of date; regenerate it with:\n  cargo run -q -p sealgate-controller -- crd > {}",
        path.display(),
        sealgate_core::crd::CRD_PATH
    );
}

#[test]
fn crd_schema_is_structural() {
    // A structural schema gives every property a type (or x-kubernetes-int-or-string /
    // preserve-unknown-fields); the API server refuses the CRD otherwise.
    let docs = sealgate_core::manifest::parse_documents(sealgate_core::crd::crd_yaml().as_bytes())
        .expect("generated CRD parses");
    let version = &docs[0].value["spec"]["versions"][0];
    assert_eq!(version["subresources"]["status"], serde_json::json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Ready", "Reason", "Age"]);
    fn check(node: &serde_json::Value, path: &str) {
        let Some(obj) = node.as_object() else { return };
        let typed = obj.contains_key("type")
            || obj.contains_key("x-kubernetes-int-or-string")
            || obj.contains_key("x-kubernetes-preserve-unknown-fields");
        assert!(typed, "schema node {path} has no type");
        for (k, child) in obj
            .get("properties")
            .and_then(|p| p.as_object())
            .into_iter()
            .flatten()
        {
            check(child, &format!("{path}.{k}"));
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = obj.get(key) {
                check(child, &format!("{path}[{key}]"));
            }
        }
    }
    check(&version["schema"]["openAPIV3Schema"], "openAPIV3Schema");
}
