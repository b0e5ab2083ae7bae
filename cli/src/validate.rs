//! `sealgate validate`: the CI gate. Reads manifests, builds the inventory of
//! what they provide, and reports every Secret reference that nothing provides,
//! every plaintext Secret, malformed sealed value and recipient mismatch.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;

use anyhow::{Context, Result};
use sealgate_core::keys::parse_fingerprint_annotation;
use sealgate_core::manifest::{self, Document, Locator};
use sealgate_core::{RecipientSet, names, naming, plaintext_keys, seal, sealed_from_manifest};

use crate::args::ValidateArgs;
use crate::config::Config;
use crate::files;
use crate::inputs::{self, InputPath};
use crate::report::{self, Finding, Severity, Summary};
use crate::scan::plaintext_finding;

/// One input file, kept so that findings can be pointed at lines.
pub struct Source {
    pub name: String,
    pub bytes: zeroize::Zeroizing<Vec<u8>>,
}

/// One Kubernetes object read from a source.
pub struct Object {
    pub source: usize,
    pub doc: Document,
}

impl Object {
    pub fn describe(&self, default_namespace: &str) -> String {
        let ns = self.doc.namespace().unwrap_or(default_namespace);
        format!("{} {ns}/{}", self.doc.kind(), self.doc.name())
    }
}

/// Exit status: 0 clean, 1 findings at error level, 2 unusable input.
pub fn run(args: ValidateArgs) -> Result<u8> {
    let config = Config::load(args.config.as_deref(), &args.paths)?;
    let mut patterns = config.ignore.clone();
    patterns.extend(args.ignore.iter().cloned());
    let ignore = inputs::ignore_set(&patterns)?;
    let targets = inputs::expand(&args.paths, &ignore, inputs::is_manifest)?;
    let default_namespace = args
        .namespace
        .clone()
        .or_else(|| config.default_namespace.clone())
        .unwrap_or_else(|| "default".to_owned());
    naming::check_namespace(&default_namespace)
        .map_err(|p| anyhow::anyhow!("default namespace {default_namespace:?} {p}"))?;

    let mut sources = Vec::with_capacity(targets.len());
    for target in &targets {
        let bytes = match target {
            InputPath::Stdin => files::read_input(None)?.bytes,
            InputPath::File(path) => files::read_file(path)?,
        };
        sources.push(Source {
            name: target.display(),
            bytes,
        });
    }

    let mut findings = Vec::new();
    let mut unusable = false;
    let mut objects = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        match manifest::parse_documents(&source.bytes) {
            Ok(docs) => {
                let docs = manifest::expand_lists(docs);
                let before = objects.len();
                for doc in docs {
                    if doc.is_kubernetes_object() {
                        objects.push(Object { source: i, doc });
                    }
                }
                if objects.len() == before {
                    findings.push(Finding {
                        code: "not-kubernetes",
                        severity: Severity::Note,
                        file: source.name.clone(),
                        line: None,
                        object: None,
                        field: None,
                        message: "skipped: no Kubernetes objects (apiVersion and kind) in this file".into(),
                    });
                }
            }
            Err(e) => {
                unusable = true;
                findings.push(Finding {
                    code: "invalid-manifest",
                    severity: Severity::Error,
                    file: source.name.clone(),
                    line: e.line(),
                    object: None,
                    field: None,
                    message: strip_line_prefix(&e.to_string()),
                });
            }
        }
    }

    let recipients = match args.recipients_file.clone().or_else(|| config.recipients_path()) {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
            Some(RecipientSet::parse(&text).with_context(|| path.display().to_string())?)
        }
        None => None,
    };

    let mut located = Vec::new();
    check_duplicates(&objects, &default_namespace, &sources, &mut findings);
    for (i, obj) in objects.iter().enumerate() {
        let file = &sources[obj.source].name;
        if let Some(keys) = plaintext_keys(&obj.doc.value) {
            findings.push(plaintext_finding(file, &obj.doc, &keys));
        }
        if obj.doc.api_version() == names::API_VERSION && obj.doc.kind() == names::KIND {
            check_sealed_secret(
                i,
                obj,
                file,
                &default_namespace,
                recipients.as_ref(),
                &mut located,
            );
        }
    }
    crate::references::check(&objects, &sources, &config, &default_namespace, &mut located)?;

    // Field-level findings get their lines from one positioned re-parse per file that has any.
    let mut locators: HashMap<usize, Option<Locator>> = HashMap::new();
    for (obj_index, field, finding) in located {
        let obj: &Object = &objects[obj_index];
        let mut finding = finding;
        finding.line = match field {
            Some(path) => locators
                .entry(obj.source)
                .or_insert_with(|| Locator::new(&sources[obj.source].bytes))
                .as_ref()
                .and_then(|l| l.line(&obj.doc, &path))
                .or(Some(obj.doc.line)),
            None => Some(obj.doc.line),
        };
        findings.push(finding);
    }

    let mut disabled: BTreeSet<&str> = config.disable.iter().map(String::as_str).collect();
    disabled.extend(args.disable.iter().map(String::as_str));
    findings.retain(|f| !disabled.contains(f.code));
    let order: HashMap<&str, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    findings.sort_by_key(|f| (order.get(f.file.as_str()).copied(), f.line, f.severity, f.code));

    let summary = Summary::count(&findings, sources.len(), objects.len());
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    files::write_output(
        None,
        &report::render(args.format, &findings, summary, colour, describe),
    )?;
    Ok(if unusable { 2 } else { u8::from(summary.errors > 0) })
}

