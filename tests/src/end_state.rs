//! The end state every multi-device test must reach, and the check that it did.
//!
//! A [`Ledger`] records every edit a test makes, by the hash of the Automerge change the
//! edit made (after a local edit that change is the document's only head). When the test
//! is done, [`check_converged`] compares every device with the server's database:
//!
//! - **the server**: each recorded edit is in its `changes` table under its document and in
//!   its log exactly once, and no change is logged twice ([`ServerLog::check`]);
//! - **scope**: each device holds exactly the documents its user may read (by the server's
//!   `docs` and `stores` tables and the scope rules of `docs/protocol.md`), no more, no less;
//! - **identical documents**: on each device each document has the server's heads, and its
//!   typed value ([`TypedDoc`]: `visit(id)`, `shelf_display(id)`, ...) equals the value of a
//!   replica built from the server's stored changes;
//! - **nothing lost, nothing waiting**: each recorded edit is in the history of every device
//!   that holds its document; no device has a document pending or rejected, and every
//!   document an edit touched shows [`Receipt::OnServer`] on the device that made it.
//!
//! The check returns every problem it finds, so a failure says what diverged where.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fieldsync_core::{
    Complaint, DeviceIdentity, DocId, DocKind, InventoryCount, LocalStore, Receipt, Role,
    Scorecard, ShelfDisplay, Store, StoreOptions, Task, Visit,
};

use crate::device::Device;
use crate::phone::ChangeRef;
use crate::server::{HarnessError, HarnessResult};
use crate::server_db::ServerDb;
use crate::server_log::ServerLog;

/// One edit a test made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// The device's name.
    pub device: String,
    pub doc: DocId,
    /// Hex hash of the change the edit made.
    pub change: String,
    pub what: String,
}

/// Every edit made in a test, in order.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub edits: Vec<Edit>,
}

impl Ledger {
    /// Runs `edit` on `device`'s store and records the change it made to `doc`.
    pub fn edit(
        &mut self,
        device: &Device,
        doc: &DocId,
        what: &str,
        edit: impl FnOnce(&LocalStore) -> fieldsync_core::Result<()>,
    ) -> HarnessResult<()> {
        edit(device.local())
            .map_err(|e| HarnessError(format!("{} on `{}`: {e}", what, device.name)))?;
        self.record(device, doc, what)
    }

    /// Runs `create` on `device`'s store and records the change that created the document.
    pub fn create(
        &mut self,
        device: &Device,
        what: &str,
        create: impl FnOnce(&LocalStore) -> fieldsync_core::Result<DocId>,
    ) -> HarnessResult<DocId> {
        let id = create(device.local())
            .map_err(|e| HarnessError(format!("{} on `{}`: {e}", what, device.name)))?;
        self.record(device, &id, what)?;
        Ok(id)
    }

    /// Records the edit `device` has just made to `doc`: the document's only head.
    pub fn record(&mut self, device: &Device, doc: &DocId, what: &str) -> HarnessResult<()> {
        let heads = device
            .local()
            .heads(doc)
            .map_err(|e| HarnessError(format!("heads of `{doc}` on `{}`: {e}", device.name)))?;
        match heads.as_slice() {
            [change] => {
                self.edits.push(Edit {
                    device: device.name.clone(),
                    doc: doc.clone(),
                    change: change.clone(),
                    what: what.to_owned(),
                });
                Ok(())
            }
            _ => Err(HarnessError(format!(
                "after `{what}` on `{}`, `{doc}` has heads {heads:?}, not one new change",
                device.name
            ))),
        }
    }

    /// The recorded changes, as the server log check names them.
    pub fn change_refs(&self) -> Vec<ChangeRef> {
        self.edits
            .iter()
            .map(|e| ChangeRef {
                doc: e.doc.to_string(),
                hash: e.change.clone(),
            })
            .collect()
    }
}

/// A document read through core's typed API.
#[derive(Clone, Debug, PartialEq)]
pub enum TypedDoc {
    Store(Box<Store>),
    Visit(Box<Visit>),
    ShelfDisplay(Box<ShelfDisplay>),
    InventoryCount(Box<InventoryCount>),
    Scorecard(Box<Scorecard>),
    Task(Box<Task>),
    Complaint(Box<Complaint>),
}

/// Reads document `id` of `kind` from `local` with the reader of its kind.
pub fn typed(local: &LocalStore, id: &DocId, kind: DocKind) -> fieldsync_core::Result<TypedDoc> {
    Ok(match kind {
        DocKind::Store => TypedDoc::Store(Box::new(local.store(id)?)),
        DocKind::Visit => TypedDoc::Visit(Box::new(local.visit(id)?)),
        DocKind::ShelfDisplay => TypedDoc::ShelfDisplay(Box::new(local.shelf_display(id)?)),
        DocKind::InventoryCount => TypedDoc::InventoryCount(Box::new(local.inventory_count(id)?)),
        DocKind::Scorecard => TypedDoc::Scorecard(Box::new(local.scorecard(id)?)),
        DocKind::Task => TypedDoc::Task(Box::new(local.task(id)?)),
        DocKind::Complaint => TypedDoc::Complaint(Box::new(local.complaint(id)?)),
    })
}

