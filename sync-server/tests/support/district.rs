//! What the admin tools' tests share: a district on SQLite (its users, the admin device
//! with an office clock, store import), phones that sync straight against storage, and a
//! compliance report read back from its CSV. Included by `admin.rs` and `report.rs`
//! (`#[path]`).

use std::sync::Arc;

use chrono::NaiveDate;
use fieldsync_core::fixtures::{ManualClock, at, device};
use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{DocId, DocKind, LocalStore, Role, Timestamp};
use fieldsync_server::SqliteStorage;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::import::{ImportReport, import_stores};
use fieldsync_server::admin::report::{COLUMNS, ReportOptions, compliance_report, write_csv};
use fieldsync_server::storage::{DeviceInfo, Feed, SyncStorage, User};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

pub const HEADER: &str = "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory";

pub struct District {
    _dir: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub storage: Arc<SqliteStorage>,
}

impl District {
    pub fn new() -> Fallible<District> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_path_buf();
        let storage = Arc::new(SqliteStorage::open(&path.join("fieldsync.db"))?);
        for (id, role) in [
            ("am-li", Role::AccountManager),
            ("am-wu", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
            ("sup-liu", Role::Supervisor),
            ("mk-zhao", Role::MarketTeam),
        ] {
            storage.add_user(
                &User {
                    id: id.into(),
                    role,
                    name: format!("{id} name"),
                },
                0,
            )?;
        }
        Ok(District {
            _dir: dir,
            dir: path,
            storage,
        })
    }

    /// Moves the store with `licence` to `to`'s territory through the admin device, by an
    /// office clock reading `when`.
    pub fn reassign_at(&self, licence: &str, to: &str, when: &str) -> Fallible<()> {
        let office = at(when);
        AdminDevice::open_with_clock(&self.dir, self.storage.as_ref(), Arc::new(move || office))?
            .reassign(licence, to)?;
        Ok(())
    }

    /// The admin device, whose clock stands before every phone's: the stores it imports
    /// exist before anyone visits them.
    pub fn admin(&self) -> Fallible<AdminDevice<'_>> {
        let office = at("2026-10-01T09:00:00+08:00");
        Ok(AdminDevice::open_with_clock(
            &self.dir,
            self.storage.as_ref(),
            std::sync::Arc::new(move || office),
        )?)
    }

    pub fn import(&self, csv: &str) -> Fallible<ImportReport> {
        let admin = self.admin()?;
        Ok(import_stores(&admin, csv.as_bytes())?)
    }

    /// Document counts on the server by kind.
    pub fn stored(&self, kind: DocKind) -> Fallible<usize> {
        Ok(self
            .storage
            .documents()?
            .iter()
            .filter(|(_, k)| k == kind.as_str())
            .count())
    }

    /// A phone of `user`, registered with the server, with a manual clock at `start`.
    pub fn phone(&self, user: &str, role: Role, start: &str) -> Fallible<Phone> {
        let (local, clock) = device(self.dir.join(format!("{user}.db")), user, at(start))?;
        let info = DeviceInfo {
            device_id: format!("{user}-phone"),
            user_id: user.into(),
            role,
        };
        self.storage
            .add_device(&info, "test phone", user.as_bytes(), 0)?;
        Ok(Phone { local, clock, info })
    }

    /// The compliance report for the month holding `month`, made at `now` on the admin
    /// device (after it pulls) with the district's calendar: each manager's row.
    pub fn report(
        &self,
        month: NaiveDate,
        now: Timestamp,
    ) -> Fallible<Vec<std::collections::HashMap<String, String>>> {
        let admin = self.admin()?;
        let options = ReportOptions::resolve(Some(month), None, 4, admin.local.calendar(), now)?;
        admin.pull()?;
        let mut out = Vec::new();
        write_csv(&compliance_report(&admin, &options)?, &mut out)?;
        report_cells(&out)
    }

    /// One sync of a phone straight against storage: push its outbox, merge its feed.
    pub fn sync(&self, phone: &Phone) -> Fallible<Feed> {
        let batch = phone.local.outbox_batch(1000)?;
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
            .collect::<Fallible<Vec<_>>>()?;
        // Received as the phone's clock says: the phone is on time.
        let received = phone.clock.now().0;
        if let Err(rejected) = self.storage.push(&phone.info, docs, received)? {
            return Err(format!("push refused: {rejected:?}").into());
        }
        for d in &batch {
            phone.local.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
        }
        let cursor = FeedCursor::parse(phone.local.sync_cursor()?.as_deref())?;
        let feed = self
            .storage
            .feed(&phone.info, &cursor, 64 << 20, &Default::default())?;
        for doc in &feed.changes {
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            phone
                .local
                .merge_changes(&DocId::parse("doc", &doc.doc)?, &changes)?;
        }
        phone.local.set_sync_cursor(&feed.cursor.to_string())?;
        Ok(feed)
    }
}

pub struct Phone {
    pub local: LocalStore,
    pub clock: ManualClock,
    pub info: DeviceInfo,
}

pub fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

/// Reads a report's CSV into (manager → column → value).
pub fn report_cells(csv_bytes: &[u8]) -> Fallible<Vec<std::collections::HashMap<String, String>>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    assert_eq!(header, COLUMNS.map(str::to_owned).to_vec());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(rows)
}
