//! Time as the field records it, and the district's calendar.
//!
//! Documents store instants as milliseconds since the Unix epoch (UTC) from the device's
//! clock. Rules are about local days, ISO weeks, months, working days and working hours, so
//! they go through a [`FieldCalendar`] that knows the district's UTC offset, working hours,
//! and its public holidays and make-up working days ([`WorkingDays`]).

pub(crate) mod working_days;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone};

use crate::error::{Error, Result};
use working_days::WorkingDays;

/// An instant: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The device's clock now.
    pub fn now() -> Self {
        Timestamp(chrono::Utc::now().timestamp_millis())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_hours(self, hours: i64) -> Self {
        Timestamp(self.0 + hours * 3_600_000)
    }

    /// Parses RFC 3339 (`2026-11-23T09:30:00+08:00`); handy in tests and imports.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|e| Error::invalid(field, format!("`{text}` is not an RFC 3339 time: {e}")))
    }
}

/// The district's calendar: its UTC offset (China: +08:00), working hours, and working days.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldCalendar {
    pub utc_offset: FixedOffset,
    pub work_starts: NaiveTime,
    pub work_ends: NaiveTime,
    /// Public holidays and make-up working days by year; none configured by default.
    pub working_days: WorkingDays,
}

impl Default for FieldCalendar {
    /// Decided: UTC+8, working hours 08:30–17:30, Monday to Friday until the district's
    /// holidays are configured ([`FieldCalendar::with_working_days`]).
    fn default() -> Self {
        FieldCalendar {
            utc_offset: FixedOffset::east_opt(8 * 3600)
                .unwrap_or(FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())),
            work_starts: NaiveTime::from_hms_opt(8, 30, 0).unwrap_or_default(),
            work_ends: NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default(),
            working_days: WorkingDays::default(),
        }
    }
}

impl FieldCalendar {
    /// This calendar with the holidays and make-up working days of `working_days`.
    pub fn with_working_days(self, working_days: WorkingDays) -> Self {
        FieldCalendar {
            working_days,
            ..self
        }
    }

    pub fn local(&self, t: Timestamp) -> DateTime<FixedOffset> {
        self.utc_offset
            .timestamp_millis_opt(t.0)
            .single()
            .unwrap_or_else(|| {
                // Out of chrono's range (±262,000 years): clamp instead of panicking.
                self.utc_offset
                    .timestamp_millis_opt(0)
                    .single()
                    .unwrap_or_default()
            })
    }

    /// The local calendar day of an instant.
    pub fn date(&self, t: Timestamp) -> NaiveDate {
        self.local(t).date_naive()
    }

    /// The first instant of a local day.
    pub fn start_of(&self, day: NaiveDate) -> Timestamp {
        let midnight = day.and_time(NaiveTime::MIN);
        Timestamp(
            (midnight - Duration::seconds(i64::from(self.utc_offset.local_minus_utc())))
                .and_utc()
                .timestamp_millis(),
        )
    }

    /// Monday of the ISO week holding `day`.
    pub fn week_start(day: NaiveDate) -> NaiveDate {
        day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
    }

    /// The first day of `day`'s month.
    pub fn month_start(day: NaiveDate) -> NaiveDate {
        day.with_day(1).unwrap_or(day)
    }

    /// The first day of the month after `day`'s.
    pub fn next_month_start(day: NaiveDate) -> NaiveDate {
        let first = Self::month_start(day);
        first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(first)
    }

