//! The Kubernetes-facing code that more than one sealgate binary needs:
//! connecting with a kubeconfig, and reading the live inventory (what the
//! cluster already provides) for `sealgate validate --cluster` and the webhook.
//!
//! Secret values are never read: Secrets are listed as metadata only, and
//! their key names come from the controller's `sealgate.dev/keys` stamp.

pub mod process;

use std::path::Path;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DynamicObject, ListParams, ObjectList};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use sealgate_core::{SealedSecret, names};
use serde_json::{Value, json};

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig could not be loaded.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// An API call failed.
    #[error("cannot list {what} in namespace {namespace:?}: {message}")]
    List {
        /// The resource.
        what: &'static str,
        /// The namespace.
        namespace: String,
        /// What the API server (or the connection) said.
        message: String,
    },
}

/// A client from `kubeconfig` (or the usual KUBECONFIG / ~/.kube/config / in-cluster
/// lookup when `None`), with an optional context.
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Client, ClusterError> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let file =
                kube::config::Kubeconfig::read_from(path).map_err(|e| ClusterError::Config(e.to_string()))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
        None => Config::infer()
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))
}

/// Where the controller's HTTP endpoints are: its Service, reached through the
/// API server's service proxy (so no port-forward or ingress is needed).
#[derive(Clone, Debug)]
pub struct ControllerService {
    /// Namespace of the controller's Service.
    pub namespace: String,
    /// Name of the Service.
    pub name: String,
    /// Name (or number) of the Service port.
    pub port: String,
}

impl ControllerService {
    fn path(&self, endpoint: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/{}:{}/proxy{endpoint}",
            self.namespace, self.name, self.port
        )
    }
}

