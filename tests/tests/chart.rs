//! The Helm chart: lints, renders with default values and with every option on,
//! every rendered object parses and carries the common labels, and the rendered
//! webhook configuration matches what the webhook serves. Names come from the
//! release (two releases never collide), RBAC holds only the verbs the binaries
//! call, and the rendering holds no key material and is the same every time. With
//! `SEALGATE_E2E_KUBECONFIG`, the rendering is also accepted by a real API server
//! (`kubectl apply --dry-run=server`).
//!
//! Needs helm: `SEALGATE_HELM`, else `target/tools/helm/helm` (`.ci/install-helm.sh`
//! puts it there), else `helm` on PATH; skipped with a message when none is found.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sealgate_core::manifest::{self, Document};

use sealgate_tests::{helm, helm_run as run, root};

fn render(helm: &Path, values: Option<&str>) -> Vec<Document> {
    let mut args = vec![
        "template",
        "sealgate",
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

/// `helm template RELEASE . -n NAMESPACE` with `--set` values (no CRDs); the text and its objects.
fn render_release(helm: &Path, release: &str, namespace: &str, sets: &[&str]) -> (String, Vec<Document>) {
    let mut args = vec!["template", release, ".", "--namespace", namespace];
    for set in sets {
        args.extend(["--set", set]);
    }
    let text = run(helm, &args);
    let docs = manifest::parse_documents(text.as_bytes()).expect("the rendered chart parses");
    (text, docs)
}

fn find<'a>(docs: &'a [Document], kind: &str, name: &str) -> &'a Document {
    docs.iter()
        .find(|d| d.kind() == kind && d.name() == name)
        .unwrap_or_else(|| {
            let all: Vec<_> = docs
                .iter()
                .map(|d| format!("{} {}", d.kind(), d.name()))
                .collect();
            panic!("no {kind} {name} in {all:?}")
        })
}

fn container(deployment: &Document) -> &serde_json::Value {
    &deployment.value["spec"]["template"]["spec"]["containers"][0]
}

