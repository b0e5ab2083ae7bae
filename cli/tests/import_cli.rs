//! `sealgate import bitnami` run as a user runs it, on SealedSecrets made by
//! Bitnami's own kubeseal v0.36.6 (`tests/testdata/bitnami/`): every fixture
//! imports and unseals to the plaintexts its README gives; wrong keys, altered
//! and moved values, and hostile input fail with one line and write nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// Plaintexts that must never appear in any output of the importer.
const PLAINTEXTS: &[&str] = &["app-demo", "p@ss-demo", "MIIBdemo", "MIIEdemo", "raw-demo"];

/// Every base64 line of the Bitnami private keys: no output may show one.
fn private_key_lines() -> Vec<String> {
    ["controller.key.pem", "old.key.pem"]
        .iter()
        .flat_map(|f| fixture_text(f).lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/bitnami")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A scratch directory with a sealgate identity; the Bitnami keys stay in testdata.
struct Sandbox {
    dir: tempfile::TempDir,
    recipient: String,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sandbox {
            dir,
            recipient: String::new(),
        };
        let (code, out, err) = s.run(&["keygen", "-o", "id.txt"]);
        assert_eq!(code, 0, "{err}");
        s.recipient = out.trim().to_owned();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name).display().to_string()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("sealgate").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("SEALGATE_RECIPIENTS")
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .args(args);
        cmd
    }

    /// Runs; returns (code, stdout, stderr). Never a panic, never a plaintext.
    fn run_cmd(&self, mut cmd: Command) -> (i32, String, String) {
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_cmd(self.cmd(args))
    }

    /// `sealgate import bitnami --key KEY -r RECIPIENT ARGS…`, checking that no plaintext is printed.
    fn import(&self, keys: &[&str], args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<String> = vec!["import".into(), "bitnami".into()];
        for k in keys {
            all.push("--key".into());
            all.push((*k).to_owned());
        }
        all.push("-r".into());
        all.push(self.recipient.clone());
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let (code, out, err) = self.run(&refs);
        for p in PLAINTEXTS {
            assert!(!out.contains(p), "stdout shows plaintext {p:?}: {out}");
            assert!(!err.contains(p), "stderr shows plaintext {p:?}: {err}");
        }
        for l in private_key_lines() {
            assert!(
                !out.contains(&l) && !err.contains(&l),
                "output shows the private key"
            );
        }
        (code, out, err)
    }

    fn import_ok(&self, keys: &[&str], args: &[&str]) -> String {
        let (code, out, err) = self.import(keys, args);
        assert_eq!(code, 0, "import {args:?} failed: {err}");
        out
    }

    /// Fails with exit 2 and one line on stderr that contains every needle; prints nothing.
    fn import_fails(&self, keys: &[&str], args: &[&str], needles: &[&str]) -> String {
        let (code, out, err) = self.import(keys, args);
        assert_eq!(code, 2, "import {args:?} should fail with 2: {err}");
        assert_eq!(out, "", "nothing may be written on failure");
        assert_eq!(err.trim().lines().count(), 1, "one-line error expected: {err}");
        for n in needles {
            assert!(err.contains(n), "{err:?} should mention {n:?}");
        }
        err
    }

    /// Unseals `manifest` with the sandbox identity; every Secret's data, decoded.
    fn unseal(&self, manifest: &str) -> Vec<(Value, BTreeMap<String, String>)> {
        let file = self.write("to-unseal.yaml", manifest);
        let (code, out, err) = self.run(&["unseal", "-i", "id.txt", "-f", &file, "-o", "json"]);
        assert_eq!(code, 0, "unseal failed: {err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let items = match doc["kind"].as_str() {
            Some("List") => doc["items"].as_array().unwrap().clone(),
            _ => vec![doc],
        };
        items
            .into_iter()
            .map(|secret| {
                let data = secret["data"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        let bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
                        (k.clone(), String::from_utf8(bytes).unwrap())
                    })
                    .collect();
                (secret, data)
            })
            .collect()
    }
}

