//! `sealgate import`: SealedSecrets of another tool in, sealgate SealedSecrets
//! out. Every value is decrypted into a zeroizing buffer and sealed again at
//! once; plaintext is never written anywhere. Any failure writes nothing.

pub mod bitnami;
mod hybrid;
mod keys;

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use sealgate_core::manifest::{self, Document};
use sealgate_core::seal::{self, Binding, Location};
use sealgate_core::{RecipientSet, SealOptions, SealedSecret, naming, seal_secret, template_problems};
use serde_json::Value;

use crate::args::{Format, ImportBitnamiArgs, ImportCommand};
use crate::files;

use bitnami::BitnamiSealed;

pub fn run(command: ImportCommand) -> Result<()> {
    match command {
        ImportCommand::Bitnami(args) => run_bitnami(&args),
    }
}

fn run_bitnami(args: &ImportBitnamiArgs) -> Result<()> {
    if let Some(ns) = &args.namespace {
        naming::check_namespace(ns).map_err(|p| anyhow!("--namespace {ns:?} {p}"))?;
    }
    let keys = keys::load(&args.keys)?;
    if args.raw {
        return run_raw(args, &keys);
    }
    let objects = read_objects(args)?;
    let recipients = files::recipients(&args.recipients)?;
    let mut sealed = Vec::with_capacity(objects.len());
    for (label, object) in &objects {
        let value = import_one(object, &keys, &recipients, args.namespace.as_deref())
            .with_context(|| label.clone())?;
        sealed.push(value);
    }
    for (label, object) in &objects {
        for w in &object.warnings {
            eprintln!("warning: {label}: {w}");
        }
    }
    let text = match args.format {
        Format::Yaml => manifest::to_yaml(&sealed)?,
        Format::Json => manifest::to_json(&sealed)?,
    };
    files::write_output(args.write.as_deref(), &text)
}

/// Every Bitnami SealedSecret in the inputs, each with a label naming where it is.
fn read_objects(args: &ImportBitnamiArgs) -> Result<Vec<(String, BitnamiSealed)>> {
    let stdin = [std::path::PathBuf::from("-")];
    let paths = if args.files.is_empty() {
        &stdin[..]
    } else {
        &args.files
    };
    if paths.iter().filter(|p| p.as_path() == Path::new("-")).count() > 1 {
        bail!("standard input (-f -) can be read only once");
    }
    let mut out = Vec::new();
    for path in paths {
        let input = files::read_input(Some(path))?;
        let docs = manifest::parse_documents(&input.bytes).with_context(|| input.name.clone())?;
        let docs = manifest::expand_lists(docs);
        if docs.is_empty() {
            bail!("{}: no Bitnami SealedSecret found in the input", input.name);
        }
        for doc in &docs {
            let at = doc_label(&input.name, doc);
            let object = BitnamiSealed::from_manifest(&doc.value).with_context(|| at.clone())?;
            let label = format!(
                "{at}: SealedSecret {}",
                object.describe(object.namespace.as_deref().unwrap_or(""))
            );
            out.push((label, object));
        }
    }
    Ok(out)
}

fn doc_label(file: &str, doc: &Document) -> String {
    match doc.item {
        Some(i) => format!(
            "{file}: document {} item {} (line {})",
            doc.index,
            i + 1,
            doc.line
        ),
        None => format!("{file}: document {} (line {})", doc.index, doc.line),
    }
}

/// Decrypts one object and seals it again, keeping its metadata, template and scope.
fn import_one(
    object: &BitnamiSealed,
    keys: &[keys::BitnamiKey],
    recipients: &RecipientSet,
    namespace_flag: Option<&str>,
) -> Result<Value> {
    let namespace = match (&object.namespace, namespace_flag) {
        (Some(own), Some(flag)) if own != flag => {
            bail!("metadata.namespace {own:?} does not match --namespace {flag:?}")
        }
        (Some(own), _) => own.clone(),
        (None, Some(flag)) => flag.to_owned(),
        (None, None) if object.scope == bitnami::BitnamiScope::ClusterWide => String::new(),
        (None, None) => bail!(
            "has no metadata.namespace, and a {} SealedSecret is sealed for one: pass -n/--namespace",
            object.scope.as_str()
        ),
    };
    let plain = object.decrypt(keys, &namespace)?;
    let opts = SealOptions {
        recipients,
        scope: object.scope.sealgate(),
    };
    let mut sealed = seal_secret(&plain, &opts)?;
    drop(plain);
    add_metadata(&mut sealed, object);
    if !object.template_data.is_empty() {
        sealed.spec.template.get_or_insert_default().data = object.template_data.clone();
        // Bitnami renders Sprig functions too; sealgate does not, so say so now, not in the cluster.
        let problems: Vec<String> = template_problems(&sealed)
            .iter()
            .map(ToString::to_string)
            .collect();
        if !problems.is_empty() {
            bail!("{}", problems.join("; "));
        }
    }
    serde_json::to_value(&sealed).context("cannot serialize the SealedSecret")
}

/// The SealedSecret's own labels and annotations (Argo CD sync waves, Flux labels, …)
/// go onto the new object; sealgate's annotations, set by sealing, stay as they are.
fn add_metadata(sealed: &mut SealedSecret, object: &BitnamiSealed) {
    if !object.labels.is_empty() {
        sealed.metadata.labels = Some(object.labels.clone());
    }
    if !object.annotations.is_empty() {
        let annotations = sealed.metadata.annotations.get_or_insert_with(Default::default);
        for (k, v) in &object.annotations {
            annotations.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// `--raw`: one value from `kubeseal --raw`, sealed again as `sealgate seal --raw` would.
fn run_raw(args: &ImportBitnamiArgs, keys: &[keys::BitnamiKey]) -> Result<()> {
    let data_key = args.data_key.as_deref().unwrap_or_default();
    naming::check_secret_key(data_key).map_err(|p| anyhow!("--data-key {data_key:?} {p}"))?;
    let name = args.name.as_deref().unwrap_or_default();
    if !name.is_empty() {
        naming::check_object_name(name).map_err(|p| anyhow!("--name {name:?} {p}"))?;
    }
    let scope = args.scope.unwrap_or(if name.is_empty() {
        bitnami::BitnamiScope::NamespaceWide
    } else {
        bitnami::BitnamiScope::Strict
    });
    let namespace = args.namespace.as_deref().unwrap_or_default();
    if namespace.is_empty() && scope != bitnami::BitnamiScope::ClusterWide {
        bail!("--raw needs --namespace (only --scope cluster-wide was sealed without one)");
    }
    if name.is_empty() && scope == bitnami::BitnamiScope::Strict {
        bail!("--scope strict was sealed for a name: give --name");
    }
    let input = match args.files.as_slice() {
        [] => files::read_input(None)?,
        [one] => files::read_input(Some(one))?,
        _ => bail!("--raw imports one value: give at most one -f"),
    };
    let text = std::str::from_utf8(&input.bytes).map_err(|_| anyhow!("{}: not base64 text", input.name))?;
    let object = BitnamiSealed::raw(name, namespace, scope);
    let value = object
        .decrypt_raw(keys, text, namespace)
        .with_context(|| format!("{}: raw value for {}", input.name, object.describe(namespace)))?;
    let recipients = files::recipients(&args.recipients)?;
    let at = Location {
        namespace,
        name,
        key: data_key,
    };
    let binding = Binding::new(scope.sealgate(), at)?;
    let mut sealed = seal::seal_value(&recipients, &binding, value.expose())?;
    sealed.push('\n');
    files::write_output(args.write.as_deref(), &sealed)
}
