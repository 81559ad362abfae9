//! The documents a store keeps loaded: a few, evicting the oldest inserted first.

use std::collections::{HashMap, VecDeque};

use crate::doc::Doc;
use crate::ids::DocId;

/// A small cache of loaded documents, evicting the oldest inserted first.
pub(crate) struct DocCache {
    capacity: usize,
    docs: HashMap<DocId, Doc>,
    order: VecDeque<DocId>,
}

impl DocCache {
    pub(super) fn new(capacity: usize) -> Self {
        DocCache {
            capacity,
            docs: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn take(&mut self, id: &DocId) -> Option<Doc> {
        self.docs.remove(id)
    }

    pub(crate) fn put(&mut self, doc: Doc) {
        let id = doc.id.clone();
        if self.docs.insert(id.clone(), doc).is_none() {
            self.order.retain(|o| o != &id);
            self.order.push_back(id);
        }
        // Bounded: each pass removes one entry or stops.
        while self.docs.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.docs.remove(&old);
                }
                None => break,
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.docs.clear();
        self.order.clear();
    }
}