fn key(name: &str) -> String {
    fixture(name).display().to_string()
}

fn fixture_arg(name: &str) -> String {
    fixture(name).display().to_string()
}

/// `db-creds`/`api-tokens`/`legacy` as the README gives them.
fn demo_values(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("username".to_owned(), "app-demo".to_owned()),
        ("password".to_owned(), format!("p@ss-demo-{name}-Ω")),
        ("empty".to_owned(), String::new()),
    ])
}

fn json_docs(out: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(out).unwrap();
    match doc["kind"].as_str() {
        Some("List") => doc["items"].as_array().unwrap().clone(),
        _ => vec![doc],
    }
}

fn check_template_metadata(secret: &Value) {
    assert_eq!(secret["metadata"]["labels"]["app"], "shop");
    assert_eq!(secret["metadata"]["labels"]["tier"], "demo");
    let annotations = secret["metadata"]["annotations"].as_object().unwrap();
    assert_eq!(annotations.get("team").unwrap(), "payments");
    assert!(
        !annotations
            .keys()
            .any(|k| k.starts_with("sealedsecrets.bitnami.com/")),
        "Bitnami's own annotations are dropped: {annotations:?}"
    );
    assert_eq!(secret["type"], "Opaque");
}

#[test]
fn every_object_fixture_imports_and_unseals_to_its_plaintexts() {
    let s = Sandbox::new();
    let controller = key("controller.key.pem");
    let cases: [(&str, &str, &str, &str); 5] = [
        ("strict.yaml", "controller.key.pem", "db-creds", "strict"),
        (
            "namespace-wide.yaml",
            "controller.key.pem",
            "db-creds",
            "namespace",
        ),
        ("cluster-wide.yaml", "controller.key.pem", "db-creds", "cluster"),
        ("strict.json", "controller.key.pem", "api-tokens", "strict"),
        ("strict-old-key.yaml", "old.key.pem", "legacy", "strict"),
    ];
    for (file, key_file, name, scope) in cases {
        let out = s.import_ok(&[&key(key_file)], &["-f", &fixture_arg(file), "-o", "json"]);
        let sealed = json_docs(&out);
        assert_eq!(sealed.len(), 1, "{file}");
        let obj = &sealed[0];
        assert_eq!(obj["apiVersion"], "sealgate.dev/v1alpha1", "{file}");
        assert_eq!(obj["metadata"]["name"], name, "{file}");
        assert_eq!(obj["metadata"]["namespace"], "shop", "{file}");
        assert_eq!(
            obj["metadata"]["annotations"]["sealgate.dev/scope"], scope,
            "{file}"
        );
        let meta_keys: Vec<&String> = obj["metadata"]["annotations"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            meta_keys,
            ["sealgate.dev/recipients", "sealgate.dev/scope"],
            "{file}: the Bitnami scope annotation is replaced by sealgate's"
        );
        let secrets = s.unseal(&out);
        let (secret, data) = &secrets[0];
        assert_eq!(data, &demo_values(name), "{file}");
        check_template_metadata(secret);
    }
    // The YAML form is what people commit; it unseals the same.
    let out = s.import_ok(&[&controller], &["-f", &fixture_arg("strict.yaml")]);
    assert!(out.starts_with("apiVersion: sealgate.dev/v1alpha1\n"), "{out}");
    assert_eq!(s.unseal(&out)[0].1, demo_values("db-creds"));
}

