//! `admin import-stores`: stores from a CSV file, made by the admin device.
//!
//! Every row is checked the way a phone's edit is: core's `create_store` validates it and
//! its error names the field, which is mapped back to the CSV column. A bad row is skipped
//! and reported with its line, column and reason; the good rows are imported, each with its
//! shelf display, and pushed through the normal write path. The admin device pulls first,
//! so a licence the district has already is found. Importing the same file again imports
//! nothing twice: see [`HELP`] for what happens to such rows.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;

use fieldsync_core::LocalStore;

use super::AdminDevice;
pub use super::store_row::{BadRow, COLUMNS, OPTIONAL_COLUMNS};
use super::store_row::{column_of, differences, header_positions, parse_row, value_columns};
use crate::error::{AppError, AppResult};

/// The `--help` text of `admin import-stores`.
pub const HELP: &str = "\
Import stores from a CSV file; bad rows are reported and skipped.

The file is UTF-8 (a byte-order mark is fine), comma-separated, with this header line
(columns in any order, every one present, names as written; `datum` optional):

  licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,
  demo_street,functional_terminal,rating,territory

  licence              licence number (许可证号), unique in the district; required
  name                 store name; required
  owner                owner's name; may be empty
  phone                5 to 20 digits, with + - ( ) and spaces allowed; may be empty
  address              may be empty
  lat, lng             degrees (30.2741, 120.1551), WGS-84 unless `datum` says otherwise
  format               业态: Z grocery, B convenience, S supermarket, N mall,
                       Y tobacco & liquor, F entertainment/service, Q other
  market               C urban (城镇) or X rural (乡村)
  size                 1 large, 2 medium, 3 small (Z with 3 is exempt from R1)
  tier                 value tier A, B or C
  monthly_volume       cartons (条) per month, a whole number, not negative
  demo_street          on the demo street (示范街): 1/0, yes/no, true/false, y/n; empty = no
  functional_terminal  a functional terminal (功能终端): same values as demo_street
  rating               functional terminals only: excellent, good, qualified,
                       unqualified; empty = not rated
  territory            the account manager (user id) whose territory holds the store

One column may be added:

  datum                the datum of lat, lng: wgs84 (a GPS reading) or gcj02 (picked on an
                       Amap/Gaode or Tencent map); empty, or no such column, is wgs84.
                       Geofence verdicts convert GCJ-02 to WGS-84 first.

Each bad row is reported with its line number, column and reason, and nothing of it is
written: a bad value, a licence that appears twice in the file (the first is imported), a
territory that is not an account manager. Good rows are imported, each with its shelf
display, and the command then exits with an error status if any row was bad.

A row whose licence the district has already is not imported again and is not an error:
it is listed as \"exists already\", with the columns in which it differs from the stored
store (those are not updated: use `admin reassign` to move a store). So importing the
same file twice, or again after fixing its bad rows, creates no duplicates.";

/// A row whose licence the district has already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExistingRow {
    pub line: u64,
    pub licence: String,
    /// Columns in which the row differs from the stored store (left as they are).
    pub differs: Vec<&'static str>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Stores created (each with its shelf display).
    pub imported: usize,
    /// Rows whose licence exists already, in file order.
    pub existing: Vec<ExistingRow>,
    /// Shelf displays created for stores that existed without one (an interrupted import).
    pub displays_added: usize,
    /// Refused rows, in file order; a row may appear once per bad column.
    pub bad: Vec<BadRow>,
}

impl ImportReport {
    /// How many rows were refused (a row with two bad columns counts once).
    pub fn bad_lines(&self) -> usize {
        self.bad
            .iter()
            .map(|b| b.line)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "imported {} store(s), each with its shelf display",
            self.imported
        )?;
        let same = self
            .existing
            .iter()
            .filter(|e| e.differs.is_empty())
            .count();
        writeln!(
            f,
            "exists already: {} row(s), left as they are ({} identical)",
            self.existing.len(),
            same
        )?;
        if self.displays_added > 0 {
            writeln!(
                f,
                "added {} missing shelf display(s) to existing stores",
                self.displays_added
            )?;
        }
        for e in self.existing.iter().filter(|e| !e.differs.is_empty()) {
            writeln!(
                f,
                "  line {}: licence `{}` exists already and differs in `{}` (not updated)",
                e.line,
                e.licence,
                e.differs.join("`, `")
            )?;
        }
        writeln!(f, "skipped {} bad row(s)", self.bad_lines())?;
        for b in &self.bad {
            match &b.column {
                Some(c) => writeln!(f, "  line {}, column `{c}`: {}", b.line, b.reason)?,
                None => writeln!(f, "  line {}: {}", b.line, b.reason)?,
            }
        }
        Ok(())
    }
}

