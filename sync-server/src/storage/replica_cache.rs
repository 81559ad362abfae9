//! Replicas of recently written documents, kept between pushes so that a push does not
//! reload a document's whole history.
//!
//! A push takes a document's replica out of the cache ([`ReplicaCache::take`]) rather than
//! copying it, since a copy costs as much as the document is long; the backend puts the
//! replicas back ([`ReplicaCache::remember`]) once the push committed. A push that rolls
//! back drops its replicas, and the next push reloads them from the database.

use std::collections::{HashMap, VecDeque};

use fieldsync_core::{DocId, Replica};

use crate::error::AppResult;

/// Documents whose replicas a server keeps in memory between pushes.
const REPLICA_CACHE: usize = 2_000;

/// Bounded, least recently written first out. An entry is used only when its heads are the
/// stored heads, since another process (the admin tools, another server instance) may have
/// written since.
#[derive(Default)]
pub struct ReplicaCache {
    /// Each replica with the stamp of its latest `remember`.
    replicas: HashMap<String, (Replica, u64)>,
    /// Documents in the order they were remembered, with that stamp: an entry whose stamp
    /// is not its document's current one is stale (taken or remembered again since).
    order: VecDeque<(String, u64)>,
    stamp: u64,
}

/// Frees `replicas` on a short-lived thread of their own, off the push's path (here when
/// no thread can start).
pub fn drop_aside(replicas: Vec<Replica>) {
    if replicas.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("replica-drop".into())
        .spawn(move || drop(replicas));
}

impl ReplicaCache {
    /// Takes the cached replica of `doc` out of the cache; returns it if its heads, joined
    /// by commas, are `stored_heads`.
    pub fn take(&mut self, doc: &str, stored_heads: Option<&str>) -> Option<Replica> {
        let (mut replica, _) = self.replicas.remove(doc)?;
        (stored_heads == Some(replica.heads().join(",").as_str())).then_some(replica)
    }

    /// Keeps each replica as the committed state of its document. The replicas this pushes
    /// out are freed on a thread of their own ([`drop_aside`]): freeing a document's memory
    /// costs about 10 µs, and a push of two hundred documents into a full cache would
    /// otherwise hold its answer for two milliseconds.
    pub fn remember_all(&mut self, replicas: Vec<(String, Replica)>) {
        let mut out = Vec::new();
        for (doc, replica) in replicas {
            self.remember_into(doc, replica, &mut out);
        }
        drop_aside(out);
    }

    /// Keeps `replica` as the committed state of `doc`.
    #[cfg(test)]
    fn remember(&mut self, doc: String, replica: Replica) {
        let mut out = Vec::new();
        self.remember_into(doc, replica, &mut out);
    }

    /// Keeps `replica` as the committed state of `doc`; what it replaces or pushes out of
    /// the cache goes to `out`.
    fn remember_into(&mut self, doc: String, replica: Replica, out: &mut Vec<Replica>) {
        self.stamp += 1;
        self.order.push_back((doc.clone(), self.stamp));
        if let Some((old, _)) = self.replicas.insert(doc, (replica, self.stamp)) {
            out.push(old);
        }
        // Bounded: each pass removes one entry or stops.
        while self.replicas.len() > REPLICA_CACHE {
            let Some((old, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.replicas.get(&old).is_some_and(|(_, s)| *s == stamp)
                && let Some((replica, _)) = self.replicas.remove(&old)
            {
                out.push(replica);
            }
        }
        // Stale entries of documents taken or written again: dropped once they are as many
        // as the live ones, so that the order stays within twice the cache's bound.
        if self.order.len() > 2 * self.replicas.len().max(REPLICA_CACHE / 2) {
            let replicas = &self.replicas;
            self.order
                .retain(|(doc, stamp)| replicas.get(doc).is_some_and(|(_, s)| s == stamp));
        }
    }

    pub fn clear(&mut self) {
        self.replicas.clear();
        self.order.clear();
    }

    #[cfg(test)]
    fn order_len(&self) -> usize {
        self.order.len()
    }
}

/// A replica from a document's stored changes, oldest first.
pub fn load_replica(doc: &str, stored: &[Vec<u8>]) -> AppResult<Replica> {
    let id = DocId::parse("doc", doc)?;
    if stored.is_empty() {
        return Ok(Replica::empty(&id));
    }
    Ok(Replica::load(&id, stored.iter().map(Vec::as_slice))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(id: &DocId) -> Replica {
        Replica::empty(id)
    }

    #[test]
    fn what_remembering_replaces_or_pushes_out_is_handed_back_to_be_freed_elsewhere() {
        let mut cache = ReplicaCache::default();
        let mut out = Vec::new();
        let ids: Vec<DocId> = (0..REPLICA_CACHE + 5).map(|_| DocId::new()).collect();
        for id in &ids {
            cache.remember_into(id.to_string(), replica(id), &mut out);
        }
        assert_eq!(out.len(), 5, "the five first written are pushed out");
        let last = ids[REPLICA_CACHE + 4].to_string();
        cache.remember_into(last.clone(), replica(&ids[0]), &mut out);
        assert_eq!(out.len(), 6, "the replica replaced is handed back");
        assert_eq!(cache.replicas.len(), REPLICA_CACHE);
        cache.remember_all(vec![(last, replica(&ids[1]))]);
        assert_eq!(cache.replicas.len(), REPLICA_CACHE);
    }

    #[test]
    fn a_taken_replica_is_gone_until_it_is_remembered_again() {
        let id = DocId::new();
        let doc = id.to_string();
        let mut cache = ReplicaCache::default();
        cache.remember(doc.clone(), replica(&id));
        assert!(
            cache.take(&doc, Some("")).is_some(),
            "its heads are the stored ones"
        );
        assert!(cache.take(&doc, Some("")).is_none(), "taken, not copied");
        cache.remember(doc.clone(), replica(&id));
        assert!(
            cache.take(&doc, Some("other")).is_none(),
            "stale heads are not trusted"
        );
        assert!(cache.take(&doc, Some("")).is_none(), "and not kept either");
    }

    #[test]
    fn documents_taken_and_remembered_again_and_again_keep_the_cache_bounded() {
        let ids: Vec<DocId> = (0..REPLICA_CACHE + 10).map(|_| DocId::new()).collect();
        let mut cache = ReplicaCache::default();
        for id in &ids {
            cache.remember(id.to_string(), replica(id));
        }
        assert_eq!(cache.replicas.len(), REPLICA_CACHE);
        assert!(
            cache.take(&ids[0].to_string(), Some("")).is_none(),
            "the first one out"
        );
        // The oldest one still cached: first out unless writing it again makes it the newest.
        let hot = ids[10].to_string();
        for _ in 0..10 * REPLICA_CACHE {
            let r = cache.take(&hot, Some("")).expect("cached");
            cache.remember(hot.clone(), r);
        }
        assert!(
            cache.order_len() <= 2 * REPLICA_CACHE,
            "{}",
            cache.order_len()
        );
        assert_eq!(cache.replicas.len(), REPLICA_CACHE);
        // The hot document was written last: it outlives the ones written before it.
        for _ in 0..REPLICA_CACHE - 1 {
            let id = DocId::new();
            cache.remember(id.to_string(), replica(&id));
        }
        assert!(
            cache.take(&hot, Some("")).is_some(),
            "least recently written goes first"
        );
    }
}
