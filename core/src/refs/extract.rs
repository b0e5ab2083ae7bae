//! The one extraction over the [`super::model`]: a workload's kind, namespace,
//! service account and every Secret reference with its field path, or an error
//! naming the first field not shaped as Kubernetes defines it.

use serde_json::{Map, Value};

use super::model::{self, Lax};
use super::{RefError, RefKind, SecretRef, Workload, pod_spec_path};

/// The workload from the model; `type_` stands in for an absent apiVersion and kind.
pub(super) fn build(
    object: &model::Object<'_>,
    type_: Option<(&str, &str)>,
    default_namespace: &str,
) -> Result<Option<Workload>, RefError> {
    let Some(head) = head(object, type_.unwrap_or_default(), default_namespace)? else {
        return Ok(None);
    };
    let mut refs = Vec::new();
    head.walk(&mut |r| refs.push(r.to_secret_ref()))?;
    Ok(Some(Workload {
        kind: head.kind.to_owned(),
        namespace: head.namespace.to_owned(),
        name: head.name.to_owned(),
        service_account: head.service_account.to_owned(),
        pod_spec_path: head.pod_spec_path,
        refs,
        annotations: head.annotations.cloned().unwrap_or_default(),
    }))
}

/// A workload as the model shows it, before its references are walked: what the
/// policy needs of the object itself, borrowed from the model.
#[derive(Debug)]
pub(super) struct Head<'v> {
    /// Kind, e.g. `Deployment`.
    pub kind: &'v str,
    /// Namespace (the default one when the object has none).
    pub namespace: &'v str,
    /// Name.
    pub name: &'v str,
    /// `serviceAccountName` of the pod (`default` when unset; empty without a pod spec).
    pub service_account: &'v str,
    /// Field path of the pod spec, e.g. `spec.template.spec`.
    pub pod_spec_path: &'static str,
    /// sealgate's own annotations (`sealgate.dev/…`), if the object has any annotations.
    pub annotations: Option<&'v Map<String, Value>>,
    spec: Option<&'v model::Spec<'v>>,
}

/// A reference as the walk over the model finds it, borrowed from the object; its
/// field path is built only when asked for.
pub(super) struct Found<'f> {
    /// Secret name (may be empty).
    pub secret: &'f str,
    /// The key, when the reference needs one.
    pub key: Option<&'f str>,
    /// `optional: true`.
    pub optional: bool,
    /// How it is referenced.
    pub kind: RefKind,
    field: At<'f>,
}

impl Found<'_> {
    /// Field path, e.g. `spec.template.spec.containers[api].env[DB_PASSWORD]`.
    pub fn field(&self) -> String {
        path(self.field)
    }

    /// The reference, owned.
    pub fn to_secret_ref(&self) -> SecretRef {
        SecretRef {
            secret: self.secret.to_owned(),
            key: self.key.map(str::to_owned),
            optional: self.optional,
            kind: self.kind,
            field: self.field(),
        }
    }
}

/// The head of the workload in `object`; `None` when it is not a workload. A pod
/// spec that is not a mapping is an error.
pub(super) fn head<'v>(
    object: &'v model::Object<'_>,
    (default_api_version, default_kind): (&'v str, &'v str),
    default_namespace: &'v str,
) -> Result<Option<Head<'v>>, RefError> {
    fn text<'v>(s: &'v model::Str<'_>, default: &'v str) -> &'v str {
        match s {
            Lax::Got(s) => s,
            Lax::Absent => default,
            Lax::Wrong => "",
        }
    }
    let api_version = text(&object.api_version, default_api_version);
    let kind = text(&object.kind, default_kind);
    let Some(path) = pod_spec_path(api_version, kind) else {
        return Ok(None);
    };
    let metadata = match &object.metadata {
        Lax::Got(m) => Some(m),
        _ => None,
    };
    let meta_str = |s: Option<&'v model::Str<'_>>| s.map_or("", |s| text(s, ""));
    let namespace = meta_str(metadata.map(|m| &m.namespace));
    let spec = match pod_spec(object, path) {
        Lax::Absent => None,
        Lax::Got(spec) => Some(spec),
        Lax::Wrong => {
            return Err(RefError {
                field: path.to_owned(),
                problem: "is not a mapping",
            });
        }
    };
    let service_account = spec.map_or("", |spec| {
        match (&spec.service_account_name, &spec.service_account) {
            (Lax::Got(s), _) | (Lax::Absent, Lax::Got(s)) if !s.is_empty() => s,
            _ => "default",
        }
    });
    Ok(Some(Head {
        kind,
        namespace: if namespace.is_empty() {
            default_namespace
        } else {
            namespace
        },
        name: meta_str(metadata.map(|m| &m.name)),
        service_account,
        pod_spec_path: path,
        annotations: match metadata.map(|m| &m.annotations) {
            Some(Lax::Got(a)) => Some(&a.0),
            _ => None,
        },
        spec,
    }))
}