#[test]
fn tls_secret_keeps_its_type_and_values() {
    let s = Sandbox::new();
    let out = s.import_ok(&[&key("controller.key.pem")], &["-f", &fixture_arg("tls.yaml")]);
    let (secret, data) = s.unseal(&out).remove(0);
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["name"], "web-tls");
    assert_eq!(
        data,
        BTreeMap::from([
            (
                "tls.crt".to_owned(),
                "-----BEGIN CERTIFICATE-----\nMIIBdemo\n-----END CERTIFICATE-----\n".to_owned()
            ),
            (
                "tls.key".to_owned(),
                "-----BEGIN PRIVATE KEY-----\nMIIEdemo\n-----END PRIVATE KEY-----\n".to_owned()
            ),
        ])
    );
}

#[test]
fn template_data_is_carried_over_and_renders_as_bitnami_renders_it() {
    let s = Sandbox::new();
    let out = s.import_ok(
        &[&key("controller.key.pem")],
        &["-f", &fixture_arg("template-data.yaml"), "-o", "json"],
    );
    let obj = &json_docs(&out)[0];
    assert_eq!(
        obj["spec"]["template"]["data"],
        serde_json::json!({"config.yaml": "db:\n  user: {{ index . \"username\" }}\n  password: {{ .password }}\n"})
    );
    assert_eq!(obj["spec"]["template"]["type"], "Opaque");
    assert_eq!(obj["spec"]["template"]["metadata"]["labels"]["app"], "shop");
    // Unsealed, the template renders to what Bitnami's controller renders (the fixture README).
    let (_, data) = s.unseal(&out).remove(0);
    let mut want = demo_values("db-creds");
    want.insert(
        "config.yaml".into(),
        "db:\n  user: app-demo\n  password: p@ss-demo-db-creds-Ω\n".into(),
    );
    assert_eq!(data, want);
    // YAML output carries it too.
    let out = s.import_ok(
        &[&key("controller.key.pem")],
        &["-f", &fixture_arg("template-data.yaml")],
    );
    assert!(
        out.contains("    data:\n      config.yaml: \"db:\\n  user: {{ index . \\\"username\\\" }}\\n  password: {{ .password }}\\n\"\n"),
        "{out}"
    );
    // A Sprig function, which Bitnami renders and sealgate does not, is refused at import.
    let text = std::fs::read_to_string(fixture("template-data.yaml")).unwrap();
    let sprig = s.write(
        "sprig.yaml",
        &text.replace("{{ .password", "{{ .password | upper"),
    );
    let (code, out, err) = s.import(&[&key("controller.key.pem")], &["-f", &sprig]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("spec.template.data[\"config.yaml\"]: line 3, column 13: unsupported template syntax"),
        "{err}"
    );
}

