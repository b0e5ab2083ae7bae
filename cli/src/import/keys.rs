//! The Bitnami controller's RSA private keys, from PEM files (PKCS#1 as the
//! controller writes `tls.key`, or PKCS#8) or from the key Secrets as
//! `kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`
//! prints them (a `List`, or single Secrets).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use sealgate_core::{PlainSecret, manifest, zeroize_json};

use crate::files;

/// The data key under which the Bitnami controller keeps its private key.
const TLS_KEY: &str = "tls.key";

/// One private key and where it came from. `Debug` shows only the source.
pub struct BitnamiKey {
    source: String,
    key: RsaPrivateKey,
}

impl BitnamiKey {
    /// The key, for decryption only.
    pub fn private(&self) -> &RsaPrivateKey {
        &self.key
    }
}

impl fmt::Debug for BitnamiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BitnamiKey({} [redacted])", self.source)
    }
}

/// Every RSA private key in the given files; each file must hold at least one.
pub fn load(paths: &[PathBuf]) -> Result<Vec<BitnamiKey>> {
    let mut keys = Vec::new();
    for path in paths {
        let found = load_file(path).with_context(|| format!("--key {}", path.display()))?;
        if found.is_empty() {
            bail!(
                "--key {}: no RSA private key in it (expected a PEM private key, or Secrets with data.{TLS_KEY})",
                path.display()
            );
        }
        keys.extend(found);
    }
    Ok(keys)
}

fn load_file(path: &Path) -> Result<Vec<BitnamiKey>> {
    let bytes = files::read_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| anyhow!("not UTF-8 text"))?;
    if text.lines().any(|l| l.trim_start().starts_with("-----BEGIN ")) {
        return from_pem(text, &path.display().to_string());
    }
    from_secrets(&bytes, &path.display().to_string())
}

/// Keys from the `tls.key` of each Secret in a manifest (YAML or JSON, `List`s expanded).
fn from_secrets(bytes: &[u8], file: &str) -> Result<Vec<BitnamiKey>> {
    let docs = manifest::parse_documents(bytes).context("neither PEM nor a Secret manifest")?;
    let mut docs = manifest::expand_lists(docs);
    let result = docs
        .iter()
        .map(|doc| {
            let at = format!("document {} (line {})", doc.index, doc.line);
            let secret = PlainSecret::from_manifest(&doc.value).with_context(|| at.clone())?;
            let ns = secret
                .namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default();
            let source = format!("{file}: Secret {ns}{}", secret.name);
            let pem = secret
                .data
                .get(TLS_KEY)
                .ok_or_else(|| anyhow!("{at}: Secret {ns}{} has no data.{TLS_KEY}", secret.name))?;
            let text = std::str::from_utf8(pem.expose()).map_err(|_| {
                anyhow!(
                    "{at}: data.{TLS_KEY} of Secret {ns}{} is not PEM text",
                    secret.name
                )
            })?;
            let keys = from_pem(text, &source).with_context(|| format!("{at}: data.{TLS_KEY}"))?;
            if keys.is_empty() {
                bail!(
                    "{at}: data.{TLS_KEY} of Secret {ns}{} holds no RSA private key",
                    secret.name
                );
            }
            Ok(keys)
        })
        .collect::<Result<Vec<_>>>();
    docs.iter_mut().for_each(|d| zeroize_json(&mut d.value));
    Ok(result?.into_iter().flatten().collect())
}

/// Every private key among the PEM blocks of `text`; certificates and public keys are passed over.
fn from_pem(text: &str, source: &str) -> Result<Vec<BitnamiKey>> {
    let mut keys = Vec::new();
    for (n, block) in pem_blocks(text)?.into_iter().enumerate() {
        let at = || format!("PEM block {} ({})", n + 1, block.label);
        let key = match block.label {
            "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_pem(block.text)
                .map_err(|e| anyhow!("{}: not a PKCS#1 RSA private key: {e}", at()))?,
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_pem(block.text)
                .map_err(|e| anyhow!("{}: not a PKCS#8 RSA private key: {e}", at()))?,
            "ENCRYPTED PRIVATE KEY" => bail!(
                "{}: the key is encrypted; decrypt it first (openssl pkey -in FILE -out key.pem)",
                at()
            ),
            label if label.ends_with("PRIVATE KEY") => {
                bail!("{}: only RSA keys seal Bitnami SealedSecrets", at())
            }
            _ => continue,
        };
        let source = if n == 0 {
            source.to_owned()
        } else {
            format!("{source} #{}", n + 1)
        };
        keys.push(BitnamiKey { source, key });
    }
    Ok(keys)
}

