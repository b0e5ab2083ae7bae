//! The controller's age keys, kept as Secrets in its own namespace and labelled
//! `sealgate.dev/sealing-key`: `active` keys unseal, `compromised` ones are
//! ignored. A key sealgate creates carries its creation stamp
//! (`sealgate.dev/created-at`); the key with the newest stamp seals, and a key
//! without one only unseals. A Secret that a SealedSecret owns is never a key.
//! Keys are generated on first start and on rotation, picked up when an
//! operator adds one, and never deleted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::PartialObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use sealgate_core::{Identity, Keyring, Recipient, names};
use tokio::sync::watch;

use crate::desired::Wiped;
use crate::metrics::Metrics;

/// Data key holding the `AGE-SECRET-KEY-1…` string in a key Secret.
pub const KEY_DATA: &str = "age.key";
/// Annotation on a key Secret with its public recipient (for operators).
pub const ANNOTATION_RECIPIENT: &str = "sealgate.dev/recipient";

/// How often the key Secrets are re-read even without a watch event.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// A key sealgate created: it carries the creation stamp and may seal.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// Name of the Secret holding it.
    pub secret: String,
    /// Its creation stamp (`sealgate.dev/created-at`), not the Secret's
    /// `creationTimestamp`: a key restored from a backup keeps its old stamp.
    pub created: Timestamp,
    /// The key.
    pub identity: Identity,
}

/// A key Secret without the creation stamp (added by hand): it unseals, never seals.
#[derive(Clone, Debug)]
pub struct UnstampedKey {
    /// Name of the Secret holding it.
    pub secret: String,
    /// The key.
    pub identity: Identity,
}

/// Every usable key read from the key Secrets.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    /// Keys carrying sealgate's creation stamp.
    pub stamped: Vec<StoredKey>,
    /// Keys without one.
    pub unstamped: Vec<UnstampedKey>,
}

impl Keys {
    /// How many keys unseal.
    pub fn len(&self) -> usize {
        self.stamped.len() + self.unstamped.len()
    }

    /// The key that seals: the stamped key with the newest stamp (ties go to the
    /// later Secret name). Keys without a stamp never seal.
    pub fn sealing(&self) -> Option<&StoredKey> {
        self.stamped.iter().max_by(|a, b| by_stamp(a, b))
    }

    /// Names, recipients and stamps (never key material), to tell whether a reload changed anything.
    fn summary(&self) -> Vec<(&str, Recipient, Option<Timestamp>)> {
        let mut out: Vec<_> = self
            .stamped
            .iter()
            .map(|k| (k.secret.as_str(), k.identity.recipient(), Some(k.created)))
            .chain(
                self.unstamped
                    .iter()
                    .map(|k| (k.secret.as_str(), k.identity.recipient(), None)),
            )
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }
}

/// Oldest stamp first; equal stamps ordered by Secret name.
fn by_stamp(a: &StoredKey, b: &StoredKey) -> std::cmp::Ordering {
    a.created.cmp(&b.created).then_with(|| a.secret.cmp(&b.secret))
}

/// The keys in force, shared by the reconcile loop and the HTTP endpoints.
#[derive(Debug)]
pub struct KeyStore {
    keys: RwLock<Keys>,
    recovery: Vec<Recipient>,
    /// 0 until the first load; bumped by every load that changes the keys.
    generation: watch::Sender<u64>,
}

impl KeyStore {
    /// An empty store publishing `recovery` recipients beside the sealing key.
    pub fn new(recovery: Vec<Recipient>) -> Self {
        KeyStore {
            keys: RwLock::default(),
            recovery,
            generation: watch::Sender::new(0),
        }
    }

    /// Replaces the keys with stamped keys only.
    #[cfg(test)]
    pub fn set(&self, keys: Vec<StoredKey>) {
        self.replace(Keys {
            stamped: keys,
            unstamped: Vec::new(),
        });
    }

    /// Replaces the keys; returns whether they changed (the first load always does).
    pub fn replace(&self, mut keys: Keys) -> bool {
        keys.stamped.sort_by(by_stamp);
        keys.unstamped.sort_by(|a, b| a.secret.cmp(&b.secret));
        let changed = {
            let Ok(mut guard) = self.keys.write() else {
                return false;
            };
            let changed = *self.generation.borrow() == 0 || guard.summary() != keys.summary();
            *guard = keys;
            changed
        };
        if changed {
            self.generation.send_modify(|g| *g += 1);
        }
        changed
    }

