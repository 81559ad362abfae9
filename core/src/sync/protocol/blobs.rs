//! The messages of the photo blob routes (docs/protocol.md, "Photos"): JSON bodies, since
//! they carry no document bytes; the blob's own bytes travel raw in `PATCH` and `GET`.

use serde::{Deserialize, Serialize};

/// The request header that says where an upload's body starts in the blob, and the
/// response header that says how many bytes the server has committed.
pub const OFFSET_HEADER: &str = "upload-offset";
/// The request header that gives the blob's whole length (every `PATCH` sends it).
pub const LENGTH_HEADER: &str = "upload-length";
/// The most blobs one status request may ask about.
pub const MAX_STATUS_BATCH: usize = 500;

/// A blob and a document that references it: the server checks the device's access to
/// the blob through that document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// `sha256:` and 64 lower-case hex digits.
    pub hash: String,
    pub doc: String,
}

/// `POST /v1/blobs/status`: which of these the server has, and how much of each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatusRequest {
    pub blobs: Vec<BlobRef>,
}

/// The answer: one status per blob asked about, in the request's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatusResponse {
    pub blobs: Vec<BlobStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    pub hash: String,
    pub state: BlobState,
    /// Bytes the server holds: the whole length when complete, the offset to resume an
    /// upload at when partial, 0 otherwise.
    pub committed: u64,
}

/// Where a blob stands on the server, for the device that asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobState {
    /// Verified and readable.
    Complete,
    /// An upload stopped at `committed` bytes; resume there.
    Partial,
    /// Nothing stored yet.
    Missing,
    /// The document is not in the device's scope or does not reference the hash (the
    /// same answer for both, and for a document the server does not have).
    Refused,
}

/// The answer to a `PATCH` that the server took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobUploaded {
    pub hash: String,
    pub committed: u64,
    /// The whole blob arrived and its bytes matched its hash: it is readable now.
    pub complete: bool,
}
