//! `sealgate-controller`: turns SealedSecrets into Secrets inside the cluster.
//!
//! Keys live as Secrets in the controller's namespace; the leader (or the only
//! replica) generates and rotates them and runs the reconcile loop; every
//! replica serves the HTTP endpoints. `sealgate-controller crd` prints the CRD.

mod args;
mod desired;
mod http;
mod keystore;
mod metrics;
mod reconcile;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::api::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use sealgate_core::{Recipient, SealedSecret};
use tokio::sync::watch;

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

    let leader = leadership(&args, &client, stop.clone()).await?;
    let key_api: Api<Secret> = Api::namespaced(client.clone(), &args.namespace);
    let maintainer = tokio::spawn(maintain_keys(
        key_api,
        args.namespace.clone(),
        args.key_rotation_period,
        keys.clone(),
        metrics.clone(),
        leader.clone(),
        ready.clone(),
        stop.clone(),
    ));

    run_controllers(&args, client, keys, metrics, leader, stop.clone()).await;
    let _ = maintainer.await;
    let _ = server.await;
    Ok(())
}

/// A channel that is `true` while this replica leads. Without leader election it always is.
async fn leadership(
    args: &Args,
    client: &Client,
    stop: watch::Receiver<bool>,
) -> Result<watch::Receiver<bool>> {
    if !args.leader_election {
        let (tx, rx) = watch::channel(true);
        tokio::spawn(async move {
            let mut stop = stop;
            let _ = stop.wait_for(|s| *s).await;
            drop(tx);
        });
        return Ok(rx);
    }
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
    tokio::spawn(async move {
        let mut channel = channel;
        let mut stop = stop;
        loop {
            let leading = *channel.borrow_and_update();
            tracing::info!(leading, "leadership");
            let _ = tx.send(leading);
            tokio::select! {
                changed = channel.changed() => if changed.is_err() { break },
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        drop(channel);
        let _ = task.await;
        let _ = tx.send(false);
    });
    Ok(rx)
}

/// Loads the keys, watches for added or relabelled key Secrets, and (as leader)
/// creates the first key and the rotated ones. Never deletes a key.
#[allow(clippy::too_many_arguments)]
async fn maintain_keys(
    api: Api<Secret>,
    namespace: String,
    period: Duration,
    keys: Arc<KeyStore>,
    metrics: Arc<Metrics>,
    leader: watch::Receiver<bool>,
    ready: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let selector = sealgate_core::names::LABEL_SEALING_KEY.to_owned();
    let mut changes = watcher(api.clone(), watcher::Config::default().labels(&selector))
        .default_backoff()
        .boxed();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        match keystore::load(&api, &namespace).await {
            Ok(loaded) => {
                if *leader.borrow()
                    && keystore::rotation_due(&loaded, period, k8s_openapi::jiff::Timestamp::now())
                {
                    match keystore::create_key(&api, &namespace).await {
                        Ok(name) => {
                            tracing::info!(secret = %name, "created a new sealing key");
                            continue;
                        }
                        Err(e) => tracing::warn!(error = %e, "could not create a sealing key"),
                    }
                }
                metrics.keys.set(loaded.len() as i64);
                if let Some(newest) = loaded.last() {
                    metrics.last_rotation.set(newest.created.as_second());
                    if keys.newest().is_none_or(|k| k.secret != newest.secret) {
                        tracing::info!(secret = %newest.secret, keys = loaded.len(), "sealing with the newest key");
                    }
                }
                let have_key = !loaded.is_empty();
                keys.set(loaded);
                ready.store(have_key, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "could not load sealing keys"),
        }
        tokio::select! {
            _ = changes.next() => {}
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
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
    let ctx = Arc::new(reconcile::Context {
        client: client.clone(),
        keys,
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
