//! A district for tests that push hand-made Automerge changes with real device tokens, as
//! a crafted client would: a server on this process's runtime (SQLite) with two account
//! managers (`am-li`, `am-wu`) and a supervisor (`sup-liu`), one store of `am-li`, and
//! phones enrolled on demand.

use automerge::{AutoCommit, ChangeHash};
use axum::http::StatusCode;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{DocChanges, SyncRequest};
use fieldsync_core::{DocId, LocalStore, Role};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;

use crate::Backend;
use crate::routes::Instances;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// The phones' clock when they are made.
pub const MONDAY: &str = "2026-11-23T09:00:00+08:00";

/// The server, its folder and `am-li`'s store.
pub struct Crafted {
    pub server: Instances,
    pub dir: tempfile::TempDir,
    pub store: DocId,
}

impl std::fmt::Debug for Crafted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crafted")
            .field("dir", &self.dir.path())
            .field("store", &self.store)
            .finish()
    }
}

impl Crafted {
    pub fn new(label: &str) -> Fallible<Crafted> {
        let dir = tempfile::tempdir()?;
        let server = Instances::open(Backend::Sqlite, dir.path(), label, Limits::default())?;
        for (id, role) in [
            ("am-li", Role::AccountManager),
            ("am-wu", Role::AccountManager),
            ("sup-liu", Role::Supervisor),
        ] {
            server.storage.add_user(
                &User {
                    id: id.into(),
                    role,
                    name: id.into(),
                },
                0,
            )?;
        }
        let store = {
            let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
            let store = admin.local.create_store(sample_store("am-li", 1))?;
            admin.push()?;
            store
        };
        Ok(Crafted { server, dir, store })
    }

    /// A phone of `user`, enrolled and synced once; its token.
    pub async fn phone(&self, user: &str) -> Fallible<(LocalStore, String)> {
        let token = self.server.enroll(user).await?;
        let (phone, _) = device(self.dir.path().join(format!("{user}.db")), user, at(MONDAY))?;
        self.server.sync_phone(&token, &phone).await?;
        Ok((phone, token))
    }

    /// The document as the server holds it, with its heads.
    pub fn stored(&self, doc: &DocId) -> Fallible<(AutoCommit, Vec<ChangeHash>)> {
        let mut am = AutoCommit::new();
        for change in self.server.storage.document_changes(doc.as_str())? {
            am.load_incremental(&change)?;
        }
        let heads = am.get_heads();
        Ok((am, heads))
    }

    /// Pushes `changes` of `doc` with `token`, as a crafted client would: the status and
    /// the refusal's text (`(accepted)` for an acceptance).
    pub async fn push(
        &self,
        token: &str,
        doc: &DocId,
        changes: &[automerge::Change],
    ) -> Fallible<(StatusCode, String)> {
        let encoded = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
        self.push_encoded(token, doc, encoded).await
    }

    /// As [`Crafted::push`], for changes already encoded.
    pub async fn push_encoded(
        &self,
        token: &str,
        doc: &DocId,
        changes: Vec<Vec<u8>>,
    ) -> Fallible<(StatusCode, String)> {
        let request = SyncRequest {
            protocol: 1,
            cursor: None,
            push: vec![DocChanges {
                doc: doc.to_string(),
                changes: changes.into_iter().map(Into::into).collect(),
                index: None,
            }],
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let (status, _, body) = self.server.sync(token, &request).await?;
        let said = if status.is_success() {
            "(accepted)".to_owned()
        } else {
            String::from_utf8_lossy(&body).into_owned()
        };
        Ok((status, said))
    }
}

/// The clock now, in milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
