//! The admin command line as clap reads it: the options every admin command takes
//! ([`AdminArgs`]) and each command with its own arguments and help ([`AdminCommand`]).
//! Running them is `admin.rs`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::{blobs, import, listing, report};
use crate::config::DataArgs;

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

fn parse_edit_time(text: &str) -> Result<fieldsync_core::Timestamp, String> {
    fieldsync_core::Timestamp::parse("edit-time", text).map_err(|e| e.to_string())
}
