//! End-to-end against the real cluster named by `SEALGATE_E2E_KUBECONFIG`
//! (skipped with a message otherwise). Runs the controller as a local process,
//! applies SealedSecrets with kubectl, and never needs a pod to be scheduled:
//! the cluster may have no nodes. Cleans up its namespaces (and the CRD when it
//! installed it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sealgate_core::{PlainSecret, Recipient, RecipientSet, Scope, SealOptions, SecretBytes, seal_secret};
use serde_json::Value;

const CANARY: &str = "CANARY-e2e-5d1f-never-logged";

struct Cluster {
    kubeconfig: String,
    id: String,
    created_crd: bool,
}

impl Cluster {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        sealgate_tests::kubectl(&self.kubeconfig, args, stdin)
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, text) = self.kubectl(args, stdin);
        assert!(ok, "kubectl {args:?}: {text}");
        text
    }

    fn json(&self, args: &[&str]) -> Option<Value> {
        let (ok, text) = self.kubectl(args, None);
        if ok {
            serde_json::from_str(&text).ok()
        } else {
            None
        }
    }

    fn ns(&self, what: &str) -> String {
        format!("sg-e2e-{what}-{}", self.id)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for what in ["ctl", "app"] {
            let _ = self.kubectl(&["delete", "namespace", &self.ns(what), "--wait=false"], None);
        }
        if self.created_crd {
            let _ = self.kubectl(
                &["delete", "crd", "sealedsecrets.sealgate.dev", "--wait=false"],
                None,
            );
        }
    }
}

struct Controller {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Controller {
    fn start(cluster: &Cluster, log: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_sealgate-controller"))
            .args([
                "--kubeconfig",
                &cluster.kubeconfig,
                "--namespace",
                &cluster.ns("ctl"),
            ])
            .args([
                "--watch-namespaces",
                &cluster.ns("app"),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "--resync-period",
                "5s",
                "--unseal-retry",
                "5s",
                "--log-level",
                "debug",
            ])
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            )
            .spawn()
            .expect("start sealgate-controller");
        Controller {
            child,
            port,
            log: log.to_path_buf(),
        }
    }

    fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200")
            .then(|| body.to_owned())
            .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_owned()))
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn sealed_yaml(
    recipient: &Recipient,
    name: &str,
    sealed_for_ns: &str,
    applied_ns: &str,
    value: &str,
) -> String {
    let mut p = PlainSecret {
        name: name.into(),
        namespace: Some(sealed_for_ns.into()),
        ..Default::default()
    };
    p.data
        .insert("password".into(), SecretBytes::copy_from(value.as_bytes()));
    let set = RecipientSet::from(vec![recipient.clone()]);
    let mut sealed = seal_secret(
        &p,
        &SealOptions {
            recipients: &set,
            scope: Scope::Strict,
        },
    )
    .unwrap();
    sealed.metadata.namespace = Some(applied_ns.into());
    sealgate_core::manifest::to_yaml(&[sealed]).unwrap()
}

