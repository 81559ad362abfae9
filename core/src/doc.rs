//! The Automerge document underneath every field document, and the conventions they share.
//!
//! Every document's root holds `schema` (an integer), `kind` and `id`. Fields several
//! people may set at once are stored *stamped*: a small map `{v, by, at}` instead of a bare
//! value, so that when two devices set the field concurrently Automerge keeps both maps and
//! [`Versions`] can show every value with who wrote it and when. Each commit carries a
//! JSON message `{"by": user, "what": summary}` and the device time, which is the history
//! a reviewer reads ("who changed what, and when").
//!
//! No Automerge type leaves this crate: the typed document modules read and write through
//! [`Doc`], and the public API speaks in plain Rust types.

use std::collections::{HashMap, HashSet};

use automerge::hydrate;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};

use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::time::Timestamp;

/// The newest document schema this build reads and writes.
pub const DOC_SCHEMA_VERSION: i64 = 1;

/// Who makes an edit, and when by the device's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub by: String,
    pub at: Timestamp,
}

/// One value of a field, with who wrote it and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Written<T> {
    pub value: T,
    pub by: String,
    pub at: Timestamp,
}

/// Every value a field holds. Usually one; several when people set it concurrently offline.
/// `current` is the value every device shows (Automerge picks it the same way everywhere);
/// `others` are the concurrent values it won over, for an app to show as a conflict.
#[derive(Clone, Debug, PartialEq)]
pub struct Versions<T> {
    pub current: Written<T>,
    pub others: Vec<Written<T>>,
}

impl<T> Versions<T> {
    pub fn is_conflict(&self) -> bool {
        !self.others.is_empty()
    }

    pub fn value(&self) -> &T {
        &self.current.value
    }

    /// Every value, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &Written<T>> {
        std::iter::once(&self.current).chain(self.others.iter())
    }

    pub(crate) fn map<U>(self, f: impl Fn(T) -> U) -> Versions<U> {
        let conv = |w: Written<T>| Written {
            value: f(w.value),
            by: w.by,
            at: w.at,
        };
        Versions {
            current: conv(self.current),
            others: self.others.into_iter().map(conv).collect(),
        }
    }
}

/// One entry of a document's history.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    /// Hex hash of the Automerge change.
    pub change: String,
    pub by: String,
    pub at: Timestamp,
    pub what: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CommitMessage {
    by: String,
    what: String,
}

/// An Automerge document of a known kind.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub(crate) id: DocId,
    pub(crate) kind: DocKind,
    pub(crate) am: AutoCommit,
    /// Heads of what SQLite holds: the next chunk is every change after them.
    saved: Vec<ChangeHash>,
    /// The index rows last derived from this document (see [`Derived`]).
    derived: DerivedState,
}

/// What a document's module derives from it for the index tables, kept with the loaded
/// document so that a local edit updates them from what it wrote instead of reading the
/// whole document again (a count's index read every line of the count on each counted
/// quantity). Rows are trusted only at the heads they were derived at: a merge, or an edit
/// whose code does not update them, leaves them behind and the next index reads the
/// document whole again.
#[derive(Debug, Clone)]
pub(crate) enum Derived {
    Count(crate::inventory_count::CountRows),
    Display(crate::shelf_display::DisplayRows),
    Visit(crate::visit::VisitRow),
}

#[derive(Debug, Clone, Default)]
struct DerivedState {
    /// The rows and the heads they describe.
    current: Option<(Vec<ChangeHash>, Derived)>,
    /// During an edit: the rows as they were before it, for the edit to update.
    editing: Option<Derived>,
    /// Whether the edit in progress updated `editing` with everything it wrote.
    updated: bool,
}

/// The changes a stored chunk (what [`Doc::save_new_changes`] wrote: encoded changes one
/// after the other) is made of, each as the bytes of one change; `None` when the bytes are
/// anything else (a document snapshot, a damaged chunk), which the caller must then load.
///
/// Automerge chunks start with 4 magic bytes, a 4-byte checksum, a type byte (1: change,
/// 2: compressed change) and the length of what follows as unsigned LEB128.
pub(crate) fn split_changes(chunk: &[u8]) -> Option<Vec<&[u8]>> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let mut out = Vec::new();
    let mut rest = chunk;
    // Bounded: every pass consumes at least the 9 bytes of a header.
    while !rest.is_empty() {
        if rest.len() < 9 || rest[..4] != MAGIC || !matches!(rest[8], 1 | 2) {
            return None;
        }
        let mut length_bytes = &rest[9..];
        let length = usize::try_from(leb128::read::unsigned(&mut length_bytes).ok()?).ok()?;
        let header = rest.len() - length_bytes.len();
        let end = header
            .checked_add(length)
            .filter(|&end| end <= rest.len())?;
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    Some(out)
}

