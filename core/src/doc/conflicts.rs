//! Where a document holds concurrent values: the map entries that two devices set at once
//! (a stamped field, a count line), as paths like `standard.price_tags` or
//! `counted.sku-104`. The store keeps them in an index so a list of "documents in conflict"
//! needs no document loaded.

use automerge::{ObjId, ObjType, Value};

use crate::doc::Doc;

/// Maps nested deeper than this are not looked into (no kind nests that deep).
const MAX_DEPTH: usize = 4;

impl Doc {
    /// The paths of every map entry holding more than one concurrent value, sorted. One
    /// pass over each map (Automerge flags the keys with several values); only those are
    /// named.
    pub(crate) fn conflicted_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.reading(|doc| walk(doc, &automerge::ROOT, "", 0, &mut out));
        out.sort();
        out
    }
}

fn walk(doc: &Doc, obj: &ObjId, prefix: &str, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let path = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    for item in &doc.map(obj).items {
        if item.conflict {
            out.push(path(&item.key));
        }
        // The value every device shows is the one read; a map in it may conflict inside.
        if let (Value::Object(ObjType::Map), Some(id)) = (&item.value, &item.id) {
            walk(doc, id, &path(&item.key), depth + 1, out);
        }
    }
}