fn args(deployment: &Document) -> Vec<String> {
    container(deployment)["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// A Role's or ClusterRole's rules, one line each: `group/resource[names]: verbs`.
fn rules(role: &Document) -> Vec<String> {
    let join = |v: &serde_json::Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    role.value["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let names = join(&r["resourceNames"]);
            let names = if names.is_empty() {
                names
            } else {
                format!("[{names}]")
            };
            format!(
                "{}/{}{names}: {}",
                join(&r["apiGroups"]),
                join(&r["resources"]),
                join(&r["verbs"])
            )
        })
        .collect()
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
            "release sealgate names the Service sealgate-controller, which `sealgate recipient` looks for"
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
                args.contains("--lease-name=sealgate-controller")
                    && args.contains("--recovery-recipient=age1"),
                "{args}"
            );
        } else {
            assert!(
                !kinds.contains(&"Secret") && w["clientConfig"].get("caBundle").is_none(),
                "the webhook keeps its own certificate; the chart renders none"
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
        ("webhook.readSecrets=maybe", "readSecrets"),
        // Leader election is not optional any more: the old value is refused, not ignored.
        ("controller.leaderElection=false", "leaderElection"),
        ("fullnameOverride=Not_A_Name", "fullnameOverride"),
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

const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "CustomResourceDefinition",
];

/// (kind, namespace, name) of every object; cluster-scoped objects have no namespace.
fn identities(docs: &[Document]) -> Vec<(String, String, String)> {
    docs.iter()
        .map(|d| {
            let namespace = if CLUSTER_SCOPED.contains(&d.kind()) {
                assert_eq!(d.namespace(), None, "{} {} is cluster-scoped", d.kind(), d.name());
                String::new()
            } else {
                d.namespace()
                    .unwrap_or_else(|| panic!("{} {} names its namespace", d.kind(), d.name()))
                    .to_owned()
            };
            (d.kind().to_owned(), namespace, d.name().to_owned())
        })
        .collect()
}

#[test]
fn two_releases_in_one_namespace_never_collide() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    let everything = [
        "controller.watchNamespaces={shop,sealgate-system}",
        "webhook.tls.certManager.enabled=true",
        "webhook.tls.certManager.issuerRef.name=ca",
        "serviceMonitor.enabled=true",
        "networkPolicy.enabled=true",
    ];
    for sets in [&[][..], &everything[..]] {
        let (_, first) = render_release(&helm, "sealgate", "sealgate-system", sets);
        let (_, second) = render_release(&helm, "payments", "sealgate-system", sets);
        let (a, b) = (identities(&first), identities(&second));
        for ids in [&a, &b] {
            let unique: std::collections::BTreeSet<_> = ids.iter().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "{sets:?}: one release collides with itself: {ids:?}"
            );
        }
        let clashes: Vec<_> = a.iter().filter(|id| b.contains(id)).collect();
        assert!(
            clashes.is_empty(),
            "{sets:?}: the two releases collide on {clashes:?}"
        );
        assert!(
            b.iter().any(|(kind, _, _)| kind == "ClusterRole")
                && b.iter()
                    .any(|(kind, _, _)| kind == "ValidatingWebhookConfiguration"),
            "cluster-scoped objects are compared too"
        );

        // Every name comes from the release, and each release points at its own objects.
        for (_, _, name) in &b {
            assert!(
                name.starts_with("payments-sealgate"),
                "{sets:?}: {name} is not derived from the release"
            );
        }
        let controller = find(&second, "Deployment", "payments-sealgate-controller");
        assert!(args(controller).contains(&"--lease-name=payments-sealgate-controller".to_owned()));
        let webhook = find(&second, "Deployment", "payments-sealgate-webhook");
        assert_eq!(container(webhook)["name"], "webhook");
        let vwc = find(&second, "ValidatingWebhookConfiguration", "payments-sealgate");
        assert_eq!(
            vwc.value["webhooks"][0]["clientConfig"]["service"]["name"],
            "payments-sealgate-webhook"
        );
        for binding in second.iter().filter(|d| d.kind().ends_with("Binding")) {
            let subject = &binding.value["subjects"][0]["name"];
            assert!(
                subject.as_str().unwrap().starts_with("payments-sealgate-"),
                "{} binds {subject}",
                binding.name()
            );
            let role = binding.value["roleRef"]["name"].as_str().unwrap();
            let kind = binding.value["roleRef"]["kind"].as_str().unwrap();
            assert!(
                second.iter().any(|d| d.kind() == kind && d.name() == role),
                "{} refers to {kind} {role} of its own release",
                binding.name()
            );
        }
    }
}

#[test]
fn names_follow_the_helm_fullname_convention() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    let names = |release: &str, sets: &[&str]| {
        let (_, docs) = render_release(&helm, release, "ns", sets);
        docs.iter()
            .map(|d| format!("{} {}", d.kind(), d.name()))
            .collect::<Vec<_>>()
    };
    // The release name already holds the chart name: it is the full name.
    assert!(names("sealgate", &[]).contains(&"Deployment sealgate-controller".to_owned()));
    assert!(names("my-sealgate", &[]).contains(&"Deployment my-sealgate-controller".to_owned()));
    assert!(names("prod", &[]).contains(&"Deployment prod-sealgate-controller".to_owned()));
    assert!(names("prod", &["nameOverride=gate"]).contains(&"Deployment prod-gate-controller".to_owned()));
    let overridden = names("prod", &["fullnameOverride=sg"]);
    assert!(
        overridden.contains(&"Deployment sg-controller".to_owned())
            && overridden.contains(&"ValidatingWebhookConfiguration sg".to_owned())
    );
    // The longest release name Helm allows still gives names within 63 characters.
    let long = "r".repeat(53);
    for name in names(&long, &[]) {
        let name = name.split_once(' ').unwrap().1;
        assert!(name.len() <= 63 && !name.contains("--"), "{name}");
    }
}

