//! Every photo hash a document references, whatever its kind: the photo maps of visits and
//! tasks, the `photo.<hash>` entries of complaints and shelf displays, the thumbnails
//! those entries name, and the hashes listed in a display check's standards. The server
//! lets a device read or upload a blob only when a document in its scope is found here
//! to reference it; the phone knows from it which blobs its documents need.

use std::collections::BTreeSet;

use crate::doc::{DOC_ROOT, Doc};
use crate::photos::hex_of;

/// The hashes `doc` references, photos and thumbnails alike (well-formed ones only).
pub(crate) fn photo_hashes(doc: &Doc) -> BTreeSet<String> {
    let mut hashes = BTreeSet::new();
    for photo in super::visit::read_photos(doc, "photos") {
        hashes.extend(photo.thumb);
        hashes.insert(photo.hash);
    }
    for key in doc.keys(&DOC_ROOT) {
        if key.starts_with(super::shelf_display::STANDARD_PREFIX)
            && let Some(entry) = doc.entry(&DOC_ROOT, &key)
            && let Some(list) = entry.str("photos")
        {
            hashes.extend(list.split(',').map(str::to_string));
        }
    }
    hashes.retain(|h| hex_of(h).is_some());
    hashes
}