    /// Resolves once the keys have been loaded at least once.
    pub async fn loaded(&self) {
        let mut generation = self.generation.subscribe();
        let _ = generation.wait_for(|g| *g > 0).await;
    }

    /// Yields each time the keys change after this call: a rotation, or a key
    /// added, restored or relabelled by an operator. Changes in quick
    /// succession may yield once.
    pub fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        futures::stream::unfold(self.generation.subscribe(), |mut generation| async move {
            generation.changed().await.ok()?;
            Some(((), generation))
        })
    }

    /// Every active key, for unsealing: stamped ones newest first, then unstamped ones.
    pub fn keyring(&self) -> Keyring {
        let Ok(keys) = self.keys.read() else {
            return Keyring::default();
        };
        let stamped = keys.stamped.iter().rev().map(|k| k.identity.clone());
        let unstamped = keys.unstamped.iter().map(|k| k.identity.clone());
        Keyring::from(stamped.chain(unstamped).collect::<Vec<_>>())
    }

    /// The key that seals (see [`Keys::sealing`]).
    pub fn sealing_key(&self) -> Option<StoredKey> {
        self.keys.read().ok()?.sealing().cloned()
    }

    /// What sealing uses: the sealing key's recipient first, then the recovery recipients.
    pub fn recipients(&self) -> Vec<Recipient> {
        let mut out: Vec<Recipient> = self
            .keys
            .read()
            .ok()
            .and_then(|k| k.sealing().map(|k| k.identity.recipient()))
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

/// What one labelled Secret is to the key store.
#[derive(Debug)]
enum Reading {
    Stamped(StoredKey),
    Unstamped(UnstampedKey),
    /// Not a key; why, for the log (no key material).
    Skipped(String),
}

/// The key text of a key Secret, borrowed from it: no copy of the private key is made.
fn key_text(secret: &Secret) -> Option<&[u8]> {
    secret.data.as_ref()?.get(KEY_DATA).map(|b| b.0.as_slice())
}

/// Reads one Secret listed by the key label in `namespace`.
fn read_key(secret: &Secret, namespace: &str) -> Reading {
    let meta = &secret.metadata;
    let name = meta.name.clone().unwrap_or_default();
    if meta.namespace.as_deref() != Some(namespace) {
        return Reading::Skipped(format!(
            "it is in namespace {:?}, not the controller's",
            meta.namespace.as_deref().unwrap_or_default()
        ));
    }
    let state = meta.labels.as_ref().and_then(|l| l.get(names::LABEL_SEALING_KEY));
    if state.map(String::as_str) != Some(names::KEY_STATE_ACTIVE) {
        return Reading::Skipped(format!(
            "its label {} is not {:?}",
            names::LABEL_SEALING_KEY,
            names::KEY_STATE_ACTIVE
        ));
    }
    // A SealedSecret's template decides the labels and values of the Secret it
    // produces: such a Secret must never become a key.
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == names::KIND && o.api_version.split('/').next() == Some(names::GROUP));
    if let Some(owner) = owner {
        return Reading::Skipped(format!("it is owned by SealedSecret {:?}", owner.name));
    }
    let identity = key_text(secret)
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(|t| t.parse::<Identity>().ok());
    let Some(identity) = identity else {
        return Reading::Skipped(format!("it has no valid {KEY_DATA}"));
    };
    let stamp = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::ANNOTATION_KEY_CREATED));
    match stamp.map(|s| s.parse::<Timestamp>()) {
        Some(Ok(created)) => Reading::Stamped(StoredKey {
            secret: name,
            created,
            identity,
        }),
        Some(Err(_)) => {
            tracing::warn!(secret = %name, "key Secret's {} is not an RFC 3339 time; it unseals but never seals", names::ANNOTATION_KEY_CREATED);
            Reading::Unstamped(UnstampedKey {
                secret: name,
                identity,
            })
        }
        None => Reading::Unstamped(UnstampedKey {
            secret: name,
            identity,
        }),
    }
}

