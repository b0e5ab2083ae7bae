//! Findings of `sealgate validate` and `sealgate scan`, and the formats they are
//! printed in: text for people, JSON for tools, SARIF for code scanning,
//! GitHub workflow-command annotations, and GitLab Code Quality reports.

use std::collections::HashMap;
use std::fmt::Write as _;

use clap::ValueEnum;
use serde_json::json;
use sha2::{Digest, Sha256};

/// How bad a finding is. Errors fail the run (exit 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One thing to tell the user, pointing at a file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable slug, e.g. `missing-key`.
    pub code: &'static str,
    pub severity: Severity,
    /// The input it is about (`<stdin>` for standard input).
    pub file: String,
    pub line: Option<usize>,
    /// The object, e.g. `Deployment prod/api`.
    pub object: Option<String>,
    /// Field path inside the object.
    pub field: Option<String>,
    pub message: String,
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Grouped by file, for people (colour on a terminal).
    #[default]
    Text,
    /// One JSON document with every finding and a summary.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF readers.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// GitLab Code Quality report (`artifacts:reports:codequality`), shown in merge requests.
    Gitlab,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub objects: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

impl Summary {
    pub fn count(findings: &[Finding], files: usize, objects: usize) -> Self {
        let by = |s| findings.iter().filter(|f| f.severity == s).count();
        Summary {
            files,
            objects,
            errors: by(Severity::Error),
            warnings: by(Severity::Warning),
            notes: by(Severity::Note),
        }
    }
}

/// Describes a finding code for SARIF rule metadata.
pub type RuleDescriber = fn(&str) -> &'static str;

/// Renders `findings` (already sorted) in `format`.
pub fn render(
    format: ReportFormat,
    findings: &[Finding],
    summary: Summary,
    colour: bool,
    describe: RuleDescriber,
) -> String {
    match format {
        ReportFormat::Text => text(findings, summary, colour),
        ReportFormat::Json => json_report(findings, summary),
        ReportFormat::Sarif => sarif(findings, describe),
        ReportFormat::Github => github(findings, summary),
        ReportFormat::Gitlab => gitlab(findings),
    }
}

fn location(f: &Finding) -> String {
    match f.line {
        Some(line) => format!("{}:{line}", f.file),
        None => f.file.clone(),
    }
}

fn one_line(f: &Finding) -> String {
    let mut s = String::new();
    if let Some(obj) = &f.object {
        let _ = write!(s, "{obj}: ");
    }
    s.push_str(&f.message);
    if let Some(field) = &f.field {
        let _ = write!(s, " ({field})");
    }
    s
}

fn text(findings: &[Finding], summary: Summary, colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for f in findings {
        if current != Some(f.file.as_str()) {
            if current.is_some() {
                out.push('\n');
            }
            let _ = writeln!(out, "{}", paint("1", &f.file));
            current = Some(&f.file);
        }
        let level = match f.severity {
            Severity::Error => paint("1;31", "error"),
            Severity::Warning => paint("1;33", "warning"),
            Severity::Note => paint("1;36", "note"),
        };
        let _ = writeln!(out, "  {}: {level}[{}] {}", location(f), f.code, one_line(f));
    }
    if !findings.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} files, {} objects: {} errors, {} warnings, {} notes",
        summary.files, summary.objects, summary.errors, summary.warnings, summary.notes
    );
    out
}

fn finding_json(f: &Finding) -> serde_json::Value {
    json!({
        "code": f.code,
        "severity": f.severity.as_str(),
        "file": f.file,
        "line": f.line,
        "object": f.object,
        "field": f.field,
        "message": f.message,
    })
}

