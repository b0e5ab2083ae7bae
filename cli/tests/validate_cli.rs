//! `sealgate validate` and `sealgate scan` run as a user runs them: fixtures,
//! every output format (snapshots), exit codes and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sealgate(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("sealgate").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SEALGATE_RECIPIENTS");
    cmd
}

/// Runs and returns (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// Compares with `tests/snapshots/NAME`; `UPDATE_SNAPSHOTS=1` rewrites it.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "snapshot {name} differs (UPDATE_SNAPSHOTS=1 to accept):\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// A temporary copy of a fixture directory.
fn copy_dir(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, to).unwrap();
    }
    dir
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

fn findings(json: &str) -> Vec<(String, String, u64, String)> {
    let doc: Value = serde_json::from_str(json).unwrap();
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap_or(0),
                f["field"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn corpus_validates_clean() {
    let corpus = workspace().join("tests/fixtures/corpus");
    let (code, out, _) = run(sealgate(&corpus).args(["validate", "--disable", "plaintext-secret", "."]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "4 files, 10 objects: 0 errors, 0 warnings, 0 notes\n");
    // Without --disable, the chart's render-time Secrets are plaintext about to be committed.
    let (code, out, _) = run(sealgate(&corpus).args(["validate", "--format", "json", "."]));
    assert_eq!(code, 1);
    let codes: Vec<String> = findings(&out).into_iter().map(|f| f.0).collect();
    assert_eq!(codes, ["plaintext-secret"; 3]);
}

#[test]
fn corpus_with_one_secret_removed_reports_exactly_what_breaks() {
    let dir = copy_dir(&workspace().join("tests/fixtures/corpus"));
    let redis = dir.path().join("redis.yaml");
    let text = std::fs::read_to_string(&redis).unwrap();
    let without_secret = text
        .split("\n---\n")
        .filter(|doc| !doc.contains("kind: Secret"))
        .collect::<Vec<_>>();
    std::fs::write(&redis, without_secret.join("\n---\n")).unwrap();

    let (code, out, _) = run(sealgate(dir.path()).args([
        "validate",
        "--disable",
        "plaintext-secret",
        "--format",
        "json",
        ".",
    ]));
    assert_eq!(code, 1, "{out}");
    let got = findings(&out);
    let expected = vec![
        (
            "missing-secret",
            "./redis.yaml",
            36,
            "spec.template.spec.volumes[redis-password]",
        ),
        (
            "missing-secret",
            "./webapp.yaml",
            58,
            "spec.template.spec.containers[web].env[REDIS_PASSWORD]",
        ),
        (
            "missing-secret",
            "./webapp.yaml",
            72,
            "spec.template.spec.volumes[creds].projected.sources[0].secret",
        ),
        (
            "missing-secret",
            "./worker-list.json",
            16,
            "spec.jobTemplate.spec.template.spec.containers[cleanup].envFrom[0]",
        ),
    ];
    let expected: Vec<(String, String, u64, String)> = expected
        .into_iter()
        .map(|(a, b, c, d)| (a.into(), b.into(), c, d.into()))
        .collect();
    assert_eq!(got, expected, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["findings"][0]["message"],
        "Secret \"shop-redis\" not found and no SealedSecret provides it"
    );
    assert_eq!(doc["findings"][0]["object"], "StatefulSet shop/shop-redis-master");
}

#[test]
fn examples_in_every_format() {
    let examples = workspace().join("examples");
    for (format, file) in [
        ("text", "examples.txt"),
        ("json", "examples.json"),
        ("sarif", "examples.sarif"),
        ("github", "examples.github"),
        ("gitlab", "examples.gitlab.json"),
    ] {
        let (code, out, _) = run(sealgate(&examples).args(["validate", "--format", format, "."]));
        assert_eq!(code, 1, "{format}: the demo has one deliberately missing key");
        snapshot(file, &out);
    }
    let (code, out, _) = run(sealgate(&examples).args(["validate", "apps"]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with("5 files, 11 objects: 0 errors, 0 warnings, 2 notes\n"),
        "{out}"
    );
    // Every kind of provider is counted: Secret-less ExternalSecret keys are noted, not failed.
    assert!(
        out.contains("provided by ExternalSecret shop/feature-flags, whose keys are not known"),
        "{out}"
    );
    assert!(out.contains("sealgate.dev/external-secrets annotation"), "{out}");
}

#[test]
fn sarif_has_what_code_scanning_requires() {
    let examples = workspace().join("examples");
    let (_, out, _) = run(sealgate(&examples).args(["validate", "--format", "sarif", "."]));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &doc["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "sealgate");
    let rules = driver["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let rule = r["ruleId"].as_str().unwrap();
        assert!(rules.iter().any(|x| x["id"] == rule), "rule {rule} not described");
        assert!(["error", "warning", "note", "none"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.starts_with('/') && !uri.starts_with("./"), "{uri}");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn stdin_is_read_with_a_dash() {
    let examples = workspace().join("examples");
    let input = std::fs::read(examples.join("broken/worker.yaml")).unwrap();
    let (code, out, _) = run(sealgate(&examples)
        .args(["validate", "-n", "shop", "-"])
        .write_stdin(input));
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "<stdin>:22: error[missing-secret] Deployment shop/worker: Secret \"db-creds\" not found"
        ),
        "{out}"
    );
}

#[test]
fn exit_codes_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x\n",
    )
    .unwrap();
    std::fs::write(d.join("values.yaml"), "replicaCount: 2\nimage: {tag: latest}\n").unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "."]));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("./bad.yaml:4: error[invalid-manifest]")
            || out.contains("./bad.yaml:3: error[invalid-manifest]"),
        "{out}"
    );
    assert!(
        out.contains("./values.yaml: note[not-kubernetes] skipped"),
        "{out}"
    );

    let (code, _, err) = run(sealgate(d).args(["validate"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(sealgate(d).args(["validate", "--format", "xml", "."]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(sealgate(d).args(["validate", "missing-dir"]));
    assert_eq!(code, 2);
    assert!(err.contains("missing-dir"), "{err}");

    // Parser budget: a billion-laughs document and absurd nesting are refused, not expanded.
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    std::fs::write(d.join("bad.yaml"), bomb).unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "bad.yaml"]));
    assert_eq!(code, 2);
    assert!(out.contains("error[invalid-manifest]"), "{out}");
    std::fs::write(
        d.join("bad.yaml"),
        format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000)),
    )
    .unwrap();
    let (code, _, _) = run(sealgate(d).args(["validate", "bad.yaml"]));
    assert_eq!(code, 2);
}

