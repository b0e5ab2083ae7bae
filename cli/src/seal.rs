//! `sealgate seal`: Secret manifests or flags in, SealedSecrets out.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use sealgate_core::manifest::{self, Document};
use sealgate_core::seal::{self, Binding, Location};
use sealgate_core::{
    PlainSecret, RecipientSet, Scope, SealOptions, SealedSecret, SecretBytes, merge_into, names, naming,
    seal_secret, sealed_from_manifest, zeroize_json,
};

use crate::args::{Format, SealArgs};
use crate::files::{self, AtomicWrite, Input};

pub fn run(args: SealArgs) -> Result<()> {
    if let Some(ns) = &args.namespace {
        naming::check_namespace(ns).map_err(|p| anyhow!("--namespace {ns:?} {p}"))?;
    }
    let recipients = files::recipients(&args.recipients)?;
    if args.raw {
        return run_raw(&args, &recipients);
    }
    if let Some(target) = &args.merge_into {
        return run_merge(&args, target, &recipients);
    }
    let opts = SealOptions {
        recipients: &recipients,
        scope: args.scope.unwrap_or_default(),
    };
    let mut sealed = Vec::new();
    for (label, secret) in input_secrets(&args)? {
        sealed.push(seal_secret(&secret, &opts).with_context(|| label.clone())?);
    }
    files::write_output(args.write.as_deref(), &emit(args.format, &sealed)?)
}

fn emit(format: Format, objects: &[SealedSecret]) -> Result<String> {
    Ok(match format {
        Format::Yaml => manifest::to_yaml(objects)?,
        Format::Json => manifest::to_json(objects)?,
    })
}

fn builds_from_flags(args: &SealArgs) -> bool {
    !args.literals.is_empty() || !args.files.is_empty() || !args.env_files.is_empty() || args.name.is_some()
}

/// The Secrets to seal, each with a label that names where it came from.
fn input_secrets(args: &SealArgs) -> Result<Vec<(String, PlainSecret)>> {
    if builds_from_flags(args) {
        let secret = secret_from_flags(args)?;
        let label = format!("Secret {}", secret.name);
        return Ok(vec![(label, secret)]);
    }
    let input = files::read_input(args.file.as_deref())?;
    let secrets = secrets_from_input(&input, args.namespace.as_deref())?;
    if secrets.is_empty() {
        bail!("{}: no Secret found in the input", input.name);
    }
    Ok(secrets)
}

/// Reads every Secret document of `input`; any other document is an error.
fn secrets_from_input(input: &Input, namespace: Option<&str>) -> Result<Vec<(String, PlainSecret)>> {
    let docs = manifest::parse_documents(&input.bytes).with_context(|| input.name.clone())?;
    let mut docs = manifest::expand_lists(docs);
    let mut out = Vec::with_capacity(docs.len());
    let mut result = Ok(());
    for doc in docs.iter() {
        let label = doc_label(&input.name, doc);
        match secret_from_doc(doc, namespace) {
            Ok(secret) => out.push((format!("{label}: Secret {}", secret.name), secret)),
            Err(e) => {
                result = Err(e.context(label));
                break;
            }
        }
    }
    docs.iter_mut().for_each(|d| zeroize_json(&mut d.value));
    result.map(|()| out)
}

fn doc_label(file: &str, doc: &Document) -> String {
    format!("{file}: document {} (line {})", doc.index, doc.line)
}

fn secret_from_doc(doc: &Document, namespace: Option<&str>) -> Result<PlainSecret> {
    let mut secret = PlainSecret::from_manifest(&doc.value)?;
    match (&secret.namespace, namespace) {
        (Some(own), Some(flag)) if own != flag => {
            bail!("metadata.namespace {own:?} does not match --namespace {flag:?}")
        }
        (None, Some(flag)) => secret.namespace = Some(flag.to_owned()),
        _ => {}
    }
    secret.check_names()?;
    Ok(secret)
}

fn secret_from_flags(args: &SealArgs) -> Result<PlainSecret> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None if args.merge_into.is_some() => String::new(),
        None => {
            bail!("--name is required when building a Secret from --from-literal/--from-file/--from-env-file")
        }
    };
    let mut secret = PlainSecret {
        name,
        namespace: args.namespace.clone(),
        type_: Some(args.secret_type.clone().unwrap_or_else(|| "Opaque".to_owned())),
        ..PlainSecret::default()
    };
    let mut add = |key: String, value: SecretBytes, source: &str| -> Result<()> {
        naming::check_secret_key(&key).map_err(|p| anyhow!("{source}: key {key:?} {p}"))?;
        if secret.data.insert(key.clone(), value).is_some() {
            bail!("{source}: key {key:?} is given more than once");
        }
        Ok(())
    };
    for (i, lit) in args.literals.iter().enumerate() {
        let source = format!("--from-literal #{}", i + 1);
        let (key, value) = lit
            .split_once('=')
            .ok_or_else(|| anyhow!("{source}: expected KEY=VALUE"))?;
        add(key.to_owned(), SecretBytes::copy_from(value.as_bytes()), &source)?;
    }
    for spec in &args.files {
        let (key, path) = match spec.split_once('=') {
            Some((k, p)) => (Some(k.to_owned()), Path::new(p)),
            None => (None, Path::new(spec.as_str())),
        };
        let source = format!("--from-file {}", path.display());
        if path.is_dir() {
            if key.is_some() {
                bail!("{source}: a key cannot be given for a directory");
            }
            for (key, value) in read_dir_files(path)? {
                add(key, value, &source)?;
            }
            continue;
        }
        let key = match key {
            Some(k) => k,
            None => file_name(path)?,
        };
        add(key, SecretBytes::new(files::read_file(path)?.to_vec()), &source)?;
    }
    for path in &args.env_files {
        for (key, value) in read_env_file(path)? {
            add(key, value, &format!("--from-env-file {}", path.display()))?;
        }
    }
    if secret.data.is_empty() && args.merge_into.is_none() {
        bail!("the Secret has no data: give --from-literal, --from-file or --from-env-file");
    }
    // With --merge-into and no --name, the name comes from the target file.
    if !secret.name.is_empty() {
        secret.check_names()?;
    }
    Ok(secret)
}

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{}: has no usable file name; give KEY=PATH", path.display()))
}

