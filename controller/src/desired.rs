//! What the Secret produced by a SealedSecret must look like, and whether an
//! existing Secret may be touched: pure functions, no I/O.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use sealgate_core::{PlainSecret, SealedSecret, names};
use zeroize::Zeroize;

/// A Secret holding values (the one we apply, or one read back), wiped from
/// memory when dropped.
#[derive(Default)]
pub struct Wiped(pub Secret);

impl std::ops::Deref for Wiped {
    type Target = Secret;

    fn deref(&self) -> &Secret {
        &self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites every value of `secret` with zeros and empties it.
fn wipe(secret: &mut Secret) {
    for v in secret.data.iter_mut().flat_map(|d| d.values_mut()) {
        v.0.zeroize();
    }
    for v in secret.string_data.iter_mut().flat_map(|d| d.values_mut()) {
        v.zeroize();
    }
}

/// The Secret to server-side apply for `sealed`, from its unsealed values.
///
/// Carries the template's type, immutability, labels and annotations, a
/// controller ownerReference (so deletion cascades), and annotations stamping
/// the sorted key names and the source generation. Never a hash of plaintext.
pub fn secret_for(sealed: &SealedSecret, plain: &PlainSecret) -> Secret {
    let mut annotations = plain.annotations.clone();
    let keys: Vec<&str> = plain.data.keys().map(String::as_str).collect();
    annotations.insert(names::ANNOTATION_KEYS.to_owned(), keys.join(","));
    annotations.insert(
        names::ANNOTATION_SOURCE_GENERATION.to_owned(),
        sealed.metadata.generation.unwrap_or(0).to_string(),
    );
    Secret {
        metadata: ObjectMeta {
            name: sealed.metadata.name.clone(),
            namespace: sealed.metadata.namespace.clone(),
            labels: (!plain.labels.is_empty()).then(|| plain.labels.clone()),
            annotations: Some(annotations),
            owner_references: sealed.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        type_: Some(plain.type_.clone().unwrap_or_else(|| "Opaque".to_owned())),
        immutable: plain.immutable,
        data: Some(
            plain
                .data
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}

/// What may be done with the Secret that has the SealedSecret's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// No such Secret: create it.
    Absent,
    /// Controlled by this SealedSecret, or annotated as managed: apply over it.
    Owned,
    /// Someone else's: leave it alone and say so.
    NotManaged {
        /// Who controls it, when an ownerReference says.
        controller: Option<String>,
    },
}

/// Decides whether `existing` belongs to `sealed` (same controller uid) or opts in.
pub fn ownership(sealed: &SealedSecret, existing: Option<&ObjectMeta>) -> Ownership {
    let Some(meta) = existing else {
        return Ownership::Absent;
    };
    let controller: Option<&OwnerReference> = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    match (controller, sealed.meta().uid.as_deref()) {
        (Some(o), Some(uid)) if o.uid == uid => return Ownership::Owned,
        _ => {}
    }
    let opted_in = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::ANNOTATION_MANAGED))
        .is_some_and(|v| v == "true");
    // An opted-in Secret controlled by another object stays that object's.
    if opted_in && controller.is_none() {
        return Ownership::Owned;
    }
    Ownership::NotManaged {
        controller: controller.map(|o| format!("{} {}", o.kind, o.name)),
    }
}

/// Whether `existing` differs from `desired` in anything server-side apply sets
/// (the values of the keys sealgate produces, type, immutability, the labels and
/// annotations it sets, the owner). Keys only `existing` has are
/// [`foreign_keys`]. Compares in place: no value is copied.
pub fn differs(existing: &Secret, desired: &Secret) -> bool {
    let have = existing.data.as_ref();
    let data_differs = desired
        .data
        .iter()
        .flatten()
        .any(|(k, v)| have.and_then(|h| h.get(k)) != Some(v));
    let sub_map = |have: &Option<BTreeMap<String, String>>, want: &Option<BTreeMap<String, String>>| {
        want.iter()
            .flatten()
            .any(|(k, v)| have.as_ref().and_then(|h| h.get(k)) != Some(v))
    };
    fn owners(s: &Secret) -> &[OwnerReference] {
        s.metadata.owner_references.as_deref().unwrap_or_default()
    }
    data_differs
        || existing.type_.as_deref().unwrap_or("Opaque") != desired.type_.as_deref().unwrap_or("Opaque")
        || existing.immutable.unwrap_or(false) != desired.immutable.unwrap_or(false)
        || sub_map(&existing.metadata.labels, &desired.metadata.labels)
        || sub_map(&existing.metadata.annotations, &desired.metadata.annotations)
        || !owners(desired)
            .iter()
            .all(|o| owners(existing).iter().any(|e| e.uid == o.uid))
}

/// The data keys of `existing` that `desired` does not produce: added by someone
/// else, or left from an older generation. Git is the source of truth, so they
/// are removed ([`removal_patch`]). Names only.
pub fn foreign_keys<'a>(existing: &'a Secret, desired: &Secret) -> Vec<&'a str> {
    let want = desired.data.as_ref();
    existing
        .data
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .filter(|k| !want.is_some_and(|w| w.contains_key(*k)))
        .collect()
}

