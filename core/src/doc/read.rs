//! Reading a document: scalars, maps, text and stamped fields, as every kind's reader does.

use std::collections::HashSet;

use automerge::hydrate;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use super::{Doc, Fields, Versions};
use crate::error::{Error, Result};
use crate::time::Timestamp;

impl Doc {
    pub(crate) fn scalar(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.am.get(obj, key) {
            Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
            _ => None,
        }
    }

    pub(crate) fn str(&self, obj: &ObjId, key: &str) -> Option<String> {
        read_str(&self.am, obj, key)
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
        match self.am.get(obj, key) {
            Ok(Some((Value::Object(ObjType::Map | ObjType::Table), id))) => Some(id),
            _ => None,
        }
    }

    /// Calls `f` with every key of map `obj` that holds a scalar, and the value every
    /// device shows: what a [`MapSnapshot`] of the map holds as scalars, without
    /// hydrating it (for the index, which reads a whole count).
    pub(crate) fn for_each_scalar(&self, obj: &ObjId, mut f: impl FnMut(&str, &ScalarValue)) {
        for item in self.am.map_range(obj, ..) {
            if let Value::Scalar(value) = Value::from(item.value) {
                f(&item.key, &value);
            }
        }
    }

    pub(crate) fn keys(&self, obj: &ObjId) -> Vec<String> {
        self.am.keys(obj).collect()
    }

    pub(crate) fn text(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.am.get(obj, key) {
            Ok(Some((Value::Object(ObjType::Text), id))) => self.am.text(&id).ok(),
            _ => None,
        }
    }

    /// The map at `key` of `obj` (or `obj` itself), read whole in one pass: the fast way
    /// to read many entries, where per-key reads cost a lookup each.
    pub(crate) fn snapshot(&self, obj: &ObjId, key: Option<&str>) -> Option<MapSnapshot> {
        let id = match key {
            Some(k) => self.obj(obj, k)?,
            None => obj.clone(),
        };
        match self.am.hydrate(&id, None).ok()? {
            hydrate::Value::Map(map) => {
                let conflicted = map
                    .iter()
                    .filter(|(_, v)| v.conflict)
                    .map(|(k, _)| k.clone())
                    .collect();
                Some(MapSnapshot {
                    obj: id,
                    map,
                    conflicted,
                })
            }
            _ => None,
        }
    }

    /// Every entry of a stamped field, or `None` when it was never set or was cleared.
    pub(crate) fn entries(&self, obj: &ObjId, key: &str) -> Option<Versions<Fields>> {
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
        match self.am.get(obj, key).ok()? {
            Some((Value::Scalar(s), _)) => s.as_str().and_then(Fields::parse),
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
    map: hydrate::Map,
    conflicted: HashSet<String>,
}

impl MapSnapshot {
    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.iter().map(|(k, _)| k)
    }

    pub(crate) fn scalar(&self, key: &str) -> Option<&ScalarValue> {
        match self.map.get(key) {
            Some(hydrate::Value::Scalar(s)) => Some(s),
            _ => None,
        }
    }

    /// Every version of the stamped entry at `key`: straight from the snapshot when there
    /// is one value, through Automerge's conflict list when there are several.
    pub(crate) fn entry_versions(&self, doc: &Doc, key: &str) -> Option<Versions<Fields>> {
        if self.conflicted.contains(key) {
            return doc.entries(&self.obj, key);
        }
        let fields = Fields::parse(self.scalar(key)?.as_str()?)?;
        Some(Versions {
            current: fields.written(),
            others: Vec::new(),
        })
    }
}
