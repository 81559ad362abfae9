//! The district's working days: Monday to Friday, less the public holidays, plus the
//! make-up working days (调休: a Saturday or Sunday worked to lengthen a holiday), year by
//! year as the State Council publishes them (each November for the next year).
//!
//! Configured as text, the same on the phone ([`crate::StoreOptions`]) and on the server
//! (`calendar.txt` in its data folder), one section per year:
//!
//! ```text
//! # comments and blank lines are skipped
//! year 2026
//! holiday 2026-02-15..2026-02-23  春节 Spring Festival
//! workday 2026-02-14              春节调休
//! ```
//!
//! `holiday` takes a day or an inclusive range of at most 31 days, `workday` a Saturday or
//! Sunday; every day must lie in its section's year and be named once. A year with no
//! section counts Monday to Friday as working days ([`WorkingDays::knows_year`] tells).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};

use crate::error::{Error, Result};

/// Longest `holiday` range one line may give, in days.
const MAX_RANGE_DAYS: i64 = 31;

/// Public holidays and make-up working days, by year. `Default` knows no year.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkingDays {
    years: BTreeMap<i32, Year>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Year {
    /// Each holiday with its name (may be empty).
    holidays: BTreeMap<NaiveDate, String>,
    /// Each make-up working day (a Saturday or Sunday) with its name.
    workdays: BTreeMap<NaiveDate, String>,
}

/// How a day is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// Monday to Friday, not a holiday.
    Working,
    /// A Saturday or Sunday that is not a make-up working day.
    Weekend,
    /// A public holiday of a configured year.
    Holiday,
    /// A Saturday or Sunday worked instead of a holiday day (调休).
    MakeUpWorking,
}

impl WorkingDays {
    /// Reads the text form (see the module). Refuses, naming the line, an unknown keyword,
    /// a date that does not parse or lies outside its section's year, a range longer than
    /// 31 days or backwards, a make-up day that is not a Saturday or Sunday, a day given
    /// twice, and a year given twice.
    pub fn parse(text: &str) -> Result<WorkingDays> {
        let mut days = WorkingDays::default();
        let mut current: Option<i32> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad =
                |reason: String| Error::invalid("calendar", format!("line {}: {reason}", n + 1));
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            let (value, name) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let name = name.trim().to_owned();
            match keyword {
                "year" => {
                    let year: i32 = value
                        .parse()
                        .ok()
                        .filter(|y| (1970..=9999).contains(y))
                        .ok_or_else(|| bad(format!("`{value}` is not a year")))?;
                    if days.years.contains_key(&year) {
                        return Err(bad(format!("year `{year}` is given twice")));
                    }
                    days.years.insert(year, Year::default());
                    current = Some(year);
                }
                "holiday" | "workday" => {
                    let Some(year) = current else {
                        return Err(bad("a `year` line must come first".into()));
                    };
                    let (from, to) = parse_range(value).map_err(bad)?;
                    if from.year() != year || to.year() != year {
                        return Err(bad(format!("`{value}` is not in year `{year}`")));
                    }
                    let entry = days.years.entry(year).or_default();
                    let mut day = from;
                    // Bounded: parse_range allows at most MAX_RANGE_DAYS days.
                    for _ in 0..MAX_RANGE_DAYS {
                        entry.add(keyword, day, &name).map_err(bad)?;
                        match day.succ_opt() {
                            Some(next) if next <= to => day = next,
                            _ => break,
                        }
                    }
                }
                other => {
                    return Err(bad(format!(
                        "unknown keyword `{other}` (expected `year`, `holiday` or `workday`)"
                    )));
                }
            }
        }
        Ok(days)
    }

    /// The text form, one day per line, years in order: [`WorkingDays::parse`] reads it
    /// back to an equal value.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (year, days) in &self.years {
            out.push_str(&format!("year {year}\n"));
            let lines = days
                .holidays
                .iter()
                .map(|d| ("holiday", d))
                .chain(days.workdays.iter().map(|d| ("workday", d)));
            for (keyword, (day, name)) in lines {
                let line = format!("{keyword} {day} {name}");
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        out
    }

    /// The years configured, in order.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// Whether `year` has a section: without one, only weekends are days off.
    pub fn knows_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The number of holidays and of make-up working days of `year`.
    pub fn counts(&self, year: i32) -> (usize, usize) {
        self.years
            .get(&year)
            .map_or((0, 0), |y| (y.holidays.len(), y.workdays.len()))
    }

    /// How `day` is counted.
    pub fn kind(&self, day: NaiveDate) -> DayKind {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let year = self.years.get(&day.year());
        if year.is_some_and(|y| y.holidays.contains_key(&day)) {
            DayKind::Holiday
        } else if year.is_some_and(|y| y.workdays.contains_key(&day)) {
            DayKind::MakeUpWorking
        } else if weekend {
            DayKind::Weekend
        } else {
            DayKind::Working
        }
    }

    /// Whether people work on `day`.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        matches!(self.kind(day), DayKind::Working | DayKind::MakeUpWorking)
    }
}

