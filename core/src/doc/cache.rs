//! Reading a document many times over without asking Automerge each time.
//!
//! A kind's reader asks for its fields one by one, and the checks of a document read it
//! several times over (its shape, its reader, its value rules, its index rows); each
//! Automerge lookup of a key seeks through the document's operations. While
//! [`Doc::reading`] runs, every map the readers touch is read once, in one pass over its
//! keys, and every later lookup of one of its keys is a binary search in that copy.
//!
//! The copy cannot go stale: it lives only for the closure [`Doc::reading`] runs, which
//! borrows the document shared, so nothing can change the document while the copy exists
//! (Automerge's reads take `&self` and change nothing).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use automerge::{ObjId, ReadDoc, Value};

use super::Doc;

/// One key of a map as every device shows it.
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) key: String,
    /// The value that wins.
    pub(crate) value: Value<'static>,
    /// The object's id, when the value is an object.
    pub(crate) id: Option<ObjId>,
    /// Devices set the key concurrently: Automerge holds several values.
    pub(crate) conflict: bool,
}

/// A map read whole, its keys in order.
#[derive(Debug)]
pub(crate) struct Map {
    pub(crate) items: Vec<Item>,
}

impl Map {
    fn read(doc: &Doc, obj: &ObjId) -> Map {
        let mut items: Vec<Item> = doc
            .am
            .map_range(obj, ..)
            .map(|item| {
                let value = Value::from(item.value.clone()).to_owned();
                let id = value.is_object().then(|| item.id());
                Item {
                    key: item.key.into_owned(),
                    value,
                    id,
                    conflict: item.conflict,
                }
            })
            .collect();
        // Automerge gives a map's keys in order; the lookups below rely on it, so make sure.
        if !items.is_sorted_by(|a, b| a.key < b.key) {
            items.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Map { items }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Item> {
        self.items
            .binary_search_by(|item| item.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.items[i])
    }
}

/// The maps read so far, while a [`Doc::reading`] call runs; off otherwise.
#[derive(Default)]
pub(super) struct ReadCache(Mutex<Option<HashMap<ObjId, Arc<Map>>>>);

impl ReadCache {
    fn lock(&self) -> MutexGuard<'_, Option<HashMap<ObjId, Arc<Map>>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clone for ReadCache {
    /// A copy of a document starts with the cache off.
    fn clone(&self) -> Self {
        ReadCache::default()
    }
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadCache")
    }
}

/// Turns the cache off when the outermost [`Doc::reading`] ends, however it ends.
struct Off<'a>(&'a ReadCache);

impl Drop for Off<'_> {
    fn drop(&mut self) {
        *self.0.lock() = None;
    }
}

impl Doc {
    /// Runs `f` with every map it reads read once (see the module). Nested calls share the
    /// outer call's copy.
    pub(crate) fn reading<T>(&self, f: impl FnOnce(&Doc) -> T) -> T {
        let outer = {
            let mut cache = self.cache.lock();
            if cache.is_some() {
                false
            } else {
                *cache = Some(HashMap::new());
                true
            }
        };
        let _off = outer.then(|| Off(&self.cache));
        f(self)
    }

    /// The map `obj` read whole: from the cache while [`Doc::reading`] runs (reading it
    /// now if it is not there yet), else read now for this call alone.
    pub(crate) fn map(&self, obj: &ObjId) -> Arc<Map> {
        let mut cache = self.cache.lock();
        match cache.as_mut() {
            Some(maps) => maps
                .entry(obj.clone())
                .or_insert_with(|| Arc::new(Map::read(self, obj)))
                .clone(),
            None => Arc::new(Map::read(self, obj)),
        }
    }

