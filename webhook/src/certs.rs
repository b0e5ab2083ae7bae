//! The webhook's own serving certificate, kept as Kyverno keeps its own: a CA
//! and a serving pair for the webhook's Service, in one Secret of the
//! webhook's namespace shared by every replica, renewed before it expires, and
//! the CA patched into the `caBundle` of the webhook's
//! ValidatingWebhookConfiguration. Renders of the chart then hold no key
//! material, so `helm template` (Argo CD) and `helm upgrade` leave it alone.
//!
//! Replicas agree without a leader: the Secret is created only if absent (the
//! loser of a race reads the winner's) and replaced only at the
//! `resourceVersion` it was read at. A Secret of that name without the
//! [`names::LABEL_WEBHOOK_CERTIFICATE`] label is someone else's and is never
//! overwritten. The CA's private key signs once and is dropped, so nothing can
//! mint further certificates from it; `ca.crt` keeps earlier CAs until they
//! expire, so replicas still serving the previous pair stay trusted while they
//! pick up a renewal. Private keys are zeroized on drop where the libraries
//! allow, and never logged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use sealgate_core::names;
use zeroize::{Zeroize, Zeroizing};

use crate::tls::{self, Swappable};

/// Secret key holding the serving certificate (PEM).
pub const TLS_CERT: &str = "tls.crt";
/// Secret key holding the serving private key (PKCS#8 PEM).
pub const TLS_KEY: &str = "tls.key";
/// Secret key holding the CA bundle (PEM): the current CA first, then earlier ones not yet expired.
pub const CA_CERT: &str = "ca.crt";
/// Type of the Secret.
pub const SECRET_TYPE: &str = "kubernetes.io/tls";
/// Lifetime of a generated CA and serving certificate.
pub const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// How often each replica reads the Secret and the webhook configuration again: picks up
/// another replica's renewal, renews when due, and restores a `caBundle` that was reset.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);
/// Certificates start this much before "now", for API servers whose clock is a little behind.
const BACKDATE: Duration = Duration::from_secs(300);
/// Reads and writes of the Secret before giving up when other replicas keep changing it.
const TRIES: usize = 5;
/// Earlier CAs kept in `ca.crt` at most (they also leave it when they expire).
const KEPT_CAS: usize = 3;

/// Where the certificate lives and what it is for.
#[derive(Clone, Debug)]
pub struct Config {
    /// The webhook's namespace (of the Secret and the Service).
    pub namespace: String,
    /// Name of the Secret holding the pair.
    pub secret: String,
    /// Name of the webhook's Service.
    pub service: String,
    /// Name of the ValidatingWebhookConfiguration whose `caBundle` is kept current.
    pub webhook_configuration: String,
}

impl Config {
    /// The DNS names the serving certificate is issued for.
    pub fn dns_names(&self) -> Vec<String> {
        let (svc, ns) = (&self.service, &self.namespace);
        vec![
            svc.clone(),
            format!("{svc}.{ns}"),
            format!("{svc}.{ns}.svc"),
            format!("{svc}.{ns}.svc.cluster.local"),
        ]
    }

    /// The name the API server checks when it calls the webhook through its Service.
    fn server_name(&self) -> String {
        format!("{}.{}.svc", self.service, self.namespace)
    }
}

/// Why the serving certificate could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A Secret of that name exists that sealgate did not create.
    #[error(
        "Secret {namespace}/{name} exists but was not created by sealgate-webhook (no {label}={value} label); \
         it is left untouched: delete it, or choose another name with --tls-secret",
        label = names::LABEL_WEBHOOK_CERTIFICATE,
        value = names::WEBHOOK_CERTIFICATE_MANAGED
    )]
    Foreign {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// The API server refused or failed a call on the Secret.
    #[error("Secret {namespace}/{name}: {action}: {source}")]
    Secret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// What was being done.
        action: &'static str,
        /// What the API server (or the connection) said.
        source: Box<kube::Error>,
    },
    /// Other replicas kept changing the Secret.
    #[error("Secret {namespace}/{name} kept changing under us; gave up after {TRIES} tries")]
    Contended {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// The webhook configuration could not be read or patched.
    #[error("ValidatingWebhookConfiguration {name}: {action}: {source}")]
    WebhookConfiguration {
        /// Its name.
        name: String,
        /// What was being done.
        action: &'static str,
        /// What the API server (or the connection) said.
        source: Box<kube::Error>,
    },
    /// A certificate could not be generated.
    #[error("generating the webhook certificate: {0}")]
    Generate(String),
}

/// A serving pair ready for rustls, and the CA bundle that trusts it.
pub struct Pair {
    /// Certificate chain and signing key.
    pub certified: CertifiedKey,
    /// PEM CA bundle, as stored in `ca.crt` and patched into `caBundle`.
    pub ca_bundle: Vec<u8>,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("certificates", &self.certified.cert.len())
            .field("key", &"<redacted>")
            .field("ca_bundle_bytes", &self.ca_bundle.len())
            .finish()
    }
}

