//! HTTPS on a TCP listener: rustls with a handshake deadline, HTTP/1.1 and
//! HTTP/2, limits on connections, graceful shutdown.
//!
//! A connection takes a slot before it is accepted: beyond `max_connections`,
//! new connections wait in the kernel's backlog. Each has a handshake deadline,
//! a deadline on its request headers (HTTP/1.1; hyper starts it when the
//! connection waits for a request, so it also ends idle keep-alive connections)
//! and an idle deadline (no request in progress; HTTP/2 gets a GOAWAY, so a
//! client never loses a request to it). The request body's deadline and limit
//! are the router's ([`crate::http::Limits`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// Default of `--max-connections`.
pub const MAX_CONNECTIONS: usize = 512;
/// Default of `--header-timeout-ms`.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of `--idle-timeout-ms`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `--handshake-timeout-ms`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// What one connection may hold besides rustls' buffers (about 34 KiB at most):
/// hyper's HTTP/1.1 read buffer (which also caps the headers), or HTTP/2's
/// flow-control window (data the client may send before the handler reads it)
/// and header list. With them a connection holds under 96 KiB whatever its
/// client does (see docs/webhook.md for the memory bound).
const H1_MAX_BUF: usize = 16 * 1024;
const H2_WINDOW: u32 = 32 * 1024;
const H2_MAX_HEADER_LIST: u32 = 16 * 1024;
const H2_MAX_STREAMS: u32 = 32;

/// Limits on connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Deadline for the TLS handshake.
    pub handshake: Duration,
    /// Deadline for a request's headers (HTTP/1.1), counted from when the
    /// connection starts waiting for them.
    pub header: Duration,
    /// A connection with no request in progress for this long is closed.
    pub idle: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake: HANDSHAKE_TIMEOUT,
            header: HEADER_TIMEOUT,
            idle: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Serves `app` over TLS until `stop` turns true, then waits (up to 10 s) for
/// the connections open to finish their requests.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS >> 1);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header)
        .max_buf_size(H1_MAX_BUF);
    builder
        .http2()
        .timer(TokioTimer::new())
        .initial_connection_window_size(H2_WINDOW)
        .initial_stream_window_size(H2_WINDOW)
        .max_header_list_size(H2_MAX_HEADER_LIST)
        .max_concurrent_streams(H2_MAX_STREAMS);
    let builder = Arc::new(builder);
    loop {
        // The slot first: without one, connections stay in the kernel's backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
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
        tokio::spawn(connection(
            Accepted { stream, peer, slot },
            acceptor.clone(),
            builder.clone(),
            app.clone(),
            limits,
            stop.clone(),
        ));
    }
    // Every slot back means every connection has ended.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("closing connections still open after 10 s"),
    }
}

/// A TCP connection accepted, with its slot.
struct Accepted {
    stream: TcpStream,
    peer: std::net::SocketAddr,
    slot: OwnedSemaphorePermit,
}

