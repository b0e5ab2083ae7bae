//! The webhook's routes: `POST /validate` (AdmissionReview v1), `/healthz`,
//! `/readyz`, `/metrics`, with the limits of [`Limits`]: a review's body is
//! read whole, to a size limit and a deadline, before the review takes its turn
//! among those in flight, so a slow client never holds a turn; the decision works
//! to a deadline below the webhook's `timeoutSeconds`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Body as _;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

pub use crate::flow::{AppState, KeyReader, Live};

/// Default of `--max-body-bytes`: the API server's own limit on a request (3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// Default of `--max-in-flight`.
pub const MAX_IN_FLIGHT: usize = 16;
/// Default of `--body-timeout-ms`.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(3);

/// Limits on reviews.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest body accepted; a larger one is refused with 413.
    pub max_body: usize,
    /// Reviews decided at once; more wait for a turn. Also the bodies' worth of
    /// bytes held at once: at most `max_in_flight × max_body` bytes of bodies,
    /// counted as they arrive, are held by reviews being read, waiting or decided.
    pub max_in_flight: usize,
    /// Deadline for reading the whole body, counted from when the review's
    /// headers are in; keep it below the review's deadline.
    pub body_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: MAX_BODY,
            max_in_flight: MAX_IN_FLIGHT,
            body_deadline: BODY_TIMEOUT,
        }
    }
}

impl Limits {
    /// The defaults with `max_in_flight` reviews at once.
    pub fn in_flight(max_in_flight: usize) -> Self {
        Limits {
            max_in_flight,
            ..Limits::default()
        }
    }
}

/// The state and the limits, behind one `Arc`: a request clones it once.
struct Served {
    state: AppState,
    limits: Limits,
    /// Turns for reviews in flight, taken once the body is in.
    in_flight: Semaphore,
    /// Bytes of bodies held at once, one permit a byte, taken as they arrive.
    bytes: Semaphore,
}

impl std::ops::Deref for Served {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.state
    }
}

/// The router with its limits. Reviews beyond `limits.max_in_flight` wait for
/// a turn, within the review's deadline, rather than being refused.
pub fn router(state: AppState, limits: Limits) -> Router {
    let max_in_flight = limits.max_in_flight.max(1);
    let max_body = limits.max_body.clamp(1, u32::MAX as usize);
    let bytes = max_in_flight.saturating_mul(max_body).min(Semaphore::MAX_PERMITS);
    let served = Served {
        state,
        limits: Limits {
            max_body,
            max_in_flight,
            ..limits
        },
        in_flight: Semaphore::new(max_in_flight),
        bytes: Semaphore::new(bytes),
    };
    // The limits are taken in `validate` itself: as tower layers they cost a
    // review more than its whole decision.
    Router::new()
        .route("/validate", post(validate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(served))
}

async fn readyz(State(s): State<Arc<Served>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "watch caches not synced yet\n").into_response()
    }
}

async fn metrics(State(s): State<Arc<Served>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn validate(State(s): State<Arc<Served>>, body: Body) -> Response {
    let started = Instant::now();
    if !s.ready.load(Ordering::Relaxed) {
        // Answering from half-filled caches would deny what exists; let failurePolicy decide.
        s.metrics.observe("", "", "not_ready", 0.0);
        return (StatusCode::SERVICE_UNAVAILABLE, "watch caches not synced yet\n").into_response();
    }
    let refused = |verdict, status, message: String| {
        s.metrics
            .observe("", "", verdict, started.elapsed().as_secs_f64());
        (status, message).into_response()
    };
    // The body first, whole, to its deadline: no turn is held while a client is slow.
    let (body, _bytes) = match tokio::time::timeout(s.limits.body_deadline, read_body(&s, body)).await {
        Ok(Ok(read)) => read,
        Ok(Err(BodyError::TooLarge)) => {
            return refused(
                "invalid",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is over the limit of {} bytes\n", s.limits.max_body),
            );
        }
        Ok(Err(BodyError::Read(e))) => {
            return refused(
                "invalid",
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}\n"),
            );
        }
        Err(_) => {
            // The client is too slow: answer and close, whatever it still sends.
            s.metrics
                .observe("", "", "body_timeout", started.elapsed().as_secs_f64());
            return (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                format!("request body not received within {:?}\n", s.limits.body_deadline),
            )
                .into_response();
        }
    };
    let deadline = started + s.deadline;
    let no_decision = || {
        s.metrics
            .observe("", "", "timeout", started.elapsed().as_secs_f64());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no decision within {:?}\n", s.deadline),
        )
            .into_response()
    };
    let _turn = match s.in_flight.try_acquire() {
        Ok(turn) => turn,
        Err(_) => match tokio::time::timeout_at(deadline, s.in_flight.acquire()).await {
            Ok(Ok(turn)) => turn,
            // The semaphore is never closed; should it be, no review runs.
            Ok(Err(_)) => {
                return (StatusCode::SERVICE_UNAVAILABLE, "no review can run now\n").into_response();
            }
            Err(_) => return no_decision(),
        },
    };
    let Some(answer) = crate::flow::answer(&s, &body, deadline).await else {
        return no_decision();
    };
    match answer {
        Ok(answer) => {
            s.metrics.observe(
                answer.kind,
                answer.operation,
                answer.verdict.as_str(),
                started.elapsed().as_secs_f64(),
            );
            match answer.reply.into_json() {
                Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot write the answer: {e}\n"),
                )
                    .into_response(),
            }
        }
        Err(message) => refused("invalid", StatusCode::BAD_REQUEST, message),
    }
}

