//! Who may read or upload a blob: a device may touch a blob only through a document that
//! the server holds, that is in the device's read scope now, and that references the
//! blob's hash (as a photo or its thumbnail). The device names the document; the server
//! reads it, never the device's word, to decide. Uploading needs the same: the phone
//! pushes a photo's document before the photo (documents go first), so the document is
//! on the server by then (docs/adr/0016-photo-blobs.md).
//!
//! Reading asks one thing more: the photo's owner (the user whose push first referenced
//! the hash, `storage/photo_owners.rs`) wrote an entry of that document referencing it.
//! Without it anyone who once saw a hash (a manager whose store moved away, a photo shown
//! on a screen) could read the photo again by quoting the hash in a document of their own
//! (ADR 0033). Uploading the bytes confers nothing.
//!
//! A document not held, outside the scope or not referencing the hash all get one
//! answer, so a refusal tells nothing about documents the device may not see.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fieldsync_core::{DocId, IncomingChange, MAX_CHANGE_OPS, MAX_DOCUMENT_OPS, Replica, Role};

use crate::SyncStorage;
use crate::error::{AppError, AppResult};
use crate::storage::DeviceInfo;
use crate::storage::push::store_in_scope;

/// The most operations and predecessors the documents one request names may list in all,
/// which the server replays to read them: two of the largest documents a push may leave.
/// A status request may name 500 documents; a phone's visits list a few hundred
/// operations each, and a crafted client could make each of 500 hold 500,000.
pub(crate) const MAX_REQUEST_OPS: u64 = 2 * MAX_DOCUMENT_OPS;

/// The hashes the device may touch through each document it named, with the users whose
/// entries reference each, read once per request, and whether each store those documents
/// are about is in the device's scope, also read once per request (a batch of 500 photos
/// names a few stores).
pub(crate) struct Access<'a> {
    storage: &'a dyn SyncStorage,
    device: &'a DeviceInfo,
    docs: HashMap<String, BTreeMap<String, BTreeSet<String>>>,
    stores: HashMap<String, bool>,
    /// Operations and predecessors the documents read so far list ([`MAX_REQUEST_OPS`]).
    ops_read: u64,
}

impl<'a> Access<'a> {
    pub(crate) fn new(storage: &'a dyn SyncStorage, device: &'a DeviceInfo) -> Access<'a> {
        Access {
            storage,
            device,
            docs: HashMap::new(),
            stores: HashMap::new(),
            ops_read: 0,
        }
    }

    /// Whether the device may ask about `hash` through `doc`: whether it is complete.
    pub(crate) fn allows(&mut self, doc: &str, hash: &str) -> AppResult<bool> {
        Ok(self.authors(doc, hash)?.is_some())
    }

    /// Whether the device may upload `hash` through `doc`, or learn where its upload
    /// stands: its user owns the photo (attached it first) and referenced it in `doc`.
    /// Anyone else who learned the hash and quoted it in a document of their own could
    /// otherwise send pieces of it, and end its owner's upload with a last piece that
    /// does not match (a partial upload is one per blob, shared by its uploaders).
    pub(crate) fn allows_upload(&mut self, doc: &str, hash: &str) -> AppResult<bool> {
        let user = self.device.user_id.clone();
        if !self.authors(doc, hash)?.is_some_and(|a| a.contains(&user)) {
            return Ok(false);
        }
        Ok(self.storage.photo_owner(hash)?.as_deref() == Some(user.as_str()))
    }

    /// Whether the device may read the verified blob `hash` through `doc`: `doc` references
    /// it in an entry its owner wrote (the user whose push referenced it first).
    pub(crate) fn allows_read(&mut self, doc: &str, hash: &str) -> AppResult<bool> {
        let Some(authors) = self.authors(doc, hash)?.cloned() else {
            return Ok(false);
        };
        Ok(self
            .storage
            .photo_owner(hash)?
            .is_some_and(|owner| authors.contains(&owner)))
    }

    /// The users whose entries of `doc` reference `hash`, when `doc` is in scope and does.
    fn authors(&mut self, doc: &str, hash: &str) -> AppResult<Option<&BTreeSet<String>>> {
        if !self.docs.contains_key(doc) {
            let hashes = self.reachable(doc)?;
            self.docs.insert(doc.to_owned(), hashes);
        }
        Ok(self.docs.get(doc).and_then(|h| h.get(hash)))
    }

    /// The hashes `doc` references when it is in the device's scope; none otherwise.
    fn reachable(&mut self, doc: &str) -> AppResult<BTreeMap<String, BTreeSet<String>>> {
        let Ok(id) = DocId::parse("doc", doc) else {
            return Ok(BTreeMap::new());
        };
        let Some(replica) = self.load(&id)? else {
            return Ok(BTreeMap::new());
        };
        let in_scope = match self.device.role {
            Role::Supervisor | Role::Admin => true,
            Role::AccountManager | Role::MarketTeam => self.store_in_scope(&replica)?,
        };
        Ok(if in_scope {
            replica.photo_authors()
        } else {
            BTreeMap::new()
        })
    }

    fn store_in_scope(&mut self, replica: &Replica) -> AppResult<bool> {
        let Some(store) = replica.summary()?.and_then(|s| s.store_id) else {
            return Ok(false);
        };
        if let Some(&in_scope) = self.stores.get(&store) {
            return Ok(in_scope);
        }
        let in_scope = self.store_id_in_scope(&store)?;
        self.stores.insert(store, in_scope);
        Ok(in_scope)
    }

    fn store_id_in_scope(&mut self, store: &str) -> AppResult<bool> {
        let Ok(store_id) = DocId::parse("store_id", store) else {
            return Ok(false);
        };
        let Some(summary) = self
            .load(&store_id)?
            .and_then(|r| r.summary().ok().flatten())
        else {
            return Ok(false);
        };
        Ok(match (summary.territory, summary.demo_street) {
            (Some(territory), demo) => {
                store_in_scope(self.device, &territory, demo.unwrap_or(false))
            }
            _ => false,
        })
    }

    /// The stored document `id`, counted against [`MAX_REQUEST_OPS`] before Automerge
    /// replays it (the count reads each change's columns, not its operations).
    fn load(&mut self, id: &DocId) -> AppResult<Option<Replica>> {
        let changes = self.storage.document_changes(id.as_str())?;
        if changes.is_empty() {
            return Ok(None);
        }
        let listed = changes.iter().fold(0u64, |sum, change| {
            let ops = IncomingChange::precheck(change).map_or(MAX_CHANGE_OPS, |p| p.ops);
            sum.saturating_add(ops)
        });
        self.ops_read = self.ops_read.saturating_add(listed);
        if self.ops_read > MAX_REQUEST_OPS {
            return Err(AppError::TooLarge(format!(
                "the documents this request names list more than `{MAX_REQUEST_OPS}` operations and predecessors in all (the server replays them to read them): name fewer at a time"
            )));
        }
        Ok(Some(Replica::load(id, changes.iter().map(Vec::as_slice))?))
    }
}
