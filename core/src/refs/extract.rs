//! The one extraction over the [`super::model`]: a workload's kind, namespace,
//! service account and every Secret reference with its field path, or an error
//! naming the first field not shaped as Kubernetes defines it.

use super::model::{self, Lax};
use super::{RefError, RefKind, SecretRef, Workload, pod_spec_path};

/// The workload from the model, `None` when it is not a workload; `type_` stands in
/// for an absent apiVersion and kind. A pod spec not shaped as Kubernetes defines it
/// is an error naming the field.
pub(super) fn build(
    object: &model::Object<'_>,
    type_: Option<(&str, &str)>,
    default_namespace: &str,
) -> Result<Option<Workload>, RefError> {
    fn text<'v>(s: &'v model::Str<'_>, default: &'v str) -> &'v str {
        match s {
            Lax::Got(s) => s,
            Lax::Absent => default,
            Lax::Wrong => "",
        }
    }
    let (default_api_version, default_kind) = type_.unwrap_or_default();
    let kind = text(&object.kind, default_kind);
    let Some(path) = pod_spec_path(text(&object.api_version, default_api_version), kind) else {
        return Ok(None);
    };
    let metadata = match &object.metadata {
        Lax::Got(m) => Some(m),
        _ => None,
    };
    let meta_str = |s: Option<&model::Str<'_>>| s.map_or("", |s| text(s, "")).to_owned();
    let namespace = meta_str(metadata.map(|m| &m.namespace));
    let mut refs = Refs(Vec::new());
    let service_account = match pod_spec(object, path) {
        Lax::Absent => "",
        Lax::Wrong => {
            return Err(RefError {
                field: path.to_owned(),
                problem: "is not a mapping",
            });
        }
        Lax::Got(spec) => {
            refs.pod_spec(spec, path)?;
            match (&spec.service_account_name, &spec.service_account) {
                (Lax::Got(s), _) | (Lax::Absent, Lax::Got(s)) if !s.is_empty() => s,
                _ => "default",
            }
        }
    };
    Ok(Some(Workload {
        kind: kind.to_owned(),
        namespace: if namespace.is_empty() {
            default_namespace.to_owned()
        } else {
            namespace
        },
        name: meta_str(metadata.map(|m| &m.name)),
        service_account: service_account.to_owned(),
        pod_spec_path: path,
        refs: refs.0,
        annotations: match metadata.map(|m| &m.annotations) {
            Some(Lax::Got(a)) => a.0.clone(),
            _ => Default::default(),
        },
    }))
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

/// The references found so far, in document order.
struct Refs(Vec<SecretRef>);

impl Refs {
    /// Every reference of the pod spec at `path`.
    fn pod_spec(&mut self, spec: &model::Spec<'_>, path: &str) -> Result<(), RefError> {
        let at = |p: &mut String| p.push_str(path);
        for (list, containers) in [
            ("initContainers", &spec.init_containers),
            ("containers", &spec.containers),
            ("ephemeralContainers", &spec.ephemeral_containers),
        ] {
            for (i, c) in objects(containers, &at, (list, "must be a mapping (a container)"))? {
                self.container(c, &|p: &mut String| element(&at, list, &c.name, i, p))?;
            }
        }
        for (i, v) in objects(&spec.volumes, &at, ("volumes", "must be a mapping with a `name`"))? {
            self.volume(v, &|p: &mut String| element(&at, "volumes", &v.name, i, p))?;
        }
        for (i, p) in objects(
            &spec.image_pull_secrets,
            &at,
            ("imagePullSecrets", "must be a mapping with a `name`"),
        )? {
            let field = |p: &mut String| element(&at, "imagePullSecrets", &Lax::Absent, i, p);
            self.push(
                string(&p.name, &field, "name")?,
                None,
                false,
                RefKind::ImagePull,
                &field,
            );
        }
        Ok(())
    }

    /// A reference to Secret `secret` (may be empty), of `key` when it needs one, with
    /// its field path, e.g. `spec.template.spec.containers[api].env[DB_PASSWORD]`.
    fn push(&mut self, secret: &str, key: Option<&str>, optional: bool, kind: RefKind, field: At<'_>) {
        self.0.push(SecretRef {
            secret: secret.to_owned(),
            key: key.map(str::to_owned),
            optional,
            kind,
            field: path(field),
        });
    }

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
                let (secret, key) = (string(&r.name, &at, "name")?, string(&r.key, &at, "key")?);
                self.push(
                    secret,
                    Some(key),
                    optional(&r.optional, &at)?,
                    RefKind::EnvKey,
                    &field,
                );
            }
        }
        for (i, from) in objects(&c.env_from, at, ("envFrom", "must be a mapping (a source)"))? {
            let field = |p: &mut String| element(at, "envFrom", &Lax::Absent, i, p);
            if let Some(r) = mapping(&from.secret_ref, &field, "secretRef")? {
                let at = |p: &mut String| {
                    field(p);
                    p.push_str(".secretRef");
                };
                let secret = string(&r.name, &at, "name")?;
                self.push(
                    secret,
                    None,
                    optional(&r.optional, &at)?,
                    RefKind::EnvFrom,
                    &field,
                );
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
            self.push(secret, None, optional, whole, field);
            return Ok(());
        }
        for (i, item) in items {
            let item_at = |p: &mut String| element(at, "items", &Lax::Absent, i, p);
            self.push(
                secret,
                Some(string(&item.key, &item_at, "key")?),
                optional,
                item_kind,
                field,
            );
        }
        Ok(())
    }
}