/// Messages of parse errors start with `line N: `; the finding shows the line already.
fn strip_line_prefix(message: &str) -> String {
    match message
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest.to_owned(),
        _ => message.to_owned(),
    }
}

/// A finding still to be given a line: (object index, field path, finding).
pub type Located = (usize, Option<String>, Finding);

fn check_duplicates(
    objects: &[Object],
    default_namespace: &str,
    sources: &[Source],
    findings: &mut Vec<Finding>,
) {
    let mut seen: HashMap<(String, String, String, String), usize> = HashMap::new();
    for (i, obj) in objects.iter().enumerate() {
        let group = obj
            .doc
            .api_version()
            .rsplit_once('/')
            .map_or("", |(g, _)| g)
            .to_owned();
        let ns = obj.doc.namespace().unwrap_or(default_namespace).to_owned();
        let key = (group, obj.doc.kind().to_owned(), ns, obj.doc.name().to_owned());
        if let Some(&first) = seen.get(&key) {
            let first = &objects[first];
            findings.push(Finding {
                code: "duplicate-object",
                severity: Severity::Error,
                file: sources[obj.source].name.clone(),
                line: Some(obj.doc.line),
                object: Some(obj.describe(default_namespace)),
                field: None,
                message: format!(
                    "defined again; first defined at {}:{}",
                    sources[first.source].name, first.doc.line
                ),
            });
        } else {
            seen.insert(key, i);
        }
    }
}

fn check_sealed_secret(
    index: usize,
    obj: &Object,
    file: &str,
    default_namespace: &str,
    recipients: Option<&RecipientSet>,
    located: &mut Vec<Located>,
) {
    let mut add = |code, severity, field: Option<String>, message: String| {
        let finding = Finding {
            code,
            severity,
            file: file.to_owned(),
            line: None,
            object: Some(obj.describe(default_namespace)),
            field: field.clone(),
            message,
        };
        located.push((index, field, finding));
    };
    let sealed = match sealed_from_manifest(&obj.doc.value) {
        Ok(s) => s,
        Err(e) => {
            let field = match &e {
                sealgate_core::SecretError::Field { field, .. } => Some(field.clone()),
                _ => None,
            };
            add("invalid-sealed-secret", Severity::Error, field, e.to_string());
            return;
        }
    };
    for (key, value) in &sealed.spec.encrypted_data {
        let field = Some(format!("spec.encryptedData.{key}"));
        if let Err(problem) = naming::check_secret_key(key) {
            add(
                "invalid-key",
                Severity::Error,
                field.clone(),
                format!("key {key:?} {problem}"),
            );
        }
        if let Err(e) = seal::check_structure(value) {
            add(
                "malformed-sealed-value",
                Severity::Error,
                field,
                format!("sealed value of key {key:?} is {e}"),
            );
        }
    }
    let Some(recipients) = recipients else { return };
    let expected = recipients.fingerprints();
    let annotation = sealed
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::ANNOTATION_RECIPIENTS));
    let Some(annotation) = annotation else {
        add(
            "unknown-recipient",
            Severity::Warning,
            Some(format!("metadata.annotations.{}", names::ANNOTATION_RECIPIENTS)),
            format!(
                "has no {} annotation, so its recipients cannot be checked; re-seal it with sealgate",
                names::ANNOTATION_RECIPIENTS
            ),
        );
        return;
    };
    let actual = parse_fingerprint_annotation(annotation);
    let field = Some("metadata.annotations".to_owned());
    let unknown: Vec<&String> = actual.difference(&expected).collect();
    if !unknown.is_empty() {
        add(
            "unknown-recipient",
            Severity::Warning,
            field.clone(),
            format!(
                "sealed to recipient(s) {} that are not in the repository's recipients list",
                join(&unknown)
            ),
        );
    }
    let missing: Vec<&String> = expected.difference(&actual).collect();
    if !missing.is_empty() {
        add(
            "missing-recipient",
            Severity::Warning,
            field,
            format!(
                "not sealed to recipient(s) {} from the repository's recipients list; re-seal it (sealgate seal --merge-into) so every cluster and recovery key can open it",
                join(&missing)
            ),
        );
    }
}

fn join(items: &[&String]) -> String {
    items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// One-line descriptions of finding codes, for SARIF rules.
pub fn describe(code: &str) -> &'static str {
    match code {
        "missing-secret" => "A workload references a Secret that nothing provides",
        "missing-key" => "A workload references a Secret key that its provider does not have",
        "unready-provider" => "A Secret is provided only by a SealedSecret that fails to unseal",
        "empty-reference" => "A Secret reference has an empty name or key",
        "missing-image-pull-secret" => "An image pull Secret that nothing provides",
        "unknown-keys" => "A reference relies on a provider whose keys are not known",
        "plaintext-secret" => "A Kubernetes Secret with plaintext values is about to be committed",
        "malformed-sealed-value" => "A SealedSecret value is not valid base64-encoded age",
        "unknown-recipient" => "A SealedSecret is sealed to a recipient not in the repository's list",
        "missing-recipient" => "A SealedSecret is not sealed to every recipient in the repository's list",
        "duplicate-object" => "The same object is defined twice",
        "invalid-manifest" => "A file is not valid YAML or JSON",
        "not-kubernetes" => "A file holds no Kubernetes objects and was skipped",
        _ => "sealgate finding",
    }
}