fn json_report(findings: &[Finding], summary: Summary) -> String {
    let doc = json!({
        "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
        "summary": {
            "files": summary.files,
            "objects": summary.objects,
            "errors": summary.errors,
            "warnings": summary.warnings,
            "notes": summary.notes,
        },
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn sarif(findings: &[Finding], describe: RuleDescriber) -> String {
    let mut codes: Vec<&'static str> = findings.iter().map(|f| f.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<_> = codes
        .iter()
        .map(|code| {
            json!({
                "id": code,
                "name": code,
                "shortDescription": {"text": describe(code)},
                "helpUri": "https://github.com/sealgate/sealgate/blob/main/docs/findings.md",
            })
        })
        .collect();
    let results: Vec<_> = findings
        .iter()
        .map(|f| {
            let mut region = serde_json::Map::new();
            region.insert("startLine".into(), json!(f.line.unwrap_or(1)));
            json!({
                "ruleId": f.code,
                "ruleIndex": codes.iter().position(|c| *c == f.code).unwrap_or(0),
                "level": f.severity.as_str(),
                "message": {"text": one_line(f)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": sarif_uri(&f.file)},
                        "region": region,
                    }
                }],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sealgate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/sealgate/sealgate",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// SARIF wants URIs relative to the repository root, with forward slashes.
fn sarif_uri(file: &str) -> String {
    let f = file.replace('\\', "/");
    f.strip_prefix("./").unwrap_or(&f).to_owned()
}

fn github(findings: &[Finding], summary: Summary) -> String {
    let mut out = String::new();
    for f in findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut props = format!("file={}", gh_property(&sarif_uri(&f.file)));
        if let Some(line) = f.line {
            let _ = write!(props, ",line={line}");
        }
        let _ = write!(props, ",title={}", gh_property(&format!("sealgate {}", f.code)));
        let _ = writeln!(out, "::{command} {props}::{}", gh_data(&one_line(f)));
    }
    let _ = writeln!(
        out,
        "sealgate: {} files, {} objects: {} errors, {} warnings, {} notes",
        summary.files, summary.objects, summary.errors, summary.warnings, summary.notes
    );
    out
}

fn gh_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitLab's severities, in its order: errors fail the job, so they rank above the rest.
fn gitlab_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Note => "info",
    }
}

/// The Code Quality report: a JSON array of issues, each with a fingerprint GitLab uses
/// to tell new findings from fixed ones between the merge request and its target.
///
/// The fingerprint is the SHA-256 of the code, file, object and field path: it stays
/// the same when lines move or the message's details change, and changes when the
/// finding is about something else. Findings that share all four are told apart by
/// their order in the file.
fn gitlab(findings: &[Finding]) -> String {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let issues: Vec<_> = findings
        .iter()
        .map(|f| {
            let path = sarif_uri(&f.file);
            let identity = [
                "sealgate",
                f.code,
                &path,
                f.object.as_deref().unwrap_or(""),
                f.field.as_deref().unwrap_or(""),
            ]
            .join("\0");
            let n = seen.entry(identity.clone()).or_insert(0);
            *n += 1;
            let mut hash = Sha256::new();
            hash.update(identity.as_bytes());
            if *n > 1 {
                hash.update(format!("\0{n}").as_bytes());
            }
            let fingerprint = hash
                .finalize()
                .iter()
                .fold(String::with_capacity(64), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                });
            json!({
                "description": one_line(f),
                "check_name": format!("sealgate/{}", f.code),
                "fingerprint": fingerprint,
                "severity": gitlab_severity(f.severity),
                "location": {
                    "path": path,
                    "lines": {"begin": f.line.unwrap_or(1)},
                },
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Finding> {
        vec![
            Finding {
                code: "missing-key",
                severity: Severity::Error,
                file: "./apps/api.yaml".into(),
                line: Some(12),
                object: Some("Deployment prod/api".into()),
                field: Some("spec.template.spec.containers[api].env[DB_PASSWORD]".into()),
                message: "Secret \"db-creds\" has no key \"password\"".into(),
            },
            Finding {
                code: "missing-image-pull-secret",
                severity: Severity::Warning,
                file: "apps/api.yaml".into(),
                line: None,
                object: None,
                field: None,
                message: "100%, a: b\nc".into(),
            },
        ]
    }

    #[test]
    fn text_groups_by_file_and_summarises() {
        let f = sample();
        let out = text(&f, Summary::count(&f, 1, 2), false);
        assert!(
            out.contains(
                "  ./apps/api.yaml:12: error[missing-key] Deployment prod/api: Secret \"db-creds\" \
            has no key \"password\" (spec.template.spec.containers[api].env[DB_PASSWORD])"
            ),
            "{out}"
        );
        assert!(
            out.ends_with("1 files, 2 objects: 1 errors, 1 warnings, 0 notes\n"),
            "{out}"
        );
        assert!(!out.contains('\x1b'));
        assert!(text(&f, Summary::default(), true).contains("\x1b[1;31merror"));
    }

    #[test]
    fn github_escapes_data_and_properties() {
        let f = sample();
        let out = github(&f, Summary::count(&f, 1, 2));
        assert!(
            out.starts_with(
                "::error file=apps/api.yaml,line=12,title=sealgate missing-key::Deployment prod/api: "
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "::warning file=apps/api.yaml,title=sealgate missing-image-pull-secret::100%25, a: b%0Ac\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn sarif_has_the_required_fields() {
        let f = sample();
        let doc: serde_json::Value = serde_json::from_str(&sarif(&f, |_| "describes")).unwrap();
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "sealgate");
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
        let r = &run["results"][0];
        assert_eq!(r["ruleId"], "missing-key");
        assert_eq!(r["level"], "error");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "apps/api.yaml"
        );
        assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 12);
        let rule_index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][rule_index]["id"], "missing-key");
    }

    #[test]
    fn gitlab_code_quality_fields_and_stable_fingerprints() {
        let f = sample();
        let doc: serde_json::Value = serde_json::from_str(&gitlab(&f)).unwrap();
        let issues = doc.as_array().unwrap();
        assert_eq!(issues.len(), 2);
        let first = &issues[0];
        assert_eq!(first["check_name"], "sealgate/missing-key");
        assert_eq!(first["severity"], "major");
        assert_eq!(first["location"]["path"], "apps/api.yaml");
        assert_eq!(first["location"]["lines"]["begin"], 12);
        assert!(
            first["description"]
                .as_str()
                .unwrap()
                .starts_with("Deployment prod/api: ")
        );
        assert_eq!(issues[1]["severity"], "minor");
        assert_eq!(issues[1]["location"]["lines"]["begin"], 1, "no line: the first");
        let fp = |i: usize| issues[i]["fingerprint"].as_str().unwrap().to_owned();
        assert_eq!(fp(0).len(), 64);
        assert_ne!(fp(0), fp(1));

        // Moving lines or rewording keeps the fingerprint; another field changes it.
        let mut moved = f.clone();
        moved[0].line = Some(40);
        moved[0].message = "reworded".into();
        moved[0].file = "apps/api.yaml".into();
        let again: serde_json::Value = serde_json::from_str(&gitlab(&moved)).unwrap();
        assert_eq!(again[0]["fingerprint"], fp(0).as_str());
        let mut other = f.clone();
        other[0].field = Some("spec.template.spec.containers[api].env[OTHER]".into());
        let other: serde_json::Value = serde_json::from_str(&gitlab(&other)).unwrap();
        assert_ne!(other[0]["fingerprint"], fp(0).as_str());

        // Two findings that share code, file, object and field still get distinct fingerprints.
        let twice = vec![f[0].clone(), f[0].clone()];
        let twice: serde_json::Value = serde_json::from_str(&gitlab(&twice)).unwrap();
        assert_eq!(twice[0]["fingerprint"], fp(0).as_str());
        assert_ne!(twice[0]["fingerprint"], twice[1]["fingerprint"]);

        assert_eq!(gitlab(&[]), "[]\n");
    }
}
