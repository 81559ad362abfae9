//! One change as a device sent it, parsed strictly before the server applies it: bounded
//! before Automerge reads it ([`IncomingChange::precheck`]), exactly one Automerge change,
//! and its checksum compared with its hash (Automerge does not).

use std::io::Read;

use crate::error::{Error, Result};

/// The most bytes one change may hold once inflated: far beyond any edit of the field's
/// documents (a 30-line count is about 3 KB), and a bound on what a compressed change a
/// few kilobytes long can make the server allocate.
pub const MAX_CHANGE_BYTES: u64 = 8 << 20;

/// The most operations and predecessors one change may list: a 20,000-character note
/// cleared in one edit lists 40,000; a field edit a few dozen.
pub const MAX_CHANGE_OPS: u64 = 100_000;

/// The most operations and predecessors the changes of one document may list in all: a
/// change is bounded by [`MAX_CHANGE_OPS`] and a push by the server, but a document grows
/// push after push, and every load of it (the next push's judge, a fetch, a phone's first
/// sync) walks all of them. A 20,000-character note typed and then cleared lists 60,000;
/// a shelf display with a year of weekly checks a few thousand.
pub const MAX_DOCUMENT_OPS: u64 = 500_000;

/// What [`IncomingChange::precheck`] found a change will cost to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precheck {
    /// Bytes it holds once inflated.
    pub inflated: u64,
    /// Operations and predecessors it lists.
    pub ops: u64,
}

/// One change a device sent, parsed and verified (its hash is checked on parsing).
#[derive(Clone, Debug)]
pub struct IncomingChange {
    pub(super) change: automerge::Change,
    /// The operations and predecessors it lists.
    pub(super) listed: u64,
}

