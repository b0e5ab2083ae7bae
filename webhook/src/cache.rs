//! The live inventory: watch caches ([`crate::index`]) of Secret metadata
//! (never values; of that, only the key stamp is kept), SealedSecrets,
//! ServiceAccounts' image pull secrets and Namespaces' admission label, and of
//! Certificates and ExternalSecrets when their CRDs are installed. Every cache
//! keeps, of each object, what a review reads: a Secret or SealedSecret as its
//! [`Provider`], a Certificate or ExternalSecret as the Secret it produces and
//! its provider, made once when the watch event arrives. Whether a provider
//! serves a key is the one rule of core, [`Provider::serves`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::Client;
use kube::api::{Api, ListParams, PartialObjectMeta};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{WatchStreamExt, watcher};
use sealgate_core::inventory::{self, Inventory, Keys, Provider, ProviderKind};
use sealgate_core::{SealedSecret, names};
use zeroize::Zeroize;

use crate::admission::Mode;
use crate::index::{Index, Names, Snapshot};

/// What is kept of a Certificate or ExternalSecret: the Secret it produces and
/// itself as its provider (`None`: it produces none).
type Produces = Option<(String, Provider)>;

/// Watch caches of optional provider kinds: (kind, cache).
type OptionalStores = Arc<RwLock<Vec<(String, Index<Produces>)>>>;

/// Watch caches and what they answer.
#[derive(Clone)]
pub struct Caches {
    secrets: Index<Provider>,
    /// A SealedSecret as a provider: the keys it seals and whether it unseals, not
    /// its ciphertext.
    sealed: Index<Provider>,
    /// A ServiceAccount's `imagePullSecrets` names.
    accounts: Index<Box<[String]>>,
    /// A Namespace's `sealgate.dev/admission` label.
    namespaces: Index<Option<Box<str>>>,
    optional: OptionalStores,
}

/// What the caches keep of a Secret: itself as a provider, with the keys of the
/// controller's `sealgate.dev/keys` stamp if it has one. Its other metadata (managedFields,
/// a last-applied annotation) is most of a Secret's metadata and is never read, so it is
/// dropped on arrival.
fn secret_provider(secret: PartialObjectMeta<Secret>) -> Provider {
    let meta = secret.metadata;
    let stamp = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::ANNOTATION_KEYS));
    let (namespace, name) = (meta.namespace.as_deref(), meta.name.as_deref());
    inventory::secret_metadata_provider(
        stamp.map(String::as_str),
        namespace.unwrap_or(""),
        name.unwrap_or(""),
    )
}

/// A Certificate's or ExternalSecret's produced Secret and provider, as
/// [`inventory::certificate_provider`] and [`inventory::external_secret_provider`] read them.
fn produces(object: DynamicObject, provider: ProducedBy) -> Produces {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let value = serde_json::to_value(object).ok()?;
    provider(&value, &namespace, name)
}

/// How a kind's object says which Secret it produces.
type ProducedBy = fn(&serde_json::Value, &str, String) -> Option<(String, Provider)>;

fn certificate(object: DynamicObject) -> Produces {
    produces(object, inventory::certificate_provider)
}

fn external_secret(object: DynamicObject) -> Produces {
    produces(object, inventory::external_secret_provider)
}

fn sealed_provider(sealed: SealedSecret) -> Provider {
    let meta = &sealed.metadata;
    let (namespace, name) = (meta.namespace.as_deref(), meta.name.as_deref());
    inventory::sealed_secret_provider_of(&sealed, namespace.unwrap_or(""), name.unwrap_or(""))
}

fn pull_secrets(account: ServiceAccount) -> Box<[String]> {
    let refs = account.image_pull_secrets.unwrap_or_default();
    refs.into_iter().map(|r| r.name).collect()
}

fn admission_label(namespace: PartialObjectMeta<Namespace>) -> Option<Box<str>> {
    let mut labels = namespace.metadata.labels?;
    labels.remove(names::LABEL_ADMISSION).map(String::into_boxed_str)
}

impl Caches {
    /// Starts the watches (and the periodic check for optional CRDs); returns at once.
    /// [`Caches::wait_synced`] resolves when every cache has its first full list.
    pub fn spawn(client: Client) -> Self {
        let caches = Caches {
            secrets: spawn_index(Api::all(client.clone()), secret_provider),
            sealed: spawn_index(Api::all(client.clone()), sealed_provider),
            accounts: spawn_index(Api::all(client.clone()), pull_secrets),
            namespaces: spawn_index(Api::all(client.clone()), admission_label),
            optional: Arc::default(),
        };
        tokio::spawn(watch_optional_kinds(client, caches.optional.clone()));
        caches
    }