/// Reads every active key Secret in `namespace`. Compromised keys are skipped;
/// a labelled Secret that is not a key (owned by a SealedSecret, no valid
/// identity) is skipped and named in the log. Every listed value is wiped.
pub async fn load(api: &Api<Secret>, namespace: &str) -> Result<Keys, KeyStoreError> {
    let lp = ListParams::default().labels(&format!(
        "{}={}",
        names::LABEL_SEALING_KEY,
        names::KEY_STATE_ACTIVE
    ));
    let list = api.list(&lp).await.map_err(|source| KeyStoreError::Api {
        namespace: namespace.to_owned(),
        source,
    })?;
    let mut keys = Keys::default();
    for secret in list.items.into_iter().map(Wiped) {
        match read_key(&secret, namespace) {
            Reading::Stamped(k) => keys.stamped.push(k),
            Reading::Unstamped(k) => keys.unstamped.push(k),
            Reading::Skipped(why) => {
                let name = secret.metadata.name.as_deref().unwrap_or_default();
                tracing::warn!(secret = %name, "labelled {}, but {why}: not used as a key", names::LABEL_SEALING_KEY);
            }
        }
    }
    Ok(keys)
}

/// Whether a new key is due: no sealing key yet, or the sealing key is older
/// than `period` (zero disables rotation).
pub fn rotation_due(keys: &Keys, period: Duration, now: Timestamp) -> bool {
    let Some(sealing) = keys.sealing() else {
        return true;
    };
    if period.is_zero() {
        return false;
    }
    let age = now.duration_since(sealing.created);
    age.is_positive() && age.unsigned_abs() >= period
}

/// The key Secret for `identity`, stamped `now`; its value is wiped when dropped.
fn key_secret(identity: &Identity, namespace: &str, now: Timestamp) -> Wiped {
    // The key text moves out of its zeroizing buffer into the Secret, uncopied.
    let mut text = identity.to_secret_string();
    let bytes = std::mem::take(&mut *text).into_bytes();
    Wiped(Secret {
        metadata: ObjectMeta {
            generate_name: Some("sealgate-key-".to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                names::LABEL_SEALING_KEY.to_owned(),
                names::KEY_STATE_ACTIVE.to_owned(),
            )])),
            annotations: Some(BTreeMap::from([
                (ANNOTATION_RECIPIENT.to_owned(), identity.recipient().to_string()),
                (names::ANNOTATION_KEY_CREATED.to_owned(), now.to_string()),
            ])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(KEY_DATA.to_owned(), ByteString(bytes))])),
        ..Secret::default()
    })
}

/// Creates a new key Secret stamped `now` and returns its name. Never deletes or replaces one.
pub async fn create_key(api: &Api<Secret>, namespace: &str, now: Timestamp) -> Result<String, KeyStoreError> {
    let secret = key_secret(&Identity::generate(), namespace, now);
    let created = api
        .create(&PostParams::default(), &secret)
        .await
        .map(Wiped)
        .map_err(|source| KeyStoreError::Api {
            namespace: namespace.to_owned(),
            source,
        })?;
    Ok(created.metadata.name.clone().unwrap_or_default())
}

/// Keeps the [`KeyStore`] in step with the key Secrets and, on the leader,
/// creates the first key and the rotated ones.
pub struct Maintainer {
    /// Secrets in the controller's namespace.
    pub api: Api<Secret>,
    /// The controller's namespace.
    pub namespace: String,
    /// Rotation period; zero disables rotation.
    pub period: Duration,
    /// Where the keys go.
    pub keys: Arc<KeyStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set while at least one key is loaded.
    pub ready: Arc<AtomicBool>,
}

