//! [`FieldStore`]: the device's local store, opened at a path with the device's identity.
//!
//! The document operations and rule queries are methods of this object, one file per kind of
//! document (`visit.rs`, `shelf_display.rs`, ...). They are blocking calls for a background
//! thread. Every write goes through [`FieldStore::write`], which tells the listeners.

use std::sync::Arc;

use fieldsync_core::{DeviceIdentity, FieldCalendar, LocalStore, StoreOptions, WorkingDays};

use crate::changes::{DocumentsListener, Listeners, Subscription};
use crate::error::FieldError;
use crate::time::{Instant, LocalDate};

/// The device's local database of field documents. Close it (Kotlin `close()`, `use {}`)
/// before opening the same path again: one opening per file.
#[derive(Debug, uniffi::Object)]
pub struct FieldStore {
    pub(crate) core: Arc<LocalStore>,
    pub(crate) listeners: Arc<Listeners>,
}

#[uniffi::export]
impl FieldStore {
    /// Opens (creating if needed) the store at `path` for `user_id` on `device_id` (both from
    /// enrollment). Every edit made through it is stamped with `user_id`.
    ///
    /// Working days are Monday to Friday: open with `open_with_calendar` to count the
    /// district's public holidays and make-up working days (R9's "3 working days").
    #[uniffi::constructor]
    pub fn open(path: String, user_id: String, device_id: String) -> Result<Arc<Self>, FieldError> {
        Self::open_with(path, user_id, device_id, FieldCalendar::default())
    }

    /// As `open`, with the district's calendar of public holidays and make-up working days
    /// (调休) in its text form, one section per year (see `docs/android.md`). A mistake is
    /// `InvalidInput` for `calendar`, naming the line. Reopen the store to apply a new one.
    #[uniffi::constructor]
    pub fn open_with_calendar(
        path: String,
        user_id: String,
        device_id: String,
        calendar: String,
    ) -> Result<Arc<Self>, FieldError> {
        let days = WorkingDays::parse(&calendar)?;
        Self::open_with(
            path,
            user_id,
            device_id,
            FieldCalendar::default().with_working_days(days),
        )
    }

    /// The years the store's calendar has public holidays for; in other years only
    /// Saturdays and Sundays are days off.
    pub fn calendar_years(&self) -> Vec<i32> {
        self.core.calendar().working_days.years()
    }

    /// Whether `day` (null: today) is a working day on the store's calendar.
    pub fn is_working_day(&self, day: Option<LocalDate>) -> Result<bool, FieldError> {
        let day = crate::parse::day(&self.core, "day", day)?;
        Ok(self.core.calendar().is_working_day(day))
    }

    /// The user every edit is stamped with.
    pub fn user_id(&self) -> String {
        self.core.identity().user_id.clone()
    }

    /// Today on the district's calendar.
    pub fn today(&self) -> Result<LocalDate, FieldError> {
        let now = self.core.now()?;
        Ok(self.core.calendar().date(now).into())
    }

    /// **For tests only, never in production:** fixes the store's clock at `at`, the instant edits are stamped with and "today" of every rule query,
    /// so a test through the bindings can play a month of days; null returns to the
    /// device's clock. An app that set it would stamp wrong times on real records.
    pub fn set_clock_for_tests(&self, at: Option<Instant>) -> Result<(), FieldError> {
        let clock: fieldsync_core::Clock = match at {
            Some(at) => {
                let at = at.timestamp("at")?;
                Arc::new(move || at)
            }
            None => Arc::new(fieldsync_core::Timestamp::now),
        };
        Ok(self.core.set_clock(clock)?)
    }

    /// Calls `listener` after every change to documents until the returned subscription is
    /// dropped or cancelled.
    pub fn subscribe(&self, listener: Box<dyn DocumentsListener>) -> Arc<Subscription> {
        Arc::new(self.listeners.add(listener))
    }
}

impl FieldStore {
    fn open_with(
        path: String,
        user_id: String,
        device_id: String,
        calendar: FieldCalendar,
    ) -> Result<Arc<Self>, FieldError> {
        let core = LocalStore::open(
            path,
            DeviceIdentity::new(user_id, device_id),
            StoreOptions {
                calendar,
                ..StoreOptions::default()
            },
        )?;
        Ok(Arc::new(FieldStore {
            core: Arc::new(core),
            listeners: Arc::new(Listeners::default()),
        }))
    }

    /// Runs a write and, when it succeeded, tells the listeners which documents it touched.
    pub(crate) fn write<T>(
        &self,
        ids: &[&str],
        edit: impl FnOnce(&LocalStore) -> fieldsync_core::Result<T>,
    ) -> Result<T, FieldError> {
        let out = edit(&self.core)?;
        self.listeners.changed(ids);
        Ok(out)
    }

    /// Like [`FieldStore::write`] for a write that creates a document and returns its id.
    pub(crate) fn create(
        &self,
        edit: impl FnOnce(&LocalStore) -> fieldsync_core::Result<fieldsync_core::DocId>,
    ) -> Result<String, FieldError> {
        let id = edit(&self.core)?.to_string();
        self.listeners.changed(&[&id]);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHINA_2026: &str = include_str!("../../docs/calendars/china-2026.txt");

    #[test]
    fn a_store_opened_with_the_districts_calendar_skips_its_holidays() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.db").display().to_string();
        let store = FieldStore::open_with_calendar(
            path.clone(),
            "am-li".into(),
            "am-li-phone".into(),
            CHINA_2026.into(),
        )
        .expect("open");
        assert_eq!(store.calendar_years(), vec![2026]);
        let monday_in_spring_festival = Some(crate::time::LocalDate("2026-02-16".into()));
        let make_up_saturday = Some(crate::time::LocalDate("2026-02-14".into()));
        assert_eq!(store.is_working_day(monday_in_spring_festival), Ok(false));
        assert_eq!(store.is_working_day(make_up_saturday), Ok(true));
    }

    #[test]
    fn a_calendar_with_a_mistake_is_invalid_input_naming_the_calendar_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.db").display().to_string();
        let opened = FieldStore::open_with_calendar(
            path,
            "am-li".into(),
            "am-li-phone".into(),
            "year 2026\nworkday 2026-02-16 not a weekend".into(),
        );
        match opened {
            Err(FieldError::InvalidInput { field, reason }) => {
                assert_eq!(field, "calendar");
                assert!(reason.starts_with("line 2"), "{reason}");
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
}
