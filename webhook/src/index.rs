//! Watch caches by namespace and name that a review reads under one lock.
//!
//! kube's reflector store takes its lock and clones an `Arc` for every lookup;
//! a review looks up a dozen names, so the webhook keeps its own caches: the
//! same watch events applied the same way (a relist replaces the content when
//! it is complete), read through one [`Index::read`] per review.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use ahash::RandomState;
use kube::Resource;
use kube::runtime::watcher::Event;
use tokio::sync::watch;

/// Objects by namespace (empty for cluster-scoped kinds), then by name; aHash, as
/// kube's reflector store uses, keyed per process against crafted names.
type Objects<K> = HashMap<String, HashMap<String, Arc<K>, RandomState>, RandomState>;

/// A watch cache of one kind.
pub struct Index<K> {
    objects: Arc<RwLock<Objects<K>>>,
    synced: Arc<watch::Sender<bool>>,
}

impl<K> Clone for Index<K> {
    fn clone(&self) -> Self {
        Index {
            objects: self.objects.clone(),
            synced: self.synced.clone(),
        }
    }
}

impl<K> Default for Index<K> {
    fn default() -> Self {
        Index {
            objects: Arc::default(),
            synced: Arc::new(watch::channel(false).0),
        }
    }
}

/// What the watch loop applies events with; it keeps a relist until it is complete.
pub struct Writer<K> {
    index: Index<K>,
    relist: Option<Objects<K>>,
}

impl<K: Resource> Writer<K> {
    /// Applies one watch event.
    pub fn apply(&mut self, event: Event<K>) {
        match event {
            Event::Apply(object) => insert(&mut self.index.write(), object),
            Event::Delete(object) => {
                let (namespace, name) = (namespace(&object), object.meta().name.as_deref());
                let mut objects = self.index.write();
                if let (Some(names), Some(name)) = (objects.get_mut(namespace), name) {
                    names.remove(name);
                    if names.is_empty() {
                        objects.remove(namespace);
                    }
                }
            }
            Event::Init => self.relist = Some(Objects::default()),
            Event::InitApply(object) => insert(self.relist.get_or_insert_default(), object),
            Event::InitDone => {
                let relist = self.relist.take().unwrap_or_default();
                *self.index.write() = relist;
                self.index.synced.send_replace(true);
            }
        }
    }
}

fn namespace<K: Resource>(object: &K) -> &str {
    object.meta().namespace.as_deref().unwrap_or("")
}

fn insert<K: Resource>(objects: &mut Objects<K>, object: K) {
    let Some(name) = object.meta().name.clone() else {
        return;
    };
    let names = match objects.get_mut(namespace(&object)) {
        Some(names) => names,
        None => objects.entry(namespace(&object).to_owned()).or_default(),
    };
    names.insert(name, Arc::new(object));
}

impl<K> Index<K> {
    /// The writer for the watch loop that fills this cache.
    pub fn writer(&self) -> Writer<K> {
        Writer {
            index: self.clone(),
            relist: None,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Objects<K>> {
        // A panic while writing leaves a map, not a broken one: go on with it.
        self.objects.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The content as it is now, held for a few lookups (one review's).
    pub fn read(&self) -> Snapshot<'_, K> {
        Snapshot(self.objects.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Resolves once the first complete list has been applied.
    pub async fn wait_synced(&self) {
        let _ = self.synced.subscribe().wait_for(|synced| *synced).await;
    }

    /// Whether the first complete list has been applied.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }
}

/// A read of an [`Index`]: hold it briefly, and never across an `.await`.
pub struct Snapshot<'a, K>(RwLockReadGuard<'a, Objects<K>>);

impl<K> Snapshot<'_, K> {
    /// The object `namespace/name` (`namespace` empty for cluster-scoped kinds).
    pub fn get(&self, namespace: &str, name: &str) -> Option<&K> {
        self.0.get(namespace)?.get(name).map(Arc::as_ref)
    }

    /// The objects of one namespace, found once for many lookups.
    pub fn namespace(&self, namespace: &str) -> Names<'_, K> {
        Names(self.0.get(namespace))
    }

    /// Objects in `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = &K> {
        self.0
            .get(namespace)
            .into_iter()
            .flat_map(|n| n.values().map(Arc::as_ref))
    }
}

/// The objects of one namespace in a [`Snapshot`].
pub struct Names<'s, K>(Option<&'s HashMap<String, Arc<K>, RandomState>>);

impl<'s, K> Names<'s, K> {
    /// The object `name`.
    pub fn get(&self, name: &str) -> Option<&'s K> {
        self.0?.get(name).map(Arc::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn object(namespace: &str, name: &str, data: &str) -> ConfigMap {
        let mut o = ConfigMap::default();
        o.metadata.namespace = (!namespace.is_empty()).then(|| namespace.to_owned());
        o.metadata.name = Some(name.to_owned());
        o.data = Some([("v".to_owned(), data.to_owned())].into());
        o
    }

    fn value(index: &Index<ConfigMap>, namespace: &str, name: &str) -> Option<String> {
        let read = index.read();
        read.get(namespace, name)?.data.as_ref()?.get("v").cloned()
    }

    #[tokio::test]
    async fn events_are_applied_as_a_reflector_applies_them() {
        let index = Index::<ConfigMap>::default();
        let mut writer = index.writer();
        assert!(!index.is_synced());
        writer.apply(Event::Init);
        writer.apply(Event::InitApply(object("a", "one", "1")));
        writer.apply(Event::InitApply(object("", "cluster", "c")));
        // Nothing shows before the list is complete.
        assert_eq!(value(&index, "a", "one"), None);
        writer.apply(Event::InitDone);
        index.wait_synced().await;
        assert_eq!(value(&index, "a", "one").as_deref(), Some("1"));
        assert_eq!(value(&index, "", "cluster").as_deref(), Some("c"));
        assert_eq!(value(&index, "b", "one"), None);

        writer.apply(Event::Apply(object("a", "one", "2")));
        writer.apply(Event::Apply(object("a", "two", "x")));
        assert_eq!(value(&index, "a", "one").as_deref(), Some("2"));
        writer.apply(Event::Delete(object("a", "two", "")));
        assert_eq!(value(&index, "a", "two"), None);
        assert_eq!(index.read().in_namespace("a").count(), 1);
        assert!(index.read().namespace("a").get("one").is_some());
        assert!(index.read().namespace("b").get("one").is_none());

        // A relist replaces everything once complete: objects it lacks are gone.
        writer.apply(Event::Init);
        writer.apply(Event::InitApply(object("b", "three", "3")));
        assert_eq!(value(&index, "a", "one").as_deref(), Some("2"));
        writer.apply(Event::InitDone);
        assert_eq!(value(&index, "a", "one"), None);
        assert_eq!(value(&index, "b", "three").as_deref(), Some("3"));
        assert_eq!(index.read().in_namespace("a").count(), 0);
        assert_eq!(index.read().in_namespace("b").count(), 1);
        assert!(index.is_synced());
    }
}
