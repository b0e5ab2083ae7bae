//! `sealgate keygen`, `seal`, `unseal` and `completions` run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use assert_cmd::Command;

const CANARY: &str = "CANARY-c1i-4b1d-leak";

/// A scratch directory with two keys in it.
struct Sandbox {
    dir: tempfile::TempDir,
    r1: String,
    r2: String,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sandbox {
            dir,
            r1: String::new(),
            r2: String::new(),
        };
        s.r1 = s.ok(&["keygen", "-o", "k1.txt"]).trim().to_owned();
        s.r2 = s.ok(&["keygen", "-o", "k2.txt"]).trim().to_owned();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("sealgate").unwrap();
        // Hermetic: no kubeconfig, so seal never tries to fetch recipients from a cluster.
        cmd.current_dir(self.dir.path())
            .env_remove("SEALGATE_RECIPIENTS")
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .args(args);
        cmd
    }

    /// Runs; returns (code, stdout, stderr), checking no panic and no canary on stderr.
    fn run_with(&self, mut cmd: Command) -> (i32, String, String) {
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains(CANARY), "stderr leaks the canary: {stderr}");
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_with(self.cmd(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "sealgate {args:?} failed: {err}");
        out
    }

    fn fails(&self, args: &[&str], needle: &str) -> String {
        let (code, _, err) = self.run(args);
        assert_eq!(code, 2, "sealgate {args:?} should fail with 2: {err}");
        assert!(
            err.contains(needle),
            "sealgate {args:?}: {err:?} should mention {needle:?}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one-line error expected: {err}");
        err
    }

    /// Unseals `file` with key file `key` and returns the Secret YAML.
    fn unseal(&self, key: &str, file: &str) -> String {
        self.ok(&["unseal", "-i", key, "-f", file])
    }
}