/// What the server holds of one document.
#[derive(Clone, Debug)]
pub struct ServerDoc {
    pub kind: DocKind,
    pub store_id: Option<String>,
    pub manager: Option<String>,
    /// Sorted hex heads.
    pub heads: Vec<String>,
}

/// The server's documents, read from its database, and a replica of each built from its
/// stored changes.
#[derive(Debug)]
pub struct ServerView {
    pub docs: BTreeMap<DocId, ServerDoc>,
    /// Store id → (territory, on the demo street).
    pub stores: HashMap<String, (String, bool)>,
    pub log: ServerLog,
    replica: LocalStore,
    _dir: tempfile::TempDir,
}

impl ServerView {
    /// Reads the server's database (read-only; the server may be running).
    pub fn read(db: &ServerDb) -> HarnessResult<ServerView> {
        let log = ServerLog::read(db).map_err(HarnessError)?;
        let odd =
            |what: &str| HarnessError(format!("the server's {what} has a row of unexpected types"));
        let mut docs = BTreeMap::new();
        for row in db.rows("SELECT id, kind, store_id, manager, heads FROM docs", &[])? {
            let [id, kind, store_id, manager, heads] = row.as_slice() else {
                return Err(odd("docs table"));
            };
            let (Some(id), Some(kind), Some(heads)) = (id.text(), kind.text(), heads.text()) else {
                return Err(odd("docs table"));
            };
            let id = DocId::parse("id", &id).map_err(|e| HarnessError(e.to_string()))?;
            let kind = DocKind::parse(&kind).map_err(|e| HarnessError(e.to_string()))?;
            let mut heads: Vec<String> = heads
                .split(',')
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect();
            heads.sort();
            docs.insert(
                id,
                ServerDoc {
                    kind,
                    store_id: store_id.text(),
                    manager: manager.text(),
                    heads,
                },
            );
        }
        let mut stores = HashMap::new();
        for row in db.rows("SELECT id, territory, demo_street FROM stores", &[])? {
            let [id, territory, demo] = row.as_slice() else {
                return Err(odd("stores table"));
            };
            let (Some(id), Some(territory), Some(demo)) =
                (id.text(), territory.text(), demo.bool())
            else {
                return Err(odd("stores table"));
            };
            stores.insert(id, (territory, demo));
        }
        let dir = tempfile::Builder::new()
            .prefix("fieldsync-server-view-")
            .tempdir()?;
        let replica = LocalStore::open(
            dir.path().join("replica.db"),
            DeviceIdentity::new("server-view", "server-view"),
            StoreOptions::default(),
        )
        .map_err(|e| HarnessError(format!("replica store: {e}")))?;
        // Documents in the order the server first stored them: stores before the documents
        // about them.
        let ids = db.rows(
            "SELECT doc_id FROM changes GROUP BY doc_id ORDER BY MIN(seq)",
            &[],
        )?;
        for id in ids.iter().filter_map(|r| r.first().and_then(|v| v.text())) {
            let bytes: Vec<Vec<u8>> = db
                .rows(
                    "SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq",
                    &[&id],
                )?
                .iter()
                .filter_map(|r| r.first().and_then(|v| v.bytes()))
                .collect();
            let doc = DocId::parse("id", &id).map_err(|e| HarnessError(e.to_string()))?;
            replica
                .merge_changes(&doc, &bytes)
                .map_err(|e| HarnessError(format!("the server's `{id}` does not load: {e}")))?;
        }
        Ok(ServerView {
            docs,
            stores,
            log,
            replica,
            _dir: dir,
        })
    }