/// Why a body was not read.
enum BodyError {
    /// Over the limit (by its Content-Length, or as it came).
    TooLarge,
    /// The connection failed.
    Read(axum::Error),
}

/// Reads the whole body within the limit, taking one of `s.bytes` for each byte
/// as it arrives (waiting, with the connection unread, while other bodies hold
/// them all); returns it with those bytes' permits.
async fn read_body(s: &Served, body: Body) -> Result<(Bytes, Option<SemaphorePermit<'_>>), BodyError> {
    if body.size_hint().lower() > s.limits.max_body as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut body = Limited::new(body, s.limits.max_body);
    let mut held = None::<SemaphorePermit<'_>>;
    let mut chunks = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match e.downcast::<LengthLimitError>() {
            Ok(_) => BodyError::TooLarge,
            Err(e) => BodyError::Read(axum::Error::new(e)),
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let permit = bytes(s, data.len()).await?;
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        chunks.push(data);
    }
    let body = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => {
            // The copy in one piece counts too, until the pieces are gone; their
            // bytes then count for it.
            let copy = bytes(s, chunks.iter().map(Bytes::len).sum()).await?;
            let body = Bytes::from(chunks.concat());
            drop(chunks);
            drop(copy);
            body
        }
    };
    Ok((body, held))
}

