//! Providers read from objects: a Secret (or its metadata and key stamp), a
//! SealedSecret, a Certificate, an ExternalSecret; the rules that say which
//! Secret each produces, with which keys, and whether it works.

use std::collections::BTreeSet;

use serde::Deserialize as _;
use serde_json::Value;

use super::{Keys, Provider, ProviderKind, Readiness};
use crate::{SealedSecret, SealedSecretSpec, names};

/// Keys the token controller fills into a `kubernetes.io/service-account-token` Secret.
const SERVICE_ACCOUNT_TOKEN_KEYS: [&str; 3] = ["ca.crt", "namespace", "token"];

/// A Secret object: its keys from `data`/`stringData`, or from sealgate's key stamp
/// when only metadata is known (e.g. a watch cache of metadata); otherwise unknown.
/// A service-account token Secret without data gets the keys the cluster fills in.
pub fn secret_provider(obj: &Value, namespace: &str, name: &str) -> Provider {
    let mut keys = BTreeSet::new();
    let mut has_data = false;
    for field in ["data", "stringData"] {
        if let Some(m) = obj.get(field).and_then(Value::as_object) {
            has_data = true;
            keys.extend(m.keys().cloned());
        }
    }
    let stamped = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(names::ANNOTATION_KEYS))
        .and_then(Value::as_str);
    let token = obj.get("type").and_then(Value::as_str) == Some("kubernetes.io/service-account-token");
    let keys = match (has_data, stamped) {
        (true, _) if token => {
            keys.extend(SERVICE_ACCOUNT_TOKEN_KEYS.map(str::to_owned));
            Keys::Known(keys)
        }
        (true, _) => Keys::Known(keys),
        (false, None) if token => Keys::Known(SERVICE_ACCOUNT_TOKEN_KEYS.map(str::to_owned).into()),
        (false, stamped) => return secret_metadata_provider(stamped, namespace, name),
    };
    Provider {
        keys,
        ..secret_metadata_provider(None, namespace, name)
    }
}

/// A Secret known by its metadata only (the webhook's cache): its keys are those of
/// the controller's `sealgate.dev/keys` stamp when it has one, else unknown.
pub fn secret_metadata_provider(stamp: Option<&str>, namespace: &str, name: &str) -> Provider {
    Provider {
        kind: ProviderKind::Secret,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        keys: stamp.map_or(Keys::Unknown, |s| Keys::Known(parse_key_stamp(s))),
        readiness: Readiness::Ready,
    }
}

