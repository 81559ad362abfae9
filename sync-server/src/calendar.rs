//! The district's calendar on the server: public holidays and make-up working days (调休)
//! in `calendar.txt` of the data folder, in the text form of [`WorkingDays`] (see
//! `docs/calendars/china-2026.txt`). The admin tools' device judges with it (R9's "refunded
//! within 3 working days" in `admin report`); without the file only Saturdays and Sundays
//! are days off. `admin calendar --install FILE` checks a file and puts it in place.

use std::path::{Path, PathBuf};

use fieldsync_core::{FieldCalendar, WorkingDays};

use crate::error::{AppError, AppResult};

/// The calendar's file name in the data folder.
pub const CALENDAR_FILE: &str = "calendar.txt";

/// Where the data folder keeps the calendar.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(CALENDAR_FILE)
}

/// The district's calendar: the default one (UTC+8, 08:30–17:30) with the working days of
/// `calendar.txt` when the data folder has it. A file with a mistake is refused, naming its
/// line, rather than silently judging by weekends alone.
pub fn load(data_dir: &Path) -> AppResult<FieldCalendar> {
    let file = path(data_dir);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(FieldCalendar::default());
        }
        Err(e) => {
            return Err(AppError::Internal(format!(
                "cannot read `{}`: {e}",
                file.display()
            )));
        }
    };
    let days = WorkingDays::parse(&text)
        .map_err(|e| AppError::BadRequest(format!("`{}`: {e}", file.display())))?;
    Ok(FieldCalendar::default().with_working_days(days))
}

/// Checks the calendar in `source` and makes it the data folder's (replacing the one there
/// in one rename, so a reader sees the old file or the new one). Returns what it holds.
pub fn install(data_dir: &Path, source: &Path) -> AppResult<WorkingDays> {
    let text = std::fs::read_to_string(source)
        .map_err(|e| AppError::BadRequest(format!("cannot read `{}`: {e}", source.display())))?;
    let days = WorkingDays::parse(&text)
        .map_err(|e| AppError::BadRequest(format!("`{}`: {e}", source.display())))?;
    let target = path(data_dir);
    let staging = data_dir.join(format!("{CALENDAR_FILE}.new"));
    let io =
        |e: std::io::Error| AppError::Internal(format!("cannot write `{}`: {e}", target.display()));
    std::fs::write(&staging, text.as_bytes()).map_err(io)?;
    std::fs::rename(&staging, &target).map_err(io)?;
    Ok(days)
}

/// One line per configured year: `2026: 33 holidays, 6 make-up working days`, or a line
/// saying none is configured.
pub fn describe(days: &WorkingDays) -> String {
    let years = days.years();
    if years.is_empty() {
        return "no holidays configured: Monday to Friday are working days\n".into();
    }
    years
        .into_iter()
        .map(|year| {
            let (holidays, workdays) = days.counts(year);
            format!("{year}: {holidays} holidays, {workdays} make-up working days\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHINA_2026: &str = include_str!("../../docs/calendars/china-2026.txt");

    #[test]
    fn an_installed_calendar_is_what_the_data_folder_loads() -> AppResult<()> {
        let dir = tempfile::tempdir().map_err(AppError::internal)?;
        assert_eq!(load(dir.path())?, FieldCalendar::default(), "no file yet");
        let source = dir.path().join("china-2026.txt");
        std::fs::write(&source, CHINA_2026).map_err(AppError::internal)?;
        let days = install(dir.path(), &source)?;
        assert_eq!(
            describe(&days),
            "2026: 33 holidays, 6 make-up working days\n"
        );
        assert_eq!(load(dir.path())?.working_days, days);
        Ok(())
    }

    #[test]
    fn a_calendar_with_a_mistake_is_not_installed() -> AppResult<()> {
        let dir = tempfile::tempdir().map_err(AppError::internal)?;
        let source = dir.path().join("bad.txt");
        std::fs::write(&source, "year 2026\nworkday 2026-02-16").map_err(AppError::internal)?;
        let err = install(dir.path(), &source).expect_err("a Monday is no make-up day");
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(!path(dir.path()).exists());
        Ok(())
    }
}
