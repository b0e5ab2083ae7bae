//! `sealgate validate`: the CI gate. Reads manifests, builds the inventory of
//! what they provide, and reports every Secret reference that nothing provides,
//! every plaintext Secret, malformed sealed value and recipient mismatch.
//!
//! Each file is parsed once and its objects are reduced to what the checks need
//! (inventory entries, workload references) before the next file is read, so
//! memory follows the largest file, not the whole tree. Lines of field paths are
//! found afterwards, by re-reading only the files that have findings.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;

use anyhow::{Context, Result, anyhow};
use sealgate_core::inventory::MemoryInventory;
use sealgate_core::keys::parse_fingerprint_annotation;
use sealgate_core::manifest::{self, Document, DuplicateKey, Locator};
use sealgate_core::policy::code::DUPLICATE_KEY;
use sealgate_core::refs::{self, RefError, Workload};
use sealgate_core::{
    RecipientSet, SecretError, names, naming, plaintext_keys, seal, sealed_from_manifest, template_problems,
};
use zeroize::Zeroizing;

use crate::args::ValidateArgs;
use crate::config::Config;
use crate::files;
use crate::inputs::{self, InputPath};
use crate::objects::{Object, Pending};
use crate::references;
use crate::report::{self, Finding, Severity, Summary};
use crate::scan::plaintext_finding;

/// Everything gathered while reading the inputs.
#[derive(Default)]
struct Gathered {
    objects: Vec<Object>,
    findings: Vec<Finding>,
    pending: Vec<Pending>,
    workloads: Vec<(usize, Result<Workload, RefError>)>,
    inventory: MemoryInventory,
    seen: HashMap<(String, String, String, String), usize>,
    /// Display names of the inputs read so far.
    files: Vec<String>,
    unusable: bool,
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
        .map_err(|p| anyhow!("default namespace {default_namespace:?} {p}"))?;
    let recipients = match args.recipients_file.clone().or_else(|| config.recipients_path()) {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
            Some(RecipientSet::parse(&text).with_context(|| path.display().to_string())?)
        }
        None => None,
    };

    let mut g = Gathered::default();
    references::declare(&config, &mut g.inventory)?;
    let mut stdin: Option<Zeroizing<Vec<u8>>> = None;
    for (source, target) in targets.iter().enumerate() {
        let bytes = match target {
            InputPath::Stdin => stdin.insert(files::read_input(None)?.bytes).clone(),
            InputPath::File(path) => files::read_file(path)?,
        };
        g.files.push(target.display());
        let ctx = Ctx {
            source,
            file: target.display(),
            default_namespace: &default_namespace,
        };
        ctx.read(&bytes, recipients.as_ref(), &mut g);
    }

    if args.cluster {
        add_live_objects(&args, &default_namespace, &mut g)?;
    }
    references::evaluate(&g.workloads, &g.objects, &targets, &g.inventory, &mut g.pending);

    // Field paths become lines with one positioned re-parse per file that needs it.
    let mut locators: HashMap<usize, Option<Locator>> = HashMap::new();
    for Pending {
        object,
        field,
        mut finding,
    } in g.pending
    {
        let obj = &g.objects[object];
        let located = field.and_then(|path| {
            let locator = locators.entry(obj.source).or_insert_with(|| {
                let bytes = match &targets[obj.source] {
                    InputPath::Stdin => stdin.clone(),
                    InputPath::File(p) => files::read_file(p).ok(),
                };
                bytes.and_then(|b| Locator::new(&b))
            });
            locator.as_ref()?.line_at(obj.index, obj.item, &path)
        });
        finding.line = located.or(Some(obj.line));
        g.findings.push(finding);
    }

    let mut disabled: BTreeSet<&str> = config.disable.iter().map(String::as_str).collect();
    disabled.extend(args.disable.iter().map(String::as_str));
    let mut findings = g.findings;
    findings.retain(|f| !disabled.contains(f.code));
    let order: HashMap<String, usize> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.display(), i))
        .collect();
    findings.sort_by_key(|f| (order.get(&f.file).copied(), f.line, f.severity, f.code));

    let summary = Summary::count(&findings, targets.len(), g.objects.len());
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    files::write_output(
        None,
        &report::render(args.format, &findings, summary, colour, describe),
    )?;
    Ok(if g.unusable {
        2
    } else {
        u8::from(summary.errors > 0)
    })
}