    /// Whether [`Doc::reading`] is running.
    pub(super) fn caching(&self) -> bool {
        self.cache.lock().is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use automerge::transaction::Transactable;
    use automerge::{ActorId, ObjType, ROOT, ScalarValue};

    use super::*;
    use crate::doc::{Stamp, Versions};
    use crate::error::Result;
    use crate::ids::{DocId, DocKind};
    use crate::time::Timestamp;

    fn stamp(by: &str, at: i64) -> Stamp {
        Stamp {
            by: by.into(),
            at: Timestamp(at),
        }
    }

    /// A document with scalars, a nested map, a text, stamped entries and a key two devices
    /// set concurrently (in the root and in the nested map).
    fn document() -> Result<Doc> {
        let id = DocId::new();
        let mut a = Doc::create(
            id.clone(),
            DocKind::Visit,
            &ActorId::random(),
            HashMap::new(),
            &stamp("am-wang", 1),
        )?;
        a.put(&ROOT, "n", 7)?;
        a.put(&ROOT, "f", 1.5)?;
        a.put(&ROOT, "b", true)?;
        let nested = a.am.put_object(&ROOT, "nested", ObjType::Map)?;
        a.put(&nested, "x", "one")?;
        let text = a.am.put_object(&ROOT, "note", ObjType::Text)?;
        a.am.splice_text(&text, 0, 0, "shelf clean")?;
        a.put_stamped(&ROOT, "verdict", "ok", &stamp("am-wang", 2))?;
        a.commit(&stamp("am-wang", 2), "a");
        let heads = a.heads();
        let mut b = a.fork_at(&heads)?;
        b.am.set_actor(ActorId::random());
        a.put_stamped(&ROOT, "verdict", "missing", &stamp("am-wang", 3))?;
        a.put(&nested, "x", "two")?;
        a.commit(&stamp("am-wang", 3), "a again");
        b.put_stamped(&ROOT, "verdict", "damaged", &stamp("sup-liu", 4))?;
        b.put(&nested, "x", "three")?;
        b.put_entry(
            &ROOT,
            "tag",
            vec![("v", ScalarValue::Int(3))],
            &stamp("sup-liu", 4),
        )?;
        b.commit(&stamp("sup-liu", 4), "b");
        let changes = b.am.get_changes(&[]);
        a.am.apply_changes(changes)?;
        Ok(a)
    }

    /// Everything the readers ask of a document, as plain values.
    fn read_all(doc: &Doc) -> String {
        let nested = doc.obj(&ROOT, "nested");
        let mut scalars = Vec::new();
        doc.for_each_scalar(&ROOT, |k, v| scalars.push(format!("{k}={v}")));
        let versions = |v: Option<Versions<crate::doc::Fields>>| {
            v.map(|v| {
                v.all()
                    .map(|w| format!("{:?}/{}/{}", w.value.get("v"), w.by, w.at.0))
                    .collect::<Vec<_>>()
            })
        };
        let snapshot = doc.snapshot(&ROOT, None).map(|s| {
            s.keys()
                .map(|k| {
                    format!(
                        "{k}:{:?}:{:?}",
                        s.scalar(k),
                        versions(s.entry_versions(doc, k))
                    )
                })
                .collect::<Vec<_>>()
        });
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            doc.scalar(&ROOT, "n"),
            doc.str(&ROOT, "kind"),
            doc.str(&ROOT, "n"),
            doc.f64(&ROOT, "f"),
            doc.bool(&ROOT, "b"),
            doc.keys(&ROOT),
            nested.as_ref().map(|n| doc.str(n, "x")),
            nested.as_ref().map(|n| doc.keys(n)),
            doc.obj(&ROOT, "note"),
            doc.text(&ROOT, "note"),
            versions(doc.entries(&ROOT, "verdict")),
            versions(doc.entries(&ROOT, "tag")),
            doc.entry(&ROOT, "verdict").map(|f| f.str("v")),
            scalars,
            snapshot,
        )
    }

    #[test]
    fn a_document_read_through_the_cache_reads_exactly_as_it_reads_from_automerge() -> Result<()> {
        let doc = document()?;
        let direct = read_all(&doc);
        assert!(
            direct.contains("damaged") && direct.contains("missing"),
            "{direct}"
        );
        let cached = doc.reading(read_all);
        assert_eq!(cached, direct);
        // Twice within one call: the second read comes from the maps the first one read.
        let twice = doc.reading(|doc| {
            read_all(doc);
            read_all(doc)
        });
        assert_eq!(twice, direct);
        Ok(())
    }

    #[test]
    fn the_cache_is_off_once_reading_ends_even_when_the_reader_panics() -> Result<()> {
        let mut doc = document()?;
        doc.reading(|doc| assert!(doc.caching()));
        assert!(!doc.caching());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            doc.reading(|_| panic!("a reader failed"))
        }));
        assert!(panicked.is_err());
        assert!(!doc.caching(), "a stale copy would outlive the next edit");
        // An edit after reading is seen by the next read.
        doc.reading(|doc| assert_eq!(doc.i64(&ROOT, "n"), Some(7)));
        doc.put(&ROOT, "n", 8)?;
        doc.commit(&stamp("am-wang", 5), "edit");
        assert_eq!(doc.reading(|doc| doc.i64(&ROOT, "n")), Some(8));
        Ok(())
    }
}
