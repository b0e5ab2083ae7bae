//! The pull reader's way into the [`super::model`]: the same values serde reads,
//! read by [`crate::json::Reader`] for the webhook's quick path, which is still
//! on it; serde reads a text when the pull reader is [`Unsure`].

use super::model::*;
use crate::json::{self, Reader, Unsure};

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

impl<'a> Read<'a> for Lax<Text<'a>> {
    fn read_into(r: &mut Reader<'a>, out: &mut Self) -> json::Result<()> {
        *out = match r.peek()? {
            b'"' => Lax::Got(Text(r.string()?)),
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

impl<'a, T: Fields<'a>> Read<'a> for Lax<T> {
    fn read_into(r: &mut Reader<'a>, out: &mut Self) -> json::Result<()> {
        match r.peek()? {
            b'{' => {
                *out = Lax::Got(T::default());
                if let Lax::Got(t) = out {
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
            self.0.insert(key.to_owned(), value.0.into_owned().into());
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
