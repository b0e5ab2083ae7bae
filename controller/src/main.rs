//! `sealgate-controller`: turns SealedSecrets into Secrets inside the cluster.
//!
//! Keys live as Secrets in the controller's namespace. Every replica takes part
//! in leader election through a Lease (a single replica simply always leads);
//! the leader generates and rotates keys and runs the reconcile loop; every
//! replica serves the HTTP endpoints and exits if its lease task ends.
//! `sealgate-controller crd` prints the CRD.

mod args;
mod desired;
mod http;
mod keystore;
mod metrics;
mod reconcile;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, Result};
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::api::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use sealgate_core::{Recipient, SealedSecret};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use args::{Args, Command};
use keystore::KeyStore;
use metrics::Metrics;

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    if let Some(Command::Crd) = args.command {
        print!("{}", sealgate_core::crd::crd_yaml());
        return ExitCode::SUCCESS;
    }
    sealgate_cluster::process::init_logging(&args.log_level, args.log_json);
    sealgate_cluster::process::run(run(args))
}

async fn run(args: Args) -> Result<()> {
    let recovery = args
        .recovery_recipients
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            r.parse::<Recipient>()
                .with_context(|| format!("--recovery-recipient {r:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let client = sealgate_cluster::connect(args.kubeconfig.as_deref(), None).await?;
    let keys = Arc::new(KeyStore::new(recovery));
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop) = watch::channel(false);

    let state = http::AppState {
        keys: keys.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %args.listen, "serving HTTP");
    let mut http_stop = stop.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = http_stop.wait_for(|s| *s).await;
        };
        axum::serve(listener, http::router(state))
            .with_graceful_shutdown(shutdown)
            .await
    });

    tokio::spawn(async move {
        sealgate_cluster::process::shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let (leader, lease) = leadership(&args, &client, stop.clone()).await?;
    let maintainer = tokio::spawn(
        keystore::Maintainer {
            api: Api::namespaced(client.clone(), &args.namespace),
            namespace: args.namespace.clone(),
            period: args.key_rotation_period,
            keys: keys.clone(),
            metrics: metrics.clone(),
            ready: ready.clone(),
        }
        .run(leader.clone(), stop.clone()),
    );

    // The end of the lease task before shutdown is an error: the process exits
    // non-zero so that the pod is restarted rather than left standing by.
    let controllers = run_controllers(&args, client, keys, metrics, leader, stop.clone());
    tokio::pin!(controllers);
    let mut lease = lease;
    tokio::select! {
        () = &mut controllers => lease.await.context("leader election")??,
        ended = &mut lease => {
            ended.context("leader election")??;
            controllers.await;
        }
    }
    let _ = maintainer.await;
    let _ = server.await;
    Ok(())
}

/// Takes part in leader election through the Lease `--lease-name`: a channel
/// that is `true` while this replica leads, and the task following the Lease,
/// which fails if the lease task ends before shutdown.
async fn leadership(
    args: &Args,
    client: &Client,
    stop: watch::Receiver<bool>,
) -> Result<(watch::Receiver<bool>, JoinHandle<Result<()>>)> {
    let identity =
        std::env::var("POD_NAME").unwrap_or_else(|_| format!("sealgate-controller-{}", std::process::id()));
    let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &args.lease_name)
        .with_namespace(&args.namespace)
        .with_identity(identity)
        .build()
        .await
        .context("leader election")?;
    let (channel, task) = manager.watch().await;
    let (tx, rx) = watch::channel(false);
    Ok((rx, tokio::spawn(follow_lease(channel, task, tx, stop))))
}

