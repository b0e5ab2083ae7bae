//! Watch caches by namespace and name that a review reads under one lock.
//!
//! kube's reflector store takes its lock and clones an `Arc` for every lookup;
//! a review looks up a dozen names, so the webhook keeps its own caches: the
//! same watch events applied the same way (a relist replaces the content when
//! it is complete), read through one [`Index::read`] per review. Each cache
//! keeps only what reviews read of an object (a Secret's key stamp, say), so a
//! cluster's managedFields and last-applied annotations take no memory here.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use ahash::RandomState;
use kube::Resource;
use kube::runtime::watcher::Event;
use tokio::sync::watch;

/// What is kept of each object by namespace (empty for cluster-scoped kinds), then
/// by name; aHash, as kube's reflector store uses, keyed per process against
/// crafted names.
type Objects<V> = HashMap<String, HashMap<String, V, RandomState>, RandomState>;

/// A watch cache of one kind, keeping a `V` of each object.
pub struct Index<V> {
    objects: Arc<RwLock<Objects<V>>>,
    synced: Arc<watch::Sender<bool>>,
}

impl<V> Clone for Index<V> {
    fn clone(&self) -> Self {
        Index {
            objects: self.objects.clone(),
            synced: self.synced.clone(),
        }
    }
}

impl<V> Default for Index<V> {
    fn default() -> Self {
        Index {
            objects: Arc::default(),
            synced: Arc::new(watch::channel(false).0),
        }
    }
}

/// What the watch loop applies events with; it keeps a relist until it is complete.
pub struct Writer<K, V> {
    index: Index<V>,
    relist: Option<Objects<V>>,
    keep: fn(K) -> V,
}

impl<K: Resource, V> Writer<K, V> {
    /// Applies one watch event.
    pub fn apply(&mut self, event: Event<K>) {
        let keep = self.keep;
        match event {
            Event::Apply(object) => insert(&mut self.index.write(), object, keep),
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
            Event::InitApply(object) => insert(self.relist.get_or_insert_default(), object, keep),
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

fn insert<K: Resource, V>(objects: &mut Objects<V>, object: K, keep: fn(K) -> V) {
    let Some(name) = object.meta().name.clone() else {
        return;
    };
    let names = match objects.get_mut(namespace(&object)) {
        Some(names) => names,
        None => objects.entry(namespace(&object).to_owned()).or_default(),
    };
    names.insert(name, keep(object));
}

impl<V> Index<V> {
    /// The writer for the watch loop that fills this cache, keeping `keep(object)`
    /// of each object.
    pub fn writer<K>(&self, keep: fn(K) -> V) -> Writer<K, V> {
        Writer {
            index: self.clone(),
            relist: None,
            keep,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Objects<V>> {
        // A panic while writing leaves a map, not a broken one: go on with it.
        self.objects.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The content as it is now, held for a few lookups (one review's).
    pub fn read(&self) -> Snapshot<'_, V> {
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
pub struct Snapshot<'a, V>(RwLockReadGuard<'a, Objects<V>>);

impl<V> Snapshot<'_, V> {
    /// What is kept of `namespace/name` (`namespace` empty for cluster-scoped kinds).
    pub fn get(&self, namespace: &str, name: &str) -> Option<&V> {
        self.0.get(namespace)?.get(name)
    }

    /// The objects of one namespace, found once for many lookups.
    pub fn namespace(&self, namespace: &str) -> Names<'_, V> {
        Names(self.0.get(namespace))
    }

    /// What is kept of the objects in `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = &V> {
        self.0.get(namespace).into_iter().flat_map(|n| n.values())
    }
}

/// The objects of one namespace in a [`Snapshot`].
pub struct Names<'s, V>(Option<&'s HashMap<String, V, RandomState>>);

impl<'s, V> Names<'s, V> {
    /// What is kept of the object `name`.
    pub fn get(&self, name: &str) -> Option<&'s V> {
        self.0?.get(name)
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
        let mut writer = index.writer(std::convert::identity);
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
