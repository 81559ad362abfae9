//! Reading a document: scalars, maps, text and stamped fields, as every kind's reader does.

use std::sync::Arc;

use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use super::cache::Map;
use super::{Doc, Fields, Versions};
use crate::error::{Error, Result};
use crate::time::Timestamp;

impl Doc {
    /// The value every device shows at `key` of map `obj`, and the object's id when it is
    /// one: from the read cache while [`Doc::reading`] runs, else from Automerge.
    fn lookup(&self, obj: &ObjId, key: &str) -> Option<(Value<'static>, Option<ObjId>)> {
        if self.caching() {
            let map = self.map(obj);
            let item = map.get(key)?;
            return Some((item.value.clone(), item.id.clone()));
        }
        match self.am.get(obj, key) {
            Ok(Some((value, id))) => {
                let id = value.is_object().then_some(id);
                Some((value.to_owned(), id))
            }
            _ => None,
        }
    }

    pub(crate) fn scalar(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.lookup(obj, key)? {
            (Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    pub(crate) fn str(&self, obj: &ObjId, key: &str) -> Option<String> {
        if !self.caching() {
            return read_str(&self.am, obj, key);
        }
        let map = self.map(obj);
        match &map.get(key)?.value {
            Value::Scalar(s) => s.as_str().map(str::to_owned),
            Value::Object(_) => None,
        }
    }

    pub(crate) fn i64(&self, obj: &ObjId, key: &str) -> Option<i64> {
        self.scalar(obj, key).and_then(|s| scalar_i64(&s))
    }

    pub(crate) fn f64(&self, obj: &ObjId, key: &str) -> Option<f64> {
        self.scalar(obj, key).and_then(|s| scalar_f64(&s))
    }

    pub(crate) fn bool(&self, obj: &ObjId, key: &str) -> Option<bool> {
        match self.scalar(obj, key) {
            Some(ScalarValue::Boolean(b)) => Some(b),
            _ => None,
        }
    }

    pub(crate) fn time(&self, obj: &ObjId, key: &str) -> Option<Timestamp> {
        self.i64(obj, key).map(Timestamp)
    }

    pub(crate) fn req_str(&self, obj: &ObjId, key: &str) -> Result<String> {
        self.str(obj, key).ok_or_else(|| self.missing(key))
    }

    pub(crate) fn req_i64(&self, obj: &ObjId, key: &str) -> Result<i64> {
        self.i64(obj, key).ok_or_else(|| self.missing(key))
    }

    pub(crate) fn missing(&self, key: &str) -> Error {
        Error::corrupt(
            self.id.as_str(),
            format!("field `{key}` is missing or has the wrong type"),
        )
    }

    /// The map object at `key`, if there is one.
    pub(crate) fn obj(&self, obj: &ObjId, key: &str) -> Option<ObjId> {
        match self.lookup(obj, key)? {
            (Value::Object(ObjType::Map | ObjType::Table), id) => id,
            _ => None,
        }
    }

    /// Calls `f` with every key of map `obj` that holds a scalar, and the value every
    /// device shows: what a [`MapSnapshot`] of the map holds as scalars, without
    /// hydrating it (for the index, which reads a whole count).
    pub(crate) fn for_each_scalar(&self, obj: &ObjId, mut f: impl FnMut(&str, &ScalarValue)) {
        if self.caching() {
            for item in &self.map(obj).items {
                if let Value::Scalar(value) = &item.value {
                    f(&item.key, value);
                }
            }
            return;
        }
        for item in self.am.map_range(obj, ..) {
            if let Value::Scalar(value) = Value::from(item.value) {
                f(&item.key, &value);
            }
        }
    }

    pub(crate) fn keys(&self, obj: &ObjId) -> Vec<String> {
        if self.caching() {
            return self.map(obj).items.iter().map(|i| i.key.clone()).collect();
        }
        self.am.keys(obj).collect()
    }

    /// The keys of `obj` that start with `prefix`, in order: a range of the map, not a
    /// walk of every key (a shelf display holds hundreds of product keys beside a few
    /// photos).
    pub(crate) fn keys_with_prefix(&self, obj: &ObjId, prefix: &str) -> Vec<String> {
        if self.caching() {
            return self
                .map(obj)
                .items
                .iter()
                .filter(|i| i.key.starts_with(prefix))
                .map(|i| i.key.clone())
                .collect();
        }
        let mut end = prefix.to_owned();
        match end.pop().and_then(|last| char::from_u32(last as u32 + 1)) {
            Some(next) => end.push(next),
            None => {
                return self
                    .keys(obj)
                    .into_iter()
                    .filter(|k| k.starts_with(prefix))
                    .collect();
            }
        }
        self.am
            .map_range(obj, prefix.to_owned()..end)
            .map(|item| item.key.into_owned())
            .filter(|key| key.starts_with(prefix))
            .collect()
    }

    pub(crate) fn text(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.lookup(obj, key)? {
            (Value::Object(ObjType::Text), Some(id)) => self.am.text(&id).ok(),
            _ => None,
        }
    }

    /// The map at `key` of `obj` (or `obj` itself), read whole in one pass: the fast way
    /// to read many entries, where per-key reads cost a lookup each (within
    /// [`Doc::reading`], the pass its other reads of the map share).
    pub(crate) fn snapshot(&self, obj: &ObjId, key: Option<&str>) -> Option<MapSnapshot> {
        let id = match key {
            Some(k) => self.obj(obj, k)?,
            None => obj.clone(),
        };
        let map = self.map(&id);
        Some(MapSnapshot { obj: id, map })
    }

    /// Every entry of a stamped field, or `None` when it was never set or was cleared.
    pub(crate) fn entries(&self, obj: &ObjId, key: &str) -> Option<Versions<Fields>> {
        if self.caching() {
            let map = self.map(obj);
            let item = map.get(key)?;
            if !item.conflict {
                let Value::Scalar(s) = &item.value else {
                    return None;
                };
                let fields = Fields::parse(s.as_str()?)?;
                return Some(Versions {
                    current: fields.written(),
                    others: Vec::new(),
                });
            }
        }
        let winner = match self.am.get(obj, key).ok()? {
            Some((Value::Scalar(_), id)) => id,
            _ => return None,
        };
        let mut others = Vec::new();
        let mut current = None;
        for (value, id) in self.am.get_all(obj, key).ok()? {
            let Some(fields) = (match &value {
                Value::Scalar(s) => s.as_str().and_then(Fields::parse),
                _ => None,
            }) else {
                continue;
            };
            let written = fields.written();
            if id == winner {
                current = Some(written);
            } else {
                others.push(written);
            }
        }
        // Newest first among the values that lost, so an app can list them as they came.
        others.sort_by_key(|w| std::cmp::Reverse(w.at));
        current.map(|current| Versions { current, others })
    }

    /// The current entry of a stamped field (the value every device shows).
    pub(crate) fn entry(&self, obj: &ObjId, key: &str) -> Option<Fields> {
        match self.lookup(obj, key)? {
            (Value::Scalar(s), _) => s.as_str().and_then(Fields::parse),
            _ => None,
        }
    }

    /// Every value of a stamped field (its `v`).
    pub(crate) fn stamped(&self, obj: &ObjId, key: &str) -> Option<Versions<ScalarValue>> {
        self.entries(obj, key)
            .map(|v| v.map(|entry| entry.get("v").cloned().unwrap_or(ScalarValue::Null)))
    }
}

fn read_str(am: &AutoCommit, obj: &ObjId, key: &str) -> Option<String> {
    match am.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

pub(crate) fn scalar_i64(s: &ScalarValue) -> Option<i64> {
    match s {
        ScalarValue::Int(i) => Some(*i),
        ScalarValue::Uint(u) => i64::try_from(*u).ok(),
        ScalarValue::Timestamp(t) => Some(*t),
        ScalarValue::Counter(c) => Some(i64::from(c)),
        _ => None,
    }
}

pub(crate) fn scalar_f64(s: &ScalarValue) -> Option<f64> {
    match s {
        ScalarValue::F64(f) => Some(*f),
        ScalarValue::Int(i) => Some(*i as f64),
        ScalarValue::Uint(u) => Some(*u as f64),
        _ => None,
    }
}

pub(crate) fn scalar_str(s: &ScalarValue) -> Option<String> {
    match s {
        ScalarValue::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

/// A map read whole by [`Doc::snapshot`].
#[derive(Clone, Debug)]
pub(crate) struct MapSnapshot {
    obj: ObjId,
    map: Arc<Map>,
}

impl MapSnapshot {
    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.items.iter().map(|item| &item.key)
    }

    pub(crate) fn scalar(&self, key: &str) -> Option<&ScalarValue> {
        match &self.map.get(key)?.value {
            Value::Scalar(s) => Some(s.as_ref()),
            Value::Object(_) => None,
        }
    }

    /// Every version of the stamped entry at `key`: straight from the snapshot when there
    /// is one value, through Automerge's conflict list when there are several.
    pub(crate) fn entry_versions(&self, doc: &Doc, key: &str) -> Option<Versions<Fields>> {
        let item = self.map.get(key)?;
        if item.conflict {
            return doc.entries(&self.obj, key);
        }
        let fields = Fields::parse(self.scalar(key)?.as_str()?)?;
        Some(Versions {
            current: fields.written(),
            others: Vec::new(),
        })
    }
}
