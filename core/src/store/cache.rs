//! The documents a store keeps loaded: a few, evicting the one put back least recently.
//!
//! An edit takes its document out and puts it back, so every edit moves a document to the
//! newest place. The order is a queue of (id, stamp) pairs; putting a document back pushes
//! a new pair, and the pairs it leaves behind are skipped (their stamp is no longer the
//! document's) and swept when they outnumber the documents. Each put costs O(1) amortized,
//! where finding and removing the old place in the queue cost a pass over it on every edit.

use std::collections::{HashMap, VecDeque};

use crate::doc::Doc;
use crate::ids::DocId;

/// A small cache of loaded documents.
pub(crate) struct DocCache {
    capacity: usize,
    docs: HashMap<DocId, (Doc, u64)>,
    /// Oldest first; a pair whose stamp differs from its document's is stale.
    order: VecDeque<(DocId, u64)>,
    next_stamp: u64,
}

impl DocCache {
    pub(super) fn new(capacity: usize) -> Self {
        DocCache {
            capacity,
            docs: HashMap::new(),
            order: VecDeque::new(),
            next_stamp: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn take(&mut self, id: &DocId) -> Option<Doc> {
        self.docs.remove(id).map(|(doc, _)| doc)
    }

    pub(crate) fn put(&mut self, doc: Doc) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let id = doc.id.clone();
        self.docs.insert(id.clone(), (doc, stamp));
        self.order.push_back((id, stamp));
        // Bounded: each pass removes one pair from the queue or stops.
        while self.docs.len() > self.capacity {
            let Some((old, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.docs.get(&old).is_some_and(|(_, s)| *s == stamp) {
                self.docs.remove(&old);
            }
        }
        if self.order.len() > 2 * self.capacity + 16 {
            let docs = &self.docs;
            self.order
                .retain(|(id, stamp)| docs.get(id).is_some_and(|(_, s)| s == stamp));
        }
    }

    pub(super) fn clear(&mut self) {
        self.docs.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn doc(n: u32) -> Doc {
        let id = DocId::parse("id", &format!("00000000-0000-4000-8000-{n:012}")).expect("an id");
        Doc::empty(&id)
    }

    fn held(cache: &DocCache) -> Vec<String> {
        let mut ids: Vec<String> = cache.docs.keys().map(|id| id.to_string()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn the_document_put_back_least_recently_is_evicted_first() {
        let mut cache = DocCache::new(2);
        cache.put(doc(1));
        cache.put(doc(2));
        // An edit of 1: taken out and put back, now the newest.
        let one = cache.take(&doc(1).id).expect("held");
        cache.put(one);
        cache.put(doc(3));
        assert_eq!(
            held(&cache),
            vec![doc(1).id.to_string(), doc(3).id.to_string()]
        );
    }

    #[test]
    fn many_edits_of_the_same_documents_keep_the_queue_bounded() {
        let mut cache = DocCache::new(4);
        for round in 0..10_000u32 {
            let n = round % 6;
            let d = cache.take(&doc(n).id).unwrap_or_else(|| doc(n));
            cache.put(d);
            assert!(cache.docs.len() <= 4);
            assert!(cache.order.len() <= 2 * 4 + 16 + 1, "{}", cache.order.len());
        }
    }
}