impl Doc {
    pub(crate) fn from_parts(id: DocId, kind: DocKind, am: AutoCommit) -> Doc {
        Doc {
            id,
            kind,
            am,
            saved: Vec::new(),
            derived: DerivedState::default(),
        }
    }

    /// A new document whose root is `fields` plus the shared header, in one change.
    pub(crate) fn create(
        id: DocId,
        kind: DocKind,
        actor: &ActorId,
        mut fields: HashMap<&str, hydrate::Value>,
        stamp: &Stamp,
    ) -> Result<Doc> {
        fields.insert("schema", hydrate::Value::from(DOC_SCHEMA_VERSION));
        fields.insert("kind", str_value(kind.as_str()));
        fields.insert("id", str_value(id.as_str()));
        let mut am = AutoCommit::new().with_actor(actor.clone());
        am.init_root_from_hydrate(&hydrate::Map::from(fields))?;
        let mut doc = Doc {
            id,
            kind,
            am,
            saved: Vec::new(),
            derived: DerivedState::default(),
        };
        doc.commit(stamp, &format!("create {kind}"));
        Ok(doc)
    }

    /// Rebuilds a document from its compacted snapshot (if any) and the incremental chunks
    /// saved after it, checking it is of `kind` and of a schema this build understands.
    pub(crate) fn load<'a>(
        id: &DocId,
        kind: DocKind,
        actor: &ActorId,
        snapshot: Option<&[u8]>,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Doc> {
        let corrupt = |e: automerge::AutomergeError| Error::corrupt(id.as_str(), e.to_string());
        // One load of the snapshot followed by every chunk: Automerge applies all their
        // changes in one batch, where loading chunk by chunk re-splices the document's
        // columns once per chunk (ten times the work for a display with a month of checks).
        // A chunk that does not parse, or a change whose dependencies are missing, fails the
        // whole load: the document is reported damaged, never silently shortened.
        let mut all = snapshot.map(<[u8]>::to_vec).unwrap_or_default();
        for chunk in chunks {
            all.extend_from_slice(chunk);
        }
        let mut am = AutoCommit::load(&all).map_err(corrupt)?;
        let saved = am.get_heads();
        let doc = Doc {
            id: id.clone(),
            kind,
            am: am.with_actor(actor.clone()),
            saved,
            derived: DerivedState::default(),
        };
        doc.check_header()?;
        Ok(doc)
    }

    /// A document this device does not have yet, built from a peer's changes (its kind
    /// read from its own header, which must name `id`).
    pub(crate) fn from_changes(
        id: &DocId,
        changes: Vec<automerge::Change>,
        actor: &ActorId,
    ) -> Result<Doc> {
        let mut am = AutoCommit::new().with_actor(actor.clone());
        am.apply_changes(changes)?;
        let incomplete = || {
            Error::invalid(
                "changes",
                format!("they do not hold the creation of `{id}`"),
            )
        };
        let header_id = read_str(&am, &ROOT, "id").ok_or_else(incomplete)?;
        if header_id != id.as_str() {
            return Err(Error::invalid(
                "changes",
                format!("they belong to document `{header_id}`, not `{id}`"),
            ));
        }
        let kind_text = read_str(&am, &ROOT, "kind").ok_or_else(incomplete)?;
        let kind = DocKind::parse(&kind_text)?;
        let doc = Doc {
            id: id.clone(),
            kind,
            am,
            saved: Vec::new(),
            derived: DerivedState::default(),
        };
        doc.check_header()?;
        Ok(doc)
    }