/// A chart render that repeats a label key, as the AWS EKS `aws-dranet` chart does.
const RENDER_WITH_A_LABEL_TWICE: &str = "---
# Source: aws-dranet/templates/daemonset.yaml
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: aws-dranet
  namespace: kube-system
  labels:
    app.kubernetes.io/name: aws-dranet
    app: dranet
    app: aws-dranet
spec:
  template:
    spec:
      containers:
      - name: dranet
        image: x
        env:
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: dranet-token, key: token}}
";

#[test]
fn a_key_given_twice_is_read_as_kubectl_reads_it_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("render.yaml"), RENDER_WITH_A_LABEL_TWICE).unwrap();
    // The rest is still checked: the missing Secret is found past the repeated key.
    let (code, out, _) = run(sealgate(d).args(["validate", "render.yaml"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "render.yaml:11: warning[duplicate-key] DaemonSet kube-system/aws-dranet: metadata.labels: \
             key \"app\" appears twice (line 10 and line 11); the last value is used, as kubectl does"
        ),
        "{out}"
    );
    assert!(
        out.contains("render.yaml:19: error[missing-secret] DaemonSet kube-system/aws-dranet"),
        "{out}"
    );
    // A warning alone does not fail the run, as for every other warning.
    std::fs::write(
        d.join("token.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: dranet-token\n  namespace: kube-system\n  \
         annotations: {sealgate.dev/plaintext-ok: test}\nstringData: {token: x}\n",
    )
    .unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "--format", "json", "."]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        findings(&out),
        [(
            "duplicate-key".to_owned(),
            "./render.yaml".to_owned(),
            11,
            String::new()
        )]
    );
    let (code, out, _) = run(sealgate(d).args(["validate", "--disable", "duplicate-key", "."]));
    assert_eq!(
        (code, out.as_str()),
        (0, "2 files, 2 objects: 0 errors, 0 warnings, 0 notes\n")
    );
}

#[test]
fn a_list_of_names_under_image_pull_secrets_is_named_as_the_field_it_is() {
    // Some charts render `imagePullSecrets` from a mis-set value as a list of strings.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("app.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: ns}\nspec:\n  template:\n    spec:\n      \
         imagePullSecrets: [regcred]\n      containers: [{name: c}]\n",
    )
    .unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "."]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "app.yaml:7: error[invalid-workload] Deployment ns/api: `imagePullSecrets[0]` must be \
             a mapping with a `name` (spec.template.spec.imagePullSecrets[0])"
        ),
        "{out}"
    );
    assert!(!out.contains("pod spec"), "{out}");
}