/// A Secret whose private key bytes are zeroized when it is dropped.
struct Wiped(Secret);

impl Drop for Wiped {
    fn drop(&mut self) {
        if let Some(key) = self.0.data.as_mut().and_then(|d| d.get_mut(TLS_KEY)) {
            key.0.zeroize();
        }
    }
}

/// What a Secret of ours holds.
enum Inspected {
    /// A usable pair, not yet due for renewal.
    Fresh(Pair),
    /// A usable pair past two thirds of its life: renew, keeping its CAs trusted meanwhile.
    Due(Vec<CertificateDer<'static>>),
    /// Nothing usable (the reason says why, without any key material).
    Unusable(String),
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn certificates(pem: &[u8], key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{key}: no PEM certificate"));
    }
    Ok(certs)
}

/// `notBefore` and `notAfter` of a certificate, as Unix seconds.
fn validity(cert: &CertificateDer<'_>) -> Option<(i64, i64)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let v = parsed.validity();
    Some((v.not_before.timestamp(), v.not_after.timestamp()))
}

/// Reads and checks a Secret of ours: the key belongs to the certificate, the
/// certificate chains to `ca.crt` and is valid now for the Service's name.
fn inspect(secret: &Secret, config: &Config, now: SystemTime) -> Inspected {
    let Some(data) = secret.data.as_ref() else {
        return Inspected::Unusable("no data".into());
    };
    let field = |key: &str| {
        data.get(key)
            .map(|b| b.0.as_slice())
            .ok_or_else(|| format!("no {key}"))
    };
    let read = || -> Result<(Pair, Vec<CertificateDer<'static>>), String> {
        let chain = certificates(field(TLS_CERT)?, TLS_CERT)?;
        let cas = certificates(field(CA_CERT)?, CA_CERT)?;
        // The key's own parse error is not passed on: it could quote the key's text.
        let key = Zeroizing::new(
            PrivateKeyDer::from_pem_slice(field(TLS_KEY)?)
                .map_err(|_| format!("{TLS_KEY}: not a PEM private key"))?,
        );
        let certified = tls::certify(chain.clone(), &key)
            .map_err(|e| format!("{TLS_KEY} does not belong to {TLS_CERT}: {e}"))?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in &cas {
            roots.add(ca.clone()).map_err(|e| format!("{CA_CERT}: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("{CA_CERT}: {e}"))?;
        let name = config.server_name();
        let server_name = ServerName::try_from(name.as_str()).map_err(|e| format!("{name}: {e}"))?;
        let at = UnixTime::since_unix_epoch(now.duration_since(UNIX_EPOCH).unwrap_or_default());
        verifier
            .verify_server_cert(&chain[0], &chain[1..], &server_name, &[], at)
            .map_err(|e| format!("{TLS_CERT} is not valid for {name} under {CA_CERT}: {e}"))?;
        let ca_bundle = field(CA_CERT)?.to_vec();
        Ok((Pair { certified, ca_bundle }, cas))
    };
    let (pair, cas) = match read() {
        Ok(read) => read,
        Err(why) => return Inspected::Unusable(why),
    };
    let Some((not_before, not_after)) = validity(&pair.certified.cert[0]) else {
        return Inspected::Unusable(format!("{TLS_CERT}: unreadable validity"));
    };
    // Renew when less than a third of the lifetime is left.
    if unix(now) >= not_after - (not_after - not_before) / 3 {
        Inspected::Due(cas)
    } else {
        Inspected::Fresh(pair)
    }
}

fn pem_certificate(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// A new CA and serving pair valid from `now` for `lifetime`, as Secret data; `earlier`
/// CAs still valid at `now` follow the new CA in `ca.crt`.
fn generate(
    config: &Config,
    now: SystemTime,
    lifetime: Duration,
    earlier: &[CertificateDer<'static>],
) -> Result<(BTreeMap<String, ByteString>, Pair), CertError> {
    let err = |e: rcgen::Error| CertError::Generate(e.to_string());
    let not_before = time::OffsetDateTime::from(now.checked_sub(BACKDATE).unwrap_or(now));
    let not_after = time::OffsetDateTime::from(now.checked_add(lifetime).unwrap_or(now));

    let ca_key = Zeroizing::new(KeyPair::generate().map_err(err)?);
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("sealgate-webhook CA for {}", config.server_name()),
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&*ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, &*ca_key);

    let key = Zeroizing::new(KeyPair::generate().map_err(err)?);
    let mut leaf = CertificateParams::new(config.dns_names()).map_err(err)?;
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, config.server_name());
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let cert = leaf.signed_by(&*key, &issuer).map_err(err)?;

    let mut bundle = ca_cert.pem();
    let still_valid =
        |ca: &&CertificateDer<'static>| validity(ca).is_some_and(|(_, until)| until > unix(now));
    for earlier in earlier.iter().filter(still_valid).take(KEPT_CAS) {
        bundle.push_str(&pem_certificate(earlier));
    }
    let key_der = Zeroizing::new(PrivateKeyDer::Pkcs8(key.serialize_der().into()));
    let certified =
        tls::certify(vec![cert.der().clone()], &key_der).map_err(|e| CertError::Generate(e.to_string()))?;
    let key_pem = Zeroizing::new(key.serialize_pem());
    let data = BTreeMap::from([
        (TLS_CERT.to_owned(), ByteString(cert.pem().into_bytes())),
        (TLS_KEY.to_owned(), ByteString(key_pem.as_bytes().to_vec())),
        (CA_CERT.to_owned(), ByteString(bundle.clone().into_bytes())),
    ]);
    Ok((
        data,
        Pair {
            certified,
            ca_bundle: bundle.into_bytes(),
        },
    ))
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(names::FIELD_MANAGER_WEBHOOK.to_owned()),
        ..PostParams::default()
    }
}

fn is_ours(secret: &Secret) -> bool {
    secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(names::LABEL_WEBHOOK_CERTIFICATE))
        .is_some_and(|v| v == names::WEBHOOK_CERTIFICATE_MANAGED)
}

/// Keeps the serving pair in its Secret and the CA in the webhook configuration.
pub struct Manager {
    config: Config,
    secrets: Api<Secret>,
    webhooks: Api<ValidatingWebhookConfiguration>,
}

impl Manager {
    /// A manager for `config` talking to the cluster through `client`.
    pub fn new(client: kube::Client, config: Config) -> Self {
        Manager {
            secrets: Api::namespaced(client.clone(), &config.namespace),
            webhooks: Api::all(client),
            config,
        }
    }

    fn secret_error(&self, action: &'static str) -> impl FnOnce(kube::Error) -> CertError + '_ {
        move |source| CertError::Secret {
            namespace: self.config.namespace.clone(),
            name: self.config.secret.clone(),
            action,
            source: Box::new(source),
        }
    }

    /// The pair in the Secret; creates it when absent, replaces it when due or unusable.
    pub async fn ensure(&self) -> Result<Pair, CertError> {
        self.ensure_at(SystemTime::now()).await
    }

    async fn ensure_at(&self, now: SystemTime) -> Result<Pair, CertError> {
        let (namespace, name) = (&self.config.namespace, &self.config.secret);
        for _ in 0..TRIES {
            let found = self
                .secrets
                .get_opt(name)
                .await
                .map_err(self.secret_error("reading"))?
                .map(Wiped);
            let Some(found) = found else {
                let (data, pair) = generate(&self.config, now, VALIDITY, &[])?;
                let secret = Wiped(Secret {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(namespace.clone()),
                        labels: Some(BTreeMap::from([(
                            names::LABEL_WEBHOOK_CERTIFICATE.to_owned(),
                            names::WEBHOOK_CERTIFICATE_MANAGED.to_owned(),
                        )])),
                        ..ObjectMeta::default()
                    },
                    type_: Some(SECRET_TYPE.to_owned()),
                    data: Some(data),
                    ..Secret::default()
                });
                match self.secrets.create(&post_params(), &secret.0).await {
                    Ok(created) => {
                        drop(Wiped(created));
                        tracing::info!(%namespace, secret = %name, "created the webhook's serving certificate");
                        return Ok(pair);
                    }
                    Err(kube::Error::Api(status)) if status.is_already_exists() || status.is_conflict() => {
                        tracing::info!(%namespace, secret = %name, "another replica created the serving certificate first; using theirs");
                        continue;
                    }
                    Err(e) => return Err(self.secret_error("creating")(e)),
                }
            };
            if !is_ours(&found.0) {
                return Err(CertError::Foreign {
                    namespace: namespace.clone(),
                    name: name.clone(),
                });
            }
            let earlier = match inspect(&found.0, &self.config, now) {
                Inspected::Fresh(pair) => return Ok(pair),
                Inspected::Due(cas) => {
                    tracing::info!(%namespace, secret = %name, "serving certificate is due for renewal");
                    cas
                }
                Inspected::Unusable(why) => {
                    tracing::warn!(%namespace, secret = %name, reason = %why, "serving certificate unusable; replacing it");
                    Vec::new()
                }
            };
            let (data, pair) = generate(&self.config, now, VALIDITY, &earlier)?;
            // The metadata as read, resourceVersion included: a replica that renewed
            // in between makes this a conflict, and the loop reads theirs.
            let mut metadata = found.0.metadata.clone();
            metadata.labels.get_or_insert_with(BTreeMap::new).insert(
                names::LABEL_WEBHOOK_CERTIFICATE.to_owned(),
                names::WEBHOOK_CERTIFICATE_MANAGED.to_owned(),
            );
            let replacement = Wiped(Secret {
                metadata,
                type_: Some(SECRET_TYPE.to_owned()),
                data: Some(data),
                ..Secret::default()
            });
            match self.secrets.replace(name, &post_params(), &replacement.0).await {
                Ok(replaced) => {
                    drop(Wiped(replaced));
                    tracing::info!(%namespace, secret = %name, "renewed the webhook's serving certificate");
                    return Ok(pair);
                }
                Err(kube::Error::Api(status)) if status.is_conflict() => {
                    tracing::info!(%namespace, secret = %name, "another replica changed the serving certificate first; reading it again");
                    continue;
                }
                Err(e) => return Err(self.secret_error("replacing")(e)),
            }
        }
        Err(CertError::Contended {
            namespace: namespace.clone(),
            name: name.clone(),
        })
    }

    /// Sets `clientConfig.caBundle` of every webhook in the configuration to `bundle`
    /// where it differs; returns whether anything was patched.
    pub async fn sync_ca_bundle(&self, bundle: &[u8]) -> Result<bool, CertError> {
        let name = &self.config.webhook_configuration;
        let error = |action| {
            move |source| CertError::WebhookConfiguration {
                name: name.clone(),
                action,
                source: Box::new(source),
            }
        };
        let configuration = self.webhooks.get(name).await.map_err(error("reading"))?;
        let stale: Vec<serde_json::Value> = configuration
            .webhooks
            .iter()
            .flatten()
            .filter(|w| w.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()) != Some(bundle))
            .map(|w| {
                serde_json::json!({
                    "name": w.name,
                    "clientConfig": {"caBundle": ByteString(bundle.to_vec())},
                })
            })
            .collect();
        if stale.is_empty() {
            return Ok(false);
        }
        // Strategic merge: `webhooks` merges by `name`, so only these fields change.
        let patch = Patch::Strategic(serde_json::json!({ "webhooks": stale }));
        self.webhooks
            .patch(name, &PatchParams::apply(names::FIELD_MANAGER_WEBHOOK), &patch)
            .await
            .map_err(error("patching caBundle"))?;
        tracing::info!(configuration = %name, webhooks = stale.len(), "patched caBundle");
        Ok(true)
    }

    /// One check: the pair in the Secret (renewed if due), its CA in the webhook
    /// configuration, then served. The pair in service stays when a step fails.
    pub async fn refresh(&self, serving: &Swappable) -> Result<(), CertError> {
        let pair = self.ensure().await?;
        self.sync_ca_bundle(&pair.ca_bundle).await?;
        if serving.current().is_none_or(|c| c.cert != pair.certified.cert) {
            serving.set(pair.certified);
            tracing::info!(secret = %self.config.secret, "serving the new certificate");
        }
        Ok(())
    }

    /// Calls [`Manager::refresh`] every `every`, logging failures.
    pub async fn maintain(self, serving: Arc<Swappable>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.refresh(&serving).await {
                tracing::warn!(error = %e, "checking the serving certificate failed; keeping the current one");
            }
        }
    }
}