struct PemBlock<'a> {
    label: &'a str,
    /// The whole block, BEGIN to END lines, for the decoder.
    text: &'a str,
}

/// Splits `text` into its `-----BEGIN X-----` … `-----END X-----` blocks (RFC 7468);
/// text between blocks (openssl's "Bag Attributes", comments) is ignored.
fn pem_blocks(text: &str) -> Result<Vec<PemBlock<'_>>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after.find("-----").ok_or_else(|| {
            anyhow!(
                "line {}: unterminated PEM header",
                manifest::line_of(text, offset + start)
            )
        })?;
        let label = &after[..label_end];
        let footer = format!("-----END {label}-----");
        let end = rest[start..]
            .find(&footer)
            .map(|i| start + i + footer.len())
            .ok_or_else(|| {
                anyhow!(
                    "line {}: PEM block {label:?} has no {footer} line",
                    manifest::line_of(text, offset + start)
                )
            })?;
        blocks.push(PemBlock {
            label,
            text: &rest[start..end],
        });
        offset += end;
        rest = &rest[end..];
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/testdata/bitnami")
            .join(name)
    }

    #[test]
    fn pem_and_secret_forms_give_the_same_key() {
        let pem = load(&[testdata("controller.key.pem")]).unwrap();
        let secret = load(&[testdata("controller-key-secret.yaml")]).unwrap();
        assert_eq!(pem.len(), 1);
        assert_eq!(secret.len(), 1);
        assert_eq!(pem[0].key, secret[0].key);
        assert_eq!(pem[0].key.size(), 512, "RSA-4096");
        let shown = format!("{:?}", secret[0]);
        assert_eq!(
            shown,
            format!(
                "BitnamiKey({}: Secret kube-system/sealed-secrets-keydemo [redacted])",
                testdata("controller-key-secret.yaml").display()
            )
        );
    }

    #[test]
    fn pkcs1_certificates_and_several_blocks() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let key = load(&[testdata("old.key.pem")]).unwrap().remove(0).key;
        let pkcs1 = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let cert = std::fs::read_to_string(testdata("controller.cert.pem")).unwrap();
        let both = format!("Bag Attributes: x\n{cert}{}", pkcs1.as_str());
        let keys = from_pem(&both, "f").unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key, key);
        assert!(from_pem(&cert, "f").unwrap().is_empty());
    }

    #[test]
    fn bad_key_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let cases = [
            (
                write(
                    "enc.pem",
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                ),
                "encrypted",
            ),
            (
                write(
                    "ec.pem",
                    "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
                ),
                "only RSA keys",
            ),
            (
                write("open.pem", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"),
                "has no -----END RSA PRIVATE KEY-----",
            ),
            (
                write(
                    "junk.pem",
                    "-----BEGIN RSA PRIVATE KEY-----\n!!!!\n-----END RSA PRIVATE KEY-----\n",
                ),
                "not a PKCS#1",
            ),
            (
                write(
                    "cert.pem",
                    &std::fs::read_to_string(testdata("controller.cert.pem")).unwrap(),
                ),
                "no RSA private key",
            ),
            (
                write(
                    "cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
                ),
                "not a v1 Secret",
            ),
            (
                write(
                    "nokey.yaml",
                    "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {tls.crt: eA==}\n",
                ),
                "has no data.tls.key",
            ),
            (
                write("empty.yaml", "apiVersion: v1\nkind: List\nitems: []\n"),
                "no RSA private key",
            ),
            (write("bad.yaml", "a: [\n"), "neither PEM nor a Secret manifest"),
        ];
        for (path, needle) in cases {
            let err = format!("{:#}", load(std::slice::from_ref(&path)).unwrap_err());
            assert!(
                err.contains(needle),
                "{}: {err:?} should say {needle:?}",
                path.display()
            );
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
