//! The demo's phones: core `LocalStore`s registered with the server as devices of the demo
//! users, synced straight against storage (push, then feed) like the app's sync client
//! does over HTTP, and removed once their edits are on the server.

use std::path::Path;

use fieldsync_core::fixtures::{ManualClock, device};
use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{DocId, LocalStore, Role, Timestamp};

use crate::auth::{hash_secret, new_token};
use crate::error::AppResult;
use crate::storage::{DeviceInfo, SyncStorage};

/// A phone of the demo, registered with the server.
pub(super) struct Phone {
    pub local: LocalStore,
    pub clock: ManualClock,
    pub info: DeviceInfo,
}

pub(super) fn phone(
    dir: &Path,
    storage: &dyn SyncStorage,
    user: &str,
    role: Role,
    start: Timestamp,
) -> AppResult<Phone> {
    let file = dir.join(format!("demo-phone-{user}.db"));
    let (local, clock) = device(&file, user, start)?;
    let info = DeviceInfo {
        device_id: format!("{user}-phone"),
        user_id: user.into(),
        role,
    };
    storage.add_device(
        &info,
        &format!("{user} demo phone"),
        &hash_secret(&new_token()),
        start.0,
    )?;
    Ok(Phone { local, clock, info })
}

/// Pushes the phone's outbox (received at `received`) and merges its feed.
pub(super) fn sync(storage: &dyn SyncStorage, phone: &Phone, received: i64) -> AppResult<()> {
    crate::admin::push_from(&phone.local, storage, &phone.info, &|| received)?;
    for _ in 0..10_000 {
        let cursor = FeedCursor::parse(phone.local.sync_cursor()?.as_deref())?;
        let feed = storage.feed(&phone.info, &cursor, 64 << 20, &Default::default())?;
        for doc in &feed.changes {
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            phone
                .local
                .merge_changes(&DocId::parse("doc", &doc.doc)?, &changes)?;
        }
        phone.local.set_sync_cursor(&feed.cursor.to_string())?;
        if !feed.more {
            break;
        }
    }
    storage.touch_device(&phone.info.device_id, received)?;
    Ok(())
}

/// The demo phones' stores were only a means: removed once pushed.
pub(super) fn remove_phone(dir: &Path, user: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("demo-phone-{user}.db{suffix}")));
    }
    let _ = std::fs::remove_dir_all(dir.join(format!("demo-phone-{user}.db-photos")));
}