#[test]
fn config_declares_disables_and_errors_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("app.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\
            \n  imagePullSecrets: [{name: regcred}]\n  containers:\n  - name: c\
            \n    env:\n    - name: A\n      valueFrom: {secretKeyRef: {name: vault-db, key: url}}\
            \n",
    )
    .unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "--format", "json", "."]));
    assert_eq!(code, 1);
    let codes: Vec<String> = findings(&out).into_iter().map(|f| f.0).collect();
    assert_eq!(codes, ["missing-image-pull-secret", "missing-secret"]);

    std::fs::write(
        d.join(".sealgate.yaml"),
        "disable: [missing-image-pull-secret]\nexternalSecrets:\n  - name: 'vault-*'\n    namespace: ns\n    keys: [url]\n    reason: injected by the Vault agent\n",
    )
    .unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "."]));
    assert_eq!(
        (code, out.as_str()),
        (0, "1 files, 1 objects: 0 errors, 0 warnings, 0 notes\n")
    );

    std::fs::write(
        d.join(".sealgate.yaml"),
        "disable: []\nexternalSecrets:\n  - name: x\n    reasn: typo\n",
    )
    .unwrap();
    let (code, _, err) = run(sealgate(d).args(["validate", "."]));
    assert_eq!(code, 2);
    assert!(err.contains(".sealgate.yaml") && err.contains("line "), "{err}");
}

#[test]
fn sealed_secret_checks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo_key = run(sealgate(d).args(["keygen", "-o", "repo.txt"]))
        .1
        .trim()
        .to_owned();
    let other_key = run(sealgate(d).args(["keygen", "-o", "other.txt"]))
        .1
        .trim()
        .to_owned();
    std::fs::write(d.join("recipients.txt"), format!("{repo_key}\n")).unwrap();
    let (code, sealed, err) = run(sealgate(d).args([
        "seal",
        "-r",
        &other_key,
        "--name",
        "db",
        "--namespace",
        "prod",
        "--from-literal",
        "password=x",
    ]));
    assert_eq!(code, 0, "{err}");
    std::fs::write(d.join("db.yaml"), &sealed).unwrap();
    let (code, out, _) = run(sealgate(d).args([
        "validate",
        "--recipients-file",
        "recipients.txt",
        "--format",
        "json",
        ".",
    ]));
    assert_eq!(code, 0, "warnings only: {out}");
    let codes: Vec<String> = findings(&out).into_iter().map(|f| f.0).collect();
    assert_eq!(codes, ["missing-recipient", "unknown-recipient"]);

    let mangled = sealed.replace("password: YWdl", "password: Ym9n");
    std::fs::write(d.join("db.yaml"), format!("{mangled}---\n{sealed}")).unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "--format", "json", "."]));
    assert_eq!(code, 1);
    let got = findings(&out);
    assert_eq!(got[0].0, "malformed-sealed-value");
    assert_eq!(got[0].3, "spec.encryptedData.password");
    assert_eq!(got[1].0, "duplicate-object");
}

#[test]
fn template_data_keys_are_provided_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = run(sealgate(d).args(["keygen", "-o", "key.txt"]))
        .1
        .trim()
        .to_owned();
    let (code, sealed, err) = run(sealgate(d).args([
        "seal",
        "-r",
        &key,
        "--name",
        "db",
        "--namespace",
        "prod",
        "--from-literal",
        "password=x",
        "-o",
        "json",
    ]));
    assert_eq!(code, 0, "{err}");
    let mut sealed: Value = serde_json::from_str(&sealed).unwrap();
    sealed["spec"]["template"]["data"] = serde_json::json!({"config.yaml": "password: {{ .password }}\n"});
    let deployment = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "prod"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "api", "image": "x",
        "volumeMounts": [], "env": [{"name": "CONFIG", "valueFrom": {"secretKeyRef": {"name": "db", "key": "config.yaml"}}}]}]}}}}"#;
    std::fs::write(d.join("deploy.json"), deployment).unwrap();
    std::fs::write(d.join("db.json"), sealed.to_string()).unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "--format", "json", "deploy.json", "db.json"]));
    assert_eq!(code, 0, "a template key is a provided key: {out}");

    sealed["spec"]["template"]["data"]["config.yaml"] = serde_json::json!("password: {{ .token }}");
    sealed["spec"]["template"]["data"]["password"] = serde_json::json!("{{ .password }}");
    std::fs::write(d.join("db.json"), sealed.to_string()).unwrap();
    let (code, out, _) = run(sealgate(d).args(["validate", "--format", "json", "deploy.json", "db.json"]));
    assert_eq!(code, 1, "{out}");
    let got: Vec<(String, String)> = findings(&out).into_iter().map(|f| (f.0, f.3)).collect();
    assert_eq!(
        got,
        [
            (
                "invalid-template".to_owned(),
                "spec.template.data.config.yaml".to_owned()
            ),
            (
                "invalid-template".to_owned(),
                "spec.template.data.password".to_owned()
            ),
        ]
    );
    assert!(out.contains("key \\\"token\\\" is not sealed"), "{out}");
}

