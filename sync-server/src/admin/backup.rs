//! `admin backup FILE`: an online copy of the SQLite database, consistent while the server
//! writes (SQLite's backup API, a few hundred pages at a time so that the writer waits
//! only briefly), to a new owner-only file. PostgreSQL has its own tools (`pg_dump`).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{AppError, AppResult};

/// Pages copied per step, and the pause between steps that lets the server's writer in.
const PAGES_PER_STEP: std::os::raw::c_int = 512;
const PAUSE: Duration = Duration::from_millis(5);

/// Copies the database at `source` to `target`, which must not exist yet; returns the
/// bytes written.
pub fn backup(source: &Path, target: &Path) -> AppResult<u64> {
    if target.exists() {
        return Err(AppError::BadRequest(format!(
            "`{}` exists already: back up to a new file",
            target.display()
        )));
    }
    if !source.is_file() {
        return Err(AppError::NotFound(format!(
            "there is no database at `{}`",
            source.display()
        )));
    }
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(Duration::from_secs(30))?;
    let mut to = Connection::open(target)?;
    {
        let copy = rusqlite::backup::Backup::new(&from, &mut to)?;
        copy.run_to_completion(PAGES_PER_STEP, PAUSE, None)?;
    }
    // The copy is a plain database file (no WAL to carry along), checked before it counts.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    let check: String = to.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(AppError::Internal(format!(
            "the copy at `{}` does not check out: {check}",
            target.display()
        )));
    }
    drop(to);
    Ok(std::fs::metadata(target).map(|m| m.len()).unwrap_or(0))
}