/// One connection: handshake, then HTTP until the client leaves, it is idle too
/// long, or the server stops.
async fn connection(
    accepted: Accepted,
    acceptor: TlsAcceptor,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let Accepted { stream, peer, slot } = accepted;
    let tls = match tokio::time::timeout(limits.handshake, acceptor.accept(stream)).await {
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
    // Requests in progress on this connection, for the idle deadline.
    let (active, watched) = watch::channel(0usize);
    let active = Arc::new(active);
    let service = tower::service_fn(move |request: hyper::Request<Incoming>| {
        let guard = InProgress::start(active.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await;
            drop(guard);
            response
        }
    });
    let conn = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let idle = idle(watched, limits.idle);
    tokio::pin!(idle);
    let mut closing = false;
    let ended = loop {
        tokio::select! {
            ended = conn.as_mut() => break ended,
            _ = &mut idle, if !closing => {
                tracing::debug!(%peer, "closing an idle connection");
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
    drop(slot);
}

/// Counts a request in progress while it lives.
struct InProgress(Arc<watch::Sender<usize>>);

impl InProgress {
    fn start(active: Arc<watch::Sender<usize>>) -> Self {
        active.send_modify(|n| *n += 1);
        InProgress(active)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Resolves once no request has been in progress for `after`.
async fn idle(mut active: watch::Receiver<usize>, after: Duration) {
    loop {
        if active.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        if tokio::time::timeout(after, active.changed()).await.is_err() {
            return;
        }
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
            http::router(state, http::Limits::in_flight(8)),
            Limits {
                handshake: Duration::from_secs(2),
                ..Limits::default()
            },
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

    /// A server on loopback with `http` and `conn` limits and a review deadline of 4 s.
    struct Running {
        port: u16,
        roots: rustls::RootCertStore,
        metrics: Arc<crate::metrics::Metrics>,
        _stop: watch::Sender<bool>,
        _dir: tempfile::TempDir,
    }

    async fn running(http_limits: http::Limits, conn: Limits) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        let ca = ca();
        write_pair(&ca, &cert_path, &key_path);
        let resolver = crate::tls::Reloading::new(cert_path, key_path).unwrap();
        let tls = Arc::new(crate::tls::server_config(resolver).unwrap());
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let state = AppState {
            live: Arc::new(Empty),
            key_reader: None,
            default_mode: Mode::Enforce,
            metrics: metrics.clone(),
            ready: Arc::new(AtomicBool::new(true)),
            deadline: Duration::from_secs(4),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(serve(listener, tls, http::router(state, http_limits), conn, stop));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der.clone()).unwrap();
        Running {
            port,
            roots,
            metrics,
            _stop: stop_tx,
            _dir: dir,
        }
    }

    async fn connect(
        port: u16,
        roots: &rustls::RootCertStore,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap()
    }

    /// A review denying a Pod that needs a missing Secret, as one HTTP/1.1 request.
    fn review_request() -> String {
        let review = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "name": "p", "namespace": "prod", "operation": "CREATE",
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "missing"}}]}]}}}
        })
        .to_string();
        format!(
            "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{review}",
            review.len()
        )
    }

    /// Resident memory of this process.
    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Reads until the server closes; what it sent.
    async fn until_closed(tls: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_clients_do_not_stall_admission() {
        const SLOW: usize = 400;
        let body_deadline = Duration::from_millis(500);
        let server = running(
            http::Limits {
                max_in_flight: 4,
                body_deadline,
                ..http::Limits::default()
            },
            Limits {
                max_connections: 1024,
                ..Limits::default()
            },
        )
        .await;
        // Every slow client connects first, then all send their headers and one byte
        // of the 100000 they announce at the same moment.
        let rss_before = rss_kib();
        let go = Arc::new(tokio::sync::Barrier::new(SLOW + 1));
        let mut slow = tokio::task::JoinSet::new();
        for _ in 0..SLOW {
            let (port, roots, go) = (server.port, server.roots.clone(), go.clone());
            slow.spawn(async move {
                let mut tls = connect(port, &roots).await;
                go.wait().await;
                tls.write_all(
                    b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
                )
                .await
                .unwrap();
                let sent = std::time::Instant::now();
                let text = until_closed(&mut tls).await;
                (sent.elapsed(), text)
            });
        }
        go.wait().await;
        // Let the slow requests reach the handler (more of them than turns), then review.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rss_slow = rss_kib();
        let asked = std::time::Instant::now();
        let review = async {
            let mut tls = connect(server.port, &server.roots).await;
            tls.write_all(review_request().as_bytes()).await.unwrap();
            until_closed(&mut tls).await
        };
        let text = tokio::time::timeout(Duration::from_secs(1), review)
            .await
            .expect("a review on a new connection is answered within 1 s");
        let answered = asked.elapsed();
        assert!(
            text.starts_with("HTTP/1.1 200") && text.contains("\"allowed\":false"),
            "{text}"
        );
        let mut closed = Vec::new();
        while let Some(done) = slow.join_next().await {
            let (after, text) = done.unwrap();
            assert!(text.starts_with("HTTP/1.1 408"), "{text}");
            closed.push(after);
        }
        closed.sort();
        let (first, median, last) = (closed[0], closed[SLOW / 2], closed[SLOW - 1]);
        eprintln!(
            "{SLOW} slow clients, 4 turns, body deadline {body_deadline:?}: a review on a new connection \
             answered in {answered:?}; the slow ones closed {first:?} / {median:?} / {last:?} \
             (first / median / last) after their byte; RSS {rss_before} KiB before, {rss_slow} KiB \
             with them open (both ends in this process: {} KiB a connection)",
            rss_slow.saturating_sub(rss_before) / SLOW as u64
        );
        assert!(answered < Duration::from_secs(1), "answered in {answered:?}");
        // Each is closed at its deadline, counted from when the server has read its
        // headers; the server reads 400 at once on a shared machine, hence the slack.
        assert!(first >= body_deadline, "closed {first:?} after its byte");
        assert!(
            last < body_deadline * 3,
            "slow clients closed {last:?} after their byte"
        );
        let metrics = server.metrics.render();
        assert!(
            metrics.contains(&format!(
                r#"sealgate_webhook_requests_total{{kind="",operation="",verdict="body_timeout"}} {SLOW}"#
            )),
            "{metrics}"
        );
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let server = running(
            http::Limits {
                max_body: 1000,
                ..http::Limits::default()
            },
            Limits::default(),
        )
        .await;
        // Announced: refused before any of it is sent.
        let mut tls = connect(server.port, &server.roots).await;
        tls.write_all(
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let text = until_closed(&mut tls).await;
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        assert!(text.contains("over the limit of 1000 bytes"), "{text}");
        // Chunked, without a length: refused once the chunks go over.
        let mut tls = connect(server.port, &server.roots).await;
        let chunk = "x".repeat(600);
        tls.write_all(
            format!("POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let text = until_closed(&mut tls).await;
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        // At the limit, a review is read.
        let raw = review_request();
        let length = raw.len() - raw.find("\r\n\r\n").unwrap() - 4;
        for (max_body, status) in [(length - 1, "HTTP/1.1 413"), (length, "HTTP/1.1 200")] {
            let server = running(
                http::Limits {
                    max_body,
                    ..http::Limits::default()
                },
                Limits::default(),
            )
            .await;
            let (text, _) = request(server.port, &server.roots, raw.clone()).await;
            assert!(text.starts_with(status), "{max_body}: {text}");
        }
    }

    #[tokio::test]
    async fn slow_headers_idle_connections_and_the_connection_cap() {
        let header = Duration::from_millis(300);
        let idle = Duration::from_millis(600);
        let server = running(
            http::Limits::default(),
            Limits {
                header,
                idle,
                max_connections: 2,
                ..Limits::default()
            },
        )
        .await;
        // Headers that never end: closed after the header deadline.
        let mut tls = connect(server.port, &server.roots).await;
        tls.write_all(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Le")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        until_closed(&mut tls).await;
        let header_closed = started.elapsed();
        assert!(
            header_closed >= header && header_closed < header + Duration::from_millis(400),
            "closed after {header_closed:?}"
        );
        // A connection that sends nothing after its handshake: closed when idle.
        let mut silent = connect(server.port, &server.roots).await;
        let started = std::time::Instant::now();
        until_closed(&mut silent).await;
        let idle_closed = started.elapsed();
        assert!(
            idle_closed >= idle.min(header) && idle_closed < idle + Duration::from_millis(400),
            "closed after {idle_closed:?}"
        );
        // Two connections take both slots; a third waits until one of them goes.
        let first = connect(server.port, &server.roots).await;
        let _second = connect(server.port, &server.roots).await;
        let (port, roots) = (server.port, server.roots.clone());
        let mut third = tokio::spawn(async move { request(port, &roots, review_request()).await });
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut third)
                .await
                .is_err(),
            "a third connection is served while two are open"
        );
        drop(first);
        let (text, _) = tokio::time::timeout(Duration::from_secs(2), third)
            .await
            .unwrap()
            .unwrap();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        eprintln!(
            "header deadline {header:?}: closed after {header_closed:?}; idle {idle:?}: closed after {idle_closed:?}"
        );
    }

    #[tokio::test]
    async fn large_reviews_pass_over_http2_with_the_small_windows() {
        let server = running(http::Limits::default(), Limits::default()).await;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(server.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        // A Pod with a 2 MiB annotation: many windows' worth.
        let review = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "name": "p", "namespace": "prod", "operation": "CREATE",
                "object": {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "annotations": {"big": "x".repeat(2 << 20)}},
                    "spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "missing"}}]}]}}}
        })
        .to_string();
        let request = hyper::Request::post("https://127.0.0.1/validate")
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(axum::body::Bytes::from(review)))
            .unwrap();
        let started = std::time::Instant::now();
        let response = send.send_request(request).await.unwrap();
        assert_eq!(response.status(), hyper::StatusCode::OK);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(
            String::from_utf8_lossy(&body).contains("\"allowed\":false"),
            "{}",
            String::from_utf8_lossy(&body)
        );
        eprintln!("a 2 MiB review over HTTP/2 answered in {:?}", started.elapsed());
    }
}
