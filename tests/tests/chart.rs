//! The Helm chart: lints, renders with default values and with every option on,
//! every rendered object parses and carries the common labels, and the rendered
//! webhook configuration matches what the webhook serves. With
//! `SEALGATE_E2E_KUBECONFIG`, the rendering is also accepted by a real API server
//! (`kubectl apply --dry-run=server`).
//!
//! Needs helm: `SEALGATE_HELM`, else `target/tools/helm/helm` (`.ci/install-helm.sh`
//! puts it there), else `helm` on PATH; skipped with a message when none is found.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sealgate_core::manifest::{self, Document};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn helm() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SEALGATE_HELM") {
        return Some(PathBuf::from(p));
    }
    let local = root().join("target/tools/helm/helm");
    if local.is_file() {
        return Some(local);
    }
    Command::new("helm")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("helm"))
}

fn run(helm: &Path, args: &[&str]) -> String {
    let out = Command::new(helm)
        .current_dir(root().join("charts/sealgate"))
        .args(args)
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn render(helm: &Path, values: Option<&str>) -> Vec<Document> {
    let mut args = vec![
        "template",
        "sg",
        ".",
        "--namespace",
        "sealgate-system",
        "--include-crds",
    ];
    if let Some(v) = values {
        args.extend(["-f", v]);
    }
    let text = run(helm, &args);
    manifest::parse_documents(text.as_bytes()).expect("the rendered chart parses")
}

const COMMON_LABELS: &[&str] = &[
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
];

#[test]
fn chart_lints_renders_and_labels_everything() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm (run .ci/install-helm.sh or set SEALGATE_HELM)");
        return;
    };
    for values in [None, Some("ci/all-options-values.yaml")] {
        let mut lint = vec!["lint", ".", "--strict"];
        if let Some(v) = values {
            lint.extend(["-f", v]);
        }
        run(&helm, &lint);
        let docs = render(&helm, values);
        let kinds: Vec<&str> = docs.iter().map(Document::kind).collect();
        for kind in [
            "CustomResourceDefinition",
            "Deployment",
            "Service",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "PodDisruptionBudget",
            "ValidatingWebhookConfiguration",
        ] {
            assert!(kinds.contains(&kind), "{values:?}: no {kind} in {kinds:?}");
        }
        for doc in docs.iter().filter(|d| d.kind() != "CustomResourceDefinition") {
            let labels = doc.value.pointer("/metadata/labels").and_then(|l| l.as_object());
            for label in COMMON_LABELS {
                assert!(
                    labels.is_some_and(|l| l.contains_key(*label)),
                    "{values:?}: {} {} lacks label {label}",
                    doc.kind(),
                    doc.name()
                );
            }
        }
        // The chart's CRD is the generated one.
        let crd = docs
            .iter()
            .find(|d| d.kind() == "CustomResourceDefinition")
            .unwrap();
        let generated = manifest::parse_documents(sealgate_core::crd::crd_yaml().as_bytes()).unwrap();
        assert_eq!(crd.value, generated[0].value);

        let webhook = docs
            .iter()
            .find(|d| d.kind() == "ValidatingWebhookConfiguration")
            .unwrap();
        let w = &webhook.value["webhooks"][0];
        assert_eq!(w["sideEffects"], "None");
        assert_eq!(w["admissionReviewVersions"], serde_json::json!(["v1"]));
        assert_eq!(w["timeoutSeconds"], 5);
        assert_eq!(w["matchPolicy"], "Equivalent");
        assert_eq!(w["clientConfig"]["service"]["path"], "/validate");
        let excluded = w["namespaceSelector"]["matchExpressions"][0]["values"]
            .as_array()
            .unwrap();
        assert!(
            excluded.contains(&serde_json::json!("kube-system"))
                && excluded.contains(&serde_json::json!("sealgate-system"))
        );
        let pods = |d: &Document| {
            d.value
                .pointer("/spec/template/spec")
                .cloned()
                .unwrap_or_default()
        };
        for d in docs.iter().filter(|d| d.kind() == "Deployment") {
            let spec = pods(d);
            assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{}", d.name());
            let c = &spec["containers"][0]["securityContext"];
            assert_eq!(
                (
                    c["readOnlyRootFilesystem"].as_bool(),
                    c["allowPrivilegeEscalation"].as_bool()
                ),
                (Some(true), Some(false))
            );
            assert_eq!(c["capabilities"]["drop"], serde_json::json!(["ALL"]));
        }
        let service = docs
            .iter()
            .find(|d| d.kind() == "Service" && d.name() == "sealgate-controller");
        assert!(
            service.is_some(),
            "`sealgate recipient` looks for Service sealgate-controller"
        );

        if values.is_some() {
            assert!(
                kinds.contains(&"ServiceMonitor")
                    && kinds.contains(&"NetworkPolicy")
                    && kinds.contains(&"Certificate")
            );
            assert!(webhook.value["metadata"]["annotations"]["cert-manager.io/inject-ca-from"].is_string());
            let controller = docs
                .iter()
                .find(|d| d.kind() == "Deployment" && d.name() == "sealgate-controller")
                .unwrap();
            let args = pods(controller)["containers"][0]["args"].to_string();
            assert!(
                args.contains("--leader-election") && args.contains("--recovery-recipient=age1"),
                "{args}"
            );
        } else {
            let tls = docs
                .iter()
                .find(|d| d.kind() == "Secret" && d.name() == "sealgate-webhook-tls")
                .unwrap();
            assert_eq!(
                tls.value["data"]["ca.crt"], w["clientConfig"]["caBundle"],
                "the CA bundle signs the serving certificate"
            );
        }
    }
}