#[test]
fn raw_values_import_as_raw_and_inside_a_hand_written_sealed_secret() {
    let s = Sandbox::new();
    let controller = key("controller.key.pem");
    let cases = [
        (
            "raw-strict.txt",
            &["--namespace", "shop", "--name", "db-creds"][..],
            "raw-demo-value",
            "strict",
        ),
        (
            "raw-namespace-wide.txt",
            &["--namespace", "shop"][..],
            "raw-demo-ns",
            "namespace",
        ),
        (
            "raw-cluster-wide.txt",
            &["--scope", "cluster-wide"][..],
            "raw-demo-cluster",
            "cluster",
        ),
    ];
    for (file, flags, plaintext, scope) in cases {
        let mut args = vec!["--raw", "--data-key", "token", "-f"];
        let path = fixture_arg(file);
        args.push(&path);
        args.extend_from_slice(flags);
        let out = s.import_ok(&[&controller], &args);
        let sealed = out.trim();
        assert!(!sealed.contains('\n'), "one line: {out}");
        // The new value, pasted into a sealgate SealedSecret named and placed as it was sealed for.
        let manifest = format!(
            "apiVersion: sealgate.dev/v1alpha1\nkind: SealedSecret\nmetadata: {{name: db-creds, namespace: \
                shop, annotations: {{sealgate.dev/scope: {scope}}}}}\nspec:\
                \n  encryptedData:\n    token: {sealed}\n"
        );
        let (_, data) = s.unseal(&manifest).remove(0);
        assert_eq!(data["token"], plaintext, "{file}");

        // The same raw value pasted into a Bitnami SealedSecret by hand imports as an object.
        let bitnami = format!(
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db-creds\n  namespace: shop\n{}spec:\n  encryptedData:\n    token: {}\n",
            match scope {
                "namespace" => "  annotations: {sealedsecrets.bitnami.com/namespace-wide: \"true\"}\n",
                "cluster" => "  annotations: {sealedsecrets.bitnami.com/cluster-wide: \"true\"}\n",
                _ => "",
            },
            fixture_text(file).trim()
        );
        let input = s.write("hand.yaml", &bitnami);
        let out = s.import_ok(&[&controller], &["-f", &input]);
        let (_, data) = s.unseal(&out).remove(0);
        assert_eq!(data["token"], plaintext, "{file} in a SealedSecret");
    }
    // A raw value given the wrong scope says which scope it was sealed with.
    let path = fixture_arg("raw-namespace-wide.txt");
    s.import_fails(
        &[&controller],
        &[
            "--raw",
            "--data-key",
            "t",
            "--namespace",
            "shop",
            "--name",
            "db-creds",
            "-f",
            &path,
        ],
        &[
            "raw-namespace-wide.txt",
            "shop/db-creds",
            "sealed namespace-wide but --scope is strict",
        ],
    );
    s.import_fails(
        &[&controller],
        &["--raw", "--data-key", "t", "--name", "db-creds", "-f", &path],
        &["--raw needs --namespace"],
    );
}

#[test]
fn several_documents_lists_and_files_keep_their_order() {
    let s = Sandbox::new();
    let multi = format!(
        "{}\n---\n{}",
        fixture_text("tls.yaml"),
        fixture_text("namespace-wide.yaml")
    );
    let multi = s.write("multi.yaml", &multi);
    let list = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{}]}}",
        fixture_text("strict.json")
    );
    let list = s.write("list.json", &list);
    let out = s.import_ok(
        &[&key("controller.key.pem"), &key("old.key.pem")],
        &[
            "-f",
            &multi,
            "-f",
            &list,
            "-f",
            &fixture_arg("strict-old-key.yaml"),
            "-o",
            "json",
        ],
    );
    let names: Vec<String> = json_docs(&out)
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["web-tls", "db-creds", "api-tokens", "legacy"]);
    let secrets = s.unseal(&out);
    assert_eq!(secrets[1].1, demo_values("db-creds"));
    assert_eq!(secrets[2].1, demo_values("api-tokens"));
    assert_eq!(secrets[3].1, demo_values("legacy"));

    // Standard input, when no -f is given.
    let mut cmd = s.cmd(&[
        "import",
        "bitnami",
        "--key",
        &key("controller.key.pem"),
        "-r",
        &s.recipient,
    ]);
    cmd.write_stdin(fixture_text("strict.yaml"));
    let (code, out, err) = s.run_cmd(cmd);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.unseal(&out)[0].1, demo_values("db-creds"));
}

