//! Commands that talk to sealgate-controller through the API server's service
//! proxy: `recipient`, `verify`, `reencrypt`, and `seal --fetch`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sealgate_core::manifest;
use serde_json::Value;

use crate::args::{ControllerArgs, ReencryptArgs, VerifyArgs};
use crate::cluster::{fetch, runtime};
use crate::files::{self, AtomicWrite};

/// `sealgate recipient`: prints the controller's recipients, one per line.
pub fn recipient(args: ControllerArgs) -> Result<()> {
    let set = fetch(&args)?;
    let text: String = set.recipients().iter().map(|r| format!("{r}\n")).collect();
    files::write_output(None, &text)
}

/// Posts every SealedSecret of `path` to `endpoint`; returns (label, answer) pairs.
fn post_each(
    args: &ControllerArgs,
    path: Option<&Path>,
    endpoint: &'static str,
) -> Result<Vec<(String, String)>> {
    let input = files::read_input(path)?;
    let docs =
        manifest::expand_lists(manifest::parse_documents(&input.bytes).with_context(|| input.name.clone())?);
    if docs.is_empty() {
        bail!("{}: no SealedSecret found in the input", input.name);
    }
    let mut bodies = Vec::new();
    for doc in &docs {
        let label = format!("{}: document {} (line {})", input.name, doc.index, doc.line);
        let sealed = sealgate_core::sealed_from_manifest(&doc.value).with_context(|| label.clone())?;
        let ns = sealed
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let mut sealed = sealed;
        sealed.metadata.namespace = Some(ns.clone());
        let label = format!(
            "{label}: SealedSecret {ns}/{}",
            sealed.metadata.name.clone().unwrap_or_default()
        );
        bodies.push((label, serde_json::to_vec(&sealed).context("serializing")?));
    }
    runtime()?.block_on(async {
        let client = sealgate_cluster::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let mut out = Vec::new();
        for (label, body) in bodies {
            let answer = sealgate_cluster::call_controller(&client, &args.service(), endpoint, Some(body))
                .await
                .with_context(|| label.clone())?;
            out.push((label, answer));
        }
        Ok(out)
    })
}

/// `sealgate verify`: can the cluster unseal these? Exit 1 when any value cannot be.
pub fn verify(args: VerifyArgs) -> Result<u8> {
    let answers = post_each(&args.controller, args.file.as_deref(), "/v1/verify")?;
    let mut all_ok = true;
    let mut text = String::new();
    for (label, answer) in answers {
        let v: Value =
            serde_json::from_str(&answer).with_context(|| format!("{label}: unexpected answer"))?;
        let ok = v["ok"].as_bool().unwrap_or(false);
        all_ok &= ok;
        text.push_str(&format!(
            "{label}: {}\n",
            if ok {
                "can be unsealed"
            } else {
                "CANNOT be unsealed"
            }
        ));
        for (key, result) in v["keys"].as_object().into_iter().flatten() {
            if result["ok"].as_bool() != Some(true) {
                text.push_str(&format!(
                    "  key {key:?}: {}\n",
                    result["message"].as_str().unwrap_or("failed")
                ));
            }
        }
    }
    files::write_output(None, &text)?;
    Ok(u8::from(!all_ok))
}

/// `sealgate reencrypt`: re-seal to the cluster's newest key inside the cluster.
pub fn reencrypt(args: ReencryptArgs) -> Result<()> {
    let answers = post_each(&args.controller, args.file.as_deref(), "/v1/rotate")?;
    let mut objects = Vec::new();
    for (label, answer) in answers {
        let v: Value =
            serde_json::from_str(&answer).with_context(|| format!("{label}: unexpected answer"))?;
        let sealed =
            sealgate_core::sealed_from_manifest(&v).with_context(|| format!("{label}: unexpected answer"))?;
        objects.push(sealed);
    }
    let text = manifest::to_yaml(&objects)?;
    let target: Option<PathBuf> = if args.in_place {
        args.file.clone()
    } else {
        args.write.clone()
    };
    match target {
        Some(path) if path != Path::new("-") => AtomicWrite {
            path: &path,
            mode: 0o644,
            overwrite: true,
        }
        .write(text.as_bytes()),
        _ => files::write_output(None, &text),
    }
}