    pub(crate) fn check_header(&self) -> Result<()> {
        let kind = self.req_str(&ROOT, "kind")?;
        if kind != self.kind.as_str() {
            return Err(Error::corrupt(
                self.id.as_str(),
                format!("stored as {} but its kind is `{kind}`", self.kind),
            ));
        }
        let schema = self.req_i64(&ROOT, "schema")?;
        if schema > DOC_SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                what: format!("{} `{}`", self.kind, self.id),
                found: schema,
                supported: DOC_SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Refuses a document whose identity was rewritten: changes of another document merged
    /// in would leave two different values under `id` (or `kind`), one of which may win
    /// silently.
    pub(crate) fn check_identity(&self) -> Result<()> {
        for key in ["id", "kind"] {
            let values = self.am.get_all(&ROOT, key)?;
            // Several equal values are fine: two phones may start the same derived document.
            let first = values.first().map(|(v, _)| v.to_string());
            if values.iter().any(|(v, _)| Some(v.to_string()) != first) {
                return Err(Error::invalid(
                    "changes",
                    format!(
                        "they rewrite the `{key}` of document `{}`: they belong to another document",
                        self.id
                    ),
                ));
            }
        }
        if self.str(&ROOT, "id").as_deref() != Some(self.id.as_str()) {
            return Err(Error::invalid(
                "changes",
                format!("they belong to another document than `{}`", self.id),
            ));
        }
        Ok(())
    }

    /// Closes the pending edits into one change stamped with who and when.
    pub(crate) fn commit(&mut self, stamp: &Stamp, what: &str) -> Option<ChangeHash> {
        let message = serde_json::to_string(&CommitMessage {
            by: stamp.by.clone(),
            what: what.to_owned(),
        })
        .unwrap_or_default();
        self.am.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(stamp.at.0),
        )
    }

    /// The whole document in Automerge's compact format (a snapshot).
    pub(crate) fn save_full(&mut self) -> Vec<u8> {
        let bytes = self.am.save();
        self.saved = self.am.get_heads();
        bytes
    }

    /// A snapshot as [`save_full`](Self::save_full), without DEFLATE on its columns: for
    /// a document merged whole on the path of a sync, where setting up a compressor per
    /// column cost more than everything else the merge does (compaction, when the app is
    /// idle, compresses it later). Loads the same way.
    pub(crate) fn save_full_uncompressed(&mut self) -> Vec<u8> {
        let bytes = self.am.save_nocompress();
        self.saved = self.am.get_heads();
        bytes
    }

    /// Every change made since SQLite last got this document (a chunk). Automerge's own
    /// `save_incremental` would repeat the whole history after a load, whose save point
    /// starts empty; this one starts from the heads that were loaded.
    pub(crate) fn save_new_changes(&mut self) -> Vec<u8> {
        let bytes = self.am.save_after(&self.saved);
        self.saved = self.am.get_heads();
        bytes
    }

    /// Every change not among `since` and their ancestors, encoded as Automerge sends one.
    pub(crate) fn changes_since(&mut self, since: &[ChangeHash]) -> Vec<Vec<u8>> {
        self.am
            .get_changes(since)
            .into_iter()
            .map(|mut c| c.bytes().into_owned())
            .collect()
    }

    pub(crate) fn heads(&mut self) -> Vec<ChangeHash> {
        self.am.get_heads()
    }

    // ---- derived index rows --------------------------------------------------------------

    /// The rows derived at the document's current heads, if any.
    pub(crate) fn derived(&mut self) -> Option<&Derived> {
        let heads = self.am.get_heads();
        match &self.derived.current {
            Some((at, rows)) if *at == heads => Some(rows),
            _ => None,
        }
    }

    /// Takes the rows derived at the document's current heads, if any.
    pub(crate) fn take_derived(&mut self) -> Option<Derived> {
        let heads = self.am.get_heads();
        match self.derived.current.take() {
            Some((at, rows)) if at == heads => Some(rows),
            _ => None,
        }
    }

    /// Keeps `rows` as derived from the document as it is now.
    pub(crate) fn set_derived(&mut self, rows: Derived) {
        let heads = self.am.get_heads();
        self.derived.current = Some((heads, rows));
    }

    /// Starts a local edit: the rows valid now are set aside for the edit to update.
    pub(crate) fn begin_edit(&mut self) {
        let heads = self.am.get_heads();
        self.derived.editing = match self.derived.current.take() {
            Some((at, rows)) if at == heads => Some(rows),
            _ => None,
        };
        self.derived.updated = false;
    }