/// Why the controller could not be asked.
#[derive(Debug, thiserror::Error)]
#[error("controller {service}/{name} ({endpoint}): {message}")]
pub struct ControllerError {
    /// Namespace of the Service.
    pub service: String,
    /// Name of the Service.
    pub name: String,
    /// The endpoint called.
    pub endpoint: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Calls a controller endpoint: GET without a body, POST with one. Returns the response text.
pub async fn call_controller(
    client: &Client,
    service: &ControllerService,
    endpoint: &'static str,
    body: Option<Vec<u8>>,
) -> Result<String, ControllerError> {
    let err = |message: String| ControllerError {
        service: service.namespace.clone(),
        name: service.name.clone(),
        endpoint,
        message,
    };
    let builder = match body {
        None => http::Request::get(service.path(endpoint)).body(Vec::new()),
        Some(b) => http::Request::post(service.path(endpoint))
            .header("content-type", "application/yaml")
            .body(b),
    };
    let request = builder.map_err(|e| err(e.to_string()))?;
    client.request_text(request).await.map_err(|e| match e {
        kube::Error::Api(status) if status.code == 404 => err(format!(
            "not found: is sealgate-controller installed there? ({})",
            status.message
        )),
        kube::Error::Api(status) => err(format!("{} {}", status.code, status.message.trim())),
        other => err(other.to_string()),
    })
}

/// The controller's recipients: the active key first, then the recovery recipients.
pub async fn fetch_recipients(
    client: &Client,
    service: &ControllerService,
) -> Result<sealgate_core::RecipientSet, ControllerError> {
    let text = call_controller(client, service, "/v1/recipients", None).await?;
    sealgate_core::RecipientSet::parse(&text).map_err(|e| ControllerError {
        service: service.namespace.clone(),
        name: service.name.clone(),
        endpoint: "/v1/recipients",
        message: format!("unexpected answer: {e}"),
    })
}

/// What the cluster provides, as manifest-shaped objects the core inventory reads.
#[derive(Debug, Default)]
pub struct LiveObjects {
    /// Secrets (metadata only), ServiceAccounts, SealedSecrets, Certificates, ExternalSecrets.
    pub objects: Vec<Value>,
    /// What could not be looked at and why it is fine (e.g. a CRD that is not installed).
    pub notes: Vec<String>,
}

/// The optional providers sealgate knows, counted only when their CRD is served:
/// group, versions to try (newest first), kind, plural.
pub const OPTIONAL_KINDS: &[(&str, &[&str], &str, &str)] = &[
    ("cert-manager.io", &["v1"], "Certificate", "certificates"),
    (
        "external-secrets.io",
        &["v1", "v1beta1"],
        "ExternalSecret",
        "externalsecrets",
    ),
];

/// Lists what provides Secrets in each of `namespaces`.
pub async fn live_objects(client: &Client, namespaces: &[String]) -> Result<LiveObjects, ClusterError> {
    let mut live = LiveObjects::default();
    let mut missing_crds = std::collections::BTreeSet::new();
    for ns in namespaces {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        for meta in list_all(ns, "secrets", async |lp| secrets.list_metadata(lp).await).await? {
            live.objects.push(secret_metadata_object(&meta.metadata));
        }
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        for sa in list_all(ns, "serviceaccounts", async |lp| accounts.list(lp).await).await? {
            live.objects.push(with_type(
                serde_json::to_value(&sa).unwrap_or_default(),
                "v1",
                "ServiceAccount",
            ));
        }
        let sealed: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
        match list_all(ns, "sealedsecrets", async |lp| sealed.list(lp).await).await {
            Ok(items) => live.objects.extend(items.iter().map(|s| {
                with_type(
                    serde_json::to_value(s).unwrap_or_default(),
                    names::API_VERSION,
                    names::KIND,
                )
            })),
            Err(e) if is_not_found(&e) => {
                missing_crds.insert("SealedSecret (sealgate.dev)");
            }
            Err(e) => return Err(e),
        }
        for (group, versions, kind, plural) in OPTIONAL_KINDS {
            let mut found = false;
            for version in *versions {
                let ar =
                    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
                match list_all(ns, plural, async |lp| api.list(lp).await).await {
                    Ok(items) => {
                        let api_version = format!("{group}/{version}");
                        live.objects.extend(items.into_iter().map(|o| {
                            with_type(serde_json::to_value(o).unwrap_or_default(), &api_version, kind)
                        }));
                        found = true;
                        break;
                    }
                    Err(e) if is_not_found(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
            if !found {
                missing_crds.insert(kind);
            }
        }
    }
    live.notes = missing_crds
        .into_iter()
        .map(|kind| format!("{kind} is not installed in the cluster; not counted as a provider"))
        .collect();
    Ok(live)
}

/// A Secret as the inventory sees it from metadata: name, namespace and
/// sealgate's key stamp, nothing else.
pub fn secret_metadata_object(meta: &kube::api::ObjectMeta) -> Value {
    let mut annotations = serde_json::Map::new();
    if let Some(stamp) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::ANNOTATION_KEYS))
    {
        annotations.insert(names::ANNOTATION_KEYS.into(), stamp.clone().into());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": meta.name, "namespace": meta.namespace, "annotations": annotations},
    })
}

fn with_type(mut v: Value, api_version: &str, kind: &str) -> Value {
    if let Some(obj) = v.as_object_mut() {
        obj.insert("apiVersion".into(), api_version.into());
        obj.insert("kind".into(), kind.into());
    }
    v
}

fn is_not_found(e: &ClusterError) -> bool {
    matches!(e, ClusterError::List { message, .. } if message.starts_with("404"))
}

/// Lists every page (500 at a time).
async fn list_all<T, F>(namespace: &str, what: &'static str, list: F) -> Result<Vec<T>, ClusterError>
where
    T: Clone,
    F: AsyncFn(&ListParams) -> kube::Result<ObjectList<T>>,
{
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = list(&params).await.map_err(|e| ClusterError::List {
            what,
            namespace: namespace.to_owned(),
            message: describe(&e),
        })?;
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    Ok(out)
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) if status.is_forbidden() => {
            format!(
                "403 forbidden ({}); the kubeconfig's user needs list permission",
                status.message
            )
        }
        kube::Error::Api(status) => format!("{} {}", status.code, status.message),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;

    /// Answers each request by path from a table; anything else is a 404.
    async fn serve(
        mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
        routes: Vec<(String, Value)>,
    ) {
        while let Some((request, send)) = handle.next_request().await {
            let path = request.uri().path().to_owned();
            let accept = request
                .headers()
                .get("accept")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let body = routes.iter().find(|(p, _)| *p == path).map(|(_, b)| b.clone());
            let response = match body {
                Some(b) => {
                    if path.ends_with("/secrets") {
                        // Secrets must be asked for as metadata only.
                        assert!(
                            accept
                                .unwrap_or_default()
                                .contains("as=PartialObjectMetadataList"),
                            "{path}"
                        );
                    }
                    Response::builder()
                        .status(200)
                        .body(Body::from(serde_json::to_vec(&b).unwrap()))
                        .unwrap()
                }
                None => {
                    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "the server could not find the requested resource"});
                    Response::builder()
                        .status(404)
                        .body(Body::from(serde_json::to_vec(&status).unwrap()))
                        .unwrap()
                }
            };
            send.send_response(response);
        }
    }

    fn list(kind: &str, items: Value) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items})
    }

    #[tokio::test]
    async fn reads_metadata_sealed_secrets_and_optional_kinds() {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let routes = vec![
            (
                "/api/v1/namespaces/prod/secrets".to_owned(),
                json!({
                "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {},
                "items": [
                    {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {
                        "name": "db", "namespace": "prod",
                        "annotations": {"sealgate.dev/keys": "password,user", "other": "x"}}},
                    {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {"name": "legacy", "namespace": "prod"}}
                ]}),
            ),
            (
                "/api/v1/namespaces/prod/serviceaccounts".to_owned(),
                list(
                    "ServiceAccountList",
                    json!([
                {"metadata": {"name": "default", "namespace": "prod"}, "imagePullSecrets": [{"name": "regcred"}]}]),
                ),
            ),
            (
                "/apis/sealgate.dev/v1alpha1/namespaces/prod/sealedsecrets".to_owned(),
                list(
                    "SealedSecretList",
                    json!([
                {"apiVersion": "sealgate.dev/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "api", "namespace": "prod"},
                 "spec": {"encryptedData": {"token": "x"}},
                 "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "UnsealFailed", "message": "no key", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}]),
                ),
            ),
            (
                "/apis/external-secrets.io/v1beta1/namespaces/prod/externalsecrets".to_owned(),
                list(
                    "ExternalSecretList",
                    json!([
                {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": {"name": "es", "namespace": "prod"}, "spec": {"data": [{"secretKey": "k"}]}}]),
                ),
            ),
        ];
        let server = tokio::spawn(serve(handle, routes));
        let live = live_objects(&client, &["prod".to_owned()]).await.unwrap();
        drop(client);
        server.await.unwrap();

        let kinds: Vec<&str> = live.objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Secret",
                "Secret",
                "ServiceAccount",
                "SealedSecret",
                "ExternalSecret"
            ]
        );
        assert_eq!(
            live.objects[0]["metadata"]["annotations"],
            json!({"sealgate.dev/keys": "password,user"})
        );
        assert!(live.objects[0].get("data").is_none());
        assert_eq!(
            live.notes,
            ["Certificate is not installed in the cluster; not counted as a provider"]
        );

        let mut inv = sealgate_core::inventory::MemoryInventory::new();
        for o in &live.objects {
            inv.add_object(o, "default");
        }
        use sealgate_core::inventory::{Inventory, Keys, Readiness};
        assert_eq!(inv.providers("prod", "db")[0].has_key("password"), Some(true));
        assert_eq!(inv.providers("prod", "legacy")[0].keys, Keys::Unknown);
        assert!(matches!(
            inv.providers("prod", "api")[0].readiness,
            Readiness::Failed { .. }
        ));
        assert_eq!(inv.providers("prod", "es")[0].has_key("k"), Some(true));
        assert_eq!(
            inv.service_account_pull_secrets("prod", "default"),
            Some(vec!["regcred".to_owned()])
        );
    }

    #[tokio::test]
    async fn recipients_through_the_service_proxy() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let recipient = sealgate_core::Identity::generate().recipient();
        let answer = format!("{recipient}\n");
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(
                request.uri().path(),
                "/api/v1/namespaces/sealgate/services/sealgate-controller:http/proxy/v1/recipients"
            );
            send.send_response(Response::builder().body(Body::from(answer.into_bytes())).unwrap());
            let (_, send) = handle.next_request().await.unwrap();
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "message": "services \"x\" not found"});
            send.send_response(
                Response::builder()
                    .status(404)
                    .body(Body::from(serde_json::to_vec(&status).unwrap()))
                    .unwrap(),
            );
        });
        let svc = ControllerService {
            namespace: "sealgate".into(),
            name: "sealgate-controller".into(),
            port: "http".into(),
        };
        let set = fetch_recipients(&client, &svc).await.unwrap();
        assert_eq!(set.recipients(), &[recipient]);
        let err = fetch_recipients(&client, &svc).await.unwrap_err().to_string();
        assert!(err.contains("is sealgate-controller installed there?"), "{err}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn forbidden_is_a_clear_error() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let server = tokio::spawn(async move {
            let (_, send) = handle.next_request().await.unwrap();
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                "message": "secrets is forbidden: User \"ci\" cannot list resource \"secrets\""});
            send.send_response(
                Response::builder()
                    .status(403)
                    .body(Body::from(serde_json::to_vec(&status).unwrap()))
                    .unwrap(),
            );
        });
        let err = live_objects(&client, &["prod".to_owned()])
            .await
            .unwrap_err()
            .to_string();
        server.await.unwrap();
        assert!(
            err.starts_with("cannot list secrets in namespace \"prod\": 403 forbidden"),
            "{err}"
        );
    }
}