impl IncomingChange {
    /// Parses one encoded change; refuses anything that is not exactly one valid change,
    /// and first whatever [`IncomingChange::precheck`] refuses.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let listed = Self::precheck(bytes)?.ops;
        let change = Self::stored(bytes)?.change;
        // Automerge takes the 4 bytes a chunk carries as its checksum without comparing
        // them with the hash of what it holds (of the inflated change, for a compressed
        // one). Relayed as they came, such bytes are refused by every reader that does
        // compare: Automerge's loader of stored bytes (a phone's first sync then builds
        // the document instead of storing it as it came), a strict client of another
        // language.
        if !crate::doc::checksum_holds(bytes, &change) {
            return Err(Error::invalid(
                "changes",
                format!(
                    "change `{}` does not match its checksum: its bytes were altered on the way",
                    change.hash()
                ),
            ));
        }
        Ok(IncomingChange { change, listed })
    }

    /// A change read back from the server's storage: parsed as Automerge reads it,
    /// without [`IncomingChange::parse`]'s checksum comparison, which servers before
    /// December 2026 did not make (a change stored then with a wrong checksum is read as
    /// `Replica::load` reads it, not refused at every start). Never for bytes from a
    /// device: it skips the bounds of [`IncomingChange::precheck`] too.
    pub fn stored(bytes: &[u8]) -> Result<Self> {
        let change = automerge::Change::try_from(bytes)
            .map_err(|e| Error::invalid("changes", format!("not an automerge change: {e}")))?;
        Ok(IncomingChange {
            listed: listed(change.raw_bytes()).unwrap_or(change.len() as u64),
            change,
        })
    }

    /// What one change as sent will cost to parse, read before Automerge reads it: the bytes
    /// it holds once inflated, and the operations and predecessors it lists. Refuses a
    /// chunk that is not a change, a compressed change that inflates past
    /// [`MAX_CHANGE_BYTES`] (Automerge would inflate it without a bound), and a change that
    /// lists more than [`MAX_CHANGE_OPS`] operations and predecessors, or whose lists cannot
    /// be read (Automerge would walk them lazily, a few bytes of runs listing billions:
    /// `change_ops.rs`).
    pub fn precheck(bytes: &[u8]) -> Result<Precheck> {
        let invalid = |why: String| Error::invalid("changes", why);
        let head = crate::doc::chunk_head(bytes)
            .ok_or_else(|| invalid("not an automerge change: no whole chunk header".into()))?;
        let data = bytes
            .get(head.data_at..head.data_at + head.data_len)
            .unwrap_or_default();
        let inflated;
        let ops_in = match head.kind {
            crate::doc::CHANGE => data,
            crate::doc::COMPRESSED_CHANGE => {
                let mut out = Vec::new();
                flate2::bufread::DeflateDecoder::new(data)
                    .take(MAX_CHANGE_BYTES + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| {
                        invalid(format!(
                            "not an automerge change: its compression is broken ({e})"
                        ))
                    })?;
                if out.len() as u64 > MAX_CHANGE_BYTES {
                    return Err(invalid(format!(
                        "a compressed change inflates past {} MiB, the most one change may hold",
                        MAX_CHANGE_BYTES >> 20
                    )));
                }
                inflated = out;
                &inflated
            }
            other => {
                return Err(invalid(format!(
                    "not an automerge change: chunk type {other} (1: a change, 2: a compressed change)"
                )));
            }
        };
        let ops = match super::change_ops::declared_ops(ops_in, MAX_CHANGE_OPS) {
            super::change_ops::Declared::Ops(n) => n,
            super::change_ops::Declared::Over => {
                return Err(invalid(format!(
                    "the change lists more than {MAX_CHANGE_OPS} operations and predecessors"
                )));
            }
            super::change_ops::Declared::Unreadable => {
                return Err(invalid(
                    "not an automerge change: its operations' columns cannot be read".into(),
                ));
            }
        };
        Ok(Precheck {
            inflated: ops_in.len() as u64,
            ops,
        })
    }

    /// The change's hash, hex.
    pub fn hash(&self) -> String {
        self.change.hash().to_string()
    }

    /// The actor that made it, hex.
    pub fn actor(&self) -> String {
        self.change.actor_id().to_hex_string()
    }

    /// The hashes it depends on, hex.
    pub fn deps(&self) -> Vec<String> {
        self.change.deps().iter().map(|h| h.to_string()).collect()
    }

    /// How many bytes the change holds as it is stored (uncompressed).
    pub fn byte_len(&self) -> usize {
        self.change.raw_bytes().len()
    }

    /// The encoded change, as it is stored and sent on: uncompressed. Compressing each
    /// change on its own cost the server's one writer about 5 ms per 500 changes, while
    /// every response that carries changes is compressed whole (and compresses them better
    /// than it compresses already compressed ones).
    pub fn bytes(&self) -> Vec<u8> {
        self.change.raw_bytes().to_vec()
    }

    /// Each value the change writes to a store field that visits and complaints copy
    /// (see [`crate::StoreCopy`]); meaningful for a store document's changes.
    pub fn store_values(&self) -> Vec<crate::HeldValue> {
        crate::kinds::store_copy::values_written(&self.change)
    }

    /// Automerge's own encoding of the change on its own, compressed when that pays: how
    /// the benchmarks size "the change itself".
    pub fn compact(&mut self) -> Vec<u8> {
        self.change.bytes().into_owned()
    }
}

#[cfg(test)]
#[path = "incoming_change_tests.rs"]
mod tests;

/// The operations and predecessors a stored change (an uncompressed chunk) lists, as
/// [`IncomingChange::precheck`] counts them, with no cap; `None` for bytes not laid out so.
pub(crate) fn listed(bytes: &[u8]) -> Option<u64> {
    let head = crate::doc::chunk_head(bytes)?;
    if head.kind != crate::doc::CHANGE {
        return None;
    }
    let data = bytes.get(head.data_at..head.data_at + head.data_len)?;
    match super::change_ops::declared_ops(data, u64::MAX) {
        super::change_ops::Declared::Ops(n) => Some(n),
        _ => None,
    }
}