/// `--cluster`: adds what the cluster provides in the namespaces the workloads use.
fn add_live_objects(args: &ValidateArgs, default_namespace: &str, g: &mut Gathered) -> Result<()> {
    let namespaces: BTreeSet<String> = g
        .workloads
        .iter()
        .filter_map(|(_, w)| w.as_ref().ok())
        .map(|w| w.namespace.clone())
        .collect();
    if namespaces.is_empty() {
        return Ok(());
    }
    let namespaces: Vec<String> = namespaces.into_iter().collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let live = runtime.block_on(async {
        let client = sealgate_cluster::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        sealgate_cluster::live_objects(&client, &namespaces).await
    })?;
    for obj in &live.objects {
        g.inventory.add_object(obj, default_namespace);
    }
    for note in live.notes {
        g.findings.push(Finding {
            code: "cluster",
            severity: Severity::Note,
            file: "<cluster>".to_owned(),
            line: None,
            object: None,
            field: None,
            message: note,
        });
    }
    Ok(())
}

struct Ctx<'a> {
    source: usize,
    file: String,
    default_namespace: &'a str,
}

impl Ctx<'_> {
    fn finding(
        &self,
        code: &'static str,
        severity: Severity,
        line: Option<usize>,
        message: String,
    ) -> Finding {
        Finding {
            code,
            severity,
            file: self.file.clone(),
            line,
            object: None,
            field: None,
            message,
        }
    }

    /// Parses one input and runs every per-object check on it.
    fn read(&self, bytes: &[u8], recipients: Option<&RecipientSet>, g: &mut Gathered) {
        let (docs, duplicate_keys) = match manifest::parse_with_duplicates(bytes) {
            Ok(parsed) => (manifest::expand_lists(parsed.documents), parsed.duplicate_keys),
            Err(e) => {
                g.unusable = true;
                let message = strip_line_prefix(&e.to_string());
                g.findings
                    .push(self.finding("invalid-manifest", Severity::Error, e.line(), message));
                return;
            }
        };
        let mut any = false;
        for doc in docs.iter().filter(|d| d.is_kubernetes_object()) {
            any = true;
            self.object(doc, recipients, g);
        }
        if !any {
            let message = "skipped: no Kubernetes objects (apiVersion and kind) in this file".to_owned();
            g.findings
                .push(self.finding("not-kubernetes", Severity::Note, None, message));
        }
        for dup in &duplicate_keys {
            g.findings.push(self.duplicate_key(dup, &docs));
        }
    }

    /// A key given twice in one mapping: read as kubectl reads it (the last wins), and said.
    fn duplicate_key(&self, dup: &DuplicateKey, docs: &[Document]) -> Finding {
        let doc = docs
            .iter()
            .find(|d| d.index == dup.index && d.item == dup.item && d.is_kubernetes_object());
        let line = dup.line().or(doc.map(|d| d.line));
        let mut f = self.finding(DUPLICATE_KEY, Severity::Warning, line, dup.to_string());
        f.object = doc.map(|d| self.describe(d));
        f
    }

    /// `Deployment prod/api`.
    fn describe(&self, doc: &Document) -> String {
        let namespace = doc.namespace().unwrap_or(self.default_namespace);
        format!("{} {namespace}/{}", doc.kind(), doc.name())
    }

    fn object(&self, doc: &Document, recipients: Option<&RecipientSet>, g: &mut Gathered) {
        let namespace = doc.namespace().unwrap_or(self.default_namespace);
        let index = g.objects.len();
        g.objects.push(Object {
            source: self.source,
            index: doc.index,
            item: doc.item,
            line: doc.line,
            describe: self.describe(doc),
        });
        let obj = &g.objects[index];

        let group = doc.api_version().rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            group.to_owned(),
            doc.kind().to_owned(),
            namespace.to_owned(),
            doc.name().to_owned(),
        );
        if let Some(&first) = g.seen.get(&key) {
            let first = &g.objects[first];
            let mut f = self.finding(
                "duplicate-object",
                Severity::Error,
                Some(obj.line),
                format!(
                    "defined again; first defined at {}:{}",
                    g.files[first.source], first.line
                ),
            );
            f.object = Some(obj.describe.clone());
            g.findings.push(f);
        } else {
            g.seen.insert(key, index);
        }

        if let Some(keys) = plaintext_keys(&doc.value) {
            g.findings.push(plaintext_finding(&self.file, doc, &keys));
        }
        if doc.api_version() == names::API_VERSION && doc.kind() == names::KIND {
            self.sealed_secret(index, doc, recipients, &mut g.pending, &g.objects[index].describe);
        }
        g.inventory.add_object(&doc.value, self.default_namespace);
        match refs::extract(&doc.value, self.default_namespace) {
            Ok(Some(w)) => g.workloads.push((index, Ok(w))),
            Ok(None) => {}
            Err(e) => g.workloads.push((index, Err(e))),
        }
    }

    fn sealed_secret(
        &self,
        object: usize,
        doc: &Document,
        recipients: Option<&RecipientSet>,
        pending: &mut Vec<Pending>,
        describe: &str,
    ) {
        let mut add = |code, severity, field: Option<String>, message: String| {
            let finding = Finding {
                code,
                severity,
                file: self.file.clone(),
                line: None,
                object: Some(describe.to_owned()),
                field: field.clone(),
                message,
            };
            pending.push(Pending {
                object,
                field,
                finding,
            });
        };
        let sealed = match sealed_from_manifest(&doc.value) {
            Ok(s) => s,
            Err(e) => {
                let field = match &e {
                    SecretError::Field { field, .. } => Some(field.clone()),
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
                let message = format!("sealed value of key {key:?} is invalid: {e}");
                add("malformed-sealed-value", Severity::Error, field, message);
            }
        }
        for problem in template_problems(&sealed) {
            let key = match &problem {
                SecretError::Template { key, .. } | SecretError::TemplateShadowsSealedKey { key } => key,
                _ => continue,
            };
            let field = Some(format!("spec.template.data.{key}"));
            add("invalid-template", Severity::Error, field, problem.to_string());
        }
        let Some(recipients) = recipients else { return };
        let annotations = sealed.metadata.annotations.as_ref();
        let Some(annotation) = annotations.and_then(|a| a.get(names::ANNOTATION_RECIPIENTS)) else {
            let message = format!(
                "has no {} annotation, so its recipients cannot be checked; re-seal it with sealgate",
                names::ANNOTATION_RECIPIENTS
            );
            add(
                "unknown-recipient",
                Severity::Warning,
                Some("metadata".to_owned()),
                message,
            );
            return;
        };
        let expected = recipients.fingerprints();
        let actual = parse_fingerprint_annotation(annotation);
        let field = Some("metadata.annotations".to_owned());
        let unknown: Vec<&String> = actual.difference(&expected).collect();
        if !unknown.is_empty() {
            let message = format!(
                "sealed to recipient(s) {} that are not in the repository's recipients list",
                join(&unknown)
            );
            add("unknown-recipient", Severity::Warning, field.clone(), message);
        }
        let missing: Vec<&String> = expected.difference(&actual).collect();
        if !missing.is_empty() {
            let message = format!(
                "not sealed to recipient(s) {} from the repository's recipients list; re-seal it \
                 (sealgate seal --merge-into) so every cluster and recovery key can open it",
                join(&missing)
            );
            add("missing-recipient", Severity::Warning, field, message);
        }
    }
}