#[test]
fn the_controller_keeps_secrets_as_sealed_secrets_say() {
    let Ok(kubeconfig) = std::env::var("SEALGATE_E2E_KUBECONFIG") else {
        eprintln!("skipping controller end-to-end test: SEALGATE_E2E_KUBECONFIG is not set");
        return;
    };
    let id = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1_000_000_000
    );
    let mut cluster = Cluster {
        kubeconfig,
        id,
        created_crd: false,
    };
    let crd = sealgate_core::crd::crd_yaml();
    cluster.created_crd = !cluster
        .kubectl(&["get", "crd", "sealedsecrets.sealgate.dev"], None)
        .0;
    cluster.ok(&["apply", "--server-side", "-f", "-"], Some(&crd));
    cluster.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/sealedsecrets.sealgate.dev",
            "--timeout=60s",
        ],
        None,
    );
    let (ctl, app) = (cluster.ns("ctl"), cluster.ns("app"));
    cluster.ok(&["create", "namespace", &ctl], None);
    cluster.ok(&["create", "namespace", &app], None);

    let logs = tempfile::NamedTempFile::new().unwrap();
    let controller = Controller::start(&cluster, logs.path());
    let recipient_text = eventually("the controller's first key", Duration::from_secs(60), || {
        controller.get("/v1/recipients")
    });
    let recipient: Recipient = recipient_text.lines().next().unwrap().parse().unwrap();

    // Apply: the Secret appears with its ownerReference and the value.
    cluster.ok(
        &["apply", "-f", "-"],
        Some(&sealed_yaml(&recipient, "db", &app, &app, CANARY)),
    );
    let secret = eventually("the Secret", Duration::from_secs(60), || {
        cluster.json(&["get", "secret", "db", "-n", &app, "-o", "json"])
    });
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "SealedSecret");
    assert_eq!(secret["metadata"]["annotations"]["sealgate.dev/keys"], "password");
    let b64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    assert_eq!(secret["data"]["password"], b64.as_str());
    let ready = |name: &str| {
        cluster
            .json(&["get", "sealedsecret", name, "-n", &app, "-o", "json"])
            .and_then(|s| {
                s["status"]["conditions"]
                    .as_array()
                    .and_then(|c| c.first().cloned())
            })
    };
    let condition = eventually("Ready=True", Duration::from_secs(30), || {
        ready("db").filter(|c| c["status"] == "True")
    });
    assert_eq!(condition["reason"], "Unsealed");

    // Edit: put back. Delete: recreated.
    cluster.ok(
        &[
            "patch",
            "secret",
            "db",
            "-n",
            &app,
            "--type=merge",
            "-p",
            r#"{"data":{"password":"aGFja2Vk"}}"#,
        ],
        None,
    );
    eventually("the edit to be reverted", Duration::from_secs(60), || {
        cluster
            .json(&["get", "secret", "db", "-n", &app, "-o", "json"])
            .filter(|s| s["data"]["password"] == b64.as_str())
    });
    cluster.ok(&["delete", "secret", "db", "-n", &app], None);
    eventually("the Secret to be recreated", Duration::from_secs(60), || {
        cluster.json(&["get", "secret", "db", "-n", &app, "-o", "json"])
    });

    // Sealed for another namespace: never unsealed here.
    cluster.ok(
        &["apply", "-f", "-"],
        Some(&sealed_yaml(&recipient, "moved", "elsewhere", &app, CANARY)),
    );
    let condition = eventually("Ready=False for the moved value", Duration::from_secs(60), || {
        ready("moved").filter(|c| c["status"] == "False")
    });
    assert_eq!(condition["reason"], "UnsealFailed");
    assert!(
        condition["message"].as_str().unwrap().contains("namespace"),
        "{condition}"
    );
    assert!(
        !cluster.kubectl(&["get", "secret", "moved", "-n", &app], None).0,
        "no Secret for a value sealed elsewhere"
    );

    // Restart: same key, nothing lost.
    let metrics = controller.get("/metrics").unwrap_or_default();
    let mut log = controller.stop();
    let controller = Controller::start(&cluster, logs.path());
    let again = eventually("the controller after restart", Duration::from_secs(60), || {
        controller.get("/v1/recipients")
    });
    assert_eq!(again, recipient_text, "the key survives a restart");
    let keys = cluster
        .json(&[
            "get",
            "secrets",
            "-n",
            &ctl,
            "-l",
            "sealgate.dev/sealing-key=active",
            "-o",
            "json",
        ])
        .unwrap();
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    assert!(cluster.kubectl(&["get", "secret", "db", "-n", &app], None).0);

    // Delete the SealedSecret: the Secret is garbage-collected through its ownerReference.
    cluster.ok(&["delete", "sealedsecret", "db", "-n", &app], None);
    eventually("the Secret to be collected", Duration::from_secs(120), || {
        (!cluster.kubectl(&["get", "secret", "db", "-n", &app], None).0).then_some(())
    });

    // Canary: nowhere but in the Secret itself.
    let events = cluster.ok(&["get", "events", "-n", &app, "-o", "json"], None);
    let statuses = cluster.ok(&["get", "sealedsecrets", "-n", &app, "-o", "json"], None);
    log.push_str(&controller.stop());
    for (what, text) in [
        ("logs", &log),
        ("events", &events),
        ("status", &statuses),
        ("metrics", &metrics),
    ] {
        assert!(
            !text.contains(CANARY) && !text.contains(&b64),
            "the plaintext appears in the controller's {what}"
        );
    }
    assert!(metrics.contains("sealgate_drift_corrections_total"), "{metrics}");
}
