//! Load on the webhook over TLS on loopback, with keep-alive, next to a bare
//! axum+rustls handler that always allows (the ceiling), in the same run.
//!
//! The webhook's watch caches (filled as a watch fills them)
//! hold 10,000 Secrets and 1,000 SealedSecrets; each request is a
//! realistic AdmissionReview of a Deployment with 10 Secret references.
//! Reports throughput and p50/p99 latency at 1,000 requests/s and at
//! saturation, each the median of rounds in which the servers take turns, and
//! the process RSS. Two more handlers that answer the fixed
//! allow show where the time goes: one that only parses the review as the
//! webhook does, one that only scans the body's JSON.
//! `cargo bench -p sealgate-webhook`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use kube::api::PartialObjectMeta;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sealgate_core::crd::{SealedSecretSpec, SealedSecretStatus};
use sealgate_core::{SealedSecret, names};
use sealgate_webhook::admission::{Mode, Review};
use sealgate_webhook::cache::Caches;
use sealgate_webhook::http::{self, AppState};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Length of one paced run at 1,000 req/s; each server gets PACED_ROUNDS of them.
const PACED: Duration = Duration::from_secs(2);
/// Paced rounds, the servers taking turns in each (as at saturation).
const PACED_ROUNDS: usize = 5;
/// Each server's warm-up at saturation before anything is measured.
const WARM_UP: Duration = Duration::from_millis(500);
/// Length of one saturation run; each server gets ROUNDS of them. Short runs keep
/// the webhook's run and the bare handler's close in time.
const BURST: Duration = Duration::from_secs(1);
/// Saturation rounds, the servers taking turns in each: on a shared machine the
/// load from elsewhere drifts within minutes, and turns spread it over all four alike.
const ROUNDS: usize = 15;

/// The webhook's own watch caches, filled as a watch's first list fills them.
fn caches() -> Caches {
    let secrets = (0..10_000).map(|i| {
        let meta = ObjectMeta {
            name: Some(format!("secret-{i}")),
            namespace: Some(format!("team-{}", i % 50)),
            annotations: Some(
                [(
                    names::ANNOTATION_KEYS.to_owned(),
                    "password,token,user".to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        };
        PartialObjectMeta::<Secret> {
            types: None,
            metadata: meta,
            _phantom: PhantomData,
        }
    });
    let sealed = (0..1_000).map(|i| {
        let spec = SealedSecretSpec {
            encrypted_data: [("password", "x"), ("token", "x")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            template: None,
        };
        let mut s = SealedSecret::new(&format!("sealed-{i}"), spec);
        s.metadata.namespace = Some(format!("team-{}", i % 50));
        s.metadata.generation = Some(1);
        s.status = Some(SealedSecretStatus {
            observed_generation: Some(1),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "Unsealed".into(),
                message: "ok".into(),
                last_transition_time: Time(Default::default()),
                observed_generation: Some(1),
            }],
        });
        s
    });
    let namespaces = (0..50).map(|i| PartialObjectMeta::<Namespace> {
        types: None,
        metadata: ObjectMeta {
            name: Some(format!("team-{i}")),
            ..ObjectMeta::default()
        },
        _phantom: PhantomData,
    });
    let accounts = (0..50).map(|i| ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            namespace: Some(format!("team-{i}")),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    });
    Caches::from_lists(
        secrets.collect(),
        sealed.collect(),
        accounts.collect(),
        namespaces.collect(),
    )
}

/// A Deployment in team-7 with 10 references, all satisfied.
fn review() -> Vec<u8> {
    let env: Vec<Value> = (0..6)
        .map(|i| json!({"name": format!("V{i}"), "valueFrom": {"secretKeyRef": {"name": format!("secret-{}", 7 + 50 * i), "key": "password"}}}))
        .collect();
    let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "team-7"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}, "template": {"metadata": {"labels": {"app": "api"}},
        "spec": {"containers": [{"name": "api", "image": "registry.example.com/api:1.2.3", "env": env,
            "envFrom": [{"secretRef": {"name": "sealed-7"}}, {"secretRef": {"name": "secret-57"}}]}],
            "volumes": [{"name": "a", "secret": {"secretName": "sealed-57", "items": [{"key": "token", "path": "t"}]}},
                        {"name": "b", "secret": {"secretName": "secret-107"}}]}}}});
    serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"}, "name": "api", "namespace": "team-7",
            "operation": "CREATE", "userInfo": {"username": "bench"}, "object": object, "dryRun": false}}))
    .unwrap_or_default()
}