    /// Whether people work on `day`: Monday to Friday less public holidays, plus make-up
    /// working days, as configured for its year.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        self.working_days.is_working_day(day)
    }

    /// Whether `t` falls inside working hours on a working day.
    pub fn in_working_hours(&self, t: Timestamp) -> bool {
        let local = self.local(t);
        let time = local.time();
        self.is_working_day(local.date_naive()) && time >= self.work_starts && time < self.work_ends
    }

    /// The end of the `n`th working day after the day of `t` (R9's "within 3 working days"):
    /// the deadline falls at local midnight closing that day. Holidays do not count and
    /// make-up Saturdays and Sundays do, as [`FieldCalendar::working_days`] says.
    pub fn after_working_days(&self, t: Timestamp, n: u32) -> Timestamp {
        let mut day = self.date(t);
        let mut left = n;
        // Bounded: a year of days off is more than any calendar holds; a calendar that
        // declared more would end the count there rather than loop.
        for _ in 0..(n as usize * 7 + 366) {
            if left == 0 {
                break;
            }
            day = day.succ_opt().unwrap_or(day);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        self.start_of(day.succ_opt().unwrap_or(day))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse("t", s).expect("valid time")
    }

    #[test]
    fn local_dates_follow_the_district_offset_not_utc() {
        let cal = FieldCalendar::default();
        // 23:30 UTC on Sunday is already Monday 07:30 in UTC+8.
        let t = ts("2026-11-22T23:30:00Z");
        assert_eq!(
            cal.date(t),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
        );
        assert_eq!(cal.start_of(cal.date(t)), ts("2026-11-23T00:00:00+08:00"));
    }

    #[test]
    fn working_hours_exclude_weekends_and_evenings() {
        let cal = FieldCalendar::default();
        assert!(cal.in_working_hours(ts("2026-11-23T08:30:00+08:00")));
        assert!(!cal.in_working_hours(ts("2026-11-23T17:30:00+08:00")));
        assert!(!cal.in_working_hours(ts("2026-11-22T10:00:00+08:00")));
    }

    #[test]
    fn three_working_days_from_a_friday_end_on_wednesday_night() {
        let cal = FieldCalendar::default();
        let friday = ts("2026-11-27T15:00:00+08:00");
        assert_eq!(
            cal.after_working_days(friday, 3),
            ts("2026-12-03T00:00:00+08:00")
        );
    }

    fn china_2026() -> FieldCalendar {
        let days = WorkingDays::parse(include_str!("../../docs/calendars/china-2026.txt"))
            .expect("the sample calendar reads");
        FieldCalendar::default().with_working_days(days)
    }

    #[test]
    fn three_working_days_across_the_spring_festival_skip_the_holiday_week_and_count_its_make_up_saturday()
     {
        // Friday 13 February 2026: Saturday 14 is worked (1), 15–23 are the holiday, then
        // Tuesday 24 (2) and Wednesday 25 (3): due at the end of Wednesday.
        let friday = ts("2026-02-13T10:00:00+08:00");
        assert_eq!(
            china_2026().after_working_days(friday, 3),
            ts("2026-02-26T00:00:00+08:00")
        );
        // Monday to Friday only, it would fall due in the middle of the holiday.
        assert_eq!(
            FieldCalendar::default().after_working_days(friday, 3),
            ts("2026-02-19T00:00:00+08:00")
        );
    }

    #[test]
    fn a_make_up_sunday_counts_as_a_working_day_and_a_holiday_has_no_working_hours() {
        let cal = china_2026();
        // Friday 18 September: Sunday 20 is worked before National Day.
        assert_eq!(
            cal.after_working_days(ts("2026-09-18T16:00:00+08:00"), 3),
            ts("2026-09-23T00:00:00+08:00")
        );
        assert!(!cal.in_working_hours(ts("2026-10-02T10:00:00+08:00")));
        assert!(cal.in_working_hours(ts("2026-10-10T10:00:00+08:00"))); // a Saturday
    }

    #[test]
    fn iso_weeks_start_on_monday_across_a_year_boundary() {
        // 2027-01-01 is a Friday; its ISO week starts on Monday 2026-12-28.
        let day = NaiveDate::from_ymd_opt(2027, 1, 1).expect("date");
        assert_eq!(
            FieldCalendar::week_start(day),
            NaiveDate::from_ymd_opt(2026, 12, 28).expect("date")
        );
    }
}
