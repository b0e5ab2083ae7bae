//! One SealedSecret, one pass: unseal, check ownership, server-side apply the
//! Secret, write status, emit events. Called by the controller loop for every
//! change of a SealedSecret or of a Secret it owns, and on every resync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use sealgate_core::{SealedSecret, SecretError, names, unseal_secret};
use serde_json::json;

use crate::desired::{self, Ownership};
use crate::keystore::KeyStore;
use crate::metrics::Metrics;

/// Everything a reconcile needs.
pub struct Context {
    /// API client.
    pub client: Client,
    /// The keys.
    pub keys: Arc<KeyStore>,
    /// Event recorder (de-duplicates repeats into series).
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Periodic resync of every SealedSecret.
    pub resync: Duration,
    /// How long a SealedSecret that cannot be unsealed waits before the next try.
    /// A change to it (or a new key) is picked up at once regardless.
    pub retry_unsealable: Duration,
    /// Consecutive API failures per SealedSecret (namespace/name), for backoff.
    pub failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// A reconcile that failed on the API side; retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A Kubernetes API call failed.
    #[error("{action} {object}: {source}")]
    Api {
        /// What was being done.
        action: &'static str,
        /// The object.
        object: String,
        /// The error.
        source: kube::Error,
    },
}

fn api_err<'a>(action: &'static str, object: &'a str) -> impl FnOnce(kube::Error) -> ReconcileError + 'a {
    move |source| ReconcileError::Api {
        action,
        object: object.to_owned(),
        source,
    }
}

/// The outcome that goes into the Ready condition.
struct Outcome {
    ready: bool,
    reason: &'static str,
    message: String,
}

/// Reconciles one SealedSecret.
pub async fn reconcile(sealed: Arc<SealedSecret>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let result = reconcile_inner(&sealed, &ctx).await;
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if result.is_err() {
        ctx.metrics.reconciled("error");
    }
    result
}

async fn reconcile_inner(sealed: &SealedSecret, ctx: &Context) -> Result<Action, ReconcileError> {
    if sealed.metadata.deletion_timestamp.is_some() {
        // The Secret goes with it through its ownerReference (garbage collection).
        return Ok(Action::await_change());
    }
    let namespace = sealed.namespace().unwrap_or_default();
    let name = sealed.name_any();
    let object = format!("{namespace}/{name}");

    // Before anything is unsealed: a template may not set what only sealgate sets
    // (the key store takes a Secret labelled as a sealing key as one of its keys).
    let meta = sealed.spec.template.as_ref().and_then(|t| t.metadata.as_ref());
    if let Some(field) = meta.and_then(|m| names::reserved_metadata(&m.labels, &m.annotations)) {
        let message = format!(
            "spec.template.{field} is reserved: only sealgate sets labels and annotations under {}; \
             remove it from the template. No Secret was written",
            names::ANNOTATION_PREFIX
        );
        return refuse(sealed, ctx, "ReservedMetadata", message).await;
    }

    let plain = match unseal_secret(sealed, &ctx.keys.keyring(), &namespace) {
        Ok(plain) => plain,
        Err(SecretError::Unseal(failures)) => {
            for (_, e) in &failures {
                ctx.metrics.unseal_failed(e.reason());
            }
            let message = failures
                .iter()
                .map(|(k, e)| format!("key {k:?}: {e}"))
                .collect::<Vec<_>>()
                .join("; ");
            let outcome = Outcome {
                ready: false,
                reason: "UnsealFailed",
                message,
            };
            report(sealed, ctx, &outcome, EventType::Warning).await?;
            ctx.metrics.reconciled("unseal_failed");
            return Ok(Action::requeue(ctx.retry_unsealable));
        }
        // The message names the template key and the place in the template, never a value.
        Err(e @ (SecretError::Template { .. } | SecretError::TemplateShadowsSealedKey { .. })) => {
            let message = format!("{e}. No Secret was written");
            return refuse(sealed, ctx, "TemplateFailed", message).await;
        }
        Err(other) => {
            let outcome = Outcome {
                ready: false,
                reason: "Invalid",
                message: other.to_string(),
            };
            report(sealed, ctx, &outcome, EventType::Warning).await?;
            ctx.metrics.reconciled("unseal_failed");
            return Ok(Action::requeue(ctx.retry_unsealable));
        }
    };

    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut desired = desired::Wiped(desired::secret_for(sealed, &plain));
    drop(plain);
    let existing = secrets
        .get_opt(&name)
        .await
        .map_err(api_err("reading Secret", &object))?
        .map(desired::Wiped);
    let mut drift = false;
    match desired::ownership(sealed, existing.as_ref().map(|s| &s.metadata)) {
        Ownership::NotManaged { controller } => {
            let by = controller
                .map(|c| format!(" (controlled by {c})"))
                .unwrap_or_default();
            let message = format!(
                "Secret {object} exists and is not managed by this SealedSecret{by}; it is left alone. \
                 Annotate it {}=\"true\" to let sealgate take it over",
                names::ANNOTATION_MANAGED
            );
            let outcome = Outcome {
                ready: false,
                reason: "SecretNotManaged",
                message,
            };
            report(sealed, ctx, &outcome, EventType::Warning).await?;
            ctx.metrics.reconciled("not_managed");
            return Ok(Action::requeue(ctx.resync));
        }
        Ownership::Absent => {
            // Deleted behind our back after we produced it (the status says so): drift.
            drift = was_ready_for_this_generation(sealed);
            if create(&secrets, &desired, &object).await? == Write::Conflict {
                return Ok(Action::requeue(RECHECK_AFTER_CONFLICT));
            }
        }
        Ownership::Owned => {
            let existing = existing.unwrap_or_default();
            let foreign = desired::foreign_keys(&existing, &desired);
            let differs = desired::differs(&existing, &desired);
            if differs || !foreign.is_empty() {
                let same_spec = desired::stamped_generation(&existing.metadata) == sealed.metadata.generation;
                if same_spec && desired::skips_drift_correction(&existing.metadata) {
                    let outcome =
                        ready_outcome(&object, &desired, " (edits kept: drift correction is off for it)");
                    report(sealed, ctx, &outcome, EventType::Normal).await?;
                    ctx.metrics.reconciled("ok");
                    return Ok(Action::requeue(ctx.resync));
                }
                drift = same_spec;
                if desired::needs_replacement(&existing, &desired) {
                    let dp = DeleteParams {
                        preconditions: Some(Preconditions {
                            uid: existing.metadata.uid.clone(),
                            resource_version: None,
                        }),
                        ..DeleteParams::default()
                    };
                    secrets
                        .delete(&name, &dp)
                        .await
                        .map_err(api_err("replacing Secret", &object))?;
                    if create(&secrets, &desired, &object).await? == Write::Conflict {
                        return Ok(Action::requeue(RECHECK_AFTER_CONFLICT));
                    }
                } else {
                    // Every write over the Secret is conditional on the version that
                    // was judged ours: one replaced in between is never written to.
                    let mut version = existing.metadata.resource_version.clone();
                    if !foreign.is_empty() {
                        match remove_keys(&secrets, &existing, &foreign, &object).await? {
                            Write::Done(v) => version = v,
                            Write::Conflict => return Ok(Action::requeue(RECHECK_AFTER_CONFLICT)),
                        }
                    }
                    if differs {
                        desired.0.metadata.resource_version = version;
                        if apply(&secrets, &desired, &object).await? == Write::Conflict {
                            return Ok(Action::requeue(RECHECK_AFTER_CONFLICT));
                        }
                    }
                }
            }
        }
    }
    if drift {
        ctx.metrics.drift_corrections.inc();
        let note = format!("Secret {object} was changed or deleted outside sealgate and has been restored");
        publish(ctx, sealed, EventType::Warning, "DriftCorrected", note).await;
    }
    let outcome = ready_outcome(&object, &desired, "");
    report(sealed, ctx, &outcome, EventType::Normal).await?;
    ctx.metrics.reconciled("ok");
    Ok(Action::requeue(ctx.resync))
}