    /// Caches holding these objects, applied as a watch's first list is (for tests
    /// and benchmarks); no optional kinds.
    pub fn from_lists(
        secrets: Vec<PartialObjectMeta<Secret>>,
        sealed: Vec<SealedSecret>,
        accounts: Vec<ServiceAccount>,
        namespaces: Vec<PartialObjectMeta<Namespace>>,
    ) -> Self {
        Caches {
            secrets: listed(secrets, secret_provider),
            sealed: listed(sealed, sealed_provider),
            accounts: listed(accounts, pull_secrets),
            namespaces: listed(namespaces, admission_label),
            optional: Arc::default(),
        }
    }

    /// Waits until every cache has synced (a cache whose watch keeps failing, e.g.
    /// the SealedSecret CRD not installed, keeps the webhook unready and is logged).
    pub async fn wait_synced(&self) {
        self.secrets.wait_synced().await;
        self.sealed.wait_synced().await;
        self.accounts.wait_synced().await;
        self.namespaces.wait_synced().await;
        tracing::info!("watch caches synced");
    }

    /// The namespace's `sealgate.dev/admission` mode, if it sets one.
    pub fn namespace_mode(&self, namespace: &str) -> Option<Result<Mode, String>> {
        let namespaces = self.namespaces.read();
        let label = namespaces.get("", namespace)?.as_deref()?;
        Some(label.parse())
    }

    /// Secrets among `wanted` that exist but whose key names the caches do not know.
    pub fn unknown_key_secrets(&self, wanted: &[(String, String)]) -> Vec<(String, String)> {
        let secrets = self.secrets.read();
        let mut out: Vec<(String, String)> = wanted
            .iter()
            .filter(|(ns, name)| secrets.get(ns, name).is_some_and(|p| p.keys == Keys::Unknown))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The caches read once for many lookups (one review's): each lookup on
    /// [`Caches`] itself takes the caches' locks anew.
    pub fn view(&self) -> View<'_> {
        View {
            secrets: self.secrets.read(),
            sealed: self.sealed.read(),
            accounts: self.accounts.read(),
            optional: &self.optional,
        }
    }
}

/// An index keeping `keep(object)` of `objects`, filled as a watch's first list fills it.
fn listed<K: kube::Resource, V>(objects: Vec<K>, keep: fn(K) -> V) -> Index<V> {
    let index = Index::default();
    let mut writer = index.writer(keep);
    writer.apply(watcher::Event::Init);
    for o in objects {
        writer.apply(watcher::Event::InitApply(o));
    }
    writer.apply(watcher::Event::InitDone);
    index
}

/// The key reader `--read-secrets` asks for: with `true`, one GET per Secret the
/// caches know only by metadata (no key stamp) whose keys a review needs, values
/// dropped at once; with `false`, none, and such a reference is admitted with a
/// note that the keys are not known. Either way the caches watch Secret metadata.
pub fn key_reader(client: Client, read_secrets: bool) -> Option<crate::http::KeyReader> {
    if !read_secrets {
        return None;
    }
    Some(Arc::new(move |ns: String, name: String| {
        let client = client.clone();
        Box::pin(async move { read_key_names(&client, &ns, &name).await })
    }))
}

/// Reads the key names of one Secret and drops its values at once.
pub async fn read_key_names(client: &Client, namespace: &str, name: &str) -> Option<BTreeSet<String>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secret = api.get_opt(name).await.ok().flatten()?;
    let mut keys: BTreeSet<String> = BTreeSet::new();
    if let Some(data) = secret.data.as_mut() {
        for (k, v) in data.iter_mut() {
            keys.insert(k.clone());
            v.0.zeroize();
        }
    }
    if let Some(data) = secret.string_data.as_mut() {
        for (k, v) in data.iter_mut() {
            keys.insert(k.clone());
            v.zeroize();
        }
    }
    Some(keys)
}

/// A watch of `api` into an index keeping `keep(object)` of each object.
fn spawn_index<K, V>(api: Api<K>, keep: fn(K) -> V) -> Index<V>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    V: Send + Sync + 'static,
{
    let index = Index::default();
    let mut writer = index.writer(keep);
    let stream = watcher(api, watcher::Config::default().any_semantic()).default_backoff();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => writer.apply(event),
                Err(e) => tracing::warn!(error = %e, "watch error; retrying"),
            }
        }
    });
    index
}