struct Tls {
    server: Arc<rustls::ServerConfig>,
    roots: rustls::RootCertStore,
}

fn tls() -> Tls {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.der().to_vec()))
        .expect("root");
    Tls {
        server: Arc::new(server),
        roots,
    }
}

async fn start(router: Router, tls: &Tls) -> (u16, tokio::sync::watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(sealgate_webhook::server::serve(
        listener,
        tls.server.clone(),
        router,
        sealgate_webhook::server::Limits::default(),
        rx,
    ));
    (port, tx)
}

type Sender = hyper::client::conn::http1::SendRequest<Body>;

async fn connect(port: u16, roots: &rustls::RootCertStore) -> Sender {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    tcp.set_nodelay(true).ok();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("tls");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("http");
    tokio::spawn(conn);
    sender
}

async fn one(sender: &mut Sender, body: &[u8]) -> Duration {
    let started = Instant::now();
    let req = hyper::Request::post("/validate")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    sender.ready().await.expect("ready");
    let resp = sender.send_request(req).await.expect("send");
    assert!(resp.status().is_success());
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), usize::MAX)
        .await
        .expect("body");
    assert!(
        bytes.windows(15).any(|w| w == b"\"allowed\":true,"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    started.elapsed()
}

struct Run {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// `connections` clients for `length`; each sends every `interval` (None: back to back).
async fn load(
    port: u16,
    roots: &rustls::RootCertStore,
    connections: usize,
    interval: Option<Duration>,
    length: Duration,
    body: Arc<Vec<u8>>,
) -> Run {
    let deadline = Instant::now() + length;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let mut sender = connect(port, roots).await;
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut tick = interval.map(|i| {
                let mut t = tokio::time::interval_at(
                    tokio::time::Instant::now() + i.mul_f64(c as f64 / connections as f64),
                    i,
                );
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            while Instant::now() < deadline {
                if let Some(t) = tick.as_mut() {
                    t.tick().await;
                }
                latencies.push(one(&mut sender, &body).await);
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Run {
        rps: all.len() as f64 / length.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let tls = tls();
        let body = Arc::new(review());
        let before = rss_mib();
        let state = AppState {
            live: Arc::new(caches()),
            key_reader: None,
            default_mode: Mode::Enforce,
            metrics: Arc::default(),
            ready: Arc::new(AtomicBool::new(true)),
            deadline: Duration::from_secs(4),
        };
        let cache_rss = rss_mib();
        let (ours, _stop1) = start(http::router(state, http::Limits::in_flight(512)), &tls).await;
        let allow = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true,"status":{}}}"#;
        let bare = Router::new().route("/validate", post(move |_body: axum::body::Bytes| async move { allow }));
        let (ceiling, _stop2) = start(bare, &tls).await;
        // What reading the body alone costs: a JSON scan that keeps nothing, then the fixed allow.
        let scan = Router::new().route(
            "/validate",
            post(move |body: axum::body::Bytes| async move {
                let _ = serde_json::from_slice::<serde::de::IgnoredAny>(&body);
                allow
            }),
        );
        let (scan, _stop3) = start(scan, &tls).await;
        // What reading the review costs: the webhook's own parse as every review gets
        // it (straight into the typed model), then the fixed allow.
        let parse = Router::new().route(
            "/validate",
            post(move |body: axum::body::Bytes| async move {
                assert!(matches!(Review::parse(&body), Ok(Ok(_))));
                allow
            }),
        );
        let (parse, _stop4) = start(parse, &tls).await;

        println!(
            "webhook load over TLS with keep-alive; cache: 10,000 Secrets, 1,000 SealedSecrets; \
             {PACED_ROUNDS} rounds of {PACED:?} at 1,000 req/s, then {ROUNDS} rounds of {BURST:?} at saturation, \
             servers taking turns in each round"
        );
        let servers = [
            ("sealgate-webhook", ours),
            ("review parse only", parse),
            ("JSON scan only", scan),
            ("bare axum+rustls", ceiling),
        ];
        for (_, port) in servers {
            load(port, &tls.roots, 16, None, WARM_UP, body.clone()).await;
        }
        let mut paced: Vec<Vec<Run>> = servers.iter().map(|_| Vec::new()).collect();
        for round in 0..PACED_ROUNDS {
            for i in (0..servers.len()).map(|i| (i + round) % servers.len()) {
                let every = Some(Duration::from_millis(10));
                paced[i].push(load(servers[i].1, &tls.roots, 10, every, PACED, body.clone()).await);
            }
        }
        let mut rounds: Vec<Vec<Run>> = servers.iter().map(|_| Vec::new()).collect();
        for round in 0..ROUNDS {
            // A different server goes first in each round.
            for i in (0..servers.len()).map(|i| (i + round) % servers.len()) {
                rounds[i].push(load(servers[i].1, &tls.roots, 16, None, BURST, body.clone()).await);
            }
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        // The median over rounds of each round's p50 and p99 at 1,000 req/s.
        let paced_median = |i: usize| {
            let of = |f: fn(&Run) -> Duration| median(paced[i].iter().map(|r| micros(f(r))).collect());
            (median(paced[i].iter().map(|r| r.rps).collect()), of(|r| r.p50), of(|r| r.p99))
        };
        for (i, (name, _)) in servers.iter().enumerate() {
            let runs = &rounds[i];
            let mid = median(runs.iter().map(|r| r.rps).collect());
            let at_mid = runs.iter().find(|r| r.rps == mid).unwrap_or(&runs[0]);
            let (rps, p50, p99) = paced_median(i);
            println!(
                "{name:>18}: at 1,000 req/s (median of {PACED_ROUNDS}): {rps:.0} req/s, p50 {p50:.0}µs, p99 {p99:.0}µs \
                 | saturation (median of {ROUNDS}): {mid:.0} req/s, p50 {:?}, p99 {:?}",
                at_mid.p50, at_mid.p99
            );
        }
        // Each round's ratio to the bare handler in the same round, then their median and range.
        let ratios = |i: usize| -> Vec<f64> {
            let mut r: Vec<f64> = (0..ROUNDS).map(|k| 100.0 * rounds[i][k].rps / rounds[3][k].rps).collect();
            r.sort_by(f64::total_cmp);
            r
        };
        let (ours, parse, scan) = (ratios(0), ratios(1), ratios(2));
        let (ours_p99, bare_p99) = (paced_median(0).2, paced_median(3).2);
        println!(
            "p99 at 1,000 req/s: {ours_p99:.0}µs, {:.2}x the bare handler's {bare_p99:.0}µs (target < 500µs)",
            ours_p99 / bare_p99
        );
        println!(
            "saturation throughput: {:.0}% of the bare handler (median of rounds, range {:.0}-{:.0}%; floor 60%; \
             the review's parse alone: {:.0}%, a JSON scan of the body alone: {:.0}%); RSS {:.1} MiB \
             (cache alone {:.1} MiB; target < 64 MiB)",
            ours[ROUNDS / 2],
            ours[0],
            ours[ROUNDS - 1],
            parse[ROUNDS / 2],
            scan[ROUNDS / 2],
            rss_mib(),
            cache_rss - before
        );
    });
}
