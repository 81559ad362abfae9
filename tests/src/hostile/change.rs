//! Making a [`Mutation`]: its operations applied to a fork of the document, one commit.

use std::fmt;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, AutomergeError, Change, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};

use super::Mutation;

/// A value an operation writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
    Counter(i64),
    Null,
    Bytes,
    Map,
    List,
    Text(String),
}

/// One operation of a change; a path is map keys from the root.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Writes the last key of the path (maps on the way are made where missing).
    Put(Vec<String>, Val),
    Delete(Vec<String>),
    /// Appends to the Automerge Text at the path (made where missing).
    Append(Vec<String>, String),
}

impl Mutation {
    /// Makes the change on a fork of `doc` (the server's document, at [`Mutation::base`]
    /// when it has one) with a fresh actor; `None` when its operations change nothing.
    pub fn make(&self, doc: &mut AutoCommit) -> Result<Option<Change>, AutomergeError> {
        let mut doc = match &self.base {
            Some(heads) => doc.fork_at(heads)?,
            None => doc.fork(),
        }
        .with_actor(automerge::ActorId::random());
        let doc = &mut doc;
        for op in &self.ops {
            apply(doc, op)?;
        }
        let mut options = CommitOptions::default().with_time(self.time);
        if let Some(message) = &self.message {
            options = options.with_message(message.clone());
        }
        Ok(doc
            .commit_with(options)
            .and_then(|hash| doc.get_change_by_hash(&hash)))
    }
}

pub(super) fn apply(doc: &mut AutoCommit, op: &Op) -> Result<(), AutomergeError> {
    let (Op::Put(path, _) | Op::Delete(path) | Op::Append(path, _)) = op;
    let Some((last, path)) = path.split_last() else {
        return Ok(());
    };
    let mut obj = ROOT;
    for key in path {
        obj = match doc.get(&obj, key.as_str())? {
            Some((automerge::Value::Object(ObjType::Map), id)) => id,
            _ => doc.put_object(&obj, key.as_str(), ObjType::Map)?,
        };
    }
    match op {
        Op::Put(_, value) => put(doc, &obj, last, value),
        Op::Delete(_) => doc.delete(&obj, last.as_str()),
        Op::Append(_, text) => {
            let id = match doc.get(&obj, last.as_str())? {
                Some((automerge::Value::Object(ObjType::Text), id)) => id,
                _ => doc.put_object(&obj, last.as_str(), ObjType::Text)?,
            };
            let end = doc.length(&id);
            doc.splice_text(&id, end, 0, text)
        }
    }
}

fn put(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &Val) -> Result<(), AutomergeError> {
    match value {
        Val::Str(s) => doc.put(obj, key, s.as_str()),
        Val::Int(i) => doc.put(obj, key, *i),
        Val::F64(f) => doc.put(obj, key, *f),
        Val::Bool(b) => doc.put(obj, key, *b),
        Val::Counter(n) => doc.put(obj, key, ScalarValue::counter(*n)),
        Val::Null => doc.put(obj, key, ScalarValue::Null),
        Val::Bytes => doc.put(obj, key, ScalarValue::Bytes(vec![0xde, 0xad])),
        Val::Map => doc.put_object(obj, key, ObjType::Map).map(drop),
        Val::List => {
            let list = doc.put_object(obj, key, ObjType::List)?;
            doc.insert(&list, 0, "x")
        }
        Val::Text(s) => {
            let text = doc.put_object(obj, key, ObjType::Text)?;
            doc.splice_text(&text, 0, 0, s)
        }
    }
}

/// `s` quoted, cut to 40 characters and its length when longer than 60.
pub(super) fn short(s: &str) -> String {
    let n = s.chars().count();
    if n <= 60 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(40).collect();
        format!("{head:?}… ({n} chars)")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put(path, Val::Str(s)) => write!(f, "put {} = {}", path.join("."), short(s)),
            Op::Put(path, Val::Text(s)) => write!(f, "put {} = Text {}", path.join("."), short(s)),
            Op::Put(path, v) => write!(f, "put {} = {v:?}", path.join(".")),
            Op::Delete(path) => write!(f, "delete {}", path.join(".")),
            Op::Append(path, s) => write!(f, "append to {}: {}", path.join("."), short(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostile::{Facts, HOUR, LI, Moment, SUP, Target, generate, s, set, stamped};
    use fieldsync_core::DocId;
    use rand::SeedableRng;
    use serde_json::json;

    #[test]
    fn every_mutation_of_a_whole_task_makes_one_change() {
        let mut doc = AutoCommit::new();
        let t = 1_795_000_000_000_i64;
        for (key, value) in [
            ("kind", s("task")),
            ("id", s(DocId::new().to_string())),
            ("store_id", s(DocId::new().to_string())),
            ("title", s("Fix the tags")),
            ("description", Val::Text("tags".into())),
            ("assignee", s(LI)),
            ("created_by", s(SUP)),
            ("photos", Val::Map),
            ("schema", Val::Int(1)),
            ("deadline", Val::Int(t + 10 * HOUR)),
            ("created_at", Val::Int(t)),
            ("state", stamped(json!({"v": "open"}), SUP, t)),
        ] {
            apply(&mut doc, &set(&[key], value)).expect("put");
        }
        doc.commit();
        let facts = Facts {
            store: DocId::new(),
            other_store: DocId::new(),
            display: DocId::new(),
            complaint: DocId::new(),
        };
        let at = Moment {
            clock: t + HOUR,
            now: t + 100 * HOUR,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..300 {
            let m = generate(&mut rng, Target::TaskWork, &mut doc, &facts, at);
            let change = m.make(&mut doc).expect("the change is made");
            assert!(change.is_some(), "{m}");
        }
    }
}