/// Checks at start and every five minutes whether the optional CRDs are served,
/// and starts a watch cache for each one that appears. Says once when one is absent.
async fn watch_optional_kinds(client: Client, optional: OptionalStores) {
    let mut said_absent: BTreeSet<&str> = BTreeSet::new();
    loop {
        for (group, versions, kind, plural) in sealgate_cluster::OPTIONAL_KINDS {
            let watching = optional
                .read()
                .map(|o| o.iter().any(|(k, _)| k == kind))
                .unwrap_or(false);
            let keep: fn(DynamicObject) -> Produces = match *kind {
                "Certificate" => certificate,
                "ExternalSecret" => external_secret,
                _ => continue,
            };
            if watching {
                continue;
            }
            let found = served_version(&client, group, versions, kind, plural)
                .await
                .map(|(api_version, ar)| (api_version, Api::<DynamicObject>::all_with(client.clone(), &ar)));
            match found {
                Some((api_version, api)) => {
                    let index = Index::default();
                    let mut writer = index.writer(keep);
                    let stream = watcher(api, watcher::Config::default().any_semantic()).default_backoff();
                    tokio::spawn(async move {
                        futures::pin_mut!(stream);
                        while let Some(item) = stream.next().await {
                            match item {
                                Ok(event) => writer.apply(event),
                                Err(e) => tracing::warn!(error = %e, "watch error; retrying"),
                            }
                        }
                    });
                    tracing::info!(kind, %api_version, "watching provider kind");
                    if let Ok(mut o) = optional.write() {
                        o.push(((*kind).to_owned(), index));
                    }
                }
                None => {
                    if said_absent.insert(kind) {
                        tracing::info!(
                            kind,
                            "CRD not installed; not counted as a provider (checked again every 5 minutes)"
                        );
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(300)).await;
    }
}

/// The first of `versions` in which the API server serves `group`'s `plural`, if any.
pub async fn served_version(
    client: &Client,
    group: &str,
    versions: &[&str],
    kind: &str,
    plural: &str,
) -> Option<(String, ApiResource)> {
    for version in versions {
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        if api.list(&ListParams::default().limit(1)).await.is_ok() {
            return Some((format!("{group}/{version}"), ar));
        }
    }
    None
}

/// The caches read once: see [`Caches::view`].
pub struct View<'a> {
    secrets: Snapshot<'a, Provider>,
    sealed: Snapshot<'a, Provider>,
    accounts: Snapshot<'a, Box<[String]>>,
    optional: &'a OptionalStores,
}

impl<'a> View<'a> {
    /// The view with one namespace's objects found once: a review's lookups are
    /// nearly all in its own namespace.
    pub fn near<'v>(&'v self, namespace: &'v str) -> Near<'v> {
        Near {
            view: self,
            namespace,
            secrets: self.secrets.namespace(namespace),
            sealed: self.sealed.namespace(namespace),
        }
    }
}

/// A [`View`] with one namespace's Secrets and SealedSecrets at hand.
pub struct Near<'v> {
    view: &'v View<'v>,
    namespace: &'v str,
    secrets: Names<'v, Provider>,
    sealed: Names<'v, Provider>,
}

/// Whether a Secret or SealedSecret serves `key` ([`Provider::serves`]); the
/// SealedSecret is looked up only when the Secret does not serve.
fn serves<'c>(
    secret: Option<&Provider>,
    sealed: impl FnOnce() -> Option<&'c Provider>,
    key: Option<&str>,
) -> bool {
    secret.is_some_and(|p| p.serves(key)) || sealed().is_some_and(|p| p.serves(key))
}

impl Inventory for Near<'_> {
    fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
        if namespace != self.namespace {
            return self.view.provides(namespace, name, key);
        }
        serves(self.secrets.get(name), || self.sealed.get(name), key)
    }

    fn providers(&self, namespace: &str, name: &str) -> Vec<Provider> {
        self.view.providers(namespace, name)
    }

    fn service_account_pull_secrets(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
        self.view.service_account_pull_secrets(namespace, name)
    }
}

impl Inventory for View<'_> {
    fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
        serves(
            self.secrets.get(namespace, name),
            || self.sealed.get(namespace, name),
            key,
        )
    }

    fn providers(&self, namespace: &str, name: &str) -> Vec<Provider> {
        let mut out = Vec::new();
        out.extend(self.secrets.get(namespace, name).cloned());
        out.extend(self.sealed.get(namespace, name).cloned());
        let optional = self.optional.read().map(|o| o.clone()).unwrap_or_default();
        for (_, index) in &optional {
            let produced = index.read();
            let by_name = produced.in_namespace(namespace).flatten();
            out.extend(
                by_name
                    .filter(|(secret, _)| secret == name)
                    .map(|(_, p)| p.clone()),
            );
        }
        out
    }

    fn service_account_pull_secrets(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
        self.accounts.get(namespace, name).map(|pull| pull.to_vec())
    }
}

