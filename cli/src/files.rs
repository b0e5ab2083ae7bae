//! Reading inputs (bounded), writing outputs atomically, loading keys.

use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sealgate_core::manifest::MAX_INPUT_BYTES;
use sealgate_core::{Keyring, RecipientSet, names};
use zeroize::Zeroizing;

use crate::args::RecipientArgs;

/// An input's display name and its bytes (wiped on drop: they may hold plaintext).
pub struct Input {
    pub name: String,
    pub bytes: Zeroizing<Vec<u8>>,
}

/// Reads `path`, or standard input for `None` or `-`, refusing more than the manifest limit.
pub fn read_input(path: Option<&Path>) -> Result<Input> {
    match path {
        Some(p) if p != Path::new("-") => Ok(Input {
            name: p.display().to_string(),
            bytes: read_file(p)?,
        }),
        _ => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!("expected input on standard input (pipe a manifest in, or pass -f FILE)");
            }
            let bytes = read_bounded(stdin.lock(), MAX_INPUT_BYTES).context("<stdin>")?;
            Ok(Input {
                name: "<stdin>".into(),
                bytes,
            })
        }
    }
}

/// Reads a whole file into a zeroizing buffer, up to the manifest limit.
pub fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let file = fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        bail!("{}: is a directory", path.display());
    }
    read_bounded(file, MAX_INPUT_BYTES).with_context(|| path.display().to_string())
}

fn read_bounded(reader: impl Read, max: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(Vec::new());
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .context("read failed")?;
    if bytes.len() > max {
        bail!("input is larger than {max} bytes");
    }
    Ok(bytes)
}

/// Where new file contents go: write a temporary file beside the target, then rename over it.
pub struct AtomicWrite<'a> {
    pub path: &'a Path,
    /// Permission bits for a new file (an existing file keeps its own).
    pub mode: u32,
    /// Whether an existing file may be replaced.
    pub overwrite: bool,
}

impl AtomicWrite<'_> {
    /// Writes `contents`: either the whole new file is in place, or the old one is untouched.
    pub fn write(&self, contents: &[u8]) -> Result<()> {
        let path = self.path;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let existing_mode = fs::metadata(path).ok().map(|m| permissions_mode(&m));
        if existing_mode.is_some() && !self.overwrite {
            bail!("{}: already exists; refusing to overwrite", path.display());
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".sealgate-")
            .tempfile_in(&dir)
            .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
        set_mode(tmp.as_file(), existing_mode.unwrap_or(self.mode))?;
        tmp.write_all(contents)
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("{}: write failed", path.display()))?;
        if self.overwrite {
            tmp.persist(path).map_err(|e| e.error)
        } else {
            tmp.persist_noclobber(path).map_err(|e| e.error)
        }
        .with_context(|| format!("{}: cannot move the new file into place", path.display()))?;
        Ok(())
    }
}

#[cfg(unix)]
fn permissions_mode(m: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(file: &fs::File, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .context("cannot set permissions")
}

#[cfg(not(unix))]
fn permissions_mode(_: &fs::Metadata) -> u32 {
    0o600
}

#[cfg(not(unix))]
fn set_mode(_: &fs::File, _: u32) -> Result<()> {
    Ok(())
}

/// Writes `text` to `path` atomically (mode 0644 for a new file), or to standard output.
pub fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => AtomicWrite {
            path,
            mode: 0o644,
            overwrite: true,
        }
        .write(text.as_bytes()),
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to standard output")
        }
    }
}

/// The recipients from -r, --recipients-file, or else `SEALGATE_RECIPIENTS`.
pub fn recipients(args: &RecipientArgs) -> Result<RecipientSet> {
    let mut set = RecipientSet::default();
    for (i, r) in args.recipients.iter().enumerate() {
        set.push(r.parse().with_context(|| format!("-r/--recipient #{}", i + 1))?);
    }
    for path in &args.recipients_file {
        let text = fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        set.extend(RecipientSet::parse(&text).with_context(|| path.display().to_string())?);
    }
    if set.is_empty()
        && let Ok(env) = std::env::var(names::ENV_RECIPIENTS)
    {
        set = RecipientSet::parse_list(&env).with_context(|| names::ENV_RECIPIENTS.to_owned())?;
    }
    let fetch = args.fetch || (set.is_empty() && crate::cluster::kubeconfig_present(&args.controller));
    if fetch {
        set.extend(crate::cluster::fetch(&args.controller).context("fetching recipients from the cluster")?);
    }
    if set.is_empty() {
        bail!(
            "no recipients: pass -r age1…, --recipients-file FILE, --fetch (from sealgate-controller), or set {}",
            names::ENV_RECIPIENTS
        );
    }
    Ok(set)
}

/// Every identity in the given identity files.
pub fn keyring(paths: &[PathBuf]) -> Result<Keyring> {
    let mut ring = Keyring::default();
    for path in paths {
        let bytes = read_file(path)?;
        let text =
            std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))?;
        for id in Keyring::parse(text)
            .with_context(|| path.display().to_string())?
            .identities()
        {
            ring.push(id.clone());
        }
    }
    Ok(ring)
}