fn secret_yaml() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\
            \n  labels: {{app: db}}\n  annotations:\n    team: data\n    kubectl.kubernetes.io/last-applied-configuration: \
            '{{\"stringData\":{{\"password\":\"{CANARY}\"}}}}'\ntype: Opaque\
            \nimmutable: true\ndata:\n  user: YWRtaW4=\nstringData:\n  password: {CANARY}\
            \n"
    )
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn keygen_writes_0600_prints_the_recipient_and_never_overwrites() {
    let s = Sandbox::new();
    assert!(s.r1.starts_with("age1") && s.r1 != s.r2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path("k1.txt")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = s.read("k1.txt");
    assert!(before.contains(&format!("# public key: {}", s.r1)) && before.contains("AGE-SECRET-KEY-1"));
    s.fails(&["keygen", "-o", "k1.txt"], "already exists");
    assert_eq!(s.read("k1.txt"), before);
    let (code, out, err) = s.run(&["keygen"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("AGE-SECRET-KEY-1") && err.starts_with("Public key: age1"),
        "{err}"
    );
}

#[test]
fn seal_a_file_and_unseal_it_with_each_recipient() {
    let s = Sandbox::new();
    s.write("secret.yaml", &secret_yaml());
    let out = s.ok(&["seal", "-r", &s.r1, "-r", &s.r2, "-f", "secret.yaml"]);
    assert!(!out.contains(CANARY) && !out.contains("last-applied"), "{out}");
    assert!(out.contains("kind: SealedSecret") && out.contains("sealgate.dev/scope: strict"));
    assert!(
        out.contains("immutable: true")
            && out.contains("type: Opaque")
            && out.contains("app: db")
            && out.contains("team: data")
    );
    s.write("sealed.yaml", &out);
    for key in ["k1.txt", "k2.txt"] {
        let back = s.unseal(key, "sealed.yaml");
        assert!(back.contains(&format!("password: {}", b64(CANARY))), "{back}");
        assert!(back.contains("user: YWRtaW4="), "{back}");
    }
}

#[test]
fn seal_from_stdin_json_and_json_output() {
    let s = Sandbox::new();
    let json = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{{\"name\":\"api\"}},\"stringData\":{{\"token\":\"{CANARY}\"}}}}"
    );
    let mut cmd = s.cmd(&["seal", "-r", &s.r1, "-n", "prod", "-o", "json"]);
    cmd.write_stdin(json);
    let (code, out, err) = s.run_with(cmd);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "SealedSecret");
    assert_eq!(v["metadata"]["namespace"], "prod");
    assert!(v["spec"]["encryptedData"]["token"].as_str().unwrap().len() > 100);
}

#[test]
fn multi_document_and_list_input() {
    let s = Sandbox::new();
    let docs = "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: x}\
        \nstringData: {k: '1'}\n---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b, namespace: \
        x}\nstringData: {k: '2'}\n";
    s.write("multi.yaml", docs);
    let out = s.ok(&["seal", "-r", &s.r1, "-f", "multi.yaml"]);
    assert_eq!(out.matches("kind: SealedSecret").count(), 2);
    assert!(out.contains("\n---\n"));
    s.write("sealed.yaml", &out);
    let back = s.unseal("k1.txt", "sealed.yaml");
    assert!(back.contains("name: a") && back.contains("name: b"));

    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\
        \n  metadata: {name: a, namespace: x}\n  stringData: {k: '1'}\n- apiVersion: v1\
        \n  kind: Secret\n  metadata: {name: b, namespace: x}\n  stringData: {k: '2'}\
        \n";
    s.write("list.yaml", list);
    let out = s.ok(&["seal", "-r", &s.r1, "-f", "list.yaml", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "List");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
}

#[test]
fn build_from_literals_files_directories_and_env_files() {
    let s = Sandbox::new();
    s.write("pw.txt", CANARY);
    std::fs::create_dir(s.path("certs")).unwrap();
    s.write("certs/tls.crt", "CERT");
    s.write("certs/tls.key", "KEY");
    s.write(
        ".env",
        "# comment\n\nDB_HOST=db.internal\nFROM_ENV\nQUOTED=\"kept as is\"\n",
    );
    let mut cmd = s.cmd(&[
        "seal",
        "-r",
        &s.r1,
        "--name",
        "app",
        "--namespace",
        "prod",
        "--type",
        "kubernetes.io/tls",
        "--from-literal",
        "user=admin",
        "--from-file",
        "password=pw.txt",
        "--from-file",
        "certs",
        "--from-env-file",
        ".env",
        "-w",
        "out.yaml",
    ]);
    cmd.env("FROM_ENV", "from-the-environment");
    let (code, out, err) = s.run_with(cmd);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let sealed = s.read("out.yaml");
    assert!(sealed.contains("type: kubernetes.io/tls"));
    let back = s.unseal("k1.txt", "out.yaml");
    for (k, v) in [
        ("user", "admin"),
        ("password", CANARY),
        ("tls.crt", "CERT"),
        ("tls.key", "KEY"),
        ("DB_HOST", "db.internal"),
        ("FROM_ENV", "from-the-environment"),
        ("QUOTED", "\"kept as is\""),
    ] {
        assert!(
            back.contains(&format!("{k}: {}", b64(v))),
            "{k} missing in {back}"
        );
    }
    s.fails(
        &[
            "seal",
            "-r",
            &s.r1,
            "--name",
            "x",
            "--namespace",
            "p",
            "--from-literal",
            "a=1",
            "--from-literal",
            "a=2",
        ],
        "more than once",
    );
    s.fails(
        &["seal", "-r", &s.r1, "--namespace", "p", "--from-literal", "a=1"],
        "--name is required",
    );
    s.fails(
        &[
            "seal",
            "-r",
            &s.r1,
            "--name",
            "x",
            "--namespace",
            "p",
            "--from-env-file",
            "missing.env",
        ],
        "missing.env",
    );
}

#[test]
fn recipients_from_file_and_environment() {
    let s = Sandbox::new();
    s.write(
        "recipients.txt",
        &format!("# team keys\n{}  # cluster\n\n{}\n", s.r1, s.r2),
    );
    s.write("secret.yaml", &secret_yaml());
    let out = s.ok(&["seal", "--recipients-file", "recipients.txt", "-f", "secret.yaml"]);
    s.write("a.yaml", &out);
    s.unseal("k2.txt", "a.yaml");
    let mut cmd = s.cmd(&["seal", "-f", "secret.yaml"]);
    cmd.env("SEALGATE_RECIPIENTS", format!("{}, {}", s.r1, s.r2));
    let (code, out, _) = s.run_with(cmd);
    assert_eq!(code, 0);
    s.write("b.yaml", &out);
    s.unseal("k1.txt", "b.yaml");
    s.fails(&["seal", "-f", "secret.yaml"], "no recipients");
    s.fails(
        &["seal", "-r", "age1notakey", "-f", "secret.yaml"],
        "not an age X25519 recipient",
    );
    let private = s
        .read("k1.txt")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY"))
        .unwrap()
        .to_owned();
    let err = s.fails(&["seal", "-r", &private, "-f", "secret.yaml"], "private key");
    assert!(!err.contains(&private[16..]), "{err}");
    s.write("bad-recipients.txt", "age1ok?\n");
    s.fails(
        &[
            "seal",
            "--recipients-file",
            "bad-recipients.txt",
            "-f",
            "secret.yaml",
        ],
        "bad-recipients.txt",
    );
}

#[test]
fn scopes_decide_where_a_value_unseals() {
    let s = Sandbox::new();
    s.write("secret.yaml", &secret_yaml());
    for (scope, moved_ns, moved_name) in [
        ("strict", false, false),
        ("namespace", false, true),
        ("cluster", true, true),
    ] {
        let out = s.ok(&["seal", "-r", &s.r1, "--scope", scope, "-f", "secret.yaml"]);
        assert!(out.contains(&format!("sealgate.dev/scope: {scope}")));
        s.write("sealed.yaml", &out);
        s.unseal("k1.txt", "sealed.yaml");
        s.write("renamed.yaml", &out.replace("name: db\n", "name: renamed\n"));
        let (code, _, err) = s.run(&["unseal", "-i", "k1.txt", "-f", "renamed.yaml"]);
        assert_eq!(code == 0, moved_name, "{scope}: rename: {err}");
        s.write("moved.yaml", &out.replace("namespace: prod", "namespace: dev"));
        let (code, _, err) = s.run(&["unseal", "-i", "k1.txt", "-f", "moved.yaml"]);
        assert_eq!(code == 0, moved_ns, "{scope}: move: {err}");
        if !moved_ns {
            assert!(
                err.contains("sealed for namespace \"prod\"") && err.contains("\"dev\""),
                "{err}"
            );
            assert!(
                err.contains("moved.yaml") && err.contains("SealedSecret dev/db"),
                "{err}"
            );
        }
    }
    let (code, _, err) = s.run(&["seal", "-r", &s.r1, "--scope", "galaxy", "-f", "secret.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown scope \"galaxy\""), "{err}");
}

#[test]
fn merge_into_changes_only_the_given_keys() {
    let s = Sandbox::new();
    s.ok(&[
        "seal",
        "-r",
        &s.r1,
        "--name",
        "db",
        "--namespace",
        "prod",
        "--scope",
        "namespace",
        "--from-literal",
        "a=1",
        "--from-literal",
        "b=2",
        "--from-literal",
        "c=3",
        "-w",
        "db.yaml",
    ]);
    let before = s.read("db.yaml");
    s.ok(&[
        "seal",
        "-r",
        &s.r1,
        "--merge-into",
        "db.yaml",
        "--from-literal",
        "b=two",
        "--from-literal",
        "d=4",
    ]);
    let after = s.read("db.yaml");
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    for line in &old {
        if line.trim_start().starts_with("b: ") {
            assert!(!new.contains(line), "b was not re-sealed");
        } else {
            assert!(new.contains(line), "line changed: {line}");
        }
    }
    assert_eq!(new.len(), old.len() + 1, "only d was added");
    assert!(
        after.contains("sealgate.dev/scope: namespace"),
        "the file's scope is kept: {after}"
    );
    let back = s.unseal("k1.txt", "db.yaml");
    for (k, v) in [("a", "1"), ("b", "two"), ("c", "3"), ("d", "4")] {
        assert!(back.contains(&format!("{k}: {}", b64(v))), "{back}");
    }
    // A Secret file for another object is refused and the file is untouched.
    s.write(
        "other.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: prod}\nstringData: {x: 'v'}\n",
    );
    s.fails(
        &["seal", "-r", &s.r1, "--merge-into", "db.yaml", "-f", "other.yaml"],
        "\"other\"",
    );
    assert_eq!(s.read("db.yaml"), after);
    s.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db}\n",
    );
    s.fails(
        &[
            "seal",
            "-r",
            &s.r1,
            "--merge-into",
            "cm.yaml",
            "--from-literal",
            "x=y",
        ],
        "not a sealgate.dev/v1alpha1/SealedSecret",
    );
}

#[test]
fn raw_values_for_hand_written_manifests() {
    let s = Sandbox::new();
    let mut cmd = s.cmd(&[
        "seal",
        "-r",
        &s.r1,
        "--raw",
        "--namespace",
        "prod",
        "--key",
        "token",
    ]);
    cmd.write_stdin(CANARY);
    let (code, raw, err) = s.run_with(cmd);
    assert_eq!(code, 0, "{err}");
    assert_eq!(raw.lines().count(), 1);
    assert!(!raw.contains(CANARY));
    let manifest = |name: &str, ns: &str| {
        format!(
            "apiVersion: sealgate.dev/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  encryptedData:\n    token: {}",
            raw
        )
    };
    // No --name: namespace scope, so any name in the namespace works; another namespace does not.
    s.write("hand.yaml", &manifest("anything", "prod"));
    assert!(s.unseal("k1.txt", "hand.yaml").contains(&b64(CANARY)));
    s.write("hand.yaml", &manifest("anything", "dev"));
    s.fails(&["unseal", "-i", "k1.txt", "-f", "hand.yaml"], "namespace");

    s.write("value.bin", "from-a-file");
    let raw = s.ok(&[
        "seal",
        "-r",
        &s.r1,
        "--raw",
        "--namespace",
        "prod",
        "--name",
        "api",
        "--key",
        "token",
        "--from-file",
        "value.bin",
    ]);
    s.write("hand.yaml", &format!("apiVersion: sealgate.dev/v1alpha1\nkind: SealedSecret\nmetadata: {{name: other, namespace: prod}}\nspec:\n  encryptedData:\n    token: {raw}"));
    s.fails(&["unseal", "-i", "k1.txt", "-f", "hand.yaml"], "name");
    s.fails(&["seal", "-r", &s.r1, "--raw", "--key", "token"], "--namespace");
    s.fails(
        &[
            "seal",
            "-r",
            &s.r1,
            "--raw",
            "--namespace",
            "prod",
            "--scope",
            "strict",
            "--key",
            "t",
        ],
        "--name",
    );
    s.fails(
        &[
            "seal",
            "-r",
            &s.r1,
            "--raw",
            "--namespace",
            "prod",
            "--key",
            "bad/key",
        ],
        "bad/key",
    );
}

#[test]
fn unseal_fails_clearly() {
    let s = Sandbox::new();
    s.write("secret.yaml", &secret_yaml());
    let out = s.ok(&["seal", "-r", &s.r2, "-f", "secret.yaml"]);
    s.write("sealed.yaml", &out);
    let err = s.fails(
        &["unseal", "-i", "k1.txt", "-f", "sealed.yaml"],
        "not sealed to any key",
    );
    assert!(
        err.contains("sealed.yaml: document 1 (line 1): SealedSecret prod/db"),
        "{err}"
    );
    s.write("garbage.txt", "not a key\n");
    s.fails(
        &["unseal", "-i", "garbage.txt", "-f", "sealed.yaml"],
        "garbage.txt: line 1",
    );
    s.fails(
        &["unseal", "-i", "missing.txt", "-f", "sealed.yaml"],
        "missing.txt",
    );
    s.fails(
        &["unseal", "-i", "k2.txt", "-f", "secret.yaml"],
        "not a sealgate.dev/v1alpha1/SealedSecret",
    );
}

#[test]
fn bad_input_is_a_one_line_error_and_writes_nothing() {
    let s = Sandbox::new();
    s.write("existing.yaml", "keep me\n");
    let cases: Vec<(&str, String, &str)> = vec![
        ("invalid.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: x\n".into(), "invalid YAML"),
        ("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: p}\n".into(), "not a v1 Secret"),
        ("noname.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {namespace: p}\nstringData: {a: b}\n".into(), "metadata.name"),
        ("nons.yaml", format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: x}}\nstringData: {{a: {CANARY}}}\n"), "no namespace"),
        ("b64.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: p}\ndata: {password: 'not base64!'}\n".into(), "data.password"),
        ("key.yaml", format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: x, namespace: p}}\nstringData: {{bad/key: {CANARY}}}\n"), "\"bad/key\""),
        ("badname.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: Bad_Name, namespace: p}\nstringData: {a: b}\n".into(), "metadata.name"),
        ("conflict.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: other}\nstringData: {a: b}\n".into(), "does not match --namespace"),
    ];
    for (file, text, needle) in cases {
        s.write(file, &text);
        let mut args = vec!["seal", "-r", &s.r1, "-f", file, "-w", "existing.yaml"];
        if file == "conflict.yaml" {
            args.extend(["--namespace", "prod"]);
        }
        let err = s.fails(&args, needle);
        assert!(err.contains(file), "{file}: {err}");
        assert_eq!(
            s.read("existing.yaml"),
            "keep me\n",
            "{file} clobbered the output"
        );
    }
    s.fails(
        &["seal", "-r", &s.r1, "-f", "does-not-exist.yaml"],
        "does-not-exist.yaml",
    );
    s.fails(&["seal", "-r", &s.r1, "-f", "."], "is a directory");

    let mut bomb = String::from("apiVersion: v1\nkind: Secret\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s.write("bomb.yaml", &bomb);
    s.fails(&["seal", "-r", &s.r1, "-f", "bomb.yaml"], "bomb.yaml");
    s.write(
        "deep.yaml",
        &format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000)),
    );
    s.fails(&["seal", "-r", &s.r1, "-f", "deep.yaml"], "deep.yaml");
}

#[test]
fn completions_and_help() {
    let s = Sandbox::new();
    assert!(s.ok(&["completions", "bash"]).contains("sealgate"));
    for sub in ["seal", "unseal", "keygen", "validate", "scan", "completions"] {
        assert!(
            s.ok(&[sub, "--help"]).contains("Example"),
            "{sub} --help has no examples"
        );
    }
}
