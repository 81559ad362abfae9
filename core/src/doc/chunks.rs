//! A document as bytes: loaded from a snapshot and the chunks saved after it, saved whole
//! or as the changes SQLite does not hold yet, and a stored chunk split into its changes.

use automerge::{ActorId, AutoCommit, ChangeHash};

use super::Doc;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};

/// The changes a stored chunk (what [`Doc::save_new_changes`] wrote: encoded changes one
/// after the other) is made of, each as the bytes of one change; `None` when the bytes are
/// anything else (a document snapshot, a damaged chunk), which the caller must then load.
///
/// Automerge chunks start with 4 magic bytes, a 4-byte checksum, a type byte (1: change,
/// 2: compressed change) and the length of what follows as unsigned LEB128.
pub(crate) fn split_changes(chunk: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = chunk;
    // Bounded: every pass consumes at least the 9 bytes of a header.
    while !rest.is_empty() {
        let head = chunk_head(rest).filter(|h| matches!(h.kind, CHANGE | COMPRESSED_CHANGE))?;
        let end = head.data_at.checked_add(head.data_len)?;
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    Some(out)
}

/// The hash of the uncompressed change chunk `bytes` (exactly one chunk) and the hashes of
/// the changes it depends on, read without decoding it: Automerge's hash of a chunk is the
/// SHA-256 of its type byte, its length and its data, whose first 4 bytes the chunk carries
/// as its checksum; a change's data starts with its dependencies (their count as unsigned
/// LEB128, then 32 bytes each). `None` for anything else: a compressed change, a checksum
/// that does not match, a chunk that does not end where `bytes` do.
pub(crate) fn change_hash_and_deps(bytes: &[u8]) -> Option<(ChangeHash, Vec<ChangeHash>)> {
    use sha2::{Digest, Sha256};
    let head = chunk_head(bytes).filter(|h| h.kind == CHANGE)?;
    if head.data_at.checked_add(head.data_len)? != bytes.len() {
        return None;
    }
    let hash: [u8; 32] = Sha256::digest(&bytes[8..]).into();
    if hash[..4] != bytes[4..8] {
        return None;
    }
    let mut data = &bytes[head.data_at..];
    let count = usize::try_from(leb128::read::unsigned(&mut data).ok()?).ok()?;
    let deps = data
        .get(..count.checked_mul(32)?)?
        .chunks_exact(32)
        .map(|d| <[u8; 32]>::try_from(d).ok().map(ChangeHash))
        .collect::<Option<Vec<_>>>()?;
    Some((ChangeHash(hash), deps))
}

/// Whether the 4 bytes a change chunk carries as its checksum are the first 4 of `change`'s
/// hash (of the inflated change, for a compressed one), as Automerge's loader of stored
/// bytes demands. Automerge's parser of one change takes them without comparing: a byte
/// altered on the way parses as another change, under another hash.
pub(crate) fn checksum_holds(bytes: &[u8], change: &automerge::Change) -> bool {
    bytes.get(4..8) == Some(&change.hash().0[..4])
}

/// The type byte of an Automerge chunk holding one change.
pub(crate) const CHANGE: u8 = 1;
/// The type byte of an Automerge chunk holding one change, DEFLATE-compressed.
pub(crate) const COMPRESSED_CHANGE: u8 = 2;

/// The header of the Automerge chunk at the start of `bytes`.
pub(crate) struct ChunkHead {
    /// The type byte.
    pub(crate) kind: u8,
    /// Where the chunk's data starts, after its header.
    pub(crate) data_at: usize,
    /// How long the data is (within `bytes`).
    pub(crate) data_len: usize,
}

/// Reads the header of the chunk `bytes` start with; `None` when they do not start with
/// a whole chunk.
pub(crate) fn chunk_head(bytes: &[u8]) -> Option<ChunkHead> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    if bytes.len() < 9 || bytes[..4] != MAGIC {
        return None;
    }
    let mut length_bytes = &bytes[9..];
    let data_len = usize::try_from(leb128::read::unsigned(&mut length_bytes).ok()?).ok()?;
    let data_at = bytes.len() - length_bytes.len();
    data_at
        .checked_add(data_len)
        .filter(|&end| end <= bytes.len())?;
    Some(ChunkHead {
        kind: bytes[8],
        data_at,
        data_len,
    })
}

impl Doc {
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
        let mut doc = Doc::from_parts(id.clone(), kind, am.with_actor(actor.clone()));
        doc.saved = saved;
        doc.check_header()?;
        Ok(doc)
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
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use automerge::ROOT;

    use super::*;
    use crate::doc::Stamp;
    use crate::time::Timestamp;

    fn stamp(by: &str, at: i64) -> Stamp {
        Stamp {
            by: by.into(),
            at: Timestamp(at),
        }
    }

    /// A new visit document of a random actor.
    fn new_visit() -> Result<Doc> {
        Doc::create(
            DocId::new(),
            DocKind::Visit,
            &ActorId::random(),
            HashMap::new(),
            &stamp("u", 1),
        )
    }

    #[test]
    fn a_stored_chunk_splits_into_the_changes_it_holds_and_a_snapshot_does_not() -> Result<()> {
        let mut doc = new_visit()?;
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
    fn a_changes_hash_and_dependencies_read_from_its_bytes_are_automerges_own() -> Result<()> {
        let mut doc = new_visit()?;
        doc.put(&ROOT, "outcome", "done")?;
        doc.commit(&stamp("u", 2), "outcome");
        // A concurrent change: two dependencies for the next one.
        let mut other = doc.am.fork().with_actor(ActorId::random());
        automerge::transaction::Transactable::put(&mut other, ROOT, "outcome", "redo")?;
        other.commit();
        doc.am.merge(&mut other)?;
        doc.put(&ROOT, "outcome", "merged")?;
        doc.commit(&stamp("u", 3), "outcome");
        let changes = doc.am.get_changes(&[]);
        assert!(changes.iter().any(|c| c.deps().len() == 2));
        for change in changes {
            let bytes = change.raw_bytes().to_vec();
            assert_eq!(
                change_hash_and_deps(&bytes),
                Some((change.hash(), change.deps().to_vec()))
            );
            let mut broken = bytes.clone();
            let last = broken.len() - 1;
            broken[last] ^= 1;
            assert_eq!(
                change_hash_and_deps(&broken),
                None,
                "a checksum that does not hold"
            );
            assert_eq!(change_hash_and_deps(&bytes[..last]), None, "a cut chunk");
        }
        Ok(())
    }
}
