//! The serving certificate, swapped in while serving: either read from PEM
//! files and reloaded when they change (e.g. the kubelet updates a mounted
//! Secret; a bad new pair keeps the old one in service and is logged), or held
//! in memory and replaced by the webhook's own certificate manager (`certs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The key does not belong to the certificate, or is of an unsupported type.
    #[error("{0}")]
    Pair(String),
}

/// Reads a certificate chain and its private key.
pub fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let file_err = |path: &Path, message: String| TlsError::File {
        path: path.display().to_string(),
        message,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_err(cert, "no certificate in the file".into()));
    }
    let private =
        Zeroizing::new(PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e.to_string()))?);
    certify(chain, &private).map_err(|e| {
        TlsError::Pair(format!(
            "{} does not match {} or is unsupported: {e}",
            key.display(),
            cert.display()
        ))
    })
}

/// A pair from a certificate chain and its private key; errors if the key is of
/// an unsupported type or does not belong to the first certificate.
pub fn certify(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'static>,
) -> Result<CertifiedKey, rustls::Error> {
    let certified = CertifiedKey::new(chain, any_supported_type(key)?);
    certified.keys_match()?;
    Ok(certified)
}

/// Serves the pair set last; [`Swappable::set`] replaces it for new connections.
#[derive(Debug)]
pub struct Swappable {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Swappable {
    /// Serves `pair` until replaced.
    pub fn new(pair: CertifiedKey) -> Arc<Self> {
        Arc::new(Swappable {
            current: RwLock::new(Arc::new(pair)),
        })
    }

    /// Serves `pair` from the next handshake on.
    pub fn set(&self, pair: CertifiedKey) {
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(pair);
        }
    }

    /// The pair being served.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

impl ResolvesServerCert for Swappable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// Serves whatever pair was loaded last.
#[derive(Debug)]
pub struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<Swappable>,
}

impl Reloading {
    /// Loads the pair now; errors if it is unusable.
    pub fn new(cert: PathBuf, key: PathBuf) -> Result<Arc<Self>, TlsError> {
        let loaded = load(&cert, &key)?;
        Ok(Arc::new(Reloading {
            cert,
            key,
            current: Swappable::new(loaded),
        }))
    }

    /// Tries the files again; keeps the old pair if the new one is unusable.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.current.set(load(&self.cert, &self.key)?);
        Ok(())
    }

    /// Watches both files (by modification time and size, following symlinks) and
    /// reloads when either changes.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let stamp = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        };
        let mut last = (stamp(&self.cert), stamp(&self.key));
        loop {
            tokio::time::sleep(every).await;
            let now = (stamp(&self.cert), stamp(&self.key));
            if now == last {
                continue;
            }
            last = now;
            match self.reload() {
                Ok(()) => tracing::info!(cert = %self.cert.display(), "serving certificate reloaded"),
                Err(e) => {
                    tracing::warn!(error = %e, "new serving certificate unusable; keeping the previous one")
                }
            }
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.current()
    }
}

/// A rustls server configuration (ring provider) serving from `resolver`, HTTP/2 and HTTP/1.1.
pub fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
