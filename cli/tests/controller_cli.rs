//! `sealgate recipient`, `seal --fetch`, `verify` and `reencrypt` against a
//! stand-in API server on loopback that serves the controller's endpoints at
//! the service-proxy paths, as a real API server would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::Router;
use axum::routing::{get, post};

const PROXY: &str = "/api/v1/namespaces/sealgate-system/services/sealgate-controller:http/proxy";

struct FakeCluster {
    kubeconfig: tempfile::NamedTempFile,
    posted: Arc<Mutex<Vec<String>>>,
}

/// Serves the controller endpoints through the proxy path on 127.0.0.1, in a background thread.
fn fake_cluster(recipient: String) -> FakeCluster {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let posted = Arc::new(Mutex::new(Vec::new()));
    let (p1, p2) = (posted.clone(), posted.clone());
    let app = Router::new()
        .route(&format!("{PROXY}/v1/recipients"), get(move || async move { format!("{recipient}\n") }))
        .route(
            &format!("{PROXY}/v1/verify"),
            post(move |body: String| async move {
                p1.lock().unwrap().push(body);
                r#"{"ok": false, "keys": {"password": {"ok": false, "reason": "NoMatchingKey", "message": "not sealed to any key in this keyring"}}}"#
            }),
        )
        .route(
            &format!("{PROXY}/v1/rotate"),
            post(move |body: String| async move {
                p2.lock().unwrap().push(body.clone());
                let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
                v["metadata"]["annotations"]["rotated"] = serde_json::json!("yes");
                v.to_string()
            }),
        );
    std::thread::spawn(move || {
        let rt = tokio_runtime();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let mut kubeconfig = tempfile::NamedTempFile::new().unwrap();
    use std::io::Write;
    write!(
        kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\
            \nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\
            \n  context: {{cluster: fake, user: u}}\ncurrent-context: c\
            \n"
    )
    .unwrap();
    FakeCluster { kubeconfig, posted }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sealgate(dir: &Path, kubeconfig: &Path) -> Command {
    let mut cmd = Command::cargo_bin("sealgate").unwrap();
    cmd.current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("SEALGATE_RECIPIENTS");
    cmd
}

fn keygen(dir: &Path) -> String {
    let out = Command::cargo_bin("sealgate")
        .unwrap()
        .current_dir(dir)
        .args(["keygen", "-o", "key.txt"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn recipient_and_seal_fetch_from_the_controller() {
    let dir = tempfile::tempdir().unwrap();
    let recipient = keygen(dir.path());
    let cluster = fake_cluster(recipient.clone());
    let out = sealgate(dir.path(), cluster.kubeconfig.path())
        .arg("recipient")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{recipient}\n"));

    // No recipient given and a kubeconfig present: seal fetches them.
    let out = sealgate(dir.path(), cluster.kubeconfig.path())
        .args([
            "seal",
            "--name",
            "db",
            "--namespace",
            "prod",
            "--from-literal",
            "password=fetched",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.path().join("sealed.yaml"), &out.stdout).unwrap();
    let out = Command::cargo_bin("sealgate")
        .unwrap()
        .current_dir(dir.path())
        .args(["unseal", "-i", "key.txt", "-f", "sealed.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Wrong place: a clear error naming the Service.
    let out = sealgate(dir.path(), cluster.kubeconfig.path())
        .args(["recipient", "--controller-namespace", "elsewhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("controller elsewhere/sealgate-controller"), "{err}");
}

#[test]
fn verify_and_reencrypt_post_each_sealed_secret() {
    let dir = tempfile::tempdir().unwrap();
    let recipient = keygen(dir.path());
    let cluster = fake_cluster(recipient.clone());
    let out = Command::cargo_bin("sealgate")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "seal",
            "-r",
            &recipient,
            "--name",
            "db",
            "--namespace",
            "prod",
            "--from-literal",
            "password=x",
            "-w",
            "db.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());

    let out = sealgate(dir.path(), cluster.kubeconfig.path())
        .args(["verify", "-f", "db.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SealedSecret prod/db: CANNOT be unsealed"),
        "{text}"
    );
    assert!(
        text.contains("key \"password\": not sealed to any key in this keyring"),
        "{text}"
    );

    let out = sealgate(dir.path(), cluster.kubeconfig.path())
        .args(["reencrypt", "-f", "db.yaml", "--in-place"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rewritten = std::fs::read_to_string(dir.path().join("db.yaml")).unwrap();
    assert!(
        rewritten.contains("rotated: yes")
            || rewritten.contains("rotated: 'yes'")
            || rewritten.contains("rotated: \"yes\""),
        "{rewritten}"
    );
    let posted = cluster.posted.lock().unwrap();
    assert_eq!(posted.len(), 2);
    assert!(posted.iter().all(|b| b.contains("\"kind\":\"SealedSecret\"")));
}
