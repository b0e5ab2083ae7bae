//! The live inventory: watch caches ([`crate::index`]) of Secret metadata
//! (never values), SealedSecrets, ServiceAccounts and Namespace labels, plus
//! kube-rs reflectors of Certificates and ExternalSecrets when their CRDs are
//! installed.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::Client;
use kube::api::{Api, ListParams, PartialObjectMeta};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use sealgate_core::inventory::{self, Inventory, Keys, MemoryInventory, Provider, ProviderKind};
use sealgate_core::{SealedSecret, names};
use zeroize::Zeroize;

use crate::admission::Mode;
use crate::index::{Index, Names, Snapshot};

/// Watch caches of optional provider kinds: (apiVersion, kind, cache).
type OptionalStores = Arc<RwLock<Vec<(String, String, Store<DynamicObject>)>>>;

/// Watch caches and what they answer.
#[derive(Clone)]
pub struct Caches {
    secrets: Index<PartialObjectMeta<Secret>>,
    sealed: Index<SealedSecret>,
    accounts: Index<ServiceAccount>,
    namespaces: Index<PartialObjectMeta<Namespace>>,
    optional: OptionalStores,
}

impl Caches {
    /// Starts the watches (and the periodic check for optional CRDs); returns at once.
    /// [`Caches::wait_synced`] resolves when every cache has its first full list.
    pub fn spawn(client: Client) -> Self {
        let caches = Caches {
            secrets: spawn_index(Api::<PartialObjectMeta<Secret>>::all(client.clone())),
            sealed: spawn_index(Api::<SealedSecret>::all(client.clone())),
            accounts: spawn_index(Api::<ServiceAccount>::all(client.clone())),
            namespaces: spawn_index(Api::<PartialObjectMeta<Namespace>>::all(client.clone())),
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
            secrets: listed(secrets),
            sealed: listed(sealed),
            accounts: listed(accounts),
            namespaces: listed(namespaces),
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
        let ns = namespaces.get("", namespace)?;
        let label = ns.metadata.labels.as_ref()?.get(names::LABEL_ADMISSION)?;
        Some(label.parse())
    }

    /// Secrets among `wanted` that exist but whose key names the caches do not know.
    pub fn unknown_key_secrets(&self, wanted: &[(String, String)]) -> Vec<(String, String)> {
        let secrets = self.secrets.read();
        let mut out: Vec<(String, String)> = wanted
            .iter()
            .filter(|(ns, name)| {
                secrets.get(ns, name).is_some_and(|meta| {
                    !meta
                        .metadata
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key(names::ANNOTATION_KEYS))
                })
            })
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

/// An index holding `objects`, filled as a watch's first list fills it.
fn listed<K: kube::Resource>(objects: Vec<K>) -> Index<K> {
    let index = Index::default();
    let mut writer = index.writer();
    writer.apply(watcher::Event::Init);
    for o in objects {
        writer.apply(watcher::Event::InitApply(o));
    }
    writer.apply(watcher::Event::InitDone);
    index
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

fn spawn_index<K>(api: Api<K>) -> Index<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let index = Index::default();
    let mut writer = index.writer();
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
                .map(|o| o.iter().any(|(_, k, _)| k == kind))
                .unwrap_or(false);
            if watching {
                continue;
            }
            let found = served_version(&client, group, versions, kind, plural)
                .await
                .map(|(api_version, ar)| (api_version, Api::<DynamicObject>::all_with(client.clone(), &ar)));
            match found {
                Some((api_version, api)) => {
                    let writer = reflector::store::Writer::new(writer_type(&api_version, kind, plural));
                    let store = writer.as_reader();
                    let stream =
                        reflector::reflector(writer, watcher(api, watcher::Config::default().any_semantic()))
                            .default_backoff()
                            .applied_objects();
                    tokio::spawn(async move {
                        futures::pin_mut!(stream);
                        while stream.next().await.is_some() {}
                    });
                    tracing::info!(kind, %api_version, "watching provider kind");
                    if let Ok(mut o) = optional.write() {
                        o.push((api_version, (*kind).to_owned(), store));
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

fn writer_type(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// The caches read once: see [`Caches::view`].
pub struct View<'a> {
    secrets: Snapshot<'a, PartialObjectMeta<Secret>>,
    sealed: Snapshot<'a, SealedSecret>,
    accounts: Snapshot<'a, ServiceAccount>,
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
    secrets: Names<'v, PartialObjectMeta<Secret>>,
    sealed: Names<'v, SealedSecret>,
}

/// Whether a Secret or SealedSecret surely serves `key` (see [`Inventory::provides`]).
fn serves(
    secret: Option<&PartialObjectMeta<Secret>>,
    sealed: Option<&SealedSecret>,
    key: Option<&str>,
) -> bool {
    let stamp_has = |meta: &PartialObjectMeta<Secret>, key: &str| {
        let annotations = meta.metadata.annotations.as_ref();
        let stamp = annotations.and_then(|a| a.get(names::ANNOTATION_KEYS));
        stamp.is_some_and(|s| inventory::key_stamp_has(s, key))
    };
    secret.is_some_and(|meta| key.is_none_or(|k| stamp_has(meta, k)))
        || sealed.is_some_and(|sealed| inventory::sealed_secret_serves(sealed, key))
}

impl Inventory for Near<'_> {
    fn provides(&self, namespace: &str, name: &str, key: Option<&str>) -> bool {
        if namespace != self.namespace {
            return self.view.provides(namespace, name, key);
        }
        // The SealedSecret is looked up only when the Secret does not serve.
        let secret = self.secrets.get(name);
        serves(secret, None, key) || serves(None, self.sealed.get(name), key)
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
        serves(self.secrets.get(namespace, name), None, key)
            || serves(None, self.sealed.get(namespace, name), key)
    }

    fn providers(&self, namespace: &str, name: &str) -> Vec<Provider> {
        let mut out = Vec::new();
        if let Some(meta) = self.secrets.get(namespace, name) {
            let stamp = meta
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(names::ANNOTATION_KEYS));
            out.push(inventory::secret_metadata_provider(
                stamp.map(String::as_str),
                namespace,
                name,
            ));
        }
        if let Some(sealed) = self.sealed.get(namespace, name) {
            out.push(inventory::sealed_secret_provider_of(sealed, namespace, name));
        }
        let optional = self.optional.read().map(|o| o.clone()).unwrap_or_default();
        if !optional.is_empty() {
            let mut inv = MemoryInventory::new();
            for (api_version, kind, store) in &optional {
                for obj in store
                    .state()
                    .iter()
                    .filter(|o| o.metadata.namespace.as_deref() == Some(namespace))
                {
                    if let Ok(mut v) = serde_json::to_value(obj.as_ref()) {
                        v["apiVersion"] = api_version.clone().into();
                        v["kind"] = kind.clone().into();
                        inv.add_object(&v, namespace);
                    }
                }
            }
            out.extend(inv.providers(namespace, name));
        }
        out
    }

    fn service_account_pull_secrets(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
        let sa = self.accounts.get(namespace, name)?;
        Some(
            sa.image_pull_secrets
                .iter()
                .flatten()
                .map(|r| r.name.clone())
                .collect(),
        )
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
            ],
            vec![sealed],
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
            ("plain", Some("b"), false),
            ("sealed", Some("token"), true),
            ("sealed", Some("other"), false),
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
        assert_eq!(caches.providers("prod", "stamped")[0].has_key("b"), Some(true));
        assert_eq!(caches.providers("prod", "plain")[0].keys, Keys::Unknown);
        assert_eq!(caches.providers("prod", "sealed")[0].has_key("token"), Some(true));
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
