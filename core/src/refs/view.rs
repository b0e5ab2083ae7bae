//! The parts of a workload that hold Secret references, read in one pass from
//! JSON text or from a parsed [`serde_json::Value`], borrowing strings where it
//! can and skipping everything else unparsed.
//!
//! Every field is [`Lax`]: a value of the wrong shape does not fail the parse
//! but is recorded as [`Lax::Wrong`], so the extractor reports it with the
//! field path people know (`containers[api].env`) and only where Kubernetes
//! would look for a pod spec.
//!
//! JSON text is read by [`Read`] with the pull reader of [`crate::json`] first,
//! into the same types and with the same outcome as serde would give; serde
//! reads it when the pull reader is [`Unsure`].

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::json::{self, Reader, Unsure};

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

/// A view type read by the pull reader, as its serde `Deserialize` reads it. Values
/// are read in place: the view's structs are large, and moving them costs.
pub(super) trait Read<'a> {
    /// Reads the next value into `out`, which is still `Absent`.
    fn read_into(r: &mut Reader<'a>, out: &mut Self) -> json::Result<()>;
}

/// A view struct's fields by JSON name. `seen` has a bit per field read so far: a
/// repeated field is left to serde (which refuses it; see `extract_json`).
pub(super) trait Fields<'a>: Default {
    /// Reads the value of `key` if it is one of the fields (`false`: not one, not read).
    fn field(&mut self, key: &str, r: &mut Reader<'a>, seen: &mut u32) -> json::Result<bool>;
}

/// A value of another shape than `Lax<T>` expects, starting with `first`.
fn other_shape<T>(r: &mut Reader<'_>, first: u8) -> json::Result<Lax<T>> {
    match first {
        b'n' => r.null().map(|()| Lax::Absent),
        // serde reads a number to see what it is, and may refuse it (1e400).
        b'-' | b'0'..=b'9' => Err(Unsure),
        _ => r.skip().map(|()| Lax::Wrong),
    }
}

impl<'a> Read<'a> for Lax<Cow<'a, str>> {
    fn read_into(r: &mut Reader<'a>, out: &mut Self) -> json::Result<()> {
        *out = match r.peek()? {
            b'"' => Lax::Got(r.string()?),
            first => other_shape(r, first)?,
        };
        Ok(())
    }
}

impl<'a> Read<'a> for Lax<bool> {
    fn read_into(r: &mut Reader<'a>, out: &mut Self) -> json::Result<()> {
        *out = match r.peek()? {
            b't' | b'f' => Lax::Got(r.bool()?),
            first => other_shape(r, first)?,
        };
        Ok(())
    }
}

impl<'a, T> Read<'a> for Lax<Vec<Lax<T>>>
where
    Lax<T>: Read<'a>,
{
    fn read_into(r: &mut Reader<'a>, out: &mut Self) -> json::Result<()> {
        *out = match r.peek()? {
            b'[' => {
                let mut items = Vec::new();
                r.array(|r| {
                    items.push(Lax::Absent);
                    let item = items.last_mut().ok_or(Unsure)?;
                    Lax::<T>::read_into(r, item)
                })?;
                Lax::Got(items)
            }
            first => other_shape(r, first)?,
        };
        Ok(())
    }
}

impl<'a, T: Fields<'a>> Read<'a> for Lax<Obj<T>> {
    fn read_into(r: &mut Reader<'a>, out: &mut Self) -> json::Result<()> {
        match r.peek()? {
            b'{' => {
                *out = Lax::Got(Obj(T::default()));
                if let Lax::Got(Obj(t)) = out {
                    let mut seen = 0;
                    r.object(|r, key| {
                        if t.field(key, r, &mut seen)? {
                            Ok(())
                        } else {
                            r.skip()
                        }
                    })?;
                }
            }
            first => *out = other_shape(r, first)?,
        }
        Ok(())
    }
}

impl<'a, T: Fields<'a>> Fields<'a> for Box<T> {
    fn field(&mut self, key: &str, r: &mut Reader<'a>, seen: &mut u32) -> json::Result<bool> {
        (**self).field(key, r, seen)
    }
}

impl<'a> Fields<'a> for Annotations {
    fn field(&mut self, key: &str, r: &mut Reader<'a>, _: &mut u32) -> json::Result<bool> {
        if !key.starts_with(crate::names::ANNOTATION_PREFIX) {
            return Ok(false);
        }
        // Like a map, the last of repeated keys counts.
        let mut value = Lax::Absent;
        Str::read_into(r, &mut value)?;
        if let Lax::Got(value) = value {
            self.0.insert(key.to_owned(), value.into_owned().into());
        }
        Ok(true)
    }
}

/// `Fields` for a view struct: its JSON field names, as serde's `rename` says; and
/// `field_named`, for readers that must know every field the view reads.
macro_rules! fields {
    ($($view:ident { $($name:literal => $field:ident),+ $(,)? })+) => {$(
        impl $view<'_> {
            /// The field named `key`, if it is one: its bit (in the order above) and name.
            #[inline(always)]
            pub(super) fn field_named(key: &str) -> Option<(u32, &'static str)> {
                let mut bit = 1u32;
                $(
                    if key == $name {
                        return Some((bit, $name));
                    }
                    bit <<= 1;
                )+
                let _ = bit;
                None
            }
        }

        impl<'a> Fields<'a> for $view<'a> {
            fn field(&mut self, key: &str, r: &mut Reader<'a>, seen: &mut u32) -> json::Result<bool> {
                let mut bit = 1u32;
                $(
                    if key == $name {
                        if *seen & bit != 0 {
                            return Err(Unsure);
                        }
                        *seen |= bit;
                        Read::read_into(r, &mut self.$field)?;
                        return Ok(true);
                    }
                    bit <<= 1;
                )+
                let _ = bit;
                Ok(false)
            }
        }
    )+};
}

fields! {
    Object { "apiVersion" => api_version, "kind" => kind, "metadata" => metadata, "spec" => spec }
    Metadata { "name" => name, "namespace" => namespace, "annotations" => annotations }
    Spec {
        "template" => template,
        "jobTemplate" => job_template,
        "serviceAccountName" => service_account_name,
        "serviceAccount" => service_account,
        "initContainers" => init_containers,
        "containers" => containers,
        "ephemeralContainers" => ephemeral_containers,
        "volumes" => volumes,
        "imagePullSecrets" => image_pull_secrets,
    }
    Template { "spec" => spec }
    Container { "name" => name, "env" => env, "envFrom" => env_from }
    Env { "name" => name, "valueFrom" => value_from }
    ValueFrom { "secretKeyRef" => secret_key_ref }
    EnvFrom { "secretRef" => secret_ref }
    Volume { "name" => name, "secret" => secret, "projected" => projected }
    Projected { "sources" => sources }
    ProjectedSource { "secret" => secret }
    SecretSource {
        "name" => name,
        "secretName" => secret_name,
        "key" => key,
        "optional" => optional,
        "items" => items,
    }
    Item { "key" => key }
    Named { "name" => name }
}
