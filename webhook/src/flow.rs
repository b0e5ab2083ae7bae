//! The decision flow of one review: the body read once into the typed model,
//! the namespace's mode, the workload decided over one view of the caches, and,
//! only when key names the caches lack are needed, those Secrets read first.
//! [`Live`] is what the flow asks of the caches ([`crate::cache::Caches`]).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sealgate_core::inventory::Inventory;

use crate::admission::{Answer, Mode, Review};
use crate::cache::WithKeys;
use crate::metrics::Metrics;

/// Reads the key names of one Secret (values dropped at once), for Secrets the caches
/// know only by metadata.
pub type KeyReader = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Option<BTreeSet<String>>> + Send>> + Send + Sync,
>;

/// What the live inventory offers beyond [`Inventory`].
pub trait Live: Inventory + Send + Sync {
    /// The namespace's own mode label, if any (an invalid label is an error string).
    fn namespace_mode(&self, namespace: &str) -> Option<Result<Mode, String>>;
    /// Referenced Secrets that exist but whose key names are unknown.
    fn unknown_key_secrets(&self, wanted: &[(String, String)]) -> Vec<(String, String)>;
    /// Runs `f` over the inventory read once for all of `f`'s lookups, which are
    /// mostly in `namespace`.
    fn with_view(&self, namespace: &str, f: &mut dyn FnMut(&dyn Inventory));
}

impl Live for crate::cache::Caches {
    fn namespace_mode(&self, namespace: &str) -> Option<Result<Mode, String>> {
        crate::cache::Caches::namespace_mode(self, namespace)
    }
    fn unknown_key_secrets(&self, wanted: &[(String, String)]) -> Vec<(String, String)> {
        crate::cache::Caches::unknown_key_secrets(self, wanted)
    }
    fn with_view(&self, namespace: &str, f: &mut dyn FnMut(&dyn Inventory)) {
        f(&self.view().near(namespace));
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The inventory (watch caches in production).
    pub live: Arc<dyn Live>,
    /// Reads single Secrets' key names; `None` disables key-level reads.
    pub key_reader: Option<KeyReader>,
    /// Mode for namespaces without the label.
    pub default_mode: Mode,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// True once the caches have synced.
    pub ready: Arc<AtomicBool>,
    /// Deadline for one review (below the webhook's timeoutSeconds).
    pub deadline: Duration,
}

/// What a body comes to: the review to decide, or already the answer (a review
/// without a request) or the message of a 400 (not an AdmissionReview).
type Parsed<'b> = Result<Review<'b>, Result<Answer, String>>;

fn parse(body: &[u8]) -> Parsed<'_> {
    match Review::parse(body) {
        Ok(Ok(review)) => Ok(review),
        Ok(Err(answer)) => Err(Ok(answer)),
        Err(e) => Err(Err(format!("{e}\n"))),
    }
}

/// The review read once into the typed model and decided; only when key names
/// the caches lack must be read does it wait, to `deadline`.
pub(crate) async fn answer(
    s: &AppState,
    body: &[u8],
    deadline: tokio::time::Instant,
) -> Option<Result<Answer, String>> {
    let review = match parse(body) {
        Ok(review) => review,
        Err(answer) => return Some(answer),
    };
    let mode = mode(s, review.namespace());
    let subject = review.subject(mode);
    let unknown = match &s.key_reader {
        Some(_) => s.live.unknown_key_secrets(&subject.key_level_secrets()),
        None => Vec::new(),
    };
    if unknown.is_empty() {
        // Most reviews: decided at once over one view of the caches.
        let mut answer = None;
        s.live.with_view(review.namespace(), &mut |inventory| {
            answer = Some(review.decide(&subject, inventory, mode));
        });
        return answer.map(Ok);
    }
    // Reading Secrets runs to the deadline. Its future is large and rare: boxed,
    // it does not weigh on every review's.
    let read = Box::pin(tokio::time::timeout_at(deadline, read_keys(s, unknown)));
    let keys = read.await.ok()?;
    let inventory = WithKeys {
        base: s.live.as_ref(),
        keys,
    };
    Some(Ok(review.decide(&subject, &inventory, mode)))
}

/// The namespace's mode, or the default.
fn mode(s: &AppState, namespace: &str) -> Mode {
    match s.live.namespace_mode(namespace) {
        Some(Ok(mode)) => mode,
        Some(Err(e)) => {
            tracing::warn!(%namespace, "{e}; using the default mode");
            s.default_mode
        }
        None => s.default_mode,
    }
}

/// Key names of `secrets` (namespace, name), read one by one.
async fn read_keys(
    s: &AppState,
    secrets: Vec<(String, String)>,
) -> HashMap<(String, String), BTreeSet<String>> {
    let mut keys = HashMap::new();
    if let Some(reader) = &s.key_reader {
        for (ns, name) in secrets {
            if let Some(found) = reader(ns.clone(), name.clone()).await {
                keys.insert((ns, name), found);
            }
        }
    }
    keys
}