impl Head<'_> {
    /// Calls `sink` with every reference of the pod spec, in document order. A pod
    /// spec not shaped as Kubernetes defines it is an error naming the field; the
    /// references before it have been passed to `sink` by then.
    pub fn walk(&self, sink: &mut dyn FnMut(Found<'_>)) -> Result<(), RefError> {
        let Some(spec) = self.spec else {
            return Ok(());
        };
        let path = self.pod_spec_path;
        let mut x = Extractor { sink };
        let at = |p: &mut String| p.push_str(path);
        for (list, containers) in [
            ("initContainers", &spec.init_containers),
            ("containers", &spec.containers),
            ("ephemeralContainers", &spec.ephemeral_containers),
        ] {
            for (i, c) in objects(containers, &at, (list, "must be a mapping (a container)"))? {
                x.container(c, &|p: &mut String| element(&at, list, &c.name, i, p))?;
            }
        }
        for (i, v) in objects(&spec.volumes, &at, ("volumes", "must be a mapping with a `name`"))? {
            x.volume(v, &|p: &mut String| element(&at, "volumes", &v.name, i, p))?;
        }
        for (i, p) in objects(
            &spec.image_pull_secrets,
            &at,
            ("imagePullSecrets", "must be a mapping with a `name`"),
        )? {
            let field = |p: &mut String| element(&at, "imagePullSecrets", &Lax::Absent, i, p);
            (x.sink)(Found {
                secret: string(&p.name, &field, "name")?,
                key: None,
                optional: false,
                kind: RefKind::ImagePull,
                field: &field,
            });
        }
        Ok(())
    }
}

/// The pod spec at `path` (one of [`pod_spec_path`]'s). Like a lookup in JSON, a
/// step through something that is not a mapping finds nothing; only the pod spec
/// itself is wrong when it is not a mapping.
fn pod_spec<'v, 'a>(object: &'v model::Object<'a>, path: &str) -> Lax<&'v model::Spec<'a>> {
    fn through<'v, 'a>(
        spec: Lax<&'v model::Spec<'a>>,
        step: for<'s> fn(&'s model::Spec<'a>) -> &'s Lax<model::Template<'a>>,
    ) -> Lax<&'v model::Spec<'a>> {
        let Lax::Got(spec) = spec else { return Lax::Absent };
        let Lax::Got(template) = step(spec) else {
            return Lax::Absent;
        };
        match &template.spec {
            Lax::Got(spec) => Lax::Got(spec),
            Lax::Absent => Lax::Absent,
            Lax::Wrong => Lax::Wrong,
        }
    }
    let top = match &object.spec {
        Lax::Got(spec) => Lax::Got(spec),
        Lax::Absent => Lax::Absent,
        Lax::Wrong => Lax::Wrong,
    };
    match path {
        "spec" => top,
        "spec.template.spec" => through(top, |s| &s.template),
        _ => through(through(top, |s| &s.job_template), |s| &s.template),
    }
}

/// A field path, written out only when it is needed: it appends itself to a string.
type At<'p> = &'p dyn Fn(&mut String);

/// The path `at` writes, in one allocation for most paths.
fn path(at: At<'_>) -> String {
    let mut path = String::with_capacity(64);
    at(&mut path);
    path
}

/// Appends `{at}.{list}[{name}]` when the element has a name, else `{at}.{list}[{index}]`.
fn element(at: At<'_>, list: &str, name: &model::Str<'_>, index: usize, path: &mut String) {
    at(path);
    path.push('.');
    path.push_str(list);
    path.push('[');
    match name {
        Lax::Got(n) if !n.is_empty() => path.push_str(n),
        _ => {
            use std::fmt::Write as _;
            let _ = write!(path, "{index}");
        }
    }
    path.push(']');
}

fn wrong(at: At<'_>, key: &str, problem: &'static str) -> RefError {
    RefError {
        field: {
            let mut field = path(at);
            field.push('.');
            field.push_str(key);
            field
        },
        problem,
    }
}

/// String field `key` at `at`; absent or null is empty (the policy reports empty names).
fn string<'v>(s: &'v model::Str<'_>, at: At<'_>, key: &str) -> Result<&'v str, RefError> {
    match s {
        Lax::Absent => Ok(""),
        Lax::Got(s) => Ok(s),
        Lax::Wrong => Err(wrong(at, key, "is not a string")),
    }
}

/// `optional` of a reference; absent or null is `false`.
fn optional(b: &Lax<bool>, at: At<'_>) -> Result<bool, RefError> {
    match b {
        Lax::Absent => Ok(false),
        Lax::Got(b) => Ok(*b),
        Lax::Wrong => Err(wrong(at, "optional", "is not a boolean")),
    }
}

/// The mappings of list `key` at `at`, with their positions; absent or null is empty.
/// Every element is checked before any is used; one that is not a mapping is
/// reported as `shape` says each element must be.
fn objects<'v, T>(
    list: &'v model::List<T>,
    at: At<'_>,
    (key, shape): (&str, &'static str),
) -> Result<impl Iterator<Item = (usize, &'v T)>, RefError> {
    let items = match list {
        Lax::Absent => &[][..],
        Lax::Got(items) => items.as_slice(),
        Lax::Wrong => return Err(wrong(at, key, "is not a list")),
    };
    if let Some(i) = items.iter().position(|item| !matches!(item, Lax::Got(_))) {
        return Err(wrong(at, &format!("{key}[{i}]"), shape));
    }
    Ok(items.iter().enumerate().filter_map(|(i, item)| match item {
        Lax::Got(t) => Some((i, t)),
        _ => None,
    }))
}