#[test]
fn the_controller_gets_only_the_verbs_it_calls() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    let (_, docs) = render_release(&helm, "sealgate", "sealgate-system", &[]);
    assert_eq!(
        rules(find(&docs, "ClusterRole", "sealgate-controller")),
        [
            "sealgate.dev/sealedsecrets: get,list,watch",
            "sealgate.dev/sealedsecrets/status: patch",
            "/secrets: get,list,watch,create,patch,delete",
            "events.k8s.io/events: create,patch",
        ]
    );
    assert_eq!(
        rules(find(&docs, "Role", "sealgate-controller-keys")),
        [
            "/secrets: get,list,watch,create",
            "coordination.k8s.io/leases: create",
            "coordination.k8s.io/leases[sealgate-controller]: get,patch",
        ]
    );
}

#[test]
fn the_controller_always_takes_the_lease() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    for replicas in ["controller.replicas=1", "controller.replicas=3"] {
        let (_, docs) = render_release(&helm, "prod", "sealgate-system", &[replicas]);
        let args = args(find(&docs, "Deployment", "prod-sealgate-controller"));
        assert!(
            args.contains(&"--lease-name=prod-sealgate-controller".to_owned()),
            "{replicas}: {args:?}"
        );
        assert!(
            !args.iter().any(|a| a.starts_with("--leader-election")),
            "{replicas}: {args:?}"
        );
        let role = rules(find(&docs, "Role", "prod-sealgate-controller-keys"));
        assert!(
            role.contains(&"coordination.k8s.io/leases: create".to_owned())
                && role
                    .contains(&"coordination.k8s.io/leases[prod-sealgate-controller]: get,patch".to_owned()),
            "{replicas}: {role:?}"
        );
    }
    let values = std::fs::read_to_string(root().join("charts/sealgate/values.yaml")).unwrap();
    let template = std::fs::read_to_string(root().join("charts/sealgate/templates/controller.yaml")).unwrap();
    assert!(!values.contains("leaderElection") && !template.contains("leader-election"));
}

#[test]
fn the_webhook_reads_secrets_only_when_allowed() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    for (sets, verbs, flag) in [
        (&[][..], "get,list,watch", false),
        (&["webhook.readSecrets=true"][..], "get,list,watch", false),
        // Without `get` it still watches Secret metadata (lists and watches).
        (&["webhook.readSecrets=false"][..], "list,watch", true),
    ] {
        let (_, docs) = render_release(&helm, "sealgate", "sealgate-system", sets);
        let role = rules(find(&docs, "ClusterRole", "sealgate-webhook"));
        let secrets: Vec<_> = role.iter().filter(|r| r.starts_with("/secrets")).collect();
        assert_eq!(secrets, [&format!("/secrets: {verbs}")], "{sets:?}");
        let args = args(find(&docs, "Deployment", "sealgate-webhook"));
        assert_eq!(
            args.contains(&"--read-secrets=false".to_owned()),
            flag,
            "{sets:?}: {args:?}"
        );
    }
}

