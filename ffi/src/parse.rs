//! Arguments as they cross the boundary (ids as text, days and instants as the custom types
//! of [`crate::time`]), turned into the core's types. A malformed one is `FieldError::InvalidInput` naming it.
//! Enums that mirror a core enum variant for variant convert both ways with
//! [`same_variants!`].

use chrono::NaiveDate;
use fieldsync_core::{DocId, LocalStore, Timestamp};

use crate::error::FieldError;
use crate::time::{Instant, LocalDate};

/// A document id given as text, checked and named by `field` in the error.
pub(crate) fn id(field: &str, text: &str) -> Result<DocId, FieldError> {
    Ok(DocId::parse(field, text)?)
}

/// A local day of the district's calendar for `field`; `None` is today on it.
pub(crate) fn day(
    store: &LocalStore,
    field: &str,
    day: Option<LocalDate>,
) -> Result<NaiveDate, FieldError> {
    match day {
        None => Ok(store.calendar().date(store.now()?)),
        Some(day) => day.date(field),
    }
}

/// An instant for `field`; `None` is the store's now (the clock edits are stamped with).
pub(crate) fn as_of(
    store: &LocalStore,
    field: &str,
    at: Option<Instant>,
) -> Result<Timestamp, FieldError> {
    match at {
        Some(at) => at.timestamp(field),
        None => Ok(store.now()?),
    }
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
