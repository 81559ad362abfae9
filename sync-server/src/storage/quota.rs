//! Quotas on what devices store: how large a document may grow, and how many bytes of
//! changes one device may store per UTC day (docs/operations.md, "Quotas").
//!
//! Both count the bytes of the changes a push newly stores, as stored: changes the server
//! holds already (a retried push) cost nothing. A push refused by the write rules or for a
//! document's size stores nothing, but its bytes count against the device's day all the
//! same (`SyncStorage::charge_refused`): judging costs the server as much as storing, and a
//! device whose day is spent is refused before anything of its push is read or judged
//! ([`check_budget_left`]). [`push::run`](super::push::run) checks them inside the push's
//! transaction, against the document's stored size and the device's bytes of the day as
//! that transaction reads them, so two pushes cannot both pass on the same headroom.

use fieldsync_core::protocol::Rejection;

use crate::error::{AppError, AppResult, QuotaExceeded};

/// The name of the per-document limit, as the refusal and the configuration give it.
pub const DOCUMENT_LIMIT: &str = "max_document_bytes";
/// The name of the per-device daily budget, as the refusal and the configuration give it.
pub const DAILY_LIMIT: &str = "device_bytes_per_day";

const DAY_MS: i64 = 86_400_000;

/// The limits a push is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Most bytes of changes one document may hold after a push.
    pub max_document_bytes: u64,
    /// Most bytes of changes one device may have stored per UTC day.
    pub device_bytes_per_day: u64,
}

impl Quotas {
    /// No limit: the server's own admin tools (a district's import is one device's push).
    pub const UNLIMITED: Quotas = Quotas {
        max_document_bytes: u64::MAX,
        device_bytes_per_day: u64::MAX,
    };
}

/// The UTC day a server time (milliseconds since 1970) falls in, counted from 1970-01-01.
pub fn day_of(now: i64) -> i64 {
    now.div_euclid(DAY_MS)
}

/// Whole seconds from `now` to the start of the next UTC day, rounded up (at least 1).
pub fn seconds_to_next_day(now: i64) -> u64 {
    let left_ms = (day_of(now) + 1) * DAY_MS - now;
    u64::try_from(left_ms.div_euclid(1_000) + i64::from(left_ms % 1_000 != 0))
        .unwrap_or(1)
        .max(1)
}

/// The rule code of a document refused for a quota (as core's kinds use it too).
pub const RULE: &str = "quota";

/// The rejection of `doc` if its changes would add up to `bytes` after the push, over the
/// limit; `None` within it.
pub fn document_over_limit(doc: &str, bytes: u64, quotas: &Quotas) -> Option<Rejection> {
    (bytes > quotas.max_document_bytes).then(|| Rejection {
        doc: doc.to_owned(),
        rule: RULE.into(),
        field: String::new(),
        message: format!(
            "the document would hold `{bytes}` bytes of changes, over `{DOCUMENT_LIMIT}` of `{}`",
            quotas.max_document_bytes
        ),
    })
}

/// Refuses a push of `pushing` bytes by a device that stored `used` bytes so far this UTC
/// day, if together they exceed its daily budget.
pub fn check_daily_budget(used: u64, pushing: u64, quotas: &Quotas, now: i64) -> AppResult<()> {
    let budget = quotas.device_bytes_per_day;
    if used.saturating_add(pushing) <= budget {
        return Ok(());
    }
    Err(over_the_day(budget, now, |retry_after| {
        format!(
            "this push would store `{pushing}` bytes after `{used}` today, over \
             `{DAILY_LIMIT}` of `{budget}`: try again after 00:00 UTC (in {retry_after} s)"
        )
    }))
}

/// Refuses a push before anything of it is read when the device has spent its day's
/// budget (`used` bytes stored or refused since 00:00 UTC).
pub fn check_budget_left(used: u64, quotas: &Quotas, now: i64) -> AppResult<()> {
    let budget = quotas.device_bytes_per_day;
    if used < budget {
        return Ok(());
    }
    Err(over_the_day(budget, now, |retry_after| {
        format!(
            "this device has pushed `{used}` bytes today (refused pushes count too), its whole \
             `{DAILY_LIMIT}` of `{budget}`: try again after 00:00 UTC (in {retry_after} s)"
        )
    }))
}

/// The refusal for the daily budget of `budget` bytes, to be tried again after 00:00 UTC;
/// `message` is given the seconds until then.
fn over_the_day(budget: u64, now: i64, message: impl FnOnce(u64) -> String) -> AppError {
    let retry_after = seconds_to_next_day(now);
    AppError::Quota(QuotaExceeded {
        limit: DAILY_LIMIT,
        value: budget,
        message: message(retry_after),
        retry_after: Some(retry_after),
        rejected: Vec::new(),
    })
}

/// The refusal of a push some of whose documents would outgrow `max_document_bytes`:
/// `rejected` lists every refused document (those over the limit, and any other).
pub fn documents_over_limit(rejected: Vec<Rejection>, quotas: &Quotas) -> AppError {
    let message = rejected
        .iter()
        .find(|r| r.rule == RULE)
        .or(rejected.first())
        .map(|r| format!("`{}` broke `{}`: {}", r.doc, r.rule, r.message))
        .unwrap_or_default();
    AppError::Quota(QuotaExceeded {
        limit: DOCUMENT_LIMIT,
        value: quotas.max_document_bytes,
        message,
        retry_after: None,
        rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_for_the_next_day_runs_to_midnight_utc_and_is_never_zero() {
        let midnight = 20_000 * DAY_MS;
        assert_eq!(day_of(midnight), 20_000);
        assert_eq!(day_of(midnight - 1), 19_999);
        assert_eq!(seconds_to_next_day(midnight), 86_400);
        assert_eq!(seconds_to_next_day(midnight - 1), 1);
        assert_eq!(seconds_to_next_day(midnight - 1_500), 2);
        assert_eq!(seconds_to_next_day(midnight + 3_600_000), 82_800);
    }

    #[test]
    fn a_budget_may_be_filled_to_the_byte_but_not_beyond() {
        let quotas = Quotas {
            max_document_bytes: 10,
            device_bytes_per_day: 100,
        };
        assert!(check_daily_budget(60, 40, &quotas, 0).is_ok());
        let Err(AppError::Quota(refused)) = check_daily_budget(60, 41, &quotas, 0) else {
            panic!("one byte over the budget is refused");
        };
        assert_eq!((refused.limit, refused.value), (DAILY_LIMIT, 100));
        assert_eq!(refused.retry_after, Some(86_400));
        assert!(document_over_limit("d", 10, &quotas).is_none());
        let over = document_over_limit("d", 11, &quotas).expect("one byte over");
        assert_eq!((over.rule.as_str(), over.field.as_str()), (RULE, ""));
        assert!(
            over.message.contains("`max_document_bytes` of `10`"),
            "{}",
            over.message
        );
    }
}
