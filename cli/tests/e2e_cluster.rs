//! `sealgate validate --cluster` against a real API server. Runs only when
//! `SEALGATE_E2E_KUBECONFIG` names a cluster; needs kubectl; creates and removes
//! its own namespace; never needs a pod to be scheduled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command as Process;

use assert_cmd::Command;

fn kubeconfig() -> Option<String> {
    match std::env::var("SEALGATE_E2E_KUBECONFIG") {
        Ok(k) if !k.is_empty() => Some(k),
        _ => {
            eprintln!("skipping cluster test: SEALGATE_E2E_KUBECONFIG is not set");
            None
        }
    }
}

struct Namespace {
    name: String,
    kubeconfig: String,
}

impl Namespace {
    fn create(kubeconfig: &str) -> Self {
        let name = format!(
            "sealgate-e2e-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let ns = Namespace {
            name,
            kubeconfig: kubeconfig.to_owned(),
        };
        ns.kubectl(&["create", "namespace", &ns.name], None);
        ns
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) {
        let (ok, text) = sealgate_tests::kubectl(&self.kubeconfig, args, stdin);
        assert!(ok, "kubectl {args:?}: {text}");
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Process::new("kubectl")
            .args([
                "--kubeconfig",
                &self.kubeconfig,
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
            ])
            .status();
    }
}

#[test]
fn validate_counts_what_the_cluster_provides() {
    let Some(kubeconfig) = kubeconfig() else { return };
    let ns = Namespace::create(&kubeconfig);
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: live-db\n  namespace: {}\n  annotations:\n    sealgate.dev/keys: password\nstringData:\n  password: e2e\n",
        ns.name
    );
    ns.kubectl(&["apply", "-f", "-"], Some(&secret));

    let dir = tempfile::tempdir().unwrap();
    let deployment = |key: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: {}}}\
                \nspec:\n  selector: {{matchLabels: {{app: api}}}}\n  template:\
                \n    metadata: {{labels: {{app: api}}}}\n    spec:\n      containers:\
                \n      - name: api\n        image: example\n        env:\
                \n        - name: P\n          valueFrom: {{secretKeyRef: {{name: live-db, key: {key}}}}}\
                \n",
            ns.name
        )
    };
    let run = |text: String| {
        std::fs::write(dir.path().join("app.yaml"), text).unwrap();
        let out = Command::cargo_bin("sealgate")
            .unwrap()
            .current_dir(dir.path())
            .args(["validate", "--cluster", "--kubeconfig", &kubeconfig, "app.yaml"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(deployment("password"));
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(deployment("nope"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Secret \"live-db\" has no key \"nope\""), "{out}");
    // Without --cluster the same Deployment has nothing providing its Secret.
    let out = Command::cargo_bin("sealgate")
        .unwrap()
        .current_dir(dir.path())
        .args(["validate", "app.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
