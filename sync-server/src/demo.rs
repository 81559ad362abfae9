//! `serve --demo`: a demo district, so a new user sees the server work in one command.
//!
//! On an empty database it adds four account managers, a market-team user and a
//! supervisor, writes a generated store file (`demo-stores.csv` in the data folder, about
//! 1,000 stores, some on the demo street, some functional terminals with ratings, about a
//! fifth small grocery stores: `demo/store_file.rs`) and imports it with the same code as
//! `admin import-stores`. It then makes an enrollment code for each user. The file is
//! deterministic: every demo district has the same stores (their document ids differ). A
//! database that has users already is left alone.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fieldsync_core::Role;

mod activity;
mod cadences;
mod phone;
mod photos;
mod store_file;

pub use activity::{Activity, DEMO_SUPERVISOR};
pub use store_file::demo_csv;

use crate::admin::import::{ImportReport, import_stores};
use crate::admin::{ADMIN_USER, AdminDevice, enrollment_code};
use crate::blobs::store::BlobStore;
use crate::error::{AppError, AppResult};
use crate::storage::{SyncStorage, User};

/// The store file the demo writes into the data folder.
pub const DEMO_CSV: &str = "demo-stores.csv";
/// How many stores the demo district has.
pub const DEMO_STORES: u32 = 1_000;
/// How many of them are on the demo street.
pub const DEMO_STREET_STORES: u32 = 30;

/// An account manager of the demo district and their territory.
#[derive(Clone, Copy)]
struct Territory {
    id: &'static str,
    name: &'static str,
    streets: [&'static str; 3],
    /// Where the territory's stores are spread around (latitude, longitude).
    centre: (f64, f64),
}

const MANAGERS: [Territory; 4] = [
    Territory {
        id: "am-li",
        name: "李伟 Li Wei",
        streets: ["延安路", "庆春路", "解放路"],
        centre: (30.2590, 120.1640),
    },
    Territory {
        id: "am-wang",
        name: "王芳 Wang Fang",
        streets: ["体育场路", "环城北路", "中山北路"],
        centre: (30.2790, 120.1660),
    },
    Territory {
        id: "am-zhang",
        name: "张强 Zhang Qiang",
        streets: ["文三路", "教工路", "学院路"],
        centre: (30.2780, 120.1400),
    },
    Territory {
        id: "am-chen",
        name: "陈静 Chen Jing",
        streets: ["秋涛路", "凯旋路", "景芳路"],
        centre: (30.2680, 120.1900),
    },
];

/// The demo district's users: four account managers, a market-team user, a supervisor.
pub fn demo_users() -> Vec<User> {
    let mut users: Vec<User> = MANAGERS
        .iter()
        .map(|t| User {
            id: t.id.into(),
            role: Role::AccountManager,
            name: t.name.into(),
        })
        .collect();
    users.push(User {
        id: cadences::DEMO_MARKET_TEAM.into(),
        role: Role::MarketTeam,
        name: "赵敏 Zhao Min".into(),
    });
    users.push(User {
        id: "sup-liu".into(),
        role: Role::Supervisor,
        name: "刘洋 Liu Yang".into(),
    });
    users
}

/// What seeding did.
#[derive(Debug)]
// Made once per start: the size of the value does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Seeded {
    /// The district was made now.
    New(DemoDistrict),
    /// The database had users already; nothing was added.
    Existing { users: usize },
}

/// A freshly seeded demo district: its users with their enrollment codes.
#[derive(Debug)]
pub struct DemoDistrict {
    pub users: Vec<(User, String)>,
    pub csv: PathBuf,
    pub import: ImportReport,
    /// Time spent importing the file (stores, displays, push).
    pub import_took: Duration,
    /// The field activity seeded through the phones' write path, and the time it took.
    pub activity: Activity,
    pub activity_took: Duration,
    /// A one-time console sign-in code for the demo's supervisor.
    pub console_code: String,
    /// Time spent in all, from writing the file to the last enrollment code.
    pub took: Duration,
}

/// Seeds the demo district in `data_dir` unless the database has users (other than the
/// server's own admin user).
pub fn seed(data_dir: &Path, storage: &dyn SyncStorage) -> AppResult<Seeded> {
    seed_with(data_dir, storage, false, None)
}

