//! The controller's HTTP endpoints, on one port:
//! `GET /v1/recipients`, `POST /v1/verify`, `POST /v1/rotate`, `/healthz`,
//! `/readyz`, `/metrics`. Bodies are size-limited; nothing in plaintext leaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sealgate_core::seal::{self, Binding, Location};
use sealgate_core::{RecipientSet, SealedSecret, names, sealed_from_manifest};
use serde_json::{Value, json};

use crate::keystore::KeyStore;
use crate::metrics::Metrics;

/// Largest request body accepted (a SealedSecret is at most about 2 MiB).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The keys.
    pub keys: Arc<KeyStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set once the keys are loaded (and, for the leader, the controller runs).
    pub ready: Arc<AtomicBool>,
}

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/recipients", get(recipients))
        .route("/v1/verify", post(verify))
        .route("/v1/rotate", post(rotate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn recipients(State(s): State<AppState>) -> Response {
    let list = s.keys.recipients();
    if list.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no sealing key yet\n").into_response();
    }
    let text: String = list.iter().map(|r| format!("{r}\n")).collect();
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "keys not loaded yet\n").into_response()
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

/// The one SealedSecret in a request body, or what is wrong with it.
fn parse_sealed(body: &[u8]) -> Result<SealedSecret, String> {
    let docs = sealgate_core::manifest::parse_documents(body).map_err(|e| format!("body: {e}"))?;
    let [doc] = docs.as_slice() else {
        return Err(format!(
            "body: expected one SealedSecret, found {} documents",
            docs.len()
        ));
    };
    let sealed = sealed_from_manifest(&doc.value).map_err(|e| format!("body: {e}"))?;
    if sealed.metadata.namespace.as_deref().unwrap_or("").is_empty() {
        return Err("body: metadata.namespace is required".to_owned());
    }
    Ok(sealed)
}

/// Can this SealedSecret be unsealed here? Per key: ok, or why not. No values.
async fn verify(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    let sealed = match parse_sealed(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    let keyring = s.keys.keyring();
    let namespace = sealed.metadata.namespace.clone().unwrap_or_default();
    let name = sealed.metadata.name.clone().unwrap_or_default();
    let mut keys = serde_json::Map::new();
    let mut ok = true;
    for (key, text) in &sealed.spec.encrypted_data {
        let at = Location {
            namespace: &namespace,
            name: &name,
            key,
        };
        let result = match seal::unseal_value(&keyring, at, text) {
            Ok(_) => json!({"ok": true}),
            Err(e) => {
                ok = false;
                json!({"ok": false, "reason": e.reason(), "message": e.to_string()})
            }
        };
        keys.insert(key.clone(), result);
    }
    Json(json!({"ok": ok, "keys": keys})).into_response()
}

/// Re-seals every value of the posted SealedSecret to the current recipients
/// (newest key and recovery recipients), keeping each value's binding.
async fn rotate(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    let mut sealed = match parse_sealed(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    let recipients = RecipientSet::from(s.keys.recipients());
    if recipients.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no sealing key yet\n").into_response();
    }
    let keyring = s.keys.keyring();
    let namespace = sealed.metadata.namespace.clone().unwrap_or_default();
    let name = sealed.metadata.name.clone().unwrap_or_default();
    let mut failures = Vec::new();
    for (key, text) in sealed.spec.encrypted_data.iter_mut() {
        let at = Location {
            namespace: &namespace,
            name: &name,
            key,
        };
        let resealed = seal::open_value(&keyring, text).and_then(|(binding, value)| {
            binding.check(at)?;
            Ok((binding, value))
        });
        match resealed {
            Ok((binding, value)) => match reseal(&recipients, &binding, value.expose()) {
                Ok(new) => *text = new,
                Err(e) => failures.push(json!({"key": key, "message": e})),
            },
            Err(e) => failures.push(json!({"key": key, "reason": e.reason(), "message": e.to_string()})),
        }
    }
    if !failures.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "some values cannot be unsealed here", "keys": failures})),
        )
            .into_response();
    }
    let annotations = sealed.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert(
        names::ANNOTATION_RECIPIENTS.to_owned(),
        recipients.fingerprint_annotation(),
    );
    sealed.status = None;
    let value: Value = serde_json::to_value(&sealed).unwrap_or_default();
    Json(value).into_response()
}

