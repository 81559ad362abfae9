//! `admin report` at district size, timed as the CLI runs it after opening its admin
//! device: the admin device's pull of what is new, the report's rule queries over the
//! whole district, the reused photos' section, the CSV (written to nowhere).

use std::path::Path;
use std::time::Instant;

use fieldsync_core::{DEFAULT_MIN_MONTHLY_VISITS, FieldCalendar, Timestamp};
use fieldsync_server::admin::report::{ReportOptions, compliance_report_naming, write_report};
use fieldsync_server::admin::{AdminDevice, blobs};
use fieldsync_server::storage::SyncStorage;

use super::seed::Fallible;

/// One run of the report.
#[derive(Debug, serde::Serialize)]
pub struct ReportRun {
    /// Documents the admin device pulled first.
    pub pulled: usize,
    pub pull_ms: f64,
    /// The rule queries, the reused photos and the CSV.
    pub report_ms: f64,
    /// Of which the rule queries (`compliance_report_naming`) ...
    pub rules_ms: f64,
    /// ... and the reused photos (`blobs::reused`: the server's table of photo uses).
    pub reused_ms: f64,
    /// Photos the district's history flags as reused (in another store or on another day).
    pub reused_photos: usize,
    pub total_ms: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct ReportTimes {
    pub month: String,
    pub rows: usize,
    /// The first report: the admin device held only what it made (the stores).
    pub first: ReportRun,
    /// The same report again, nothing new to pull.
    pub again: ReportRun,
}

impl std::fmt::Display for ReportTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let run = |r: &ReportRun| {
            format!(
                "{:.0} ms (pull of {} documents {:.0} ms, report {:.0} ms: rules {:.0} ms, {} reused photos {:.0} ms)",
                r.total_ms,
                r.pulled,
                r.pull_ms,
                r.report_ms,
                r.rules_ms,
                r.reused_photos,
                r.reused_ms
            )
        };
        write!(
            f,
            "admin report for {} ({} rows): first {}; again {}",
            self.month,
            self.rows,
            run(&self.first),
            run(&self.again)
        )
    }
}

fn once(admin: &AdminDevice<'_>, options: &ReportOptions) -> Fallible<(ReportRun, usize)> {
    let started = Instant::now();
    let pulled = admin.pull()?;
    let pull_ms = started.elapsed().as_secs_f64() * 1000.0;
    let reporting = Instant::now();
    let (rows, unreadable) = compliance_report_naming(admin, options)?;
    let rules_ms = reporting.elapsed().as_secs_f64() * 1000.0;
    let reusing = Instant::now();
    let reused = blobs::reused(admin.storage())?;
    let reused_ms = reusing.elapsed().as_secs_f64() * 1000.0;
    write_report(&rows, &unreadable, &reused, options, std::io::sink())?;
    let run = ReportRun {
        pulled,
        pull_ms,
        report_ms: reporting.elapsed().as_secs_f64() * 1000.0,
        rules_ms,
        reused_ms,
        reused_photos: reused.len(),
        total_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    Ok((run, rows.len()))
}

/// The report for the month before the one holding `day`, run twice with the admin
/// device of `data_dir`.
pub fn admin_report(
    storage: &dyn SyncStorage,
    data_dir: &Path,
    day: Timestamp,
) -> Fallible<ReportTimes> {
    let admin = AdminDevice::open(data_dir, storage)?;
    let calendar = admin.local.calendar().clone();
    let this_month = FieldCalendar::month_start(calendar.date(day));
    let month = FieldCalendar::month_start(this_month - chrono::Duration::days(1));
    let options = ReportOptions::resolve(
        Some(month),
        None,
        DEFAULT_MIN_MONTHLY_VISITS,
        &calendar,
        Timestamp::now(),
    )?;
    let (first, rows) = once(&admin, &options)?;
    let (again, _) = once(&admin, &options)?;
    Ok(ReportTimes {
        month: month.format("%Y-%m").to_string(),
        rows,
        first,
        again,
    })
}