#[test]
fn plaintext_secrets_and_their_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\nstringData:\n  token: CANARY-validate-91f2\n";
    std::fs::write(d.join("s.yaml"), secret).unwrap();
    let (code, out, err) = run(sealgate(d).args(["validate", "."]));
    assert_eq!(code, 1);
    assert!(
        out.contains("./s.yaml:1: error[plaintext-secret] Secret ns/s: plaintext Secret with keys \"token\""),
        "{out}"
    );
    assert!(!out.contains("CANARY") && !err.contains("CANARY"));
    let annotated = secret.replace(
        "  namespace: ns\n",
        "  namespace: ns\n  annotations:\n    sealgate.dev/plaintext-ok: test fixture\n",
    );
    std::fs::write(d.join("s.yaml"), annotated).unwrap();
    let (code, _, _) = run(sealgate(d).args(["validate", "."]));
    assert_eq!(code, 0);
}

#[test]
fn scan_finds_plaintext_and_env_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("deploy")).unwrap();
    std::fs::write(
        d.join("deploy/s.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: dg==}\n",
    )
    .unwrap();
    std::fs::write(d.join(".env"), "TOKEN=CANARY-scan-77\n").unwrap();
    std::fs::write(d.join(".env.example"), "TOKEN=\n").unwrap();
    std::fs::write(d.join("deploy/chart.yaml"), "{{ .Values.x }}: [\n").unwrap();
    let (code, out, err) = run(sealgate(d).args(["scan"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("./.env: error[env-file]"), "{out}");
    assert!(
        out.contains("./deploy/s.yaml:1: error[plaintext-secret]"),
        "{out}"
    );
    assert!(out.contains("note[unparsed]"), "{out}");
    assert!(!out.contains(".env.example") && !out.contains("CANARY"), "{out}");

    let (code, out, _) = run(sealgate(d).args(["scan", "--ignore", "deploy", "--ignore", ".env"]));
    assert_eq!(code, 0, "{out}");
    let (code, _, _) = run(sealgate(d).args(["scan", "deploy/chart.yaml"]));
    assert_eq!(code, 0);
}

#[test]
fn scan_gitlab_report_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("deploy")).unwrap();
    std::fs::write(
        d.join("deploy/s.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\ndata: {k: dg==}\n",
    )
    .unwrap();
    std::fs::write(d.join(".env"), "TOKEN=CANARY-scan-77\n").unwrap();
    std::fs::write(d.join("deploy/chart.yaml"), "{{ .Values.x }}: [\n").unwrap();
    let (code, out, _) = run(sealgate(d).args(["scan", "--format", "gitlab"]));
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("CANARY"), "{out}");
    snapshot("scan.gitlab.json", &out);
    // What GitLab requires of every issue.
    let issues: Value = serde_json::from_str(&out).unwrap();
    for issue in issues.as_array().unwrap() {
        for field in ["description", "check_name", "fingerprint"] {
            assert!(!issue[field].as_str().unwrap().is_empty(), "{field}: {issue}");
        }
        assert!(
            ["info", "minor", "major", "critical", "blocker"].contains(&issue["severity"].as_str().unwrap())
        );
        let path = issue["location"]["path"].as_str().unwrap();
        assert!(!path.starts_with('/') && !path.starts_with("./"), "{path}");
        assert!(issue["location"]["lines"]["begin"].as_u64().unwrap() >= 1);
    }
    // The same tree scanned again gives the same fingerprints.
    let (_, again, _) = run(sealgate(d).args(["scan", "--format", "gitlab"]));
    assert_eq!(again, out);
}
