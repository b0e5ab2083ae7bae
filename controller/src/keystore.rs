//! The controller's age keys, kept as Secrets in its own namespace and labelled
//! `sealgate.dev/sealing-key`: `active` keys unseal (the newest also seals),
//! `compromised` ones are ignored. Keys are generated on first start and on
//! rotation, picked up when an operator adds one, and never deleted.

use std::collections::BTreeMap;
use std::sync::RwLock;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use sealgate_core::{Identity, Keyring, Recipient, names};

/// Data key holding the `AGE-SECRET-KEY-1…` string in a key Secret.
pub const KEY_DATA: &str = "age.key";
/// Annotation on a key Secret with its public recipient (for operators).
pub const ANNOTATION_RECIPIENT: &str = "sealgate.dev/recipient";

/// One usable key and when it was created.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// Name of the Secret holding it.
    pub secret: String,
    /// Its creation time; the newest seals.
    pub created: Timestamp,
    /// The key.
    pub identity: Identity,
}

/// The keys in force, shared by the reconcile loop and the HTTP endpoints.
#[derive(Debug, Default)]
pub struct KeyStore {
    keys: RwLock<Vec<StoredKey>>,
    recovery: Vec<Recipient>,
}

impl KeyStore {
    /// An empty store publishing `recovery` recipients beside the active key.
    pub fn new(recovery: Vec<Recipient>) -> Self {
        KeyStore {
            keys: RwLock::default(),
            recovery,
        }
    }

    /// Replaces the keys (newest last).
    pub fn set(&self, mut keys: Vec<StoredKey>) {
        keys.sort_by_key(|k| k.created);
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
    }

    /// Every active key, for unsealing.
    pub fn keyring(&self) -> Keyring {
        let keys = self.keys.read().map(|k| k.clone()).unwrap_or_default();
        Keyring::from(keys.into_iter().rev().map(|k| k.identity).collect::<Vec<_>>())
    }

    /// The newest key, which seals.
    pub fn newest(&self) -> Option<StoredKey> {
        self.keys.read().ok()?.last().cloned()
    }

    /// What sealing uses: the newest key's recipient first, then the recovery recipients.
    pub fn recipients(&self) -> Vec<Recipient> {
        let mut out: Vec<Recipient> = self
            .newest()
            .map(|k| k.identity.recipient())
            .into_iter()
            .collect();
        for r in &self.recovery {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }
}

/// Why the keys could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The API call failed.
    #[error("key Secrets in namespace {namespace:?}: {source}")]
    Api {
        /// The controller's namespace.
        namespace: String,
        /// The error.
        source: kube::Error,
    },
}

/// Reads every active key Secret in `namespace`. Compromised keys are skipped;
/// a key Secret that does not hold a valid identity is skipped and named in the log.
pub async fn load(api: &Api<Secret>, namespace: &str) -> Result<Vec<StoredKey>, KeyStoreError> {
    let lp = ListParams::default().labels(&format!(
        "{}={}",
        names::LABEL_SEALING_KEY,
        names::KEY_STATE_ACTIVE
    ));
    let list = api.list(&lp).await.map_err(|source| KeyStoreError::Api {
        namespace: namespace.to_owned(),
        source,
    })?;
    let mut keys = Vec::new();
    for secret in list.items {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let text = secret
            .data
            .as_ref()
            .and_then(|d| d.get(KEY_DATA))
            .map(|b| b.0.clone())
            .unwrap_or_default();
        let identity = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.parse::<Identity>().ok());
        let Some(identity) = identity else {
            tracing::warn!(secret = %name, "key Secret has no valid {KEY_DATA}; ignored");
            continue;
        };
        let created = secret
            .metadata
            .creation_timestamp
            .map(|t| t.0)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        keys.push(StoredKey {
            secret: name,
            created,
            identity,
        });
    }
    keys.sort_by_key(|k| k.created);
    Ok(keys)
}

/// Whether a new key is due: none yet, or the newest is older than `period` (zero disables rotation).
pub fn rotation_due(keys: &[StoredKey], period: std::time::Duration, now: Timestamp) -> bool {
    let Some(newest) = keys.iter().map(|k| k.created).max() else {
        return true;
    };
    if period.is_zero() {
        return false;
    }
    let age = now.duration_since(newest);
    age.is_positive() && age.unsigned_abs() >= period
}