/// Sets up the serving certificate now (an error here should stop the webhook), then
/// keeps it current in the background; returns the resolver to serve from.
pub async fn start(client: kube::Client, config: Config) -> Result<Arc<Swappable>, CertError> {
    let manager = Manager::new(client, config);
    let pair = manager.ensure().await?;
    manager.sync_ca_bundle(&pair.ca_bundle).await?;
    let serving = Swappable::new(pair.certified);
    tokio::spawn(manager.maintain(serving.clone(), CHECK_EVERY));
    Ok(serving)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use http::{Method, Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};

    const NS: &str = "sealgate";
    const SECRET: &str = "sealgate-webhook-cert";
    const VWC: &str = "sealgate-webhook";
    const SECRET_PATH: &str = "/api/v1/namespaces/sealgate/secrets/sealgate-webhook-cert";
    const SECRETS_PATH: &str = "/api/v1/namespaces/sealgate/secrets";
    const VWC_PATH: &str =
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/sealgate-webhook";
    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn config() -> Config {
        Config {
            namespace: NS.into(),
            secret: SECRET.into(),
            service: "sealgate-webhook".into(),
            webhook_configuration: VWC.into(),
        }
    }

    /// An API server holding one Secret and one ValidatingWebhookConfiguration.
    #[derive(Default)]
    struct Cluster {
        secret: Option<Value>,
        resource_version: u64,
        vwc: Value,
        /// "METHOD path" of every call.
        calls: Vec<String>,
        patches: Vec<(String, Value)>,
        /// Query string of every write.
        write_queries: Vec<String>,
        /// Another replica's Secret, stored when our create arrives (which then loses with 409).
        winner_on_create: Option<Value>,
        /// Another replica's Secret, stored when our replace arrives (which then loses with 409).
        winner_on_replace: Option<Value>,
    }

    impl Cluster {
        fn new(secret: Option<Value>) -> Arc<Mutex<Self>> {
            let webhook = |name: &str| {
                json!({"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                       "clientConfig": {"service": {"name": "sealgate-webhook", "namespace": NS, "path": "/validate"}}})
            };
            let mut cluster = Cluster {
                vwc: json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                    "metadata": {"name": VWC, "resourceVersion": "1"},
                    "webhooks": [webhook("workloads.sealgate.dev"), webhook("pods.sealgate.dev")]}),
                ..Cluster::default()
            };
            if let Some(secret) = secret {
                cluster.store(secret);
            }
            Arc::new(Mutex::new(cluster))
        }

        fn store(&mut self, mut secret: Value) {
            self.resource_version += 1;
            secret["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
            self.secret = Some(secret);
        }

        fn count(&self, call: &str) -> usize {
            self.calls.iter().filter(|c| c.as_str() == call).count()
        }

        fn writes(&self) -> Vec<&String> {
            self.calls.iter().filter(|c| !c.starts_with("GET")).collect()
        }

        fn answer(
            &mut self,
            method: &Method,
            uri: &http::Uri,
            body: Value,
            content_type: String,
        ) -> (u16, Value) {
            let path = uri.path();
            self.calls.push(format!("{method} {path}"));
            if method != Method::GET {
                self.write_queries
                    .push(uri.query().unwrap_or_default().to_owned());
            }
            let status = |code: u16, reason: &str| {
                (
                    code,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "reason": reason, "code": code, "message": format!("{reason} (test)")}),
                )
            };
            match (method.as_str(), path) {
                ("GET", SECRET_PATH) => match &self.secret {
                    Some(s) => (200, s.clone()),
                    None => status(404, "NotFound"),
                },
                ("POST", SECRETS_PATH) => {
                    if let Some(winner) = self.winner_on_create.take() {
                        self.store(winner);
                    }
                    if self.secret.is_some() {
                        return status(409, "AlreadyExists");
                    }
                    self.store(body);
                    (201, self.secret.clone().unwrap_or_default())
                }
                ("PUT", SECRET_PATH) => {
                    if let Some(winner) = self.winner_on_replace.take() {
                        self.store(winner);
                    }
                    let current = self
                        .secret
                        .as_ref()
                        .map(|s| s["metadata"]["resourceVersion"].clone());
                    if current != Some(body["metadata"]["resourceVersion"].clone()) {
                        return status(409, "Conflict");
                    }
                    self.store(body);
                    (200, self.secret.clone().unwrap_or_default())
                }
                ("GET", VWC_PATH) => (200, self.vwc.clone()),
                ("PATCH", VWC_PATH) => {
                    self.patches.push((content_type, body.clone()));
                    // Strategic merge of `webhooks` by name.
                    for entry in body["webhooks"].as_array().cloned().unwrap_or_default() {
                        if let Some(w) = self.vwc["webhooks"]
                            .as_array_mut()
                            .and_then(|ws| ws.iter_mut().find(|w| w["name"] == entry["name"]))
                        {
                            w["clientConfig"]["caBundle"] = entry["clientConfig"]["caBundle"].clone();
                        }
                    }
                    (200, self.vwc.clone())
                }
                _ => status(404, "NotFound"),
            }
        }
    }

    /// A client whose requests `cluster` answers.
    fn client(cluster: &Arc<Mutex<Cluster>>) -> kube::Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let cluster = cluster.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let body: Value = serde_json::from_slice(&body.collect_bytes().await.unwrap_or_default())
                    .unwrap_or_default();
                let content_type = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let (code, reply) =
                    cluster
                        .lock()
                        .unwrap()
                        .answer(&parts.method, &parts.uri, body, content_type);
                send.send_response(
                    Response::builder()
                        .status(code)
                        .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                        .unwrap(),
                );
            }
        });
        kube::Client::new(service, "default")
    }

    /// A Secret as the webhook writes it, issued at `issued` (so it can be made to expire).
    fn our_secret(issued: SystemTime) -> (Value, Vec<u8>) {
        let (data, pair) = generate(&config(), issued, VALIDITY, &[]).unwrap();
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": SECRET, "namespace": NS,
                         "labels": {names::LABEL_WEBHOOK_CERTIFICATE: names::WEBHOOK_CERTIFICATE_MANAGED}},
            "data": data});
        (secret, pair.certified.cert[0].to_vec())
    }

    fn stored_data(cluster: &Arc<Mutex<Cluster>>, key: &str) -> Vec<u8> {
        let secret = cluster.lock().unwrap().secret.clone().unwrap();
        serde_json::from_value::<ByteString>(secret["data"][key].clone())
            .unwrap()
            .0
    }

    fn ca_bundles(cluster: &Arc<Mutex<Cluster>>) -> Vec<Vec<u8>> {
        let vwc = cluster.lock().unwrap().vwc.clone();
        vwc["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                serde_json::from_value::<ByteString>(w["clientConfig"]["caBundle"].clone())
                    .map(|b| b.0)
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The stored pair, as a newly started replica would find it.
    fn inspect_stored(cluster: &Arc<Mutex<Cluster>>, now: SystemTime) -> Inspected {
        let secret: Secret = serde_json::from_value(cluster.lock().unwrap().secret.clone().unwrap()).unwrap();
        inspect(&secret, &config(), now)
    }

    #[tokio::test]
    async fn first_start_creates_the_secret_and_patches_the_webhook_configuration() {
        let cluster = Cluster::new(None);
        let serving = start(client(&cluster), config()).await.unwrap();

        let secret = cluster
            .lock()
            .unwrap()
            .secret
            .clone()
            .expect("the Secret was created");
        assert_eq!(secret["type"], SECRET_TYPE);
        assert_eq!(
            secret["metadata"]["labels"][names::LABEL_WEBHOOK_CERTIFICATE],
            names::WEBHOOK_CERTIFICATE_MANAGED
        );
        let keys: Vec<&str> = secret["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, [CA_CERT, TLS_CERT, TLS_KEY]);
        assert!(matches!(
            inspect_stored(&cluster, SystemTime::now()),
            Inspected::Fresh(_)
        ));

        // The certificate is for every name of the Service, and is what is served.
        let cert = certificates(&stored_data(&cluster, TLS_CERT), TLS_CERT).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert[0]).unwrap();
        let sans: Vec<String> = parsed
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            sans,
            [
                "DNSName(sealgate-webhook)",
                "DNSName(sealgate-webhook.sealgate)",
                "DNSName(sealgate-webhook.sealgate.svc)",
                "DNSName(sealgate-webhook.sealgate.svc.cluster.local)"
            ]
        );
        assert_eq!(serving.current().unwrap().cert, cert);

        // Both webhooks trust the CA, patched by name with a strategic merge patch.
        let ca = stored_data(&cluster, CA_CERT);
        assert_eq!(ca_bundles(&cluster), [ca.clone(), ca]);
        let c = cluster.lock().unwrap();
        assert_eq!(
            c.writes(),
            [&format!("POST {SECRETS_PATH}"), &format!("PATCH {VWC_PATH}")]
        );
        assert_eq!(c.patches[0].0, "application/strategic-merge-patch+json");
        assert!(
            c.write_queries
                .iter()
                .all(|q| q.contains("fieldManager=sealgate-webhook")),
            "{:?}",
            c.write_queries
        );
        let patched: Vec<&Value> = c.patches[0].1["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| &w["name"])
            .collect();
        assert_eq!(patched, ["workloads.sealgate.dev", "pods.sealgate.dev"]);
    }

    #[tokio::test]
    async fn a_second_replica_reuses_the_secret() {
        let cluster = Cluster::new(None);
        let first = start(client(&cluster), config()).await.unwrap();
        let second = start(client(&cluster), config()).await.unwrap();
        assert_eq!(first.current().unwrap().cert, second.current().unwrap().cert);
        let c = cluster.lock().unwrap();
        assert_eq!(c.count(&format!("POST {SECRETS_PATH}")), 1, "{:?}", c.calls);
        assert_eq!(c.count(&format!("PUT {SECRET_PATH}")), 0, "{:?}", c.calls);
        assert_eq!(
            c.count(&format!("PATCH {VWC_PATH}")),
            1,
            "caBundle already current: {:?}",
            c.calls
        );
    }

    #[tokio::test]
    async fn losing_the_create_race_uses_the_winners_secret() {
        let cluster = Cluster::new(None);
        let (winner, winner_cert) = our_secret(SystemTime::now());
        cluster.lock().unwrap().winner_on_create = Some(winner);
        let serving = start(client(&cluster), config()).await.unwrap();
        assert_eq!(
            serving.current().unwrap().cert[0].as_ref(),
            winner_cert.as_slice()
        );
        let stored = certificates(&stored_data(&cluster, TLS_CERT), TLS_CERT).unwrap();
        assert_eq!(
            stored[0].as_ref(),
            winner_cert.as_slice(),
            "the winner's Secret stays"
        );
        let c = cluster.lock().unwrap();
        assert_eq!(
            c.calls,
            [
                format!("GET {SECRET_PATH}"),
                format!("POST {SECRETS_PATH}"),
                format!("GET {SECRET_PATH}"),
                format!("GET {VWC_PATH}"),
                format!("PATCH {VWC_PATH}"),
            ]
        );
        drop(c);
        assert_eq!(ca_bundles(&cluster)[0], stored_data(&cluster, CA_CERT));
    }

    #[tokio::test]
    async fn an_expiring_pair_is_renewed_and_both_cas_stay_trusted() {
        // Issued 250 days ago for 365: less than a third is left.
        let (old, old_cert) = our_secret(SystemTime::now() - 250 * DAY);
        let cluster = Cluster::new(Some(old));
        let old_ca = stored_data(&cluster, CA_CERT);
        let manager = Manager::new(client(&cluster), config());
        let serving = Swappable::new(match inspect_stored(&cluster, SystemTime::now() - 200 * DAY) {
            Inspected::Fresh(pair) => pair.certified,
            _ => panic!("the old pair was fresh 200 days ago"),
        });
        assert_eq!(serving.current().unwrap().cert[0].as_ref(), old_cert.as_slice());

        manager.refresh(&serving).await.unwrap();
        let c = cluster.lock().unwrap();
        assert_eq!(c.count(&format!("PUT {SECRET_PATH}")), 1, "{:?}", c.calls);
        assert_eq!(c.count(&format!("POST {SECRETS_PATH}")), 0, "{:?}", c.calls);
        drop(c);
        let served = serving.current().unwrap();
        assert_ne!(
            served.cert[0].as_ref(),
            old_cert.as_slice(),
            "the new pair is served"
        );
        assert!(matches!(
            inspect_stored(&cluster, SystemTime::now()),
            Inspected::Fresh(_)
        ));
        // ca.crt: the new CA, then the old one, so replicas still on the old pair are trusted.
        let bundle = stored_data(&cluster, CA_CERT);
        let cas = certificates(&bundle, CA_CERT).unwrap();
        assert_eq!(cas.len(), 2);
        assert_eq!(cas[1], certificates(&old_ca, CA_CERT).unwrap()[0]);
        assert_eq!(ca_bundles(&cluster), [bundle.clone(), bundle]);

        // Renewing again later drops CAs that have expired.
        let later = SystemTime::now() + 300 * DAY;
        let (_, pair) = generate(&config(), later, VALIDITY, &cas).unwrap();
        assert_eq!(
            certificates(&pair.ca_bundle, CA_CERT).unwrap().len(),
            2,
            "the old CA has expired"
        );
    }

    #[tokio::test]
    async fn a_renewal_conflict_reads_the_other_replicas_pair() {
        let (old, _) = our_secret(SystemTime::now() - 250 * DAY);
        let cluster = Cluster::new(Some(old));
        let (winner, winner_cert) = our_secret(SystemTime::now());
        cluster.lock().unwrap().winner_on_replace = Some(winner);
        let pair = Manager::new(client(&cluster), config()).ensure().await.unwrap();
        assert_eq!(pair.certified.cert[0].as_ref(), winner_cert.as_slice());
        let c = cluster.lock().unwrap();
        assert_eq!(
            c.calls,
            [
                format!("GET {SECRET_PATH}"),
                format!("PUT {SECRET_PATH}"),
                format!("GET {SECRET_PATH}")
            ]
        );
    }

    #[tokio::test]
    async fn a_foreign_secret_of_that_name_is_never_overwritten() {
        let foreign = json!({"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": SECRET, "namespace": NS, "labels": {"app.kubernetes.io/managed-by": "Helm"}},
            "data": {"tls.crt": "bm9wZQ==", "tls.key": "bm9wZQ==", "ca.crt": "bm9wZQ=="}});
        let cluster = Cluster::new(Some(foreign.clone()));
        let err = start(client(&cluster), config()).await.unwrap_err();
        assert!(matches!(err, CertError::Foreign { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(
                "Secret sealgate/sealgate-webhook-cert exists but was not created by sealgate-webhook"
            ) && message.contains("sealgate.dev/webhook-certificate=managed")
                && message.contains("--tls-secret"),
            "{message}"
        );
        let c = cluster.lock().unwrap();
        assert!(c.writes().is_empty(), "nothing written: {:?}", c.calls);
        assert_eq!(c.secret.as_ref().unwrap()["data"], foreign["data"]);
    }

    #[tokio::test]
    async fn unusable_data_in_our_own_secret_is_replaced() {
        let (good, _) = our_secret(SystemTime::now());
        let other_ca = generate(&config(), SystemTime::now(), VALIDITY, &[])
            .unwrap()
            .1
            .ca_bundle;
        let other_service = Config {
            service: "elsewhere".into(),
            ..config()
        };
        let (renamed, _) = generate(&other_service, SystemTime::now(), VALIDITY, &[]).unwrap();
        let (expired, _) = our_secret(SystemTime::now() - 400 * DAY);
        let bad_pem =
            ByteString(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_vec());
        let cases: Vec<(&str, Value)> = vec![
            ("bad PEM", {
                let mut s = good.clone();
                s["data"][TLS_CERT] = json!(bad_pem);
                s
            }),
            ("not a key", {
                let mut s = good.clone();
                s["data"][TLS_KEY] = json!(ByteString(b"secret words".to_vec()));
                s
            }),
            ("another CA", {
                let mut s = good.clone();
                s["data"][CA_CERT] = json!(ByteString(other_ca));
                s
            }),
            ("another Service", {
                let mut s = good.clone();
                s["data"] = json!(renamed);
                s
            }),
            ("expired", expired),
            ("no data", {
                let mut s = good.clone();
                s.as_object_mut().unwrap().remove("data");
                s
            }),
        ];
        for (case, secret) in cases {
            let stored: Secret = serde_json::from_value(secret.clone()).unwrap();
            assert!(
                matches!(
                    inspect(&stored, &config(), SystemTime::now()),
                    Inspected::Unusable(_)
                ),
                "{case}"
            );
            let cluster = Cluster::new(Some(secret));
            start(client(&cluster), config()).await.unwrap();
            assert!(
                matches!(inspect_stored(&cluster, SystemTime::now()), Inspected::Fresh(_)),
                "{case}: replaced with a usable pair"
            );
            let bundle = stored_data(&cluster, CA_CERT);
            assert_eq!(
                certificates(&bundle, CA_CERT).unwrap().len(),
                1,
                "{case}: nothing unusable kept"
            );
            assert_eq!(ca_bundles(&cluster)[0], bundle, "{case}");
            let c = cluster.lock().unwrap();
            assert_eq!(c.count(&format!("PUT {SECRET_PATH}")), 1, "{case}: {:?}", c.calls);
        }
    }

    #[test]
    fn reasons_for_an_unusable_key_never_quote_it() {
        let (mut secret, _) = our_secret(SystemTime::now());
        let words = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IHdvcmRz!!\n-----END PRIVATE KEY-----\n";
        secret["data"][TLS_KEY] = json!(ByteString(words.as_bytes().to_vec()));
        let secret: Secret = serde_json::from_value(secret).unwrap();
        let Inspected::Unusable(why) = inspect(&secret, &config(), SystemTime::now()) else {
            panic!("a broken key is unusable");
        };
        assert_eq!(why, "tls.key: not a PEM private key");
        let pair = generate(&config(), SystemTime::now(), VALIDITY, &[]).unwrap().1;
        assert!(!format!("{pair:?}").contains("PRIVATE"), "{pair:?}");
    }

    #[tokio::test]
    async fn a_reset_ca_bundle_is_restored_and_a_renewal_elsewhere_is_picked_up() {
        let cluster = Cluster::new(None);
        let manager = Manager::new(client(&cluster), config());
        let serving = start(client(&cluster), config()).await.unwrap();
        // A GitOps sync puts the rendered configuration back, without caBundle.
        for w in cluster.lock().unwrap().vwc["webhooks"].as_array_mut().unwrap() {
            w["clientConfig"].as_object_mut().unwrap().remove("caBundle");
        }
        // Another replica renewed the Secret meanwhile.
        let (renewed, renewed_cert) = our_secret(SystemTime::now());
        cluster.lock().unwrap().store(renewed);
        manager.refresh(&serving).await.unwrap();
        assert_eq!(
            serving.current().unwrap().cert[0].as_ref(),
            renewed_cert.as_slice()
        );
        let bundle = stored_data(&cluster, CA_CERT);
        assert_eq!(ca_bundles(&cluster), [bundle.clone(), bundle]);
        assert_eq!(cluster.lock().unwrap().count(&format!("PUT {SECRET_PATH}")), 0);
    }

    #[tokio::test]
    async fn a_missing_webhook_configuration_is_a_clear_error() {
        let cluster = Cluster::new(None);
        let mut other = config();
        other.webhook_configuration = "absent".into();
        let err = start(client(&cluster), other).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ValidatingWebhookConfiguration absent: reading: "),
            "{err}"
        );
    }

    /// The generated pair serves real TLS, and a client that trusts only `ca.crt`
    /// accepts it under the Service's name.
    #[tokio::test]
    async fn serves_tls_that_clients_trust_through_the_ca_bundle() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let cluster = Cluster::new(None);
        let serving = start(client(&cluster), config()).await.unwrap();
        let tls = Arc::new(tls::server_config(serving.clone()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            while let Ok((stream, _)) = listener.accept().await {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.write_all(b"hello").await;
                    let _ = tls.shutdown().await;
                }
            }
        });
        let connect = |bundle: Vec<u8>, name: &'static str| async move {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificates(&bundle, CA_CERT).unwrap() {
                roots.add(ca).unwrap();
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(ServerName::try_from(name).unwrap(), tcp)
                .await?;
            let mut text = String::new();
            tls.read_to_string(&mut text).await?;
            Ok::<_, std::io::Error>(text)
        };
        let bundle = stored_data(&cluster, CA_CERT);
        for name in [
            "sealgate-webhook.sealgate.svc",
            "sealgate-webhook.sealgate.svc.cluster.local",
        ] {
            assert_eq!(connect(bundle.clone(), name).await.unwrap(), "hello", "{name}");
        }
        assert!(
            connect(bundle.clone(), "other.sealgate.svc").await.is_err(),
            "not valid for another name"
        );
        let stranger = generate(&config(), SystemTime::now(), VALIDITY, &[])
            .unwrap()
            .1
            .ca_bundle;
        assert!(
            connect(stranger, "sealgate-webhook.sealgate.svc").await.is_err(),
            "not trusted under another CA"
        );
    }
}