/// How soon a reconcile whose write met a Secret that changed since it was read
/// (a create that found one, a removal whose precondition failed) looks again.
/// The next pass reads the Secret anew and decides from what it finds.
const RECHECK_AFTER_CONFLICT: Duration = Duration::from_secs(1);

/// A SealedSecret whose Secret cannot be built as written: `Ready=False` with
/// `reason`, a Warning event, and nothing written. Only a change to it helps.
async fn refuse(
    sealed: &SealedSecret,
    ctx: &Context,
    reason: &'static str,
    message: String,
) -> Result<Action, ReconcileError> {
    let outcome = Outcome {
        ready: false,
        reason,
        message,
    };
    report(sealed, ctx, &outcome, EventType::Warning).await?;
    ctx.metrics.reconciled("invalid");
    Ok(Action::requeue(ctx.resync))
}

fn ready_outcome(object: &str, desired: &Secret, extra: &str) -> Outcome {
    let keys = desired.data.as_ref().map_or(0, |d| d.len());
    Outcome {
        ready: true,
        reason: "Unsealed",
        message: format!("Secret {object} holds {keys} unsealed key(s){extra}"),
    }
}

fn was_ready_for_this_generation(sealed: &SealedSecret) -> bool {
    let status = sealed.status.as_ref();
    status.and_then(|s| s.observed_generation) == sealed.metadata.generation
        && sealed.ready_condition().is_some_and(|c| c.status == "True")
}

/// What a write conditional on what was read found.
#[derive(Debug, PartialEq, Eq)]
enum Write {
    /// Written; the Secret's new `resourceVersion`.
    Done(Option<String>),
    /// The Secret changed since it was read (or appeared): nothing was written,
    /// and the next reconcile reads it anew and decides from what it finds.
    Conflict,
}

/// Writes through `call` and sorts the answer: the Secret that comes back is
/// wiped, a 409 is a [`Write::Conflict`], anything else an error.
async fn conditional(
    call: impl std::future::Future<Output = Result<Secret, kube::Error>>,
    action: &'static str,
    object: &str,
) -> Result<Write, ReconcileError> {
    match call.await {
        Ok(written) => {
            let written = desired::Wiped(written);
            Ok(Write::Done(written.metadata.resource_version.clone()))
        }
        Err(kube::Error::Api(status)) if status.is_already_exists() || status.is_conflict() => {
            tracing::info!(
                secret = object,
                action,
                "Secret changed since it was read; looking again"
            );
            Ok(Write::Conflict)
        }
        Err(e) => Err(api_err(action, object)(e)),
    }
}

/// Server-side applies `desired` over a Secret this SealedSecret owns. Its
/// `resourceVersion`, when set, makes the apply conditional on it.
async fn apply(secrets: &Api<Secret>, desired: &Secret, object: &str) -> Result<Write, ReconcileError> {
    let params = PatchParams::apply(names::FIELD_MANAGER).force();
    let name = desired.metadata.name.clone().unwrap_or_default();
    conditional(
        secrets.patch(&name, &params, &Patch::Apply(desired)),
        "applying Secret",
        object,
    )
    .await
}

