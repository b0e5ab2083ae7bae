//! The parts of a workload that hold Secret references, read in one pass from
//! JSON text or from a parsed [`serde_json::Value`], borrowing strings where it
//! can and skipping everything else unparsed.
//!
//! Every field is [`Lax`]: a value of the wrong shape does not fail the parse
//! but is recorded as [`Lax::Wrong`], so the extractor reports it with the
//! field path people know (`containers[api].env`) and only where Kubernetes
//! would look for a pod spec.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A field as found.
#[derive(Debug, Default)]
pub(super) enum Lax<T> {
    /// Absent or `null`.
    #[default]
    Absent,
    /// Of the expected shape.
    Got(T),
    /// Of another shape (a list where a mapping belongs, …).
    Wrong,
}

impl<T> Lax<T> {
    /// `Absent` unless the value is there and passes `keep`.
    fn filter(self, keep: impl FnOnce(&T) -> bool) -> Self {
        match self {
            Lax::Got(t) if keep(&t) => Lax::Got(t),
            _ => Lax::Absent,
        }
    }
}

/// A mapping read into `T`.
#[derive(Debug)]
pub(super) struct Obj<T>(pub T);

/// Text, borrowed from the input unless it had escapes.
pub(super) type Str<'a> = Lax<Cow<'a, str>>;
/// A list of mappings.
pub(super) type List<T> = Lax<Vec<Lax<Obj<T>>>>;

/// Visitor methods for every shape `$visitor` does not expect: drain it, say `Wrong`.
macro_rules! wrong_otherwise {
    ($($skip:ident)*) => {
        $(wrong_otherwise!(@one $skip);)*
    };
    (@one bool) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok(Lax::Wrong) }
    };
    (@one num) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok(Lax::Wrong) }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok(Lax::Wrong) }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok(Lax::Wrong) }
    };
    (@one str) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok(Lax::Wrong) }
    };
    (@one seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Lax::Wrong)
        }
    };
    (@one map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Lax::Wrong)
        }
    };
    (@one null) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok(Lax::Absent) }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> { Ok(Lax::Absent) }
    };
}

struct StrVisitor<'a>(PhantomData<&'a str>);

impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
    type Value = Lax<Cow<'a, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Lax::Got(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Lax::Got(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Lax::Got(Cow::Owned(v)))
    }
    wrong_otherwise!(bool num seq map null);
}

impl<'de: 'a, 'a> Deserialize<'de> for Lax<Cow<'a, str>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor(PhantomData))
    }
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = Lax<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Lax::Got(v))
    }
    wrong_otherwise!(num str seq map null);
}

impl<'de> Deserialize<'de> for Lax<bool> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor)
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = Lax<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Lax::Got(items))
    }
    wrong_otherwise!(bool num str map null);
}

impl<'de, T> Deserialize<'de> for Lax<Vec<Lax<T>>>
where
    Lax<T>: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Lax<Obj<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Lax::Got(Obj(t)))
    }
    wrong_otherwise!(bool num str seq null);
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lax<Obj<T>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

/// `metadata.annotations`, keeping only sealgate's own (`sealgate.dev/…`, string
/// values): the rest, e.g. a large `last-applied-configuration`, is skipped unread.
#[derive(Debug, Default)]
pub(super) struct Annotations(pub serde_json::Map<String, serde_json::Value>);

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Annotations;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    let Lax::Got(key) = key.filter(|k| k.starts_with(crate::names::ANNOTATION_PREFIX)) else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    if let Lax::Got(value) = map.next_value::<Str<'de>>()? {
                        out.insert(key.into_owned(), value.into_owned().into());
                    }
                }
                Ok(Annotations(out))
            }
        }
        d.deserialize_map(Keys)
    }
}

/// A workload object: what [`super::extract`] reads of it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Object<'a> {
    #[serde(borrow)]
    pub api_version: Str<'a>,
    #[serde(borrow)]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub metadata: Lax<Obj<Metadata<'a>>>,
    #[serde(borrow)]
    pub spec: Lax<Obj<Spec<'a>>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct Metadata<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub namespace: Str<'a>,
    pub annotations: Lax<Obj<Annotations>>,
}

/// Any `spec` on the way to a pod spec, and the pod spec itself: a Deployment's
/// `spec` has a `template`, whose `spec` has `containers`; a CronJob's has a
/// `jobTemplate` whose `spec` has a `template`. Which fields count depends on the kind.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Spec<'a> {
    #[serde(borrow)]
    pub template: Lax<Obj<Template<'a>>>,
    #[serde(borrow)]
    pub job_template: Lax<Obj<Template<'a>>>,
    #[serde(borrow)]
    pub service_account_name: Str<'a>,
    #[serde(borrow)]
    pub service_account: Str<'a>,
    #[serde(borrow)]
    pub init_containers: List<Container<'a>>,
    #[serde(borrow)]
    pub containers: List<Container<'a>>,
    #[serde(borrow)]
    pub ephemeral_containers: List<Container<'a>>,
    #[serde(borrow)]
    pub volumes: List<Volume<'a>>,
    #[serde(borrow)]
    pub image_pull_secrets: List<Named<'a>>,
}

/// A pod template or job template: only its `spec` matters.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct Template<'a> {
    #[serde(borrow)]
    pub spec: Lax<Obj<Box<Spec<'a>>>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Container<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub env: List<Env<'a>>,
    #[serde(borrow)]
    pub env_from: List<EnvFrom<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Env<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub value_from: Lax<Obj<ValueFrom<'a>>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ValueFrom<'a> {
    #[serde(borrow)]
    pub secret_key_ref: Lax<Obj<SecretSource<'a>>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct EnvFrom<'a> {
    #[serde(borrow)]
    pub secret_ref: Lax<Obj<SecretSource<'a>>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct Volume<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub secret: Lax<Obj<SecretSource<'a>>>,
    #[serde(borrow)]
    pub projected: Lax<Obj<Projected<'a>>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct Projected<'a> {
    #[serde(borrow)]
    pub sources: List<ProjectedSource<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ProjectedSource<'a> {
    #[serde(borrow)]
    pub secret: Lax<Obj<SecretSource<'a>>>,
}

/// Every way of naming a Secret: `secretKeyRef` (name, key), `secretRef` (name),
/// a secret volume (secretName, items) and a projected source (name, items).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct SecretSource<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub secret_name: Str<'a>,
    #[serde(borrow)]
    pub key: Str<'a>,
    pub optional: Lax<bool>,
    #[serde(borrow)]
    pub items: List<Item<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct Item<'a> {
    #[serde(borrow)]
    pub key: Str<'a>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct Named<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
}