    /// The documents a user of `role` named `user` may read now.
    pub fn in_scope(&self, role: Role, user: &str) -> BTreeSet<DocId> {
        self.docs
            .iter()
            .filter(|(_, d)| {
                let store = d.store_id.as_deref().and_then(|s| self.stores.get(s));
                match role {
                    Role::Supervisor | Role::Admin => true,
                    Role::AccountManager => {
                        store.is_some_and(|(t, _)| t == user) || d.manager.as_deref() == Some(user)
                    }
                    Role::MarketTeam => store.is_some_and(|(_, demo)| *demo),
                }
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The server's copy of a document, read through core.
    pub fn value(&self, id: &DocId) -> HarnessResult<TypedDoc> {
        let kind = self
            .docs
            .get(id)
            .map(|d| d.kind)
            .ok_or_else(|| HarnessError(format!("the server has no `{id}`")))?;
        typed(&self.replica, id, kind).map_err(|e| HarnessError(format!("server `{id}`: {e}")))
    }
}

/// What a passing [`check_converged`] compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Converged {
    /// Documents the server holds.
    pub documents: usize,
    /// Device copies compared with the server's.
    pub copies: usize,
    pub edits: usize,
    pub stored_changes: usize,
}

/// Every document of every kind on `local`.
pub fn held_documents(local: &LocalStore) -> fieldsync_core::Result<BTreeSet<DocId>> {
    let mut ids = BTreeSet::new();
    for kind in DocKind::ALL {
        ids.extend(local.document_ids(kind)?);
    }
    Ok(ids)
}

/// Checks that `devices` and the server at `server_db` hold identical documents and that
/// no edit of `ledger` is lost (see the module's documentation).
pub fn check_converged(
    server_db: &ServerDb,
    devices: &[&Device],
    ledger: &Ledger,
) -> Result<Converged, Vec<String>> {
    let view = ServerView::read(server_db).map_err(|e| vec![e.0])?;
    check_against(&view, devices, ledger)
}

/// [`check_converged`] for a test: panics listing every problem found.
pub fn assert_converged(server_db: &ServerDb, devices: &[&Device], ledger: &Ledger) -> Converged {
    match check_converged(server_db, devices, ledger) {
        Ok(converged) => converged,
        Err(problems) => panic!("{} problems:\n{}", problems.len(), problems.join("\n")),
    }
}

/// [`check_converged`] against a server view already read.
pub fn check_against(
    view: &ServerView,
    devices: &[&Device],
    ledger: &Ledger,
) -> Result<Converged, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = Converged {
        documents: view.docs.len(),
        edits: ledger.edits.len(),
        ..Converged::default()
    };
    match view.log.check(&ledger.change_refs()) {
        Ok(verified) => out.stored_changes = verified.stored,
        Err(found) => problems.extend(found.into_iter().map(|p| format!("server: {p}"))),
    }
    let mut edits_of: BTreeMap<&DocId, Vec<&Edit>> = BTreeMap::new();
    for edit in &ledger.edits {
        edits_of.entry(&edit.doc).or_default().push(edit);
    }
    for device in devices {
        let name = &device.name;
        let local = device.local();
        let held = match held_documents(local) {
            Ok(held) => held,
            Err(e) => {
                problems.push(format!("{name}: documents do not read: {e}"));
                continue;
            }
        };
        let expected = view.in_scope(device.role, &device.user);
        for id in expected.difference(&held) {
            let kind = view.docs.get(id).map(|d| d.kind.as_str()).unwrap_or("?");
            problems.push(format!("{name}: lacks {kind} `{id}`"));
        }
        for id in held.difference(&expected) {
            problems.push(format!("{name}: holds `{id}`, which is not in its scope"));
        }
        match local.pending_documents() {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) => problems.push(format!(
                "{name}: {} documents wait for the server: {:?}",
                pending.len(),
                pending
                    .iter()
                    .map(|p| (p.id.to_string(), p.rejected.clone()))
                    .collect::<Vec<_>>()
            )),
            Err(e) => problems.push(format!("{name}: the outbox does not read: {e}")),
        }
        for id in expected.intersection(&held) {
            out.copies += 1;
            let Some(server) = view.docs.get(id) else {
                continue;
            };
            match local.heads(id) {
                Ok(mut heads) => {
                    heads.sort();
                    if heads != server.heads {
                        problems.push(format!(
                            "{name}: {} `{id}` has heads {heads:?}, the server {:?}",
                            server.kind, server.heads
                        ));
                    }
                }
                Err(e) => problems.push(format!("{name}: heads of `{id}` do not read: {e}")),
            }
            match (typed(local, id, server.kind), view.value(id)) {
                (Ok(mine), Ok(theirs)) if mine == theirs => {}
                (Ok(mine), Ok(theirs)) => problems.push(format!(
                    "{name}: {} `{id}` reads\n  {mine:?}\nwhere the server's reads\n  {theirs:?}",
                    server.kind
                )),
                (Err(e), _) => problems.push(format!("{name}: `{id}` does not read: {e}")),
                (_, Err(e)) => problems.push(format!("server: {e}")),
            }
            let Some(edits) = edits_of.get(id) else {
                continue;
            };
            let history: BTreeSet<String> = match local.history(id) {
                Ok(h) => h.into_iter().map(|h| h.change).collect(),
                Err(e) => {
                    problems.push(format!("{name}: history of `{id}` does not read: {e}"));
                    continue;
                }
            };
            for edit in edits {
                if !history.contains(&edit.change) {
                    problems.push(format!(
                        "{name}: lacks `{}` by {} on `{id}` (change `{}`)",
                        edit.what, edit.device, edit.change
                    ));
                }
                if edit.device == *name {
                    match local.receipt(id) {
                        Ok(Receipt::OnServer) => {}
                        Ok(other) => problems.push(format!(
                            "{name}: `{}` on `{id}` shows {other:?}, not on the server",
                            edit.what
                        )),
                        Err(e) => problems.push(format!("{name}: receipt of `{id}`: {e}")),
                    }
                }
            }
        }
    }
    for (id, edits) in &edits_of {
        if !view.docs.contains_key(*id) {
            for edit in edits {
                problems.push(format!(
                    "server: lacks `{}` by {} on `{id}`: it has no such document",
                    edit.what, edit.device
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Whether the server at `db` stores change `hash`, read-only.
pub fn server_has_change(db: &ServerDb, hash: &str) -> HarnessResult<bool> {
    db.has_change(hash)
}