/// `n` of the body bytes, at once or when other bodies let them go.
async fn bytes(s: &Served, n: usize) -> Result<SemaphorePermit<'_>, BodyError> {
    // Below the body limit, itself at most u32::MAX.
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    match s.bytes.try_acquire_many(n) {
        Ok(permit) => Ok(permit),
        Err(_) => s
            .bytes
            .acquire_many(n)
            .await
            .map_err(|e| BodyError::Read(axum::Error::new(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{Mode, Review};
    use axum::body::Body;
    use axum::http::Request;
    use sealgate_core::inventory::{Inventory, MemoryInventory};
    use serde_json::{Value, json};
    use std::collections::{BTreeSet, HashMap};
    use std::sync::atomic::AtomicBool;
    use tower::ServiceExt as _;

    /// A fixed inventory (objects and namespace labels known up front): the caches' test double.
    #[derive(Default)]
    pub struct StaticLive {
        /// What provides which Secret.
        pub inventory: MemoryInventory,
        /// Namespace → value of its `sealgate.dev/admission` label.
        pub modes: HashMap<String, String>,
        /// Secrets that exist but whose key names are not known.
        pub unknown: Vec<(String, String)>,
    }

    impl Inventory for StaticLive {
        fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
            self.inventory.provides(namespace, name, key)
        }
        fn providers(&self, namespace: &str, name: &str) -> Vec<sealgate_core::inventory::Provider> {
            self.inventory.providers(namespace, name)
        }
        fn service_account_pull_secrets(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
            self.inventory.service_account_pull_secrets(namespace, name)
        }
    }

    impl Live for StaticLive {
        fn namespace_mode(&self, namespace: &str) -> Option<Result<Mode, String>> {
            self.modes.get(namespace).map(|m| m.parse())
        }
        fn unknown_key_secrets(&self, wanted: &[(String, String)]) -> Vec<(String, String)> {
            wanted
                .iter()
                .filter(|w| self.unknown.contains(w))
                .cloned()
                .collect()
        }
        fn with_view(&self, _: &str, f: &mut dyn FnMut(&dyn Inventory)) {
            f(self);
        }
    }

    fn secret(ns: &str, name: &str, keys: &[&str]) -> Value {
        let data: serde_json::Map<String, Value> = keys.iter().map(|k| (k.to_string(), json!(""))).collect();
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": data})
    }

    fn sealed(ns: &str, name: &str, keys: &[&str], ready: Option<(&str, &str)>) -> Value {
        let data: serde_json::Map<String, Value> = keys.iter().map(|k| (k.to_string(), json!("x"))).collect();
        let mut o = json!({"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": name, "namespace": ns, "generation": 1}, "spec": {"encryptedData": data}});
        if let Some((status, message)) = ready {
            o["status"] = json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": status,
                "reason": if status == "True" { "Unsealed" } else { "UnsealFailed" }, "message": message}]});
        }
        o
    }

    fn state_with(
        objects: Vec<Value>,
        modes: &[(&str, &str)],
        default_mode: Mode,
        reader: Option<KeyReader>,
    ) -> AppState {
        let mut inventory = MemoryInventory::new();
        for o in &objects {
            inventory.add_object(o, "default");
        }
        let live = StaticLive {
            inventory,
            modes: modes
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            unknown: vec![("prod".into(), "legacy".into())],
        };
        AppState {
            live: Arc::new(live),
            key_reader: reader,
            default_mode,
            metrics: Arc::default(),
            ready: Arc::new(AtomicBool::new(true)),
            deadline: Duration::from_secs(4),
        }
    }

    fn state(objects: Vec<Value>) -> AppState {
        state_with(objects, &[], Mode::Enforce, None)
    }

    fn env(var: &str, secret: &str, key: &str) -> Value {
        json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    }

    fn pod_spec(env_list: Value) -> Value {
        json!({"containers": [{"name": "api", "image": "x", "env": env_list}]})
    }

    fn workload(api_version: &str, kind: &str, spec: Value) -> Value {
        let wrapped = match kind {
            "Pod" => spec,
            "CronJob" => {
                json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": spec}}}})
            }
            _ => json!({"selector": {}, "template": {"spec": spec}}),
        };
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "api", "namespace": "prod"}, "spec": wrapped})
    }

    fn review(operation: &str, object: &Value, old: Option<&Value>) -> Value {
        let api_version = object["apiVersion"].as_str().unwrap_or("v1");
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let kind = object["kind"].as_str().unwrap_or("");
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": group, "version": version, "kind": kind},
                "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
                "name": "api", "namespace": "prod", "operation": operation,
                "userInfo": {"username": "dev"},
                "object": object, "oldObject": old, "dryRun": false
            }
        })
    }

    async fn post(state: AppState, body: String) -> (StatusCode, Value, String) {
        let req = Request::builder()
            .method("POST")
            .uri("/validate")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let resp = router(state, Limits::in_flight(8)).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
    }

    #[test]
    fn reviews_read_into_the_typed_model() {
        use crate::admission::Subject;
        let request = r#""uid": "u", "kind": {"version": "v1", "kind": "Pod"}, "operation": "CREATE""#;
        let subject = |body: &str| match Review::parse(body.as_bytes()) {
            Ok(Ok(review)) => match review.subject(Mode::Enforce) {
                Subject::Skipped => "skipped".to_owned(),
                Subject::Unreadable(m) => format!("unreadable: {m}"),
                Subject::Malformed(m) => format!("malformed: {m}"),
                Subject::Workload { new, old } => format!("{} {}", new.describe(), old.is_some()),
            },
            Ok(Err(answer)) => format!("answered {}", answer.verdict.as_str()),
            Err(e) => format!("400 {e}"),
        };
        let object = workload(
            "apps/v1",
            "Deployment",
            pod_spec(json!([env("P", "db", "password")])),
        );
        assert_eq!(
            subject(&review("UPDATE", &object, Some(&object)).to_string()),
            "Deployment prod/api true"
        );
        assert_eq!(subject(r#"{"request": null}"#), "answered invalid");
        assert_eq!(subject(r#"{"kind": "AdmissionReview"}"#), "answered invalid");
        let no_object = format!(r#"{{"request": {{{request}, "name": null, "object": null}}}}"#);
        assert!(
            subject(&no_object).ends_with("the request has no object"),
            "{}",
            subject(&no_object)
        );
        let text = format!(r#"{{"request": {{{request}, "name": "aé", "object": "text"}}}}"#);
        assert!(
            subject(&text).contains("it is a string, not a JSON object"),
            "{}",
            subject(&text)
        );
        // A repeated field of the object: the deserialization error, not the review refused.
        let repeated = format!(r#"{{"request": {{{request}, "object": {{"kind": "Pod", "kind": "Pod"}}}}}}"#);
        assert!(
            subject(&repeated).contains("unreadable: "),
            "{}",
            subject(&repeated)
        );
        assert!(
            subject(&repeated).contains("duplicate field `kind`"),
            "{}",
            subject(&repeated)
        );
        // A repeated field of the review, or a review cut short: not an AdmissionReview.
        let twice = format!(r#"{{"request": {{{request}, "uid": "v"}}}}"#);
        assert!(subject(&twice).starts_with("400 "), "{}", subject(&twice));
        assert!(subject("{\"request\": ").starts_with("400 "));
    }

    async fn decide(state: AppState, operation: &str, object: &Value, old: Option<&Value>) -> Value {
        let (status, v, text) = post(state, review(operation, object, old).to_string()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(v["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
        v["response"].clone()
    }

    fn message(r: &Value) -> &str {
        r["status"]["message"].as_str().unwrap_or("")
    }

    #[tokio::test]
    async fn every_kind_is_checked() {
        for (api, kind) in [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("apps/v1", "ReplicaSet"),
            ("batch/v1", "Job"),
            ("batch/v1", "CronJob"),
            ("v1", "Pod"),
        ] {
            let obj = workload(
                api,
                kind,
                pod_spec(json!([env("DB_PASSWORD", "db-creds", "password")])),
            );
            let r = decide(
                state(vec![secret("prod", "db-creds", &["user"])]),
                "CREATE",
                &obj,
                None,
            )
            .await;
            assert_eq!(r["allowed"], false, "{kind}");
            let path = refs_path(kind);
            assert_eq!(
                message(&r),
                format!(
                    "{kind} prod/api: Secret \"db-creds\" has no key \"password\" (it has keys \"user\") ({path}.containers[api].env[DB_PASSWORD])"
                ),
            );
            let ok = decide(
                state(vec![secret("prod", "db-creds", &["password"])]),
                "CREATE",
                &obj,
                None,
            )
            .await;
            assert_eq!(ok["allowed"], true, "{kind}");
            assert!(ok.get("warnings").is_none());
        }
    }

    fn refs_path(kind: &str) -> &'static str {
        match kind {
            "Pod" => "spec",
            "CronJob" => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }

    #[tokio::test]
    async fn every_reference_form_one_line_each() {
        let spec = json!({
            "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
            "containers": [{"name": "api", "env": [env("A", "gone", "k")]}],
            "ephemeralContainers": [{"name": "dbg", "env": [env("B", "dbg", "k")]}],
            "volumes": [
                {"name": "certs", "secret": {"secretName": "tls"}},
                {"name": "proj", "projected": {"sources": [{"secret": {"name": "p", "items": [{"key": "a", "path": "a"}]}}]}}
            ],
            "imagePullSecrets": [{"name": "regcred"}]
        });
        let r = decide(
            state(vec![]),
            "CREATE",
            &workload("apps/v1", "Deployment", spec),
            None,
        )
        .await;
        assert_eq!(r["allowed"], false);
        let lines: Vec<&str> = message(&r).lines().collect();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines.contains(&"Deployment prod/api: Secret \"tls\" not found and no SealedSecret provides it (spec.template.spec.volumes[certs])"), "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("init-env") && l.contains("initContainers[init].envFrom[0]"))
        );
        assert!(lines.iter().any(|l| l.contains("ephemeralContainers[dbg]")));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("volumes[proj].projected.sources[0].secret"))
        );
        let warnings = r["warnings"].as_array().unwrap();
        assert!(
            warnings[0]
                .as_str()
                .unwrap()
                .contains("image pull Secret \"regcred\""),
            "{warnings:?}"
        );
    }

    #[tokio::test]
    async fn update_blocks_only_what_it_introduces() {
        let old = workload("apps/v1", "Deployment", pod_spec(json!([env("A", "gone", "k")])));
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(5);
        let r = decide(state(vec![]), "UPDATE", &scaled, Some(&old)).await;
        assert_eq!(
            r["allowed"], true,
            "scaling an already broken Deployment is never blocked"
        );
        let w = r["warnings"][0].as_str().unwrap();
        assert!(
            w.contains("Secret \"gone\" not found") && w.contains("already broken"),
            "{w}"
        );

        let new = workload(
            "apps/v1",
            "Deployment",
            pod_spec(json!([env("A", "gone", "k"), env("B", "also-gone", "k")])),
        );
        let r = decide(state(vec![]), "UPDATE", &new, Some(&old)).await;
        assert_eq!(r["allowed"], false);
        assert!(
            message(&r).contains("also-gone") && !message(&r).contains("\"gone\""),
            "{}",
            message(&r)
        );
    }

    #[tokio::test]
    async fn modes_and_exemptions() {
        let obj = workload("apps/v1", "Deployment", pod_spec(json!([env("A", "gone", "k")])));
        let r = decide(
            state_with(vec![], &[("prod", "warn")], Mode::Enforce, None),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!(r["allowed"], true);
        assert!(r["warnings"][0].as_str().unwrap().contains("warn mode"));
        let r = decide(
            state_with(vec![], &[("prod", "off")], Mode::Enforce, None),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!((r["allowed"].as_bool(), r.get("warnings")), (Some(true), None));
        let r = decide(state_with(vec![], &[], Mode::Warn, None), "CREATE", &obj, None).await;
        assert_eq!(r["allowed"], true, "default mode warn");
        let r = decide(
            state_with(vec![], &[("prod", "bogus")], Mode::Enforce, None),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!(
            r["allowed"], false,
            "an invalid label falls back to the default mode"
        );

        let mut exempt = obj.clone();
        exempt["metadata"]["annotations"] =
            json!({"sealgate.dev/exempt": "secret created by the migration job"});
        let r = decide(state(vec![]), "CREATE", &exempt, None).await;
        assert_eq!(r["allowed"], true);
        assert!(
            r["warnings"][0]
                .as_str()
                .unwrap()
                .contains("exempt from sealgate's Secret check: secret created by the migration job")
        );
    }

    #[tokio::test]
    async fn optional_and_provider_cases() {
        let optional = workload(
            "v1",
            "Pod",
            pod_spec(
                json!([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": true}}}]),
            ),
        );
        assert_eq!(
            decide(state(vec![]), "CREATE", &optional, None).await["allowed"],
            true
        );

        let obj = workload("v1", "Pod", pod_spec(json!([env("P", "db", "password")])));
        for ready in [None, Some(("True", "ok"))] {
            let r = decide(
                state(vec![sealed("prod", "db", &["password"], ready)]),
                "CREATE",
                &obj,
                None,
            )
            .await;
            assert_eq!(r["allowed"], true, "{ready:?}");
        }
        let failing = sealed(
            "prod",
            "db",
            &["password"],
            Some(("False", "key \"password\": not sealed to any key in this keyring")),
        );
        let r = decide(state(vec![failing]), "CREATE", &obj, None).await;
        assert_eq!(r["allowed"], false);
        assert!(
            message(&r).contains("SealedSecret prod/db") && message(&r).contains("not sealed to any key"),
            "{}",
            message(&r)
        );

        let other_ns = decide(
            state(vec![secret("dev", "db", &["password"])]),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!(
            other_ns["allowed"], false,
            "a Secret in another namespace does not count"
        );
    }

    #[tokio::test]
    async fn reviews_beyond_the_limit_wait_their_turn() {
        // The first review waits in its key read until released; with one review in
        // flight allowed, the second waits for it.
        let release = Arc::new(tokio::sync::Notify::new());
        let waiting = release.clone();
        let reader: KeyReader = Arc::new(move |_, _| {
            let waiting = waiting.clone();
            Box::pin(async move {
                waiting.notified().await;
                Some(BTreeSet::from(["password".to_owned()]))
            })
        });
        let legacy = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "legacy", "namespace": "prod"}});
        let slow = workload("v1", "Pod", pod_spec(json!([env("P", "legacy", "password")])));
        let quick = workload("v1", "Pod", pod_spec(json!([])));
        let app = router(
            state_with(vec![legacy], &[], Mode::Enforce, Some(reader)),
            Limits::in_flight(1),
        );
        let send = |object: &Value| {
            let req = Request::builder()
                .method("POST")
                .uri("/validate")
                .body(Body::from(review("CREATE", object, None).to_string()))
                .unwrap();
            tokio::spawn(app.clone().oneshot(req))
        };
        let first = send(&slow);
        tokio::task::yield_now().await;
        let mut second = send(&quick);
        let short = Duration::from_millis(200);
        assert!(
            tokio::time::timeout(short, &mut second).await.is_err(),
            "the second review waits while the first holds the only turn"
        );
        release.notify_one();
        let first = first.await.unwrap().unwrap();
        let second = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            (first.status(), second.status()),
            (StatusCode::OK, StatusCode::OK)
        );
    }

    #[tokio::test]
    async fn bodies_held_at_once_are_bounded_and_a_slow_body_holds_no_turn() {
        // One turn and 2000 bytes of bodies at once; a slow client has sent 1900 of its 2000.
        let app = router(
            state(vec![]),
            Limits {
                max_body: 2000,
                max_in_flight: 1,
                body_deadline: Duration::from_millis(300),
            },
        );
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let slow = Request::builder()
            .method("POST")
            .uri("/validate")
            .body(Body::from_stream(rx))
            .unwrap();
        let slow = tokio::spawn(app.clone().oneshot(slow));
        futures::SinkExt::send(&mut tx, Ok(Bytes::from(vec![b' '; 1900])))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let body = review("CREATE", &workload("v1", "Pod", pod_spec(json!([]))), None).to_string();
        let started = Instant::now();
        let quick = Request::builder()
            .method("POST")
            .uri("/validate")
            .body(Body::from(body))
            .unwrap();
        let answer = app.clone().oneshot(quick).await.unwrap();
        let waited = started.elapsed();
        assert_eq!(answer.status(), StatusCode::OK);
        // Its bytes were there only once the slow body had run out of time.
        assert!(waited >= Duration::from_millis(200), "answered after {waited:?}");
        assert_eq!(slow.await.unwrap().unwrap().status(), StatusCode::REQUEST_TIMEOUT);
        // With the budget free, a body that takes the only turn's place is read at once.
        let small = review("CREATE", &workload("v1", "Pod", pod_spec(json!([]))), None).to_string();
        let started = Instant::now();
        let answer = app
            .oneshot(
                Request::builder()
                    .method("POST")
                    .uri("/validate")
                    .body(Body::from(small))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(started.elapsed() < Duration::from_millis(200));
        drop(tx);
    }

    #[tokio::test]
    async fn unknown_keys_are_read_from_the_one_secret() {
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = reads.clone();
        let reader: KeyReader = Arc::new(move |ns, name| {
            counted.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                (ns == "prod" && name == "legacy").then(|| BTreeSet::from(["user".to_owned()]))
            })
        });
        let whole = workload(
            "v1",
            "Pod",
            json!({"containers": [{"name": "a", "envFrom": [{"secretRef": {"name": "legacy"}}]}]}),
        );
        let legacy_only = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "legacy", "namespace": "prod"}});
        let state = state_with(vec![legacy_only], &[], Mode::Enforce, Some(reader.clone()));
        assert_eq!(decide(state, "CREATE", &whole, None).await["allowed"], true);
        assert_eq!(
            reads.load(Ordering::Relaxed),
            0,
            "a whole-Secret reference needs no key names"
        );
        let legacy = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "legacy", "namespace": "prod"}});
        let obj = workload("v1", "Pod", pod_spec(json!([env("P", "legacy", "password")])));
        let r = decide(
            state_with(vec![legacy.clone()], &[], Mode::Enforce, Some(reader)),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!(r["allowed"], false);
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        assert!(message(&r).contains("has no key \"password\""), "{}", message(&r));
        let r = decide(
            state_with(vec![legacy], &[], Mode::Enforce, None),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!(r["allowed"], true, "without the read, unknown keys are admitted");
        assert!(r["warnings"][0].as_str().unwrap().contains("not known"));
    }

    #[tokio::test]
    async fn read_secrets_false_never_asks_the_api_for_a_secret() {
        // The API: every request is counted; the one Secret has the key "user" only.
        let (service, mut handle) =
            tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
        let client = kube::Client::new(service, "default");
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = asked.clone();
        let api = tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                seen.lock()
                    .unwrap()
                    .push(format!("{} {}", request.method(), request.uri().path()));
                let secret = json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "legacy", "namespace": "prod"}, "data": {"user": "c2VjcmV0"}});
                send.send_response(
                    http::Response::builder()
                        .body(kube::client::Body::from(serde_json::to_vec(&secret).unwrap()))
                        .unwrap(),
                );
            }
        });
        let legacy = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "legacy", "namespace": "prod"}});
        let obj = workload("v1", "Pod", pod_spec(json!([env("P", "legacy", "password")])));

        let reading = crate::cache::key_reader(client.clone(), true);
        let r = decide(
            state_with(vec![legacy.clone()], &[], Mode::Enforce, reading),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!(r["allowed"], false);
        assert!(
            message(&r).contains(r#"has no key "password""#),
            "{}",
            message(&r)
        );
        assert_eq!(
            *asked.lock().unwrap(),
            ["GET /api/v1/namespaces/prod/secrets/legacy"]
        );

        asked.lock().unwrap().clear();
        let not_reading = crate::cache::key_reader(client, false);
        assert!(not_reading.is_none());
        let r = decide(
            state_with(vec![legacy], &[], Mode::Enforce, not_reading),
            "CREATE",
            &obj,
            None,
        )
        .await;
        assert_eq!(r["allowed"], true, "a key of an unstamped Secret gets a note");
        assert_eq!(
            r["warnings"][0],
            r#"Pod prod/api: Secret "legacy" exists but its keys are not known; key "password" is assumed (spec.containers[api].env[P])"#
        );
        assert!(asked.lock().unwrap().is_empty(), "{:?}", asked.lock().unwrap());
        // The controller's stamp still gives key-level checks.
        let stamped = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "legacy", "namespace": "prod",
            "annotations": {"sealgate.dev/keys": "user"}}});
        let mut inventory = MemoryInventory::new();
        inventory.add_object(&stamped, "default");
        let s = AppState {
            live: Arc::new(StaticLive {
                inventory,
                ..StaticLive::default()
            }),
            ..state_with(vec![], &[], Mode::Enforce, None)
        };
        let r = decide(s, "CREATE", &obj, None).await;
        assert_eq!(r["allowed"], false);
        assert!(
            message(&r).contains(r#"has no key "password""#),
            "{}",
            message(&r)
        );
        assert!(asked.lock().unwrap().is_empty());
        api.abort();
    }

    #[tokio::test]
    async fn other_kinds_operations_and_dry_run() {
        let cm =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "prod"}});
        assert_eq!(decide(state(vec![]), "CREATE", &cm, None).await["allowed"], true);
        let obj = workload("apps/v1", "Deployment", pod_spec(json!([env("A", "gone", "k")])));
        assert_eq!(decide(state(vec![]), "DELETE", &obj, None).await["allowed"], true);
        let mut body = review("CREATE", &obj, None);
        body["request"]["dryRun"] = json!(true);
        let (_, v, _) = post(state(vec![]), body.to_string()).await;
        assert_eq!(v["response"]["allowed"], false, "dry runs get the same answer");
    }

    #[tokio::test]
    async fn bad_input_never_panics() {
        let (status, _, text) = post(state(vec![]), "{not json".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("not an AdmissionReview"), "{text}");
        let (status, v, _) = post(
            state(vec![]),
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["response"]["allowed"], false);
        assert!(
            v["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .contains("no request")
        );
        let broken = workload("apps/v1", "Deployment", json!({"containers": "not a list"}));
        let r = decide(state(vec![]), "CREATE", &broken, None).await;
        assert_eq!(r["allowed"], false);
        assert!(
            message(&r).contains("not a valid Deployment")
                && message(&r).contains("containers: is not a list"),
            "{}",
            message(&r)
        );
        let (status, _, _) = post(state(vec![]), "x".repeat(MAX_BODY + 1)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let not_utf8 = Review::parse(b"{\"request\": \"\xff\"}")
            .err()
            .map(|e| e.to_string());
        assert!(not_utf8.is_some_and(|e| e.contains("not UTF-8")));
    }

    #[tokio::test]
    async fn a_repeated_key_in_the_object_is_the_deserialization_error() {
        // Which of two `containers` counts is not for the webhook to guess: the object
        // does not read into the model, and that is the answer (the API server never
        // sends such an object).
        let first = r#"{"name": "a", "envFrom": [{"secretRef": {"name": "present"}}]}"#;
        let last = r#"{"name": "a", "envFrom": [{"secretRef": {"name": "gone"}}]}"#;
        let body = format!(
            r#"{{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {{
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {{"group": "", "version": "v1", "kind": "Pod"}}, "namespace": "prod", "operation": "CREATE",
                "object": {{"metadata": {{"name": "p"}}, "spec": {{"containers": [{first}], "containers": [{last}]}}}}}}}}"#
        );
        let present = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "present", "namespace": "prod"}});
        let (status, v, text) = post(state(vec![present]), body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(v["response"]["allowed"], false, "{text}");
        assert!(
            message(&v["response"]).contains(
                "could not be read, so its Secrets cannot be checked: duplicate field `containers`"
            ),
            "{text}"
        );
    }

    /// A review of a Deployment in prod with `object` as given (`None`: no object field).
    fn raw_review(object: Option<&str>) -> String {
        let object = object.map_or(String::new(), |o| format!(r#", "object": {o}"#));
        format!(
            r#"{{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {{
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {{"group": "apps", "version": "v1", "kind": "Deployment"}},
                "name": "api", "namespace": "prod", "operation": "CREATE"{object}}}}}"#
        )
    }

    #[tokio::test]
    async fn an_object_that_cannot_be_read_is_denied_in_enforce_mode_and_warned_in_warn_mode() {
        let spec = r#""spec": {"template": {"spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "gone"}}]}]}}}"#;
        let other_kind =
            format!(r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "api"}}, {spec}}}"#);
        let odd_kind =
            format!(r#"{{"apiVersion": "apps/v1", "kind": 5, "metadata": {{"name": "api"}}, {spec}}}"#);
        // The type after the spec is read as well as before it.
        let type_last = format!(r#"{{{spec}, "apiVersion": "v1", "kind": "ConfigMap"}}"#);
        // A repeated key: serde's view refuses it, the text is read as a map (last wins).
        let repeated =
            format!(r#"{{"apiVersion": "apps/v1", "kind": "Deployment", "kind": "ConfigMap", {spec}}}"#);
        let not_a_list = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": "x"}}}}"#;
        let as_list = |object: &str| {
            // A review as a list is read by serde (its one field in order).
            let review = raw_review(Some(object));
            let request = &review[review.find(r#""request": "#).unwrap() + 11..review.len() - 1];
            format!("[{request}]")
        };
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "a number",
                raw_review(Some("5")),
                "it is a number, not a JSON object",
            ),
            (
                "a string",
                raw_review(Some(r#""x""#)),
                "it is a string, not a JSON object",
            ),
            (
                "a list",
                raw_review(Some("[]")),
                "it is a list, not a JSON object",
            ),
            (
                "a boolean",
                raw_review(Some("true")),
                "it is a boolean, not a JSON object",
            ),
            ("null", raw_review(Some("null")), "the request has no object"),
            (
                "no object on CREATE",
                raw_review(None),
                "the request has no object",
            ),
            ("read by serde", as_list("5"), "it is a number, not a JSON object"),
            (
                "another kind",
                raw_review(Some(&other_kind)),
                r#"its apiVersion ("v1") and kind ("ConfigMap") are not those of the request (apps/v1 Deployment)"#,
            ),
            (
                "a kind that is not text",
                raw_review(Some(&odd_kind)),
                r#"its apiVersion ("apps/v1") and kind (a number) are not those"#,
            ),
            (
                "the type after the spec",
                raw_review(Some(&type_last)),
                r#"kind ("ConfigMap") are not those"#,
            ),
            (
                "a repeated key: the deserialization error",
                raw_review(Some(&repeated)),
                "duplicate field `kind`",
            ),
            (
                "a pod spec of the wrong shape",
                raw_review(Some(not_a_list)),
                "not a valid Deployment: spec.template.spec.containers: is not a list",
            ),
        ];
        for (what, body, why) in &cases {
            let enforce = state(vec![]);
            let (status, v, text) = post(enforce.clone(), body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{what}: {text}");
            let r = &v["response"];
            assert_eq!(r["allowed"], false, "{what}: {text}");
            let denial = message(r);
            assert!(
                denial.starts_with("Deployment prod/api: the object could not be read")
                    && denial.contains(why),
                "{what}: {denial}"
            );
            let metrics = enforce.metrics.render();
            assert!(
                metrics.contains(r#"kind="Deployment",operation="CREATE",verdict="unreadable"} 1"#),
                "{what}: {metrics}"
            );

            let warn = state_with(vec![], &[], Mode::Warn, None);
            let (status, v, text) = post(warn.clone(), body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{what}: {text}");
            let r = &v["response"];
            assert_eq!(r["allowed"], true, "{what}: {text}");
            let warning = r["warnings"][0].as_str().unwrap_or("");
            assert!(
                warning.contains("the object could not be read")
                    && warning.contains(why)
                    && warning.ends_with("[admitted: namespace in warn mode]"),
                "{what}: {warning}"
            );
            assert!(
                warn.metrics.render().contains(r#"verdict="unreadable"} 1"#),
                "{what}"
            );
        }
        // Not checked: DELETE, kinds sealgate does not check, and mode off.
        let delete = raw_review(Some("5")).replace(r#""CREATE""#, r#""DELETE""#);
        let configmap = raw_review(Some("5")).replace(
            r#""group": "apps", "version": "v1", "kind": "Deployment""#,
            r#""group": "", "version": "v1", "kind": "ConfigMap""#,
        );
        for body in [delete, configmap] {
            let (_, v, text) = post(state(vec![]), body).await;
            assert_eq!(v["response"]["allowed"], true, "{text}");
        }
        let off = state_with(vec![], &[("prod", "off")], Mode::Enforce, None);
        let (_, v, _) = post(off, raw_review(Some("5"))).await;
        assert_eq!(v["response"]["allowed"], true);
    }

    #[tokio::test]
    async fn malformed_reviews_are_refused_whatever_the_mode() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let forms = [
            ("a lone surrogate escape", r#""\ud800""#.to_owned()),
            ("a number out of range", "1e400".to_owned()),
            ("nesting 3000 deep", deep(3000)),
        ];
        for (what, value) in &forms {
            for mode in [Mode::Enforce, Mode::Warn] {
                // In a field of the review that is read: not an AdmissionReview (400), as before.
                let body = raw_review(Some(r#"{"kind": "Deployment"}"#)).replace(
                    r#""uid": "705ab4f5-6393-11e8-b7cc-42010a800002""#,
                    &format!(r#""uid": {value}"#),
                );
                let (status, _, text) = post(state_with(vec![], &[], mode, None), body).await;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{what} in the review, {mode:?}: {text}"
                );
                // In the object: text serde_json cannot read is refused in every mode;
                // JSON nested deeper than the walk reads is an unreadable pod spec.
                let object = format!(
                    r#"{{"kind": "Deployment", "spec": {{"template": {{"spec": {{"containers": {value}}}}}}}}}"#
                );
                let (status, v, text) =
                    post(state_with(vec![], &[], mode, None), raw_review(Some(&object))).await;
                assert_eq!(status, StatusCode::OK, "{text}");
                let r = &v["response"];
                let said = format!("{}{}", message(r), r["warnings"][0].as_str().unwrap_or(""));
                assert!(said.contains("the object could not be read"), "{what}: {text}");
                let admitted = r["allowed"] == true;
                if what.starts_with("nesting") {
                    assert_eq!(admitted, mode == Mode::Warn, "{what}, {mode:?}: {text}");
                    assert!(said.contains("containers[0]: must be a mapping"), "{said}");
                } else {
                    assert!(!admitted, "{what}, {mode:?}: {text}");
                    assert!(said.contains("it is not JSON that can be read"), "{said}");
                }
            }
        }
    }

    #[tokio::test]
    async fn readiness_and_metrics() {
        let s = state(vec![]);
        let obj = workload("apps/v1", "Deployment", pod_spec(json!([env("A", "gone", "k")])));
        decide(s.clone(), "CREATE", &obj, None).await;
        let req = Request::builder().uri("/metrics").body(Body::empty()).unwrap();
        let resp = router(s.clone(), Limits::in_flight(8))
            .oneshot(req)
            .await
            .unwrap();
        let text =
            String::from_utf8_lossy(&axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap())
                .into_owned();
        assert!(text.contains("sealgate_webhook_requests_total{kind=\"Deployment\",operation=\"CREATE\",verdict=\"denied\"} 1"), "{text}");
        assert!(text.contains("sealgate_webhook_request_duration_seconds_count 1"));
        s.ready.store(false, Ordering::Relaxed);
        let req = Request::builder().uri("/readyz").body(Body::empty()).unwrap();
        assert_eq!(
            router(s, Limits::in_flight(8))
                .oneshot(req)
                .await
                .unwrap()
                .status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
