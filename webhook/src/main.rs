//! `sealgate-webhook`: a validating admission webhook that rejects workloads
//! whose Secrets or keys do not exist and that nothing will produce, with the
//! same rule as `sealgate validate`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use tokio::sync::watch;

use sealgate_webhook::admission::Mode;
use sealgate_webhook::{cache, certs, http, metrics, server, tls};

/// Rejects workloads whose Secrets or keys are missing.
#[derive(Debug, Parser)]
#[command(name = "sealgate-webhook", version, max_term_width = 100)]
struct Args {
    /// HTTPS listen address.
    #[arg(long, env = "SEALGATE_WEBHOOK_LISTEN", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Serving certificate chain (PEM); reloaded when it changes.
    #[arg(
        long,
        env = "SEALGATE_TLS_CERT_FILE",
        required_unless_present = "tls_secret",
        requires = "tls_key_file"
    )]
    tls_cert_file: Option<PathBuf>,
    /// Serving private key (PEM); reloaded when it changes.
    #[arg(
        long,
        env = "SEALGATE_TLS_KEY_FILE",
        required_unless_present = "tls_secret",
        requires = "tls_cert_file"
    )]
    tls_key_file: Option<PathBuf>,
    /// Manage the serving certificate in this Secret of --namespace: created (with its CA)
    /// when absent or expiring, shared by all replicas; its CA is patched into
    /// --webhook-configuration. A Secret of that name that sealgate did not create is never
    /// overwritten.
    #[arg(
        long,
        env = "SEALGATE_TLS_SECRET",
        conflicts_with_all = ["tls_cert_file", "tls_key_file"],
        requires_all = ["namespace", "service_name", "webhook_configuration"]
    )]
    tls_secret: Option<String>,
    /// The webhook's namespace (with --tls-secret).
    #[arg(long, env = "POD_NAMESPACE")]
    namespace: Option<String>,
    /// The webhook's Service: the certificate is issued for <svc>, <svc>.<ns>, <svc>.<ns>.svc
    /// and <svc>.<ns>.svc.cluster.local (with --tls-secret).
    #[arg(long, env = "SEALGATE_SERVICE_NAME")]
    service_name: Option<String>,
    /// The ValidatingWebhookConfiguration whose webhooks' clientConfig.caBundle is kept
    /// current (with --tls-secret).
    #[arg(long, env = "SEALGATE_WEBHOOK_CONFIGURATION")]
    webhook_configuration: Option<String>,
    /// Mode for namespaces without the sealgate.dev/admission label: enforce or warn.
    #[arg(long, env = "SEALGATE_ADMISSION_MODE", default_value = "enforce", value_parser = parse_mode)]
    default_mode: Mode,
    /// Deadline for one review, from its headers to the answer; keep it below the
    /// webhook's timeoutSeconds (5).
    #[arg(long, env = "SEALGATE_REQUEST_TIMEOUT_MS", default_value_t = 4000)]
    request_timeout_ms: u64,
    /// Deadline for reading a review's whole body; below --request-timeout-ms
    /// [default: 3000, or 3/4 of --request-timeout-ms when that is less].
    #[arg(long, env = "SEALGATE_BODY_TIMEOUT_MS")]
    body_timeout_ms: Option<u64>,
    /// Largest review body accepted (the API server's own limit on a request is 3 MiB).
    #[arg(long, env = "SEALGATE_MAX_BODY_BYTES", default_value_t = http::MAX_BODY)]
    max_body_bytes: usize,
    /// Reviews decided at once; more wait. Bodies held at once are at most this
    /// many times --max-body-bytes.
    #[arg(long, env = "SEALGATE_MAX_IN_FLIGHT", default_value_t = http::MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Connections open at once; more wait in the kernel's backlog.
    #[arg(long, env = "SEALGATE_MAX_CONNECTIONS", default_value_t = server::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Deadline for a TLS handshake.
    #[arg(long, env = "SEALGATE_HANDSHAKE_TIMEOUT_MS", default_value_t = millis(server::HANDSHAKE_TIMEOUT))]
    handshake_timeout_ms: u64,
    /// Deadline for a request's headers (HTTP/1.1), counted from when the
    /// connection waits for them, so also the longest idle keep-alive wait.
    #[arg(long, env = "SEALGATE_HEADER_TIMEOUT_MS", default_value_t = millis(server::HEADER_TIMEOUT))]
    header_timeout_ms: u64,
    /// A connection with no request in progress for this long is closed (HTTP/2: GOAWAY).
    #[arg(long, env = "SEALGATE_IDLE_TIMEOUT_MS", default_value_t = millis(server::IDLE_TIMEOUT))]
    idle_timeout_ms: u64,
    /// Read a Secret (one GET, values dropped at once) to learn its key names when a
    /// workload needs a key of a Secret without the controller's key stamp. With
    /// false the webhook never reads Secret values: such references are admitted
    /// with a note, and RBAC needs no `get` on secrets.
    #[arg(long, env = "SEALGATE_READ_SECRETS", default_value_t = true, action = clap::ArgAction::Set)]
    read_secrets: bool,
    /// Log filter.
    #[arg(long, env = "SEALGATE_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log as JSON lines.
    #[arg(long, env = "SEALGATE_LOG_JSON", default_value_t = false)]
    log_json: bool,
    /// Kubeconfig outside a cluster [default: in-cluster, then KUBECONFIG].
    #[arg(long, env = "SEALGATE_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    sealgate_cluster::process::init_logging(&args.log_level, args.log_json);
    sealgate_cluster::process::run(run(args))
}

