//! Shared helpers for the cross-crate tests (the tests themselves live in
//! `tests/tests/`) and for the end-to-end tests of the other crates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs `kubectl --kubeconfig KUBECONFIG ARGS`, feeding `stdin` when given.
/// Returns whether it succeeded, and its standard output followed by its standard error.
pub fn kubectl(kubeconfig: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Helm for the chart checks: `SEALGATE_HELM`, else `target/tools/helm/helm`
/// (`.ci/install-helm.sh` puts it there), else `helm` on PATH.
pub fn helm() -> Option<PathBuf> {
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

/// `helm ARGS` in the chart's directory; its standard output. Panics with helm's
/// output when it fails.
pub fn helm_run(helm: &Path, args: &[&str]) -> String {
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

/// The command line the chart gives the first container of its Deployment
/// `deployment` (release `sealgate` in `sealgate-system`, with extra helm
/// arguments such as `--set` or `-f` given relative to the chart),
/// with `$(VAR)` references to the container's env expanded as the kubelet
/// expands them (fieldRef values stand in as `VAR-value`).
pub fn chart_args(helm: &Path, deployment: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["template", "sealgate", ".", "--namespace", "sealgate-system"];
    args.extend(extra);
    let text = helm_run(helm, &args);
    let docs = sealgate_core::manifest::parse_documents(text.as_bytes()).expect("the rendered chart parses");
    let deployment = docs
        .iter()
        .find(|d| d.kind() == "Deployment" && d.name() == deployment)
        .unwrap_or_else(|| panic!("no Deployment {deployment} rendered with {extra:?}"));
    let container = &deployment.value["spec"]["template"]["spec"]["containers"][0];
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_owned();
            let value = e["value"]
                .as_str()
                .map_or_else(|| format!("{name}-value"), str::to_owned);
            (name, value)
        })
        .collect();
    container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let mut arg = a.as_str().unwrap().to_owned();
            for (name, value) in &env {
                arg = arg.replace(&format!("$({name})"), value);
            }
            arg
        })
        .collect()
}

/// Whether `binary` accepts `args`: clap reads every argument before it acts on a
/// trailing `--help`, so an unknown flag or a bad value fails and nothing runs.
/// Returns clap's complaint when it does not.
pub fn accepts(binary: &str, args: &[String]) -> Result<(), String> {
    let out = Command::new(binary)
        .args(args)
        .arg("--help")
        .output()
        .expect("the binary runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
