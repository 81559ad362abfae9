//! `fieldsync-server admin ...`: users, devices and stores, from the command line.
//!
//! Store documents are made the way phones make documents: the server keeps an admin
//! device of its own (a core `LocalStore` in the data folder, user `admin`) that edits
//! documents locally and pushes them through the same write path, rules and feed as any
//! phone. It pulls the district's documents before it reads them, so imports, reports and
//! reassignments work on the current state. Importing stores is [`import`]; the
//! compliance report is [`report`].

mod backup;
pub mod blobs;
pub mod damaged;
mod device;
pub mod import;
pub mod listing;
pub mod report;
mod store_row;

pub use device::{AdminDevice, Merge, pull_around, pull_into, push_from, push_through};

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use fieldsync_core::Role;

use crate::auth::{CODE_VALID_FOR_MS, hash_secret, new_code};
use crate::config::DataArgs;
use crate::error::{AppError, AppResult};
use crate::storage::{SyncStorage, User};
use crate::text::escape_controls;

/// The user and device id of the server's own admin device.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_DEVICE: &str = "server-admin";

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Stamp the admin device's edits with this time (RFC 3339, e.g.
    /// `2026-10-01T09:00:00+08:00`) instead of the clock: to record an import as of the day
    /// its data held. The server's clock rules still apply: no later than now, and no
    /// earlier than a change the edit builds on.
    #[arg(long, value_name = "RFC3339", value_parser = parse_edit_time)]
    pub edit_time: Option<fieldsync_core::Timestamp>,
    /// Who is running the command, for the audit trail (default: the OS user, or the one
    /// who ran `sudo`).
    #[arg(long, env = "FIELDSYNC_ACTOR")]
    pub actor: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Add a user: `add-user am-li account_manager "Li Wei"`.
    ///
    /// An account manager's id is the territory name that store rows refer to.
    AddUser {
        /// Letters, digits, `-`, `_` or `.`, at most 64 (`am-li`).
        id: String,
        /// One of `account_manager`, `market_team`, `supervisor`, `admin`.
        role: String,
        /// The person's name as the apps show it.
        name: String,
    },
    /// List users: id, role, name.
    Users {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List enrolled devices: id, user, name, enrolled, revoked, last seen (times in UTC).
    Devices {
        /// Only this user's devices.
        #[arg(long)]
        user: Option<String>,
        /// Only devices not revoked that have not synced for this long (`7d`, `12h`):
        /// lost phones, people who left. Never-synced devices count from their enrollment.
        #[arg(long, value_parser = listing::parse_age)]
        stale: Option<i64>,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Copy the SQLite database to a new file while the server runs (SQLite's online
    /// backup; consistent). See docs/operations.md "Backups" for restoring it.
    Backup {
        /// The new file (it must not exist).
        file: PathBuf,
    },
    /// The audit trail: every admin action that changed something (who, when, what).
    Audit {
        /// Only the actions of this last while (`30d`, `12h`); default: all.
        #[arg(long, value_parser = listing::parse_age)]
        since: Option<i64>,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make a one-time enrollment code for a user's new device (valid 7 days).
    ///
    /// The phone trades it for its token at `POST /v1/enroll`.
    EnrollCode {
        /// The user the device will belong to.
        user: String,
    },
    /// Make a one-time sign-in code for the supervision console (valid 24 hours), for a
    /// supervisor or an admin: they type it at `/console/sign-in`.
    ConsoleCode {
        /// The supervisor or admin who will sign in.
        user: String,
    },
    /// End a supervisor's or admin's console sessions and void their unused sign-in codes
    /// (a lost laptop, a leaked code): their next page asks them to sign in again.
    ConsoleRevoke {
        /// The user whose console access ends.
        user: String,
    },
    /// Revoke a device: its next request is refused. Find its id with `devices`.
    Revoke {
        /// The device id (`devices` lists them).
        device: String,
    },
    /// Import stores from a CSV file; bad rows are reported and skipped.
    #[command(long_about = import::HELP)]
    ImportStores {
        /// The CSV file (UTF-8, comma-separated, with the header line).
        file: PathBuf,
    },
    /// Move a store, with its history, to another account manager's territory.
    Reassign {
        /// The store's licence number or document id.
        store: String,
        /// The account manager (user id) who takes it over.
        territory: String,
    },
    /// Show the district's calendar of public holidays and make-up working days (调休), or
    /// install a new one (`calendar --install china-2027.txt`).
    ///
    /// The calendar is `calendar.txt` in the data folder; `admin report` judges R9's
    /// "3 working days" by it. Its form: `docs/calendars/china-2026.txt`.
    Calendar {
        /// Check this file and make it the data folder's calendar (every year in one file).
        #[arg(long)]
        install: Option<PathBuf>,
    },
    /// Write the compliance report (R1–R10), one row per account manager, as CSV.
    #[command(long_about = report::HELP)]
    Report {
        /// The month reported, `YYYY-MM`; default: the month of `--day`.
        #[arg(long, value_parser = report::parse_month)]
        month: Option<NaiveDate>,
        /// The day the weekly and daily rules (R1, R5, R7) are judged on, `YYYY-MM-DD`;
        /// default: today if it is in `--month`, else the last day of `--month`.
        #[arg(long)]
        day: Option<NaiveDate>,
        /// R9's minimum of visits per month to each store R1 covers.
        #[arg(long, default_value_t = fieldsync_core::DEFAULT_MIN_MONTHLY_VISITS)]
        min_visits: u32,
        /// Write the CSV to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Remove photo blobs that no document references, once older than the retention
    /// period (a referenced blob is never removed), and uploads abandoned part-way.
    BlobGc {
        /// Days an unreferenced blob is kept after it was stored.
        #[arg(long, default_value_t = 30)]
        retention_days: u32,
        /// Days a partial upload is kept after the last byte written to it; older ones are
        /// abandoned and removed (never one being written). A device resuming one starts
        /// again from byte 0.
        #[arg(long, default_value_t = blobs::DEFAULT_ABANDONED_DAYS)]
        abandoned_days: u32,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// List photo hashes used in visits of different stores or on different days (an old
    /// photo passed off as new), as CSV: hash, visit, store, day.
    PhotoReuse,
}

/// Runs an admin command against the data folder.
pub fn run(args: &AdminArgs) -> AppResult<()> {
    let data_dir = &args.data.data_dir;
    crate::data_dir::prepare(data_dir).map_err(|e| {
        AppError::Internal(format!(
            "cannot prepare the data folder `{}`: {e}",
            data_dir.display()
        ))
    })?;
    let storage = args.data.open_storage()?;
    let storage = storage.as_ref();
    let now = chrono::Utc::now().timestamp_millis();
    let clock: fieldsync_core::Clock = match args.edit_time {
        Some(at) => std::sync::Arc::new(move || at),
        None => std::sync::Arc::new(fieldsync_core::Timestamp::now),
    };
    let open_admin = || AdminDevice::open_with_clock(data_dir, storage, clock.clone());
    let actor = listing::actor(args.actor.as_deref());
    let record = |action: &str, subject: &str, detail: &str| {
        listing::record(storage, &actor, action, subject, detail, now)
    };
    match &args.command {
        AdminCommand::AddUser { id, role, name } => {
            let role = Role::parse(role)?;
            validate_user_id(id)?;
            crate::text::check_name("name", name).map_err(AppError::BadRequest)?;
            storage.add_user(
                &User {
                    id: id.clone(),
                    role,
                    name: name.clone(),
                },
                now,
            )?;
            record("add-user", id, &format!("role {role}, name {name}"))?;
            println!("added {role} `{id}` ({})", escape_controls(name));
        }
        AdminCommand::Users { json } => listing::print_users(&storage.users()?, *json)?,
        AdminCommand::Devices { user, stale, json } => {
            let devices = listing::select_devices(storage.devices()?, user.as_deref(), *stale, now);
            listing::print_devices(&devices, *json)?;
        }
        AdminCommand::Backup { file } => {
            if args.data.database.is_some() {
                return Err(AppError::BadRequest(
                    "`admin backup` copies the SQLite database; back PostgreSQL up with its own \
                     tools (`pg_dump -Fc`, see docs/operations.md)"
                        .into(),
                ));
            }
            let bytes = backup::backup(&args.data.sqlite_file(), file)?;
            record(
                "backup",
                &file.display().to_string(),
                &format!("{bytes} bytes"),
            )?;
            println!("backed up {bytes} bytes to `{}`", file.display());
        }
        AdminCommand::Audit { since, json } => {
            let since = since.map(|age| now - age).unwrap_or(i64::MIN);
            listing::print_audit(&storage.audit(since)?, *json)?;
        }
        AdminCommand::EnrollCode { user } => {
            let code = enrollment_code(storage, user, now)?;
            // The code itself is a secret: the trail says one was made, not which.
            record("enroll-code", user, "a one-time code, valid 7 days")?;
            println!("{code}");
        }
        AdminCommand::ConsoleCode { user } => {
            let code = crate::console::sign_in::issue_code(storage, user, now)?;
            record(
                "console-code",
                user,
                "a one-time console code, valid 24 hours",
            )?;
            println!("{code}");
        }
        AdminCommand::ConsoleRevoke { user } => {
            if storage.user(user)?.is_none() {
                return Err(AppError::NotFound(format!("no user `{user}`")));
            }
            let ended = storage.end_console_access(user, now)?;
            let what = format!(
                "{} console sessions ended, {} unused codes voided",
                ended.sessions, ended.codes
            );
            record("console-revoke", user, &what)?;
            println!("`{user}`: {what}");
        }
        AdminCommand::Revoke { device } => {
            if device == ADMIN_DEVICE {
                return Err(AppError::BadRequest(format!(
                    "`{ADMIN_DEVICE}` is the server's own admin device and is not revoked"
                )));
            }
            if !storage.revoke_device(device, now)? {
                return Err(AppError::NotFound(format!("no device `{device}`")));
            }
            record("revoke", device, "")?;
            println!("revoked `{device}`");
        }
        AdminCommand::ImportStores { file } => {
            let input = std::fs::File::open(file).map_err(|e| {
                AppError::BadRequest(format!("cannot read `{}`: {e}", file.display()))
            })?;
            let admin = open_admin()?;
            let report = import::import_stores(&admin, input)?;
            record(
                "import-stores",
                &file.display().to_string(),
                &format!(
                    "{} imported, {} bad line(s)",
                    report.imported,
                    report.bad_lines()
                ),
            )?;
            print!("{report}");
            print_notes(&damaged::damaged(&admin.local)?);
            if !report.bad.is_empty() {
                return Err(AppError::BadRequest(format!(
                    "{} row(s) of `{}` were refused (listed above); fix them and import the \
                     file again: rows imported already are left as they are",
                    report.bad_lines(),
                    file.display()
                )));
            }
        }
        AdminCommand::Reassign { store, territory } => {
            let admin = open_admin()?;
            let moved = admin.reassign(store, territory)?;
            record("reassign", store, &format!("to {territory}"))?;
            println!("{moved}");
            print_notes(&damaged::damaged(&admin.local)?);
        }
        AdminCommand::Calendar { install } => {
            let days = match install {
                Some(file) => {
                    let days = crate::calendar::install(data_dir, file)?;
                    record("calendar", &file.display().to_string(), "installed")?;
                    println!(
                        "installed `{}` as `{}`",
                        file.display(),
                        crate::calendar::path(data_dir).display()
                    );
                    days
                }
                None => crate::calendar::load(data_dir)?.working_days,
            };
            print!("{}", crate::calendar::describe(&days));
        }
        AdminCommand::BlobGc {
            retention_days,
            abandoned_days,
            dry_run,
        } => {
            let periods = blobs::Periods {
                retention_days: *retention_days,
                abandoned_days: *abandoned_days,
            };
            let done = blobs::collect(storage, data_dir, periods, now, *dry_run)?;
            let verb = if *dry_run { "would remove" } else { "removed" };
            println!(
                "{verb} {} blob(s), {} bytes; kept {} referenced and {} within {} day(s)",
                done.removed.len(),
                done.bytes_freed,
                done.kept_referenced,
                done.kept_recent,
                retention_days
            );
            println!(
                "{verb} {} abandoned upload(s), {} bytes; kept {} written to within {} day(s)",
                done.abandoned.len(),
                done.abandoned.iter().map(|(_, len)| len).sum::<u64>(),
                done.kept_uploading,
                abandoned_days
            );
            if !*dry_run {
                record(
                    "blob-gc",
                    "blobs",
                    &format!(
                        "removed {}, abandoned uploads {}",
                        done.removed.len(),
                        done.abandoned.len()
                    ),
                )?;
            }
        }
        AdminCommand::PhotoReuse => {
            let header = ["hash", "visit", "store", "day"];
            blobs::write_reuse(&blobs::reused(storage)?, &header, std::io::stdout())?;
        }
        AdminCommand::Report {
            month,
            day,
            min_visits,
            out,
        } => {
            let admin = open_admin()?;
            let options = report::ReportOptions::resolve(
                *month,
                *day,
                *min_visits,
                admin.local.calendar(),
                fieldsync_core::Timestamp(now),
            )?;
            let year = chrono::Datelike::year(&options.month);
            if !admin.local.calendar().working_days.knows_year(year) {
                eprintln!(
                    "warning: `{}` has no holidays for {year}: R9's working days are counted \
                     Monday to Friday (see `admin calendar`)",
                    crate::calendar::path(data_dir).display()
                );
            }
            admin.pull()?;
            let (rows, unreadable) = report::compliance_report_naming(&admin, &options)?;
            let reused = blobs::reused(storage)?;
            if !unreadable.is_empty() {
                eprintln!(
                    "{} document(s) cannot be read and are left out of the figures: named after \
                     the rows",
                    unreadable.len()
                );
            }
            match out {
                Some(path) => {
                    let file = std::fs::File::create(path).map_err(|e| {
                        AppError::BadRequest(format!("cannot write `{}`: {e}", path.display()))
                    })?;
                    report::write_report(&rows, &unreadable, &reused, &options, &file)?;
                    eprintln!(
                        "wrote {} account manager(s) for {} as of {} to `{}`",
                        rows.len(),
                        options.month.format("%Y-%m"),
                        options.day,
                        path.display()
                    );
                }
                None => {
                    let stdout = std::io::stdout().lock();
                    report::write_report(&rows, &unreadable, &reused, &options, stdout)?;
                }
            }
        }
    }
    Ok(())
}

/// Names, after what a command did, the documents it left out because they cannot be read.
fn print_notes(unreadable: &[damaged::Unreadable]) {
    for line in damaged::notes(unreadable) {
        println!("note: {line}");
    }
}

/// A one-time code for `user`, stored as a hash.
pub fn enrollment_code(storage: &dyn SyncStorage, user: &str, now: i64) -> AppResult<String> {
    let code = new_code();
    storage.add_enrollment_code(user, &hash_secret(&code), now, now + CODE_VALID_FOR_MS)?;
    Ok(code)
}

fn parse_edit_time(text: &str) -> Result<fieldsync_core::Timestamp, String> {
    fieldsync_core::Timestamp::parse("edit-time", text).map_err(|e| e.to_string())
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