impl Year {
    fn add(
        &mut self,
        keyword: &str,
        day: NaiveDate,
        name: &str,
    ) -> std::result::Result<(), String> {
        if self.holidays.contains_key(&day) || self.workdays.contains_key(&day) {
            return Err(format!("`{day}` is given twice"));
        }
        if keyword == "workday" {
            if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(format!(
                    "`{day}` is a {}: a make-up working day is a Saturday or Sunday",
                    day.weekday()
                ));
            }
            self.workdays.insert(day, name.to_owned());
        } else {
            self.holidays.insert(day, name.to_owned());
        }
        Ok(())
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD` (inclusive, at most 31 days, not backwards).
fn parse_range(text: &str) -> std::result::Result<(NaiveDate, NaiveDate), String> {
    let date = |t: &str| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| format!("`{t}` is not a date written YYYY-MM-DD"))
    };
    let (from, to) = match text.split_once("..") {
        Some((a, b)) => (date(a)?, date(b)?),
        None => (date(text)?, date(text)?),
    };
    let days = (to - from).num_days() + 1;
    if !(1..=MAX_RANGE_DAYS).contains(&days) {
        return Err(format!(
            "`{text}` must run forwards over at most {MAX_RANGE_DAYS} days"
        ));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_2026_china_calendar_counts_its_holidays_and_make_up_weekends() -> Result<()> {
        let days = WorkingDays::parse(include_str!("../../../docs/calendars/china-2026.txt"))?;
        assert_eq!(days.years(), vec![2026]);
        // 元旦 3, 春节 9, 清明 3, 劳动节 5, 端午 3, 中秋 3, 国庆 7; 6 make-up days.
        assert_eq!(days.counts(2026), (33, 6));
        assert_eq!(days.kind(d("2026-02-16")), DayKind::Holiday); // a Monday
        assert_eq!(days.kind(d("2026-02-14")), DayKind::MakeUpWorking); // a Saturday
        assert_eq!(days.kind(d("2026-09-20")), DayKind::MakeUpWorking); // a Sunday
        assert_eq!(days.kind(d("2026-02-21")), DayKind::Holiday); // a Saturday in the week
        assert_eq!(days.kind(d("2026-03-07")), DayKind::Weekend);
        assert_eq!(days.kind(d("2026-02-24")), DayKind::Working);
        assert!(!days.knows_year(2027));
        assert!(
            days.is_working_day(d("2027-02-08")),
            "2027 unknown: Mon–Fri"
        );
        assert_eq!(WorkingDays::parse(&days.to_text())?, days);
        Ok(())
    }

    #[test]
    fn a_calendar_with_a_mistake_is_refused_naming_its_line() {
        for (text, line) in [
            ("holiday 2026-01-01", "line 1"),
            ("year 2026\nworkday 2026-02-16", "line 2"),
            ("year 2026\n\nholiday 2027-01-01", "line 3"),
            ("year 2026\nholiday 2026-02-23..2026-02-15", "line 2"),
            ("year 2026\nholiday 2026-01-01..2026-03-01", "line 2"),
            (
                "year 2026\nholiday 2026-01-01\nworkday 2026-01-01",
                "line 3",
            ),
            ("year 2026\nyear 2026", "line 2"),
            ("year 2026\nvacation 2026-01-01", "line 2"),
            ("year 2026\nholiday 2026-13-01", "line 2"),
        ] {
            let err = WorkingDays::parse(text).expect_err(text);
            assert!(
                matches!(&err, Error::InvalidField { field, reason } if field == "calendar" && reason.starts_with(line)),
                "{text}: {err}"
            );
        }
    }
}