#[test]
fn the_image_matches_the_chart() {
    let chart = std::fs::read_to_string(root().join("charts/sealgate/Chart.yaml")).unwrap();
    assert!(
        chart.contains(&format!("appVersion: \"{}\"", env!("CARGO_PKG_VERSION"))),
        "appVersion follows the crates"
    );
    let values = std::fs::read_to_string(root().join("charts/sealgate/values.yaml")).unwrap();
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(
        values.contains("repository: ghcr.io/sealgate/sealgate")
            && dockerfile.contains("ghcr.io/sealgate/sealgate")
    );
    for binary in ["sealgate-controller", "sealgate-webhook"] {
        assert!(
            dockerfile.contains(&format!("target/release/{binary}")),
            "{binary} is built into the image"
        );
        let template = std::fs::read_to_string(root().join("charts/sealgate/templates").join(
            if binary == "sealgate-controller" {
                "controller.yaml"
            } else {
                "webhook.yaml"
            },
        ))
        .unwrap();
        assert!(
            template.contains(&format!("command: [/usr/local/bin/{binary}]")),
            "the chart runs {binary} from the image"
        );
    }
    assert!(dockerfile.contains("COPY --from=build /out/ /usr/local/bin/") && dockerfile.contains("nonroot"));
}

#[test]
fn bad_values_fail_at_install_time() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    for (set, needle) in [
        ("webhook.defaultMode=off", "defaultMode"),
        ("controller.recoveryRecipients={not-a-key}", "recoveryRecipients"),
        ("webhook.tls.certManager.enabled=true", "issuerRef"),
        ("controller.replicas=0", "replicas"),
    ] {
        let out = Command::new(&helm)
            .current_dir(root().join("charts/sealgate"))
            .args(["template", "sg", ".", "--set", set])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(needle),
            "--set {set}: {err}"
        );
    }
}

#[test]
fn the_api_server_accepts_the_rendered_chart() {
    let Ok(kubeconfig) = std::env::var("SEALGATE_E2E_KUBECONFIG") else {
        eprintln!("skipping server-side dry run: SEALGATE_E2E_KUBECONFIG is not set");
        return;
    };
    let Some(helm) = helm() else {
        eprintln!("skipping server-side dry run: no helm");
        return;
    };
    let text = run(
        &helm,
        &["template", "sg", ".", "--namespace", "default", "--include-crds"],
    );
    let mut child = Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "--dry-run=server",
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
