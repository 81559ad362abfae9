//! Documents handed from our benchmark to the peers of the field benchmark
//! (`fieldsync-field-bench`), so that automerge-repo and samod sync the very same
//! Automerge documents and changes as fieldsync does.
//!
//! `fieldsync-sync-bench --export DIR` writes two bundles, read from its server's storage:
//! - `before.bin`: every document the server holds when the measured week offline begins
//!   (the year, and the new phone's week), each as the concatenation of its changes;
//! - `week.bin`: the changes the week offline brought: for every document it touched, the
//!   changes that are new (`new`: the document did not exist before the week).
//!
//! A bundle is a sequence of records, each `[u32 LE length][JSON head][u32 LE length][data]`,
//! the head `{"id": "...", "kind": "...", "new": bool}` and the data one or more encoded
//! Automerge changes back to back, each in Automerge's own encoding of a change on its own
//! (compressed when that pays; the server stores them uncompressed) (which Automerge's `load` and `loadIncremental` take
//! whole, in Rust and in JavaScript alike).

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;

use fieldsync_core::IncomingChange;
use fieldsync_server::storage::SyncStorage;
use serde::{Deserialize, Serialize};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Most bytes of one record's part: a guard against a corrupt file.
const MAX_PART: usize = 1 << 30;

/// What a record says of its document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub id: String,
    pub kind: String,
    /// The document is new in this bundle (a week's new visit), not an edit of one before.
    pub new: bool,
    /// How many changes `data` holds.
    #[serde(default)]
    pub changes: usize,
}

/// One document's changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub head: Head,
    pub data: Vec<u8>,
}

/// The change hashes of every document a server held at one moment.
#[derive(Debug, Default)]
pub struct Known(HashMap<String, HashSet<String>>);

/// Writes every document of `storage` to `path`, and returns what it held.
pub fn export_all(storage: &dyn SyncStorage, path: &Path) -> Result<Known, BoxError> {
    let mut known = Known::default();
    let mut records = Vec::new();
    for (id, kind) in storage.documents()? {
        let changes = storage.document_changes(&id)?;
        let mut hashes = HashSet::with_capacity(changes.len());
        let mut data = Vec::new();
        for change in &changes {
            let mut parsed = IncomingChange::parse(change)?;
            hashes.insert(parsed.hash());
            data.extend_from_slice(&parsed.compact());
        }
        known.0.insert(id.clone(), hashes);
        records.push(Record {
            head: Head {
                id,
                kind,
                new: false,
                changes: changes.len(),
            },
            data,
        });
    }
    write(path, &records)?;
    Ok(known)
}

/// Writes the changes `storage` holds beyond `before` to `path`; returns (documents,
/// changes, bytes of the changes).
pub fn export_since(
    storage: &dyn SyncStorage,
    before: &Known,
    path: &Path,
) -> Result<(usize, usize, usize), BoxError> {
    let mut records = Vec::new();
    let mut changes_total = 0;
    for (id, kind) in storage.documents()? {
        let old = before.0.get(&id);
        let mut data = Vec::new();
        let mut changes = 0;
        for change in storage.document_changes(&id)? {
            let mut parsed = IncomingChange::parse(&change)?;
            if old.is_none_or(|o| !o.contains(&parsed.hash())) {
                data.extend_from_slice(&parsed.compact());
                changes += 1;
            }
        }
        changes_total += changes;
        if !data.is_empty() {
            records.push(Record {
                head: Head {
                    id,
                    kind,
                    new: old.is_none(),
                    changes,
                },
                data,
            });
        }
    }
    write(path, &records)?;
    let bytes = records.iter().map(|r| r.data.len()).sum();
    Ok((records.len(), changes_total, bytes))
}

pub fn write(path: &Path, records: &[Record]) -> Result<(), BoxError> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for record in records {
        let head = serde_json::to_vec(&record.head)?;
        for part in [head.as_slice(), record.data.as_slice()] {
            out.write_all(&u32::try_from(part.len())?.to_le_bytes())?;
            out.write_all(part)?;
        }
    }
    // On disk before returning: the sync benchmark exports `before.bin` (40 MB at full size)
    // right before its measured week, whose commit's fsync otherwise waited for the kernel
    // to write the export out.
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

pub fn read(path: &Path) -> Result<Vec<Record>, BoxError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(|e| format!("cannot open bundle `{}`: {e}", path.display()))?
        .read_to_end(&mut bytes)?;
    let mut rest = bytes.as_slice();
    let mut records = Vec::new();
    // Bounded by the file's length: every pass consumes at least 8 bytes.
    while !rest.is_empty() {
        let head = take(&mut rest, path)?;
        let data = take(&mut rest, path)?;
        records.push(Record {
            head: serde_json::from_slice(head)?,
            data: data.to_vec(),
        });
    }
    Ok(records)
}

fn take<'a>(rest: &mut &'a [u8], path: &Path) -> Result<&'a [u8], BoxError> {
    let corrupt = || format!("bundle `{}` is cut short or corrupt", path.display());
    let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_PART || len > tail.len() {
        return Err(corrupt().into());
    }
    let (part, tail) = tail.split_at(len);
    *rest = tail;
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_reads_back_the_records_it_was_written_with() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.bin");
        let records = vec![
            Record {
                head: Head {
                    id: "visit-1".into(),
                    kind: "visit".into(),
                    new: true,
                    changes: 2,
                },
                data: vec![1, 2, 3],
            },
            Record {
                head: Head {
                    id: "store-1".into(),
                    kind: "store".into(),
                    new: false,
                    changes: 0,
                },
                data: Vec::new(),
            },
        ];
        write(&path, &records).expect("written");
        assert_eq!(read(&path).expect("read"), records);
    }

    #[test]
    fn a_bundle_cut_short_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.bin");
        std::fs::write(&path, [9, 0, 0, 0, b'{']).expect("written");
        assert!(read(&path).is_err());
    }
}
