//! Every photo hash a document references, whatever its kind: the photo maps of visits and
//! tasks, the `photo.<hash>` entries of complaints and shelf displays, the thumbnails
//! those entries name, and the hashes listed in a display check's standards. The server
//! lets a device read or upload a blob only when a document in its scope is found here
//! to reference it (and reads a blob only through an entry its uploader wrote); the phone
//! knows from it which blobs its documents need.

use std::collections::{BTreeMap, BTreeSet};

use crate::doc::{DOC_ROOT, Doc};
use crate::photos::hex_of;

/// The hashes `doc` references, photos and thumbnails alike (well-formed ones only).
pub(crate) fn photo_hashes(doc: &Doc) -> BTreeSet<String> {
    photo_authors(doc).into_keys().collect()
}

/// The hashes `doc` references, each with the users whose entries reference it (the
/// stamped `by` of the photo entry naming it or its thumbnail, of the standard's entry
/// listing it). The server serves a blob through a document only where its uploader is
/// among them, so that quoting a hash in a document of one's own reads nothing.
pub(crate) fn photo_authors(doc: &Doc) -> BTreeMap<String, BTreeSet<String>> {
    let mut authors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |hash: String, by: &str| {
        if hex_of(&hash).is_some() {
            authors.entry(hash).or_default().insert(by.to_owned());
        }
    };
    for photo in super::visit::read_photos(doc, "photos") {
        if let Some(thumb) = photo.thumb {
            add(thumb, &photo.by);
        }
        add(photo.hash, &photo.by);
    }
    for key in doc.keys_with_prefix(&DOC_ROOT, super::shelf_display::STANDARD_PREFIX) {
        if let Some(entry) = doc.entry(&DOC_ROOT, &key)
            && let Some(list) = entry.str("photos")
        {
            let by = entry.str("by").unwrap_or_default();
            for hash in list.split(',') {
                add(hash.to_owned(), &by);
            }
        }
    }
    authors
}
