//! `.sealgate.yaml`: the repository's settings for `validate` and `scan`.
//!
//! ```yaml
//! recipientsFile: .sealgate/recipients.txt   # recipients SealedSecrets must be sealed to
//! defaultNamespace: default                  # for objects without metadata.namespace
//! disable: [plaintext-secret]                # finding codes to turn off
//! ignore: ["charts/*/templates/**"]          # paths (globs) validate and scan skip
//! externalSecrets:                           # Secrets created outside these manifests
//!   - name: "registry-*"                     # name or glob
//!     namespace: "*"                         # optional; absent means every namespace
//!     keys: [.dockerconfigjson]              # optional; absent means unknown
//!     reason: created by the platform's registry operator
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

/// File name looked up from the current directory upwards to the repository root.
pub const FILE_NAME: &str = ".sealgate.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Recipients file, relative to the config file.
    #[serde(default)]
    pub recipients_file: Option<PathBuf>,
    #[serde(default)]
    pub default_namespace: Option<String>,
    #[serde(default)]
    pub disable: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default)]
    pub external_secrets: Vec<ExternalSecretDecl>,
    /// Directory of the config file; paths in it are relative to this.
    #[serde(skip)]
    pub base: PathBuf,
    /// Where it was read from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// A Secret that something outside the manifests creates.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalSecretDecl {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    pub reason: String,
}

impl Config {
    /// Reads `explicit`, or else the nearest `.sealgate.yaml` from the first input's
    /// directory (then the current directory) up to the repository root; no file means
    /// the defaults.
    pub fn load(explicit: Option<&Path>, inputs: &[PathBuf]) -> Result<Config> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let cwd = std::env::current_dir().context("cannot read the current directory")?;
                let first = inputs.iter().find(|p| p.as_os_str() != "-").map(|p| {
                    let p = cwd.join(p);
                    if p.is_dir() {
                        p
                    } else {
                        p.parent().map(Path::to_path_buf).unwrap_or(p)
                    }
                });
                first
                    .and_then(|start| discover(&start))
                    .or_else(|| discover(&cwd))
            }
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let mut config = parse(&text).with_context(|| path.display().to_string())?;
        config.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.source = Some(path);
        Ok(config)
    }

    /// The recipients file, resolved against the config file's directory.
    pub fn recipients_path(&self) -> Option<PathBuf> {
        self.recipients_file.as_ref().map(|p| self.base.join(p))
    }
}

/// Parses the config text; errors name the line.
pub fn parse(text: &str) -> Result<Config> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: 16, max_nodes: 100_000 },
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<Config>(text, options).map_err(|e| {
        let e = e.without_snippet();
        let line = e.location().map(|l| l.line()).filter(|&l| l > 0);
        let message = e.to_string().lines().next().unwrap_or("").trim().to_owned();
        match line {
            Some(line) => anyhow!("line {line}: {message}"),
            None => anyhow!("{message}"),
        }
    })
}

fn discover(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config_parses() {
        let c = parse(
            "recipientsFile: r.txt\ndisable: [plaintext-secret]\nignore: ['x/**']\nexternalSecrets:\n  - name: 'registry-*'\n    keys: [.dockerconfigjson]\n    reason: operator\n",
        )
        .unwrap();
        assert_eq!(c.disable, vec!["plaintext-secret"]);
        assert_eq!(
            c.external_secrets[0].keys.as_deref(),
            Some(&[".dockerconfigjson".to_owned()][..])
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("disable: []\nexternalSecrets:\n  - name: x\n    reasn: typo\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 4") || err.starts_with("line 3"), "{err}");
        let err = parse("disable: [\n").unwrap_err().to_string();
        assert!(err.starts_with("line "), "{err}");
    }
}