/// Parses the controller's `sealgate.dev/keys` stamp: sorted, comma-separated key names.
pub fn parse_key_stamp(stamp: &str) -> BTreeSet<String> {
    stamp
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A SealedSecret object: keys of `encryptedData` and of `template.data`;
/// readiness from its Ready condition.
pub fn sealed_secret_provider(obj: &Value, namespace: &str, name: &str) -> Provider {
    // A spec that does not read as one produces nothing.
    let spec = obj
        .get("spec")
        .map(SealedSecretSpec::deserialize)
        .and_then(Result::ok);
    let keys = spec
        .iter()
        .flat_map(|s| s.produced_keys())
        .map(str::to_owned)
        .collect();
    let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = obj.pointer("/status/observedGeneration").and_then(Value::as_i64);
    Provider {
        kind: ProviderKind::SealedSecret,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        keys: Keys::Known(keys),
        readiness: current(ready_condition(obj), generation, observed),
    }
}

/// A typed SealedSecret (as the watch caches hold it): the same rules as
/// [`sealed_secret_provider`], without a detour through JSON.
pub fn sealed_secret_provider_of(sealed: &SealedSecret, namespace: &str, name: &str) -> Provider {
    Provider {
        kind: ProviderKind::SealedSecret,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        keys: Keys::Known(sealed.produced_keys().map(str::to_owned).collect()),
        readiness: sealed_secret_readiness(sealed),
    }
}

fn sealed_secret_readiness(sealed: &SealedSecret) -> Readiness {
    let ready = sealed.ready_condition().map_or(Readiness::Unknown, |c| {
        readiness(Some(&c.status), &c.reason, &c.message)
    });
    let observed = sealed.status.as_ref().and_then(|s| s.observed_generation);
    current(ready, sealed.metadata.generation, observed)
}

/// A condition describing an older spec than `generation` says nothing about this one.
fn current(readiness: Readiness, generation: Option<i64>, observed: Option<i64>) -> Readiness {
    match (generation, observed) {
        (Some(g), Some(o)) if o < g => Readiness::Unknown,
        _ => readiness,
    }
}

/// The condition of type `type_` in `status.conditions`.
fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// Readiness from a `Ready` condition in `status.conditions`.
fn ready_condition(obj: &Value) -> Readiness {
    let Some(c) = condition(obj, names::CONDITION_READY) else {
        return Readiness::Unknown;
    };
    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
    readiness(
        c.get("status").and_then(Value::as_str),
        text("reason"),
        text("message"),
    )
}

/// Readiness from the status, reason and message of a `Ready` condition.
fn readiness(status: Option<&str>, reason: &str, message: &str) -> Readiness {
    match status {
        Some("True") => Readiness::Ready,
        Some("False") => Readiness::Failed {
            reason: reason.to_owned(),
            message: message.to_owned(),
        },
        _ => Readiness::Unknown,
    }
}

/// `target.creationPolicy: None`: the ExternalSecret never creates the Secret.
pub(super) fn creates_nothing(spec: &Value) -> bool {
    spec.pointer("/target/creationPolicy").and_then(Value::as_str) == Some("None")
}

pub(super) fn target_name(spec: &Value, default: &str) -> String {
    spec.pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
        .to_owned()
}

/// Keys of an ExternalSecret spec: `data[].secretKey`, or the template's keys;
/// unknown when `dataFrom` or `templateFrom` can add keys not named here.
pub(super) fn external_secret_keys(spec: &Value) -> Keys {
    let non_empty = |p: &str| {
        spec.pointer(p)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    if non_empty("/dataFrom") || non_empty("/target/template/templateFrom") {
        return Keys::Unknown;
    }
    let data: BTreeSet<String> = spec
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("secretKey").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let Some(template) = spec.pointer("/target/template/data").and_then(Value::as_object) else {
        return Keys::Known(data);
    };
    let mut keys: BTreeSet<String> = template.keys().cloned().collect();
    // With mergePolicy Merge the fetched keys stay beside the templated ones.
    if spec
        .pointer("/target/template/mergePolicy")
        .and_then(Value::as_str)
        == Some("Merge")
    {
        keys.extend(data);
    }
    Keys::Known(keys)
}

/// A cert-manager Certificate: the Secret it writes (`spec.secretName`) and itself as
/// its provider (`tls.crt`, `tls.key`, `ca.crt`); `None` without a Secret name.
pub fn certificate_provider(obj: &Value, namespace: &str, name: String) -> Option<(String, Provider)> {
    let secret = obj.pointer("/spec/secretName").and_then(Value::as_str)?;
    let keys = ["tls.crt", "tls.key", "ca.crt"]
        .map(str::to_owned)
        .into_iter()
        .collect();
    // While a certificate is being issued it is not Ready, yet nothing has failed.
    let issuing =
        condition(obj, "Issuing").is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"));
    let readiness = if issuing {
        Readiness::Unknown
    } else {
        ready_condition(obj)
    };
    let p = Provider {
        kind: ProviderKind::Certificate,
        namespace: namespace.to_owned(),
        name,
        keys: Keys::Known(keys),
        readiness,
    };
    Some((secret.to_owned(), p))
}

/// An External Secrets ExternalSecret: the Secret it writes (`spec.target.name`, else
/// its own name) and itself as its provider; `None` when it creates nothing.
pub fn external_secret_provider(obj: &Value, namespace: &str, name: String) -> Option<(String, Provider)> {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if creates_nothing(spec) {
        return None;
    }
    let target = target_name(spec, &name);
    let p = Provider {
        kind: ProviderKind::ExternalSecret,
        namespace: namespace.to_owned(),
        name,
        keys: external_secret_keys(spec),
        readiness: ready_condition(obj),
    };
    Some((target, p))
}