/// A JSON merge patch removing `keys` from the data of `existing`, valid only
/// while `existing` is unchanged.
///
/// Server-side apply cannot do this: it removes only fields its own manager
/// owns, and a key another manager wrote stays owned by that manager. A merge
/// patch sets `data.<key>: null` whoever owns it. The `resourceVersion` of the
/// Secret that was read makes it a precondition: if the Secret changed or was
/// replaced by someone else's in between, the API server answers 409 Conflict
/// and nothing is removed. The patch holds key names only, never a value.
pub fn removal_patch(existing: &Secret, keys: &[&str]) -> serde_json::Value {
    let data: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| ((*k).to_owned(), serde_json::Value::Null))
        .collect();
    let mut metadata = serde_json::Map::new();
    if let Some(rv) = &existing.metadata.resource_version {
        metadata.insert("resourceVersion".to_owned(), rv.clone().into());
    }
    serde_json::json!({"metadata": metadata, "data": data})
}

/// Whether `existing` cannot be updated in place to become `desired`: an
/// immutable Secret with other content, or a changed type. It is replaced.
pub fn needs_replacement(existing: &Secret, desired: &Secret) -> bool {
    let type_changed =
        existing.type_.as_deref().unwrap_or("Opaque") != desired.type_.as_deref().unwrap_or("Opaque");
    let frozen = existing.immutable == Some(true)
        && (existing.data != desired.data || desired.immutable != Some(true));
    type_changed || frozen
}

/// The generation the existing Secret was produced from, per its stamp.
pub fn stamped_generation(existing: &ObjectMeta) -> Option<i64> {
    existing
        .annotations
        .as_ref()?
        .get(names::ANNOTATION_SOURCE_GENERATION)?
        .parse()
        .ok()
}

