//! Photo bytes on the phone: content-addressed files in a folder beside the SQLite file
//! ([`folder`]), and the small thumbnail made from each photo before it is referenced
//! ([`thumbnail`]). Documents hold only the hashes; `store/photos.rs` ties the two
//! together in one durable step (file first, then the document), so that a document never
//! references bytes the phone does not have. An orphan file (a crash between the two) is
//! harmless and is removed by [`folder::PhotoFolder::remove_orphans`].

pub mod folder;
pub mod thumbnail;

use std::path::Path;

use crate::geo::GpsFix;
use crate::ids::DocId;
use crate::kinds::shelf_display::DisplayStandard;
use crate::time::Timestamp;

/// The prefix of every photo hash in documents and on the wire.
pub const HASH_PREFIX: &str = "sha256:";

/// The largest photo a phone stores and uploads (the server's default limit too).
pub const MAX_PHOTO_BYTES: u64 = 20 * 1024 * 1024;

/// Where a photo's bytes come from.
#[derive(Clone, Copy, Debug)]
pub enum PhotoSource<'a> {
    /// Bytes already in memory (a camera buffer).
    Bytes(&'a [u8]),
    /// A file the camera wrote; it is copied in chunks, never read whole into memory.
    File(&'a Path),
}

/// The document a photo is evidence for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoTarget {
    Visit(DocId),
    /// A rectification task's after photo (refused once the task is submitted).
    Task(DocId),
    Complaint(DocId),
    /// A shelf-display check, optionally of one R6 standard.
    DisplayCheck {
        display: DocId,
        standard: Option<DisplayStandard>,
    },
}

impl PhotoTarget {
    pub fn doc_id(&self) -> &DocId {
        match self {
            PhotoTarget::Visit(id) | PhotoTarget::Task(id) | PhotoTarget::Complaint(id) => id,
            PhotoTarget::DisplayCheck { display, .. } => display,
        }
    }
}

/// What the app knows about a photo besides its bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhotoMeta {
    pub caption: String,
    /// When the camera took it (device clock), if known.
    pub taken_at: Option<Timestamp>,
    pub gps: Option<GpsFix>,
}

/// A photo stored on the phone and referenced from its document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedPhoto {
    /// `sha256:` and 64 hex digits, of the photo's bytes.
    pub hash: String,
    /// The hash of its thumbnail (a JPEG of at most 320 px a side).
    pub thumb: String,
    pub bytes: u64,
    pub thumb_bytes: u64,
}

/// `sha256:<hex>` of a digest.
pub(crate) fn hash_name(digest: &[u8]) -> String {
    format!("{HASH_PREFIX}{}", hex::encode(digest))
}

/// The 64 hex digits of a well-formed hash, or `None`.
pub fn hex_of(hash: &str) -> Option<&str> {
    hash.strip_prefix(HASH_PREFIX)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}