impl Maintainer {
    /// Loads the keys, reloads them on every change to a labelled Secret (and
    /// every minute), and while `leader` is true creates a key when one is due,
    /// checking at once when leadership is gained. Never deletes a key.
    pub async fn run(self, mut leader: watch::Receiver<bool>, mut stop: watch::Receiver<bool>) {
        // Events are only a cue to reload: watch metadata, so no key crosses the wire for them.
        let meta: Api<PartialObjectMeta<Secret>> =
            Api::namespaced(self.api.clone().into_client(), &self.namespace);
        let mut changes = watcher(meta, watcher::Config::default().labels(names::LABEL_SEALING_KEY))
            .default_backoff()
            .boxed();
        let mut tick = tokio::time::interval(RELOAD_EVERY);
        let mut leader_open = true;
        loop {
            let leading = *leader.borrow_and_update();
            self.pass(leading).await;
            tokio::select! {
                _ = changes.next() => {}
                _ = tick.tick() => {}
                changed = leader.changed(), if leader_open => leader_open = changed.is_ok(),
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// One load, and a new key first when this replica leads and one is due.
    async fn pass(&self, leading: bool) {
        let mut keys = match load(&self.api, &self.namespace).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "could not load sealing keys");
                return;
            }
        };
        if leading && rotation_due(&keys, self.period, Timestamp::now()) {
            match create_key(&self.api, &self.namespace, Timestamp::now()).await {
                Ok(name) => {
                    tracing::info!(secret = %name, "created a new sealing key");
                    match load(&self.api, &self.namespace).await {
                        Ok(reloaded) => keys = reloaded,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not load sealing keys");
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not create a sealing key"),
            }
        }
        self.metrics.keys.set(keys.len() as i64);
        let sealing = keys.sealing().map(|k| (k.secret.clone(), k.created));
        if let Some((secret, created)) = &sealing {
            self.metrics.last_rotation.set(created.as_second());
            if self.keys.sealing_key().is_none_or(|k| &k.secret != secret) {
                tracing::info!(secret = %secret, keys = keys.len(), "sealing with the newest stamped key");
            }
        }
        let (stamped, unstamped) = (keys.stamped.len(), keys.unstamped.len());
        if self.keys.replace(keys) {
            tracing::info!(stamped, unstamped, "keys changed");
        }
        self.ready.store(stamped + unstamped > 0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};
    use zeroize::Zeroizing;

    fn key(created: &str) -> StoredKey {
        StoredKey {
            secret: created.into(),
            created: created.parse().unwrap(),
            identity: Identity::generate(),
        }
    }

    fn b64(id: &Identity) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(id.to_secret_string().as_bytes())
    }

    /// A labelled key Secret as the API server lists it.
    fn key_json(name: &str, id: &Identity, created: &str, stamp: Option<&str>) -> Value {
        let mut v = json!({"metadata": {"name": name, "namespace": "sealgate", "creationTimestamp": created,
            "labels": {"sealgate.dev/sealing-key": "active"}}, "data": {"age.key": b64(id)}});
        if let Some(stamp) = stamp {
            v["metadata"]["annotations"] = json!({"sealgate.dev/created-at": stamp});
        }
        v
    }

    fn secret(v: Value) -> Secret {
        serde_json::from_value(v).unwrap()
    }

    fn read_all(items: Vec<Value>) -> Keys {
        let mut keys = Keys::default();
        for item in items {
            match read_key(&secret(item), "sealgate") {
                Reading::Stamped(k) => keys.stamped.push(k),
                Reading::Unstamped(k) => keys.unstamped.push(k),
                Reading::Skipped(_) => {}
            }
        }
        keys
    }

    /// One request made to the mocked API: method, path and query, JSON body, Accept header.
    type Calls = Arc<Mutex<Vec<(String, String, Value, String)>>>;

    /// A mocked API server for the key Secrets: lists answer with `secrets`, a
    /// create adds to them, watches are held open. Every call is recorded.
    fn mock(secrets: Vec<Value>) -> (Api<Secret>, Calls, tokio::task::JoinHandle<()>) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "default");
        let calls: Calls = Arc::default();
        let recorded = calls.clone();
        let server = tokio::spawn(async move {
            let mut stored = secrets;
            let mut watches = Vec::new();
            let mut created = 0;
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let body: Value = serde_json::from_slice(&body.collect_bytes().await.unwrap_or_default())
                    .unwrap_or_default();
                let uri = parts.uri.to_string();
                let accept = parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                recorded
                    .lock()
                    .unwrap()
                    .push((parts.method.to_string(), uri.clone(), body.clone(), accept));
                if uri.contains("watch=true") {
                    watches.push(send);
                    continue;
                }
                let reply = if parts.method == http::Method::POST {
                    created += 1;
                    let mut new = body;
                    new["metadata"]["name"] = json!(format!("sealgate-key-new{created}"));
                    new["metadata"]["creationTimestamp"] = json!("2026-03-01T00:00:00Z");
                    stored.push(new.clone());
                    new
                } else {
                    json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {"resourceVersion": "1"}, "items": stored})
                };
                send.send_response(
                    Response::builder()
                        .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                        .unwrap(),
                );
            }
        });
        (Api::namespaced(client, "sealgate"), calls, server)
    }

    #[test]
    fn rotation_schedule() {
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let month = Duration::from_secs(30 * 24 * 3600);
        let keys = |list: Vec<StoredKey>| Keys {
            stamped: list,
            unstamped: Vec::new(),
        };
        assert!(rotation_due(&keys(vec![]), month, now), "first start");
        assert!(
            rotation_due(&keys(vec![]), Duration::ZERO, now),
            "a first key even with rotation off"
        );
        assert!(!rotation_due(
            &keys(vec![key("2026-02-15T00:00:00Z")]),
            month,
            now
        ));
        assert!(rotation_due(&keys(vec![key("2026-01-01T00:00:00Z")]), month, now));
        assert!(!rotation_due(
            &keys(vec![key("2026-01-01T00:00:00Z")]),
            Duration::ZERO,
            now
        ));
        let only_unstamped = Keys {
            stamped: vec![],
            unstamped: vec![UnstampedKey {
                secret: "by-hand".into(),
                identity: Identity::generate(),
            }],
        };
        assert!(
            rotation_due(&only_unstamped, Duration::ZERO, now),
            "keys without the stamp never seal, so a stamped one is created"
        );
    }

    #[tokio::test]
    async fn loads_active_keys_and_creates_stamped_without_deleting() {
        let existing = Identity::generate();
        let (api, calls, server) = mock(vec![
            key_json(
                "sealgate-key-a",
                &existing,
                "2026-01-01T00:00:00Z",
                Some("2026-01-01T00:00:00Z"),
            ),
            json!({"metadata": {"name": "sealgate-key-broken", "namespace": "sealgate", "creationTimestamp": "2026-02-01T00:00:00Z",
                "labels": {"sealgate.dev/sealing-key": "active"}}, "data": {"age.key": "bm9wZQ=="}}),
        ]);
        let keys = load(&api, "sealgate").await.unwrap();
        assert_eq!(keys.len(), 1, "the broken key Secret is skipped");
        assert_eq!(keys.stamped[0].identity.recipient(), existing.recipient());
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            create_key(&api, "sealgate", now).await.unwrap(),
            "sealgate-key-new1"
        );
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
        assert_eq!(
            created["metadata"]["annotations"]["sealgate.dev/created-at"], "2026-03-01T12:00:00Z",
            "sealgate stamps the keys it creates"
        );
        assert!(created["data"]["age.key"].is_string());
        assert!(
            calls.iter().all(|(m, ..)| m != "DELETE" && m != "PUT"),
            "keys are never deleted or replaced"
        );
    }

    /// Issue 15 item 1: a SealedSecret in the controller's namespace whose
    /// template carries the key label and an `age.key` must not install a key.
    #[tokio::test]
    async fn a_secret_owned_by_a_sealed_secret_is_never_a_key() {
        let real = Identity::generate();
        let attacker = Identity::generate();
        let mut planted = key_json(
            "innocent",
            &attacker,
            "2026-02-01T00:00:00Z",
            Some("2026-02-01T00:00:00Z"),
        );
        planted["metadata"]["ownerReferences"] = json!([{"apiVersion": "sealgate.dev/v1alpha1",
            "kind": "SealedSecret", "name": "innocent", "uid": "u-1", "controller": true}]);
        let mut unstamped = planted.clone();
        unstamped["metadata"]["name"] = json!("innocent-2");
        unstamped["metadata"]["annotations"] = json!({});
        let (api, _, server) = mock(vec![
            key_json(
                "sealgate-key-a",
                &real,
                "2026-01-01T00:00:00Z",
                Some("2026-01-01T00:00:00Z"),
            ),
            planted,
            unstamped,
        ]);
        let keys = load(&api, "sealgate").await.unwrap();
        server.abort();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let store = KeyStore::new(vec![]);
        store.replace(keys);
        assert_eq!(store.recipients(), vec![real.recipient()]);
        assert!(
            store
                .keyring()
                .identities()
                .iter()
                .all(|i| i.recipient() != attacker.recipient()),
            "nor does it unseal"
        );
    }

    #[test]
    fn owner_of_another_kind_or_group_does_not_disqualify() {
        let id = Identity::generate();
        let mut v = key_json("k", &id, "2026-01-01T00:00:00Z", Some("2026-01-01T00:00:00Z"));
        v["metadata"]["ownerReferences"] = json!([{"apiVersion": "example.com/v1",
            "kind": "SealedSecret", "name": "x", "uid": "u"}]);
        assert!(matches!(
            read_key(&secret(v.clone()), "sealgate"),
            Reading::Stamped(_)
        ));
        v["metadata"]["ownerReferences"] = json!([{"apiVersion": "sealgate.dev/v1",
            "kind": "SealedSecret", "name": "x", "uid": "u"}]);
        let Reading::Skipped(why) = read_key(&secret(v.clone()), "sealgate") else {
            panic!("a SealedSecret of any version owns it");
        };
        assert!(why.contains("SealedSecret \"x\""), "{why}");
        v["metadata"]["ownerReferences"] = json!([]);
        v["metadata"]["namespace"] = json!("elsewhere");
        assert!(matches!(read_key(&secret(v), "sealgate"), Reading::Skipped(_)));
    }

    /// Issue 15 item 6: the sealing key is the newest by sealgate's stamp, not by
    /// `creationTimestamp`; a key restored from a backup (new creationTimestamp,
    /// old stamp) unseals but does not seal; a key without the stamp never seals.
    #[test]
    fn sealing_key_is_the_newest_stamp_not_the_newest_secret() {
        let (current, restored, by_hand) = (Identity::generate(), Identity::generate(), Identity::generate());
        let keys = read_all(vec![
            key_json(
                "current",
                &current,
                "2026-02-01T00:00:00Z",
                Some("2026-02-01T00:00:00Z"),
            ),
            key_json(
                "restored",
                &restored,
                "2026-03-05T00:00:00Z",
                Some("2025-06-01T00:00:00Z"),
            ),
            key_json("by-hand", &by_hand, "2026-03-06T00:00:00Z", None),
            key_json("bad-stamp", &by_hand, "2026-03-06T00:00:00Z", Some("yesterday")),
        ]);
        assert_eq!(keys.sealing().unwrap().secret, "current");
        assert_eq!(keys.unstamped.len(), 2, "an unreadable stamp is no stamp");
        let store = KeyStore::new(vec![]);
        store.replace(keys);
        assert_eq!(store.recipients(), vec![current.recipient()]);
        let ring: Vec<_> = store
            .keyring()
            .identities()
            .iter()
            .map(Identity::recipient)
            .collect();
        for id in [&current, &restored, &by_hand] {
            assert!(ring.contains(&id.recipient()), "every key unseals");
        }
        assert_eq!(ring[0], current.recipient(), "newest stamp tried first");
    }

    #[test]
    fn keys_without_a_stamp_never_seal() {
        let keys = read_all(vec![key_json(
            "by-hand",
            &Identity::generate(),
            "2026-03-06T00:00:00Z",
            None,
        )]);
        assert!(keys.sealing().is_none());
        let recovery = Identity::generate().recipient();
        let store = KeyStore::new(vec![recovery.clone()]);
        store.replace(keys);
        assert_eq!(store.recipients(), vec![recovery], "only the recovery recipient");
        assert_eq!(store.keyring().identities().len(), 1);
    }

    #[test]
    fn newest_seals_all_unseal_recovery_published() {
        let recovery = Identity::generate().recipient();
        let store = KeyStore::new(vec![recovery.clone()]);
        let old = key("2026-01-01T00:00:00Z");
        let new = key("2026-02-01T00:00:00Z");
        store.set(vec![new.clone(), old.clone()]);
        assert_eq!(store.sealing_key().unwrap().secret, new.secret);
        assert_eq!(store.recipients(), vec![new.identity.recipient(), recovery]);
        assert_eq!(store.keyring().identities().len(), 2);
    }

    /// Issue 15 item 6: reconciles wait for the first load, and every change of
    /// the keys (not an identical reload) is announced.
    #[tokio::test]
    async fn first_load_and_changes_are_announced() {
        let store = Arc::new(KeyStore::new(vec![]));
        let waiting = tokio::spawn({
            let store = store.clone();
            async move { store.loaded().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "nothing loaded yet");
        let mut changes = Box::pin(store.changes());
        assert!(
            store.replace(Keys::default()),
            "the first load counts, even empty"
        );
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changes.next().await, Some(()));

        let a = key("2026-01-01T00:00:00Z");
        assert!(store.replace(Keys {
            stamped: vec![a.clone()],
            unstamped: vec![],
        }));
        assert_eq!(changes.next().await, Some(()), "a key added");
        assert!(
            !store.replace(Keys {
                stamped: vec![a.clone()],
                unstamped: vec![],
            }),
            "an identical reload is no change"
        );
        let quiet = tokio::time::timeout(Duration::from_millis(50), changes.next()).await;
        assert!(quiet.is_err(), "no requeue for an identical reload");
        assert!(store.replace(Keys {
            stamped: vec![a],
            unstamped: vec![UnstampedKey {
                secret: "restored".into(),
                identity: Identity::generate(),
            }],
        }));
        assert_eq!(changes.next().await, Some(()), "a key restored by an operator");
    }

    /// Issue 15 item 6: a replica that gains leadership creates the first key at
    /// once, not at the next minute's reload.
    #[tokio::test]
    async fn gaining_leadership_creates_the_first_key_at_once() {
        let (api, calls, server) = mock(vec![]);
        let keys = Arc::new(KeyStore::new(vec![]));
        let ready = Arc::new(AtomicBool::new(false));
        let maintainer = Maintainer {
            api,
            namespace: "sealgate".into(),
            period: Duration::from_secs(3600),
            keys: keys.clone(),
            metrics: Arc::default(),
            ready: ready.clone(),
        };
        let (lead, leader) = watch::channel(false);
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(maintainer.run(leader, stop));
        tokio::time::timeout(Duration::from_secs(5), keys.loaded())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let posts = || calls.lock().unwrap().iter().filter(|c| c.0 == "POST").count();
        assert_eq!(posts(), 0, "a standby creates no key");
        assert!(!ready.load(Ordering::Relaxed));
        lead.send(true).unwrap();
        let created = tokio::time::timeout(Duration::from_secs(5), async {
            while keys.sealing_key().is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(created.is_ok(), "no key within 5 s of gaining leadership");
        assert_eq!(posts(), 1);
        assert!(ready.load(Ordering::Relaxed));
        // Invariant 5: the watch that cues reloads carries metadata only, no key values.
        let calls = calls.lock().unwrap().clone();
        let cues: Vec<_> = calls
            .iter()
            .filter(|c| {
                c.1.contains("labelSelector=sealgate.dev%2Fsealing-key") && !c.1.contains("%3Dactive")
            })
            .collect();
        assert!(!cues.is_empty(), "{calls:?}");
        for (_, uri, _, accept) in cues {
            assert!(accept.contains("as=PartialObjectMetadata"), "{uri}: {accept}");
        }
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        server.abort();
    }

    /// Invariant 5: the key text is read in place, and the Secret built for a new
    /// key holds the only copy, wiped when it is dropped.
    #[test]
    fn private_keys_are_not_copied_unwiped() {
        let id = Identity::generate();
        let s = secret(key_json("k", &id, "2026-01-01T00:00:00Z", None));
        let text = key_text(&s).unwrap();
        let stored = &s.data.as_ref().unwrap()[KEY_DATA].0;
        assert!(
            std::ptr::eq(text.as_ptr(), stored.as_ptr()),
            "the key is parsed from the listed Secret, not from a copy"
        );
        let built: Wiped = key_secret(&id, "sealgate", Timestamp::UNIX_EPOCH);
        let value = &built.data.as_ref().unwrap()[KEY_DATA].0;
        let expected: Zeroizing<String> = id.to_secret_string();
        assert_eq!(value.as_slice(), expected.as_bytes());
    }
}