async fn run(args: Args) -> Result<()> {
    let body_timeout_ms = args
        .body_timeout_ms
        .unwrap_or_else(|| millis(http::BODY_TIMEOUT).min(args.request_timeout_ms / 4 * 3));
    if body_timeout_ms >= args.request_timeout_ms {
        anyhow::bail!(
            "--body-timeout-ms ({body_timeout_ms}) must be below --request-timeout-ms ({}): the body is read within the review's deadline",
            args.request_timeout_ms
        );
    }
    let client = sealgate_cluster::connect(args.kubeconfig.as_deref(), None).await?;
    let resolver: Arc<dyn rustls::server::ResolvesServerCert> =
        match (&args.tls_secret, &args.tls_cert_file, &args.tls_key_file) {
            (Some(secret), _, _) => {
                let config = certs::Config {
                    namespace: args.namespace.clone().unwrap_or_default(),
                    secret: secret.clone(),
                    service: args.service_name.clone().unwrap_or_default(),
                    webhook_configuration: args.webhook_configuration.clone().unwrap_or_default(),
                };
                certs::start(client.clone(), config)
                    .await
                    .context("serving certificate")?
            }
            (None, Some(cert), Some(key)) => {
                let resolver = tls::Reloading::new(cert.clone(), key.clone())?;
                tokio::spawn(resolver.clone().watch(Duration::from_secs(2)));
                resolver
            }
            _ => anyhow::bail!("--tls-secret, or --tls-cert-file with --tls-key-file, is required"),
        };
    let tls = Arc::new(tls::server_config(resolver).context("TLS configuration")?);

    let ready = Arc::new(AtomicBool::new(false));
    let metrics = Arc::new(metrics::Metrics::default());
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        sealgate_cluster::process::shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    // Serve at once (health checks pass); /readyz and /validate wait for the caches.
    let caches = cache::Caches::spawn(client.clone());
    let synced = caches.clone();
    let ready_flag = ready.clone();
    tokio::spawn(async move {
        synced.wait_synced().await;
        ready_flag.store(true, Ordering::Relaxed);
    });
    let state = http::AppState {
        live: Arc::new(caches),
        key_reader: cache::key_reader(client.clone(), args.read_secrets),
        default_mode: args.default_mode,
        metrics,
        ready,
        deadline: Duration::from_millis(args.request_timeout_ms),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %args.listen, mode = args.default_mode.as_str(), "serving admission reviews");
    server::serve(
        listener,
        tls,
        http::router(
            state,
            http::Limits {
                max_body: args.max_body_bytes,
                max_in_flight: args.max_in_flight,
                body_deadline: Duration::from_millis(body_timeout_ms),
            },
        ),
        server::Limits {
            handshake: Duration::from_millis(args.handshake_timeout_ms),
            header: Duration::from_millis(args.header_timeout_ms),
            idle: Duration::from_millis(args.idle_timeout_ms),
            max_connections: args.max_connections,
        },
        stop,
    )
    .await;
    Ok(())
}