    /// For the code of an edit, once every write of the edit succeeded: `update` applies
    /// what the edit wrote to the rows and returns whether it covered all of it (rows it
    /// does not know are dropped and derived again from the document).
    pub(crate) fn update_derived(&mut self, update: impl FnOnce(&mut Derived) -> bool) {
        if let Some(rows) = self.derived.editing.as_mut() {
            self.derived.updated = update(rows);
        }
    }

    /// Ends a local edit: the updated rows describe the document when the edit was
    /// committed; otherwise (rolled back, nothing written, or not updated) they are dropped.
    pub(crate) fn end_edit(&mut self, committed: bool) {
        let rows = self.derived.editing.take();
        let updated = std::mem::take(&mut self.derived.updated);
        if let (true, true, Some(rows)) = (committed, updated, rows) {
            self.set_derived(rows);
        }
    }

    // ---- reading -------------------------------------------------------------------------

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
            .map(|v| v.map(|entry| entry.0.get("v").cloned().unwrap_or(ScalarValue::Null)))
    }

    // ---- writing -------------------------------------------------------------------------

    pub(crate) fn put(
        &mut self,
        obj: &ObjId,
        key: &str,
        value: impl Into<ScalarValue>,
    ) -> Result<()> {
        self.am.put(obj, key, value)?;
        Ok(())
    }

    pub(crate) fn delete(&mut self, obj: &ObjId, key: &str) -> Result<()> {
        if self.am.get(obj, key)?.is_some() {
            self.am.delete(obj, key)?;
        }
        Ok(())
    }

    /// Writes a stamped value `{v, by, at}` at `key`.
    pub(crate) fn put_stamped(
        &mut self,
        obj: &ObjId,
        key: &str,
        value: impl Into<ScalarValue>,
        stamp: &Stamp,
    ) -> Result<()> {
        self.put_entry(obj, key, vec![("v", value.into())], stamp)
    }

    /// Writes a stamped entry with several fields (`by` and `at` are added) as one value,
    /// so that fields which belong together (a verdict and its note) conflict and win
    /// together.
    pub(crate) fn put_entry(
        &mut self,
        obj: &ObjId,
        key: &str,
        fields: Vec<(&str, ScalarValue)>,
        stamp: &Stamp,
    ) -> Result<()> {
        self.am
            .put(obj, key, ScalarValue::Str(entry_json(fields, stamp).into()))?;
        Ok(())
    }

    /// Writes a value built for creation (an entry, or a whole object such as a check-in)
    /// at `key`; objects go in one batch operation.
    pub(crate) fn put_value(
        &mut self,
        obj: &ObjId,
        key: &str,
        value: &hydrate::Value,
    ) -> Result<()> {
        match value {
            hydrate::Value::Scalar(s) => {
                self.am.put(obj, key, s.clone())?;
            }
            other => {
                self.am.batch_create_object(obj, key, other, false)?;
            }
        }
        Ok(())
    }

    /// The map at `key`, created empty if absent. Two devices creating the same map
    /// concurrently would each make their own object and one would hide the other, so the
    /// maps created here are the document's fixed containers, made when it is created.
    pub(crate) fn container(&mut self, obj: &ObjId, key: &str) -> Result<ObjId> {
        match self.obj(obj, key) {
            Some(id) => Ok(id),
            None => Ok(self.am.put_object(obj, key, ObjType::Map)?),
        }
    }

    /// Replaces the text at `key` with `new`, as a minimal diff so concurrent edits by
    /// other people elsewhere in the text survive.
    pub(crate) fn update_text(&mut self, obj: &ObjId, key: &str, new: &str) -> Result<()> {
        let id = match self.am.get(obj, key)? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => self.am.put_object(obj, key, ObjType::Text)?,
        };
        self.am.update_text(&id, new)?;
        Ok(())
    }

    /// Appends `text` at the end of the text at `key`.
    pub(crate) fn append_text(&mut self, obj: &ObjId, key: &str, text: &str) -> Result<()> {
        let id = match self.am.get(obj, key)? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => self.am.put_object(obj, key, ObjType::Text)?,
        };
        let end = self.am.length(&id);
        self.am.splice_text(&id, end, 0, text)?;
        Ok(())
    }

    // ---- history -------------------------------------------------------------------------

    /// Every change in causal order (a change after everything it built on), with who made
    /// it and what it did. Device clocks drift, so the order is not sorted by `at`.
    pub(crate) fn history(&mut self) -> Vec<HistoryEntry> {
        self.am
            .get_changes_meta(&[])
            .into_iter()
            .map(|meta| {
                let parsed = meta
                    .message
                    .as_deref()
                    .and_then(|m| serde_json::from_str::<CommitMessage>(m).ok());
                let (by, what) = match parsed {
                    Some(m) => (m.by, m.what),
                    None => (
                        String::new(),
                        meta.message.as_deref().unwrap_or_default().to_owned(),
                    ),
                };
                HistoryEntry {
                    change: meta.hash.to_string(),
                    by,
                    at: Timestamp(meta.timestamp),
                    what,
                }
            })
            .collect()
    }

    /// The document as it was at the end of `at`: every change made at or before `at` by its
    /// author's clock, plus whatever those changes built on (a drifting clock cannot make a
    /// change appear without its causes).
    pub(crate) fn as_of(&mut self, at: Timestamp) -> Result<Doc> {
        let metas: Vec<(ChangeHash, i64, Vec<ChangeHash>)> = self
            .am
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| (m.hash, m.timestamp, m.deps))
            .collect();
        let deps_of: HashMap<ChangeHash, &Vec<ChangeHash>> =
            metas.iter().map(|(h, _, d)| (*h, d)).collect();
        let mut included: HashSet<ChangeHash> = HashSet::new();
        let mut stack: Vec<ChangeHash> = metas
            .iter()
            .filter(|(_, t, _)| *t <= at.0)
            .map(|(h, _, _)| *h)
            .collect();
        // Bounded by the number of changes: each hash is expanded once.
        while let Some(hash) = stack.pop() {
            if included.insert(hash)
                && let Some(deps) = deps_of.get(&hash)
            {
                stack.extend(deps.iter().copied());
            }
        }
        let referenced: HashSet<ChangeHash> = included
            .iter()
            .filter_map(|h| deps_of.get(h))
            .flat_map(|d| d.iter().copied())
            .collect();
        let heads: Vec<ChangeHash> = included
            .iter()
            .filter(|h| !referenced.contains(h))
            .copied()
            .collect();
        let am = self.am.fork_at(&heads)?;
        Ok(Doc {
            id: self.id.clone(),
            kind: self.kind,
            am,
            saved: heads,
            derived: DerivedState::default(),
        })
    }
}

