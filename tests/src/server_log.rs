//! What a server stored, read straight from its database (SQLite file or PostgreSQL), and
//! the check that every change a device was told is stored is there, exactly once.
//!
//! [`ServerLog::read`] takes both tables from one read transaction, so it may run while the
//! server is running as well as after it was killed (it only reads; a SQLite file is opened
//! read-only and never checkpointed). [`ServerLog::check`] lists each way the file falls short of the
//! acknowledgements given; an empty list of acknowledgements still checks that the log
//! and the change table agree and that no change was logged twice.

use std::collections::{BTreeMap, HashMap};

use crate::phone::ChangeRef;
use crate::server_db::ServerDb;

/// One `change` row of the server's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    pub seq: i64,
    pub doc: String,
    pub hash: String,
    pub device: String,
    /// When the push that stored it started, in Unix milliseconds (server clock).
    pub at: i64,
}

/// The `changes` table and the `change` rows of the `log` table.
#[derive(Clone, Debug, Default)]
pub struct ServerLog {
    /// `changes`: hash → (document, seq).
    pub changes: HashMap<String, (String, i64)>,
    /// `log` rows of kind `change`, by seq.
    pub log: Vec<LogRow>,
}

/// What a passing [`ServerLog::check`] counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    /// Distinct acknowledged changes, each stored once.
    pub acknowledged: usize,
    /// Changes the server stores in all.
    pub stored: usize,
}

impl ServerLog {
    /// Reads the server's database (read-only; the server may be running), its changes
    /// and its log in one snapshot.
    pub fn read(db: &ServerDb) -> Result<ServerLog, String> {
        let read = db
            .snapshot(&[
                ("SELECT hash, doc_id, seq FROM changes", vec![]),
                (
                    "SELECT seq, COALESCE(doc_id, ''), COALESCE(change_hash, ''), \
                     COALESCE(device_id, ''), at FROM log WHERE kind = 'change' ORDER BY seq",
                    vec![],
                ),
            ])
            .map_err(|e| e.0)?;
        let odd = |what: &str| format!("the server's {what} has a row of unexpected types");
        let mut out = ServerLog::default();
        let (changes, log) = match read.as_slice() {
            [changes, log] => (changes, log),
            _ => return Err("the snapshot did not answer both queries".into()),
        };
        for row in changes {
            match row.as_slice() {
                [hash, doc, seq] => {
                    let (Some(hash), Some(doc), Some(seq)) = (hash.text(), doc.text(), seq.int())
                    else {
                        return Err(odd("changes table"));
                    };
                    out.changes.insert(hash, (doc, seq));
                }
                _ => return Err(odd("changes table")),
            }
        }
        for row in log {
            match row.as_slice() {
                [seq, doc, hash, device, at] => {
                    let (Some(seq), Some(doc), Some(hash), Some(device), Some(at)) =
                        (seq.int(), doc.text(), hash.text(), device.text(), at.int())
                    else {
                        return Err(odd("log"));
                    };
                    out.log.push(LogRow {
                        seq,
                        doc,
                        hash,
                        device,
                        at,
                    });
                }
                _ => return Err(odd("log")),
            }
        }
        Ok(out)
    }

    /// Checks the log against itself and against `acknowledged`: each acknowledged change
    /// is in `changes` under its document and in the log exactly once; no change is
    /// logged twice; every log row has its stored change and every stored change its row.
    pub fn check<'a>(
        &self,
        acknowledged: impl IntoIterator<Item = &'a ChangeRef>,
    ) -> Result<Verified, Vec<String>> {
        let mut problems = Vec::new();
        let mut logged: HashMap<&str, Vec<&LogRow>> = HashMap::new();
        for row in &self.log {
            logged.entry(row.hash.as_str()).or_default().push(row);
        }
        let mut twice: BTreeMap<i64, String> = BTreeMap::new();
        for (hash, rows) in &logged {
            if rows.len() > 1 {
                let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
                twice.insert(
                    seqs[0],
                    format!(
                        "change `{hash}` is in the log {} times (seqs {seqs:?})",
                        rows.len()
                    ),
                );
            }
        }
        problems.extend(twice.into_values());
        for row in &self.log {
            match self.changes.get(&row.hash) {
                None => problems.push(format!(
                    "log row {} names change `{}` of `{}`, which is not stored",
                    row.seq, row.hash, row.doc
                )),
                Some((doc, _)) if doc != &row.doc => problems.push(format!(
                    "log row {} puts change `{}` in `{}`, but it is stored for `{doc}`",
                    row.seq, row.hash, row.doc
                )),
                Some(_) => {}
            }
        }
        for (hash, (doc, seq)) in &self.changes {
            let has_row = logged
                .get(hash.as_str())
                .is_some_and(|rows| rows.iter().any(|r| r.seq == *seq));
            if !has_row {
                problems.push(format!(
                    "stored change `{hash}` of `{doc}` points at seq {seq}, which is not its log row"
                ));
            }
        }
        let mut distinct: BTreeMap<&str, &str> = BTreeMap::new();
        for change in acknowledged {
            distinct.insert(change.hash.as_str(), change.doc.as_str());
        }
        for (hash, doc) in &distinct {
            match self.changes.get(*hash) {
                None => problems.push(format!(
                    "acknowledged change `{hash}` of `{doc}` is not stored"
                )),
                Some((stored, _)) if stored != doc => problems.push(format!(
                    "acknowledged change `{hash}` of `{doc}` is stored for `{stored}`"
                )),
                Some(_) => match logged.get(*hash).map_or(0, Vec::len) {
                    1 => {}
                    n => problems.push(format!(
                        "acknowledged change `{hash}` of `{doc}` is in the log {n} times"
                    )),
                },
            }
        }
        if problems.is_empty() {
            Ok(Verified {
                acknowledged: distinct.len(),
                stored: self.changes.len(),
            })
        } else {
            Err(problems)
        }
    }
}
