//! The typed model of what in a workload refers to Secrets: serde-derived types
//! that borrow their strings from the input (JSON text, or a parsed
//! [`serde_json::Value`]) and skip every other field without building anything.
//!
//! Every field is a [`Lax`]: a value of the wrong shape does not fail the read
//! but is recorded as [`Lax::Wrong`], so [`super::extract`] reports it with the
//! field path people know (`containers[api].env`), and only where Kubernetes
//! looks for a pod spec.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{
    self, Deserialize, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

/// A field as found.
#[derive(Debug, Default)]
pub enum Lax<T> {
    /// Absent or `null`.
    #[default]
    Absent,
    /// Of the expected shape.
    Got(T),
    /// Of another shape (a list where a mapping belongs, …).
    Wrong,
}

/// The JSON shape a type is read from: what [`Lax`] delegates to it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// `true` or `false`.
    Bool,
    /// A list.
    List,
    /// A mapping.
    Map,
}

/// The shape a type of the model is read from.
pub trait Shape {
    /// That shape.
    const SHAPE: Kind;
}

impl Shape for Text<'_> {
    const SHAPE: Kind = Kind::Str;
}

impl Shape for bool {
    const SHAPE: Kind = Kind::Bool;
}

impl<T> Shape for Vec<T> {
    const SHAPE: Kind = Kind::List;
}

impl<T: Shape> Shape for Box<T> {
    const SHAPE: Kind = T::SHAPE;
}

impl<'de, T: Deserialize<'de> + Shape> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LaxVisitor(PhantomData))
    }
}

struct LaxVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Shape> LaxVisitor<T> {
    /// `T` read from `d` when `shape` is its own, else `Wrong`.
    fn read<D: Deserializer<'de>>(shape: Kind, d: D) -> Result<Lax<T>, D::Error> {
        if T::SHAPE == shape {
            T::deserialize(d).map(Lax::Got)
        } else {
            Ok(Lax::Wrong)
        }
    }
}

impl<'de, T: Deserialize<'de> + Shape> Visitor<'de> for LaxVisitor<T> {
    type Value = Lax<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Self::read(Kind::Bool, v.into_deserializer())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lax::Wrong)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lax::Wrong)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lax::Wrong)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Self::read(Kind::Str, BorrowedStrDeserializer::new(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::read(Kind::Str, v.to_owned().into_deserializer())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Self::read(Kind::Str, v.into_deserializer())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lax::Absent)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lax::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if T::SHAPE != Kind::List {
            IgnoredAny.visit_seq(seq)?;
            return Ok(Lax::Wrong);
        }
        Self::read(Kind::List, SeqAccessDeserializer::new(seq))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        if T::SHAPE != Kind::Map {
            IgnoredAny.visit_map(map)?;
            return Ok(Lax::Wrong);
        }
        Self::read(Kind::Map, MapAccessDeserializer::new(map))
    }
}

/// Text, borrowed from the input unless it had escapes (or came from YAML).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Borrowing<'a>(PhantomData<&'a str>);
        impl<'de: 'a, 'a> Visitor<'de> for Borrowing<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Borrowing(PhantomData))
    }
}

/// Text as found.
pub type Str<'a> = Lax<Text<'a>>;
/// A list whose elements are each as found.
pub type List<T> = Lax<Vec<Lax<T>>>;

/// `metadata.annotations`, keeping only sealgate's own (`sealgate.dev/…`, string
/// values): the rest, e.g. a large `last-applied-configuration`, is skipped unread.
#[derive(Debug, Default)]
pub struct Annotations(pub serde_json::Map<String, serde_json::Value>);

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
                    match key {
                        Lax::Got(key) if key.starts_with(crate::names::ANNOTATION_PREFIX) => {
                            if let Lax::Got(value) = map.next_value::<Str<'de>>()? {
                                out.insert(key.0.into_owned(), value.0.into_owned().into());
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Annotations(out))
            }
        }
        d.deserialize_map(Keys)
    }
}

/// Mapping-shaped model types.
macro_rules! mappings {
    ($($t:ty),+) => {$(
        impl Shape for $t {
            const SHAPE: Kind = Kind::Map;
        }
    )+};
}

mappings!(
    Annotations,
    Object<'_>,
    Metadata<'_>,
    Spec<'_>,
    Template<'_>,
    Container<'_>,
    Env<'_>,
    ValueFrom<'_>,
    EnvFrom<'_>,
    Volume<'_>,
    Projected<'_>,
    ProjectedSource<'_>,
    SecretSource<'_>,
    Item<'_>,
    Named<'_>
);

/// A workload object: what [`super::extract`] reads of it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Object<'a> {
    #[serde(borrow)]
    pub api_version: Str<'a>,
    #[serde(borrow)]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub metadata: Lax<Metadata<'a>>,
    #[serde(borrow)]
    pub spec: Lax<Spec<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Metadata<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub namespace: Str<'a>,
    pub annotations: Lax<Annotations>,
}

/// Any `spec` on the way to a pod spec, and the pod spec itself: a Deployment's
/// `spec` has a `template`, whose `spec` has `containers`; a CronJob's has a
/// `jobTemplate` whose `spec` has a `template`. Which fields count depends on the kind.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spec<'a> {
    #[serde(borrow)]
    pub template: Lax<Template<'a>>,
    #[serde(borrow)]
    pub job_template: Lax<Template<'a>>,
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
pub struct Template<'a> {
    #[serde(borrow)]
    pub spec: Lax<Box<Spec<'a>>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub env: List<Env<'a>>,
    #[serde(borrow)]
    pub env_from: List<EnvFrom<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Env<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub value_from: Lax<ValueFrom<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ValueFrom<'a> {
    #[serde(borrow)]
    pub secret_key_ref: Lax<SecretSource<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvFrom<'a> {
    #[serde(borrow)]
    pub secret_ref: Lax<SecretSource<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Volume<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub secret: Lax<SecretSource<'a>>,
    #[serde(borrow)]
    pub projected: Lax<Projected<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Projected<'a> {
    #[serde(borrow)]
    pub sources: List<ProjectedSource<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ProjectedSource<'a> {
    #[serde(borrow)]
    pub secret: Lax<SecretSource<'a>>,
}

/// Every way of naming a Secret: `secretKeyRef` (name, key), `secretRef` (name),
/// a secret volume (secretName, items) and a projected source (name, items).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretSource<'a> {
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
pub struct Item<'a> {
    #[serde(borrow)]
    pub key: Str<'a>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Named<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
}
