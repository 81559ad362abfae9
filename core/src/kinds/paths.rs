//! The dotted path of a value a change wrote, from the document's root (`check_in.at`,
//! `counted.6901028.at`), for a refusal to name the field a client wrote. A change's
//! operation names its map by the operation that made it; the path is found by walking
//! the document's maps down from the root, which only a refusal pays for.

use automerge::legacy::ObjectId;
use automerge::{ObjId, ROOT, ReadDoc, Value};

use crate::doc::Doc;

/// How deep a document's maps go at most (a visit's `photos.<hash>` is two below the root).
const MAX_DEPTH: usize = 4;

/// `key` (and `.rest` when `rest` is not empty) in the map `obj` of `doc`, as a dotted path
/// from the root; the key alone when the map is no longer reachable from the root.
pub(crate) fn path_to(doc: &Doc, obj: &ObjectId, key: &str, rest: &str) -> String {
    let mut path = match obj {
        ObjectId::Root => key.to_owned(),
        ObjectId::Id(_) => match map_path(doc, &obj.to_string()) {
            Some(map) => format!("{map}.{key}"),
            None => key.to_owned(),
        },
    };
    if !rest.is_empty() {
        path.push('.');
        path.push_str(rest);
    }
    path
}

/// The path of the map whose id reads `target`, searched breadth first from the root.
fn map_path(doc: &Doc, target: &str) -> Option<String> {
    let mut level: Vec<(ObjId, String)> = vec![(ROOT, String::new())];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for (obj, path) in &level {
            for key in doc.am.keys(obj) {
                let Ok(Some((Value::Object(_), id))) = doc.am.get(obj, key.as_str()) else {
                    continue;
                };
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if id.to_string() == target {
                    return Some(here);
                }
                next.push((id, here));
            }
        }
        level = next;
    }
    None
}