#[test]
fn the_chart_renders_no_key_material() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    for entry in std::fs::read_dir(root().join("charts/sealgate/templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for function in [
            "lookup",
            "genCA",
            "genSignedCert",
            "genSelfSignedCert",
            "genPrivateKey",
            "randAlpha",
            "randAscii",
            "randNumeric",
            "randBytes",
            "uuidv4",
        ] {
            assert!(!text.contains(function), "{} calls {function}", path.display());
        }
    }
    let (text, docs) = render_release(&helm, "sealgate", "sealgate-system", &[]);
    for needle in ["BEGIN", "PRIVATE KEY", "tls.key", "caBundle"] {
        assert!(
            !text.contains(needle),
            "the default rendering contains {needle:?}"
        );
    }
    assert!(!docs.iter().any(|d| d.kind() == "Secret"));
    // Argo CD renders on every sync: the same values give the same bytes.
    for sets in [
        &[][..],
        &[
            "webhook.tls.certManager.enabled=true",
            "webhook.tls.certManager.issuerRef.name=ca",
        ][..],
    ] {
        let again = |_| render_release(&helm, "sealgate", "sealgate-system", sets).0;
        assert_eq!(again(1), again(2), "{sets:?}: two renderings differ");
    }

    // The webhook keeps its certificate itself, told where.
    let webhook = find(&docs, "Deployment", "sealgate-webhook");
    let args = args(webhook);
    for flag in [
        "--tls-secret=sealgate-webhook-tls",
        "--namespace=$(POD_NAMESPACE)",
        "--service-name=sealgate-webhook",
        "--webhook-configuration=sealgate",
    ] {
        assert!(args.contains(&flag.to_owned()), "{flag} in {args:?}");
    }
    assert!(
        !args
            .iter()
            .any(|a| a.starts_with("--tls-cert-file") || a.starts_with("--tls-key-file"))
    );
    let c = container(webhook);
    assert!(
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "POD_NAMESPACE"
                && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"),
        "{}",
        c["env"]
    );
    assert!(
        c.get("volumeMounts").is_none() && webhook.value["spec"]["template"]["spec"].get("volumes").is_none()
    );
    find(&docs, "Service", "sealgate-webhook");
    let vwc = find(&docs, "ValidatingWebhookConfiguration", "sealgate");
    assert!(vwc.value["webhooks"][0]["clientConfig"].get("caBundle").is_none());
    assert!(vwc.value["metadata"].get("annotations").is_none());

    // Its RBAC: that one Secret and that one webhook configuration.
    assert_eq!(
        rules(find(&docs, "Role", "sealgate-webhook-certs")),
        ["/secrets: create", "/secrets[sealgate-webhook-tls]: get,update"]
    );
    let binding = find(&docs, "RoleBinding", "sealgate-webhook-certs");
    assert_eq!(binding.value["subjects"][0]["name"], "sealgate-webhook");
    assert_eq!(binding.namespace(), Some("sealgate-system"));
    let cluster = rules(find(&docs, "ClusterRole", "sealgate-webhook"));
    assert!(
        cluster.contains(
            &"admissionregistration.k8s.io/validatingwebhookconfigurations[sealgate]: get,patch".to_owned()
        ),
        "{cluster:?}"
    );
    assert!(
        !cluster
            .iter()
            .any(|r| r.contains("secrets: ") && r.contains("update")),
        "no write on Secrets cluster-wide: {cluster:?}"
    );
}

#[test]
fn cert_manager_mode_mounts_the_issued_certificate() {
    let Some(helm) = helm() else {
        eprintln!("skipping chart checks: no helm");
        return;
    };
    let (text, docs) = render_release(
        &helm,
        "sealgate",
        "sealgate-system",
        &[
            "webhook.tls.certManager.enabled=true",
            "webhook.tls.certManager.issuerRef.name=ca",
        ],
    );
    assert!(!text.contains("BEGIN") && !text.contains("caBundle"));
    let certificate = find(&docs, "Certificate", "sealgate-webhook");
    assert_eq!(certificate.value["spec"]["secretName"], "sealgate-webhook-tls");
    assert_eq!(certificate.value["spec"]["issuerRef"]["name"], "ca");
    assert!(
        certificate.value["spec"]["dnsNames"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("sealgate-webhook.sealgate-system.svc"))
    );
    let webhook = find(&docs, "Deployment", "sealgate-webhook");
    let args = args(webhook);
    assert!(
        args.contains(&"--tls-cert-file=/tls/tls.crt".to_owned())
            && args.contains(&"--tls-key-file=/tls/tls.key".to_owned())
            && !args
                .iter()
                .any(|a| a.starts_with("--tls-secret") || a.starts_with("--webhook-configuration")),
        "{args:?}"
    );
    assert_eq!(container(webhook)["volumeMounts"][0]["mountPath"], "/tls");
    assert_eq!(
        webhook.value["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
        "sealgate-webhook-tls"
    );
    let vwc = find(&docs, "ValidatingWebhookConfiguration", "sealgate");
    assert_eq!(
        vwc.value["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "sealgate-system/sealgate-webhook"
    );
    // cert-manager writes the Secret and the CA bundle: the webhook gets no write access.
    assert!(!docs.iter().any(|d| d.name() == "sealgate-webhook-certs"));
    let cluster = rules(find(&docs, "ClusterRole", "sealgate-webhook"));
    assert!(
        !cluster
            .iter()
            .any(|r| r.contains("validatingwebhookconfigurations")),
        "{cluster:?}"
    );
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
