//! Which files `validate` and `scan` read: explicit files, directories walked
//! for manifests, `-` for standard input, less the ignore globs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use globset::{Glob, GlobSet, GlobSetBuilder};

/// One input to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputPath {
    Stdin,
    File(PathBuf),
}

impl InputPath {
    /// How it is shown in findings.
    pub fn display(&self) -> String {
        match self {
            InputPath::Stdin => "<stdin>".to_owned(),
            InputPath::File(p) => p.display().to_string(),
        }
    }
}

/// Compiles ignore globs (`*` stays within a path segment, `**` crosses them).
pub fn ignore_set(patterns: &[String]) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .with_context(|| format!("ignore pattern {p:?}"))?;
        builder.add(glob);
        // A directory pattern also covers what is inside it.
        if !p.ends_with("/**") {
            builder.add(
                Glob::new(&format!("{}/**", p.trim_end_matches('/')))
                    .with_context(|| format!("ignore pattern {p:?}"))?,
            );
        }
    }
    builder.build().context("ignore patterns")
}

fn is_ignored(ignore: &GlobSet, path: &Path) -> bool {
    let p = path.strip_prefix("./").unwrap_or(path);
    ignore.is_match(p)
}

/// Expands `paths` into the inputs to read, in a stable order. Directories are walked
/// (hidden entries skipped) for files `wanted` accepts; files named explicitly are always read.
pub fn expand(paths: &[PathBuf], ignore: &GlobSet, wanted: fn(&Path) -> bool) -> Result<Vec<InputPath>> {
    let mut out = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            out.push(InputPath::Stdin);
            continue;
        }
        let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
        if !meta.is_dir() {
            if !is_ignored(ignore, path) {
                out.push(InputPath::File(path.clone()));
            }
            continue;
        }
        let mut found = Vec::new();
        let walker = walkdir::WalkDir::new(path)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        let hidden_dir = |e: &walkdir::DirEntry| {
            e.depth() > 0 && e.file_type().is_dir() && e.file_name().to_string_lossy().starts_with('.')
        };
        for entry in walker.filter_entry(|e| !hidden_dir(e)) {
            let entry = entry.with_context(|| format!("{}: cannot walk", path.display()))?;
            let p = entry.path();
            if entry.file_type().is_dir() || is_ignored(ignore, p) || !wanted(p) {
                continue;
            }
            found.push(InputPath::File(p.to_path_buf()));
        }
        out.extend(found);
    }
    if out.is_empty() && paths.is_empty() {
        bail!("no input: give files, directories, or - for standard input");
    }
    Ok(out)
}

/// YAML and JSON files, except hidden ones (tool configs such as `.sealgate.yaml`).
pub fn is_manifest(path: &Path) -> bool {
    !is_hidden(path)
        && matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("yaml" | "yml" | "json")
        )
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Files that hold environment variables: `.env`, `.env.production`, `prod.env`;
/// not the `.example`, `.sample`, `.template` and `.dist` files meant to be committed.
pub fn is_env_file(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()) else {
        return false;
    };
    let committed = [".example", ".sample", ".template", ".dist", ".tmpl"];
    if committed.iter().any(|s| name.ends_with(s)) {
        return false;
    }
    name == ".env" || name.starts_with(".env.") || (name.ends_with(".env") && name.len() > 4)
}

/// What `scan` reads: manifests and env files.
pub fn is_scannable(path: &Path) -> bool {
    is_manifest(path) || is_env_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_manifests_and_honours_ignores() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a.yaml",
            "b/c.yml",
            "b/d.txt",
            ".git/x.yaml",
            "skip/e.json",
            "f.JSON",
            ".sealgate.yaml",
            "b/.env",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "{}").unwrap();
        }
        let ignore = ignore_set(&[format!("{}/skip", root.display())]).unwrap();
        let got = expand(&[root.to_path_buf()], &ignore, is_manifest).unwrap();
        let names: Vec<String> = got
            .iter()
            .map(|i| i.display().replace(&root.display().to_string(), ""))
            .collect();
        assert_eq!(names, vec!["/a.yaml", "/b/c.yml", "/f.JSON"]);
        let got = expand(&[root.to_path_buf()], &ignore, is_scannable).unwrap();
        assert!(got.iter().any(|i| i.display().ends_with("b/.env")));
    }

    #[test]
    fn env_file_names() {
        for yes in [".env", ".env.production", "prod.env", "x/.env.local"] {
            assert!(is_env_file(Path::new(yes)), "{yes}");
        }
        for no in [".env.example", ".env.sample", "env", ".envrc", "a.yaml", ".env"][..5].iter() {
            assert!(!is_env_file(Path::new(no)), "{no}");
        }
    }
}