/// Creates the Secret that was not there when it was read. A create, not an
/// apply: an apply would take over a Secret someone else created in between
/// (and give it our ownerReference, so it would be deleted with the
/// SealedSecret). A [`Write::Conflict`] when one appeared.
async fn create(secrets: &Api<Secret>, desired: &Secret, object: &str) -> Result<Write, ReconcileError> {
    let params = PostParams {
        field_manager: Some(names::FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    conditional(secrets.create(&params, desired), "creating Secret", object).await
}

/// Removes the data keys sealgate does not produce ([`desired::removal_patch`]),
/// only from the Secret as it was read.
async fn remove_keys(
    secrets: &Api<Secret>,
    existing: &Secret,
    keys: &[&str],
    object: &str,
) -> Result<Write, ReconcileError> {
    let params = PatchParams {
        field_manager: Some(names::FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let name = existing.metadata.name.clone().unwrap_or_default();
    let patch = desired::removal_patch(existing, keys);
    conditional(
        secrets.patch(&name, &params, &Patch::Merge(&patch)),
        "removing keys from Secret",
        object,
    )
    .await
}

/// Writes the Ready condition when it changed, and emits the matching event on a change.
async fn report(
    sealed: &SealedSecret,
    ctx: &Context,
    outcome: &Outcome,
    kind: EventType,
) -> Result<(), ReconcileError> {
    let status = if outcome.ready { "True" } else { "False" };
    let previous = sealed.ready_condition();
    let unchanged = previous
        .is_some_and(|c| c.status == status && c.reason == outcome.reason && c.message == outcome.message)
        && sealed.status.as_ref().and_then(|s| s.observed_generation) == sealed.metadata.generation;
    if unchanged {
        return Ok(());
    }
    let transition = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(Timestamp::now()),
    };
    let condition = Condition {
        type_: names::CONDITION_READY.to_owned(),
        status: status.to_owned(),
        reason: outcome.reason.to_owned(),
        message: outcome.message.clone(),
        last_transition_time: transition,
        observed_generation: sealed.metadata.generation,
    };
    let patch = json!({
        "apiVersion": names::API_VERSION,
        "kind": names::KIND,
        "status": {"observedGeneration": sealed.metadata.generation, "conditions": [condition]},
    });
    let api: Api<SealedSecret> = Api::namespaced(ctx.client.clone(), &sealed.namespace().unwrap_or_default());
    let params = PatchParams::apply(names::FIELD_MANAGER).force();
    api.patch_status(&sealed.name_any(), &params, &Patch::Apply(&patch))
        .await
        .map_err(api_err("writing status of SealedSecret", &sealed.name_any()))?;
    let reason_changed = previous.is_none_or(|c| c.reason != outcome.reason || c.status != status);
    if reason_changed || !outcome.ready {
        publish(ctx, sealed, kind, outcome.reason, outcome.message.clone()).await;
    }
    Ok(())
}

/// Emits an event; failing to record one is logged, not fatal.
async fn publish(ctx: &Context, sealed: &SealedSecret, type_: EventType, reason: &str, note: String) {
    let reference: ObjectReference = sealed.object_ref(&());
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        tracing::warn!(error = %e, reason, "could not record event");
    }
}

fn failure_key(sealed: &SealedSecret) -> String {
    format!("{}/{}", sealed.namespace().unwrap_or_default(), sealed.name_any())
}

/// Backoff for API failures: 5 s, doubling per consecutive failure of the same
/// SealedSecret, at most 5 min; a success resets it.
pub fn error_policy(sealed: Arc<SealedSecret>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let attempt = match ctx.failures.lock() {
        Ok(mut failures) => {
            let n = failures.entry(failure_key(&sealed)).or_insert(0);
            *n = n.saturating_add(1);
            *n
        }
        Err(_) => 1,
    };
    let delay = backoff(attempt);
    tracing::warn!(%error, attempt, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn backoff(attempt: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(10));
    Duration::from_secs(secs.min(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use http::{Method, Request, Response};
    use kube::client::Body;
    use kube::runtime::events::Reporter;
    use sealgate_core::{Identity, PlainSecret, RecipientSet, Scope, SealOptions, SecretBytes, seal_secret};
    use serde_json::Value;

    use crate::keystore::StoredKey;

    /// One request the controller made: method, path and query, JSON body.
    #[derive(Debug, Clone)]
    struct Call {
        method: Method,
        uri: String,
        content_type: String,
        body: Value,
    }

    type Route = Box<dyn Fn(&Method, &str) -> Option<(u16, Value)> + Send + Sync>;

    /// A mocked API server answering from `route` (404 otherwise) and recording every call.
    fn mock(route: Route) -> (Client, Arc<Mutex<Vec<Call>>>, tokio::task::JoinHandle<()>) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        let server = tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let uri = parts.uri.to_string();
                let path = parts.uri.path().to_owned();
                let content_type = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                recorded.lock().unwrap().push(Call {
                    method: parts.method.clone(),
                    uri,
                    content_type,
                    body: body.clone(),
                });
                let (status, reply) = route(&parts.method, &path).unwrap_or_else(|| {
                    (404, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}))
                });
                // Apply and create echo the object back, as the API server does
                // (a status patch comes back as the whole object).
                let reply = if reply.is_null() {
                    let mut echo = body;
                    if let Some(obj) = echo.as_object_mut() {
                        obj.entry("metadata")
                            .or_insert(json!({"name": "db", "namespace": "prod"}));
                        if obj.get("kind") == Some(&json!("SealedSecret")) {
                            obj.entry("spec").or_insert(json!({}));
                        }
                    }
                    echo
                } else {
                    reply
                };
                send.send_response(
                    Response::builder()
                        .status(status)
                        .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                        .unwrap(),
                );
            }
        });
        (Client::new(service, "default"), calls, server)
    }

    struct Fixture {
        key: Identity,
        sealed: SealedSecret,
    }

    fn fixture(sealed_to: Option<&Identity>) -> Fixture {
        let key = Identity::generate();
        let to = sealed_to.cloned().unwrap_or_else(|| key.clone());
        let mut p = PlainSecret {
            name: "db".into(),
            namespace: Some("prod".into()),
            ..Default::default()
        };
        p.data
            .insert("password".into(), SecretBytes::copy_from(b"CANARY-ctl-9"));
        p.immutable = Some(true);
        let set = RecipientSet::from(vec![to.recipient()]);
        let mut sealed = seal_secret(
            &p,
            &SealOptions {
                recipients: &set,
                scope: Scope::Strict,
            },
        )
        .unwrap();
        sealed.metadata.uid = Some("uid-1".into());
        sealed.metadata.generation = Some(2);
        Fixture { key, sealed }
    }

    fn context(client: Client, key: &Identity) -> Arc<Context> {
        let keys = Arc::new(KeyStore::new(vec![]));
        keys.set(vec![StoredKey {
            secret: "k".into(),
            created: "2026-01-01T00:00:00Z".parse().unwrap(),
            identity: key.clone(),
        }]);
        let reporter = Reporter {
            controller: "sealgate-controller".into(),
            instance: None,
        };
        Arc::new(Context {
            client: client.clone(),
            keys,
            recorder: Recorder::new(client, reporter),
            metrics: Arc::default(),
            resync: Duration::from_secs(600),
            retry_unsealable: Duration::from_secs(300),
            failures: Default::default(),
        })
    }

    fn ready_status(sealed: &mut SealedSecret) {
        let object = "prod/db";
        let desired_keys = sealed.spec.encrypted_data.len();
        sealed.status = Some(sealgate_core::SealedSecretStatus {
            observed_generation: sealed.metadata.generation,
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "Unsealed".into(),
                message: format!("Secret {object} holds {desired_keys} unsealed key(s)"),
                last_transition_time: Time("2026-01-01T00:00:00Z".parse().unwrap()),
                observed_generation: sealed.metadata.generation,
            }],
        });
    }

    fn produced(f: &Fixture) -> Value {
        let plain = unseal_secret(
            &f.sealed,
            &sealgate_core::Keyring::from(vec![f.key.clone()]),
            "prod",
        )
        .unwrap();
        serde_json::to_value(desired::secret_for(&f.sealed, &plain)).unwrap()
    }

    const SECRET: &str = "/api/v1/namespaces/prod/secrets/db";
    const SECRETS: &str = "/api/v1/namespaces/prod/secrets";
    const STATUS: &str = "/apis/sealgate.dev/v1alpha1/namespaces/prod/sealedsecrets/db/status";
    const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/prod/events";

    fn summary(calls: &[Call]) -> Vec<String> {
        calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.uri.split('?').next().unwrap_or("")))
            .collect()
    }

    async fn run(f: &Fixture, route: Route) -> (Result<Action, ReconcileError>, Vec<Call>, Arc<Context>) {
        let (mut results, calls, ctx) = run_each(f, std::slice::from_ref(&f.sealed), route).await;
        (results.remove(0), calls, ctx)
    }

    /// Reconciles each of `passes` in turn against one mocked API (whose `route`
    /// may change what it answers as calls come in).
    async fn run_each(
        f: &Fixture,
        passes: &[SealedSecret],
        route: Route,
    ) -> (Vec<Result<Action, ReconcileError>>, Vec<Call>, Arc<Context>) {
        let (client, calls, server) = mock(route);
        let ctx = context(client, &f.key);
        let mut results = Vec::new();
        for sealed in passes {
            results.push(reconcile(Arc::new(sealed.clone()), ctx.clone()).await);
        }
        server.abort();
        let calls = calls.lock().unwrap().clone();
        for c in &calls {
            assert!(
                !c.body.to_string().contains("CANARY"),
                "plaintext in a request other than the Secret? {c:?}"
            );
        }
        (results, calls, ctx)
    }

    fn no_leak_except_secret_data(calls: &[Call]) {
        for c in calls.iter().filter(|c| !c.uri.starts_with(SECRETS)) {
            assert!(
                !c.body.to_string().contains("Q0FOQVJZ"),
                "base64 plaintext outside the Secret: {c:?}"
            );
        }
    }

    #[tokio::test]
    async fn first_creation_applies_the_secret_then_status_then_event() {
        let f = fixture(None);
        let (result, calls, ctx) = run(
            &f,
            Box::new(|m, p| match (m.as_str(), p) {
                ("POST", SECRETS) | ("PATCH", STATUS) | ("POST", EVENTS) => Some((201, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            summary(&calls),
            [
                format!("GET {SECRET}"),
                format!("POST {SECRETS}"),
                format!("PATCH {STATUS}"),
                format!("POST {EVENTS}")
            ]
        );
        let create = &calls[1];
        assert!(
            create.uri.contains("fieldManager=sealgate-controller") && !create.uri.contains("force"),
            "a create, never a forced apply: {}",
            create.uri
        );
        let secret = &create.body;
        assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(secret["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(secret["metadata"]["annotations"]["sealgate.dev/keys"], "password");
        assert_eq!(
            secret["metadata"]["annotations"]["sealgate.dev/source-generation"],
            "2"
        );
        assert_eq!(secret["immutable"], true);
        assert_eq!(secret["data"]["password"], "Q0FOQVJZLWN0bC05");
        let status = &calls[2].body["status"];
        assert_eq!(status["observedGeneration"], 2);
        assert_eq!(
            (
                status["conditions"][0]["status"].as_str(),
                status["conditions"][0]["reason"].as_str()
            ),
            (Some("True"), Some("Unsealed"))
        );
        assert_eq!(calls[3].body["reason"], "Unsealed");
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_reconciles_total{result=\"ok\"} 1")
        );
        no_leak_except_secret_data(&calls);
    }

    #[tokio::test]
    async fn in_sync_is_a_single_read() {
        let mut f = fixture(None);
        ready_status(&mut f.sealed);
        let existing = produced(&f);
        let (result, calls, _) = run(
            &f,
            Box::new(move |m, p| match (m.as_str(), p) {
                ("GET", SECRET) => Some((200, existing.clone())),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(summary(&calls), [format!("GET {SECRET}")]);
    }

    #[tokio::test]
    async fn drift_is_reverted_with_an_event_and_a_metric() {
        let mut f = fixture(None);
        f.sealed.spec.template.get_or_insert_default().immutable = None;
        ready_status(&mut f.sealed);
        let mut edited = produced(&f);
        edited["data"]["password"] = json!("aGFja2Vk");
        let (result, calls, ctx) = run(
            &f,
            Box::new(move |m, p| match (m.as_str(), p) {
                ("GET", SECRET) => Some((200, edited.clone())),
                ("PATCH", SECRET) | ("POST", EVENTS) => Some((200, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            summary(&calls),
            [
                format!("GET {SECRET}"),
                format!("PATCH {SECRET}"),
                format!("POST {EVENTS}")
            ]
        );
        assert_eq!(calls[1].body["data"]["password"], "Q0FOQVJZLWN0bC05");
        assert_eq!(calls[2].body["reason"], "DriftCorrected");
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_drift_corrections_total 1")
        );
    }

    #[tokio::test]
    async fn a_deleted_secret_is_recreated_as_drift() {
        let mut f = fixture(None);
        ready_status(&mut f.sealed);
        let (_, calls, ctx) = run(
            &f,
            Box::new(|m, p| match (m.as_str(), p) {
                ("POST", SECRETS) | ("POST", EVENTS) => Some((201, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert_eq!(
            summary(&calls),
            [
                format!("GET {SECRET}"),
                format!("POST {SECRETS}"),
                format!("POST {EVENTS}")
            ]
        );
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_drift_corrections_total 1")
        );
    }

    #[tokio::test]
    async fn a_secret_we_do_not_own_is_left_alone() {
        let f = fixture(None);
        let foreign = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod", "uid": "other"}, "data": {"password": "b3RoZXI="}});
        let (result, calls, _) = run(
            &f,
            Box::new(move |m, p| match (m.as_str(), p) {
                ("GET", SECRET) => Some((200, foreign.clone())),
                ("PATCH", STATUS) | ("POST", EVENTS) => Some((200, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(
            summary(&calls),
            [
                format!("GET {SECRET}"),
                format!("PATCH {STATUS}"),
                format!("POST {EVENTS}")
            ]
        );
        let condition = &calls[1].body["status"]["conditions"][0];
        assert_eq!(
            (condition["status"].as_str(), condition["reason"].as_str()),
            (Some("False"), Some("SecretNotManaged"))
        );
        assert!(
            calls
                .iter()
                .all(|c| !(c.uri.starts_with(SECRET) && c.method != Method::GET)),
            "never written or deleted"
        );
    }

    #[tokio::test]
    async fn unseal_failure_sets_ready_false_and_waits() {
        let stranger = Identity::generate();
        let f = fixture(Some(&stranger));
        let (result, calls, ctx) = run(
            &f,
            Box::new(|m, p| match (m.as_str(), p) {
                ("PATCH", STATUS) | ("POST", EVENTS) => Some((200, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert_eq!(
            result.unwrap(),
            Action::requeue(Duration::from_secs(300)),
            "no hot loop"
        );
        assert_eq!(
            summary(&calls),
            [format!("PATCH {STATUS}"), format!("POST {EVENTS}")]
        );
        let condition = &calls[0].body["status"]["conditions"][0];
        assert_eq!(condition["reason"], "UnsealFailed");
        assert_eq!(
            condition["message"],
            "key \"password\": not sealed to any key in this keyring"
        );
        assert_eq!(calls[1].body["type"], "Warning");
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_unseal_errors_total{reason=\"NoMatchingKey\"} 1")
        );
    }

    #[tokio::test]
    async fn an_immutable_secret_with_new_content_is_replaced() {
        let mut f = fixture(None);
        let mut old = produced(&f);
        old["data"]["password"] = json!("b2xk");
        old["metadata"]["annotations"]["sealgate.dev/source-generation"] = json!("1");
        old["metadata"]["uid"] = json!("secret-uid");
        f.sealed.metadata.generation = Some(2);
        let (result, calls, ctx) = run(
            &f,
            Box::new(move |m, p| match (m.as_str(), p) {
                ("GET", SECRET) => Some((200, old.clone())),
                ("DELETE", SECRET) => Some((
                    200,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                )),
                ("POST", SECRETS) | ("PATCH", STATUS) | ("POST", EVENTS) => Some((201, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            summary(&calls)[..3],
            [
                format!("GET {SECRET}"),
                format!("DELETE {SECRET}"),
                format!("POST {SECRETS}")
            ]
        );
        assert_eq!(
            calls[1].body["preconditions"]["uid"], "secret-uid",
            "only the Secret we read is deleted"
        );
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_drift_corrections_total 0"),
            "a new generation is not drift"
        );
    }

    /// A tracing writer into a shared buffer, to read what would be logged.
    #[derive(Clone, Default)]
    struct LogBuffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for LogBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn nothing_logged_or_counted_holds_the_plaintext() {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let mut metrics_text = String::new();
        for sealed_to in [None, Some(Identity::generate())] {
            let f = fixture(sealed_to.as_ref());
            let (_, _, ctx) = run(&f, Box::new(|m, p| match (m.as_str(), p) {
                ("PATCH", SECRET) | ("PATCH", STATUS) | ("POST", EVENTS) => Some((200, Value::Null)),
                ("GET", SECRET) => Some((500, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500, "message": "boom"}))),
                _ => None,
            }))
            .await;
            metrics_text.push_str(&ctx.metrics.render());
        }
        let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
        assert!(!logged.is_empty(), "the capture works");
        for text in [&logged, &metrics_text] {
            assert!(
                !text.contains("CANARY") && !text.contains("Q0FOQVJZ"),
                "plaintext leaked: {text}"
            );
        }
    }

    #[tokio::test]
    async fn api_errors_are_returned_for_backoff() {
        let f = fixture(None);
        let (result, _, ctx) = run(&f, Box::new(|m, p| match (m.as_str(), p) {
            ("GET", SECRET) => Some((500, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500, "message": "etcd down"}))),
            _ => None,
        }))
        .await;
        let err = result.unwrap_err().to_string();
        assert!(err.starts_with("reading Secret prod/db"), "{err}");
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_reconciles_total{result=\"error\"} 1")
        );
    }

    fn not_found() -> (u16, Value) {
        (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
        )
    }

    fn conflict(reason: &str) -> (u16, Value) {
        (
            409,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": 409, "message": "conflict"}),
        )
    }

    /// The one condition written, and that no request touched a Secret.
    fn refused_without_writing(calls: &[Call]) -> Value {
        assert_eq!(
            summary(calls),
            [format!("PATCH {STATUS}"), format!("POST {EVENTS}")],
            "nothing but the status and one event"
        );
        assert!(calls.iter().all(|c| !c.uri.starts_with(SECRETS)));
        assert_eq!(calls[1].body["type"], "Warning");
        let condition = calls[0].body["status"]["conditions"][0].clone();
        assert_eq!(condition["status"], "False");
        assert_eq!(calls[1].body["reason"], condition["reason"]);
        condition
    }

    fn status_and_events(m: &Method, p: &str) -> Option<(u16, Value)> {
        match (m.as_str(), p) {
            ("PATCH", STATUS) | ("POST", EVENTS) => Some((200, Value::Null)),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_template_setting_what_only_sealgate_sets_is_refused_and_nothing_is_written() {
        // The attack: a Secret labelled as a sealing key in the controller's namespace
        // would be loaded as the cluster's newest key.
        let cases = [
            (
                true,
                names::LABEL_SEALING_KEY,
                "metadata.labels[\"sealgate.dev/sealing-key\"]",
            ),
            (
                false,
                names::LABEL_SEALING_KEY,
                "metadata.annotations[\"sealgate.dev/sealing-key\"]",
            ),
            (
                false,
                names::ANNOTATION_KEYS,
                "metadata.annotations[\"sealgate.dev/keys\"]",
            ),
            (
                false,
                names::ANNOTATION_SOURCE_GENERATION,
                "metadata.annotations[\"sealgate.dev/source-generation\"]",
            ),
            (
                false,
                names::ANNOTATION_MANAGED,
                "metadata.annotations[\"sealgate.dev/managed\"]",
            ),
            (
                true,
                names::ANNOTATION_MANAGED,
                "metadata.labels[\"sealgate.dev/managed\"]",
            ),
        ];
        for (label, key, field) in cases {
            let mut f = fixture(None);
            let meta = f
                .sealed
                .spec
                .template
                .get_or_insert_default()
                .metadata
                .get_or_insert_default();
            meta.labels.insert("app".into(), "db".into());
            let map = if label {
                &mut meta.labels
            } else {
                &mut meta.annotations
            };
            map.insert(key.into(), names::KEY_STATE_ACTIVE.into());
            let (result, calls, ctx) = run(&f, Box::new(status_and_events)).await;
            assert!(result.is_ok(), "{field}: {result:?}");
            let condition = refused_without_writing(&calls);
            assert_eq!(condition["reason"], "ReservedMetadata", "{field}");
            let message = condition["message"].as_str().unwrap_or_default();
            assert!(message.contains(&format!("spec.template.{field}")), "{message}");
            assert!(
                ctx.metrics
                    .render()
                    .contains("sealgate_reconciles_total{result=\"invalid\"} 1")
            );
        }
    }

    #[tokio::test]
    async fn the_drift_opt_out_may_come_from_the_template() {
        let mut f = fixture(None);
        let meta = f
            .sealed
            .spec
            .template
            .get_or_insert_default()
            .metadata
            .get_or_insert_default();
        meta.annotations
            .insert(names::ANNOTATION_SKIP_DRIFT.into(), "true".into());
        let (result, calls, _) = run(
            &f,
            Box::new(|m, p| match (m.as_str(), p) {
                ("POST", SECRETS) | ("PATCH", STATUS) | ("POST", EVENTS) => Some((201, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            calls[1].body["metadata"]["annotations"][names::ANNOTATION_SKIP_DRIFT],
            "true"
        );
    }

    #[tokio::test]
    async fn a_secret_created_between_read_and_write_is_not_adopted() {
        // Someone creates the Secret after our read found none: the create conflicts,
        // nothing is applied over it, and the next pass sees it as someone else's.
        let mut f = fixture(None);
        f.sealed.spec.template.get_or_insert_default().immutable = None;
        let appeared = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = appeared.clone();
        let foreign = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "prod", "uid": "theirs", "resourceVersion": "7"},
            "data": {"password": "dGhlaXJz"}});
        let route: Route = Box::new(move |m, p| {
            use std::sync::atomic::Ordering::SeqCst;
            match (m.as_str(), p) {
                ("GET", SECRET) if seen.load(SeqCst) => Some((200, foreign.clone())),
                ("GET", SECRET) => Some(not_found()),
                ("POST", SECRETS) => {
                    seen.store(true, SeqCst);
                    Some(conflict("AlreadyExists"))
                }
                ("PATCH", STATUS) | ("POST", EVENTS) => Some((200, Value::Null)),
                _ => None,
            }
        });
        let passes = [f.sealed.clone(), f.sealed.clone()];
        let (results, calls, ctx) = run_each(&f, &passes, route).await;
        assert!(appeared.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            results[0].as_ref().ok(),
            Some(&Action::requeue(RECHECK_AFTER_CONFLICT)),
            "looks again soon"
        );
        assert!(results[1].is_ok(), "{:?}", results[1]);
        assert_eq!(
            summary(&calls),
            [
                format!("GET {SECRET}"),
                format!("POST {SECRETS}"),
                format!("GET {SECRET}"),
                format!("PATCH {STATUS}"),
                format!("POST {EVENTS}")
            ]
        );
        assert!(
            calls
                .iter()
                .all(|c| !(c.uri.starts_with(SECRET) && c.method != Method::GET)),
            "never applied over, patched or deleted"
        );
        let condition = &calls[3].body["status"]["conditions"][0];
        assert_eq!(
            (condition["status"].as_str(), condition["reason"].as_str()),
            (Some("False"), Some("SecretNotManaged"))
        );
        assert_eq!(calls[4].body["type"], "Warning");
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_reconciles_total{result=\"not_managed\"} 1")
        );
    }

    #[tokio::test]
    async fn a_foreign_key_is_removed_once_and_then_left_in_peace() {
        let mut f = fixture(None);
        f.sealed.spec.template.get_or_insert_default().immutable = None;
        ready_status(&mut f.sealed);
        let corrected = produced(&f);
        let mut with_foreign = corrected.clone();
        with_foreign["metadata"]["resourceVersion"] = json!("41");
        with_foreign["data"]["extra"] = json!("c29tZW9uZQ==");
        let removed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = removed.clone();
        let route: Route = Box::new(move |m, p| {
            use std::sync::atomic::Ordering::SeqCst;
            match (m.as_str(), p) {
                ("GET", SECRET) if seen.load(SeqCst) => Some((200, corrected.clone())),
                ("GET", SECRET) => Some((200, with_foreign.clone())),
                ("PATCH", SECRET) => {
                    seen.store(true, SeqCst);
                    Some((200, corrected.clone()))
                }
                ("PATCH", STATUS) | ("POST", EVENTS) => Some((200, Value::Null)),
                _ => None,
            }
        });
        // A first pass, then two resyncs.
        let passes = [f.sealed.clone(), f.sealed.clone(), f.sealed.clone()];
        let (results, calls, ctx) = run_each(&f, &passes, route).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(
            summary(&calls),
            [
                format!("GET {SECRET}"),
                format!("PATCH {SECRET}"),
                format!("POST {EVENTS}"),
                format!("GET {SECRET}"),
                format!("GET {SECRET}"),
            ],
            "one removal and one event, then reads only"
        );
        let removal = &calls[1];
        assert_eq!(removal.content_type, "application/merge-patch+json");
        assert_eq!(
            removal.body,
            json!({"metadata": {"resourceVersion": "41"}, "data": {"extra": null}}),
            "removes the foreign key, only from the Secret that was read, and carries no value"
        );
        assert_eq!(calls[2].body["reason"], "DriftCorrected");
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_drift_corrections_total 1")
        );
    }

    #[tokio::test]
    async fn a_removal_that_meets_a_changed_secret_removes_nothing_and_looks_again() {
        let mut f = fixture(None);
        f.sealed.spec.template.get_or_insert_default().immutable = None;
        ready_status(&mut f.sealed);
        let mut with_foreign = produced(&f);
        with_foreign["metadata"]["resourceVersion"] = json!("41");
        with_foreign["data"]["extra"] = json!("c29tZW9uZQ==");
        let (result, calls, ctx) = run(
            &f,
            Box::new(move |m, p| match (m.as_str(), p) {
                ("GET", SECRET) => Some((200, with_foreign.clone())),
                ("PATCH", SECRET) => Some(conflict("Conflict")),
                _ => None,
            }),
        )
        .await;
        assert_eq!(result.ok(), Some(Action::requeue(RECHECK_AFTER_CONFLICT)));
        assert_eq!(
            summary(&calls),
            [format!("GET {SECRET}"), format!("PATCH {SECRET}")]
        );
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_drift_corrections_total 0"),
            "nothing was corrected"
        );
    }

    #[tokio::test]
    async fn a_foreign_key_and_a_changed_value_are_both_corrected() {
        let mut f = fixture(None);
        f.sealed.spec.template.get_or_insert_default().immutable = None;
        ready_status(&mut f.sealed);
        let mut edited = produced(&f);
        edited["metadata"]["resourceVersion"] = json!("41");
        edited["data"]["extra"] = json!("c29tZW9uZQ==");
        edited["data"]["password"] = json!("aGFja2Vk");
        let (result, calls, _) = run(
            &f,
            Box::new(move |m, p| match (m.as_str(), p) {
                ("GET", SECRET) => Some((200, edited.clone())),
                ("PATCH", SECRET) | ("POST", EVENTS) => Some((200, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            summary(&calls),
            [
                format!("GET {SECRET}"),
                format!("PATCH {SECRET}"),
                format!("PATCH {SECRET}"),
                format!("POST {EVENTS}")
            ]
        );
        assert_eq!(calls[1].body["data"], json!({"extra": null}));
        assert_eq!(calls[2].content_type, "application/apply-patch+yaml");
        assert_eq!(calls[2].body["data"]["password"], "Q0FOQVJZLWN0bC05");
        assert_eq!(calls[3].body["reason"], "DriftCorrected");
    }

    #[tokio::test]
    async fn a_template_renders_into_the_secret() {
        let mut f = fixture(None);
        f.sealed
            .spec
            .template
            .get_or_insert_default()
            .data
            .insert("config.yaml".into(), "db:\n  password: {{ .password }}\n".into());
        let (result, calls, _) = run(
            &f,
            Box::new(|m, p| match (m.as_str(), p) {
                ("POST", SECRETS) | ("PATCH", STATUS) | ("POST", EVENTS) => Some((201, Value::Null)),
                _ => None,
            }),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(summary(&calls)[1], format!("POST {SECRETS}"));
        let secret = &calls[1].body;
        use base64::Engine as _;
        let rendered = base64::engine::general_purpose::STANDARD.encode("db:\n  password: CANARY-ctl-9\n");
        assert_eq!(secret["data"]["config.yaml"], rendered);
        assert_eq!(secret["data"]["password"], "Q0FOQVJZLWN0bC05");
        assert_eq!(
            secret["metadata"]["annotations"]["sealgate.dev/keys"],
            "config.yaml,password"
        );
        let condition = &calls[2].body["status"]["conditions"][0];
        assert_eq!(condition["message"], "Secret prod/db holds 2 unsealed key(s)");
        no_leak_except_secret_data(&calls);
    }

    #[tokio::test]
    async fn a_template_that_cannot_be_built_is_template_failed_and_nothing_is_written() {
        let cases = [
            ("{{ .token }}", "key \"token\" is not sealed"),
            ("{{ .password | upper }}", "line 1, column 1"),
            ("password: {{ .password", "unclosed action"),
        ];
        for (text, problem) in cases {
            let mut f = fixture(None);
            f.sealed
                .spec
                .template
                .get_or_insert_default()
                .data
                .insert("config.yaml".into(), text.into());
            let (result, calls, _) = run(&f, Box::new(status_and_events)).await;
            assert!(result.is_ok(), "{text}: {result:?}");
            let condition = refused_without_writing(&calls);
            assert_eq!(condition["reason"], "TemplateFailed", "{text}");
            let message = condition["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("spec.template.data[\"config.yaml\"]: ") && message.contains(problem),
                "{message}"
            );
            for c in &calls {
                assert!(!c.body.to_string().contains("Q0FOQVJZ"), "{c:?}");
            }
        }
        // A template key that is also sealed: which value wins would be a guess.
        let mut f = fixture(None);
        f.sealed
            .spec
            .template
            .get_or_insert_default()
            .data
            .insert("password".into(), "{{ .password }}".into());
        let (_, calls, _) = run(&f, Box::new(status_and_events)).await;
        let condition = refused_without_writing(&calls);
        assert_eq!(condition["reason"], "TemplateFailed");
        assert!(
            condition["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("spec.template.data[\"password\"]")),
            "{condition}"
        );
    }

    #[tokio::test]
    async fn an_apply_is_conditional_on_the_secret_that_was_read() {
        // Ours when read, then deleted and re-created by someone else before the apply:
        // the apply names the version read, the API server refuses it, nothing is adopted.
        let mut f = fixture(None);
        f.sealed.spec.template.get_or_insert_default().immutable = None;
        ready_status(&mut f.sealed);
        let mut edited = produced(&f);
        edited["metadata"]["resourceVersion"] = json!("41");
        edited["data"]["password"] = json!("aGFja2Vk");
        let (result, calls, ctx) = run(
            &f,
            Box::new(move |m, p| match (m.as_str(), p) {
                ("GET", SECRET) => Some((200, edited.clone())),
                ("PATCH", SECRET) => Some(conflict("Conflict")),
                _ => None,
            }),
        )
        .await;
        assert_eq!(result.ok(), Some(Action::requeue(RECHECK_AFTER_CONFLICT)));
        assert_eq!(
            summary(&calls),
            [format!("GET {SECRET}"), format!("PATCH {SECRET}")]
        );
        assert_eq!(calls[1].content_type, "application/apply-patch+yaml");
        assert_eq!(calls[1].body["metadata"]["resourceVersion"], "41");
        assert!(
            ctx.metrics
                .render()
                .contains("sealgate_drift_corrections_total 0")
        );
    }
}
