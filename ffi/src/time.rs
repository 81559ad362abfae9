//! Instants, days and months as they cross the boundary, and their checks.
//!
//! Each is a uniffi custom type, so the generated Kotlin carries the `java.time` type an app
//! computes with (`ffi/uniffi.toml` maps them): [`Instant`] is `java.time.Instant`,
//! [`LocalDate`] is `java.time.LocalDate`, [`YearMonth`] is `java.time.YearMonth`. Under
//! them, and in the languages without a mapping (Swift, Python), an instant is milliseconds
//! since the Unix epoch, a day `YYYY-MM-DD` text and a month `YYYY-MM` text.
//!
//! Lifting one never fails: what Kotlin sends is kept as sent, and the call that uses it
//! checks it with the name of its field ([`Instant::timestamp`], [`LocalDate::date`],
//! [`YearMonth::month`]), so a day out of range is `FieldError::InvalidInput` naming `day`
//! rather than a failed conversion naming nothing. Instants keep milliseconds (the core's
//! resolution); Kotlin drops what is finer.

use chrono::{DateTime, Datelike, NaiveDate};
use fieldsync_core::Timestamp;

use crate::error::FieldError;

/// The first and last year an instant, a day or a month given to fieldsync may fall in.
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// An instant, milliseconds since 1970-01-01T00:00:00Z. Kotlin: `java.time.Instant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);
uniffi::custom_newtype!(Instant, i64);

/// A day of the district's calendar, `YYYY-MM-DD`. Kotlin: `java.time.LocalDate`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate(pub String);
uniffi::custom_newtype!(LocalDate, String);

/// A month, `YYYY-MM`. Kotlin: `java.time.YearMonth`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth(pub String);
uniffi::custom_newtype!(YearMonth, String);

impl Instant {
    /// The core's timestamp, or `InvalidInput` for `field` when the instant is before the
    /// year 1 or after 9999 (a Kotlin instant past a `Long` of milliseconds arrives as the
    /// nearest `Long`, and is refused here too).
    pub(crate) fn timestamp(self, field: &str) -> Result<Timestamp, FieldError> {
        let in_range =
            DateTime::from_timestamp_millis(self.0).is_some_and(|t| YEARS.contains(&t.year()));
        if in_range {
            Ok(Timestamp(self.0))
        } else {
            Err(FieldError::InvalidInput {
                field: field.into(),
                reason: format!(
                    "{} is not an instant between the years {} and {}",
                    describe_millis(self.0),
                    YEARS.start(),
                    YEARS.end()
                ),
            })
        }
    }
}

/// An instant for a message: RFC 3339 when chrono can show it, else its milliseconds.
fn describe_millis(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => format!(
            "`{}`",
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        None => format!("`{ms}` ms from 1970"),
    }
}

impl From<Timestamp> for Instant {
    fn from(t: Timestamp) -> Self {
        Instant(t.millis())
    }
}

impl LocalDate {
    /// The day, or `InvalidInput` for `field` when it is malformed or outside the years
    /// 1 to 9999 (Kotlin writes `LocalDate.MAX` as `+999999999-12-31`).
    pub(crate) fn date(&self, field: &str) -> Result<NaiveDate, FieldError> {
        let text = &self.0;
        let refused = |reason: String| FieldError::InvalidInput {
            field: field.into(),
            reason,
        };
        let out_of_range = || {
            refused(format!(
                "`{text}` is not a day between `0001-01-01` and `9999-12-31`"
            ))
        };
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) if YEARS.contains(&date.year()) => Ok(date),
            Ok(_) => Err(out_of_range()),
            // chrono cannot hold every year java.time can (`LocalDate.MAX`).
            Err(_) if year_of(text).is_some_and(|y| !(1..=9999).contains(&y)) => {
                Err(out_of_range())
            }
            Err(_) => Err(refused(format!("`{text}` is not a day like `2026-11-23`"))),
        }
    }
}

/// The year of text shaped like a day (`+10000-01-01`), whatever its size.
fn year_of(text: &str) -> Option<i64> {
    let split = text.len().checked_sub(6)?;
    let (year, month_day) = (text.get(..split)?, text.get(split..)?);
    let b = month_day.as_bytes();
    let shaped =
        b[0] == b'-' && b[3] == b'-' && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit());
    if shaped { year.parse().ok() } else { None }
}

impl From<NaiveDate> for LocalDate {
    fn from(d: NaiveDate) -> Self {
        LocalDate(d.format("%Y-%m-%d").to_string())
    }
}

impl YearMonth {
    /// The month as the core keeps it (`YYYY-MM`), or `InvalidInput` for `field` when it is
    /// malformed or outside the years 1 to 9999.
    pub(crate) fn month(&self, field: &str) -> Result<String, FieldError> {
        let text = &self.0;
        let first_day = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d");
        match first_day {
            Ok(d) if !YEARS.contains(&d.year()) => Err(FieldError::InvalidInput {
                field: field.into(),
                reason: format!("`{text}` is not a month between `0001-01` and `9999-12`"),
            }),
            Ok(_) if text.len() == 7 => Ok(text.clone()),
            _ => Err(FieldError::InvalidInput {
                field: field.into(),
                reason: format!("`{text}` is not a month like `2026-11`"),
            }),
        }
    }
}

impl From<NaiveDate> for YearMonth {
    /// The month `day` falls in.
    fn from(day: NaiveDate) -> Self {
        YearMonth(day.format("%Y-%m").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_field(e: FieldError) -> String {
        match e {
            FieldError::InvalidInput { field, .. } => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn a_day_round_trips_as_text_and_one_past_the_year_9999_is_refused_by_its_field() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).expect("a day");
        assert_eq!(LocalDate::from(day).date("day"), Ok(day));
        let e = LocalDate("+999999999-12-31".into()).date("visit.day");
        let e = e.expect_err("out of range");
        assert!(
            e.to_string()
                .contains("between `0001-01-01` and `9999-12-31`"),
            "{e}"
        );
        assert_eq!(refused_field(e), "visit.day");
        let e = LocalDate("+10000-01-01".into())
            .date("day")
            .expect_err("out of range");
        assert!(e.to_string().contains("between"), "{e}");
        let e = LocalDate("2026-12-0五".into()).date("day");
        assert!(
            e.expect_err("not ascii")
                .to_string()
                .contains("not a day like")
        );
        let e = LocalDate("5 Dec".into()).date("day");
        assert!(
            e.expect_err("malformed")
                .to_string()
                .contains("not a day like")
        );
    }

    #[test]
    fn an_instant_past_the_year_9999_or_a_long_is_refused_by_its_field() {
        assert_eq!(
            Instant(1_764_900_000_000).timestamp("at"),
            Ok(Timestamp(1_764_900_000_000))
        );
        for ms in [i64::MAX, i64::MIN, 253_402_300_800_000] {
            let e = Instant(ms)
                .timestamp("check_in.at")
                .expect_err("out of range");
            assert!(e.to_string().contains("check_in.at"), "{e}");
        }
    }

    #[test]
    fn a_month_is_checked_like_a_day() {
        assert_eq!(
            YearMonth("2026-11".into()).month("month"),
            Ok("2026-11".into())
        );
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a day");
        assert_eq!(YearMonth::from(day).0, "2026-11");
        for bad in ["+10000-01", "2026-13", "2026-1"] {
            let e = YearMonth(bad.into()).month("month").expect_err(bad);
            assert_eq!(refused_field(e), "month", "{bad}");
        }
    }
}
