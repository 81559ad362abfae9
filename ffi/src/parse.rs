//! Arguments as they cross the boundary (ids and days as text, instants as milliseconds),
//! turned into the core's types. A malformed one is `FieldError::InvalidInput` naming it.

use chrono::NaiveDate;
use fieldsync_core::{DocId, LocalStore, Timestamp};

use crate::error::FieldError;

/// A document id given as text, checked and named by `field` in the error.
pub(crate) fn id(field: &str, text: &str) -> Result<DocId, FieldError> {
    Ok(DocId::parse(field, text)?)
}

/// A local day `YYYY-MM-DD` of the district's calendar; `None` is today on it.
pub(crate) fn day(store: &LocalStore, text: Option<String>) -> Result<NaiveDate, FieldError> {
    match text {
        None => Ok(store.calendar().date(store.now()?)),
        Some(text) => {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| FieldError::InvalidInput {
                field: "day".into(),
                reason: format!("`{text}` is not a day like `2026-11-23`"),
            })
        }
    }
}

/// Milliseconds since the Unix epoch, as a core timestamp.
pub(crate) fn at(millis: i64) -> Timestamp {
    Timestamp(millis)
}
