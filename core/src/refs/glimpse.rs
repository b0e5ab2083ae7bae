//! A workload's references read straight off its JSON text, for the webhook's
//! glance: no view is built and no field path is kept, only what
//! [`crate::policy::glimpse_passes`] checks.
//!
//! It reads only workloads in their plain form, the form the API server sends:
//! `apiVersion` and `kind` before `spec`, every field the view reads of the
//! expected shape (text without escapes, lists of mappings, `optional` a
//! boolean), no field where the walk would not look for it (a `template` in a
//! pod spec, `items` in a `secretKeyRef`), no sealgate annotation. Anything else
//! is [`Unsure`], and the caller reads the view, which judges it. On what it
//! reads, it finds the references, namespace and service account that the
//! view's [`super::Head::walk`] finds; tests hold the two together.

use super::model::{
    Container, Env, EnvFrom, Item, Metadata, Named, Object, Projected, ProjectedSource, SecretSource, Spec,
    Template, ValueFrom, Volume,
};
use super::pod_spec_path;
use crate::json::{Reader, Result, Unsure};
use crate::names::ANNOTATION_PREFIX;

/// A reference as the glance checks it, borrowed from the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ref<'a> {
    /// Secret name (may be empty).
    pub secret: &'a str,
    /// The key, when the reference needs one (may be empty).
    pub key: Option<&'a str>,
    /// `optional: true`.
    pub optional: bool,
}

/// What the glance needs of a plain workload: see the module documentation.
#[derive(Debug)]
pub struct Glimpse<'a> {
    namespace: &'a str,
    service_account: &'a str,
    refs: Vec<Ref<'a>>,
}

impl<'a> Glimpse<'a> {
    /// Reads the workload at the reader's position; [`Unsure`]: read its view instead.
    pub fn read(r: &mut Reader<'a>) -> Result<Self> {
        let (mut api_version, mut kind, mut namespace) = (None, None, "");
        let mut pod = Pod {
            found: false,
            service_account: (None, None),
            // Enough for most workloads' references in one allocation.
            refs: Vec::with_capacity(16),
        };
        fields(r, Object::field_named, |r, field| match field {
            "apiVersion" => text(r).map(|t| api_version = Some(t)),
            "kind" => text(r).map(|t| kind = Some(t)),
            "metadata" => metadata(r, &mut namespace),
            _ => {
                // The view takes the pod spec's place from the type: it must be known here.
                let path = pod_spec_path(api_version.ok_or(Unsure)?, kind.ok_or(Unsure)?).ok_or(Unsure)?;
                spec(r, path, &mut pod)
            }
        })?;
        // A type after `spec`, or none, is caught above or here.
        pod_spec_path(api_version.ok_or(Unsure)?, kind.ok_or(Unsure)?).ok_or(Unsure)?;
        let service_account = match pod.service_account {
            _ if !pod.found => "",
            (Some(name), _) | (None, Some(name)) if !name.is_empty() => name,
            _ => "default",
        };
        Ok(Glimpse {
            namespace,
            service_account,
            refs: pod.refs,
        })
    }

    /// The workload's namespace: its own, or `default_namespace` (the request's).
    pub fn namespace<'s>(&'s self, default_namespace: &'s str) -> &'s str {
        if self.namespace.is_empty() {
            default_namespace
        } else {
            self.namespace
        }
    }

    /// The pod's service account (`default` when unset; empty without a pod spec).
    pub fn service_account(&self) -> &str {
        self.service_account
    }

    /// The references, in the order of the text.
    pub fn refs(&self) -> &[Ref<'a>] {
        &self.refs
    }
}

/// What is read of the pod spec.
struct Pod<'a> {
    found: bool,
    /// `serviceAccountName`, `serviceAccount`.
    service_account: (Option<&'a str>, Option<&'a str>),
    refs: Vec<Ref<'a>>,
}

/// Reads a mapping whose members that `named` knows (the fields a view struct
/// reads: [`Spec::field_named`], …) go to `member`, each at most once; the others
/// are skipped.
fn fields<'a>(
    r: &mut Reader<'a>,
    named: impl Fn(&str) -> Option<(u32, &'static str)>,
    mut member: impl FnMut(&mut Reader<'a>, &'static str) -> Result<()>,
) -> Result<()> {
    let mut seen = 0u32;
    r.object(|r, key| match named(key) {
        Some((bit, field)) => {
            if seen & bit != 0 {
                return Err(Unsure);
            }
            seen |= bit;
            member(r, field)
        }
        None => r.skip(),
    })
}

/// Text without escapes.
fn text<'a>(r: &mut Reader<'a>) -> Result<&'a str> {
    match r.string()? {
        std::borrow::Cow::Borrowed(text) => Ok(text),
        std::borrow::Cow::Owned(_) => Err(Unsure),
    }
}

