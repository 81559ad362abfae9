//! What an older server stored: changes written straight into a server's database, SQLite
//! file or PostgreSQL alike, as a server that did not read whole documents accepted them
//! (a shelf display whose verdict is `"banana"`, a visit without `check_in`). Today's
//! server may refuse such pushes; these tests are about the phones and the admin tools
//! that meet what is already stored.
//!
//! [`plant`] appends changes to a document the way a push does: a `log` row per change
//! (so the feed carries it to every device in scope), the change under that row, its actor,
//! and the document's `docs` row with its new heads. The server may be running: every
//! instance reads the heads under the document's lock and drops a cached replica whose
//! heads differ. [`bad_document`] makes such a document from one a device wrote, and
//! [`plant_bad`] plants one of the [`Bad`] documents the field met.

use std::path::Path;

use fieldsync_core::fixtures::device;
use fieldsync_core::fixtures::unreadable::{RawEdit, raw_change};
use fieldsync_core::{
    CheckPoint, ComplaintKind, DisplayStandard, DocId, DocKind, IncomingChange, LocalStore,
    NewComplaint, NewVisit, Timestamp, VisitKind,
};

use crate::server::{HarnessError, HarnessResult};
use crate::server_db::ServerDb;

/// The device id the planted changes are logged under.
pub const OLD_CLIENT: &str = "old-client";

fn err(what: &str, e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("{what}: {e}"))
}

/// What an older server accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// A shelf display whose verdict on price tags is `"banana"`.
    BananaVerdict,
    /// A visit without `check_in`.
    VisitWithoutCheckIn,
    /// A visit whose `check_in` is a string, not a check point.
    CheckInOfTheWrongType,
    /// A complaint without `complaint_kind`.
    ComplaintWithoutKind,
}

impl Bad {
    /// A word the damage's reason names.
    pub fn named(self) -> &'static str {
        match self {
            Bad::BananaVerdict => "banana",
            Bad::VisitWithoutCheckIn | Bad::CheckInOfTheWrongType => "check_in",
            Bad::ComplaintWithoutKind => "complaint_kind",
        }
    }
}

/// Plants `bad` about `store` (of am-li's territory) in `db`, written by a client of
/// `am-li` whose store file goes in `scratch`: the store's shelf display gets the bad
/// verdict; the visit and the complaint are new documents. Returns its id and kind.
pub fn plant_bad(
    db: &ServerDb,
    scratch: &Path,
    store: &DocId,
    bad: Bad,
    now: Timestamp,
) -> HarnessResult<(DocId, DocKind)> {
    let core = |e: fieldsync_core::Error| err("old client", e);
    let path = scratch.join(format!("old-client-{}.db", DocId::new()));
    let (client, _) = device(path, "am-li", now).map_err(core)?;
    client
        .merge_changes(store, &stored_changes(db, store)?)
        .map_err(core)?;
    let (id, kind, edit) = match bad {
        Bad::BananaVerdict => {
            let display = LocalStore::shelf_display_id(store);
            client
                .merge_changes(&display, &stored_changes(db, &display)?)
                .map_err(core)?;
            let banana = RawEdit::verdict(DisplayStandard::PriceTags, "banana", "am-li", now);
            (display, DocKind::ShelfDisplay, banana)
        }
        Bad::VisitWithoutCheckIn | Bad::CheckInOfTheWrongType => {
            let visit = client
                .create_visit(NewVisit {
                    store_id: store.clone(),
                    kind: VisitKind::Routine,
                    check_in: CheckPoint { at: now, gps: None },
                    complaint_id: None,
                })
                .map_err(core)?;
            let edit = if bad == Bad::VisitWithoutCheckIn {
                RawEdit::delete("check_in")
            } else {
                RawEdit::put_str("check_in", "nine o'clock")
            };
            (visit, DocKind::Visit, edit)
        }
        Bad::ComplaintWithoutKind => {
            let complaint = client
                .create_complaint(NewComplaint {
                    store_id: store.clone(),
                    kind: ComplaintKind::Complaint,
                    received_at: now,
                    description: "sold a damaged carton".into(),
                })
                .map_err(core)?;
            (
                complaint,
                DocKind::Complaint,
                RawEdit::delete("complaint_kind"),
            )
        }
    };
    let changes = bad_document(&client, &id, &[edit], "am-li", now)?;
    plant(db, &id, kind, Some(store), &changes)?;
    Ok((id, kind))
}

/// Every change the server stores of `doc`, oldest first.
pub fn stored_changes(db: &ServerDb, doc: &DocId) -> HarnessResult<Vec<Vec<u8>>> {
    db.rows(
        "SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq",
        &[doc.as_str()],
    )?
    .into_iter()
    .map(|row| {
        row.first()
            .and_then(|v| v.bytes())
            .ok_or_else(|| HarnessError(format!("a change of `{doc}` without bytes")))
    })
    .collect()
}

/// A document as an older server would have stored it: `doc` as `device` holds it, plus
/// one change made of `edits` (by `by` at `at`). Returns every change of it, oldest first.
pub fn bad_document(
    device: &LocalStore,
    doc: &DocId,
    edits: &[RawEdit],
    by: &str,
    at: Timestamp,
) -> HarnessResult<Vec<Vec<u8>>> {
    let mut changes = device
        .export_changes(doc, &[])
        .map_err(|e| err("export", e))?;
    changes.push(raw_change(&changes, edits, by, at).map_err(|e| err("raw change", e))?);
    Ok(changes)
}

