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
mod command;
pub mod damaged;
mod device;
pub mod import;
pub mod listing;
pub mod report;
mod store_row;

pub use command::{AdminArgs, AdminCommand};
pub use device::{AdminDevice, Merge, pull_around, pull_into, push_from, push_through};

use fieldsync_core::Role;

use crate::auth::{CODE_VALID_FOR_MS, hash_secret, new_code};
use crate::error::{AppError, AppResult};
use crate::storage::{SyncStorage, User};
use crate::text::escape_controls;

/// The user and device id of the server's own admin device.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_DEVICE: &str = "server-admin";

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