fn metadata<'a>(r: &mut Reader<'a>, namespace: &mut &'a str) -> Result<()> {
    fields(r, Metadata::field_named, |r, field| match field {
        "name" => text(r).map(drop),
        "namespace" => text(r).map(|t| *namespace = t),
        // sealgate's own annotations are for the full decision.
        _ => r.object(|r, key| {
            if key.starts_with(ANNOTATION_PREFIX) {
                return Err(Unsure);
            }
            r.skip()
        }),
    })
}

/// The object's `spec`, down `path` to the pod spec.
fn spec<'a>(r: &mut Reader<'a>, path: &str, pod: &mut Pod<'a>) -> Result<()> {
    match path {
        "spec" => pod_spec(r, pod),
        "spec.template.spec" => step(r, "template", &mut |r| pod_spec(r, pod)),
        _ => step(r, "jobTemplate", &mut |r| {
            step(r, "template", &mut |r| pod_spec(r, pod))
        }),
    }
}

/// A spec on the way to the pod spec: its `via` (a template) leads on, through the
/// template's `spec`; any other field the view reads has no place here.
fn step<'a>(
    r: &mut Reader<'a>,
    via: &str,
    next: &mut dyn FnMut(&mut Reader<'a>) -> Result<()>,
) -> Result<()> {
    fields(r, Spec::field_named, |r, field| {
        if field != via {
            return Err(Unsure);
        }
        fields(r, Template::field_named, |r, _| next(r))
    })
}

fn pod_spec<'a>(r: &mut Reader<'a>, pod: &mut Pod<'a>) -> Result<()> {
    pod.found = true;
    let refs = &mut pod.refs;
    let account = &mut pod.service_account;
    fields(r, Spec::field_named, |r, field| match field {
        "serviceAccountName" => text(r).map(|t| account.0 = Some(t)),
        "serviceAccount" => text(r).map(|t| account.1 = Some(t)),
        "initContainers" | "containers" | "ephemeralContainers" => r.array(|r| container(r, refs)),
        "volumes" => r.array(|r| volume(r, refs)),
        "imagePullSecrets" => r.array(|r| {
            let mut secret = "";
            fields(r, Named::field_named, |r, _| text(r).map(|t| secret = t))?;
            refs.push(Ref {
                secret,
                key: None,
                optional: false,
            });
            Ok(())
        }),
        // A template in a pod spec.
        _ => Err(Unsure),
    })
}

fn container<'a>(r: &mut Reader<'a>, refs: &mut Vec<Ref<'a>>) -> Result<()> {
    fields(r, Container::field_named, |r, field| match field {
        "name" => text(r).map(drop),
        "env" => r.array(|r| {
            fields(r, Env::field_named, |r, field| match field {
                "name" => text(r).map(drop),
                _ => fields(r, ValueFrom::field_named, |r, _| source(r, Form::KeyRef, refs)),
            })
        }),
        _ => r.array(|r| fields(r, EnvFrom::field_named, |r, _| source(r, Form::SecretRef, refs))),
    })
}

fn volume<'a>(r: &mut Reader<'a>, refs: &mut Vec<Ref<'a>>) -> Result<()> {
    fields(r, Volume::field_named, |r, field| match field {
        "name" => text(r).map(drop),
        "secret" => source(r, Form::Volume, refs),
        _ => fields(r, Projected::field_named, |r, _| {
            r.array(|r| {
                fields(r, ProjectedSource::field_named, |r, _| {
                    source(r, Form::Projected, refs)
                })
            })
        }),
    })
}

/// Where a [`SecretSource`] stands, which says the fields it has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `secretKeyRef`: name, key.
    KeyRef,
    /// `envFrom[].secretRef`: name.
    SecretRef,
    /// A secret volume: secretName, items.
    Volume,
    /// A projected secret: name, items.
    Projected,
}

/// A Secret source: one reference per item key, or one for the whole Secret (one
/// key for a `secretKeyRef`), as the walk passes them.
fn source<'a>(r: &mut Reader<'a>, form: Form, refs: &mut Vec<Ref<'a>>) -> Result<()> {
    let (mut secret, mut key, mut optional) = ("", "", false);
    // Item keys come first, with their Secret filled in once it is read.
    let first_item = refs.len();
    fields(r, SecretSource::field_named, |r, field| match (field, form) {
        ("name", Form::KeyRef | Form::SecretRef | Form::Projected) | ("secretName", Form::Volume) => {
            text(r).map(|t| secret = t)
        }
        ("key", Form::KeyRef) => text(r).map(|t| key = t),
        ("optional", _) => r.bool().map(|b| optional = b),
        ("items", Form::Volume | Form::Projected) => r.array(|r| {
            let mut key = "";
            fields(r, Item::field_named, |r, _| text(r).map(|t| key = t))?;
            refs.push(Ref {
                secret: "",
                key: Some(key),
                optional: false,
            });
            Ok(())
        }),
        _ => Err(Unsure),
    })?;
    if refs.len() == first_item {
        refs.push(Ref {
            secret,
            key: (form == Form::KeyRef).then_some(key),
            optional,
        });
    } else {
        for item in &mut refs[first_item..] {
            (item.secret, item.optional) = (secret, optional);
        }
    }
    Ok(())
}
