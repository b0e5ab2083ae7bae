//! `sealgate scan`: the pre-commit check. Fails on plaintext Kubernetes Secrets
//! and `.env` files about to be committed.

use std::io::IsTerminal;

use anyhow::Result;
use sealgate_core::{manifest, plaintext_keys};

use crate::args::ScanArgs;
use crate::config::Config;
use crate::files;
use crate::inputs::{self, InputPath};
use crate::report::{self, Finding, Severity, Summary};

/// Exit status: 0 clean, 1 findings at error level.
pub fn run(args: ScanArgs) -> Result<u8> {
    let config = Config::load(args.config.as_deref(), &args.paths)?;
    let mut patterns = config.ignore.clone();
    patterns.extend(args.ignore.iter().cloned());
    let ignore = inputs::ignore_set(&patterns)?;
    let paths = if args.paths.is_empty() {
        vec![".".into()]
    } else {
        args.paths.clone()
    };
    let targets = inputs::expand(&paths, &ignore, inputs::is_scannable)?;

    let mut findings = Vec::new();
    let mut objects = 0;
    for target in &targets {
        let InputPath::File(path) = target else {
            let input = files::read_input(None)?;
            objects += scan_manifest(&input.name, &input.bytes, &mut findings);
            continue;
        };
        let name = target.display();
        if inputs::is_env_file(path) {
            findings.push(Finding {
                code: "env-file",
                severity: Severity::Error,
                file: name,
                line: None,
                object: None,
                field: None,
                message: "environment file with likely secrets; keep it out of Git (add it to .gitignore) \
                          or seal its values with `sealgate seal --from-env-file`"
                    .into(),
            });
            continue;
        }
        let bytes = files::read_file(path)?;
        objects += scan_manifest(&name, &bytes, &mut findings);
    }
    findings.retain(|f| !config.disable.iter().any(|d| d == f.code));
    let summary = Summary::count(&findings, targets.len(), objects);
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = report::render(args.format, &findings, summary, colour, describe);
    files::write_output(None, &text)?;
    Ok(u8::from(summary.errors > 0))
}

/// Adds a finding per plaintext Secret in `bytes`; returns the number of objects read.
/// Files that are not valid YAML (templates, for instance) are passed over with a note.
fn scan_manifest(name: &str, bytes: &[u8], findings: &mut Vec<Finding>) -> usize {
    let docs = match manifest::parse_documents(bytes) {
        Ok(docs) => manifest::expand_lists(docs),
        Err(e) => {
            findings.push(Finding {
                code: "unparsed",
                severity: Severity::Note,
                file: name.to_owned(),
                line: e.line(),
                object: None,
                field: None,
                message: format!("not checked: {e}"),
            });
            return 0;
        }
    };
    for doc in &docs {
        if let Some(keys) = plaintext_keys(&doc.value) {
            findings.push(plaintext_finding(name, doc, &keys));
        }
    }
    docs.len()
}

/// The finding for a plaintext Secret, shared with `validate`.
pub fn plaintext_finding(file: &str, doc: &manifest::Document, keys: &[String]) -> Finding {
    let ns = doc.namespace().map(|n| format!("{n}/")).unwrap_or_default();
    Finding {
        code: "plaintext-secret",
        severity: Severity::Error,
        file: file.to_owned(),
        line: Some(doc.line),
        object: Some(format!("Secret {ns}{}", doc.name())),
        field: None,
        message: format!(
            "plaintext Secret with keys {}; seal it with `sealgate seal`, or annotate it {}: <reason> if it is meant to be plain",
            keys.iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            sealgate_core::names::ANNOTATION_PLAINTEXT_OK
        ),
    }
}

/// One-line descriptions of finding codes, for SARIF rules.
pub fn describe(code: &str) -> &'static str {
    match code {
        "plaintext-secret" => "A Kubernetes Secret with plaintext values is about to be committed",
        "env-file" => "An environment file that likely holds secrets is about to be committed",
        "unparsed" => "A file could not be parsed and was not checked",
        _ => "sealgate finding",
    }
}
