//! HTTPS on a TCP listener: rustls with a handshake deadline, HTTP/1.1 and
//! HTTP/2, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Serves `app` over TLS until `stop` turns true, then waits for requests in flight.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    handshake_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let builder = auto::Builder::new(TokioExecutor::new());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let conn = builder.serve_connection(TokioIo::new(tls), service).into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("closing connections still open after 10 s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::sync::atomic::AtomicBool;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::admission::Mode;
    use crate::http::{self, AppState, Live};

    struct Empty;
    impl sealgate_core::inventory::Inventory for Empty {
        fn providers(&self, _: &str, _: &str) -> Vec<sealgate_core::inventory::Provider> {
            Vec::new()
        }
    }
    impl Live for Empty {
        fn namespace_mode(&self, _: &str) -> Option<Result<Mode, String>> {
            None
        }
        fn unknown_key_secrets(&self, _: &[(String, String)]) -> Vec<(String, String)> {
            Vec::new()
        }
        fn with_view(&self, _: &str, f: &mut dyn FnMut(&dyn sealgate_core::inventory::Inventory)) {
            f(self);
        }
    }

    struct Ca {
        issuer: Issuer<'static, KeyPair>,
        der: CertificateDer<'static>,
    }

    fn ca() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Ca {
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes a serving pair for 127.0.0.1 signed by `ca`; returns the certificate DER.
    fn write_pair(
        ca: &Ca,
        cert_path: &std::path::Path,
        key_path: &std::path::Path,
    ) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &ca.issuer).unwrap();
        // Write new files beside and rename over, as the kubelet's atomic writer does.
        for (path, text) in [(key_path, key.serialize_pem()), (cert_path, cert.pem())] {
            let tmp = path.with_extension("tmp");
            std::fs::File::create(&tmp)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            std::fs::rename(&tmp, path).unwrap();
        }
        cert.der().clone()
    }

    /// One HTTPS request; returns the status line and body, and the server's certificate.
    async fn request(
        port: u16,
        roots: &rustls::RootCertStore,
        raw: String,
    ) -> (String, CertificateDer<'static>) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut tls = connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let peer = tls.get_ref().1.peer_certificates().unwrap()[0]
            .clone()
            .into_owned();
        tls.write_all(raw.as_bytes()).await.unwrap();
        let mut text = String::new();
        tls.read_to_string(&mut text).await.unwrap_or_default();
        (text, peer)
    }

    #[tokio::test]
    async fn serves_reviews_over_tls_and_reloads_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        let ca = ca();
        let first = write_pair(&ca, &cert_path, &key_path);
        let resolver = crate::tls::Reloading::new(cert_path.clone(), key_path.clone()).unwrap();
        tokio::spawn(resolver.clone().watch(Duration::from_millis(50)));
        let tls = Arc::new(crate::tls::server_config(resolver).unwrap());
        let state = AppState {
            live: Arc::new(Empty),
            key_reader: None,
            default_mode: Mode::Enforce,
            metrics: Arc::default(),
            ready: Arc::new(AtomicBool::new(true)),
            deadline: Duration::from_secs(4),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop_tx, stop) = watch::channel(false);
        let server = tokio::spawn(serve(
            listener,
            tls,
            http::router(state, 8),
            Duration::from_secs(2),
            stop,
        ));

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der.clone()).unwrap();
        let review = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"}, "name": "p", "namespace": "prod",
                "operation": "CREATE", "userInfo": {},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "prod"},
                    "spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "missing"}}]}]}}}
        })
        .to_string();
        let raw = format!(
            "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{review}",
            review.len()
        );
        let (text, peer) = request(port, &roots, raw.clone()).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            text.contains("\"allowed\":false") && text.contains("Secret \\\"missing\\\" not found"),
            "{text}"
        );
        assert_eq!(peer, first);

        // Swap the files while serving: new connections get the new certificate.
        let second = write_pair(&ca, &cert_path, &key_path);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (_, peer) = request(
                port,
                &roots,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
            )
            .await;
            if peer == second {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the new certificate was not picked up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // A broken new pair keeps the previous one in service.
        std::fs::write(&key_path, "not a key").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (text, peer) = request(
            port,
            &roots,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        )
        .await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert_eq!(peer, second);

        // A client that never finishes its handshake does not hold the server.
        let idle = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = stop_tx.send(true);
        tokio::time::timeout(Duration::from_secs(15), server)
            .await
            .unwrap()
            .unwrap();
        drop(idle);
    }
}