fn join(items: &[&String]) -> String {
    items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
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

/// One-line descriptions of finding codes, for SARIF rules.
pub fn describe(code: &str) -> &'static str {
    match code {
        "missing-secret" => "A workload references a Secret that nothing provides",
        "missing-key" => "A workload references a Secret key that its provider does not have",
        "unready-provider" => "A Secret is provided only by a SealedSecret that fails to unseal",
        "empty-reference" => "A Secret reference has an empty name or key",
        "missing-image-pull-secret" => "An image pull Secret that nothing provides",
        "unknown-keys" => "A reference relies on a provider whose keys are not known",
        "invalid-annotation" => "A sealgate annotation on a workload cannot be read",
        "invalid-workload" => "A workload's pod spec is not shaped as Kubernetes defines it",
        "plaintext-secret" => "A Kubernetes Secret with plaintext values is about to be committed",
        "invalid-sealed-secret" => "A SealedSecret object is malformed",
        "invalid-key" => "A SealedSecret data key breaks Kubernetes' naming rules",
        "malformed-sealed-value" => "A SealedSecret value is not valid base64-encoded age",
        "invalid-template" => "A SealedSecret's template data cannot be built from its sealed keys",
        "unknown-recipient" => "A SealedSecret is sealed to a recipient not in the repository's list",
        "missing-recipient" => "A SealedSecret is not sealed to every recipient in the repository's list",
        "duplicate-object" => "The same object is defined twice",
        DUPLICATE_KEY => {
            "A mapping key appears twice in one mapping; the last value is used, as kubectl does"
        }
        "invalid-manifest" => "A file is not valid YAML or JSON",
        "not-kubernetes" => "A file holds no Kubernetes objects and was skipped",
        "cluster" => "Something about the live cluster worth knowing (validate --cluster)",
        _ => "sealgate finding",
    }
}
