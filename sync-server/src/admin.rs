//! `fieldsync-server admin ...`: users, devices and stores, from the command line.
//!
//! Store documents are made the way phones make documents: the server keeps an admin
//! device of its own (a core `LocalStore` in the data folder, user `admin`) that edits
//! documents locally and pushes them through the same write path, rules and feed as any
//! phone. It pulls the district's documents before it reads them, so reports and
//! reassignments work on the current state.

use std::path::Path;

use clap::{Args, Subcommand};
use fieldsync_core::{DeviceIdentity, DocId, LocalStore, Role, StoreOptions};

use crate::auth::{CODE_VALID_FOR_MS, hash_secret, new_code, new_token};
use crate::config::DataArgs;
use crate::error::{AppError, AppResult};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{DeviceInfo, SyncStorage, User};

/// The user and device id of the server's own admin device.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_DEVICE: &str = "server-admin";

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Add a user: `add-user am-li account_manager "Li Wei"`.
    AddUser {
        id: String,
        role: String,
        name: String,
    },
    /// List users.
    Users,
    /// Make a one-time enrollment code for a user's new device (valid 7 days).
    EnrollCode { user: String },
    /// Revoke a device: its next request is refused.
    Revoke { device: String },
}

/// Runs an admin command against the data folder.
pub fn run(args: &AdminArgs) -> AppResult<()> {
    std::fs::create_dir_all(&args.data.data_dir).map_err(AppError::internal)?;
    let storage = SqliteStorage::open(&args.data.database())?;
    let now = chrono::Utc::now().timestamp_millis();
    match &args.command {
        AdminCommand::AddUser { id, role, name } => {
            let role = Role::parse(role)?;
            validate_user_id(id)?;
            storage.add_user(
                &User {
                    id: id.clone(),
                    role,
                    name: name.clone(),
                },
                now,
            )?;
            println!("added {role} `{id}` ({name})");
        }
        AdminCommand::Users => {
            for u in storage.users()? {
                println!("{}\t{}\t{}", u.id, u.role, u.name);
            }
        }
        AdminCommand::EnrollCode { user } => {
            let code = enrollment_code(&storage, user, now)?;
            println!("{code}");
        }
        AdminCommand::Revoke { device } => {
            if !storage.revoke_device(device, now)? {
                return Err(AppError::NotFound(format!("no device `{device}`")));
            }
            println!("revoked `{device}`");
        }
    }
    Ok(())
}

/// A one-time code for `user`, stored as a hash.
pub fn enrollment_code(storage: &dyn SyncStorage, user: &str, now: i64) -> AppResult<String> {
    let code = new_code();
    storage.add_enrollment_code(user, &hash_secret(&code), now, now + CODE_VALID_FOR_MS)?;
    Ok(code)
}

/// Refuses user ids that would be awkward in logs, CSV files and URLs.
pub fn validate_user_id(id: &str) -> AppResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "user id `{id}` must be 1 to 64 letters, digits, `-`, `_` or `.`"
        )))
    }
}

/// The server's own admin device: a local store that edits documents and pushes them
/// through the normal write path.
pub struct AdminDevice<'a> {
    pub local: LocalStore,
    storage: &'a dyn SyncStorage,
    device: DeviceInfo,
}

impl std::fmt::Debug for AdminDevice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminDevice")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl<'a> AdminDevice<'a> {
    /// Opens the admin device in `data_dir`, registering the admin user and device on first use.
    pub fn open(data_dir: &Path, storage: &'a dyn SyncStorage) -> AppResult<AdminDevice<'a>> {
        let now = chrono::Utc::now().timestamp_millis();
        if storage.user(ADMIN_USER)?.is_none() {
            storage.add_user(
                &User {
                    id: ADMIN_USER.into(),
                    role: Role::Admin,
                    name: "District office".into(),
                },
                now,
            )?;
        }
        let device = DeviceInfo {
            device_id: ADMIN_DEVICE.into(),
            user_id: ADMIN_USER.into(),
            role: Role::Admin,
        };
        // The admin device never authenticates over HTTP: its token is thrown away.
        storage.add_device(
            &device,
            "server admin tools",
            &hash_secret(&new_token()),
            now,
        )?;
        let local = LocalStore::open(
            data_dir.join("admin-device.db"),
            DeviceIdentity::new(ADMIN_USER, ADMIN_DEVICE),
            StoreOptions::default(),
        )?;
        Ok(AdminDevice {
            local,
            storage,
            device,
        })
    }

    /// Merges everything new on the server into the admin device.
    pub fn pull(&self) -> AppResult<usize> {
        let mut merged = 0;
        // Bounded: each round advances the cursor; a district's log ends.
        for _ in 0..1_000_000 {
            let cursor = self
                .local
                .sync_cursor()?
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(0);
            let feed = self.storage.feed(&self.device, cursor, 8 * 1024 * 1024)?;
            for doc in &feed.changes {
                let id = DocId::parse("doc", &doc.doc)?;
                let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
                self.local.merge_changes(&id, &changes)?;
                merged += 1;
            }
            self.local.set_sync_cursor(&feed.cursor.to_string())?;
            if !feed.more {
                break;
            }
        }
        Ok(merged)
    }

    /// Pushes the admin device's pending edits; a refusal is an error naming the rule.
    pub fn push(&self) -> AppResult<usize> {
        let mut pushed = 0;
        // Bounded: every round confirms the documents it sent.
        for _ in 0..100_000 {
            let batch = self.local.outbox_batch(500)?;
            if batch.is_empty() {
                break;
            }
            let docs = batch
                .iter()
                .map(|d| {
                    let changes = d
                        .changes
                        .iter()
                        .map(|c| fieldsync_core::IncomingChange::parse(c))
                        .collect::<fieldsync_core::Result<Vec<_>>>()?;
                    Ok((d.id.clone(), changes))
                })
                .collect::<AppResult<Vec<_>>>()?;
            let now = chrono::Utc::now().timestamp_millis();
            match self.storage.push(&self.device, docs, now)? {
                Ok(_) => {
                    for d in &batch {
                        self.local.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
                        pushed += 1;
                    }
                }
                Err(rejected) => return Err(AppError::Rejected(rejected)),
            }
        }
        Ok(pushed)
    }
}
