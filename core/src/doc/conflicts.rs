//! Where a document holds concurrent values: the map entries that two devices set at once
//! (a stamped field, a count line), as paths like `standard.price_tags` or
//! `counted.sku-104`. The store keeps them in an index so a list of "documents in conflict"
//! needs no document loaded.

use automerge::{ObjId, ObjType, ReadDoc, Value};

use crate::doc::Doc;

/// Maps nested deeper than this are not looked into (no kind nests that deep).
const MAX_DEPTH: usize = 4;

impl Doc {
    /// The paths of every map entry holding more than one concurrent value, sorted.
    pub(crate) fn conflicted_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.am, &automerge::ROOT, "", 0, &mut out);
        out.sort();
        out
    }
}

fn walk<R: ReadDoc>(doc: &R, obj: &ObjId, prefix: &str, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    for key in doc.keys(obj) {
        let Ok(values) = doc.get_all(obj, key.as_str()) else {
            continue;
        };
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if values.len() > 1 {
            out.push(path.clone());
        }
        // The value every device shows is the one read; a map in it may conflict inside.
        if let Some((Value::Object(ObjType::Map), id)) = values.last() {
            walk(doc, id, &path, depth + 1, out);
        }
    }
}