pub(crate) fn str_value(s: &str) -> hydrate::Value {
    hydrate::Value::from(ScalarValue::Str(s.into()))
}

/// A stamped value `{v, by, at}`, ready for document creation.
pub(crate) fn stamped_value(value: impl Into<ScalarValue>, stamp: &Stamp) -> hydrate::Value {
    entry_value(vec![("v", value.into())], stamp)
}

/// A stamped entry with several fields, ready for document creation.
pub(crate) fn entry_value(fields: Vec<(&str, ScalarValue)>, stamp: &Stamp) -> hydrate::Value {
    hydrate::Value::from(ScalarValue::Str(entry_json(fields, stamp).into()))
}

/// A stamped entry as stored: one JSON object in one string, so writing it is one
/// Automerge operation and concurrent writes conflict as whole entries.
fn entry_json(fields: Vec<(&str, ScalarValue)>, stamp: &Stamp) -> String {
    let mut map = serde_json::Map::new();
    for (k, v) in fields {
        map.insert(k.to_owned(), scalar_to_json(&v));
    }
    map.insert("by".into(), serde_json::Value::from(stamp.by.as_str()));
    map.insert("at".into(), serde_json::Value::from(stamp.at.0));
    serde_json::Value::Object(map).to_string()
}

fn scalar_to_json(v: &ScalarValue) -> serde_json::Value {
    match v {
        ScalarValue::Str(s) => serde_json::Value::from(s.as_str()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => serde_json::Value::from(*i),
        ScalarValue::Uint(u) => serde_json::Value::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or_default(),
        ScalarValue::Boolean(b) => serde_json::Value::from(*b),
        _ => serde_json::Value::Null,
    }
}

fn json_to_scalar(v: &serde_json::Value) -> ScalarValue {
    match v {
        serde_json::Value::String(s) => ScalarValue::Str(s.as_str().into()),
        serde_json::Value::Bool(b) => ScalarValue::Boolean(*b),
        serde_json::Value::Number(n) if n.is_f64() => {
            ScalarValue::F64(n.as_f64().unwrap_or_default())
        }
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(ScalarValue::Int)
            .unwrap_or_else(|| ScalarValue::F64(n.as_f64().unwrap_or_default())),
        _ => ScalarValue::Null,
    }
}

pub(crate) fn empty_map() -> hydrate::Value {
    hydrate::Value::map()
}

pub(crate) fn text_value(s: &str) -> hydrate::Value {
    hydrate::Value::text(automerge::TextEncoding::platform_default(), s)
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

/// The fields of one stamped entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Fields(HashMap<String, ScalarValue>);

impl Fields {
    /// Reads an entry as stored; `None` when the string is not an entry.
    pub(crate) fn parse(text: &str) -> Option<Fields> {
        match serde_json::from_str::<serde_json::Value>(text).ok()? {
            serde_json::Value::Object(map) => Some(Fields(
                map.iter()
                    .map(|(k, v)| (k.clone(), json_to_scalar(v)))
                    .collect(),
            )),
            _ => None,
        }
    }

    /// What `Fields::parse(text)?.i64(key)` gives, without building the other fields: `None`
    /// when the text is not an entry, `Some(None)` when the entry has no integer at `key`.
    /// For the index of a count, which reads one field of every line.
    pub(crate) fn parse_i64(text: &str, key: &str) -> Option<Option<i64>> {
        struct OneField<'k>(&'k str);
        impl<'de> serde::de::DeserializeSeed<'de> for OneField<'_> {
            type Value = Option<serde_json::Value>;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> std::result::Result<Self::Value, D::Error> {
                deserializer.deserialize_map(self)
            }
        }
        impl<'de> serde::de::Visitor<'de> for OneField<'_> {
            type Value = Option<serde_json::Value>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut found = None;
                // Bounded by the entries of the object; the last of equal keys wins, as in
                // `Fields::parse`.
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if k == self.0 {
                        found = Some(map.next_value::<serde_json::Value>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(found)
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let value = serde::de::DeserializeSeed::deserialize(OneField(key), &mut de).ok()?;
        de.end().ok()?;
        Some(value.and_then(|v| scalar_i64(&json_to_scalar(&v))))
    }

    /// The entry with its author and time taken out.
    fn written(self) -> Written<Fields> {
        let (by, at) = (
            self.str("by").unwrap_or_default(),
            Timestamp(self.i64("at").unwrap_or(0)),
        );
        Written {
            value: self,
            by,
            at,
        }
    }

    pub(crate) fn str(&self, key: &str) -> Option<String> {
        self.0.get(key).and_then(scalar_str)
    }

    /// The value at `key`, as parsed.
    pub(crate) fn get(&self, key: &str) -> Option<&ScalarValue> {
        self.0.get(key)
    }

    /// Every key of the entry with its value.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &ScalarValue)> {
        self.0.iter()
    }

    pub(crate) fn i64(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(scalar_i64)
    }

    pub(crate) fn f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(scalar_f64)
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self.0.get(key) {
            Some(ScalarValue::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn time(&self, key: &str) -> Option<Timestamp> {
        self.i64(key).map(Timestamp)
    }
}

pub(crate) use automerge::ROOT as DOC_ROOT;
pub(crate) type Obj = ObjId;
pub(crate) type Scalar = ScalarValue;
pub(crate) type HydrateValue = hydrate::Value;

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(by: &str, at: i64) -> Stamp {
        Stamp {
            by: by.into(),
            at: Timestamp(at),
        }
    }

    #[test]
    fn reading_one_integer_of_an_entry_gives_what_parsing_the_whole_entry_gives() {
        for text in [
            r#"{"v":18,"by":"li","at":5}"#,
            r#"{"by":"li","v":-3}"#,
            r#"{"v":1.5}"#,
            r#"{"v":"18"}"#,
            r#"{"v":null}"#,
            r#"{"v":18446744073709551615}"#,
            r#"{"v":1,"v":2}"#,
            r#"{"by":{"nested":[1,2]},"v":7}"#,
            r#"{}"#,
            r#" {"v":4} "#,
            r#"[1]"#,
            r#"18"#,
            r#"{"v":1"#,
            r#"{"v":1} x"#,
        ] {
            assert_eq!(
                Fields::parse_i64(text, "v"),
                Fields::parse(text).map(|f| f.i64("v")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_stored_chunk_splits_into_the_changes_it_holds_and_a_snapshot_does_not() -> Result<()> {
        let actor = ActorId::random();
        let mut doc = Doc::create(
            DocId::new(),
            DocKind::Visit,
            &actor,
            HashMap::new(),
            &stamp("u", 1),
        )?;
        // A long note makes Automerge compress that change: both chunk types are covered.
        doc.put(&ROOT, "notes", "shelf tidy ".repeat(200))?;
        doc.commit(&stamp("u", 2), "notes");
        doc.put(&ROOT, "outcome", "done")?;
        doc.commit(&stamp("u", 3), "outcome");
        let chunk = doc.save_new_changes();
        let expected: Vec<ChangeHash> = doc.am.get_changes(&[]).iter().map(|c| c.hash()).collect();
        assert_eq!(expected.len(), 3);

        let parts = split_changes(&chunk).expect("a chunk of changes");
        let hashes: Vec<ChangeHash> = parts
            .iter()
            .map(|p| automerge::Change::try_from(*p).map(|c| c.hash()))
            .collect::<std::result::Result<_, _>>()
            .expect("each part is one change");
        assert_eq!(hashes, expected);
        let mut compressed = doc
            .am
            .get_changes(&[])
            .into_iter()
            .nth(1)
            .expect("the notes");
        let compressed = compressed.bytes().into_owned();
        assert_eq!(compressed[8], 2, "Automerge compressed the long change");
        assert_eq!(split_changes(&compressed).map(|p| p.len()), Some(1));

        assert_eq!(
            split_changes(&doc.save_full()),
            None,
            "a snapshot is not changes"
        );
        assert_eq!(
            split_changes(&chunk[..chunk.len() - 1]),
            None,
            "a cut chunk"
        );
        Ok(())
    }

    #[test]
    fn a_document_written_by_a_newer_schema_is_refused_on_load() -> Result<()> {
        let actor = ActorId::random();
        let id = DocId::new();
        let mut doc = Doc::create(
            id.clone(),
            DocKind::Visit,
            &actor,
            HashMap::new(),
            &stamp("u", 1),
        )?;
        doc.put(&ROOT, "schema", DOC_SCHEMA_VERSION + 1)?;
        doc.commit(&stamp("u", 2), "from the future");
        let bytes = doc.am.save();
        let err =
            Doc::load(&id, DocKind::Visit, &actor, Some(&bytes), []).expect_err("must refuse");
        assert!(
            matches!(
                err,
                Error::SchemaTooNew {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn stored_bytes_of_one_kind_are_refused_as_another() -> Result<()> {
        let actor = ActorId::random();
        let id = DocId::new();
        let mut doc = Doc::create(
            id.clone(),
            DocKind::Store,
            &actor,
            HashMap::new(),
            &stamp("u", 1),
        )?;
        let bytes = doc.am.save();
        let err = Doc::load(&id, DocKind::Task, &actor, Some(&bytes), []).expect_err("must refuse");
        assert!(
            err.to_string()
                .contains("stored as task but its kind is `store`"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn concurrent_stamped_writes_are_all_returned_with_the_same_winner_everywhere() -> Result<()> {
        let id = DocId::new();
        let mut a = Doc::create(
            id.clone(),
            DocKind::Store,
            &ActorId::random(),
            HashMap::new(),
            &stamp("a", 1),
        )?;
        let mut b = Doc {
            id: id.clone(),
            kind: DocKind::Store,
            am: a.am.fork().with_actor(ActorId::random()),
            saved: Vec::new(),
            derived: DerivedState::default(),
        };
        a.put_stamped(&ROOT, "phone", "111", &stamp("a", 10))?;
        a.commit(&stamp("a", 10), "a");
        b.put_stamped(&ROOT, "phone", "222", &stamp("b", 20))?;
        b.commit(&stamp("b", 20), "b");
        a.am.merge(&mut b.am)?;
        b.am.merge(&mut a.am)?;
        let (va, vb) = (
            a.stamped(&ROOT, "phone").expect("set"),
            b.stamped(&ROOT, "phone").expect("set"),
        );
        assert_eq!(va, vb);
        assert!(va.is_conflict());
        let mut who: Vec<&str> = va.all().map(|w| w.by.as_str()).collect();
        who.sort_unstable();
        assert_eq!(who, vec!["a", "b"]);
        Ok(())
    }
}