/// Appends to `doc` (of `kind`, about `store`) those of `changes` the server lacks, in
/// order, as a push that judged nothing would. Returns how many were new.
pub fn plant(
    db: &ServerDb,
    doc: &DocId,
    kind: DocKind,
    store: Option<&DocId>,
    changes: &[Vec<u8>],
) -> HarnessResult<usize> {
    let parsed = changes
        .iter()
        .map(|c| IncomingChange::parse(c).map_err(|e| err("change", e)))
        .collect::<HarnessResult<Vec<_>>>()?;
    let row = Planted {
        doc: doc.as_str(),
        kind: kind.as_str(),
        store: store.map(DocId::as_str),
        at: chrono::Utc::now().timestamp_millis(),
    };
    match db {
        ServerDb::Sqlite(path) => plant_sqlite(path, &row, &parsed),
        ServerDb::Postgres(url) => std::thread::scope(|s| {
            s.spawn(|| plant_postgres(url, &row, &parsed))
                .join()
                .map_err(|_| HarnessError("planting in PostgreSQL panicked".into()))?
        }),
    }
}

struct Planted<'a> {
    doc: &'a str,
    kind: &'a str,
    store: Option<&'a str>,
    at: i64,
}

/// The heads after `change`: it replaces the heads it depends on.
fn next_heads(heads: &mut Vec<String>, change: &IncomingChange) {
    let deps = change.deps();
    heads.retain(|h| !deps.contains(h));
    heads.push(change.hash());
    heads.sort();
}

fn split_heads(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

fn plant_sqlite(
    path: &std::path::Path,
    row: &Planted<'_>,
    changes: &[IncomingChange],
) -> HarnessResult<usize> {
    use rusqlite::{OptionalExtension, params};
    let what = |e: rusqlite::Error| err(&format!("planting in `{}`", path.display()), e);
    let mut conn = rusqlite::Connection::open(path).map_err(what)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(what)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(what)?;
    let heads: Option<String> = tx
        .query_row("SELECT heads FROM docs WHERE id = ?1", [row.doc], |r| {
            r.get(0)
        })
        .optional()
        .map_err(what)?;
    let mut heads = split_heads(heads);
    let mut new = 0;
    for change in changes {
        let hash = change.hash();
        let known: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM changes WHERE hash = ?1)",
                [&hash],
                |r| r.get(0),
            )
            .map_err(what)?;
        if known {
            continue;
        }
        tx.execute(
            "INSERT INTO log (kind, doc_id, change_hash, device_id, at) VALUES ('change', ?1, ?2, ?3, ?4)",
            params![row.doc, hash, OLD_CLIENT, row.at],
        )
        .map_err(what)?;
        let seq = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO changes (seq, doc_id, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
            params![seq, row.doc, hash, change.bytes()],
        )
        .map_err(what)?;
        tx.execute(
            "INSERT OR IGNORE INTO actors (actor, device_id) VALUES (?1, ?2)",
            params![change.actor(), OLD_CLIENT],
        )
        .map_err(what)?;
        next_heads(&mut heads, change);
        new += 1;
    }
    tx.execute(
        "INSERT INTO docs (id, kind, store_id, manager, heads) VALUES (?1, ?2, ?3, NULL, ?4)
         ON CONFLICT (id) DO UPDATE SET heads = excluded.heads",
        params![row.doc, row.kind, row.store, heads.join(",")],
    )
    .map_err(what)?;
    tx.commit().map_err(what)?;
    Ok(new)
}

fn plant_postgres(
    url: &str,
    row: &Planted<'_>,
    changes: &[IncomingChange],
) -> HarnessResult<usize> {
    let what = |e: postgres::Error| err("planting in PostgreSQL", e);
    let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(what)?;
    let mut tx = client.transaction().map_err(what)?;
    // As a push does: the document's lock first, then the cursor's, held to the commit.
    tx.execute(
        "INSERT INTO doc_locks (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET id = excluded.id",
        &[&row.doc],
    )
    .map_err(what)?;
    let heads: Option<String> = tx
        .query_opt("SELECT heads FROM docs WHERE id = $1", &[&row.doc])
        .map_err(what)?
        .map(|r| r.get(0));
    let mut heads = split_heads(heads);
    let mut new = 0;
    for change in changes {
        let hash = change.hash();
        let known = tx
            .query_opt("SELECT 1 FROM changes WHERE hash = $1", &[&hash])
            .map_err(what)?
            .is_some();
        if known {
            continue;
        }
        let seq: i64 = tx
            .query_one(
                "UPDATE log_counter SET last = last + 1 WHERE id = 1 RETURNING last",
                &[],
            )
            .map_err(what)?
            .get(0);
        tx.execute(
            "INSERT INTO log (seq, kind, doc_id, change_hash, device_id, at) VALUES ($1, 'change', $2, $3, $4, $5)",
            &[&seq, &row.doc, &hash, &OLD_CLIENT, &row.at],
        )
        .map_err(what)?;
        tx.execute(
            "INSERT INTO changes (hash, doc_id, seq, bytes) VALUES ($1, $2, $3, $4)",
            &[&hash, &row.doc, &seq, &change.bytes()],
        )
        .map_err(what)?;
        tx.execute(
            "INSERT INTO actors (actor, device_id) VALUES ($1, $2) ON CONFLICT (actor) DO NOTHING",
            &[&change.actor(), &OLD_CLIENT],
        )
        .map_err(what)?;
        next_heads(&mut heads, change);
        new += 1;
    }
    tx.execute(
        "INSERT INTO docs (id, kind, store_id, manager, heads) VALUES ($1, $2, $3, NULL, $4)
         ON CONFLICT (id) DO UPDATE SET heads = excluded.heads",
        &[&row.doc, &row.kind, &row.store, &heads.join(",")],
    )
    .map_err(what)?;
    tx.commit().map_err(what)?;
    Ok(new)
}