fn reseal(recipients: &RecipientSet, binding: &Binding, value: &[u8]) -> Result<String, String> {
    seal::seal_value(recipients, binding, value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::StoredKey;
    use axum::body::Body;
    use axum::http::Request;
    use sealgate_core::{Identity, Keyring, PlainSecret, Scope, SealOptions, SecretBytes, seal_secret};
    use tower::ServiceExt as _;

    fn state() -> (AppState, Identity) {
        let id = Identity::generate();
        let keys = Arc::new(KeyStore::new(vec![]));
        keys.set(vec![StoredKey {
            secret: "k".into(),
            created: "2026-01-01T00:00:00Z".parse().unwrap(),
            identity: id.clone(),
        }]);
        let state = AppState {
            keys,
            metrics: Arc::default(),
            ready: Arc::new(AtomicBool::new(true)),
        };
        (state, id)
    }

    fn sealed_yaml(to: &Identity, value: &str) -> String {
        let mut p = PlainSecret {
            name: "db".into(),
            namespace: Some("prod".into()),
            ..Default::default()
        };
        p.data
            .insert("password".into(), SecretBytes::copy_from(value.as_bytes()));
        let set = RecipientSet::from(vec![to.recipient()]);
        let sealed = seal_secret(
            &p,
            &SealOptions {
                recipients: &set,
                scope: Scope::Strict,
            },
        )
        .unwrap();
        sealgate_core::manifest::to_yaml(&[sealed]).unwrap()
    }

    async fn call(state: AppState, method: &str, uri: &str, body: String) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body))
            .unwrap();
        let resp = router(state).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn recipients_health_and_metrics() {
        let (state, id) = state();
        let (code, body) = call(state.clone(), "GET", "/v1/recipients", String::new()).await;
        assert_eq!((code, body), (StatusCode::OK, format!("{}\n", id.recipient())));
        assert_eq!(
            call(state.clone(), "GET", "/healthz", String::new()).await.0,
            StatusCode::OK
        );
        state.ready.store(false, Ordering::Relaxed);
        assert_eq!(
            call(state.clone(), "GET", "/readyz", String::new()).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let (_, text) = call(state, "GET", "/metrics", String::new()).await;
        assert!(text.contains("sealgate_keys"), "{text}");
    }

    #[tokio::test]
    async fn verify_says_per_key_without_values() {
        let (state, id) = state();
        let (code, body) = call(
            state.clone(),
            "POST",
            "/v1/verify",
            sealed_yaml(&id, "CANARY-http-1"),
        )
        .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["ok"], true);
        let stranger = Identity::generate();
        let (_, body) = call(
            state.clone(),
            "POST",
            "/v1/verify",
            sealed_yaml(&stranger, "CANARY-http-1"),
        )
        .await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["keys"]["password"]["reason"], "NoMatchingKey");
        assert!(!body.contains("CANARY"));
        let (code, body) = call(state.clone(), "POST", "/v1/verify", "kind: [".into()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        let (code, _) = call(state, "POST", "/v1/verify", "x".repeat(MAX_BODY + 1)).await;
        assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn rotate_reseals_to_the_newest_key() {
        let (state, old) = state();
        let new = Identity::generate();
        state.keys.set(vec![
            StoredKey {
                secret: "old".into(),
                created: "2026-01-01T00:00:00Z".parse().unwrap(),
                identity: old.clone(),
            },
            StoredKey {
                secret: "new".into(),
                created: "2026-02-01T00:00:00Z".parse().unwrap(),
                identity: new.clone(),
            },
        ]);
        let (code, body) = call(state, "POST", "/v1/rotate", sealed_yaml(&old, "CANARY-http-2")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        assert!(!body.contains("CANARY"));
        let v: Value = serde_json::from_str(&body).unwrap();
        let text = v["spec"]["encryptedData"]["password"].as_str().unwrap();
        let at = Location {
            namespace: "prod",
            name: "db",
            key: "password",
        };
        let only_new = Keyring::from(vec![new]);
        assert_eq!(
            seal::unseal_value(&only_new, at, text).unwrap().expose(),
            b"CANARY-http-2"
        );
        assert!(seal::unseal_value(&Keyring::from(vec![old]), at, text).is_err());
    }
}