/// Whether the Secret opts out of drift correction.
pub fn skips_drift_correction(existing: &ObjectMeta) -> bool {
    existing
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::ANNOTATION_SKIP_DRIFT))
        .is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealgate_core::SecretBytes;

    fn sealed() -> SealedSecret {
        let mut s = SealedSecret::new("db", Default::default());
        s.metadata.namespace = Some("prod".into());
        s.metadata.uid = Some("uid-1".into());
        s.metadata.generation = Some(3);
        s
    }

    fn plain() -> PlainSecret {
        let mut p = PlainSecret {
            name: "db".into(),
            namespace: Some("prod".into()),
            ..Default::default()
        };
        p.data.insert("user".into(), SecretBytes::copy_from(b"u"));
        p.data.insert("password".into(), SecretBytes::copy_from(b"p"));
        p.labels.insert("app".into(), "db".into());
        p.type_ = Some("kubernetes.io/basic-auth".into());
        p
    }

    #[test]
    fn desired_secret_has_stamps_owner_and_template() {
        let s = secret_for(&sealed(), &plain());
        let a = s.metadata.annotations.as_ref().unwrap();
        assert_eq!(a[names::ANNOTATION_KEYS], "password,user");
        assert_eq!(a[names::ANNOTATION_SOURCE_GENERATION], "3");
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("SealedSecret", "uid-1", Some(true))
        );
        assert_eq!(owner.api_version, names::API_VERSION);
        assert_eq!(s.type_.as_deref(), Some("kubernetes.io/basic-auth"));
        assert_eq!(s.data.as_ref().unwrap()["password"].0, b"p");
        assert_eq!(s.metadata.labels.as_ref().unwrap()["app"], "db");
    }

    #[test]
    fn ownership_decisions() {
        let sealed = sealed();
        assert_eq!(ownership(&sealed, None), Ownership::Absent);
        let owned = secret_for(&sealed, &plain());
        assert_eq!(ownership(&sealed, Some(&owned.metadata)), Ownership::Owned);
        let foreign = ObjectMeta {
            name: Some("db".into()),
            ..Default::default()
        };
        assert_eq!(
            ownership(&sealed, Some(&foreign)),
            Ownership::NotManaged { controller: None }
        );
        let mut opted = foreign.clone();
        opted.annotations = Some([(names::ANNOTATION_MANAGED.to_owned(), "true".to_owned())].into());
        assert_eq!(ownership(&sealed, Some(&opted)), Ownership::Owned);
        let mut other_owner = opted.clone();
        other_owner.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "x".into(),
            uid: "uid-9".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        assert_eq!(
            ownership(&sealed, Some(&other_owner)),
            Ownership::NotManaged {
                controller: Some("Deployment x".into())
            }
        );
    }

    #[test]
    fn values_are_wiped_and_names_kept() {
        let mut secret = Secret {
            data: Some([("password".to_owned(), ByteString(b"hunter2".to_vec()))].into()),
            string_data: Some([("token".to_owned(), "t0ken".to_owned())].into()),
            ..Secret::default()
        };
        wipe(&mut secret);
        assert_eq!(secret.data.as_ref().map(|d| d["password"].0.len()), Some(0));
        assert_eq!(secret.string_data.as_ref().map(|d| d["token"].len()), Some(0));
    }

    #[test]
    fn drift_and_replacement() {
        let desired = secret_for(&sealed(), &plain());
        assert!(!differs(&desired, &desired));
        let mut edited = desired.clone();
        edited
            .data
            .as_mut()
            .unwrap()
            .insert("password".into(), ByteString(b"hacked".to_vec()));
        assert!(differs(&edited, &desired));
        let mut extra_label = desired.clone();
        extra_label
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("added-by-someone".into(), "x".into());
        assert!(
            !differs(&extra_label, &desired),
            "labels we do not set are not drift"
        );
        assert!(!needs_replacement(&edited, &desired));
        let mut frozen = edited.clone();
        frozen.immutable = Some(true);
        assert!(needs_replacement(&frozen, &desired));
        let mut retyped = desired.clone();
        retyped.type_ = Some("Opaque".into());
        assert!(needs_replacement(&retyped, &desired));
        assert_eq!(stamped_generation(&desired.metadata), Some(3));
    }

    #[test]
    fn foreign_keys_are_named_apart_and_removed_by_name() {
        let desired = secret_for(&sealed(), &plain());
        assert!(foreign_keys(&desired, &desired).is_empty());
        let mut extra = desired.clone();
        extra.metadata.resource_version = Some("41".into());
        extra
            .data
            .as_mut()
            .unwrap()
            .insert("added".into(), ByteString(b"by-someone".to_vec()));
        assert!(
            !differs(&extra, &desired),
            "a foreign key is not a reason to apply: apply cannot remove it"
        );
        assert_eq!(foreign_keys(&extra, &desired), ["added"]);
        let patch = removal_patch(&extra, &foreign_keys(&extra, &desired));
        assert_eq!(
            patch,
            serde_json::json!({"metadata": {"resourceVersion": "41"}, "data": {"added": null}})
        );
        let mut missing = desired.clone();
        missing.data.as_mut().unwrap().remove("user");
        assert!(differs(&missing, &desired), "a missing key is drift");
        let mut frozen = extra.clone();
        frozen.immutable = Some(true);
        let mut frozen_desired = desired.clone();
        frozen_desired.immutable = Some(true);
        assert!(
            needs_replacement(&frozen, &frozen_desired),
            "keys cannot be removed from an immutable Secret"
        );
    }
}