/// Creates a new key Secret and returns its name. Never deletes or replaces one.
pub async fn create_key(api: &Api<Secret>, namespace: &str) -> Result<String, KeyStoreError> {
    let identity = Identity::generate();
    let secret = Secret {
        metadata: ObjectMeta {
            generate_name: Some("sealgate-key-".to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                names::LABEL_SEALING_KEY.to_owned(),
                names::KEY_STATE_ACTIVE.to_owned(),
            )])),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_RECIPIENT.to_owned(),
                identity.recipient().to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            KEY_DATA.to_owned(),
            ByteString(identity.to_secret_string().as_bytes().to_vec()),
        )])),
        ..Secret::default()
    };
    let created = api
        .create(&PostParams::default(), &secret)
        .await
        .map_err(|source| KeyStoreError::Api {
            namespace: namespace.to_owned(),
            source,
        })?;
    Ok(created.metadata.name.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(created: &str) -> StoredKey {
        StoredKey {
            secret: created.into(),
            created: created.parse().unwrap(),
            identity: Identity::generate(),
        }
    }

    #[test]
    fn rotation_schedule() {
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let month = Duration::from_secs(30 * 24 * 3600);
        assert!(rotation_due(&[], month, now), "first start");
        assert!(
            rotation_due(&[], Duration::ZERO, now),
            "a first key even with rotation off"
        );
        assert!(!rotation_due(&[key("2026-02-15T00:00:00Z")], month, now));
        assert!(rotation_due(&[key("2026-01-01T00:00:00Z")], month, now));
        assert!(!rotation_due(&[key("2026-01-01T00:00:00Z")], Duration::ZERO, now));
    }

    #[tokio::test]
    async fn loads_active_keys_and_creates_without_deleting() {
        use http::{Request, Response};
        use kube::client::Body;
        let existing = Identity::generate();
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "default");
        let calls = std::sync::Arc::new(std::sync::Mutex::new(
            Vec::<(String, String, serde_json::Value)>::new(),
        ));
        let recorded = calls.clone();
        let key_b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(existing.to_secret_string().as_bytes())
        };
        let server = tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let body: serde_json::Value =
                    serde_json::from_slice(&body.collect_bytes().await.unwrap_or_default())
                        .unwrap_or_default();
                recorded.lock().unwrap().push((
                    parts.method.to_string(),
                    parts.uri.to_string(),
                    body.clone(),
                ));
                let reply = if parts.method == http::Method::GET {
                    serde_json::json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": [
                        {"metadata": {"name": "sealgate-key-a", "namespace": "sealgate", "creationTimestamp": "2026-01-01T00:00:00Z"}, "data": {"age.key": key_b64}},
                        {"metadata": {"name": "sealgate-key-broken", "namespace": "sealgate", "creationTimestamp": "2026-02-01T00:00:00Z"}, "data": {"age.key": "bm9wZQ=="}}
                    ]})
                } else {
                    let mut created = body;
                    created["metadata"]["name"] = serde_json::json!("sealgate-key-new");
                    created
                };
                send.send_response(
                    Response::builder()
                        .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                        .unwrap(),
                );
            }
        });
        let api: Api<Secret> = Api::namespaced(client, "sealgate");
        let keys = load(&api, "sealgate").await.unwrap();
        assert_eq!(keys.len(), 1, "the broken key Secret is skipped");
        assert_eq!(keys[0].identity.recipient(), existing.recipient());
        assert_eq!(create_key(&api, "sealgate").await.unwrap(), "sealgate-key-new");
        server.abort();
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert!(
            calls[0]
                .1
                .contains("labelSelector=sealgate.dev%2Fsealing-key%3Dactive"),
            "{}",
            calls[0].1
        );
        assert_eq!(calls[1].0, "POST");
        let created = &calls[1].2;
        assert_eq!(
            created["metadata"]["labels"]["sealgate.dev/sealing-key"],
            "active"
        );
        assert!(created["data"]["age.key"].is_string());
        assert!(
            calls.iter().all(|(m, _, _)| m != "DELETE" && m != "PUT"),
            "keys are never deleted or replaced"
        );
    }

    #[test]
    fn newest_seals_all_unseal_recovery_published() {
        let recovery = Identity::generate().recipient();
        let store = KeyStore::new(vec![recovery.clone()]);
        let old = key("2026-01-01T00:00:00Z");
        let new = key("2026-02-01T00:00:00Z");
        store.set(vec![new.clone(), old.clone()]);
        assert_eq!(store.newest().unwrap().secret, new.secret);
        assert_eq!(store.recipients(), vec![new.identity.recipient(), recovery]);
        assert_eq!(store.keyring().identities().len(), 2);
    }
}