/// Passes the lease task's leadership on to `leading` until shutdown, then
/// releases the Lease. If the lease task ends first, leadership is dropped and
/// the result is an error: a replica that no longer takes part in the
/// election must not stay up as a healthy standby.
async fn follow_lease<T, E: std::fmt::Display>(
    mut lease: watch::Receiver<bool>,
    task: JoinHandle<std::result::Result<T, E>>,
    leading: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    loop {
        let now = *lease.borrow_and_update();
        if leading.send_replace(now) != now {
            tracing::info!(leading = now, "leadership");
        }
        tokio::select! {
            changed = lease.changed() => if changed.is_err() { break },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    leading.send_replace(false);
    let stopping = *stop.borrow();
    // Dropping the receiver tells the lease task to release the Lease and return.
    drop(lease);
    lease_outcome(stopping, task.await)
}

/// Whether the end of the lease task is an error: always, unless we are shutting down.
fn lease_outcome<T, E: std::fmt::Display>(
    stopping: bool,
    ended: std::result::Result<std::result::Result<T, E>, tokio::task::JoinError>,
) -> Result<()> {
    match (stopping, ended) {
        (true, Ok(Ok(_))) => Ok(()),
        (true, Ok(Err(e))) => {
            tracing::warn!(error = %e, "could not release the Lease");
            Ok(())
        }
        (true, Err(_)) => Ok(()),
        (false, Ok(Ok(_))) => Err(anyhow::anyhow!(
            "the lease task ended; exiting so that the pod is restarted"
        )),
        (false, Ok(Err(e))) => Err(anyhow::anyhow!(
            "the lease task failed: {e}; exiting so that the pod is restarted"
        )),
        (false, Err(e)) => Err(anyhow::anyhow!(
            "the lease task stopped: {e}; exiting so that the pod is restarted"
        )),
    }
}

/// Runs the reconcile loop while this replica leads; stops on shutdown.
async fn run_controllers(
    args: &Args,
    client: Client,
    keys: Arc<KeyStore>,
    metrics: Arc<Metrics>,
    mut leader: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let reporter = Reporter {
        controller: "sealgate-controller".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    // After a restart, no reconcile may see an empty keyring and mark good
    // SealedSecrets UnsealFailed: wait for the first load.
    tokio::select! {
        () = keys.loaded() => {}
        _ = stop.wait_for(|s| *s) => return,
    }
    let ctx = Arc::new(reconcile::Context {
        client: client.clone(),
        keys: keys.clone(),
        recorder: Recorder::new(client.clone(), reporter),
        metrics,
        resync: args.resync_period,
        retry_unsealable: args.unseal_retry,
        failures: Default::default(),
    });
    loop {
        if *stop.borrow() {
            return;
        }
        if !*leader.borrow_and_update() {
            tokio::select! {
                r = leader.changed() => if r.is_err() { return },
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        }
        tracing::info!("leading: reconciling SealedSecrets");
        let namespaces: Vec<Option<String>> = if args.watch_namespaces.is_empty() {
            vec![None]
        } else {
            args.watch_namespaces.iter().cloned().map(Some).collect()
        };
        let mut loops = Vec::new();
        for ns in namespaces {
            // Owned Secrets are watched as metadata only: values never sit in a cache.
            let (sealed, secrets): (Api<SealedSecret>, Api<PartialObjectMeta<Secret>>) = match &ns {
                Some(ns) => (
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced(client.clone(), ns),
                ),
                None => (Api::all(client.clone()), Api::all(client.clone())),
            };
            let mut stop_loop = stop.clone();
            let mut lost = leader.clone();
            let controller = Controller::new(sealed, watcher::Config::default())
                .owns(secrets, watcher::Config::default())
                // A new, restored or relabelled key may unseal what failed: retry at once.
                .reconcile_all_on(keys.changes())
                .graceful_shutdown_on(async move {
                    tokio::select! {
                        _ = stop_loop.wait_for(|s| *s) => {}
                        _ = lost.wait_for(|l| !*l) => {}
                    }
                })
                .run(reconcile::reconcile, reconcile::error_policy, ctx.clone())
                .for_each(|result| async move {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "reconcile loop");
                    }
                });
            loops.push(controller);
        }
        futures::future::join_all(loops).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    use ::http::{Request, Response};
    use kube::client::Body;
    use sealgate_core::{Identity, PlainSecret, RecipientSet, Scope, SealOptions, SecretBytes, seal_secret};
    use serde_json::{Value, json};

    use keystore::{Keys, StoredKey};

    #[test]
    fn the_end_of_the_lease_task_is_an_error_unless_shutting_down() {
        let ok: std::result::Result<(), String> = Ok(());
        let failed: std::result::Result<(), String> = Err("lease API gone".into());
        assert!(lease_outcome(true, Ok(ok.clone())).is_ok());
        assert!(lease_outcome(true, Ok(failed.clone())).is_ok());
        let e = lease_outcome(false, Ok(ok)).unwrap_err().to_string();
        assert!(e.contains("lease task ended"), "{e}");
        let e = lease_outcome(false, Ok(failed)).unwrap_err().to_string();
        assert!(e.contains("lease API gone"), "{e}");
    }

    /// Issue 15 item 7: a replica whose lease task ends stops leading and fails
    /// (the process exits non-zero) instead of standing by as healthy.
    #[tokio::test]
    async fn a_replica_whose_lease_task_ends_stops_leading_and_fails() {
        let (lease_tx, lease_rx) = watch::channel(true);
        let (go, gone) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = gone.await;
            drop(lease_tx);
            Err::<(), _>("Lease update failed")
        });
        let (tx, mut leading) = watch::channel(false);
        let (_stop_tx, stop) = watch::channel(false);
        let follower = tokio::spawn(follow_lease(lease_rx, task, tx, stop));
        leading.wait_for(|l| *l).await.unwrap();
        go.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .unwrap()
            .unwrap();
        let e = result.unwrap_err().to_string();
        assert!(e.contains("Lease update failed"), "{e}");
        assert!(!*leading.borrow(), "no longer leading");
    }

    #[tokio::test]
    async fn shutting_down_releases_the_lease_and_succeeds() {
        let (lease_tx, lease_rx) = watch::channel(true);
        let task = tokio::spawn(async move {
            lease_tx.closed().await;
            Ok::<(), String>(())
        });
        let (tx, leading) = watch::channel(false);
        let (stop_tx, stop) = watch::channel(false);
        let follower = tokio::spawn(follow_lease(lease_rx, task, tx, stop));
        stop_tx.send(true).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .unwrap()
            .unwrap();
        assert!(result.is_ok(), "{result:?}");
        assert!(!*leading.borrow());
    }

    /// A mocked API server for the reconcile loop: lists of SealedSecrets answer
    /// with `sealed`, other lists are empty, watches are held open, writes are
    /// echoed, the rest is 404. Every call (method and URI) is sent on the channel.
    fn mock(sealed: Vec<Value>) -> (Client, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let (calls, seen) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut watches = Vec::new();
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let body: Value = serde_json::from_slice(&body.collect_bytes().await.unwrap_or_default())
                    .unwrap_or_default();
                let uri = parts.uri.to_string();
                let path = parts.uri.path().to_owned();
                let _ = calls.send((parts.method.to_string(), uri.clone()));
                if uri.contains("watch=true") {
                    watches.push(send);
                    continue;
                }
                let (status, reply) =
                    if parts.method == ::http::Method::GET && path.ends_with("/sealedsecrets") {
                        (
                            200,
                            json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecretList",
                        "metadata": {"resourceVersion": "1"}, "items": sealed}),
                        )
                    } else if parts.method == ::http::Method::GET && path.ends_with("/secrets") {
                        (
                            200,
                            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                        "metadata": {"resourceVersion": "1"}, "items": []}),
                        )
                    } else if parts.method == ::http::Method::GET {
                        (
                            404,
                            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "reason": "NotFound", "code": 404, "message": "not found"}),
                        )
                    } else {
                        let mut echo = body;
                        if let Some(obj) = echo.as_object_mut() {
                            obj.entry("metadata")
                                .or_insert(json!({"name": "db", "namespace": "prod"}));
                            if obj.get("kind") == Some(&json!("SealedSecret")) {
                                obj.entry("spec").or_insert(json!({}));
                            }
                        }
                        (200, echo)
                    };
                send.send_response(
                    Response::builder()
                        .status(status)
                        .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                        .unwrap(),
                );
            }
        });
        (Client::new(service, "default"), seen)
    }

    /// `prod/db`, sealed to `to`, as the API server lists it.
    fn sealed_json(to: &Identity) -> Value {
        let mut p = PlainSecret {
            name: "db".into(),
            namespace: Some("prod".into()),
            ..Default::default()
        };
        p.data
            .insert("password".into(), SecretBytes::copy_from(b"CANARY-main-6"));
        let set = RecipientSet::from(vec![to.recipient()]);
        let sealed = seal_secret(
            &p,
            &SealOptions {
                recipients: &set,
                scope: Scope::Strict,
            },
        )
        .unwrap();
        let mut v = serde_json::to_value(&sealed).unwrap();
        v["metadata"]["uid"] = json!("uid-1");
        v["metadata"]["resourceVersion"] = json!("1");
        v["metadata"]["generation"] = json!(1);
        v
    }

    fn stamped(identity: &Identity) -> Keys {
        Keys {
            stamped: vec![StoredKey {
                secret: "sealgate-key-a".into(),
                created: "2026-01-01T00:00:00Z".parse().unwrap(),
                identity: identity.clone(),
            }],
            unstamped: vec![],
        }
    }

    /// Waits up to `within` for a call whose URI contains `part`.
    async fn expect_call(
        seen: &mut tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
        method: &str,
        part: &str,
        within: Duration,
    ) -> bool {
        tokio::time::timeout(within, async {
            while let Some((m, uri)) = seen.recv().await {
                if m == method && uri.contains(part) {
                    return;
                }
            }
            std::future::pending::<()>().await
        })
        .await
        .is_ok()
    }

    fn args() -> Args {
        Args::parse_from(["sealgate-controller"])
    }

    /// Issue 15 item 6: after a restart no reconcile runs before the keys are
    /// loaded, so none can see an empty keyring.
    #[tokio::test]
    async fn no_reconcile_starts_before_the_first_key_load() {
        let key = Identity::generate();
        let (client, mut seen) = mock(vec![sealed_json(&key)]);
        let keys = Arc::new(KeyStore::new(vec![]));
        let (_lead, leader) = watch::channel(true);
        let (stop_tx, stop) = watch::channel(false);
        let args = args();
        let loop_keys = keys.clone();
        let run = tokio::spawn(async move {
            run_controllers(&args, client, loop_keys, Arc::default(), leader, stop).await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            seen.try_recv().is_err(),
            "the reconcile loop started before the keys were loaded"
        );
        keys.replace(stamped(&key));
        assert!(
            expect_call(&mut seen, "GET", "/sealedsecrets", Duration::from_secs(5)).await,
            "the loop starts once the keys are loaded"
        );
        assert!(
            expect_call(
                &mut seen,
                "GET",
                "/namespaces/prod/secrets/db",
                Duration::from_secs(5)
            )
            .await,
            "and the first reconcile unseals"
        );
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
    }

    /// Issue 15 item 6: when the keys change (a key restored by an operator), a
    /// SealedSecret that failed to unseal is tried again at once, not after
    /// `--unseal-retry` (5 min).
    #[tokio::test]
    async fn a_key_change_retries_what_failed_to_unseal_at_once() {
        let restored = Identity::generate();
        let (client, mut seen) = mock(vec![sealed_json(&restored)]);
        let keys = Arc::new(KeyStore::new(vec![]));
        keys.replace(stamped(&Identity::generate()));
        let (_lead, leader) = watch::channel(true);
        let (stop_tx, stop) = watch::channel(false);
        let args = args();
        let loop_keys = keys.clone();
        let run = tokio::spawn(async move {
            run_controllers(&args, client, loop_keys, Arc::default(), leader, stop).await
        });
        assert!(
            expect_call(
                &mut seen,
                "PATCH",
                "/sealedsecrets/db/status",
                Duration::from_secs(5)
            )
            .await,
            "the first reconcile reports UnsealFailed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok((m, uri)) = seen.try_recv() {
            assert!(
                !uri.contains("/secrets/db"),
                "{m} {uri}: no key could unseal it yet"
            );
        }
        let mut both = stamped(&Identity::generate());
        both.unstamped.push(keystore::UnstampedKey {
            secret: "restored".into(),
            identity: restored.clone(),
        });
        keys.replace(both);
        assert!(
            expect_call(
                &mut seen,
                "GET",
                "/namespaces/prod/secrets/db",
                Duration::from_secs(3)
            )
            .await,
            "the SealedSecret was not retried when the keys changed"
        );
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
    }
}
