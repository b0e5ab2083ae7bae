//! `sealgate unseal`: SealedSecrets in, plaintext Secrets out (recovery path).

use anyhow::{Context, Result, bail};
use sealgate_core::manifest;
use sealgate_core::{sealed_from_manifest, unseal_secret, zeroize_json};
use zeroize::Zeroizing;

use crate::args::{Format, UnsealArgs};
use crate::files;

pub fn run(args: UnsealArgs) -> Result<()> {
    let keyring = files::keyring(&args.identities)?;
    let input = files::read_input(args.file.as_deref())?;
    let docs =
        manifest::expand_lists(manifest::parse_documents(&input.bytes).with_context(|| input.name.clone())?);
    if docs.is_empty() {
        bail!("{}: no SealedSecret found in the input", input.name);
    }
    let mut secrets = Vec::with_capacity(docs.len());
    for doc in &docs {
        let label = format!("{}: document {} (line {})", input.name, doc.index, doc.line);
        let sealed = sealed_from_manifest(&doc.value).with_context(|| label.clone())?;
        let ns = sealed.metadata.namespace.as_deref().unwrap_or(&args.namespace);
        let name = sealed.metadata.name.as_deref().unwrap_or("");
        let secret = unseal_secret(&sealed, &keyring, &args.namespace)
            .with_context(|| format!("{label}: SealedSecret {ns}/{name}"))?;
        secrets.push(secret.to_manifest());
    }
    let text = Zeroizing::new(match args.format {
        Format::Yaml => manifest::to_yaml(&secrets)?,
        Format::Json => manifest::to_json(&secrets)?,
    });
    secrets.iter_mut().for_each(zeroize_json);
    files::write_output(None, &text)
}