/// Every regular file directly in `dir` whose name is a valid key (kubectl's rule).
fn read_dir_files(dir: &Path) -> Result<Vec<(String, SecretBytes)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .path();
        let Ok(key) = file_name(&path) else { continue };
        if path.is_file() && naming::check_secret_key(&key).is_ok() {
            out.push((key, SecretBytes::new(files::read_file(&path)?.to_vec())));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// kubectl's env-file rules: `KEY=VALUE` taken verbatim, `#` comment lines, blank lines,
/// and a bare `KEY` taken from the environment.
fn read_env_file(path: &Path) -> Result<Vec<(String, SecretBytes)>> {
    let bytes = files::read_file(path)?;
    let text = std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.to_owned(), SecretBytes::copy_from(v.as_bytes())),
            None => {
                let key = line.trim_end().to_owned();
                let value = std::env::var(&key)
                    .map_err(|_| anyhow!("{}: {key:?} has no '=' and is not set in the environment", at()))?;
                (key, SecretBytes::new(value.into_bytes()))
            }
        };
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            bail!("{}: expected KEY=VALUE", at());
        }
        out.push((key, value));
    }
    Ok(out)
}

fn run_merge(args: &SealArgs, target: &Path, recipients: &RecipientSet) -> Result<()> {
    let label = target.display().to_string();
    let bytes = files::read_file(target)?;
    let docs = manifest::parse_documents(&bytes).with_context(|| label.clone())?;
    let [doc] = docs.as_slice() else {
        bail!(
            "{label}: expected exactly one SealedSecret document, found {}",
            docs.len()
        );
    };
    let mut sealed = sealed_from_manifest(&doc.value).with_context(|| doc_label(&label, doc))?;
    let sealed_name = sealed.metadata.name.clone().unwrap_or_default();
    let sealed_ns = sealed.metadata.namespace.clone();

    let update = if builds_from_flags(args) {
        secret_from_flags(args)?
    } else {
        let input = files::read_input(args.file.as_deref())?;
        let mut secrets = secrets_from_input(&input, sealed_ns.as_deref())?;
        if secrets.len() != 1 {
            bail!(
                "{}: --merge-into takes exactly one Secret, found {}",
                input.name,
                secrets.len()
            );
        }
        secrets.remove(0).1
    };
    if update.data.is_empty() {
        bail!("nothing to merge: the input has no keys");
    }
    if !update.name.is_empty() && update.name != sealed_name {
        bail!(
            "the Secret is named {:?} but {label} holds SealedSecret {sealed_name:?}",
            update.name
        );
    }
    if let (Some(a), Some(b)) = (&update.namespace, &sealed_ns)
        && a != b
    {
        bail!("the Secret is in namespace {a:?} but {label} is in namespace {b:?}");
    }
    let existing_scope = sealed
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::ANNOTATION_SCOPE))
        .and_then(|s| s.parse::<Scope>().ok());
    let opts = SealOptions {
        recipients,
        scope: args.scope.or(existing_scope).unwrap_or_default(),
    };
    merge_into(&mut sealed, &update, &opts).with_context(|| label.clone())?;

    let json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let text = emit(
        if json { Format::Json } else { Format::Yaml },
        std::slice::from_ref(&sealed),
    )?;
    AtomicWrite {
        path: target,
        mode: 0o644,
        overwrite: true,
    }
    .write(text.as_bytes())
}

fn run_raw(args: &SealArgs, recipients: &RecipientSet) -> Result<()> {
    let key = args.key.as_deref().unwrap_or_default();
    naming::check_secret_key(key).map_err(|p| anyhow!("--key {key:?} {p}"))?;
    let name = args.name.as_deref().unwrap_or_default();
    if !name.is_empty() {
        naming::check_object_name(name).map_err(|p| anyhow!("--name {name:?} {p}"))?;
    }
    let scope = args.scope.unwrap_or(if name.is_empty() {
        Scope::Namespace
    } else {
        Scope::Strict
    });
    let namespace = args.namespace.as_deref().unwrap_or_default();
    if namespace.is_empty() && scope != Scope::Cluster {
        bail!("--raw needs --namespace (only --scope cluster seals without one)");
    }
    if name.is_empty() && scope == Scope::Strict {
        bail!("--scope strict binds the Secret name: give --name, or use --scope namespace");
    }
    let value = match args.files.as_slice() {
        [] => files::read_input(None)?.bytes,
        [path] => files::read_file(Path::new(path))?,
        _ => bail!("--raw seals one value: give at most one --from-file"),
    };
    if !args.literals.is_empty() || !args.env_files.is_empty() {
        bail!("--raw reads the value from standard input or one --from-file");
    }
    let at = Location { namespace, name, key };
    let binding = Binding::new(scope, at)?;
    let sealed = seal::seal_value(recipients, &binding, &value)?;
    let mut text = sealed;
    text.push('\n');
    files::write_output(args.write.as_deref(), &text)
}