/// [`seed`], and with `activity` weeks of field activity too (what `serve --demo` does, so
/// the console shows a living district; tests of the stores alone leave it out), with the
/// photos of one visit put in `blobs` when given.
pub fn seed_with(
    data_dir: &Path,
    storage: &dyn SyncStorage,
    activity: bool,
    blobs: Option<&dyn BlobStore>,
) -> AppResult<Seeded> {
    let existing = storage
        .users()?
        .into_iter()
        .filter(|u| u.id != ADMIN_USER)
        .count();
    if existing > 0 {
        return Ok(Seeded::Existing { users: existing });
    }
    let started = Instant::now();
    let csv = data_dir.join(DEMO_CSV);
    std::fs::write(&csv, demo_csv())
        .map_err(|e| AppError::Internal(format!("cannot write `{}`: {e}", csv.display())))?;
    let now = chrono::Utc::now().timestamp_millis();
    let users = demo_users();
    for user in &users {
        storage.add_user(user, now)?;
    }
    // The stores exist from before the weeks of activity seeded below.
    let office = fieldsync_core::Timestamp(now - 35 * 86_400_000);
    let admin =
        AdminDevice::open_with_clock(data_dir, storage, std::sync::Arc::new(move || office))?;
    let import_started = Instant::now();
    let file = std::fs::File::open(&csv)
        .map_err(|e| AppError::Internal(format!("cannot read `{}`: {e}", csv.display())))?;
    let import = import_stores(&admin, file)?;
    let import_took = import_started.elapsed();
    drop(admin);
    if !import.bad.is_empty() {
        return Err(AppError::Internal(format!(
            "the generated demo file has bad rows:\n{import}"
        )));
    }
    let activity_started = Instant::now();
    let calendar = crate::calendar::load(data_dir)?;
    let activity = if activity {
        activity::seed_activity(
            data_dir,
            storage,
            &calendar,
            fieldsync_core::Timestamp(now),
            blobs,
        )?
    } else {
        Activity::default()
    };
    let activity_took = activity_started.elapsed();
    let console_code = crate::console::sign_in::issue_code(storage, DEMO_SUPERVISOR, now)?;
    let mut with_codes = Vec::new();
    for user in users {
        let code = enrollment_code(storage, &user.id, now)?;
        with_codes.push((user, code));
    }
    Ok(Seeded::New(DemoDistrict {
        users: with_codes,
        csv,
        import,
        import_took,
        activity,
        activity_took,
        console_code,
        took: started.elapsed(),
    }))
}

impl Seeded {
    /// What to print once the server listens on `listen`.
    pub fn instructions(&self, listen: SocketAddr) -> String {
        let mut out = String::new();
        match self {
            Seeded::Existing { users } => {
                let _ = writeln!(
                    out,
                    "demo: the database has {users} user(s) already, so the demo district \
                     is not seeded again.\n      Make an enrollment code with \
                     `fieldsync-server admin enroll-code am-li` (same --data-dir)."
                );
            }
            Seeded::New(d) => {
                let _ = writeln!(
                    out,
                    "demo: seeded a district of {} users and {} stores from `{}` in {:.1} s \
                     (import, shelf displays and push: {:.1} s)",
                    d.users.len(),
                    d.import.imported,
                    d.csv.display(),
                    d.took.as_secs_f64(),
                    d.import_took.as_secs_f64()
                );
                let _ = writeln!(
                    out,
                    "\nEnroll a phone or a test client: each code works once, for 7 days, \
                     and the answer\ncarries the device's bearer token for `POST /v1/sync` \
                     (see docs/protocol.md).\n"
                );
                for (user, code) in &d.users {
                    let _ = writeln!(
                        out,
                        "  {} ({}, {})  code {code}\n    curl -s -X POST http://{listen}/v1/enroll \
                         -H 'Content-Type: application/json' \\\n      -d '{{\"code\": \"{code}\", \
                         \"device_name\": \"{} demo phone\"}}'",
                        user.id, user.role, user.name, user.id
                    );
                }
                let a = &d.activity;
                let _ = writeln!(
                    out,
                    "\ndemo: seeded {} visits, {} display checks, {} counts, {} tasks, {} \
                     complaints, {} scorecards, {} market walks, {} spot checks and {} photo \
                     files through the phones' write path in {:.1} s (syncs: {:.1} s)",
                    a.visits,
                    a.display_checks,
                    a.counts,
                    a.tasks,
                    a.complaints,
                    a.scorecards,
                    a.walks,
                    a.spot_checks,
                    a.photos,
                    d.activity_took.as_secs_f64(),
                    a.sync_took.as_secs_f64()
                );
                let _ = writeln!(
                    out,
                    "\nSupervision console: http://{listen}/console/sign-in\n  sign in as \
                     {DEMO_SUPERVISOR} with the one-time code {}  (valid 24 hours; more: \
                     `fieldsync-server admin console-code {DEMO_SUPERVISOR}`)",
                    d.console_code
                );
                let _ = writeln!(
                    out,
                    "\nMore codes: `fieldsync-server admin enroll-code USER`. Report: \
                     `fieldsync-server admin report`."
                );
            }
        }
        out
    }
}

/// A small deterministic random source (SplitMix64), so the demo file never changes.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A whole number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A number in `0.0..1.0`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One of `items` with the given weights.
    fn weighted(&mut self, items: &[(&'static str, u64)]) -> &'static str {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        items.last().map(|(item, _)| *item).unwrap_or_default()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len() as u64) as usize)
            .copied()
            .unwrap_or_default()
    }
}