/// The key Secrets as `kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` prints them.
fn key_secret_list() -> String {
    let current = fixture_text("controller-key-secret.yaml");
    let old_pem = STANDARD.encode(fixture_text("old.key.pem"));
    let old_crt = STANDARD.encode(fixture_text("old.cert.pem"));
    let indent = |doc: &str| {
        doc.lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("- {l}")
                } else {
                    format!("  {l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let old = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sealed-secrets-keyold\
            \n  namespace: kube-system\n  labels: {{sealedsecrets.bitnami.com/sealed-secrets-key: active}}\
            \ntype: kubernetes.io/tls\ndata:\n  tls.crt: {old_crt}\n  tls.key: {old_pem}\
            \n"
    );
    format!(
        "apiVersion: v1\nitems:\n{}\n{}\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
        indent(&current),
        indent(&old)
    )
}

#[test]
fn keys_from_the_controllers_secret_list() {
    let s = Sandbox::new();
    let keys = s.write("bitnami-keys.yaml", &key_secret_list());
    let out = s.import_ok(
        &[&keys],
        &[
            "-f",
            &fixture_arg("strict.yaml"),
            "-f",
            &fixture_arg("strict-old-key.yaml"),
        ],
    );
    let secrets = s.unseal(&out);
    assert_eq!(secrets[0].1, demo_values("db-creds"));
    assert_eq!(secrets[1].1, demo_values("legacy"));
    // The single Secret as the fixture has it works as well.
    let out = s.import_ok(
        &[&key("controller-key-secret.yaml")],
        &["-f", &fixture_arg("strict.yaml")],
    );
    assert_eq!(s.unseal(&out)[0].1, demo_values("db-creds"));
}

#[test]
fn wrong_key_names_the_object_and_keys_and_writes_nothing() {
    let s = Sandbox::new();
    let target = s.write("out.yaml", "previous contents\n");
    let err = s.import_fails(
        &[&key("old.key.pem")],
        &["-f", &fixture_arg("strict.yaml"), "-w", &target],
        &[
            "strict.yaml: document 1 (line 2): SealedSecret shop/db-creds",
            "keys \"empty\", \"password\", \"username\": no --key decrypts it as strict shop/db-creds",
        ],
    );
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous contents\n");
    // One bad object among good ones: still nothing written.
    s.import_fails(
        &[&key("controller.key.pem")],
        &[
            "-f",
            &fixture_arg("strict.yaml"),
            "-f",
            &fixture_arg("strict-old-key.yaml"),
            "-w",
            &target,
        ],
        &["SealedSecret shop/legacy"],
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous contents\n");
    let fresh = s.path("fresh.yaml").display().to_string();
    s.import_fails(
        &[&key("old.key.pem")],
        &["-f", &fixture_arg("strict.yaml"), "-w", &fresh],
        &["shop/db-creds"],
    );
    assert!(!Path::new(&fresh).exists());
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".sealgate-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `strict.yaml` with `edit` applied to the `password` value's decoded bytes.
fn with_password_bytes(edit: impl Fn(&mut Vec<u8>)) -> String {
    let text = fixture_text("strict.yaml");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("password: "))
        .unwrap();
    let value = line.trim_start().trim_start_matches("password: ");
    let mut bytes = STANDARD.decode(value).unwrap();
    edit(&mut bytes);
    text.replace(value, &STANDARD.encode(&bytes))
}

#[test]
fn tampered_values_fail_and_say_so() {
    let s = Sandbox::new();
    let controller = key("controller.key.pem");
    // A flipped byte in the AES-GCM part.
    let f = s.write(
        "tampered.yaml",
        &with_password_bytes(|b| *b.last_mut().unwrap() ^= 0x01),
    );
    s.import_fails(
        &[&controller],
        &["-f", &f],
        &[
            "SealedSecret shop/db-creds",
            "key \"password\": sealed value was altered (AES-GCM authentication failed)",
        ],
    );
    // A flipped byte in the RSA part: no key opens the session key.
    let f = s.write("tampered-rsa.yaml", &with_password_bytes(|b| b[10] ^= 0x80));
    s.import_fails(
        &[&controller],
        &["-f", &f],
        &["key \"password\": no --key decrypts it as strict shop/db-creds"],
    );
    // Cut short, and a length prefix that points past the end.
    let f = s.write("short.yaml", &with_password_bytes(|b| b.truncate(300)));
    s.import_fails(
        &[&controller],
        &["-f", &f],
        &["key \"password\": sealed value says its RSA part is 512 bytes but only 298 follow"],
    );
    let f = s.write("tiny.yaml", &with_password_bytes(|b| b.truncate(1)));
    s.import_fails(
        &[&controller],
        &["-f", &f],
        &["key \"password\": sealed value is 1 bytes, too short"],
    );
}

#[test]
fn a_value_moved_to_another_name_or_namespace_does_not_import() {
    let s = Sandbox::new();
    let controller = key("controller.key.pem");
    let renamed = s.write(
        "renamed.yaml",
        &fixture_text("strict.yaml").replacen("  name: db-creds\n", "  name: db-other\n", 1),
    );
    s.import_fails(
        &[&controller],
        &["-f", &renamed],
        &[
            "SealedSecret shop/db-other",
            "no --key decrypts it as strict shop/db-other",
        ],
    );
    let moved = s.write(
        "moved.yaml",
        &fixture_text("strict.yaml").replacen("  namespace: shop\n", "  namespace: prod\n", 1),
    );
    s.import_fails(&[&controller], &["-f", &moved], &["SealedSecret prod/db-creds"]);
    // A namespace-wide value is not bound to the name (Bitnami's rule), so renaming it is fine...
    let renamed_ns = s.write(
        "renamed-ns.yaml",
        &fixture_text("namespace-wide.yaml").replacen("  name: db-creds\n", "  name: db-other\n", 1),
    );
    let out = s.import_ok(&[&controller], &["-f", &renamed_ns]);
    assert_eq!(s.unseal(&out)[0].1, demo_values("db-creds"));
    // ...but dropping its scope annotation is caught, and named.
    let unannotated = s.write(
        "unannotated.yaml",
        &fixture_text("namespace-wide.yaml").replacen(
            "    sealedsecrets.bitnami.com/namespace-wide: \"true\"\n",
            "    other: x\n",
            1,
        ),
    );
    s.import_fails(
        &[&controller],
        &["-f", &unannotated],
        &["sealed namespace-wide but the SealedSecret says strict: annotate it sealedsecrets.bitnami.com/namespace-wide: \"true\""],
    );
}

#[test]
fn namespace_comes_from_the_object_or_the_flag() {
    let s = Sandbox::new();
    let controller = key("controller.key.pem");
    let no_ns = s.write(
        "no-ns.yaml",
        &fixture_text("strict.yaml").replacen("  namespace: shop\n", "", 1),
    );
    s.import_fails(
        &[&controller],
        &["-f", &no_ns],
        &["no-ns.yaml", "pass -n/--namespace"],
    );
    let out = s.import_ok(&[&controller], &["-f", &no_ns, "-n", "shop"]);
    assert!(out.contains("  namespace: shop\n"), "{out}");
    assert_eq!(s.unseal(&out)[0].1, demo_values("db-creds"));
    s.import_fails(
        &[&controller],
        &["-f", &fixture_arg("strict.yaml"), "-n", "prod"],
        &["metadata.namespace \"shop\" does not match --namespace \"prod\""],
    );
}

#[test]
fn metadata_of_the_sealed_secret_itself_is_kept_and_lost_behaviour_is_warned() {
    let s = Sandbox::new();
    let text = fixture_text("strict.yaml")
        .replacen(
            "metadata:\n  name: db-creds\n",
            "metadata:\n  labels: {app.kubernetes.io/part-of: shop}\n  annotations: {argocd.argoproj.io/sync-wave: \"-1\"}\n  name: db-creds\n",
            1,
        )
        .replacen(
            "        team: payments\n",
            "        team: payments\n        sealedsecrets.bitnami.com/skip-set-owner-references: \"true\"\n",
            1,
        );
    let f = s.write("meta.yaml", &text);
    let (code, out, err) = s.import(&[&key("controller.key.pem")], &["-f", &f, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: ") && err.contains("SealedSecret shop/db-creds: spec.template.metadata.annotations sealedsecrets.bitnami.com/skip-set-owner-references is dropped"),
        "{err}"
    );
    let obj = &json_docs(&out)[0];
    assert_eq!(obj["metadata"]["labels"]["app.kubernetes.io/part-of"], "shop");
    assert_eq!(
        obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
        "-1"
    );
    let template_annotations = obj["spec"]["template"]["metadata"]["annotations"]
        .as_object()
        .unwrap();
    assert_eq!(template_annotations.keys().collect::<Vec<_>>(), ["team"]);
}

#[test]
fn hostile_and_malformed_input_errors_without_panicking() {
    let s = Sandbox::new();
    let controller = key("controller.key.pem");
    let obj = |value: &str| {
        format!(
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {{name: db, namespace: shop}}\nspec:\n  encryptedData:\n    k: \"{value}\"\n"
        )
    };
    let huge = s.write("huge.yaml", &obj(&"A".repeat(3 * 1024 * 1024)));
    s.import_fails(
        &[&controller],
        &["-f", &huge],
        &[
            "SealedSecret shop/db",
            "key \"k\": sealed value is 3145728 bytes of text",
        ],
    );
    let cases = [
        ("b64.yaml", obj("not base64!"), "key \"k\": not valid base64"),
        (
            "empty.yaml",
            obj(""),
            "key \"k\": sealed value is 0 bytes, too short",
        ),
        (
            "short.yaml",
            obj("AgA="),
            "key \"k\": sealed value says its RSA part is 512 bytes but only 0 follow",
        ),
        (
            "zero-rsa.yaml",
            obj(&STANDARD.encode([0u8; 40])),
            "key \"k\": no --key decrypts it",
        ),
        ("not-yaml.yaml", "a: [\n".to_owned(), "invalid YAML"),
        (
            "secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n".to_owned(),
            "is v1/Secret, not a bitnami.com/v1alpha1 SealedSecret",
        ),
        (
            "nothing.yaml",
            "# just a comment\n".to_owned(),
            "no Bitnami SealedSecret found",
        ),
        (
            "number.yaml",
            obj("x").replace("\"x\"", "5"),
            "field spec.encryptedData.k: invalid type",
        ),
    ];
    for (name, text, needle) in cases {
        let f = s.write(name, &text);
        s.import_fails(&[&controller], &["-f", &f], &[name, needle]);
    }
    let f = s.path("binary.yaml");
    std::fs::write(&f, [0xff, 0xfe, 0x00]).unwrap();
    s.import_fails(&[&controller], &["-f", &f.display().to_string()], &["not UTF-8"]);
    // Bad keys and no recipients.
    s.import_fails(
        &[&key("controller.cert.pem")],
        &["-f", &fixture_arg("strict.yaml")],
        &["no RSA private key"],
    );
    s.import_fails(
        &[&s.path("missing.pem").display().to_string()],
        &["-f", &fixture_arg("strict.yaml")],
        &["missing.pem"],
    );
    let (code, _, err) = s.run(&[
        "import",
        "bitnami",
        "--key",
        &controller,
        "-f",
        &fixture_arg("strict.yaml"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no recipients"), "{err}");
}

#[test]
fn recipients_from_the_environment_and_json_output_for_several() {
    let s = Sandbox::new();
    let mut cmd = s.cmd(&[
        "import",
        "bitnami",
        "--key",
        &key("controller.key.pem"),
        "-f",
        &fixture_arg("strict.yaml"),
        "-f",
        &fixture_arg("tls.yaml"),
        "-o",
        "json",
    ]);
    cmd.env("SEALGATE_RECIPIENTS", &s.recipient);
    let (code, out, err) = s.run_cmd(cmd);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["kind"], "List");
    assert_eq!(doc["items"].as_array().unwrap().len(), 2);
    // -w writes the file atomically, and prints nothing.
    let target = s.path("out.yaml").display().to_string();
    let out = s.import_ok(
        &[&key("controller.key.pem")],
        &["-f", &fixture_arg("strict.yaml"), "-w", &target],
    );
    assert_eq!(out, "");
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(s.unseal(&written)[0].1, demo_values("db-creds"));
}
