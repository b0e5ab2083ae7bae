//! End-to-end against the real cluster named by `SEALGATE_E2E_KUBECONFIG`
//! (skipped with a message otherwise): the webhook runs as a local process and is
//! registered by `clientConfig.url` on 127.0.0.1 with its CA bundle, for one
//! test namespace only. No pod needs to be scheduled. Cleans up after itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

struct Env {
    kubeconfig: String,
    namespace: String,
    webhook_config: String,
    created_crd: bool,
    child: Option<Child>,
}

impl Env {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        sealgate_tests::kubectl(&self.kubeconfig, args, stdin)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.kubectl(
            &[
                "delete",
                "validatingwebhookconfiguration",
                &self.webhook_config,
                "--wait=false",
            ],
            None,
        );
        let _ = self.kubectl(&["delete", "namespace", &self.namespace, "--wait=false"], None);
        if self.created_crd {
            let _ = self.kubectl(
                &["delete", "crd", "sealedsecrets.sealgate.dev", "--wait=false"],
                None,
            );
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn deployment(ns: &str, name: &str, secret: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\
            \nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\
            \n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\
            \n      containers:\n      - name: app\n        image: example.invalid/app:1\
            \n        env:\n        - name: PASSWORD\n          valueFrom: {{secretKeyRef: {{name: {secret}, \
            key: password}}}}\n"
    )
}

#[test]
fn the_webhook_gates_deployments_in_a_real_cluster() {
    let Ok(kubeconfig) = std::env::var("SEALGATE_E2E_KUBECONFIG") else {
        eprintln!("skipping webhook end-to-end test: SEALGATE_E2E_KUBECONFIG is not set");
        return;
    };
    let id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    let mut env = Env {
        kubeconfig,
        namespace: format!("sg-e2e-webhook-{id}"),
        webhook_config: format!("sealgate-e2e-{id}"),
        created_crd: false,
        child: None,
    };
    let ns = env.namespace.clone();
    env.created_crd = !env.kubectl(&["get", "crd", "sealedsecrets.sealgate.dev"], None).0;
    assert!(
        env.kubectl(
            &["apply", "--server-side", "-f", "-"],
            Some(&sealgate_core::crd::crd_yaml())
        )
        .0
    );
    assert!(env.kubectl(&["create", "namespace", &ns], None).0);
    // Already broken before the webhook exists: later scaled, and must stay scalable.
    assert!(
        env.kubectl(
            &["apply", "-f", "-"],
            Some(&deployment(&ns, "broken", "never-there"))
        )
        .0
    );

    // Certificates: a CA, and a serving pair for 127.0.0.1.
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.path().join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), key.serialize_pem()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.child = Some(
        Command::new(env!("CARGO_BIN_EXE_sealgate-webhook"))
            .args([
                "--kubeconfig",
                &env.kubeconfig,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--tls-cert-file")
            .arg(dir.path().join("tls.crt"))
            .arg("--tls-key-file")
            .arg(dir.path().join("tls.key"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start sealgate-webhook"),
    );
    let ca_bundle = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(ca_cert.pem())
    };
    let config = format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\
            \nmetadata: {{name: {}}}\nwebhooks:\n- name: validate.sealgate.dev\
            \n  admissionReviewVersions: [v1]\n  sideEffects: None\n  timeoutSeconds: 5\
            \n  failurePolicy: Fail\n  clientConfig:\n    url: https://127.0.0.1:{port}/validate\
            \n    caBundle: {ca_bundle}\n  namespaceSelector:\n    matchExpressions: [{{key: kubernetes.io/metadata.name, \
            operator: In, values: [{ns}]}}]\n  rules:\n  - {{apiGroups: [apps], apiVersions: [v1], operations: \
            [CREATE, UPDATE], resources: [deployments], scope: Namespaced}}\
            \n",
        env.webhook_config
    );
    assert!(env.kubectl(&["apply", "-f", "-"], Some(&config)).0);

    // A Deployment whose Secret is missing: denied, saying what is missing (retry while the webhook starts).
    let missing = deployment(&ns, "api", "db-creds");
    let deadline = Instant::now() + Duration::from_secs(60);
    let denial = loop {
        let (ok, text) = env.kubectl(&["apply", "-f", "-"], Some(&missing));
        assert!(!ok || text.is_empty(), "admitted without its Secret: {text}");
        if text.contains("denied the request") {
            break text;
        }
        assert!(Instant::now() < deadline, "no denial from the webhook: {text}");
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        denial.contains("Secret \"db-creds\" not found and no SealedSecret provides it"),
        "{denial}"
    );

    // A SealedSecret that provides it: admitted (once the watch cache has it).
    let sealed = format!(
        "apiVersion: sealgate.dev/v1alpha1\nkind: SealedSecret\nmetadata: {{name: db-creds, namespace: {ns}}}\nspec:\n  encryptedData:\n    password: YWdlLWVuY3J5cHRpb24ub3JnL3Yx\n"
    );
    assert!(env.kubectl(&["apply", "-f", "-"], Some(&sealed)).0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, text) = env.kubectl(&["apply", "-f", "-"], Some(&missing));
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still denied with the SealedSecret in place: {text}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // Scaling the already-broken Deployment: allowed, with a warning.
    let (ok, text) = env.kubectl(
        &["scale", "deployment", "broken", "-n", &ns, "--replicas=2"],
        None,
    );
    assert!(ok, "{text}");
    // kubectl scale goes through the scale subresource, which is not a Deployment
    // UPDATE; an edit of the object itself must be admitted with a warning too.
    let (ok, text) = env.kubectl(&["label", "deployment", "broken", "-n", &ns, "touched=yes"], None);
    assert!(ok, "{text}");
    assert!(text.contains("Warning") && text.contains("never-there"), "{text}");
}
