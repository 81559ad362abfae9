//! Arguments as they cross the boundary (ids and days as text, instants as milliseconds),
//! turned into the core's types. A malformed one is `FieldError::InvalidInput` naming it.
//! Enums that mirror a core enum variant for variant convert both ways with
//! [`same_variants!`].

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

/// An instant in milliseconds; `None` is the store's now (the clock edits are stamped with).
pub(crate) fn as_of(store: &LocalStore, millis: Option<i64>) -> Result<Timestamp, FieldError> {
    match millis {
        Some(ms) => Ok(Timestamp(ms)),
        None => Ok(store.now()?),
    }
}

/// Milliseconds since the Unix epoch, as a core timestamp.
pub(crate) fn at(millis: i64) -> Timestamp {
    Timestamp(millis)
}

/// `From` both ways between an ffi enum and the core enum with the same variant names.
macro_rules! same_variants {
    ($ffi:ident, $core:path, $($variant:ident),+ $(,)?) => {
        impl From<$ffi> for $core {
            fn from(v: $ffi) -> Self {
                match v { $($ffi::$variant => <$core>::$variant,)+ }
            }
        }
        impl From<$core> for $ffi {
            fn from(v: $core) -> Self {
                match v { $(<$core>::$variant => $ffi::$variant,)+ }
            }
        }
    };
}

pub(crate) use same_variants;