/// Mapping field `key` at `at`; absent or null is `None`.
fn mapping<'v, T>(m: &'v Lax<T>, at: At<'_>, key: &str) -> Result<Option<&'v T>, RefError> {
    match m {
        Lax::Absent => Ok(None),
        Lax::Got(t) => Ok(Some(t)),
        Lax::Wrong => Err(wrong(at, key, "is not a mapping")),
    }
}

struct Extractor<'s> {
    sink: &'s mut dyn FnMut(Found<'_>),
}

impl Extractor<'_> {
    fn container(&mut self, c: &model::Container<'_>, at: At<'_>) -> Result<(), RefError> {
        for (i, env) in objects(&c.env, at, ("env", "must be a mapping with a `name`"))? {
            let field = |p: &mut String| element(at, "env", &env.name, i, p);
            let Some(from) = mapping(&env.value_from, &field, "valueFrom")? else {
                continue;
            };
            let from_at = |p: &mut String| {
                field(p);
                p.push_str(".valueFrom");
            };
            if let Some(r) = mapping(&from.secret_key_ref, &from_at, "secretKeyRef")? {
                let at = |p: &mut String| {
                    from_at(p);
                    p.push_str(".secretKeyRef");
                };
                (self.sink)(Found {
                    secret: string(&r.name, &at, "name")?,
                    key: Some(string(&r.key, &at, "key")?),
                    optional: optional(&r.optional, &at)?,
                    kind: RefKind::EnvKey,
                    field: &field,
                });
            }
        }
        for (i, from) in objects(&c.env_from, at, ("envFrom", "must be a mapping (a source)"))? {
            let field = |p: &mut String| element(at, "envFrom", &Lax::Absent, i, p);
            if let Some(r) = mapping(&from.secret_ref, &field, "secretRef")? {
                let at = |p: &mut String| {
                    field(p);
                    p.push_str(".secretRef");
                };
                (self.sink)(Found {
                    secret: string(&r.name, &at, "name")?,
                    key: None,
                    optional: optional(&r.optional, &at)?,
                    kind: RefKind::EnvFrom,
                    field: &field,
                });
            }
        }
        Ok(())
    }

    fn volume(&mut self, v: &model::Volume<'_>, at: At<'_>) -> Result<(), RefError> {
        if let Some(s) = mapping(&v.secret, at, "secret")? {
            let kinds = (RefKind::Volume, RefKind::VolumeItem);
            let name = (&s.secret_name, "secretName");
            let secret_at = |p: &mut String| {
                at(p);
                p.push_str(".secret");
            };
            self.secret_source(s, name, kinds, at, &secret_at)?;
        }
        if let Some(p) = mapping(&v.projected, at, "projected")? {
            let sources_at = |p: &mut String| {
                at(p);
                p.push_str(".projected");
            };
            for (i, src) in objects(
                &p.sources,
                &sources_at,
                ("sources", "must be a mapping (a source)"),
            )? {
                let src_at = |p: &mut String| element(&sources_at, "sources", &Lax::Absent, i, p);
                if let Some(s) = mapping(&src.secret, &src_at, "secret")? {
                    let field = |p: &mut String| {
                        src_at(p);
                        p.push_str(".secret");
                    };
                    let kinds = (RefKind::Projected, RefKind::ProjectedItem);
                    self.secret_source(s, (&s.name, "name"), kinds, &field, &field)?;
                }
            }
        }
        Ok(())
    }

    /// A secret volume or projected source: one reference per item key, or the whole
    /// Secret. Every reference carries the volume's (or source's) field path, where a
    /// person looks for it; `at` is where its own fields sit.
    fn secret_source(
        &mut self,
        s: &model::SecretSource<'_>,
        (name, name_key): (&model::Str<'_>, &str),
        (whole, item_kind): (RefKind, RefKind),
        field: At<'_>,
        at: At<'_>,
    ) -> Result<(), RefError> {
        let secret = string(name, at, name_key)?;
        let optional = optional(&s.optional, at)?;
        let mut items = objects(
            &s.items,
            at,
            ("items", "must be a mapping with a `key` and a `path`"),
        )?
        .peekable();
        if items.peek().is_none() {
            (self.sink)(Found {
                secret,
                key: None,
                optional,
                kind: whole,
                field,
            });
            return Ok(());
        }
        for (i, item) in items {
            let item_at = |p: &mut String| element(at, "items", &Lax::Absent, i, p);
            (self.sink)(Found {
                secret,
                key: Some(string(&item.key, &item_at, "key")?),
                optional,
                kind: item_kind,
                field,
            });
        }
        Ok(())
    }
}