/// Pulls, imports the stores of a CSV file through the admin device, and pushes them.
/// A header that lacks a column, repeats one or has an unknown one refuses the whole file.
pub fn import_stores(admin: &AdminDevice<'_>, input: impl Read) -> AppResult<ImportReport> {
    let started = std::time::Instant::now();
    admin.pull()?;
    let pulled = started.elapsed();
    let territories = admin.territories()?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let positions = header_positions(reader.byte_headers().map_err(csv_error)?)?;
    let mut report = ImportReport::default();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for record in reader.byte_records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != positions.len() {
            report.bad.push(BadRow {
                line,
                column: None,
                reason: format!(
                    "has {} fields; the header has {}",
                    record.len(),
                    positions.len()
                ),
            });
            continue;
        }
        let mut values = Vec::with_capacity(positions.len());
        let mut not_text = Vec::new();
        for name in value_columns() {
            let bytes = positions
                .get(name)
                .and_then(|i| record.get(*i))
                .unwrap_or_default();
            match std::str::from_utf8(bytes) {
                Ok(v) => values.push(v),
                Err(_) => {
                    values.push("");
                    not_text.push(BadRow {
                        line,
                        column: Some(name.to_owned()),
                        reason: "is not UTF-8 text: save the file as UTF-8 CSV".into(),
                    });
                }
            }
        }
        if !not_text.is_empty() {
            report.bad.extend(not_text);
            continue;
        }
        let new = match parse_row(&values, line) {
            Ok(new) => new,
            Err(errors) => {
                report.bad.extend(errors);
                continue;
            }
        };
        if let Some(first) = first_line.get(&new.licence) {
            report.bad.push(BadRow {
                line,
                column: Some("licence".into()),
                reason: format!("licence `{}` is on line {first} already", new.licence),
            });
            continue;
        }
        first_line.insert(new.licence.clone(), line);
        if let Some(id) = admin.local.store_by_licence(&new.licence)? {
            let stored = admin.local.store(&id)?;
            if add_missing_display(&admin.local, &id)? {
                report.displays_added += 1;
            }
            report.existing.push(ExistingRow {
                line,
                licence: new.licence.clone(),
                differs: differences(&stored, &new),
            });
            continue;
        }
        if !territories.contains(&new.territory) {
            report.bad.push(BadRow {
                line,
                column: Some("territory".into()),
                reason: format!("`{}` is not an account manager", new.territory),
            });
            continue;
        }
        match admin.local.create_store(new) {
            Ok(id) => {
                admin.local.create_shelf_display(&id)?;
                report.imported += 1;
            }
            Err(fieldsync_core::Error::InvalidField { field, reason }) => {
                report.bad.push(BadRow {
                    line,
                    column: Some(column_of(&field).to_owned()),
                    reason,
                });
            }
            Err(other) => return Err(other.into()),
        }
    }
    let created = started.elapsed();
    let pushed = admin.push()?;
    tracing::info!(
        imported = report.imported,
        existing = report.existing.len(),
        bad = report.bad_lines(),
        pushed,
        pull_ms = pulled.as_millis() as u64,
        create_ms = (created - pulled).as_millis() as u64,
        push_ms = (started.elapsed() - created).as_millis() as u64,
        "imported stores"
    );
    Ok(report)
}

fn csv_error(e: csv::Error) -> AppError {
    let line = e.position().map(csv::Position::line);
    match (e.kind(), line) {
        (csv::ErrorKind::Io(_), _) => AppError::BadRequest(format!("cannot read the file: {e}")),
        (_, Some(line)) => AppError::BadRequest(format!("line {line}: {e}")),
        _ => AppError::BadRequest(format!("not a CSV file: {e}")),
    }
}

/// Creates a store's shelf display when the admin device does not have it (an import
/// stopped between the two); returns whether it did.
fn add_missing_display(local: &LocalStore, store: &fieldsync_core::DocId) -> AppResult<bool> {
    match local.kind_of(&LocalStore::shelf_display_id(store)) {
        // A damaged display is there, only unreadable: the command names it afterwards.
        Ok(_) | Err(fieldsync_core::Error::Damaged { .. }) => return Ok(false),
        Err(_) => {}
    }
    local.create_shelf_display(store)?;
    Ok(true)
}