impl Inventory for Caches {
    fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
        self.view().provides(namespace, name, key)
    }

    fn providers(&self, namespace: &str, name: &str) -> Vec<Provider> {
        self.view().providers(namespace, name)
    }

    fn service_account_pull_secrets(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
        self.view().service_account_pull_secrets(namespace, name)
    }
}

/// An inventory with key names learned by reading single Secrets laid over another.
pub struct WithKeys<'a> {
    /// The caches.
    pub base: &'a dyn Inventory,
    /// (namespace, name) → key names read from the Secret itself.
    pub keys: HashMap<(String, String), BTreeSet<String>>,
}

impl Inventory for WithKeys<'_> {
    fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
        // What the caches are sure of; keys read from single Secrets only add to it.
        self.base.provides(namespace, name, key)
    }

    fn providers(&self, namespace: &str, name: &str) -> Vec<Provider> {
        let mut providers = self.base.providers(namespace, name);
        if self.keys.is_empty() {
            return providers;
        }
        if let Some(keys) = self.keys.get(&(namespace.to_owned(), name.to_owned())) {
            for p in providers
                .iter_mut()
                .filter(|p| p.kind == ProviderKind::Secret && p.keys == Keys::Unknown)
            {
                p.keys = Keys::Known(keys.clone());
            }
        }
        providers
    }

    fn service_account_pull_secrets(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
        self.base.service_account_pull_secrets(namespace, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;

    fn meta<K>(
        ns: Option<&str>,
        name: &str,
        annotations: &[(&str, &str)],
        labels: &[(&str, &str)],
    ) -> PartialObjectMeta<K>
    where
        K: kube::Resource<DynamicType = ()>,
    {
        let metadata = kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: ns.map(Into::into),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        };
        PartialObjectMeta {
            types: None,
            metadata,
            _phantom: std::marker::PhantomData,
        }
    }

    #[test]
    fn caches_answer_from_metadata_only() {
        let mut sealed = SealedSecret::new("sealed", Default::default());
        sealed.metadata.namespace = Some("prod".into());
        sealed.spec.encrypted_data.insert("token".into(), "x".into());
        let mut broken = sealed.clone();
        broken.metadata.name = Some("broken".into());
        broken.status = Some(sealgate_core::SealedSecretStatus {
            observed_generation: None,
            conditions: vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: "Ready".into(),
                status: "False".into(),
                reason: "UnsealFailed".into(),
                message: "no key unseals it".into(),
                last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
                observed_generation: None,
            }],
        });
        let mut sa = ServiceAccount::default();
        sa.metadata.name = Some("default".into());
        sa.metadata.namespace = Some("prod".into());
        sa.image_pull_secrets = Some(vec![k8s_openapi::api::core::v1::LocalObjectReference {
            name: "regcred".into(),
        }]);
        let caches = Caches::from_lists(
            vec![
                meta::<Secret>(Some("prod"), "stamped", &[(names::ANNOTATION_KEYS, "a,b")], &[]),
                meta::<Secret>(Some("prod"), "plain", &[], &[]),
                meta::<Secret>(
                    Some("prod"),
                    "spaced",
                    &[(names::ANNOTATION_KEYS, " b , a,")],
                    &[],
                ),
                meta::<Secret>(Some("prod"), "empty", &[(names::ANNOTATION_KEYS, "")], &[]),
            ],
            vec![sealed, broken],
            vec![sa],
            vec![
                meta::<Namespace>(None, "prod", &[], &[(names::LABEL_ADMISSION, "warn")]),
                meta::<Namespace>(None, "odd", &[], &[(names::LABEL_ADMISSION, "sometimes")]),
            ],
        );
        for (name, key, sure) in [
            ("stamped", Some("b"), true),
            ("stamped", Some("c"), false),
            ("plain", None, true),
            ("spaced", Some("a"), true),
            ("spaced", Some("b"), true),
            ("spaced", Some(" b "), false),
            ("spaced", Some(""), false),
            ("empty", Some(""), false),
            ("empty", None, true),
            ("plain", Some("b"), false),
            ("sealed", Some("token"), true),
            ("sealed", Some("other"), false),
            ("broken", Some("token"), false),
            ("broken", None, false),
            ("absent", None, false),
        ] {
            assert_eq!(caches.provides("prod", name, key), sure, "{name} {key:?}");
            let view = caches.view();
            for near in ["prod", "dev"] {
                assert_eq!(
                    view.near(near).provides("prod", name, key),
                    sure,
                    "{near}: {name} {key:?}"
                );
            }
            let full = caches.providers("prod", name).iter().any(|p| p.serves(key));
            assert_eq!(
                full, sure,
                "the shortcut agrees with the providers: {name} {key:?}"
            );
        }
        // Of a Secret's metadata only the stamp is kept.
        let mut busy = meta::<Secret>(
            Some("prod"),
            "busy",
            &[
                (names::ANNOTATION_KEYS, "a"),
                ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
            ],
            &[("app", "api")],
        );
        busy.metadata.managed_fields = Some(vec![Default::default()]);
        let kept = inventory::secret_metadata_provider(Some("a"), "prod", "busy");
        assert_eq!(secret_provider(busy), kept);
        assert_eq!(caches.providers("prod", "stamped")[0].has_key("b"), Some(true));
        assert_eq!(caches.providers("prod", "plain")[0].keys, Keys::Unknown);
        assert_eq!(caches.providers("prod", "sealed")[0].has_key("token"), Some(true));
        assert!(matches!(
            &caches.providers("prod", "broken")[0].readiness,
            inventory::Readiness::Failed { reason, .. } if reason == "UnsealFailed"
        ));
        assert!(caches.providers("dev", "stamped").is_empty());
        assert_eq!(
            caches.service_account_pull_secrets("prod", "default"),
            Some(vec!["regcred".to_owned()])
        );
        assert_eq!(caches.namespace_mode("prod"), Some(Ok(Mode::Warn)));
        assert!(matches!(caches.namespace_mode("odd"), Some(Err(_))));
        assert_eq!(caches.namespace_mode("none"), None);
        let wanted = vec![
            ("prod".to_owned(), "stamped".to_owned()),
            ("prod".to_owned(), "plain".to_owned()),
        ];
        assert_eq!(
            caches.unknown_key_secrets(&wanted),
            vec![("prod".to_owned(), "plain".to_owned())]
        );
    }

    #[test]
    fn certificates_and_external_secrets_are_kept_by_the_secret_they_produce() {
        let object = |v: serde_json::Value| serde_json::from_value::<DynamicObject>(v).unwrap();
        let cert = object(
            serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "api", "namespace": "prod"}, "spec": {"secretName": "api-tls"}}),
        );
        let es = object(
            serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "db", "namespace": "prod"},
            "spec": {"target": {"name": "db-creds"}, "data": [{"secretKey": "password"}]}}),
        );
        let none = object(
            serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "orphan", "namespace": "prod"}, "spec": {"target": {"creationPolicy": "None"}}}),
        );
        let caches = Caches::from_lists(vec![], vec![], vec![], vec![]);
        if let Ok(mut optional) = caches.optional.write() {
            optional.push(("Certificate".into(), listed(vec![cert], certificate)));
            optional.push(("ExternalSecret".into(), listed(vec![es, none], external_secret)));
        }
        let tls = caches.providers("prod", "api-tls");
        assert_eq!(tls.len(), 1);
        assert_eq!(tls[0].to_string(), "Certificate prod/api");
        assert!(tls[0].serves(Some("tls.crt")));
        let db = caches.providers("prod", "db-creds");
        assert_eq!(db[0].to_string(), "ExternalSecret prod/db");
        assert!(db[0].serves(Some("password")) && !db[0].serves(Some("user")));
        assert!(caches.providers("prod", "orphan").is_empty());
        assert!(caches.providers("dev", "api-tls").is_empty());
    }

    #[tokio::test]
    async fn optional_kinds_are_found_only_when_served() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let server = tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let path = request.uri().path().to_owned();
                let (status, body) = if path == "/apis/external-secrets.io/v1beta1/externalsecrets" {
                    (
                        200,
                        serde_json::json!({"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecretList", "metadata": {}, "items": []}),
                    )
                } else {
                    (
                        404,
                        serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "message": "not found"}),
                    )
                };
                send.send_response(
                    Response::builder()
                        .status(status)
                        .body(Body::from(serde_json::to_vec(&body).unwrap()))
                        .unwrap(),
                );
            }
        });
        assert!(
            served_version(&client, "cert-manager.io", &["v1"], "Certificate", "certificates")
                .await
                .is_none()
        );
        let (api_version, _) = served_version(
            &client,
            "external-secrets.io",
            &["v1", "v1beta1"],
            "ExternalSecret",
            "externalsecrets",
        )
        .await
        .expect("v1beta1 is served");
        assert_eq!(api_version, "external-secrets.io/v1beta1");
        server.abort();
    }
}
